"""Layer declarations and validation: coercion, canonical form, and every kind of bad input."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import pytest
import shapely
from shapely.geometry import LineString, MultiPoint, MultiPolygon, Point, Polygon, box

from gisgrid import crs as crsmod
from gisgrid.analysis import indicators
from gisgrid.errors import Problem, UnknownLayerError, ValidationError
from gisgrid.layers import LAYERS, get_layer, households, kinds
from gisgrid.layers.schema import CHINA_BOUNDS, PANDAS_DTYPES

Frames = Callable[[str], Any]  # DataFrame, GeoDataFrame for spatial layers

#: the columns the issue asks for, per layer (independent of the declarations)
ISSUE_COLUMNS = {
    "townships": {"code", "name"},
    "villages": {"code", "name", "township_code", "kind", "credit_village"},
    "grids": {
        "code", "level", "parent_code", "village_code", "name", "responsible_name",
        "responsible_phone", "responsible_role", "valid_from", "valid_to",
    },
    "households": {
        "id", "head_name", "house_number", "village_code", "members", "elderly", "party_member",
        "backbone", "backbone_id", "credit_rating", "grid_code",
    },
    "service_points": {"id", "kind", "name", "village_code", "watcher"},
    "incidents": {"id", "kind", "reported_at", "status", "description", "grid_code"},
}  # fmt: skip
ISSUE_GEOMETRY = {
    "townships": "MultiPolygon",
    "villages": "MultiPolygon",
    "grids": "MultiPolygon",
    "households": "Point",
    "service_points": "Point",
    "incidents": "Point",
}


def problems(exc: pytest.ExceptionInfo[ValidationError]) -> list[Problem]:
    return exc.value.problems


def find(
    exc: pytest.ExceptionInfo[ValidationError], index: int | None, field: str | None
) -> Problem:
    """The one problem reported for feature ``index`` and ``field``; fails if there is none."""
    found = [p for p in exc.value.problems if p.index == index and p.field == field]
    assert found, f"no problem for feature {index} field {field}: {exc.value.problems}"
    return found[0]


def only(exc: pytest.ExceptionInfo[ValidationError], index: int | None, field: str | None) -> str:
    """The message when the input had exactly one problem, at ``index`` / ``field``."""
    assert len(exc.value.problems) == 1, exc.value.problems
    return find(exc, index, field).message


# --- declarations ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LAYERS))
def test_declaration_is_consistent(name: str) -> None:
    layer = LAYERS[name]
    assert layer.name == name
    assert layer.label_zh and layer.description
    names = [f.name for f in layer.fields]
    assert len(names) == len(set(names)), "a column is declared twice"
    assert "geometry" not in names
    assert layer.key and set(layer.key) <= set(names), "the key must be declared columns"
    for k in layer.key:
        f = layer.field(k)
        assert f.required and not f.assigned, f"key column {k} must be required"
    assert layer.geometry_type in (None, "MultiPolygon", "Point")
    for f in layer.fields:
        assert f.type in PANDAS_DTYPES
        assert f.label_zh and f.description, f"{name}.{f.name} lacks a label or description"
        if f.pattern is not None:
            re.compile(f.pattern)
        if f.choices is not None:
            assert f.type == "str" and len(set(f.choices)) == len(f.choices)
        if f.minimum is not None or f.maximum is not None:
            assert f.type in ("int", "float")
        if f.minimum is not None and f.maximum is not None:
            assert f.minimum <= f.maximum
        if f.assigned:
            assert not f.required


@pytest.mark.parametrize("name", list(ISSUE_COLUMNS))
def test_declaration_has_the_columns_the_issue_asks_for(name: str) -> None:
    layer = LAYERS[name]
    assert ISSUE_COLUMNS[name] <= set(layer.columns)
    assert layer.geometry_type == ISSUE_GEOMETRY[name]


@pytest.mark.parametrize("name", list(LAYERS))
def test_empty_frame_has_declared_columns_and_dtypes(name: str) -> None:
    layer = LAYERS[name]
    empty = layer.empty()
    assert len(empty) == 0
    expected = layer.columns + (["geometry"] if layer.spatial else [])
    assert list(empty.columns) == expected
    for f in layer.fields:
        assert str(empty[f.name].dtype) == PANDAS_DTYPES[f.type]
    if layer.spatial:
        assert isinstance(empty, gpd.GeoDataFrame)
        assert empty.crs == "EPSG:4326"


def test_unknown_layer_names_the_known_ones() -> None:
    with pytest.raises(UnknownLayerError) as exc:
        get_layer("farms")
    assert "farms" in str(exc.value)
    assert "townships" in str(exc.value) and "households" in str(exc.value)


def test_fixture_county_covers_every_layer(input_frames: Frames) -> None:
    for name in LAYERS:
        assert len(input_frames(name)) > 0


def test_fixture_county_tiles_exactly(canonical: Frames) -> None:
    """The fixture's townships, villages and grids nest and tile: no gap, no overlap."""

    def tiles(parent: object, children: list[object]) -> bool:
        union = shapely.union_all(children)
        total = sum(shapely.area(c) for c in children)
        return bool(shapely.equals(union, parent)) and abs(total - shapely.area(parent)) < 1e-12

    townships = canonical("townships").set_index("code").geometry
    villages = canonical("villages")
    grids = canonical("grids")
    for code, geometry in townships.items():
        assert tiles(geometry, list(villages[villages["township_code"] == code].geometry))
    by_code = grids.set_index("code").geometry
    for _, village in villages.iterrows():
        assert by_code[village["code"]].equals(village.geometry), "level 1 = the village"
    parents = grids[grids["level"] < 3]
    for code in parents["code"]:
        children = list(grids[grids["parent_code"] == code].geometry)
        if children:
            assert tiles(by_code[code], children), code
    assert (grids["level"] == 3).sum() == 4


