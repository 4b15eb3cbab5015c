"""The GeoPackage store: round trips, queries, metadata, and all-or-nothing writes."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from conftest import assert_same, sha256
from shapely.geometry import MultiPolygon, Polygon, box

from gisgrid.errors import ConfigError, StoreConstraintError, StoreError, ValidationError
from gisgrid.exchange import import_file
from gisgrid.layers import LAYERS, get_layer
from gisgrid.stores import InitResult, Store, open_store
from gisgrid.stores.geopackage import GeoPackageStore

Frames = Callable[[str], Any]  # DataFrame, GeoDataFrame for spatial layers


def leftovers(store: GeoPackageStore) -> list[str]:
    """Files in the store's folder other than the store and its lock file."""
    keep = {store.path.name, f".{store.path.name}.lock"}
    return sorted(p.name for p in store.path.parent.iterdir() if p.name not in keep)


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LAYERS))
def test_every_layer_round_trips(name: str, tmp_store: GeoPackageStore, canonical: Frames) -> None:
    frame = canonical(name)
    tmp_store.write({name: frame})
    assert_same(frame, tmp_store.read(name))
    assert tmp_store.count(name) == len(frame)


def test_all_layers_in_one_write_round_trip(
    filled_store: GeoPackageStore, canonical: Frames
) -> None:
    assert sorted(filled_store.layer_names()) == sorted(LAYERS)
    for name in LAYERS:
        assert_same(canonical(name), filled_store.read(name))


def test_nulls_of_every_type_round_trip(tmp_store: GeoPackageStore, canonical: Frames) -> None:
    households = canonical("households")
    households.loc[0, "party_member"] = pd.NA  # nullable boolean
    households.loc[1, "house_number"] = None  # nullable text
    households.loc[2, "grid_code"] = "430623901001001001"
    grids = canonical("grids")
    grids.loc[0, "level"] = pd.NA  # nullable integer (the store takes what it is given)
    grids.loc[1, "valid_from"] = pd.NaT  # nullable date
    incidents = canonical("incidents")
    incidents.loc[0, "description"] = None
    activities = canonical("volunteer_activities")
    assert activities["participants"].isna().sum() == 1
    frames = {
        "households": households,
        "grids": grids,
        "incidents": incidents,
        "volunteer_activities": activities,
    }
    tmp_store.write(frames)
    for name, frame in frames.items():
        got = tmp_store.read(name)
        assert_same(frame, got)
    got = tmp_store.read("households")
    assert got.at[0, "party_member"] is pd.NA
    assert got.at[1, "house_number"] is None
    assert tmp_store.read("grids").at[0, "level"] is pd.NA


def test_chinese_text_and_awkward_characters_round_trip(
    tmp_store: GeoPackageStore, canonical: Frames
) -> None:
    frame = canonical("villages")
    frame["name"] = ["华容县章华镇", 'O\'Neil 社区 "引号"', "换行\n村", "表情😀村"]
    tmp_store.write({"villages": frame})
    assert tmp_store.read("villages")["name"].tolist() == frame["name"].tolist()


def test_multipolygons_with_holes_round_trip(tmp_store: GeoPackageStore) -> None:
    holed = Polygon(
        [(112.55, 29.30), (112.70, 29.30), (112.70, 29.70), (112.55, 29.70)],
        holes=[
            [(112.60, 29.40), (112.65, 29.40), (112.65, 29.45), (112.60, 29.45)],
            [(112.60, 29.50), (112.61, 29.51), (112.60, 29.52)],
        ],
    )
    island = box(112.75, 29.35, 112.80, 29.40)
    frame = get_layer("townships").validate(
        gpd.GeoDataFrame(
            {"code": ["430623901", "430623902"], "name": ["一镇", "二镇"]},
            geometry=[MultiPolygon([holed, island]), box(112.40, 29.30, 112.55, 29.70)],
            crs="EPSG:4326",
        )
    )
    tmp_store.write({"townships": frame})
    got = tmp_store.read("townships")
    assert_same(frame, got)
    first = got.geometry.iloc[0]
    assert len(first.geoms) == 2 and len(first.geoms[0].interiors) == 2
    assert shapely.equals_exact(first, MultiPolygon([holed, island]), tolerance=0)


