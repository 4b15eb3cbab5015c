"""Importing a 150,000-row Excel register (花名册), against the GeoJSON import of the same rows.

One run builds the sample county (its townships, villages and grids: the store every import
is checked against) and 150,000 households at random points of it, village by village, as a
register lists them; writes them (untimed) as an .xlsx register with Chinese headers (a title
row above the header, longitude/latitude columns, openpyxl's write-only mode) and as a
GeoJSON file with the layer's column names; then times ``import_file`` of each into a fresh
copy of the county's GeoPackage (``append``), in turns, best of ``--repeat``. Both go through
every check (validation, keys, the county outline, the coordinate check, grid codes) and the
one-transaction write: the ratio is the register's reading against GeoJSON's.

Also timed: reading the workbook's cells alone with python-calamine (what the import uses)
and with openpyxl's read-only mode (the reason for the dependency). The goal: the Excel
import comparable to the GeoJSON one (stated as a ratio); every figure also as a ratio to
the yardstick (bench/_yardstick.py) measured in the same run.

    .venv/bin/python bench/import_register.py [--households N] [--repeat R]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import numpy as np
import openpyxl
import pyogrio
import shapely
from python_calamine import CalamineWorkbook

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yardstick import yardstick_seconds
from postgis_assign import random_households

from gisgrid.exchange import import_file
from gisgrid.layers import LAYERS
from gisgrid.sample import MIN_HOUSEHOLDS, build_sample_county, write_sample_county
from gisgrid.stores.geopackage import GeoPackageStore

HEADERS = ["户编号", "户主姓名", "门牌号", "户籍村（社区）", "家庭人口", "60岁以上人数",
           "党员户", "党员骨干户", "经度", "纬度"]  # fmt: skip
COLUMNS = ["id", "head_name", "house_number", "village_code", "members", "elderly",
           "party_member", "backbone"]  # fmt: skip


def write_register(frame: gpd.GeoDataFrame, path: Path) -> None:
    """The households as an Excel register: a title row, then the header, then the rows."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("花名册")
    sheet.append(["华容县农户花名册（测试数据）"])
    sheet.append(HEADERS)
    lon = shapely.get_x(frame.geometry.values)
    lat = shapely.get_y(frame.geometry.values)
    columns = [frame[c].tolist() for c in COLUMNS]
    for i, row in enumerate(zip(*columns, strict=True)):
        values = ["是" if v is True else "否" if v is False else v for v in row]
        sheet.append([*values, round(float(lon[i]), 7), round(float(lat[i]), 7)])
    book.save(path)


def best_of(repeat: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--households", type=int, default=150_000)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="gisgrid-bench-import-"))
    try:
        county = build_sample_county(seed=2023, households=MIN_HOUSEHOLDS)
        template = GeoPackageStore(work / "county.gpkg")
        write_sample_county(template, county)
        template.write({"households": LAYERS["households"].empty()}, mode="replace")
        rows = random_households(county, args.households, np.random.default_rng(17), prefix="R")
        rows["house_number"] = [f"测试村{i + 1}号" for i in range(len(rows))]
        xlsx, geojson = work / "花名册.xlsx", work / "households.geojson"
        write_register(rows, xlsx)
        pyogrio.write_dataframe(rows, geojson, driver="GeoJSON")
        print(
            f"{args.households:,} households: register {xlsx.stat().st_size / 1e6:.1f} MB, "
            f"GeoJSON {geojson.stat().st_size / 1e6:.1f} MB"
        )

        def fresh() -> GeoPackageStore:
            path = work / "store.gpkg"
            for old in work.glob("store*"):
                old.unlink()
            shutil.copyfile(template.path, path)
            return GeoPackageStore(path)

        timings: dict[str, float] = {"xlsx": float("inf"), "geojson": float("inf")}
        for _ in range(args.repeat):  # in turns: a busy machine slows both alike
            for name, path in (("xlsx", xlsx), ("geojson", geojson)):
                store = fresh()
                started = time.perf_counter()
                result = import_file(store, "households", path)
                timings[name] = min(timings[name], time.perf_counter() - started)
                assert result.features == args.households, result
                assert store.count("households") == args.households

        def calamine_cells() -> None:
            with CalamineWorkbook.from_path(str(xlsx)) as book:
                for _row in book.get_sheet_by_index(0).iter_rows():
                    pass

        def openpyxl_cells() -> None:
            book = openpyxl.load_workbook(xlsx, read_only=True)
            for _row in book.worksheets[0].iter_rows(values_only=True):
                pass
            book.close()

        calamine = best_of(args.repeat, calamine_cells)
        openpyxl_read = best_of(1, openpyxl_cells)
        yardstick = yardstick_seconds()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    ratio = timings["xlsx"] / timings["geojson"]
    print(f"yardstick (bench/_yardstick.py):      {yardstick:7.2f} s")
    print(
        f"import of the Excel register:         {timings['xlsx']:7.2f} s  "
        f"({timings['xlsx'] / yardstick:.1f} x yardstick)"
    )
    print(
        f"import of the same rows as GeoJSON:   {timings['geojson']:7.2f} s  "
        f"({timings['geojson'] / yardstick:.1f} x yardstick)"
    )
    print(f"Excel / GeoJSON:                      {ratio:7.2f}  (goal: comparable)")
    print(
        f"reading the workbook's cells: python-calamine {calamine:.2f} s, "
        f"openpyxl read-only {openpyxl_read:.2f} s ({openpyxl_read / calamine:.1f} x)"
    )


if __name__ == "__main__":
    main()
