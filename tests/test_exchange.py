"""Import and export of exchange files (GeoJSON, GeoPackage) through the library."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely
from conftest import assert_same, sha256
from shapely.geometry import box

from gisgrid import crs as crsmod
from gisgrid.errors import ConfigError, InputFileError, UnknownLayerError, ValidationError
from gisgrid.exchange import export_layer, import_file, read_exchange_file
from gisgrid.layers import LAYERS
from gisgrid.stores.geopackage import GeoPackageStore

Frames = Callable[[str], Any]  # DataFrame, GeoDataFrame for spatial layers
WriteInput = Callable[..., Path]
FORMATS = [".geojson", ".gpkg"]


def feature_collection(path: Path, features: list[dict[str, Any]]) -> Path:
    """A GeoJSON file written by hand: exactly the JSON a planner's tool might produce."""
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def polygon(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


# --- import and export of every layer ----------------------------------------------------------


#: layers whose rows must refer to stored ones (refused otherwise, on both stores)
NEEDS = {
    "case_steps": "incidents",
    "public_reports": "incidents",
    "visits": "households",
    "volunteer_hours": "volunteer_activities",
}


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("name", list(LAYERS))
def test_import_every_layer(
    name: str, suffix: str, tmp_store: GeoPackageStore, write_input: WriteInput, canonical: Frames
) -> None:
    path = write_input(name, suffix)
    if name in NEEDS:
        tmp_store.write({NEEDS[name]: canonical(NEEDS[name])})
    # the little county draws level-2 grids in its first village only: to the boundary
    # checks the other villages are gaps (refusals are tests/test_import_checks.py's)
    result = import_file(tmp_store, name, path, allow_findings=True)
    assert result.features == len(canonical(name))
    assert result.layer == name and result.mode == "append"
    assert_same(canonical(name), tmp_store.read(name))


@pytest.mark.parametrize("suffix", FORMATS)
@pytest.mark.parametrize("name", list(LAYERS))
def test_export_and_reimport_every_layer(
    name: str, suffix: str, filled_store: GeoPackageStore, tmp_path: Path, canonical: Frames
) -> None:
    out = tmp_path / "exported" / f"{name}{suffix}"
    assert export_layer(filled_store, name, out) == len(canonical(name))
    assert [p.name for p in out.parent.iterdir()] == [out.name], "no partial file left"
    fresh = GeoPackageStore(tmp_path / "fresh.gpkg")
    if name in NEEDS:
        fresh.write({NEEDS[name]: canonical(NEEDS[name])})
    # the little county draws level-2 grids in its first village only: to the boundary
    # checks the other villages are gaps (refusals are tests/test_import_checks.py's)
    import_file(fresh, name, out, allow_findings=True)
    assert_same(canonical(name), fresh.read(name))


def test_exported_geojson_is_plain_rfc7946(filled_store: GeoPackageStore, tmp_path: Path) -> None:
    out = tmp_path / "grids.geojson"
    export_layer(filled_store, "grids", out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    assert doc.get("name") == "grids"
    first = doc["features"][0]
    assert first["geometry"]["type"] == "MultiPolygon"
    lon, lat = first["geometry"]["coordinates"][0][0][0]
    assert 112.3 < lon < 112.9 and 29.2 < lat < 29.8, "lon, lat order"
    assert first["properties"]["name"] == "测试一村一级网格", "UTF-8 text, not escapes"


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("grids", "valid_from"),
        ("first_secretaries", "start_on"),
        ("volunteer_activities", "held_on"),
    ],
)
def test_exported_geojson_has_plain_dates(
    name: str, column: str, filled_store: GeoPackageStore, tmp_path: Path, canonical: Frames
) -> None:
    out = tmp_path / f"{name}.geojson"
    export_layer(filled_store, name, out)
    doc = json.loads(out.read_text(encoding="utf-8"))
    values = [f["properties"][column] for f in doc["features"]]
    expected = [None if pd.isna(v) else v.strftime("%Y-%m-%d") for v in canonical(name)[column]]
    assert values == expected
    assert all(v is None or (len(v) == 10 and v[4] == "-" and v[7] == "-") for v in values)