def test_times_keep_their_seconds(tmp_store: GeoPackageStore, canonical: Frames) -> None:
    frame = canonical("incidents")
    frame.loc[0, "reported_at"] = pd.Timestamp("2024-03-01 09:30:17")
    tmp_store.write({"incidents": frame})
    assert tmp_store.read("incidents").at[0, "reported_at"] == pd.Timestamp("2024-03-01 09:30:17")


# --- queries -----------------------------------------------------------------------------------


BBOX = (112.46, 29.55, 112.60, 29.65)  # no edge on the fixture lattice


@pytest.mark.parametrize("name", ["grids", "villages", "households", "service_points"])
def test_bbox_query_returns_exactly_what_intersects(
    name: str, filled_store: GeoPackageStore, canonical: Frames
) -> None:
    frame = canonical(name)
    expected = frame[frame.geometry.intersects(box(*BBOX))]
    assert 0 < len(expected) < len(frame), "the box must split the layer to mean anything"
    got = filled_store.read(name, bbox=BBOX)
    key = LAYERS[name].key[0]
    assert sorted(got[key]) == sorted(expected[key])
    assert_same(
        expected.sort_values(key).reset_index(drop=True),
        got.sort_values(key).reset_index(drop=True),
    )


def test_bbox_query_uses_the_shape_not_its_envelope(tmp_store: GeoPackageStore) -> None:
    triangle = Polygon([(112.40, 29.30), (112.70, 29.30), (112.40, 29.60)])
    ell = Polygon(
        [(112.70, 29.30), (112.85, 29.30), (112.85, 29.40), (112.75, 29.40), (112.75, 29.70),
         (112.70, 29.70)]
    )  # fmt: skip
    plain = box(112.56, 29.55, 112.69, 29.69)
    frame = get_layer("townships").validate(
        gpd.GeoDataFrame(
            {"code": ["430623901", "430623902", "430623903"], "name": ["三角", "L形", "方"]},
            geometry=[triangle, ell, plain],
            crs="EPSG:4326",
        )
    )
    tmp_store.write({"townships": frame})
    query = (112.62, 29.50, 112.74, 29.68)  # inside the envelopes of all three
    assert all(box(*g.bounds).intersects(box(*query)) for g in frame.geometry)
    expected = frame[frame.geometry.intersects(box(*query))]["code"].tolist()
    assert expected == ["430623902", "430623903"]  # not the triangle
    assert sorted(tmp_store.read("townships", bbox=query)["code"]) == expected


def test_bbox_outside_everything_is_empty(filled_store: GeoPackageStore) -> None:
    got = filled_store.read("households", bbox=(100.0, 20.0, 100.1, 20.1))
    assert len(got) == 0
    assert list(got.columns) == [*LAYERS["households"].columns, "geometry"]


@pytest.mark.parametrize(
    ("name", "where"),
    [
        ("villages", {"kind": "village"}),
        ("villages", {"kind": "community"}),
        ("villages", {"kind": ["community", "town"]}),
        ("villages", {"credit_village": True}),
        ("grids", {"level": 3}),
        ("grids", {"level": [1, 2]}),
        ("grids", {"parent_code": None}),
        ("grids", {"level": 2, "responsible_name": None}),
        ("households", {"backbone_id": "H001"}),
        ("households", {"backbone": True}),
        ("households", {"credit_rating": ("AAA", "AA")}),
        ("households", {"credit_rating": None}),
        ("leader_townships", {"leader_id": "L01"}),
        ("first_secretaries", {"start_on": "2023-05-01"}),
        ("incidents", {"reported_at": "2024-05-12 14:05:00"}),
        ("incidents", {"reported_at": [pd.Timestamp("2024-05-12 14:05"), "2024-03-01T09:30"]}),
        ("grids", {"valid_to": None}),
    ],
)
def test_attribute_query(
    name: str, where: dict[str, object], filled_store: GeoPackageStore, canonical: Frames
) -> None:
    frame = canonical(name)
    mask = pd.Series(True, index=frame.index)
    for column, value in where.items():
        if value is None:
            mask &= frame[column].isna()
        elif isinstance(value, list | tuple):
            wanted = [pd.Timestamp(v) for v in value] if column == "reported_at" else list(value)
            mask &= frame[column].isin(wanted).fillna(False).astype(bool)
        else:
            mask &= (frame[column] == value).fillna(False).astype(bool)
    expected = frame[mask].reset_index(drop=True)
    assert 0 < len(expected) < len(frame), "the query must split the layer to mean anything"
    got = filled_store.read(name, where=where)
    assert_same(expected, got)
    assert filled_store.count(name, where=where) == len(expected)