# --- valid input: canonical form ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(LAYERS))
def test_valid_input_becomes_canonical(name: str, input_frames: Frames) -> None:
    layer = LAYERS[name]
    raw = input_frames(name)
    raw.index = pd.Index(range(10, 10 + len(raw)))  # any index comes out as 0..n-1
    raw["not_declared"] = "dropped"
    out = layer.validate(raw)
    expected = layer.columns + (["geometry"] if layer.spatial else [])
    assert list(out.columns) == expected
    assert list(out.index) == list(range(len(raw)))
    for f in layer.fields:
        assert str(out[f.name].dtype) == PANDAS_DTYPES[f.type], f.name
    if layer.spatial:
        assert out.crs == "EPSG:4326"
        kinds = set(out.geometry.geom_type)
        assert kinds == {layer.geometry_type}


def test_values_are_kept(input_frames: Frames) -> None:
    out = get_layer("grids").validate(input_frames("grids"))
    row = out.set_index("code").loc["430623901001001001"]
    assert row["level"] == 3
    assert row["parent_code"] == "430623901001001"
    assert row["name"] == "第1村民小组"
    assert row["valid_from"] == pd.Timestamp("2024-03-01")
    assert pd.isna(row["valid_to"])
    level1 = out[out["level"] == 1]
    assert level1["parent_code"].isna().all()
    assert all(v is None for v in level1["parent_code"]), "missing text is None"


# --- coercion ----------------------------------------------------------------------------------


def villages(**columns: object) -> gpd.GeoDataFrame:
    """Two valid villages, with some columns replaced."""
    data: dict[str, object] = {
        "code": ["430623901001", "430623901002"],
        "name": ["测试一村", "测试社区"],
        "township_code": ["430623901", "430623901"],
        "kind": ["village", "community"],
    }
    data.update(columns)
    geoms = [box(112.40, 29.50, 112.55, 29.70), box(112.40, 29.30, 112.55, 29.50)]
    return gpd.GeoDataFrame(data, geometry=geoms, crs="EPSG:4326")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["true", "false"], [True, False]),
        (["TRUE", " False "], [True, False]),
        (["是", "否"], [True, False]),
        (["真", "假"], [True, False]),
        (["yes", "no"], [True, False]),
        (["1", "0"], [True, False]),
        ([1, 0], [True, False]),
        ([1.0, 0.0], [True, False]),
        ([1.0, np.nan], [True, False]),  # how GDAL reads JSON true/null
        ([True, False], [True, False]),
        ([None, "true"], [False, True]),  # the declared default fills a gap
        (["", "是"], [False, True]),
    ],
)
def test_booleans_are_coerced(given: list[object], expected: list[bool]) -> None:
    out = get_layer("villages").validate(villages(credit_village=given))
    assert out["credit_village"].tolist() == expected
    assert str(out["credit_village"].dtype) == "boolean"


