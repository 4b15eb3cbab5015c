"""``/api/locate`` latency under load: p50 and p99 at 200 requests/s on the embedded store.

Starts ``gisgrid serve`` on a free loopback port and drives it from a separate load-generator
process (bench/_loadgen.py, open loop: latency counted from each request's scheduled time).
Points are real household positions of the sample county, half given in WGS84 and half in
GCJ-02 as a phone map app would, by a county admin signed in with an API token (made in a
copy of the store: a given store is never written). The baseline measured in the same run is
the in-process ``Locator.locate`` call the endpoint wraps, so the ratio shows what HTTP, the
server and access enforcement add (bench/scope.py sets the scope filter's share apart).
Goal: p99 under 20 ms.

    .venv/bin/python bench/api_locate.py [--store S.gpkg] [--rate 200] [--seconds 20]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from gisgrid import crs as crsmod
from gisgrid.analysis.locate import Locator
from gisgrid.sample import build_sample_county, write_sample_county
from gisgrid.stores import open_store

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from accounts import admin_headers  # noqa: E402  (the tests' own accounts)
from servers import gisgrid_server  # noqa: E402  (the tests' own server starter)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--store", help="a GeoPackage holding a county (default: build the sample)")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
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

        with gisgrid_server(store_path, timeout=120, warm=True) as base_url:
            load = subprocess.run(
                [
                    sys.executable,
                    str(HERE / "_loadgen.py"),
                    str(paths_file),
                    "--port",
                    str(urlsplit(base_url).port),
                    "--rate",
                    str(a.rate),
                    "--seconds",
                    str(a.seconds),
                    "--headers",
                    str(headers_file),
                ],
                check=True,
                capture_output=True,
                text=True,
            )
    stats = json.loads(load.stdout)
    print(
        f"in-process Locator.locate: p50 {np.percentile(base, 50):.2f} ms, "
        f"p99 {np.percentile(base, 99):.2f} ms (baseline, same run)"
    )
    print(
        f"/api/locate at {a.rate:.0f} req/s for {a.seconds:.0f} s: {stats['requests']} requests, "
        f"{stats['ok']} ok, achieved {stats['rate_achieved']:.0f} req/s"
    )
    print(
        f"  p50 {stats['p50_ms']:.2f} ms  p90 {stats['p90_ms']:.2f} ms  "
        f"p99 {stats['p99_ms']:.2f} ms  max {stats['max_ms']:.1f} ms"
    )
    print(f"  ratio p50 HTTP / in-process: {stats['p50_ms'] / np.percentile(base, 50):.1f}x")
    print(f"goal p99 < 20 ms: {'met' if stats['p99_ms'] < 20 else 'NOT met'}")


if __name__ == "__main__":
    main()
