"""Values are what their column says or refused (issue #11, point 3).

Each odd value found by probing is checked twice: through :meth:`Layer.validate` (the one
place every input passes) and end to end, as a hand-written GeoJSON file given to the real
``gisgrid import``, which must exit 4 naming the feature and the field, and write nothing.
"""

from __future__ import annotations

import json
import math
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import TOWNSHIP_BOXES, V1, sha256
from shapely.geometry import Point, box

from gisgrid.errors import CrsError, ValidationError
from gisgrid.exchange import import_file
from gisgrid.layers import get_layer
from gisgrid.layers.schema import OUTLINE_MARGIN_M, TEXT_MAX_LENGTH, Field, Layer
from gisgrid.stores.geopackage import GeoPackageStore

Run = Callable[..., subprocess.CompletedProcess[str]]
HOUSEHOLDS = get_layer("households")

#: the little county of conftest: lon 112.40-112.85, lat 29.30-29.70
INSIDE = (112.43, 29.65)
BEIJING = (116.40, 39.90)


def households(geometry: list[Point] | None = None, **columns: object) -> gpd.GeoDataFrame:
    """Two valid households (N1, N2), with some columns (or the geometry) replaced."""
    data: dict[str, object] = {
        "id": ["N1", "N2"],
        "head_name": ["测试户主甲", "测试户主乙"],
        "village_code": [V1, V1],
        "members": [3, 4],
        "elderly": [1, 0],
    }
    data.update(columns)
    points = geometry or [Point(*INSIDE), Point(112.44, 29.66)]
    return gpd.GeoDataFrame(data, geometry=points, crs="EPSG:4326")


def problems_of(frame: gpd.GeoDataFrame, layer: Layer = HOUSEHOLDS) -> list[str]:
    """Every problem validation finds, as printed (feature, field, message)."""
    with pytest.raises(ValidationError) as exc:
        layer.validate(frame)
    return [str(p) for p in exc.value.problems]


def one_problem(frame: gpd.GeoDataFrame, field: str, layer: Layer = HOUSEHOLDS) -> str:
    """The message of the one problem of the first feature (N1), which must be at ``field``."""
    found = problems_of(frame, layer)
    assert len(found) == 1, found
    prefix = f"feature #1 (N1) field '{field}': "
    assert found[0].startswith(prefix), found
    return found[0].removeprefix(prefix)


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [True, False, np.True_])
def test_a_boolean_is_no_number(value: object) -> None:
    message = one_problem(households(members=[value, 4]), "members")
    assert "true/false" in message and "not a whole number" in message


def test_a_column_of_booleans_is_no_number() -> None:
    found = problems_of(households(members=[True, False]))
    assert [p.split(":")[0] for p in found] == [
        "feature #1 (N1) field 'members'",
        "feature #2 (N2) field 'members'",
    ]


def test_booleans_stay_booleans_where_the_column_is_true_false() -> None:
    out = HOUSEHOLDS.validate(households(party_member=[True, 0], backbone=[True, "否"]))
    assert out["party_member"].tolist() == [True, False]


@pytest.mark.parametrize(
    "value", [1e30, "1e30", 10**30, 10**400, math.inf], ids=["1e30", "text", "int", "10^400", "inf"]
)
def test_a_huge_number_is_refused_not_a_crash(value: object) -> None:
    assert "above the maximum 50" in one_problem(households(members=[value, 4]), "members")


def test_an_integer_column_without_bounds_holds_64_bits() -> None:
    layer = Layer("counts", "计数", "test", (Field("n", "int", required=True),), key=("n",))
    out = layer.validate(pd.DataFrame({"n": [2**62, -(2**62)]}))
    assert out["n"].tolist() == [2**62, -(2**62)]
    for value in (1e30, 2**63, -(2**64), 10**400, "-1e19"):
        with pytest.raises(ValidationError) as exc:
            layer.validate(pd.DataFrame({"n": [value, 1]}))
        (problem,) = exc.value.problems
        assert problem.index == 0 and problem.field == "n"
        assert "out of range for a 64-bit integer" in problem.message


def test_an_infinite_float_is_refused() -> None:
    layer = Layer("sizes", "大小", "test", (Field("x", "float"),), key=())
    with pytest.raises(ValidationError) as exc:
        layer.validate(pd.DataFrame({"x": [math.inf, 1.5, "-inf"]}))
    assert [(p.index, p.message) for p in exc.value.problems] == [
        (0, "inf is not a finite number"),
        (2, "-inf is not a finite number"),
    ]


