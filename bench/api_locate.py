"""``/api/locate`` latency under load: p50 and p99 at a rate, and the rate p99 crosses 20 ms.

Starts ``gisgrid serve [--workers N]`` on a free loopback port and drives it from a separate
load-generator process (bench/_loadgen.py: raw HTTP/1.1 keep-alive, open loop, latency
counted from each request's scheduled time; it reports its own CPU time over wall time, so
what the load costs the 2-core machine is known). Points are real household positions of
the sample county, half given in WGS84 and half in GCJ-02 as a phone map app would, by a
county admin signed in with an API token (made in a copy of the store: a given store is
never written). The server's CPU time per request (its processes' user + system time over
the requests answered) is read from ``/proc``. The baseline measured in the same run is the
in-process ``Locator.locate`` call the endpoint wraps, so the ratio shows what HTTP, the
server and access enforcement add; the yardstick (bench/_yardstick.py) is measured too.
Goal: p99 within 10 ms at 500 requests/s, no errors.

    .venv/bin/python bench/api_locate.py [--store S.gpkg] [--rate 500] [--seconds 20] \
        [--workers 1] [--sweep 300,400,500,600,700,800]

``--sweep`` runs each rate (``--seconds`` each, on one server) and prints the first rate at
which p99 exceeds 20 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gisgrid import crs as crsmod
from gisgrid.analysis.locate import Locator
from gisgrid.sample import build_sample_county, write_sample_county
from gisgrid.stores import open_store

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _yardstick import yardstick_seconds  # noqa: E402
from accounts import admin_headers  # noqa: E402  (the tests' own accounts)
from servers import free_port  # noqa: E402  (the tests' own port finder)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and of its children (the workers)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    for p in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


@contextlib.contextmanager
def server(store: str, workers: int) -> Iterator[tuple[int, int]]:
    """``gisgrid serve`` until the block ends, once every worker answers with its caches
    filled (the load meets the served app, not its start-up); yields (port, pid)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gisgrid", "serve", "--store", store, "--port", str(port),
         "--workers", str(workers)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        filled: set[int] = set()
        deadline = time.monotonic() + 300
        while len(filled) < workers:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gisgrid serve did not start")
            with contextlib.suppress(OSError, ValueError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health") as r:
                    body = json.loads(r.read())
                if body.get("caches"):
                    filled.add(int(body["process"]))
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def load(port: int, pid: int, files: tuple[Path, Path], rate: float, seconds: float) -> dict:
    """One run of the load generator at ``rate``; its figures and the server's CPU."""
    before = cpu_seconds(pid)
    done = subprocess.run(
        [sys.executable, str(HERE / "_loadgen.py"), str(files[0]), "--port", str(port),
         "--rate", str(rate), "--seconds", str(seconds), "--headers", str(files[1])],
        check=True,
        capture_output=True,
        text=True,
    )  # fmt: skip
    stats: dict[str, float] = json.loads(done.stdout)
    stats["server_cpu_ms_per_request"] = (cpu_seconds(pid) - before) / stats["requests"] * 1000
    return stats


def line(rate: float, stats: dict[str, float]) -> str:
    return (
        f"{rate:5.0f} req/s: achieved {stats['rate_achieved']:5.0f}, {stats['errors']:.0f} errors,"
        f" p50 {stats['p50_ms']:6.2f} ms, p90 {stats['p90_ms']:6.2f} ms,"
        f" p99 {stats['p99_ms']:7.2f} ms, max {stats['max_ms']:7.1f} ms;"
        f" server CPU {stats['server_cpu_ms_per_request']:.2f} ms/request;"
        f" load generator CPU {stats['cpu_share'] * 100:.0f}% of a core"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", help="a GeoPackage holding a county (default: build the sample)")
    ap.add_argument("--rate", type=float, default=500.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--sweep", help="comma-separated rates: find where p99 crosses 20 ms")
    a = ap.parse_args()
    yard_before = yardstick_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        store_path = str(Path(tmp) / "county.gpkg")
        if a.store is None:
            print("building the sample county (150,000 households) …", flush=True)
            write_sample_county(open_store(store_path), build_sample_county())
        else:  # its accounts go in the copy's ledger, never in the county's
            shutil.copyfile(a.store, store_path)
        store = open_store(store_path)
        headers_file = Path(tmp) / "headers.json"
        headers_file.write_text(json.dumps(admin_headers(store)))
        hh = store.read("households", columns=["id"]).sample(2000, random_state=0)
        x, y = hh.geometry.x.to_numpy(), hh.geometry.y.to_numpy()
        gx, gy = crsmod.wgs84_to_gcj02(x, y)
        paths = []
        for i in range(len(x)):
            if i % 2:
                paths.append(f"/api/locate?lon={gx[i]:.7f}&lat={gy[i]:.7f}&crs=gcj02")
            else:
                paths.append(f"/api/locate?lon={x[i]:.7f}&lat={y[i]:.7f}")
        paths_file = Path(tmp) / "paths.json"
        paths_file.write_text(json.dumps(paths))

        # baseline: the same lookups in process
        locator = Locator.from_store(store)
        times = []
        for i in range(1000):
            t = time.perf_counter()
            locator.locate(float(x[i]), float(y[i]))
            times.append(time.perf_counter() - t)
        base = np.array(times) * 1000
        del locator

        rates = sorted(float(r) for r in a.sweep.split(",")) if a.sweep else [a.rate]
        results = []
        with server(store_path, a.workers) as (port, pid):
            load(port, pid, (paths_file, headers_file), 100, 2)  # connections and code warm
            for rate in rates:
                results.append((rate, load(port, pid, (paths_file, headers_file), rate, a.seconds)))
    yard = min(yard_before, yardstick_seconds())
    p50_base = np.percentile(base, 50)
    print(
        f"in-process Locator.locate: p50 {p50_base:.2f} ms, "
        f"p99 {np.percentile(base, 99):.2f} ms (baseline, same run)"
    )
    print(f"/api/locate, gisgrid serve --workers {a.workers}, {a.seconds:.0f} s per rate:")
    for rate, stats in results:
        print("  " + line(rate, stats))
    print(f"yardstick (same run): {yard:.3f} s")
    rate, stats = results[0]
    print(
        f"ratio p50 HTTP / in-process at {rate:.0f} req/s: {stats['p50_ms'] / p50_base:.1f}x; "
        f"p99 / yardstick: {stats['p99_ms'] / 1000 / yard:.3f}"
    )
    if a.sweep:
        crossed = [r for r, s in results if s["p99_ms"] > 20 or s["errors"]]
        print(
            f"p99 crosses 20 ms at: {crossed[0]:.0f} req/s"
            if crossed
            else f"p99 stays within 20 ms up to {results[-1][0]:.0f} req/s"
        )
    else:
        met = stats["p99_ms"] <= 10 and stats["errors"] == 0
        print(f"goal p99 within 10 ms at {rate:.0f} req/s, 0 errors: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
