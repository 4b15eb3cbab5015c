"""A server's start until warm, on the sample county: ``gisgrid serve`` until ``/api/health``.

Starts ``gisgrid serve`` on a free loopback port (a fresh process each run, as a service
manager does) and times, from the moment the process is started: the first answer of
``/api/health/live`` (the process serves HTTP), the first 200 of ``/api/health`` (ready:
the store answers and the hot paths are warm, what a load balancer waits for), the time
the first ``/api/locate`` then takes, and when the caches are filled (``caches``: the
dashboard's layers, report and search, computed in the background). Then reads the
filled process's resident memory (``VmRSS``, what one worker of ``gisgrid serve --workers N``
costs). Then, in this process, what the start is made of: importing the app, loading the
grids (:class:`gisgrid.api.state.AppState`), and what warming computes. The yardstick
(bench/_yardstick.py) is measured in the same run. Goal: warm within 2 s on the county.

    .venv/bin/python bench/warm_start.py [--store gisgrid.gpkg] [--runs 3]

Without ``--store`` it uses ``./gisgrid.gpkg`` when there is one (``gisgrid demo`` makes
it) and otherwise builds the sample county into a temporary folder first (about a minute).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _yardstick import yardstick_seconds  # noqa: E402
from accounts import admin_headers  # noqa: E402  (the tests' own accounts)
from servers import free_port  # noqa: E402  (the tests' own port finder)


def status_of(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def rss_mib(pid: int) -> float:
    """The resident memory of process ``pid``, in MiB (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def one_start(store: str, headers: dict[str, str]) -> tuple[float, float, float, float, float]:
    """Seconds until live, until ready (hot paths warm), until the caches are filled; the
    latency (ms) of the first ``/api/locate`` after ready; the filled process's RSS (MiB)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gisgrid", "serve", "--store", store, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    live = ready = filled = first = None
    try:
        while filled is None:
            if proc.poll() is not None or time.perf_counter() - started > 300:
                raise RuntimeError("gisgrid serve did not start")
            try:
                if live is None:
                    if status_of(f"{base}/api/health/live")[0] == 200:
                        live = time.perf_counter() - started
                else:
                    status, body = status_of(f"{base}/api/health")
                    if status == 200 and body.get("warm") and ready is None:
                        ready = time.perf_counter() - started
                        first = first_locate_ms(base, store, headers)
                    if status == 200 and body.get("caches"):
                        filled = time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.02 if ready is None else 0.1)  # often enough to count
        time.sleep(0.5)  # the warm-up thread's garbage settled
        memory = rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert live is not None and ready is not None and first is not None
    return live, ready, filled, first, memory


def first_locate_ms(base: str, store: str, headers: dict[str, str]) -> float:
    """The first ``/api/locate`` after ready, by a county admin, in ms."""
    point = _POINTS.get(store)
    if point is None:
        from gisgrid.stores import open_store

        village = open_store(store).read("villages").geometry.iloc[0].representative_point()
        point = _POINTS[store] = (village.x, village.y)
    request = urllib.request.Request(
        f"{base}/api/locate?lon={point[0]:.7f}&lat={point[1]:.7f}", headers=headers
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=30) as r:
        r.read()
    return (time.perf_counter() - started) * 1000


_POINTS: dict[str, tuple[float, float]] = {}


def parts(store: str) -> list[tuple[str, float]]:
    """What a start does, timed step by step in a fresh interpreter (imports included)."""
    script = """
import json, time
t = time.perf_counter()
from gisgrid.api.main import create_app
from gisgrid.api.state import AppState
from gisgrid.stores import open_store
out = [("import the app", time.perf_counter() - t)]
t = time.perf_counter(); st = open_store(STORE); state = AppState.load(st)
out.append(("open the store, load the grids", time.perf_counter() - t))
# a prefecture's store: its first county's working set (what a county page needs first)
county = state.counties[0] if state.several else None
of = f" (county {county})" if county else ""
t = time.perf_counter(); state.frames(county)
out.append(("read the layers of the report" + of, time.perf_counter() - t))
t = time.perf_counter(); state.report(county)
out.append(("run the checks" + of, time.perf_counter() - t))
t = time.perf_counter(); state.search_in(county)
out.append(("build the household search" + of, time.perf_counter() - t))
print(json.dumps(out))
""".replace("STORE", repr(store))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return [(str(name), float(s)) for name, s in json.loads(done.stdout.splitlines()[-1])]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", help="a store holding a county (default ./gisgrid.gpkg)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--households", type=int, default=150_000, help="when building the sample")
    a = ap.parse_args()
    yard_before = yardstick_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        store = a.store
        if store is None and Path("gisgrid.gpkg").exists():
            store = "gisgrid.gpkg"
        if store is None:
            from gisgrid.sample import build_sample_county, write_sample_county
            from gisgrid.stores import open_store

            store = str(Path(tmp) / "county.gpkg")
            print(f"building the sample county ({a.households:,} households) …", flush=True)
            write_sample_county(open_store(store), build_sample_county(households=a.households))
        # the admin who asks /api/locate goes into a copy's ledger, never the county's
        copy = str(Path(tmp) / "copy.gpkg")
        shutil.copyfile(store, copy)
        store = copy
        headers = admin_headers(store)
        starts = [one_start(store, headers) for _ in range(a.runs)]
        steps = parts(store)
    yard = min(yard_before, yardstick_seconds())
    live = statistics.median(s[0] for s in starts)
    warm = statistics.median(s[1] for s in starts)
    filled = statistics.median(s[2] for s in starts)
    first = statistics.median(s[3] for s in starts)
    memory = statistics.median(s[4] for s in starts)
    print(f"store: {store}; {a.runs} starts of gisgrid serve (median):")
    print(f"  serving HTTP (/api/health/live)  {live:6.2f} s")
    print(
        f"  ready, hot paths warm (200)      {warm:6.2f} s   (each: "
        + ", ".join(f"{s[1]:.2f}" for s in starts)
        + ")"
    )
    print(f"  first /api/locate after ready    {first:6.1f} ms")
    print(f"  caches filled (caches: true)     {filled:6.2f} s")
    print(f"  resident memory once filled      {memory:6.0f} MiB")
    print("what a start does (one fresh interpreter, step by step):")
    for name, seconds in steps:
        print(f"  {name:34s} {seconds:6.2f} s")
    print(f"yardstick (same run): {yard:.3f} s; warm start / yardstick: {warm / yard:.2f}")
    print(f"goal ready within 2 s: {'met' if warm <= 2 else 'NOT met'}")


if __name__ == "__main__":
    main()