# --- text --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ({"a": 1}, 'an object ({"a": 1}) is not text'),
        ([1, 2], "a list ([1, 2]) is not text"),
        (True, "true is a true/false value, not text"),
    ],
)
def test_an_object_list_or_boolean_is_no_text(value: object, words: str) -> None:
    assert one_problem(households(house_number=[value, "3号"]), "house_number") == words


def test_an_object_is_no_number_and_no_date_either() -> None:
    assert "is not a whole number" in one_problem(households(members=[{"n": 3}, 4]), "members")
    incidents = get_layer("incidents")
    raw = gpd.GeoDataFrame(
        {"id": ["N1"], "kind": ["other"], "status": ["closed"], "reported_at": [["2024-01-01"]]},
        geometry=[Point(*INSIDE)],
        crs="EPSG:4326",
    )
    assert (
        one_problem(raw, "reported_at", incidents)
        == 'a list (["2024-01-01"]) is not a date and time'
    )


def test_numbers_still_become_text() -> None:
    out = HOUSEHOLDS.validate(households(house_number=[12, 7.0]))
    assert out["house_number"].tolist() == ["12", "7"]


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("张\x00三", "a NUL character (U+0000)"),
        ("张\x1b[31m三", "a control character (U+001B)"),
        ("张\x7f三", "a control character (U+007F)"),
        ("张\x85三", "a control character (U+0085)"),
        ("张\n三", "a line break (U+000A): this column holds one line"),
        ("张\t三", "a tab (U+0009): this column holds one line"),
    ],
    ids=["NUL", "ESC", "DEL", "NEL", "newline", "tab"],
)
def test_control_characters_are_refused(value: str, words: str) -> None:
    message = one_problem(households(head_name=[value, "李四"]), "head_name")
    assert message == f"contains {words}" or message.startswith(f"contains {words}")


def test_a_multiline_field_keeps_tabs_and_line_breaks_but_not_nul() -> None:
    note = Field("note", "str", multiline=True, max_length=2000)
    layer = Layer("notes", "备注", "test", (Field("id", "str"), note), key=("id",))
    out = layer.validate(pd.DataFrame({"id": ["N1"], "note": ["第一行\n第二行\r\n\t缩进"]}))
    assert out["note"].iat[0] == "第一行\n第二行\r\n\t缩进"
    with pytest.raises(ValidationError) as exc:
        layer.validate(pd.DataFrame({"id": ["N1"], "note": ["a\x00b"]}))
    assert "NUL" in str(exc.value) and "text may not hold control characters" in str(exc.value)


def test_messages_quote_control_characters_escaped() -> None:
    found = problems_of(households(village_code=["\x1b[2J" + "1" * 12, V1]))
    assert all("\x1b" not in p for p in found) and "\\u001b" in found[-1]


def test_text_length_is_bounded() -> None:
    assert HOUSEHOLDS.field("head_name").max_length == TEXT_MAX_LENGTH == 200
    fits = "张" * TEXT_MAX_LENGTH
    assert HOUSEHOLDS.validate(households(head_name=[fits, "李四"]))["head_name"].iat[0] == fits
    message = one_problem(households(head_name=[fits + "张", "李四"]), "head_name")
    assert message == "is 201 characters long, at most 200 are allowed"


def test_a_megabyte_name_is_refused_in_a_short_message() -> None:
    huge = "名" * 1_000_000
    with pytest.raises(ValidationError) as exc:
        HOUSEHOLDS.validate(households(head_name=[huge, "李四"], id=["N" * 1_000_000, "N2"]))
    assert "1,000,000 characters long" in str(exc.value)
    assert len(str(exc.value)) < 1000, "the value is not echoed whole"


def test_every_declared_text_field_has_a_bound() -> None:
    from gisgrid.layers import LAYERS

    for layer in LAYERS.values():
        for f in layer.fields:
            if f.type == "str":
                assert f.max_length is not None and f.max_length >= 40, (layer.name, f.name)


# --- geometry ----------------------------------------------------------------------------------