def test_exported_geopackage_keeps_layer_name_and_crs(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    out = tmp_path / "hh.gpkg"
    export_layer(filled_store, "households", out)
    info = pyogrio.read_info(out, layer="households")
    assert info["crs"] == "EPSG:4326" and info["geometry_type"] == "Point"


def test_export_of_an_absent_layer_writes_an_empty_file(
    tmp_store: GeoPackageStore, tmp_path: Path
) -> None:
    out = tmp_path / "none.geojson"
    assert export_layer(tmp_store, "incidents", out) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["features"] == []


def test_export_to_an_unknown_file_type_is_refused(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    # an output format gisgrid does not write is a bad option (exit 2), not an unreadable input
    with pytest.raises(ConfigError, match="unknown file type"):
        export_layer(filled_store, "grids", tmp_path / "grids.dwg")
    # a bare .shp is not one file: the zip of its parts is asked for
    with pytest.raises(ConfigError, match=r"\.zip"):
        export_layer(filled_store, "grids", tmp_path / "grids.shp")
    assert list(tmp_path.glob("grids*")) == []


# --- what planners' files look like ------------------------------------------------------------


def test_hand_written_geojson_with_numbers_and_booleans(
    tmp_store: GeoPackageStore, tmp_path: Path
) -> None:
    props = [
        # codes typed as numbers, a JSON true, a null and a Chinese 是
        {"code": 430623901001, "name": "一村", "township_code": 430623901, "kind": "village",
         "credit_village": True},
        {"code": 430623901002, "name": "二村", "township_code": 430623901, "kind": "village",
         "credit_village": None},
        {"code": "430623901003", "name": "三村", "township_code": "430623901", "kind": "community",
         "credit_village": True},
    ]  # fmt: skip
    path = feature_collection(
        tmp_path / "villages.geojson",
        [
            {"type": "Feature", "properties": p, "geometry": polygon(112.40, 29.3 + i * 0.1,
                                                                     112.55, 29.4 + i * 0.1)}
            for i, p in enumerate(props)
        ],
    )  # fmt: skip
    import_file(tmp_store, "villages", path)
    got = tmp_store.read("villages")
    assert got["code"].tolist() == ["430623901001", "430623901002", "430623901003"]
    assert got["township_code"].tolist() == ["430623901"] * 3
    assert got["credit_village"].tolist() == [True, False, True]


def test_mixed_local_and_offset_times_in_a_file(tmp_store: GeoPackageStore, tmp_path: Path) -> None:
    times = ["2024-03-01T09:30:00", "2024-03-01T01:30:00Z", "2024-03-01T09:30:00+08:00"]
    path = feature_collection(
        tmp_path / "incidents.geojson",
        [
            {
                "type": "Feature",
                "properties": {"id": f"E{i}", "kind": "dispute", "reported_at": t,
                               "status": "registered"},
                "geometry": {"type": "Point", "coordinates": [112.45 + i / 100, 29.62]},
            }
            for i, t in enumerate(times)
        ],
    )  # fmt: skip
    import_file(tmp_store, "incidents", path)
    got = tmp_store.read("incidents")["reported_at"].tolist()
    assert got == [pd.Timestamp("2024-03-01 09:30:00")] * 3


def test_geopackage_with_several_layers(
    tmp_store: GeoPackageStore, tmp_path: Path, input_frames: Frames, canonical: Frames
) -> None:
    path = tmp_path / "project.gpkg"
    pyogrio.write_dataframe(input_frames("villages"), path, layer="村界", driver="GPKG")
    pyogrio.write_dataframe(input_frames("townships"), path, layer="乡镇界", driver="GPKG")
    with pytest.raises(InputFileError, match="several layers"):
        import_file(tmp_store, "villages", path)
    with pytest.raises(InputFileError, match="has no layer 'villages'"):
        import_file(tmp_store, "villages", path, source_layer="villages")
    import_file(tmp_store, "villages", path, source_layer="村界")
    assert_same(canonical("villages"), tmp_store.read("villages"))
    # a layer named like the gisgrid layer is found without being named
    pyogrio.write_dataframe(input_frames("townships"), path, layer="townships", driver="GPKG")
    import_file(tmp_store, "townships", path)
    assert_same(canonical("townships"), tmp_store.read("townships"))


def test_attribute_table_from_a_geopackage(
    tmp_store: GeoPackageStore, tmp_path: Path, input_frames: Frames, canonical: Frames
) -> None:
    path = tmp_path / "leaders.gpkg"
    pyogrio.write_dataframe(input_frames("county_leaders"), path, layer="leaders", driver="GPKG")
    import_file(tmp_store, "county_leaders", path)
    assert_same(canonical("county_leaders"), tmp_store.read("county_leaders"))


# --- coordinates -------------------------------------------------------------------------------


def test_gcj02_file_lands_in_the_right_place(
    tmp_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames
) -> None:
    frame = input_frames("households")
    wgs = shapely.get_coordinates(frame.geometry)
    gcj_lon, gcj_lat = crsmod.wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    frame.geometry = gpd.GeoSeries(shapely.points(gcj_lon, gcj_lat), crs="EPSG:4326")
    path = write_input("households", ".geojson", frame=frame, name="amap")
    result = import_file(tmp_store, "households", path, crs="gcj02")
    assert result.source_crs == "gcj02"
    got = shapely.get_coordinates(tmp_store.read("households").geometry)
    expected = np.column_stack(crsmod.gcj02_to_wgs84(gcj_lon, gcj_lat))
    assert np.allclose(got, expected, rtol=0, atol=1e-9)
    assert np.allclose(got, wgs, rtol=0, atol=1e-5)  # back where they really are


def test_gcj02_file_imported_as_wgs84_is_hundreds_of_metres_off(
    tmp_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames
) -> None:
    frame = input_frames("households")
    wgs = shapely.get_coordinates(frame.geometry)
    gcj = np.column_stack(crsmod.wgs84_to_gcj02(wgs[:, 0], wgs[:, 1]))
    frame.geometry = gpd.GeoSeries(shapely.points(gcj), crs="EPSG:4326")
    import_file(tmp_store, "households", write_input("households", frame=frame))
    got = shapely.get_coordinates(tmp_store.read("households").geometry)
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    ax, ay = to_utm.transform(got[:, 0], got[:, 1])
    bx, by = to_utm.transform(wgs[:, 0], wgs[:, 1])
    assert (np.hypot(ax - bx, ay - by) > 300).all()


def test_cgcs2000_file_is_taken_as_is(
    tmp_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames, canonical: Frames
) -> None:
    frame = input_frames("villages").set_crs("EPSG:4490", allow_override=True)
    path = write_input("villages", ".gpkg", frame=frame)
    assert pyogrio.read_info(path, layer="villages")["crs"] == "EPSG:4490"
    result = import_file(tmp_store, "villages", path)
    assert result.source_crs is not None and "4490" in result.source_crs
    assert_same(canonical("villages"), tmp_store.read("villages"))


def test_projected_file_is_reprojected(
    tmp_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames
) -> None:
    frame = input_frames("grids")
    original = shapely.get_coordinates(frame.geometry)
    path = write_input("grids", ".gpkg", frame=frame.to_crs("EPSG:32649"))
    # the little county draws level-2 grids in its first village only: to the boundary
    # checks the other villages are gaps (refusals are tests/test_import_checks.py's)
    import_file(tmp_store, "grids", path, allow_findings=True)
    got = tmp_store.read("grids")
    assert np.allclose(shapely.get_coordinates(got.geometry), original, rtol=0, atol=1e-7)


def test_file_without_crs_needs_crs(
    tmp_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames, canonical: Frames
) -> None:
    frame = input_frames("service_points").set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        path = write_input("service_points", ".gpkg", frame=frame)
    assert pyogrio.read_info(path, layer="service_points")["crs"] is None
    with pytest.raises(ValidationError, match="give one with --crs"):
        import_file(tmp_store, "service_points", path)
    assert not tmp_store.path.exists()
    import_file(tmp_store, "service_points", path, crs="EPSG:4326")
    assert_same(canonical("service_points"), tmp_store.read("service_points"))


# --- append, replace and keys ------------------------------------------------------------------


def test_append_with_a_key_already_in_the_store_is_refused(
    filled_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames
) -> None:
    frame = input_frames("households").iloc[[6, 2]].reset_index(drop=True)  # H007, H003
    frame.loc[0, "id"] = "N001"
    frame.loc[1, "backbone_id"] = "H001"
    before = sha256(filled_store.path)
    path = write_input("households", frame=frame, name="more")
    with pytest.raises(ValidationError) as exc:
        import_file(filled_store, "households", path)
    assert [(p.index, p.feature, p.field) for p in exc.value.problems] == [(1, "H003", "id")]
    assert "already in the store" in str(exc.value)
    assert "feature #2 (H003)" in str(exc.value)
    assert sha256(filled_store.path) == before


def test_append_with_a_composite_key_already_in_the_store_is_refused(
    filled_store: GeoPackageStore, write_input: WriteInput
) -> None:
    frame = pd.DataFrame({"leader_id": ["L02", "L02"], "township_code": ["430623901", "430623903"]})
    path = write_input("leader_townships", ".gpkg", frame=frame)
    with pytest.raises(ValidationError) as exc:
        import_file(filled_store, "leader_townships", path)
    assert [(p.index, p.feature) for p in exc.value.problems] == [(1, "L02/430623903")]


def test_append_adds_new_features(
    filled_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames, canonical: Frames
) -> None:
    frame = input_frames("incidents").iloc[:1].copy()
    frame["id"] = ["E100"]
    import_file(filled_store, "incidents", write_input("incidents", frame=frame))
    got = filled_store.read("incidents")
    assert got["id"].tolist() == [*canonical("incidents")["id"], "E100"]


def test_append_may_link_to_a_backbone_already_in_the_store(
    filled_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames
) -> None:
    frame = input_frames("households").iloc[[1, 2]].reset_index(drop=True)
    frame["id"] = ["N001", "N002"]
    frame["backbone_id"] = ["H007", "H002"]  # H002 is in the store but not a backbone
    path = write_input("households", frame=frame, name="linked")
    with pytest.raises(ValidationError) as exc:
        import_file(filled_store, "households", path)
    assert [(p.index, p.feature, p.field) for p in exc.value.problems] == [
        (1, "N002", "backbone_id")
    ]
    frame["backbone_id"] = ["H007", "H001"]
    import_file(filled_store, "households", write_input("households", frame=frame, name="ok"))
    assert filled_store.count("households", where={"backbone_id": "H001"}) == 6


def test_replace_drops_links_to_replaced_backbones(
    filled_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames
) -> None:
    frame = input_frames("households").iloc[[1]].reset_index(drop=True)  # H002 → H001
    before = sha256(filled_store.path)
    with pytest.raises(ValidationError, match="'H001' is not a backbone household"):
        import_file(
            filled_store, "households", write_input("households", frame=frame), mode="replace"
        )
    assert sha256(filled_store.path) == before


def test_replace_swaps_the_layer(
    filled_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames, canonical: Frames
) -> None:
    frame = input_frames("townships").iloc[:2]
    result = import_file(
        filled_store, "townships", write_input("townships", ".gpkg", frame=frame), mode="replace"
    )
    assert result.mode == "replace" and result.features == 2
    assert filled_store.read("townships")["code"].tolist() == list(frame["code"])
    assert_same(canonical("villages"), filled_store.read("villages"))


def test_replace_may_reuse_keys(
    filled_store: GeoPackageStore, write_input: WriteInput, canonical: Frames
) -> None:
    import_file(filled_store, "grids", write_input("grids"), mode="replace")
    assert_same(canonical("grids"), filled_store.read("grids"))


# --- bad files: refused before anything is written ---------------------------------------------


BAD_CASES = [
    "missing_column",
    "no_crs",
    "bad_code",
    "invalid_geometry",
    "wrong_geometry_type",
    "outside_china",
    "swapped",
]


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_file_is_refused_and_nothing_changes(
    case: str, filled_store: GeoPackageStore, bad_input: Callable[[str], Any]
) -> None:
    layer, path, (index, key, field, words) = bad_input(case)
    before = sha256(filled_store.path)
    with pytest.raises(ValidationError) as exc:
        import_file(filled_store, layer, path, mode="replace")
    assert [(p.index, p.feature, p.field) for p in exc.value.problems] == [(index, key, field)]
    assert words in str(exc.value)
    if index is not None:
        assert f"feature #{index + 1} ({key}) field '{field}'" in str(exc.value)
    assert sha256(filled_store.path) == before


def test_unknown_layer(filled_store: GeoPackageStore, write_input: WriteInput) -> None:
    with pytest.raises(UnknownLayerError, match="unknown layer 'farms'"):
        import_file(filled_store, "farms", write_input("townships"))


def test_unreadable_file(filled_store: GeoPackageStore, tmp_path: Path) -> None:
    path = tmp_path / "garbage.geojson"
    path.write_bytes(bytes(range(256)) * 4)
    before = sha256(filled_store.path)
    with pytest.raises(InputFileError, match="not a readable"):
        import_file(filled_store, "townships", path)
    assert sha256(filled_store.path) == before


def test_truncated_geojson(filled_store: GeoPackageStore, write_input: WriteInput) -> None:
    path = write_input("townships")
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(InputFileError, match=str(path.name)):
        import_file(filled_store, "townships", path)


def test_unknown_extension(filled_store: GeoPackageStore, tmp_path: Path) -> None:
    path = tmp_path / "townships.txt"
    path.write_text("code,name\n430623901,一镇\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="unknown file type"):
        import_file(filled_store, "townships", path)


def test_file_not_found(filled_store: GeoPackageStore, tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="no such file"):
        import_file(filled_store, "townships", tmp_path / "nowhere.geojson")


def test_file_without_features(filled_store: GeoPackageStore, tmp_path: Path) -> None:
    path = feature_collection(tmp_path / "empty.geojson", [])
    with pytest.raises(InputFileError, match="no features"):
        import_file(filled_store, "townships", path)


def test_reading_does_not_validate(write_input: WriteInput, input_frames: Frames) -> None:
    frame = input_frames("townships")
    frame.loc[0, "code"] = "nonsense"
    raw = read_exchange_file(write_input("townships", frame=frame), layer="townships")
    assert raw["code"].tolist()[0] == "nonsense"
    assert isinstance(raw, gpd.GeoDataFrame)
    assert raw.geometry.iloc[1].equals(box(112.55, 29.30, 112.70, 29.70))