def test_a_word_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("villages").validate(villages(credit_village=["maybe", "true"]))
    message = only(exc, 0, "credit_village")
    assert "'maybe'" in message and "true/false" in message


def test_absent_boolean_column_takes_its_default() -> None:
    out = get_layer("villages").validate(villages())
    assert out["credit_village"].tolist() == [False, False]


def test_codes_read_as_numbers_from_a_spreadsheet_become_text() -> None:
    frame = villages(code=[430623901001, 430623901002.0], township_code=[430623901.0, "430623901"])
    out = get_layer("villages").validate(frame)
    assert out["code"].tolist() == ["430623901001", "430623901002"]
    assert out["township_code"].tolist() == ["430623901", "430623901"]


def test_text_is_stripped() -> None:
    out = get_layer("villages").validate(villages(name=["  测试一村 ", "测试社区\t"]))
    assert out["name"].tolist() == ["测试一村", "测试社区"]


def household_frame(**columns: object) -> gpd.GeoDataFrame:
    """Two valid households, with some columns replaced."""
    data: dict[str, object] = {
        "id": ["H1", "H2"],
        "head_name": ["测试户主甲", "测试户主乙"],
        "village_code": ["430623901001", "430623901001"],
        "members": [3, 4],
        "elderly": [1, 0],
        "party_member": [True, False],
        "backbone": [True, False],
        "backbone_id": [None, "H1"],
    }
    data.update(columns)
    return gpd.GeoDataFrame(
        data, geometry=[Point(112.43, 29.65), Point(112.44, 29.66)], crs="EPSG:4326"
    )


def test_numbers_given_as_text_are_coerced() -> None:
    out = get_layer("households").validate(household_frame(members=["3", " 4 "], elderly=["1", 0]))
    assert out["members"].tolist() == [3, 4]
    assert out["elderly"].tolist() == [1, 0]
    assert str(out["members"].dtype) == "Int64"


def test_whole_floats_are_integers() -> None:
    out = get_layer("households").validate(household_frame(members=[3.0, "4.0"]))
    assert out["members"].tolist() == [3, 4]


@pytest.mark.parametrize(
    ("value", "words"),
    [("three", "is not a number"), ("2.5", "is not a whole number"), (0, "below the minimum 1")],
)
def test_bad_numbers_are_refused(value: object, words: str) -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(household_frame(members=[value, 4], elderly=[0, 0]))
    message = only(exc, 0, "members")
    assert words in message


def test_number_above_maximum_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(household_frame(members=[3, 51]))
    assert "above the maximum 50" in only(exc, 1, "members")


def test_dates_and_times_are_parsed() -> None:
    frame = gpd.GeoDataFrame(
        {
            "id": ["E1", "E2", "E3"],
            "kind": ["dispute", "safety", "other"],
            "reported_at": ["2024-03-01 09:30:00", "2024-03-01T01:30:00Z", "2024/03/02"],
            "status": ["registered", "closed", "handling"],
        },
        geometry=[Point(112.45, 29.62), Point(112.46, 29.62), Point(112.47, 29.62)],
        crs="EPSG:4326",
    )
    out = get_layer("incidents").validate(frame)
    assert out["reported_at"].tolist() == [
        pd.Timestamp("2024-03-01 09:30:00"),
        pd.Timestamp("2024-03-01 09:30:00"),  # UTC 01:30 is 09:30 in Asia/Shanghai
        pd.Timestamp("2024-03-02 00:00:00"),
    ]


def test_a_date_keeps_only_the_day() -> None:
    frame = pd.DataFrame(
        {
            "id": ["F1"],
            "name": ["测试书记"],
            "unit": ["县测试局"],
            "village_code": ["430623901001"],
            "start_on": ["2023-05-01T15:45:00"],
        }
    )
    out = get_layer("first_secretaries").validate(frame)
    assert out.at[0, "start_on"] == pd.Timestamp("2023-05-01")