def test_dates_written_by_other_tools_are_found(filled_store: GeoPackageStore) -> None:
    """Other tools (QGIS, sqlite3) may write times without milliseconds, or with a Z."""
    with sqlite3.connect(filled_store.path) as db:
        # the GeoPackage's R-tree triggers name these functions (GDAL and QGIS provide them);
        # they only run when a geometry or fid changes, which does not happen here
        for function in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            db.create_function(function, 1, lambda geom: None)
        db.execute("UPDATE first_secretaries SET start_on = '2023-05-01T00:00:00'")
        db.execute("UPDATE incidents SET reported_at = '2024-05-12T14:05:00Z' WHERE id = 'E002'")
    assert filled_store.count("first_secretaries", where={"start_on": "2023-05-01"}) > 1
    found = filled_store.read("incidents", where={"reported_at": "2024-05-12 14:05:00"})
    assert found["id"].tolist() == ["E002"]


def test_empty_list_matches_nothing(filled_store: GeoPackageStore) -> None:
    assert len(filled_store.read("villages", where={"kind": []})) == 0


def test_quotes_in_values_are_safe(tmp_store: GeoPackageStore, canonical: Frames) -> None:
    frame = canonical("villages")
    frame.loc[1, "name"] = "O'Neil 社区"
    tmp_store.write({"villages": frame})
    got = tmp_store.read("villages", where={"name": "O'Neil 社区"})
    assert got["code"].tolist() == [frame.at[1, "code"]]
    assert len(tmp_store.read("villages", where={"name": "x' OR '1'='1"})) == 0
    assert len(tmp_store.read("villages", where={"name": ["x') OR ('1'='1", "O'Neil 社区"]})) == 1
    assert tmp_store.count("villages") == len(frame), "the table is still there"


def test_query_on_an_undeclared_column_is_refused(filled_store: GeoPackageStore) -> None:
    with pytest.raises(StoreError, match="1=1 OR name"):
        filled_store.read("villages", where={"1=1 OR name": "x"})


def test_read_selected_columns(filled_store: GeoPackageStore, canonical: Frames) -> None:
    got = filled_store.read("households", columns=["id", "backbone"])
    assert list(got.columns) == ["id", "backbone", "geometry"]
    assert got["id"].tolist() == canonical("households")["id"].tolist()


# --- write modes and metadata ------------------------------------------------------------------


def test_replace_swaps_the_content(filled_store: GeoPackageStore, canonical: Frames) -> None:
    fewer = canonical("households").iloc[:3].reset_index(drop=True)
    filled_store.write({"households": fewer}, mode="replace")
    assert_same(fewer, filled_store.read("households"))
    assert_same(canonical("grids"), filled_store.read("grids"))  # other layers untouched


def test_append_adds_rows(filled_store: GeoPackageStore, canonical: Frames) -> None:
    more = canonical("households").iloc[:2].copy()
    more["id"] = ["N001", "N002"]
    more["backbone_id"] = None
    filled_store.write({"households": more}, mode="append")
    got = filled_store.read("households")
    expected: Any = pd.concat([canonical("households"), more], ignore_index=True)
    assert_same(expected, got)


def test_append_to_an_absent_layer_creates_it(
    tmp_store: GeoPackageStore, canonical: Frames
) -> None:
    tmp_store.write({"incidents": canonical("incidents")}, mode="append")
    assert_same(canonical("incidents"), tmp_store.read("incidents"))


def test_unknown_mode_is_refused(tmp_store: GeoPackageStore, canonical: Frames) -> None:
    with pytest.raises(StoreError):
        tmp_store.write({"townships": canonical("townships")}, mode="merge")  # type: ignore[arg-type]
    assert not tmp_store.path.exists()


def test_meta_round_trips(filled_store: GeoPackageStore) -> None:
    assert filled_store.get_meta("county") == "测试县"
    value = {"seed": 7, "defects": [{"kind": "gap", "grids": ["430623901001001001"]}], "ok": True}
    filled_store.write({}, meta={"manifest": value, "county": "另一县"})
    assert filled_store.get_meta("manifest") == value
    assert filled_store.get_meta("county") == "另一县"
    assert filled_store.get_meta("built") == "2024-01-01", "other keys are kept"
    assert filled_store.get_meta("absent") is None
    assert "gisgrid_meta" not in filled_store.layer_names()


