"""A server's start until warm, on the sample county: ``gisgrid serve`` until ``/api/health``.

Starts ``gisgrid serve`` on a free loopback port (a fresh process each run, as a service
manager does) and times, from the moment the process is started: the first answer of
``/api/health/live`` (the process serves HTTP) and the first 200 of ``/api/health`` (ready:
the store answers and the caches are warm, what a load balancer waits for). Then reads the
warm process's resident memory (``VmRSS``, what one worker of ``gisgrid serve --workers N``
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


def one_start(store: str) -> tuple[float, float, float]:
    """Seconds until live, seconds until ready and warm, and the warm process's RSS (MiB)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gisgrid", "serve", "--store", store, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    live = ready = None
    try:
        while ready is None:
            if proc.poll() is not None or time.perf_counter() - started > 300:
                raise RuntimeError("gisgrid serve did not start")
            try:
                if live is None:
                    if status_of(f"{base}/api/health/live")[0] == 200:
                        live = time.perf_counter() - started
                else:
                    status, body = status_of(f"{base}/api/health")
                    if status == 200 and body.get("warm"):
                        ready = time.perf_counter() - started
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)  # often enough to count, seldom enough not to slow it down
        time.sleep(0.5)  # the warm-up thread's garbage settled
        memory = rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    assert live is not None
    return live, ready, memory


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
t = time.perf_counter(); state.frames()
out.append(("read the layers of the report", time.perf_counter() - t))
t = time.perf_counter(); state.report()
out.append(("run the checks", time.perf_counter() - t))
t = time.perf_counter(); state.search
out.append(("build the household search", time.perf_counter() - t))
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
        starts = [one_start(store) for _ in range(a.runs)]
        steps = parts(store)
    yard = min(yard_before, yardstick_seconds())
    live = statistics.median(s[0] for s in starts)
    warm = statistics.median(s[1] for s in starts)
    memory = statistics.median(s[2] for s in starts)
    print(f"store: {store}; {a.runs} starts of gisgrid serve (median):")
    print(f"  serving HTTP (/api/health/live)  {live:6.2f} s")
    print(
        f"  ready and warm (/api/health 200) {warm:6.2f} s   (each: "
        + ", ".join(f"{s[1]:.2f}" for s in starts)
        + ")"
    )
    print(f"  resident memory once warm        {memory:6.0f} MiB")
    print("what a start does (one fresh interpreter, step by step):")
    for name, seconds in steps:
        print(f"  {name:34s} {seconds:6.2f} s")
    print(f"yardstick (same run): {yard:.3f} s; warm start / yardstick: {warm / yard:.2f}")


if __name__ == "__main__":
    main()