def test_a_bad_date_is_refused() -> None:
    frame = pd.DataFrame(
        {
            "id": ["F1", "F2"],
            "name": ["测试书记", "测试书记二"],
            "unit": ["县测试局", "县测试局"],
            "village_code": ["430623901001", "430623901001"],
            "start_on": ["2023-05-01", "last spring"],
        }
    )
    with pytest.raises(ValidationError) as exc:
        get_layer("first_secretaries").validate(frame)
    message = only(exc, 1, "start_on")
    assert "'last spring'" in message and "YYYY-MM-DD" in message
    assert exc.value.problems[0].feature == "F2"


# --- bad input: each problem names the feature and the field ------------------------------------


def test_missing_required_column() -> None:
    frame = villages().drop(columns="kind")
    with pytest.raises(ValidationError) as exc:
        get_layer("villages").validate(frame)
    message = only(exc, None, "kind")
    assert "required column is missing" in message
    assert "'kind'" in str(exc.value)


def test_missing_required_columns_are_all_named() -> None:
    frame = villages().drop(columns=["kind", "name"])
    with pytest.raises(ValidationError) as exc:
        get_layer("villages").validate(frame)
    assert {p.field for p in problems(exc)} == {"kind", "name"}


@pytest.mark.parametrize("missing", [None, "", "   ", np.nan])
def test_missing_required_value(missing: object) -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("villages").validate(villages(name=["测试一村", missing]))
    assert "required value is missing" in only(exc, 1, "name")
    assert "feature #2 (430623901002) field 'name'" in str(exc.value)


@pytest.mark.parametrize(
    "code",
    ["43062390100", "4306239010011", "43062390100A", "430623-90100", "四三〇六二三九〇一〇〇一"],
)
def test_bad_code_is_refused(code: str) -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("villages").validate(villages(code=[code, "430623901002"]))
    message = find(exc, 0, "code").message
    assert f"'{code}'" in message and "12 digits" in message
    assert problems(exc)[0].feature == code


def test_value_not_in_choices() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("villages").validate(villages(kind=["village", "town"]))
    message = only(exc, 1, "kind")
    assert "'town'" in message and "village" in message and "community" in message


def test_bad_phone_is_refused(input_frames: Frames) -> None:
    grids = input_frames("grids")
    grids.loc[3, "responsible_phone"] = "12345"
    with pytest.raises(ValidationError) as exc:
        get_layer("grids").validate(grids)
    assert "'12345'" in only(exc, 3, "responsible_phone")


def test_every_problem_is_reported_at_once_in_order() -> None:
    frame = villages(
        code=["bad", "430623901002"], kind=["town", "village"], name=["测试一村", None]
    )
    with pytest.raises(ValidationError) as exc:
        get_layer("villages").validate(frame)
    found = {(p.index, p.field) for p in problems(exc)}
    assert {(0, "code"), (0, "kind"), (1, "name")} <= found
    indexes = [-1 if p.index is None else p.index for p in problems(exc)]
    assert indexes == sorted(indexes)
    assert "nothing was written" in str(exc.value)


def test_long_problem_lists_are_cut_in_the_message() -> None:
    n = 30
    frame = gpd.GeoDataFrame(
        {
            "code": [f"bad{i}" for i in range(n)],
            "name": ["测试"] * n,
        },
        geometry=[box(112.4, 29.3, 112.5, 29.4)] * n,
        crs="EPSG:4326",
    )
    with pytest.raises(ValidationError) as exc:
        get_layer("townships").validate(frame)
    assert len(problems(exc)) == n
    assert f"and {n - ValidationError.shown} more" in str(exc.value)


def test_duplicate_keys_name_both_features() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("villages").validate(villages(code=["430623901001", "430623901001"]))
    assert {p.index for p in problems(exc)} == {0, 1}
    assert all("duplicate key" in p.message for p in problems(exc))
    assert all(p.feature == "430623901001" for p in problems(exc))