def test_z_is_dropped_the_same_way_for_every_store(tmp_path: Path) -> None:
    frame = households(geometry=[Point(*INSIDE, 35.5), Point(112.44, 29.66)])
    out = HOUSEHOLDS.validate(frame)
    assert not shapely.has_z(out.geometry.values).any()
    assert out.geometry.iat[0].equals(Point(*INSIDE))
    store = GeoPackageStore(tmp_path / "z.gpkg")
    store.write({"households": out})
    assert not shapely.has_z(store.read("households").geometry.values).any()


def test_z_and_m_are_dropped_from_polygons() -> None:
    townships = get_layer("townships")
    z = shapely.force_3d(box(*TOWNSHIP_BOXES["430623901"]), 12.0)
    m = shapely.from_wkt("POLYGON M ((112.55 29.3 1, 112.7 29.3 1, 112.7 29.7 1, 112.55 29.3 1))")
    frame = gpd.GeoDataFrame(
        {"code": ["430623901", "430623902"], "name": ["一镇", "二镇"]},
        geometry=[z, m],
        crs="EPSG:4326",
    )
    out = townships.validate(frame)
    assert not shapely.has_z(out.geometry.values).any()
    assert not shapely.has_m(out.geometry.values).any()


@pytest.mark.parametrize(
    ("point", "words"),
    [
        (Point(math.nan, 29.65), "a coordinate is NaN (not a number): (nan, 29.65)"),
        (Point(math.nan, math.nan), "a coordinate is NaN (not a number): (nan, nan)"),
        (Point(112.43, math.inf), "a coordinate is infinite: (112.43, inf)"),
    ],
)
def test_nan_is_named_as_nan(point: Point, words: str) -> None:
    frame = households(geometry=[point, Point(112.44, 29.66)])
    assert one_problem(frame, "geometry") == words


def test_an_empty_point_is_still_empty() -> None:
    frame = households(geometry=[Point(), Point(112.44, 29.66)])
    assert one_problem(frame, "geometry") == "geometry is empty"


# --- the county outline ------------------------------------------------------------------------


def feature(
    hid: str = "N1",
    *,
    at: tuple[float, ...] | list[Any] = INSIDE,
    **properties: object,
) -> dict[str, Any]:
    """One household feature as a GeoJSON dict, valid unless ``properties`` say otherwise."""
    props: dict[str, object] = {
        "id": hid,
        "head_name": "测试户主",
        "village_code": V1,
        "members": 3,
        "elderly": 0,
    }
    props.update(properties)
    return {
        "type": "Feature",
        "properties": props,
        "geometry": {"type": "Point", "coordinates": at},
    }


def geojson(path: Path, *features: dict[str, Any]) -> Path:
    """A GeoJSON file written by hand (NaN written as JSON's common extension ``NaN``)."""
    doc = {"type": "FeatureCollection", "features": list(features)}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def metres_east_of_the_county(metres: float) -> tuple[float, float]:
    """A point ``metres`` east of the county's east edge (lon 112.85), at lat 29.5."""
    return 112.85 + metres / (111_320 * math.cos(math.radians(29.5))), 29.5


def test_a_household_in_beijing_is_refused(filled_store: GeoPackageStore, tmp_path: Path) -> None:
    path = geojson(tmp_path / "in.geojson", feature("N1", at=BEIJING), feature("N2"))
    before = sha256(filled_store.path)
    with pytest.raises(ValidationError) as exc:
        import_file(filled_store, "households", path)
    (problem,) = exc.value.problems
    assert (problem.index, problem.feature, problem.field) == (0, "N1", "geometry")
    assert "km outside the county" in problem.message
    assert sha256(filled_store.path) == before


