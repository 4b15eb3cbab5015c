"""A server's memory on a county's store and on a prefecture's: ``gisgrid serve``'s RSS.

Starts ``gisgrid serve`` on a free loopback port, waits until it is ready and its caches are
filled (``/api/health``: ``caches``), reads the process's resident memory (``VmRSS``) and its
peak (``VmHWM``) from ``/proc``, then tours it as a prefecture's leaders would: the
dashboard of the whole store, the dashboard of every county and the coverage map of one
village in each (each county's working set read in turn: at most ``kept_counties`` of them
are held, :class:`gisgrid.api.state.AppState`), and reads the memory again. The yardstick
(bench/_yardstick.py) is measured in the same run.

    .venv/bin/python bench/serve_memory.py --store gisgrid.gpkg [--kept-counties 2]

The store is used as it is (an admin account is added to its ledger file): pass a copy.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from _yardstick import yardstick_seconds  # noqa: E402
from accounts import make_account  # noqa: E402  (the tests' own accounts)
from servers import free_port  # noqa: E402  (the tests' own port finder)

from gisgrid import codes  # noqa: E402
from gisgrid.roles import Role  # noqa: E402
from gisgrid.stores import open_store  # noqa: E402


def memory_mib(pid: int) -> tuple[float, float]:
    """``VmRSS`` and ``VmHWM`` (the peak) of process ``pid``, in MiB."""
    found: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(":")[0]
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(line.split()[1]) / 1024
    return found["VmRSS"], found["VmHWM"]


def get(url: str, headers: dict[str, str], timeout: float = 900) -> tuple[int, float, int]:
    """Status, seconds and bytes of one GET."""
    started = time.perf_counter()
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            body = r.read()
            return r.status, time.perf_counter() - started, len(body)
    except urllib.error.HTTPError as err:
        return err.code, time.perf_counter() - started, len(err.read())


def health(base: str) -> dict[str, object]:
    try:
        with urllib.request.urlopen(f"{base}/api/health", timeout=5) as r:
            return dict(json.loads(r.read()))
    except urllib.error.HTTPError as err:
        return dict(json.loads(err.read() or b"{}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True, help="a GeoPackage (a copy: a ledger is added)")
    parser.add_argument("--kept-counties", type=int, default=2)
    args = parser.parse_args()
    store = open_store(args.store)
    townships = store.read("townships", columns=["code"])
    villages = store.read("villages", columns=["code"])
    households = store.count("households")
    store.close()
    counties = sorted({codes.county_of(str(c)) for c in townships["code"]})
    several = len(counties) > 1
    area = codes.prefecture_of(counties[0]) if several else counties[0]
    headers = make_account(args.store, Role.ADMIN, area).headers
    yard = yardstick_seconds()
    print(f"store {args.store}: {len(counties)} counties, {households:,} households")
    print(f"yardstick {yard * 1000:.0f} ms")

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = os.environ | {"GISGRID_WEB_KEPT_COUNTIES": str(args.kept_counties)}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gisgrid", "serve", "--store", args.store, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        ready, at_ready = None, 0.0
        while True:
            if proc.poll() is not None or time.perf_counter() - started > 1800:
                raise RuntimeError("gisgrid serve did not start")
            try:
                body = health(base)
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                body = {}
            if body.get("ready") and ready is None:
                ready = time.perf_counter() - started
                at_ready = memory_mib(proc.pid)[0]  # the grids, their index, the libraries
            if body.get("caches"):
                break
            time.sleep(0.2)
        filled = time.perf_counter() - started
        time.sleep(1.0)
        rss, peak = memory_mib(proc.pid)
        print(f"ready {ready:.1f} s (VmRSS {at_ready:,.0f} MiB), caches filled {filled:.1f} s")
        print(f"after warm:  VmRSS {rss:,.0f} MiB  VmHWM {peak:,.0f} MiB")
        status, took, size = get(f"{base}/", headers)
        print(f"GET / (the store's top level): {status} {took:.2f} s {size / 1024:,.0f} kB")
        for county in counties:
            page = f"{base}/?county={county}" if several else f"{base}/"
            status, took, size = get(page, headers)
            village = next(str(v) for v in villages["code"] if str(v).startswith(county))
            m_status, m_took, m_size = get(f"{base}/maps/coverage?village={village}", headers)
            rss_now, _ = memory_mib(proc.pid)
            print(
                f"  county {county}: dashboard {status} {took:.2f} s {size / 1024:,.0f} kB; "
                f"village map {m_status} {m_took:.2f} s {m_size / 1024:,.0f} kB; "
                f"VmRSS {rss_now:,.0f} MiB"
            )
        rss2, peak2 = memory_mib(proc.pid)
        print(f"after tour:  VmRSS {rss2:,.0f} MiB  VmHWM {peak2:,.0f} MiB")
        print(
            f"per 100,000 households of the store: VmRSS after tour "
            f"{rss2 / households * 100_000:,.0f} MiB (yardstick of this run {yard * 1000:.0f} ms)"
        )
    finally:
        proc.terminate()
        proc.wait(timeout=60)


if __name__ == "__main__":
    main()