def test_duplicate_composite_keys(input_frames: Frames) -> None:
    frame = input_frames("leader_townships")
    frame.loc[len(frame)] = ["L01", "430623901"]
    with pytest.raises(ValidationError) as exc:
        get_layer("leader_townships").validate(frame)
    assert {p.index for p in problems(exc)} == {0, len(frame) - 1}
    assert problems(exc)[0].feature == "L01/430623901"


def test_same_value_in_one_part_of_a_composite_key_is_fine(input_frames: Frames) -> None:
    out = get_layer("leader_townships").validate(input_frames("leader_townships"))
    assert out["leader_id"].tolist().count("L01") == 2


# --- geometry ----------------------------------------------------------------------------------


def townships(geometries: list[object], crs: object = "EPSG:4326") -> gpd.GeoDataFrame:
    n = len(geometries)
    return gpd.GeoDataFrame(
        {
            "code": [f"43062390{i + 1}" for i in range(n)],
            "name": [f"测试{i + 1}镇" for i in range(n)],
        },
        geometry=gpd.GeoSeries(geometries, crs=crs),
    )


GOOD = box(112.40, 29.30, 112.55, 29.70)
#: a bow-tie: its two triangles cross at (112.625, 29.5)
BOWTIE = Polygon([(112.55, 29.30), (112.70, 29.70), (112.70, 29.30), (112.55, 29.70)])


def test_self_intersecting_polygon_is_refused_with_the_reason() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("townships").validate(townships([GOOD, BOWTIE]))
    message = only(exc, 1, "geometry")
    reason = shapely.is_valid_reason(BOWTIE)
    assert reason.startswith("Self-intersection")
    assert f"invalid geometry: {reason}" in message
    assert "feature #2 (430623902) field 'geometry'" in str(exc.value)


def test_empty_geometry_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("townships").validate(townships([GOOD, Polygon()]))
    assert "empty" in only(exc, 1, "geometry")


def test_missing_geometry_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("townships").validate(townships([None, GOOD]))
    assert "missing" in only(exc, 0, "geometry")


def test_input_without_geometry_column_is_refused() -> None:
    frame = pd.DataFrame({"code": ["430623901"], "name": ["测试镇"]})
    with pytest.raises(ValidationError) as exc:
        get_layer("townships").validate(frame)
    message = only(exc, None, "geometry")
    assert "no geometry" in message and "MultiPolygon" in message


@pytest.mark.parametrize(
    ("geometry", "type_name"),
    [
        (Point(112.5, 29.5), "Point"),
        (LineString([(112.5, 29.5), (112.6, 29.6)]), "LineString"),
        (MultiPoint([(112.5, 29.5), (112.6, 29.6)]), "MultiPoint"),
    ],
)
def test_wrong_geometry_type_for_a_polygon_layer(geometry: object, type_name: str) -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("townships").validate(townships([GOOD, geometry]))
    message = only(exc, 1, "geometry")
    assert f"wrong geometry type {type_name}" in message and "MultiPolygon" in message


def test_polygon_for_a_point_layer_is_refused() -> None:
    frame = household_frame()
    frame.geometry = gpd.GeoSeries([Point(112.43, 29.65), GOOD], crs="EPSG:4326")
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(frame)
    message = only(exc, 1, "geometry")
    assert "wrong geometry type Polygon" in message and "need Point" in message


def test_multipoint_of_one_point_becomes_a_point() -> None:
    frame = household_frame()
    frame.geometry = gpd.GeoSeries(
        [MultiPoint([(112.43, 29.65)]), Point(112.44, 29.66)], crs="EPSG:4326"
    )
    out = get_layer("households").validate(frame)
    assert out.geometry.iloc[0].equals(Point(112.43, 29.65))
    assert out.geometry.iloc[0].geom_type == "Point"


def test_polygon_is_promoted_to_multipolygon() -> None:
    holed = Polygon(
        [(112.55, 29.30), (112.70, 29.30), (112.70, 29.70), (112.55, 29.70)],
        holes=[[(112.60, 29.40), (112.65, 29.40), (112.65, 29.45), (112.60, 29.45)]],
    )
    two_parts = MultiPolygon([box(112.70, 29.30, 112.75, 29.40), box(112.80, 29.30, 112.85, 29.4)])
    out = get_layer("townships").validate(townships([GOOD, holed, two_parts]))
    assert list(out.geometry.geom_type) == ["MultiPolygon"] * 3
    assert out.geometry.iloc[0].equals(GOOD)
    assert out.geometry.iloc[1].equals(holed)
    assert len(out.geometry.iloc[1].geoms[0].interiors) == 1
    assert out.geometry.iloc[2].equals(two_parts)