@pytest.mark.parametrize(("metres", "accepted"), [(1000, True), (3000, False)])
def test_the_outline_has_a_margin(
    metres: float, accepted: bool, filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    assert OUTLINE_MARGIN_M == 2000
    path = geojson(tmp_path / "in.geojson", feature("N1", at=metres_east_of_the_county(metres)))
    if accepted:
        assert import_file(filled_store, "households", path).notes == ()
        assert "N1" in set(filled_store.read("households")["id"])
    else:
        with pytest.raises(ValidationError, match=r"lies 3\.0 km outside the county"):
            import_file(filled_store, "households", path)


def test_without_townships_the_outline_is_skipped_with_a_note(
    tmp_store: GeoPackageStore, tmp_path: Path
) -> None:
    path = geojson(tmp_path / "in.geojson", feature("N1", at=BEIJING))
    result = import_file(tmp_store, "households", path)
    assert result.features == 1
    assert result.notes and "no townships" in result.notes[0]


def test_polygon_layers_are_not_checked_against_the_outline(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    far = box(116.0, 39.5, 116.5, 40.0)
    frame = gpd.GeoDataFrame(
        {"code": ["430623904"], "name": ["远镇"]}, geometry=[far], crs="EPSG:4326"
    )
    path = tmp_path / "t.geojson"
    frame.to_file(path, driver="GeoJSON")
    assert import_file(filled_store, "townships", path).features == 1


# --- end to end: the real command --------------------------------------------------------------


def refused(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    """stderr of a run that failed cleanly: the exit code, a message, no traceback."""
    assert result.returncode == exit_code, f"{result.returncode}\n{result.stdout}{result.stderr}"
    assert "Traceback" not in result.stderr + result.stdout
    return " ".join(result.stderr.split())


CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    # case: (feature N1, field, words)
    "members true": (feature(members=True), "members", "true is a true/false value"),
    "members 1e30": (feature(members=1e30), "members", "1e+30 is above the maximum 50"),
    "object house number": (feature(house_number={"no": 3}), "house_number", "an object"),
    "list house number": (feature(house_number=["3", "号"]), "house_number", "a list"),
    "NUL in a name": (feature(head_name="张\x00三"), "head_name", "NUL character"),
    "1 MB name": (feature(head_name="张" * 1_000_000), "head_name", "1,000,000 characters"),
    "NaN coordinate": (feature(at=[math.nan, 29.65]), "geometry", "NaN (not a number)"),
    "NaN point": (feature(at=[math.nan, math.nan]), "geometry", "NaN (not a number)"),
    "in Beijing": (feature(at=BEIJING), "geometry", "km outside the county"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_import_refuses_odd_values(
    case: str, run_gisgrid: Run, filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    first, field, words = CASES[case]
    # a second, good feature: GDAL reads a column of one kind differently from a mixed one
    path = geojson(tmp_path / "odd.geojson", first, feature("N2", members=4))
    before = sha256(filled_store.path)
    result = run_gisgrid("import", "households", path, "--store", filled_store.path)
    message = refused(result, ValidationError.exit_code)
    assert f"feature #1 (N1) field '{field}'" in message
    assert words in message and "nothing was written" in message
    assert len(result.stderr) < 2000
    assert sha256(filled_store.path) == before


def test_import_drops_z(run_gisgrid: Run, filled_store: GeoPackageStore, tmp_path: Path) -> None:
    path = geojson(tmp_path / "z.geojson", feature("N1", at=[*INSIDE, 42.0]))
    result = run_gisgrid("import", "households", path, "--store", filled_store.path)
    assert result.returncode == 0, result.stderr
    assert "3D" not in result.stderr, "GDAL did not have to promote the layer"
    read = filled_store.read("households", where={"id": "N1"})
    assert not shapely.has_z(read.geometry.values).any()
    assert read.geometry.iat[0].equals(Point(*INSIDE))


def test_an_unknown_crs_option_exits_2(
    run_gisgrid: Run, filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    assert CrsError.exit_code == 2
    path = geojson(tmp_path / "ok.geojson", feature("N1"))
    before = sha256(filled_store.path)
    result = run_gisgrid("import", "households", path, "--crs", "mars2000", store=filled_store.path)
    message = refused(result, 2)
    assert "mars2000" in message
    assert sha256(filled_store.path) == before


def test_an_unknown_crs_option_is_refused_before_the_file_is_read(tmp_store: GeoPackageStore):
    with pytest.raises(CrsError):
        import_file(tmp_store, "households", "no-such-file.geojson", crs="mars2000")


def test_an_incident_description_is_a_note_of_several_lines() -> None:
    incidents = get_layer("incidents")
    assert incidents.field("description").max_length == 2000  # as the web API allows
    text = "第一行\n" + "描" * 1990
    frame = gpd.GeoDataFrame(
        {"id": ["E1"], "kind": ["other"], "status": ["closed"], "reported_at": ["2024-01-01"]},
        geometry=[Point(*INSIDE)],
        crs="EPSG:4326",
    )
    frame["description"] = [text]
    assert incidents.validate(frame)["description"].iat[0] == text
    frame["description"] = ["描" * 2001]
    with pytest.raises(ValidationError, match="at most 2,000 are allowed"):
        incidents.validate(frame)
