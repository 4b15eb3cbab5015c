"""Imports of the files counties keep (issue #17, point 1): Excel and CSV registers, zipped
Shapefiles, KML and KMZ; every problem by row and column in Chinese; ``--dry-run``.

Real files: workbooks written with openpyxl (a title row above the header, Chinese headers
as registers have them), CSV bytes in UTF-8, UTF-8 with BOM, GBK and GB18030, Shapefiles
written with pyogrio in CGCS2000 Gauss-Krüger zones (GBK text, with and without ``.cpg``)
and zipped, KML written by hand as phone apps do (folders, ExtendedData) and zipped as
KMZ. The little county of ``conftest`` is the store: a GeoPackage, and PostGIS where the
import writes.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely
from conftest import V1, raw_frame, sha256

from gisgrid import crs as crsmod
from gisgrid.errors import ImportRefusedError, InputFileError
from gisgrid.exchange import import_file
from gisgrid.layers import LAYERS
from gisgrid.stores.base import Store
from gisgrid.stores.geopackage import GeoPackageStore

Run = Callable[..., subprocess.CompletedProcess[str]]

#: a register's header row, as a village secretary types it (a unit in brackets, an alias,
#: a column gisgrid does not know)
HEADERS = ["户编号", "户主姓名", "门牌号", "户籍村（社区）", "家庭人口（人）", "60岁以上人数",
           "党员户", "经度", "纬度", "备注"]  # fmt: skip
ROWS = [
    ["N001", "测试甲", "测试村21号", int(V1), 3, 1, "是", 112.431, 29.651, "新户"],
    ["N002", "测试乙", "测试村22号", V1, 4, 0, "否", 112.432, 29.652, None],
    ["N003", "测试丙", "测试村23号", V1, 2, 2, "否", 112.433, 29.653, None],
]


@pytest.fixture(params=["gpkg", "postgis"])
def county_store(request: pytest.FixtureRequest, filled_store: GeoPackageStore) -> Iterator[Store]:
    """The little county in a GeoPackage, then in a PostGIS database of its own."""
    if request.param == "gpkg":
        yield filled_store
        return
    store = request.getfixturevalue("pg_store")
    store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    yield store


def workbook(path: Path, rows: list[list[Any]], *, headers: list[str] = HEADERS) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "花名册"
    sheet.append(["测试一村农户花名册（2026年）"])  # a title row above the header
    sheet.append(headers)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def state(store: Store) -> Any:
    """What a store holds: the file's digest (GeoPackage: byte for byte), else its data
    version (which every write changes), each layer's count and the households' rows."""
    if isinstance(store, GeoPackageStore):
        return sha256(store.path)
    households = store.read("households")
    rows = households.drop(columns="geometry").astype(str).to_csv(index=False)
    points = shapely.to_wkt(np.asarray(households.geometry.values))
    counts = {name: store.count(name) for name in LAYERS}
    return store.data_version(), counts, rows, tuple(points)


# --- Excel ------------------------------------------------------------------------------------


def test_excel_register_with_chinese_headers(county_store: Store, tmp_path: Path) -> None:
    path = workbook(tmp_path / "花名册.xlsx", ROWS)
    result = import_file(county_store, "households", path)
    assert result.features == 3 and result.format == "Excel"
    assert [(c.layer, c.added, c.replaced) for c in result.changes] == [("households", 3, 0)]
    assert any("备注" in n for n in result.notes)  # the column it ignored, said
    got = county_store.read("households").set_index("id").loc[["N001", "N002", "N003"]]
    assert got["head_name"].tolist() == ["测试甲", "测试乙", "测试丙"]
    assert got["village_code"].tolist() == [V1] * 3  # a code typed as a number, as text
    assert got["members"].tolist() == [3, 4, 2]
    assert got["party_member"].tolist() == [True, False, False]
    assert np.allclose(shapely.get_x(got.geometry.values), [112.431, 112.432, 112.433])
    assert got["grid_code"].notna().all()  # assigned on the way in


def test_every_problem_by_row_and_column_nothing_written(
    county_store: Store, tmp_path: Path
) -> None:
    rows = [list(r) for r in ROWS]
    rows[1][1] = None  # row 4: no head of household
    rows[1][4] = "三"  # row 4: members not a number
    rows[2][8] = "二十九"  # row 5: latitude not a number
    rows.append(["H001", "测试丁", "测试村24号", V1, 2, 3, "否", 112.43, 29.65, None])  # row 6
    path = workbook(tmp_path / "bad.xlsx", rows)
    before = state(county_store)
    with pytest.raises(ImportRefusedError) as refused:
        import_file(county_store, "households", path)
    lines = refused.value.lines
    assert "第4行「户主姓名」列（N002）：缺少必填值" in lines[0]
    assert any(
        line.startswith("第4行「家庭人口（人）」列（N002）：「三」不是数字") for line in lines
    )
    assert any(line.startswith("第5行「纬度」列（N003）：「二十九」不是数字") for line in lines)
    assert any("row 5, column 纬度" in line for line in lines)  # English after
    assert any(line.startswith("第6行「60岁以上人数」列") for line in lines)  # 3 elderly of 2
    assert any(line.startswith("第6行「户编号」列（H001）：库中已有此编号") for line in lines)
    # the missing latitude is said once, not again as a missing point
    assert sum("第5行" in line for line in lines) == 1
    assert state(county_store) == before


def test_dry_run_writes_nothing_and_says_what_would_change(
    county_store: Store, tmp_path: Path
) -> None:
    stored = county_store.read("households")
    table = pd.DataFrame(
        {
            "id": [*stored["id"].iloc[:5], "N100"],
            "head_name": "测试户",
            "village_code": V1,
            "members": 3,
            "elderly": 1,
            "lon": [*shapely.get_x(stored.geometry.values[:5]), 112.44],
            "lat": [*shapely.get_y(stored.geometry.values[:5]), 29.66],
        }
    )
    path = tmp_path / "register.csv"
    table.to_csv(path, index=False)  # English headers
    before = state(county_store)
    result = import_file(county_store, "households", path, mode="replace", dry_run=True)
    assert result.dry_run
    [change] = result.changes
    assert (change.added, change.replaced, change.removed) == (1, 5, len(stored) - 5)
    assert state(county_store) == before


def test_cli_dry_run_and_refusal(
    run_gisgrid: Run, filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    path = workbook(tmp_path / "r.xlsx", ROWS)
    before = sha256(filled_store.path)
    done = run_gisgrid("import", "households", path, "--dry-run", store=filled_store.path)
    assert done.returncode == 0, done.stderr
    assert "试运行" in done.stdout and "added 3" in done.stdout
    assert sha256(filled_store.path) == before
    bad = [list(r) for r in ROWS]
    bad[0][5] = 9
    path = workbook(tmp_path / "bad.xlsx", bad)
    refused = run_gisgrid("import", "households", path, store=filled_store.path)
    assert refused.returncode == 4
    assert "第3行「60岁以上人数」列（N001）" in refused.stderr
    assert sha256(filled_store.path) == before


# --- CSV encodings ----------------------------------------------------------------------------

CSV_TEXT = (
    "户编号,户主,户籍村（社区）,人口,60岁以上人数,lon,lat\n"
    f"N201,测试{{name}},{V1},3,1,112.441,29.661\n"
)


@pytest.mark.parametrize(
    ("encoding", "label", "name"),
    [
        ("utf-8", "UTF-8", "甲"),
        ("utf-8-sig", "UTF-8 (BOM)", "乙"),
        ("gbk", "GBK", "丙"),
        ("gb18030", "GB18030", "𠀀"),  # CJK extension B: not in GBK
    ],
)
def test_csv_encodings_are_detected_and_said(
    tmp_store_with_county: GeoPackageStore, tmp_path: Path, encoding: str, label: str, name: str
) -> None:
    path = tmp_path / "register.csv"
    path.write_bytes(CSV_TEXT.format(name=name).encode(encoding))
    result = import_file(tmp_store_with_county, "households", path)
    assert any(f"文本编码：{label}" in n for n in result.notes), result.notes
    got = tmp_store_with_county.read("households").set_index("id").loc["N201"]
    assert got["head_name"] == f"测试{name}"


@pytest.fixture
def tmp_store_with_county(filled_store: GeoPackageStore) -> GeoPackageStore:
    return filled_store


def one_household(path: Path, hid: str, x: float, y: float, *, xy: str = "经度,纬度") -> Path:
    """A CSV register (UTF-8) of one household of the first village at (x, y)."""
    path.write_text(
        f"户编号,户主姓名,户籍村（社区）,家庭人口,60岁以上人数,{xy}\n"
        f"{hid},测试户,{V1},3,1,{x:.7f},{y:.7f}\n",
        encoding="utf-8",
    )
    return path


def test_csv_in_bd09_lands_where_it_is(filled_store: GeoPackageStore, tmp_path: Path) -> None:
    lon, lat = crsmod.wgs84_to_bd09(112.441, 29.661)
    path = one_household(tmp_path / "baidu.csv", "N301", lon, lat)
    import_file(filled_store, "households", path, crs="bd09")
    got = filled_store.read("households").set_index("id").loc["N301"].geometry
    assert abs(got.x - 112.441) < 1e-6 and abs(got.y - 29.661) < 1e-6


# --- 村组门牌 ---------------------------------------------------------------------------------


def test_addresses_place_service_points_and_visits(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    households = filled_store.read("households").set_index("id")
    path = tmp_path / "points.csv"
    path.write_text(
        "编号,类型,名称,村组门牌\n"
        "SP101,elder_care,岁月港湾新点,测试村3号\n"
        "SP102,clinic,卫生室,测试村 99 号\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRefusedError) as refused:
        import_file(filled_store, "service_points", path)
    assert refused.value.lines == [
        "第3行「村组门牌」列（SP102）：库中没有门牌为「测试村 99 号」的农户 (no stored household "
        "at this address)"
    ]
    path.write_text(path.read_text().replace("测试村 99 号", "测试村９号"))  # full-width 9
    result = import_file(filled_store, "service_points", path)
    assert any("匹配到库中农户 2 行，未匹配 0 行" in n for n in result.notes)
    points = filled_store.read("service_points").set_index("id")
    assert points.loc["SP101"].geometry.equals(households.loc["H003"].geometry)
    assert points.loc["SP102"].geometry.equals(households.loc["H009"].geometry)

    visits = tmp_path / "visits.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["走访编号", "村组门牌", "走访人", "走访时间", "走访类型"])
    sheet.append(["V101", "测试村5号", "grid-wang", "2026-11-30 09:00", "look_in"])
    book.save(visits)
    import_file(filled_store, "visits", visits)
    got = filled_store.read("visits").set_index("id").loc["V101"]
    assert got["household_id"] == "H005"


# --- zipped Shapefiles ------------------------------------------------------------------------


def shapefile_zip(
    frame: gpd.GeoDataFrame, folder: Path, *, crs: str, cpg: bool, prj: bool = True
) -> Path:
    """``frame`` as a GBK Shapefile in ``crs``, zipped (with or without .cpg and .prj)."""
    folder.mkdir(parents=True, exist_ok=True)
    shp = folder / "户.shp"
    pyogrio.write_dataframe(frame.to_crs(crs), shp, encoding="GBK")
    parts = [p for p in folder.iterdir() if p.stem == "户"]
    dbf = folder / "户.dbf"
    data = bytearray(dbf.read_bytes())
    data[29] = 0  # no language id: the bytes alone tell the encoding
    dbf.write_bytes(bytes(data))
    out = folder / "户.zip"
    with zipfile.ZipFile(out, "w") as z:
        for part in parts:
            if (part.suffix == ".cpg" and not cpg) or (part.suffix == ".prj" and not prj):
                continue
            z.write(part, f"数据/{part.name}")
    return out


#: a bureau's field names: Chinese, at most 10 bytes in GBK (the DBF's limit)
DBF_NAMES = {"id": "户编号", "head_name": "户主姓名", "house_number": "门牌号",
             "village_code": "村代码", "members": "人口", "elderly": "老年人数",
             "party_member": "党员户", "credit_rating": "信用等级"}  # fmt: skip


def new_households() -> gpd.GeoDataFrame:
    frame = raw_frame("households").iloc[[0, 1, 2]].reset_index(drop=True)
    frame["id"] = ["S001", "S002", "S003"]
    frame["head_name"] = ["测试甲", "测试乙", "测试丙"]
    return frame[[*DBF_NAMES, "geometry"]].rename(columns=DBF_NAMES)


@pytest.mark.parametrize(
    ("crs", "cpg"),
    [("EPSG:4546", False), ("EPSG:4497", True), ("EPSG:4526", False), ("EPSG:4508", True)],
    ids=["3deg-CM111-no-cpg", "6deg-zone19-cpg", "3deg-zone38", "6deg-CM111"],
)
def test_zipped_gauss_kruger_shapefile(
    county_store: Store, tmp_path: Path, crs: str, cpg: bool
) -> None:
    frame = new_households()
    path = shapefile_zip(frame, tmp_path / "shp", crs=crs, cpg=cpg)
    result = import_file(county_store, "households", path)
    said = " ".join(result.notes)
    assert ("来自 .cpg" in said) if cpg else ("没有 .cpg，按 .dbf 内容推断编码为 GBK" in said)
    assert crs in said  # the CRS of the .prj, named
    got = county_store.read("households").set_index("id").loc[["S001", "S002", "S003"]]
    assert got["head_name"].tolist() == ["测试甲", "测试乙", "测试丙"]
    moved = shapely.distance(np.asarray(got.geometry.values), np.asarray(frame.geometry.values))
    assert float(moved.max()) < 1e-7


def test_shapefile_without_prj_needs_crs(filled_store: GeoPackageStore, tmp_path: Path) -> None:
    path = shapefile_zip(new_households(), tmp_path / "shp", crs="EPSG:4546", cpg=True, prj=False)
    with pytest.raises(InputFileError, match=r"缺少 \.prj.*--crs"):
        import_file(filled_store, "households", path)
    import_file(filled_store, "households", path, crs="EPSG:4546")
    assert {"S001", "S002", "S003"} <= set(filled_store.read("households")["id"])


def test_shapefile_metres_declared_as_degrees(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    path = shapefile_zip(new_households(), tmp_path / "shp", crs="EPSG:4546", cpg=True, prj=False)
    with pytest.raises(ImportRefusedError) as refused:
        import_file(filled_store, "households", path, crs="wgs84")
    said = str(refused.value)
    assert "投影坐标" in said and "--crs EPSG:" in said


def test_zipped_grids_go_through_the_boundary_checks(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    grids = raw_frame("grids").rename(
        columns={"parent_code": "上级网格", "village_code": "所属村",
                 "responsible_name": "网格负责人", "responsible_phone": "联系电话",
                 "responsible_role": "职务",
                 "valid_from": "启用日期", "valid_to": "停用日期"}
    )  # fmt: skip
    path = shapefile_zip(grids, tmp_path / "grids", crs="EPSG:4546", cpg=True)
    before = sha256(filled_store.path)
    result = import_file(filled_store, "grids", path, mode="replace", dry_run=True)
    assert result.features == len(grids)  # the same grids: no finding, nothing archived
    moved = grids.copy()
    moved.loc[moved["level"] == 3, "geometry"] = moved.loc[moved["level"] == 3].translate(0.01)
    path = shapefile_zip(moved, tmp_path / "moved", crs="EPSG:4546", cpg=True)
    with pytest.raises(ImportRefusedError) as refused:
        import_file(filled_store, "grids", path, mode="replace", dry_run=True)
    assert any("网格边界检查未通过" in line for line in refused.value.lines)
    assert sha256(filled_store.path) == before


# --- KML and KMZ ------------------------------------------------------------------------------

KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>服务点采集</name>
<Folder><name>岁月港湾</name>
<Placemark><name>岁月港湾东点</name>
<ExtendedData><Data name="编号"><value>SP201</value></Data>
<Data name="类型"><value>elder_care</value></Data>
<Data name="负责人"><value>李守望</value></Data></ExtendedData>
<Point><coordinates>{0},{1},0</coordinates></Point></Placemark>
</Folder>
<Folder><name>卫生室</name>
<Placemark><name>测试卫生室</name>
<ExtendedData><Data name="编号"><value>SP202</value></Data>
<Data name="类型"><value>clinic</value></Data></ExtendedData>
<Point><coordinates>{2},{3},0</coordinates></Point></Placemark>
</Folder></Document></kml>
"""
SPOTS = ((112.441, 29.661), (112.452, 29.612))