def test_coordinates_outside_china_are_refused() -> None:
    paris = box(2.30, 48.80, 2.40, 48.90)
    with pytest.raises(ValidationError) as exc:
        get_layer("townships").validate(townships([GOOD, paris]))
    message = only(exc, 1, "geometry")
    assert "outside China" in message and "--crs" in message


def test_projected_coordinates_without_their_crs_are_outside_china() -> None:
    # UTM metres read as degrees: the classic missing-CRS mistake
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    x, y = to_utm.transform(112.43, 29.65)
    frame = household_frame()
    frame.geometry = gpd.GeoSeries([Point(x, y), Point(112.44, 29.66)], crs="EPSG:4326")
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(frame)
    assert "outside China" in only(exc, 0, "geometry")


def test_swapped_lon_lat_is_named_as_such() -> None:
    frame = household_frame()
    frame.geometry = gpd.GeoSeries([Point(29.65, 112.43), Point(112.44, 29.66)], crs="EPSG:4326")
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(frame)
    message = only(exc, 0, "geometry")
    assert "swapped" in message
    assert problems(exc)[0].feature == "H1"


def test_swapped_polygon_is_named_as_such() -> None:
    swapped = shapely.transform(GOOD, lambda xy: xy[:, ::-1])
    with pytest.raises(ValidationError) as exc:
        get_layer("townships").validate(townships([swapped, GOOD]))
    assert "swapped" in only(exc, 0, "geometry")


def test_points_just_inside_the_china_box_pass_and_just_beyond_fail() -> None:
    x0, y0, x1, y1 = CHINA_BOUNDS
    frame = household_frame()
    frame.geometry = gpd.GeoSeries([Point(x0 + 0.01, y0 + 0.01), Point(x1 + 0.01, y1 - 0.01)])
    frame = frame.set_crs("EPSG:4326")
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(frame)
    assert "outside China" in only(exc, 1, "geometry")


def test_input_without_crs_asks_for_crs() -> None:
    frame = household_frame().set_crs(None, allow_override=True)
    assert frame.crs is None
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(frame)
    message = only(exc, None, "geometry")
    assert "no CRS" in message and "give one with --crs" in message


def test_input_without_crs_is_accepted_when_crs_is_given() -> None:
    frame = household_frame().set_crs(None, allow_override=True)
    out = get_layer("households").validate(frame, crs="EPSG:4326")
    assert out.crs == "EPSG:4326"
    assert out.geometry.iloc[0].equals(Point(112.43, 29.65))


def test_unknown_crs_name_is_refused() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(household_frame(), crs="mars2000")
    assert "unknown CRS" in only(exc, None, "geometry")


def test_cgcs2000_input_is_kept_unchanged() -> None:
    frame = household_frame().set_crs("EPSG:4490", allow_override=True)
    out = get_layer("households").validate(frame)
    assert out.crs == "EPSG:4326"
    assert np.array_equal(shapely.get_coordinates(out.geometry), [[112.43, 29.65], [112.44, 29.66]])


def test_projected_input_is_reprojected() -> None:
    lonlat = np.array([[112.43, 29.65], [112.44, 29.66]])
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    x, y = to_utm.transform(lonlat[:, 0], lonlat[:, 1])
    assert x.min() > 100_000  # metres, not degrees
    frame = household_frame()
    frame.geometry = gpd.GeoSeries(shapely.points(x, y), crs="EPSG:32649")
    out = get_layer("households").validate(frame)
    assert out.crs == "EPSG:4326"
    assert np.allclose(shapely.get_coordinates(out.geometry), lonlat, rtol=0, atol=1e-7)


