"""Cheap requests under heavy load: ``/api/locate`` and ``/api/health`` p99, alone and while
a crowd asks for pages, the households layer and household search (issue #16, point 4).

Starts ``gisgrid serve`` on the sample county and drives it from separate load-generator
processes (bench/_loadgen.py, open loop: latency counted from each request's scheduled
time). First the cheap load alone, the yardstick of the same run; then the same cheap load
while a second generator sends heavy requests over many connections at a rate beyond what
the server can do (the dashboard ``/``, pages of the households layer, searches). Heavy
requests beyond their turns are answered 503 at once (``GISGRID_WEB_HEAVY_*``); the figure
is the cheap requests' p99 under the heavy load and its ratio to the yardstick.

    .venv/bin/python bench/heavy_mix.py [--households 150000 | --store COUNTY.gpkg] \\
        [--seconds 20] [--cheap-rate 100] [--heavy-rate 100] [--heavy-connections 100]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from gisgrid.sample import build_sample_county, write_sample_county
from gisgrid.stores import open_store

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from accounts import admin_headers  # noqa: E402  (the tests' own accounts)
from servers import gisgrid_server  # noqa: E402  (the tests' own server starter)

SEARCHES = ("张", "李", "王", "zs", "wang", "3组", "H00001", "刘", "ly", "陈")


def loadgen(
    paths: Path, headers: Path, port: int, *, rate: float, seconds: float, conns: int
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable, str(HERE / "_loadgen.py"), str(paths), "--port", str(port),
            "--rate", str(rate), "--seconds", str(seconds), "--connections", str(conns),
            "--headers", str(headers),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def finish(proc: subprocess.Popen[str]) -> dict[str, float]:
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    stats: dict[str, float] = json.loads(out)
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--households", type=int, default=150_000)
    ap.add_argument("--store", help="a county's store to copy instead of building the sample")
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--cheap-rate", type=float, default=100.0)
    ap.add_argument("--heavy-rate", type=float, default=100.0)
    ap.add_argument("--heavy-connections", type=int, default=100)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store_path = str(Path(tmp) / "county.gpkg")
        if a.store:
            shutil.copyfile(a.store, store_path)
        else:
            print(f"building the sample county ({a.households:,} households) …", flush=True)
            county = build_sample_county(households=a.households)
            write_sample_county(open_store(store_path), county)
        store = open_store(store_path)
        headers = Path(tmp) / "headers.json"
        headers.write_text(json.dumps(admin_headers(store)))
        hh = store.read("households", columns=["id"]).sample(500, random_state=0)
        cheap = []
        for i, (x, y) in enumerate(zip(hh.geometry.x, hh.geometry.y, strict=True)):
            cheap.append(f"/api/locate?lon={x:.7f}&lat={y:.7f}")
            if i % 5 == 0:
                cheap.append("/api/health")
        heavy = []
        for i in range(100):
            heavy.append("/")
            heavy.append(f"/api/layers/households?limit=1000&offset={(i * 1000) % a.households}")
            heavy.append(f"/api/households/search?q={SEARCHES[i % len(SEARCHES)]}")
        cheap_file, heavy_file = Path(tmp) / "cheap.json", Path(tmp) / "heavy.json"
        cheap_file.write_text(json.dumps(cheap))
        heavy_file.write_text(json.dumps(heavy))

        with gisgrid_server(store_path, timeout=300, warm=True) as base_url:
            port = int(urlsplit(base_url).port or 0)
            alone = finish(
                loadgen(cheap_file, headers, port, rate=a.cheap_rate, seconds=a.seconds, conns=8)
            )
            crowd = loadgen(
                heavy_file, headers, port,
                rate=a.heavy_rate, seconds=a.seconds + 2, conns=a.heavy_connections,
            )  # fmt: skip
            mixed = finish(
                loadgen(cheap_file, headers, port, rate=a.cheap_rate, seconds=a.seconds, conns=8)
            )
            heavy_stats = finish(crowd)

    print(
        f"cheap alone (yardstick): {alone['requests']:.0f} requests, {alone['ok']:.0f} ok, "
        f"p50 {alone['p50_ms']:.1f} ms, p99 {alone['p99_ms']:.1f} ms, max {alone['max_ms']:.0f} ms"
    )
    print(
        f"cheap under heavy load:  {mixed['requests']:.0f} requests, {mixed['ok']:.0f} ok, "
        f"p50 {mixed['p50_ms']:.1f} ms, p99 {mixed['p99_ms']:.1f} ms, max {mixed['max_ms']:.0f} ms"
    )
    print(
        f"heavy: {heavy_stats['requests']:.0f} requests at {a.heavy_rate:.0f}/s over "
        f"{a.heavy_connections} connections, {heavy_stats['ok']:.0f} answered 200 "
        f"({heavy_stats['requests'] - heavy_stats['ok']:.0f} others: 503 busy), "
        f"p50 {heavy_stats['p50_ms']:.0f} ms, p99 {heavy_stats['p99_ms']:.0f} ms"
    )
    print(f"ratio cheap p99 under heavy load / alone: {mixed['p99_ms'] / alone['p99_ms']:.1f}x")


if __name__ == "__main__":
    main()
