"""The county coverage map page as the web app serves it: first build time and size sent.

Starts ``gisgrid serve`` on the sample county (a copy of ``--store``: its admin, made for
the run, goes into the copy's ledger) and asks ``/maps/coverage`` as a county admin with an
API token, twice per start:

* a start whose first map request comes as soon as the server is ready (the hot paths
  warm; the layers the map is drawn from may still be being read in the background);
* a start whose first map request comes once the caches are filled (``caches``: the
  layers, report and search computed after ready);

and each time the page once more (kept for its minute: served from the page cache). The
size is what is sent: the body as it travels with ``Accept-Encoding: br, gzip`` (what
browsers send) and uncompressed. The yardstick (bench/_yardstick.py) is measured in the
same run. Goal: first build within 1 s, at most 3 MB.

    .venv/bin/python bench/map_page.py [--store gisgrid.gpkg]
"""

from __future__ import annotations

import argparse
import json
import shutil
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


def fetch(url: str, headers: dict[str, str]) -> tuple[float, int, str]:
    """Seconds, bytes of the body as sent, and its Content-Encoding."""
    request = urllib.request.Request(url, headers=headers)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as r:
        body = r.read()
        coding = r.headers.get("Content-Encoding") or "identity"
    return time.perf_counter() - started, len(body), coding


def one_start(store: str, headers: dict[str, str], *, wait_caches: bool) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gisgrid", "serve", "--store", store, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gisgrid serve did not start")
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=5) as r:
                    body = json.loads(r.read())
                if body["warm"] and (body["caches"] or not wait_caches):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.05)
        page = f"{base}/maps/coverage"
        compressed = headers | {"Accept-Encoding": "br, gzip"}
        first, sent, coding = fetch(page, compressed)
        again, _, _ = fetch(page, compressed)
        _, plain, _ = fetch(page, headers | {"Accept-Encoding": "identity"})
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"first": first, "again": again, "sent": sent, "plain": plain, "coding": coding}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", default="gisgrid.gpkg", help="a store holding a county")
    a = ap.parse_args()
    yard_before = yardstick_seconds()
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "county.gpkg")
        shutil.copyfile(a.store, store)
        headers = admin_headers(store)
        at_ready = one_start(store, headers, wait_caches=False)
        filled = one_start(store, headers, wait_caches=True)
    yard = min(yard_before, yardstick_seconds())
    print(f"store: {a.store}; /maps/coverage as a county admin (the whole county)")
    for name, run in (("asked as soon as ready", at_ready), ("asked once caches filled", filled)):
        print(
            f"  {name:26s} first build {run['first']:6.2f} s, again {run['again'] * 1000:5.0f} ms;"
            f" sent {run['sent'] / 1e6:.2f} MB ({run['coding']}), "
            f"{run['plain'] / 1e6:.2f} MB uncompressed"
        )
    first = filled["first"]
    print(f"yardstick (same run): {yard:.3f} s; first build (caches filled) / yardstick: "
          f"{first / yard:.2f}")  # fmt: skip
    met = first <= 1 and filled["sent"] <= 3e6
    print(f"goal first build within 1 s at most 3 MB: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