def test_meta_of_a_store_without_meta(tmp_store: GeoPackageStore, canonical: Frames) -> None:
    assert tmp_store.get_meta("county") is None
    tmp_store.write({"townships": canonical("townships")})
    assert tmp_store.get_meta("county") is None


def test_missing_layer_reads_as_empty(tmp_store: GeoPackageStore, canonical: Frames) -> None:
    for name in ("grids", "county_leaders"):
        assert_same(LAYERS[name].empty(), tmp_store.read(name))
        assert tmp_store.count(name) == 0
    assert tmp_store.layer_names() == []
    tmp_store.write({"townships": canonical("townships")})
    got = tmp_store.read("grids")
    assert_same(LAYERS["grids"].empty(), got)
    assert tmp_store.count("grids") == 0
    assert tmp_store.layer_names() == ["townships"]


def test_file_is_a_plain_geopackage(filled_store: GeoPackageStore, canonical: Frames) -> None:
    listed = {str(name): gtype for name, gtype in pyogrio.list_layers(filled_store.path)}
    for name, decl in LAYERS.items():
        assert name in listed
        info = pyogrio.read_info(filled_store.path, layer=name)
        assert info["driver"] == "GPKG"
        assert info["features"] == len(canonical(name))
        assert set(decl.columns) <= set(info["fields"])
        if decl.spatial:
            assert info["geometry_type"] == decl.geometry_type
            assert info["crs"] == "EPSG:4326"
        else:
            assert info["geometry_type"] is None
    with open(filled_store.path, "rb") as fh:
        header = fh.read(100)
    assert header.startswith(b"SQLite format 3\x00")
    assert header[68:72] == b"GPKG"  # the GeoPackage application id