def test_projected_polygons_are_reprojected_vertex_by_vertex() -> None:
    utm = gpd.GeoSeries([GOOD], crs="EPSG:4326").to_crs("EPSG:32649")
    frame = townships(list(utm.values), crs="EPSG:32649")
    out = get_layer("townships").validate(frame)
    assert np.allclose(
        shapely.get_coordinates(out.geometry), shapely.get_coordinates(GOOD), rtol=0, atol=1e-7
    )


def test_gcj02_input_is_converted() -> None:
    wgs = np.array([[112.43, 29.65], [112.44, 29.66]])
    gcj_lon, gcj_lat = crsmod.wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    frame = household_frame()
    frame.geometry = gpd.GeoSeries(shapely.points(gcj_lon, gcj_lat), crs="EPSG:4326")
    out = get_layer("households").validate(frame, crs="gcj02")
    got = shapely.get_coordinates(out.geometry)
    exp_lon, exp_lat = crsmod.gcj02_to_wgs84(gcj_lon, gcj_lat)
    assert np.allclose(got, np.column_stack([exp_lon, exp_lat]), rtol=0, atol=1e-9)
    # and it really moved: GCJ-02 is hundreds of metres off around Huarong
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32649", always_xy=True)
    gx, gy = to_utm.transform(gcj_lon, gcj_lat)
    ox, oy = to_utm.transform(got[:, 0], got[:, 1])
    shift = np.hypot(gx - ox, gy - oy)
    assert (shift > 300).all() and (shift < 1000).all()
    assert np.allclose(got, wgs, rtol=0, atol=1e-5)


def test_gcj02_polygons_are_converted_vertex_by_vertex() -> None:
    gcj = crsmod.transform_geometry_array(np.array([GOOD]), crsmod.wgs84_to_gcj02)
    out = get_layer("townships").validate(townships(list(gcj)), crs="gcj02")
    xy = shapely.get_coordinates(gcj)
    exp = np.column_stack(crsmod.gcj02_to_wgs84(xy[:, 0], xy[:, 1]))
    assert np.allclose(shapely.get_coordinates(out.geometry), exp, rtol=0, atol=1e-9)


def test_bd09_input_is_converted() -> None:
    bd_lon, bd_lat = crsmod.wgs84_to_bd09(112.43, 29.65)
    frame = household_frame()
    frame.geometry = gpd.GeoSeries([Point(bd_lon, bd_lat), Point(112.44, 29.66)], crs="EPSG:4326")
    out = get_layer("households").validate(frame, crs="bd09")
    exp = crsmod.bd09_to_wgs84(bd_lon, bd_lat)
    assert out.geometry.iloc[0].x == pytest.approx(exp[0], abs=1e-9)
    assert out.geometry.iloc[0].y == pytest.approx(exp[1], abs=1e-9)


# --- layer rules -------------------------------------------------------------------------------


def test_village_must_lie_in_its_township() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("villages").validate(villages(township_code=["430623901", "430623902"]))
    message = only(exc, 1, "township_code")
    assert "430623901002" in message and "430623902" in message


def grid_case(input_frames: Frames, target: str, **changes: Any) -> pd.DataFrame:
    grids = input_frames("grids")
    i = position(grids, target)
    for column, value in changes.items():
        grids.loc[i, column] = value
    return grids


V1 = "430623901001"


def position(grids: pd.DataFrame, code: str) -> int:
    return int(np.flatnonzero(grids["code"] == code)[0])


@pytest.mark.parametrize(
    ("code", "changes", "field", "words"),
    [
        (V1, {"parent_code": "430623902001"}, "parent_code", "a level-1 grid has no parent"),
        (V1 + "001", {"parent_code": None}, "parent_code", "needs its parent's code"),
        (V1 + "001001", {"parent_code": None}, "parent_code", "needs its parent's code"),
        (V1 + "001001", {"parent_code": V1 + "002"}, "parent_code", "is not a level-2 code"),
        (V1 + "001001", {"parent_code": V1}, "parent_code", "is not a level-2 code"),
        (V1 + "001", {"level": 3}, "code", "a level-3 grid code has 18 digits"),
        (V1 + "001001", {"level": 1}, "code", "a level-1 grid code has 12 digits"),
        (V1 + "001", {"village_code": "430623902001"}, "village_code", "does not lie in village"),
        (V1 + "002", {"valid_to": "2022-12-31"}, "valid_to", "before valid_from"),
    ],
)
def test_grid_code_parent_and_village_consistency(
    input_frames: Frames, code: str, changes: dict[str, object], field: str, words: str
) -> None:
    grids = grid_case(input_frames, code, **changes)
    with pytest.raises(ValidationError) as exc:
        get_layer("grids").validate(grids)
    index = position(grids, code)
    assert words in only(exc, index, field)
    assert problems(exc)[0].feature == code


