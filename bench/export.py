"""The cost of an export in each format (issue #17, point 3).

Exports the whole county's households (points) and grids (polygons) to every format
``gisgrid export`` writes, on the same store, and prints for each the best of a few runs in
seconds, its ratio to the GeoJSON export of the same rows (the format gisgrid wrote
before) and to the yardstick (bench/_yardstick.py) measured in the same run.

    .venv/bin/python bench/export.py [--store S.gpkg | --households 30000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from gisgrid.exchange import export_layer, read_extract, write_export
from gisgrid.sample import build_sample_county, write_sample_county
from gisgrid.stores import open_store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _yardstick import yardstick_seconds

ENDINGS = (".geojson", ".gpkg", ".xlsx", ".shp.zip", ".kml", ".kmz")


def best(action: object, repeats: int) -> float:
    """Best-of-``repeats`` seconds of calling ``action``."""
    assert callable(action)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", help="an existing store (default: a sample county built here)")
    parser.add_argument("--households", type=int, default=30_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        if args.store is None:
            path = Path(work) / "county.gpkg"
            store = open_store(str(path))
            write_sample_county(store, build_sample_county(seed=2023, households=args.households))
        else:
            store = open_store(args.store)
        yard = yardstick_seconds()
        print(f"yardstick: {yard:.3f} s")
        for layer in ("households", "grids"):
            extract = read_extract(store, layer)
            read = best(lambda layer=layer: read_extract(store, layer), args.repeats)
            print(f"{layer}: {len(extract.frame):,} features, read {read:.3f} s")
            base = None
            for ending in ENDINGS:
                out = Path(work) / f"{layer}{ending}"
                took = best(lambda out=out, e=extract: write_export(e, out), args.repeats)
                base = base or took
                size = out.stat().st_size / 1e6
                print(
                    f"  {ending:<9} write {took:6.3f} s  {took / base:5.2f} x GeoJSON  "
                    f"{took / yard:5.2f} x yardstick  {size:6.1f} MB"
                )
            whole = best(
                lambda layer=layer: export_layer(store, layer, Path(work) / f"w-{layer}.xlsx"),
                args.repeats,
            )
            print(f"  export_layer to .xlsx (read and write): {whole:.3f} s")


if __name__ == "__main__":
    main()