def test_debians_own_gdal_opens_the_store(filled_store: GeoPackageStore, canonical: Frames) -> None:
    """An older GDAL than pyogrio's (Debian's ogrinfo, as QGIS on a county PC would have)
    reads every layer without a warning, with the counts written."""
    ogrinfo = shutil.which("ogrinfo")
    if ogrinfo is None:
        pytest.skip("Debian's gdal-bin is not installed (./run test installs it)")
    found = subprocess.run(
        [ogrinfo, "-ro", "-so", "-al", str(filled_store.path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    assert "Warning" not in found.stderr and "ERROR" not in found.stderr, found.stderr
    counts = dict(
        re.findall(r"^Layer name: (\w+)$.*?^Feature Count: (\d+)$", found.stdout, re.M | re.S)
    )
    assert counts == {name: str(len(canonical(name))) for name in LAYERS}
    assert found.stdout.count('EPSG",4326') >= sum(d.spatial for d in LAYERS.values())


def test_open_store_picks_the_geopackage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(str(tmp_path / "a.gpkg"))
    assert isinstance(store, GeoPackageStore)
    monkeypatch.setenv("GISGRID_STORE", str(tmp_path / "b.gpkg"))
    assert open_store().url == str(tmp_path / "b.gpkg")
    with pytest.raises(ConfigError, match=r"\.gpkg"):
        open_store(str(tmp_path / "a.sqlite"))
    with pytest.raises(ConfigError, match="unknown store URL"):
        open_store("mysql://localhost/x")


def test_a_folder_is_not_a_store(tmp_path: Path) -> None:
    folder = tmp_path / "dir.gpkg"
    folder.mkdir()
    with pytest.raises(StoreError):
        GeoPackageStore(folder)


def test_a_broken_file_is_a_store_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(StoreError):
        GeoPackageStore(broken).read("townships")
    with pytest.raises(StoreError):
        GeoPackageStore(broken).init()  # init checks an existing file


def test_init_has_nothing_to_migrate(tmp_path: Path, filled_store: GeoPackageStore) -> None:
    fresh = GeoPackageStore(tmp_path / "new" / "county.gpkg")
    assert isinstance(fresh, Store)
    assert fresh.init() == InitResult(versioned=False, before=0, after=0, applied=())
    assert not fresh.path.exists(), "the file is made on first write, not by init"
    before = sha256(filled_store.path)
    assert filled_store.init().applied == ()
    assert sha256(filled_store.path) == before


# --- transactions ------------------------------------------------------------------------------


def households_geojson(path: Path, n: int, bad: int) -> Path:
    """A real GeoJSON file of ``n`` new households; feature number ``bad`` (1-based) is bad."""
    rng = np.random.default_rng(1)
    lon = rng.uniform(112.41, 112.54, n)
    lat = rng.uniform(29.51, 29.69, n)
    features = []
    for i in range(n):
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "id": f"N{i + 1:05d}",
                    "head_name": f"测试户主{i + 1}",
                    "village_code": "430623901001" if i + 1 != bad else "43062390100X",
                    "members": int(i % 6 + 1),
                    "elderly": 0,
                    "party_member": bool(i % 7 == 0),
                },
                "geometry": {"type": "Point", "coordinates": [float(lon[i]), float(lat[i])]},
            }
        )
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def test_import_with_a_bad_1000th_feature_changes_nothing(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    path = households_geojson(tmp_path / "households.geojson", 1500, bad=1000)
    before = sha256(filled_store.path)
    households_before = filled_store.read("households")
    with pytest.raises(ValidationError) as exc:
        import_file(filled_store, "households", path)
    assert [p.index for p in exc.value.problems] == [999]
    assert "feature #1000 (N01000) field 'village_code'" in str(exc.value)
    assert sha256(filled_store.path) == before
    assert_same(households_before, filled_store.read("households"))
    assert leftovers(filled_store) == []
    # and the same file without the bad feature goes in, all 1,500 of them
    good = households_geojson(tmp_path / "good.geojson", 1500, bad=0)
    import_file(filled_store, "households", good)
    assert filled_store.count("households") == len(households_before) + 1500


def test_failure_in_the_middle_of_a_write_changes_nothing(
    filled_store: GeoPackageStore, canonical: Frames
) -> None:
    before = sha256(filled_store.path)
    townships = canonical("townships").iloc[:1].reset_index(drop=True)
    villages = canonical("villages")
    # a lone surrogate (what undecodable bytes become) cannot be encoded as UTF-8:
    # the townships are written into the copy, then writing the villages raises
    villages.loc[2, "name"] = "坏\udcff名"
    with pytest.raises(StoreError, match="nothing was changed"):
        filled_store.write({"townships": townships, "villages": villages}, meta={"county": "x"})
    assert sha256(filled_store.path) == before
    assert leftovers(filled_store) == []
    assert_same(canonical("townships"), filled_store.read("townships"))
    assert filled_store.get_meta("county") == "测试县"
    # the first frame alone was fine: the failure really came in the middle
    filled_store.write({"townships": townships})
    assert filled_store.count("townships") == 1


def test_failed_first_write_leaves_no_file(tmp_store: GeoPackageStore, canonical: Frames) -> None:
    villages = canonical("villages")
    villages.loc[0, "name"] = "\ud800"
    with pytest.raises(StoreError):
        tmp_store.write({"townships": canonical("townships"), "villages": villages})
    assert not tmp_store.path.exists()
    assert leftovers(tmp_store) == []


def _never_called(grids: gpd.GeoDataFrame, points: Any) -> dict[str, np.ndarray]:
    raise AssertionError("the decision ran without the writer lock")


HOLD_LOCK = """
import sys
from gisgrid.stores.geopackage import GeoPackageStore
with GeoPackageStore(sys.argv[1])._writer_lock():
    print("locked", flush=True)
    sys.stdin.read()  # hold the lock until the test closes our stdin
"""


def test_a_second_writer_gets_a_store_error(
    filled_store: GeoPackageStore, canonical: Frames
) -> None:
    before = sha256(filled_store.path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(filled_store.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(StoreError, match="another gisgrid process is writing"):
            filled_store.write({"townships": canonical("townships").iloc[:1]})
        with pytest.raises(StoreError, match="another gisgrid process is writing"):
            filled_store.assign_grid_codes(_never_called)  # refused before it reads anything
        assert sha256(filled_store.path) == before
        assert filled_store.count("townships") == 3, "readers do not wait for the writer"
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait()
        holder.stdout.close()
    assert holder.returncode == 0
    filled_store.write({"townships": canonical("townships").iloc[:1]})
    assert filled_store.count("townships") == 1


# --- writers: decided under the lock, durable, nothing left behind -------------------------------


def test_an_append_of_a_stored_key_is_refused_under_the_lock(
    filled_store: GeoPackageStore, canonical: Frames
) -> None:
    before = sha256(filled_store.path)
    again = canonical("households").iloc[[1, 0]]  # H002, H001: both stored
    with pytest.raises(
        StoreConstraintError, match=r"households: 2 key\(s\) already .*: H001, H002"
    ):
        filled_store.write({"households": again}, mode="append")
    twice = pd.concat([canonical("incidents").iloc[:1]] * 2, ignore_index=True)
    twice["id"] = "E999"
    with pytest.raises(StoreConstraintError, match=r"incidents: 1 key.*E999"):
        filled_store.write({"incidents": twice}, mode="append")
    assert sha256(filled_store.path) == before
    assert leftovers(filled_store) == []


def test_a_check_runs_under_the_lock_and_can_refuse(
    filled_store: GeoPackageStore, canonical: Frames
) -> None:
    seen: list[int] = []

    def check(current: Store) -> None:
        with pytest.raises(StoreError, match="another gisgrid process is writing"):
            GeoPackageStore(filled_store.path).write({"townships": canonical("townships")})
        seen.append(current.count("households"))
        raise ValidationError("households", [])

    with pytest.raises(ValidationError):
        filled_store.write({"households": canonical("households").iloc[:1]}, check=check)
    assert seen == [9]
    assert filled_store.count("households") == 9


def test_an_import_rechecks_keys_another_writer_stored_meanwhile(
    filled_store: GeoPackageStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gisgrid.exchange.imports as exchange

    path = households_geojson(tmp_path / "new.geojson", 2, bad=0)
    real = exchange.store_problems
    calls: list[int] = []

    def racing(store: Store, *args: Any, **kwargs: Any) -> Any:
        found = real(store, *args, **kwargs)
        if store is filled_store:
            calls.append(len(found[0]))
            if len(calls) == 1:  # the early check passed: another writer stores N00002 now
                import_file(GeoPackageStore(filled_store.path), "households", _one_of(path, 1))
        return found

    monkeypatch.setattr(exchange, "store_problems", racing)
    with pytest.raises(ValidationError, match=r"\(N00002\) field 'id': already in the store"):
        import_file(filled_store, "households", path)
    assert calls == [0, 1]
    ids = filled_store.read("households")["id"].tolist()
    assert ids.count("N00002") == 1 and "N00001" not in ids


def _one_of(path: Path, index: int) -> Path:
    """A copy of the GeoJSON ``path`` holding only its feature ``index`` (0-based)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["features"] = [doc["features"][index]]
    out = path.with_name(f"one-{index}.geojson")
    out.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return out


def _plant_leftovers(store: GeoPackageStore, pid: int = 999_999) -> list[str]:
    names = [f".{store.path.stem}.{pid}.tmp.gpkg", f".{store.path.stem}.{pid}.tmp.gpkg-journal"]
    for name in names:
        shutil.copyfile(store.path, store.path.with_name(name))  # a full copy, as a killed write
    return sorted(names)


def test_opening_the_store_removes_what_a_killed_writer_left(
    filled_store: GeoPackageStore,
) -> None:
    planted = _plant_leftovers(filled_store)
    other = filled_store.path.with_name(".other.1.tmp.gpkg")  # another store's: not ours
    other.write_bytes(b"x")
    assert leftovers(filled_store) == sorted([*planted, other.name])
    GeoPackageStore(filled_store.path)
    assert leftovers(filled_store) == [other.name]


def test_a_write_removes_what_a_killed_writer_left(
    filled_store: GeoPackageStore, canonical: Frames
) -> None:
    _plant_leftovers(filled_store)
    filled_store.write({"townships": canonical("townships")})
    assert leftovers(filled_store) == []


def test_a_live_writers_copy_is_never_removed(filled_store: GeoPackageStore) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(filled_store.path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        planted = _plant_leftovers(filled_store, pid=holder.pid)
        GeoPackageStore(filled_store.path)  # the lock is held: its copy may be in use
        assert leftovers(filled_store) == planted
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait()
        holder.stdout.close()
    GeoPackageStore(filled_store.path)
    assert leftovers(filled_store) == []


def test_the_new_file_is_on_disk_before_and_after_it_takes_the_name(
    filled_store: GeoPackageStore, canonical: Frames, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gisgrid.stores.geopackage as geopackage

    steps: list[str] = []
    real_fsync, real_replace = geopackage._fsync, os.replace

    def fsync(path: Path) -> None:
        steps.append("fsync " + ("folder" if path.is_dir() else path.name))
        real_fsync(path)

    def replace(src: Any, dst: Any) -> None:
        steps.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(geopackage, "_fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    filled_store.write({"townships": canonical("townships")})
    tmp = f".{filled_store.path.stem}.{os.getpid()}.tmp.gpkg"
    assert steps == [f"fsync {tmp}", "replace", "fsync folder"]
