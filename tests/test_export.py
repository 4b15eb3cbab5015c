"""Exports to Excel, zipped Shapefile, KML/KMZ, GeoJSON and GeoPackage, read back with other
tools (GDAL through pyogrio, Debian's GDAL 3.6 ``ogrinfo``, openpyxl) and compared to the
store; an area's export against a spatial join of our own; the download over HTTP for
several roles on both stores."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import subprocess
import urllib.parse
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
from accounts import make_account
from conftest import assert_same
from fastapi.testclient import TestClient

from gisgrid import codes
from gisgrid.api import create_app
from gisgrid.errors import ConfigError, InputFileError, StoreError, UnknownAreaError
from gisgrid.exchange import Extract, export_layer, format_of, read_extract, write_export
from gisgrid.exchange.shapefile_out import NAME_MAX, short_names
from gisgrid.layers import LAYERS
from gisgrid.layers.kinds import FIELD_KINDS
from gisgrid.stores import open_store
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import AuditQuery

Frames = Callable[[str], Any]
SPATIAL = [name for name, decl in LAYERS.items() if decl.spatial]
FLAT = [name for name, decl in LAYERS.items() if not decl.spatial]
OGRINFO = "/usr/bin/ogrinfo"  # Debian's gdal-bin: GDAL 3.6, older than pyogrio's


def _ogrinfo(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [OGRINFO, "-ro", "-al", "-so", str(path)], capture_output=True, text=True, check=False
    )


def _as_text(values: pd.Series) -> list[str | None]:
    return [None if pd.isna(v) else str(v) for v in values.astype("object")]


def assert_same_shapes(got: gpd.GeoSeries, expected: gpd.GeoSeries) -> None:
    """The same shapes to a nanodegree, whatever the rings' direction, their start or the
    geometry type (a Shapefile's polygon holds a multipolygon's parts)."""
    left = [
        shapely.MultiPolygon([g]) if isinstance(g, shapely.Polygon) else g for g in got.to_numpy()
    ]
    right = [
        shapely.MultiPolygon([g]) if isinstance(g, shapely.Polygon) else g
        for g in expected.to_numpy()
    ]
    assert len(left) == len(right)
    same = shapely.equals_exact(
        shapely.normalize(np.array(left)), shapely.normalize(np.array(right)), tolerance=1e-9
    )
    assert same.all(), f"{int((~same).sum())} shapes differ"


# --- the file ending picks the format -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.xlsx", "xlsx"),
        ("a.ZIP", "shp"),
        ("a.shp.zip", "shp"),
        ("a.kml", "kml"),
        ("a.kmz", "kmz"),
        ("a.json", "geojson"),
        ("a.geojson", "geojson"),
        ("a.gpkg", "gpkg"),
    ],
)
def test_the_ending_picks_the_format(name: str, fmt: str) -> None:
    assert format_of(name) == fmt


# --- GeoPackage: older GDAL, dates as dates -----------------------------------------------------


@pytest.mark.parametrize("name", list(LAYERS))
def test_geopackage_opens_in_gdal_36_without_warnings_and_types_dates(
    name: str, filled_store: GeoPackageStore, tmp_path: Path, canonical: Frames
) -> None:
    out = tmp_path / f"{name}.gpkg"
    assert export_layer(filled_store, name, out) == len(canonical(name))
    result = _ogrinfo(out)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "", "GDAL 3.6 warns"
    assert (
        "GDAL 3.6"
        in subprocess.run([OGRINFO, "--version"], capture_output=True, text=True, check=True).stdout
    )
    info = pyogrio.read_info(out, layer=name)
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    for f in LAYERS[name].fields:
        if f.type == "date":
            assert types[f.name] == "OFTDate"
            assert f"{f.name}: Date" in result.stdout
        elif f.type == "datetime":
            assert types[f.name] == "OFTDateTime"
            assert f"{f.name}: DateTime" in result.stdout
    # read by GDAL, cast to the declared types: the store's rows, geometry and CRS
    got = LAYERS[name].conform(pyogrio.read_dataframe(out, layer=name))
    assert_same(canonical(name), got)


# --- Shapefile ------------------------------------------------------------------------------


def test_short_names_fit_and_differ_for_every_layer() -> None:
    for decl in LAYERS.values():
        names = short_names(decl.columns)
        assert all(len(s) <= NAME_MAX and s.isascii() for s in names.values())
        assert len({s.lower() for s in names.values()}) == len(names), decl.name
        assert short_names(decl.columns) == names, "the same every time"
    assert short_names(["responsible_phone", "responsible_name", "responsible_role"]) == {
        "responsible_phone": "resp_phone",
        "responsible_name": "respo_name",
        "responsible_role": "respo_role",
    }
    assert short_names(["abcdefghijkl", "abcdefghijxy"]) == {
        "abcdefghijkl": "abcdefghij",
        "abcdefghijxy": "abcdefghi2",
    }


@pytest.mark.parametrize("name", SPATIAL)
def test_zipped_shapefile_round_trip(
    name: str, filled_store: GeoPackageStore, tmp_path: Path, canonical: Frames
) -> None:
    out = tmp_path / f"{name}.shp.zip"
    export_layer(filled_store, name, out)
    parts = tmp_path / "parts"
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == sorted(
            [f"{name}{e}" for e in (".shp", ".shx", ".dbf", ".prj", ".cpg")]
            + ["fields.csv", "README.txt"]
        )
        z.extractall(parts)
    assert (parts / f"{name}.cpg").read_bytes() == b"UTF-8"
    prj = pyproj.CRS.from_wkt((parts / f"{name}.prj").read_text(encoding="ascii"))
    assert prj.equals(pyproj.CRS("EPSG:4326"), ignore_axis_order=True)
    rows = list(csv.DictReader(io.StringIO((parts / "fields.csv").read_text("utf-8-sig"))))
    mapping = {r["dbf_name"]: r["field"] for r in rows}
    assert [r["field"] for r in rows] == LAYERS[name].columns
    assert all(r["label_zh"] == LAYERS[name].field(r["field"]).label_zh for r in rows)
    readme = (parts / "README.txt").read_text("utf-8")
    assert all(f"{s:<10} = {f} =" in readme for s, f in mapping.items())
    # GDAL takes the encoding from the .cpg: UTF-8, never GBK
    shp = parts / f"{name}.shp"
    info = pyogrio.read_info(shp)
    assert info["encoding"] == "UTF-8"
    got = pyogrio.read_dataframe(shp).rename(columns=mapping)
    expected = canonical(name)
    types = dict(zip(info["fields"], info["ogr_types"], strict=True))
    for f in LAYERS[name].fields:
        short = next(s for s, n in mapping.items() if n == f.name)
        if f.type == "date":
            assert types[short] == "OFTDate", f.name
            assert list(pd.to_datetime(got[f.name])) == list(expected[f.name]), f.name
        elif f.type == "datetime":
            shown = expected[f.name].dt.strftime("%Y-%m-%d %H:%M:%S")
            assert _as_text(got[f.name]) == _as_text(shown.where(expected[f.name].notna())), f.name
        elif f.type == "bool":
            wanted = expected[f.name].astype("Int64").astype("object")
            assert _as_text(got[f.name].astype("Int64")) == _as_text(wanted), f.name
        elif f.type in ("int", "float"):
            assert _as_text(got[f.name].astype(expected[f.name].dtype)) == _as_text(
                expected[f.name]
            ), f.name
        else:
            assert _as_text(got[f.name]) == _as_text(expected[f.name]), f.name
    assert_same_shapes(got.geometry, expected.geometry)
    # Debian's GDAL 3.6 reads it too, dates as dates, without a word on stderr
    result = _ogrinfo(shp)
    assert result.returncode == 0 and result.stderr == "", result.stderr
    for f in LAYERS[name].fields:
        if f.type == "date":
            short = next(s for s, n in mapping.items() if n == f.name)
            assert f"{short}: Date" in result.stdout


@pytest.mark.parametrize("suffix", [".zip", ".kml", ".kmz"])
@pytest.mark.parametrize("name", FLAT[:3])
def test_a_layer_without_geometry_is_refused_for_shapes(
    name: str, suffix: str, filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match="has no geometry"):
        export_layer(filled_store, name, tmp_path / "out" / f"{name}{suffix}")
    assert not (tmp_path / "out").exists()


def test_a_failing_write_leaves_no_file_and_an_old_one_as_it_was(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "points.zip"
    out.write_bytes(b"the earlier export")
    extract = read_extract(filled_store, "households")
    # a polygon among the points: GDAL refuses it half way through the Shapefile
    grid = filled_store.read("grids").geometry.iloc[0]
    frame = extract.frame.copy()
    frame.loc[len(frame) - 1, "geometry"] = grid
    broken = type(extract)(extract.layer, frame, None, None, None, extract.made)
    with pytest.raises(InputFileError, match="cannot write"):
        write_export(broken, out)
    assert [p.name for p in folder.iterdir()] == ["points.zip"], "no partial files"
    assert out.read_bytes() == b"the earlier export"
    with pytest.raises(InputFileError, match="cannot write"):
        write_export(broken, folder / "new.zip")
    assert [p.name for p in folder.iterdir()] == ["points.zip"]


# --- KML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".kml", ".kmz"])
@pytest.mark.parametrize("name", ["grids", "households", "incidents", "service_points"])
def test_kml_round_trip(
    name: str, suffix: str, filled_store: GeoPackageStore, tmp_path: Path, canonical: Frames
) -> None:
    out = tmp_path / f"{name}{suffix}"
    export_layer(filled_store, name, out)
    if suffix == ".kmz":
        with zipfile.ZipFile(out) as z:
            assert z.namelist() == ["doc.kml"]
            text = z.read("doc.kml").decode("utf-8")
        out = tmp_path / "doc.kml"
        out.write_text(text, encoding="utf-8")
    else:
        text = out.read_text(encoding="utf-8")
    expected = canonical(name)
    # GDAL's KML reader has fields Name and Description of its own (the placemark's): a
    # field of that name in ExtendedData comes second
    # (and an id, the placemark's)
    got = pyogrio.read_dataframe(out)
    for second, own, field in (
        ("Name2", "Name", "name"),
        ("Description2", "description", "description"),
        ("id2", "id", "id"),
    ):
        if second in got.columns:
            got = got.drop(columns=own).rename(columns={second: field})
    decl = LAYERS[name]
    key = decl.key[0]
    assert _as_text(got[key]) == _as_text(expected[key])
    for f in decl.fields:  # every field in ExtendedData, under its name
        if f.type == "str" and f.name in got.columns:
            assert _as_text(got[f.name].replace("", None)) == _as_text(expected[f.name]), f.name
    assert all(f.name in got.columns for f in decl.fields if expected[f.name].notna().any())
    assert_same_shapes(got.geometry, expected.geometry)
    # names and descriptions in Chinese: the labels, and kinds in words
    first = decl.fields[1]
    assert f"&lt;th&gt;{first.label_zh}&lt;/th&gt;" in text
    for (layer, field), labels in FIELD_KINDS.items():
        if layer == name:
            for code in set(expected[field]):
                assert labels[code].zh in text


def test_a_placemarks_description_shows_markup_in_a_name_as_text(
    canonical: Frames, tmp_path: Path
) -> None:
    """The description is HTML made by an autoescaping template: a head of household named
    like markup is text in it, never an element a viewer would run."""
    evil = "<img src=x onerror=alert(1)>"
    frame = canonical("households").head(2).copy()
    frame["head_name"] = [evil, "张三 & 李四"]
    decl = LAYERS["households"]
    out = tmp_path / "evil.kml"
    write_export(Extract(decl, frame, None, None, None, dt.datetime(2026, 12, 1)), out)
    got = pyogrio.read_dataframe(out)
    descriptions = got["description"].tolist()
    assert "&lt;img src=x onerror=alert(1)&gt;" in descriptions[0]
    assert "<img" not in descriptions[0]
    assert "张三 &amp; 李四" in descriptions[1]
    assert "<table><tr><th>户编号</th>" in descriptions[0]  # the markup is the template's


# --- Excel ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["grids", "households", "incidents", "first_secretaries"])
def test_excel_has_chinese_headers_dates_and_kinds(
    name: str, filled_store: GeoPackageStore, tmp_path: Path, canonical: Frames
) -> None:
    out = tmp_path / f"{name}.xlsx"
    export_layer(filled_store, name, out)
    book = openpyxl.load_workbook(out)
    decl, expected = LAYERS[name], canonical(name)
    ws = book[decl.label_zh]
    headers = [c.value for c in ws[1]]
    points = decl.geometry_type == "Point"
    assert headers == [f.label_zh for f in decl.fields] + (["经度", "纬度"] if points else [])
    assert ws.freeze_panes == "A2"
    assert ws[1][0].font.b
    assert ws.max_row == len(expected) + 1
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    for j, f in enumerate(decl.fields):
        cells = [r[j] for r in rows]
        values = expected[f.name]
        labels = FIELD_KINDS.get((name, f.name))
        if f.type == "date":
            assert [c if c is None else c.date() for c in cells] == [
                None if pd.isna(v) else v.date() for v in values
            ], f.name
            assert all(
                ws.cell(i + 2, j + 1).number_format == "yyyy-mm-dd"
                for i, v in enumerate(cells)
                if v is not None
            )
        elif f.type == "datetime":
            assert all(isinstance(c, dt.datetime) for c in cells if c is not None)
            assert [c for c in cells] == [None if pd.isna(v) else v.to_pydatetime() for v in values]
        elif labels is not None:
            assert cells == [labels[str(v)].zh for v in values], f.name
        elif f.type == "bool":
            assert cells == [None if pd.isna(v) else ("是" if v else "否") for v in values]
        elif f.type == "str":
            assert cells == _as_text(values), f.name  # codes stay text
    if points:
        lon = [r[len(decl.fields)] for r in rows]
        assert lon == pytest.approx(list(expected.geometry.x))
    notes = book["说明"]
    text = "\n".join(str(c.value) for row in notes.iter_rows() for c in row if c.value)
    assert all(f.name in text for f in decl.fields)
    if decl.geometry_type == "MultiPolygon":
        assert "不含边界形状" in text and f"gisgrid export {name}" in text


# --- an area: a township, a village ---------------------------------------------------------


@pytest.fixture(scope="module")
def truth(sample_gpkg: GeoPackageStore) -> pd.DataFrame:
    """Each household's level-3 grid now by a plain spatial join (covered_by), its village."""
    households = sample_gpkg.read("households")
    grids = sample_gpkg.read("grids", where={"level": 3})
    joined = gpd.sjoin(
        households[["id", "village_code", "geometry"]],
        grids[["code", "geometry"]],
        how="left",
        predicate="covered_by",
    )
    out = joined.drop_duplicates("id").set_index("id")[["code", "village_code"]]
    out["place"] = out["code"].where(out["code"].notna(), out["village_code"])
    return out