def kml_text(spots: tuple[tuple[float, float], ...] = SPOTS) -> str:
    return KML.format(*[f"{v:.7f}" for xy in spots for v in xy])


@pytest.mark.parametrize("suffix", [".kml", ".kmz"])
def test_kml_and_kmz_folders_and_extended_data(
    filled_store: GeoPackageStore, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"采集{suffix}"
    if suffix == ".kml":
        path.write_text(kml_text(), encoding="utf-8")
    else:
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("doc.kml", kml_text())
    result = import_file(filled_store, "service_points", path)
    assert result.format == suffix[1:].upper()
    got = filled_store.read("service_points").set_index("id").loc[["SP201", "SP202"]]
    assert got["name"].tolist() == ["岁月港湾东点", "测试卫生室"]
    assert got["kind"].tolist() == ["elder_care", "clinic"]
    assert got.loc["SP201", "watcher"] == "李守望"
    assert np.allclose(shapely.get_x(got.geometry.values), [112.441, 112.452])


def test_kml_from_a_phone_app_in_gcj02(filled_store: GeoPackageStore, tmp_path: Path) -> None:
    # six elder-care points recorded at households' doors with Amap: GCJ-02 in a KML that
    # says WGS84; the nearest stored households are the evidence
    stored = filled_store.read("households").iloc[:6]
    placemarks = "".join(
        f"<Placemark><name>岁月港湾{i}</name><ExtendedData>"
        f'<Data name="编号"><value>SPG{i}</value></Data>'
        f'<Data name="类型"><value>elder_care</value></Data></ExtendedData>'
        f"<Point><coordinates>{x:.7f},{y:.7f}</coordinates></Point></Placemark>"
        for i, (x, y) in enumerate(
            zip(*crsmod.wgs84_to_gcj02(shapely.get_x(stored.geometry.values),
                                       shapely.get_y(stored.geometry.values)), strict=True)
        )
    )  # fmt: skip
    path = tmp_path / "amap.kml"
    path.write_text(
        '<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2">'
        f"<Document><Folder><name>采集</name>{placemarks}</Folder></Document></kml>",
        encoding="utf-8",
    )
    before = sha256(filled_store.path)
    with pytest.raises(ImportRefusedError) as refused:
        import_file(filled_store, "service_points", path, dry_run=True)
    assert "GCJ-02" in str(refused.value) and "--crs gcj02" in str(refused.value)
    assert "距最近已有农户中位" in str(refused.value)
    assert sha256(filled_store.path) == before
    import_file(filled_store, "service_points", path, crs="gcj02")
    got = filled_store.read("service_points").set_index("id").loc[[f"SPG{i}" for i in range(6)]]
    moved = shapely.distance(np.asarray(got.geometry.values), np.asarray(stored.geometry.values))
    assert float(moved.max()) < 1e-7


def test_one_new_point_is_not_judged_by_chance(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    # a single new household 1.5 km from the others: too few points to judge an offset by
    path = one_household(tmp_path / "one.csv", "N401", 112.46, 29.62)
    result = import_file(filled_store, "households", path)
    assert result.verdict is not None and result.verdict.kind == "ok"


def test_the_docs_list_every_header_alias() -> None:
    from gisgrid.exchange.headers import ALIASES

    text = (Path(__file__).parent.parent / "docs" / "exchange-format.md").read_text()
    for layer, columns in ALIASES.items():
        for column, aliases in columns.items():
            row = next(
                (
                    line
                    for line in text.splitlines()
                    if line.startswith(f"| {layer} | `{column}` |")
                ),
                "",
            )
            assert row, (layer, column)
            for alias in aliases:
                assert alias in row, (layer, column, alias)


def test_incidents_from_the_second_sheet_rows_as_excel_numbers_them(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "说明"
    notes.append(["本表由网格员填写"])
    sheet = book.create_sheet("事件")
    # two blank rows above the header: Excel's row numbers still count them
    headers = ["事件编号", "类型", "上报时间", "状态", "描述", "经度", "纬度"]
    rows = [
        ["E101", "dispute", dt.datetime(2026, 11, 30, 9, 30), "registered", "纠纷", 112.45, 29.62],
        ["E102", "fire", "2026-11-30 10:00", "registered", None, 112.46, 29.63],
    ]
    for c, value in enumerate(headers, start=1):
        sheet.cell(row=3, column=c, value=value)
    for r, row in enumerate(rows, start=4):
        for c, value in enumerate(row, start=1):
            sheet.cell(row=r, column=c, value=value)
    path = tmp_path / "事件.xlsx"
    book.save(path)
    with pytest.raises(ImportRefusedError) as refused:
        import_file(filled_store, "incidents", path)
    [line] = refused.value.lines
    assert line.startswith("第5行「类型」列（E102）：「fire」不是允许的值")
    sheet.cell(row=5, column=2, value="petition")
    book.save(path)
    result = import_file(filled_store, "incidents", path)
    assert any("工作表「事件」" in n for n in result.notes)
    got = filled_store.read("incidents").set_index("id").loc[["E101", "E102"]]
    assert got["reported_at"].tolist() == [
        pd.Timestamp("2026-11-30 09:30"),
        pd.Timestamp("2026-11-30 10:00"),
    ]


def test_gauss_kruger_columns_with_crs(filled_store: GeoPackageStore, tmp_path: Path) -> None:
    to_gk = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:4546", always_xy=True)
    x, y = to_gk.transform(112.441, 29.661)
    path = one_household(tmp_path / "gk.csv", "N501", x, y, xy="X坐标,Y坐标")
    with pytest.raises(ImportRefusedError, match="投影坐标"):
        import_file(filled_store, "households", path)
    import_file(filled_store, "households", path, crs="EPSG:4546")
    got = filled_store.read("households").set_index("id").loc["N501"].geometry
    assert abs(got.x - 112.441) < 1e-7 and abs(got.y - 29.661) < 1e-7


def test_a_column_named_twice_and_a_zip_of_two_shapefiles(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    path = tmp_path / "twice.csv"
    path.write_text(
        f"户编号,户主姓名,户主,户籍村（社区）,家庭人口,60岁以上人数,lon,lat\n"
        f"N601,测试辛,测试辛,{V1},2,0,112.44,29.66\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRefusedError, match="列「户主姓名」与「户主」是同一列"):
        import_file(filled_store, "households", path)

    one = shapefile_zip(new_households(), tmp_path / "a", crs="EPSG:4546", cpg=True)
    both = tmp_path / "both.zip"
    with zipfile.ZipFile(both, "w") as out, zipfile.ZipFile(one) as z:
        for name in z.namelist():
            out.writestr(name, z.read(name))
            out.writestr(name.replace("户.", "别的."), z.read(name))
    with pytest.raises(InputFileError, match="--source-layer"):
        import_file(filled_store, "households", both)
    result = import_file(filled_store, "households", both, source_layer="户")
    assert result.features == 3


def test_cli_says_the_encoding_and_refuses_gcj02_naming_the_option(
    run_gisgrid: Run, filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    stored = filled_store.read("households")
    lon, lat = crsmod.wgs84_to_gcj02(
        shapely.get_x(stored.geometry.values), shapely.get_y(stored.geometry.values)
    )
    lines = ["户编号,户主姓名,户籍村（社区）,家庭人口,60岁以上人数,经度,纬度"]
    lines += [
        f"{i},测试户{n},{V1},3,1,{x:.7f},{y:.7f}"
        for n, (i, x, y) in enumerate(zip(stored["id"], lon, lat, strict=True))
    ]
    path = tmp_path / "gbk.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("gbk"))  # as Excel saves it
    before = sha256(filled_store.path)
    refused = run_gisgrid(
        "import", "households", path, "--mode", "replace", store=filled_store.path
    )
    assert refused.returncode == 4
    assert "note: 文本编码：GBK（自动识别）" in refused.stderr
    assert "坐标疑似为 GCJ-02" in refused.stderr and "--crs gcj02" in refused.stderr
    assert sha256(filled_store.path) == before
    done = run_gisgrid(
        "import", "households", path, "--mode", "replace", "--crs", "gcj02", "--dry-run",
        store=filled_store.path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "note: 文本编码：GBK（自动识别）" in done.stderr
    assert "坐标检查通过" in done.stderr
    assert f"替换 replaced {len(stored)}" in done.stdout
    assert sha256(filled_store.path) == before