def test_grid_level_outside_1_to_3(input_frames: Frames) -> None:
    grids = grid_case(input_frames, V1 + "001001", level=4)
    with pytest.raises(ValidationError) as exc:
        get_layer("grids").validate(grids)
    assert "above the maximum 3" in find(exc, position(grids, V1 + "001001"), "level").message


def test_grid_code_of_odd_length(input_frames: Frames) -> None:
    index = position(input_frames("grids"), V1 + "001001")
    grids = grid_case(input_frames, V1 + "001001", code=V1 + "0010011")
    with pytest.raises(ValidationError) as exc:
        get_layer("grids").validate(grids)
    assert "12, 15 or 18 digits" in find(exc, index, "code").message


def test_household_with_more_elderly_than_members() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(household_frame(members=[2, 4], elderly=[3, 0]))
    assert "more elderly" in only(exc, 0, "elderly")


def test_elderly_equal_to_members_is_fine() -> None:
    out = get_layer("households").validate(household_frame(members=[2, 1], elderly=[2, 1]))
    assert out["elderly"].tolist() == [2, 1]


def test_backbone_household_must_be_a_party_member() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(household_frame(party_member=["否", "否"]))
    assert "party-member" in only(exc, 0, "backbone")


def test_backbone_household_is_not_linked_to_another() -> None:
    frame = household_frame(
        party_member=[True, True], backbone=[True, True], backbone_id=["H2", None]
    )
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(frame)
    assert "not linked" in only(exc, 0, "backbone_id")


def test_household_linked_to_itself() -> None:
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(household_frame(backbone_id=[None, "H2"]))
    assert "itself" in only(exc, 1, "backbone_id")


def test_dangling_backbone_id(input_frames: Frames) -> None:
    frame = get_layer("households").validate(input_frames("households"))
    assert list(households.references(frame, set())) == []
    frame.loc[3, "backbone_id"] = "H404"
    frame.loc[4, "backbone_id"] = "H002"  # exists, but is not a backbone household
    found = list(households.references(frame, set()))
    assert [(i, f) for i, f, _ in found] == [(3, "backbone_id"), (4, "backbone_id")]
    assert "'H404' is not a backbone household" in found[0][2]


def test_backbone_id_may_name_a_backbone_already_in_the_store(input_frames: Frames) -> None:
    frame = get_layer("households").validate(input_frames("households"))
    frame.loc[3, "backbone_id"] = "H900"
    assert [i for i, _, _ in households.references(frame, set())] == [3]
    assert list(households.references(frame, {"H900"})) == []


def test_assigned_column_is_not_required_but_checked(input_frames: Frames) -> None:
    frame = input_frames("households")
    assert "grid_code" not in frame.columns
    out = get_layer("households").validate(frame)
    assert out["grid_code"].isna().all()
    frame["grid_code"] = [V1 + "001001"] * len(frame)
    frame.loc[2, "grid_code"] = V1
    with pytest.raises(ValidationError) as exc:
        get_layer("households").validate(frame)
    assert "18 digits" in only(exc, 2, "grid_code")


def test_one_wording_per_check_everywhere() -> None:
    from gisgrid.analysis.checks import LABELS
    from gisgrid.cartography import i18n

    for lang in ("zh", "en"):
        words = i18n.strings(lang)
        for check in ("gaps", "overlaps", "nesting", "households_outside"):
            assert words[f"check_{check}"] == kinds.CHECKS[check].label(lang)
    assert LABELS["gaps"] == ("覆盖空隙", "gaps in the coverage")
    assert indicators.LABELS_ZH["gaps"] == kinds.CHECKS["gaps"].zh