@pytest.mark.parametrize("kind", ["township", "village"])
def test_an_areas_households_are_those_in_it(
    kind: str, sample_gpkg: GeoPackageStore, truth: pd.DataFrame, tmp_path: Path
) -> None:
    village = str(truth["code"].dropna().iloc[len(truth) // 2])[:12]
    area = village if kind == "village" else codes.township_of(village)
    out = tmp_path / "hh.gpkg"
    n = export_layer(sample_gpkg, "households", out, area=area)
    got = pyogrio.read_dataframe(out)
    inside = truth.index[truth["place"].astype(str).str.startswith(area)]
    assert n == len(got) > 0
    # a point on an edge shared with the next village may go either way: at most a few
    assert len(set(got["id"]) ^ set(inside)) <= max(2, len(inside) // 500)
    export_layer(sample_gpkg, "villages", tmp_path / "v.gpkg", area=area)
    shown = set(pyogrio.read_dataframe(tmp_path / "v.gpkg")["code"])
    assert shown == ({village} if kind == "village" else {v for v in shown if v.startswith(area)})


def test_an_unknown_area_is_refused(sample_gpkg: GeoPackageStore, tmp_path: Path) -> None:
    with pytest.raises(UnknownAreaError):
        export_layer(sample_gpkg, "households", tmp_path / "x.xlsx", area="430623999")
    with pytest.raises(ConfigError):
        export_layer(sample_gpkg, "households", tmp_path / "x.xlsx", area="43")
    assert list(tmp_path.iterdir()) == []


def test_cli_export_of_a_village_is_recorded(
    run_gisgrid: Callable[..., subprocess.CompletedProcess[str]],
    sample_gpkg_copy: str,
    tmp_path: Path,
) -> None:
    store = GeoPackageStore(sample_gpkg_copy)
    village = str(store.read("villages")["code"].iloc[3])
    out = tmp_path / "村.xlsx"
    result = run_gisgrid("export", "households", out, "--area", village, store=Path(store.path))
    assert result.returncode == 0, result.stderr
    assert f"of {village}" in result.stdout
    entries = store.ledger.audit(AuditQuery(action="export"))
    assert entries and entries[0].entry.detail["area"] == village
    assert entries[0].entry.detail["format"] == "xlsx"
    refused = run_gisgrid("export", "households", tmp_path / "x.xlsx", "--area", "430623999999",
                          store=Path(store.path))  # fmt: skip
    assert refused.returncode == UnknownAreaError.exit_code
    assert not (tmp_path / "x.xlsx").exists()


# --- over HTTP, scoped, on both stores ------------------------------------------------------


@pytest.fixture(params=["gpkg", "postgis"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store of the sample county of the test's own: a GeoPackage or a PostGIS database."""
    if request.param == "gpkg":
        sample: GeoPackageStore = request.getfixturevalue("sample_gpkg")
        path = tmp_path / "county.gpkg"
        shutil.copy(sample.path, path)
        yield str(path)
    else:
        yield request.getfixturevalue("sample_pg_url")


def test_download_is_scoped_by_role_and_audited(
    served: str, truth: pd.DataFrame, tmp_path: Path
) -> None:
    counts = truth.groupby("code").size()
    grid = str(counts[counts >= 3].index[0])
    village = codes.village_of(grid)
    worker = make_account(served, "grid", grid)
    secretary = make_account(served, "village", village)
    viewer = make_account(served, "viewer", codes.township_of(village))
    with TestClient(create_app(store=served), base_url="https://testserver") as client:
        assert client.app.state.gisgrid.warmed.wait(timeout=300)
        got: dict[str, set[str]] = {}
        for who, account, fmt in (("grid", worker, "gpkg"), ("village", secretary, "xlsx")):
            r = client.get(
                f"/api/export/households?format={fmt}&area={village}", headers=account.headers
            )
            assert r.status_code == 200, r.text[:300]
            disposition = r.headers["content-disposition"]
            assert disposition.startswith('attachment; filename="households-')
            name = urllib.parse.unquote(disposition.split("filename*=UTF-8''")[1])
            assert name.startswith("农户-") and name.endswith(f".{fmt}")
            path = tmp_path / f"{who}.{fmt}"
            path.write_bytes(r.content)
            if fmt == "gpkg":
                got[who] = set(pyogrio.read_dataframe(path)["id"])
            else:
                ws = openpyxl.load_workbook(path)["农户"]
                got[who] = {str(r[0]) for r in ws.iter_rows(min_row=2, values_only=True)}
        mine = set(truth.index[truth["place"].astype(str).str.startswith(grid)])
        village_truth = set(truth.index[truth["place"].astype(str).str.startswith(village)])
        assert got["grid"] and len(got["grid"] ^ mine) <= 2, "a grid worker: their grid only"
        assert got["grid"] < got["village"]
        assert len(got["village"] ^ village_truth) <= max(2, len(village_truth) // 500)
        # the village's page links its downloads
        page = client.get(f"/?village={village}", headers=secretary.headers).text
        assert f'href="/api/export/households?format=xlsx&amp;area={village}"' in page
        assert f'href="/api/export/grids?format=shp&amp;area={village}"' in page
        # figures only: no households, and the grids' phones masked
        r = client.get("/api/export/households?format=xlsx", headers=viewer.headers)
        assert r.status_code == 403
        r = client.get("/api/export/grids?format=geojson", headers=viewer.headers)
        assert r.status_code == 200
        phones = {f["properties"]["responsible_phone"] for f in json.loads(r.content)["features"]}
        assert phones and all(p is None or "****" in p for p in phones)
        # outside one's area, and a layer without geometry as a Shapefile: refused, as JSON
        r = client.get("/api/export/households?area=430623999", headers=worker.headers)
        assert r.status_code in (403, 404) and r.json()["error"]["message"]
        r = client.get("/api/export/county_leaders?format=shp", headers=secretary.headers)
        assert r.status_code == 400 and "no geometry" in r.json()["error"]["message"]
    store = open_store(served)
    try:
        entries = store.ledger.audit(AuditQuery(action="export"))
    finally:
        store.close()
    assert {e.entry.actor for e in entries} >= {worker.username, secretary.username}


def test_the_documented_shapefile_names_are_the_ones_written() -> None:
    text = (Path(__file__).parent.parent / "docs" / "exchange-format.md").read_text("utf-8")
    table = text.split("<!-- shapefile-names:start -->")[1].split("<!-- shapefile-names:end -->")[0]
    documented = {
        tuple(cell.strip(" `") for cell in line.strip("|").split("|")[:3])
        for line in table.strip().splitlines()[2:]
    }
    written = {
        (name, short, field)
        for name in SPATIAL
        for field, short in short_names(LAYERS[name].columns).items()
        if short != field
    }
    assert documented == written


# --- one consistent read --------------------------------------------------------------------


class WrittenDuringReads(GeoPackageStore):
    """A GeoPackage store that, while an export reads it, has another writer change it:
    a real write through a second store on the same file, after each of the first ``times``
    reads of ``layer``."""

    def __init__(self, path: Path, *, layer: str, times: int) -> None:
        super().__init__(path)
        self.layer, self.times = layer, times
        self.writer = GeoPackageStore(path)

    def read(self, layer: str, **kwargs: Any) -> Any:
        frame = super().read(layer, **kwargs)
        if layer == self.layer and self.times > 0:
            self.times -= 1
            rows = self.writer.read(layer)
            self.writer.write({layer: rows.iloc[:-1]})  # another writer drops a row
        return frame


def test_a_write_during_the_read_makes_the_export_read_again(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    before = filled_store.count("service_points")
    store = WrittenDuringReads(filled_store.path, layer="service_points", times=1)
    extract = read_extract(store, "service_points")
    # the first read saw the layer before the write: read again, the file is of after it
    assert len(extract.frame) == before - 1 == store.count("service_points")


def test_a_store_that_keeps_changing_is_not_exported(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    store = WrittenDuringReads(filled_store.path, layer="service_points", times=10)
    out = tmp_path / "out" / "sp.gpkg"
    with pytest.raises(StoreError, match="kept changing"):
        export_layer(store, "service_points", out)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_the_words_of_every_coded_field_are_its_choices() -> None:
    """Every kind a file writes in words has its word, and no word names a code not allowed."""
    for (layer, field), labels in FIELD_KINDS.items():
        assert tuple(labels) == LAYERS[layer].field(field).choices, (layer, field)


def test_more_rows_than_a_sheet_holds_are_refused(tmp_path: Path) -> None:
    decl = LAYERS["leader_townships"]
    rows = 1_048_576  # and the header: one too many
    frame = pd.DataFrame({c: pd.Series(["1"] * rows, dtype="object") for c in decl.columns})
    extract = Extract(decl, frame, None, None, None, dt.datetime(2026, 12, 1))
    with pytest.raises(ConfigError, match="do not fit a sheet of Excel"):
        write_export(extract, tmp_path / "out" / "big.xlsx")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("area", ["430623", "430600"])
def test_a_county_or_its_prefecture_is_the_whole_county(
    area: str, sample_gpkg: GeoPackageStore, tmp_path: Path
) -> None:
    n = export_layer(sample_gpkg, "service_points", tmp_path / "all.geojson")
    assert export_layer(sample_gpkg, "grids", tmp_path / "g.gpkg", area=area) == sample_gpkg.count(
        "grids"
    )
    assert export_layer(sample_gpkg, "service_points", tmp_path / "a.geojson", area=area) == n
    with pytest.raises(UnknownAreaError):
        export_layer(sample_gpkg, "grids", tmp_path / "x.gpkg", area="430611")  # a neighbour
