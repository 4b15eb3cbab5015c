"""The checks (gisgrid check): small hand-built counties with answers worked out by hand, the
sample county against its manifest and against independent brute-force computations, the
report's JSON layout and summary, the command.

The toy county is drawn in metres in the metric CRS (UTM 49N) around Huarong and stored in
EPSG:4326, so that every area and distance expected below follows from the drawing:

    y=2000 +---------+---------+-------------------+
           |   A1    |   B1    |                   |
    y=1000 +---------+---------+        C1         |
           |   A2    |   B2    |                   |
    y=0    +---------+---------+-------------------+
          x=0      1000      2000                4000

township T1 = village V1 = [0, 2000] x [0, 2000], level-2 grids A (x < 1000) and B; township
T2 = village V2 = [2000, 4000] x [0, 2000], one level-2 grid C with one level-3 grid C1.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, Point, Polygon, box

from gisgrid import crs as crsmod
from gisgrid.analysis.checks import CHECKS, check_store, run_checks
from gisgrid.analysis.checks.six_no import window
from gisgrid.errors import ConfigError, NotFoundError
from gisgrid.layers.incidents import SIX_NO_KINDS
from gisgrid.sample import write_sample_county
from gisgrid.settings import CheckSettings, ServiceRule
from gisgrid.stores.geopackage import GeoPackageStore

# --- the toy county -------------------------------------------------------------------------

ORIGIN = crsmod.convert_points(112.55, 29.45, source=crsmod.STORAGE_CRS, target=crsmod.METRIC_CRS)
T1, T2 = "430623101", "430623102"
V1, V2 = T1 + "201", T2 + "201"
A, B, C = V1 + "001", V1 + "002", V2 + "001"
A1, A2, B1, B2, C1 = A + "001", A + "002", B + "001", B + "002", C + "001"
BOXES = {
    T1: (0, 0, 2000, 2000), T2: (2000, 0, 4000, 2000),
    V1: (0, 0, 2000, 2000), V2: (2000, 0, 4000, 2000),
    A: (0, 0, 1000, 2000), B: (1000, 0, 2000, 2000), C: (2000, 0, 4000, 2000),
    A1: (0, 1000, 1000, 2000), A2: (0, 0, 1000, 1000),
    B1: (1000, 1000, 2000, 2000), B2: (1000, 0, 2000, 1000), C1: (2000, 0, 4000, 2000),
}  # fmt: skip
AS_OF = dt.date(2026, 11, 30)
REL = 1e-3  # areas and distances survive the trip through EPSG:4326 to about 1e-6


def lonlat(geom: Any) -> Any:
    """A geometry drawn in toy metres → EPSG:4326.

    Edges are cut into pieces of at most 50 m first. Every coordinate of the drawings is a
    multiple of 50 m (but for slivers), so where a vertex of one polygon lies on another's
    edge, that edge has the same vertex: the tiling stays exact in EPSG:4326, where straight
    edges in metres would bend. (Invalid drawings are left as drawn: GEOS may rewrite them.)
    """
    if geom is None:
        return None
    if shapely.is_valid(geom):
        geom = shapely.segmentize(geom, 50)
    moved = shapely.transform(geom, lambda xy: xy + np.asarray(ORIGIN))
    return crsmod.transform_geometry_array(
        moved, source=crsmod.METRIC_CRS, target=crsmod.STORAGE_CRS
    )


def toy_xy(geojson: dict[str, Any]) -> Any:
    """A GeoJSON geometry of the report → toy metres."""
    g = crsmod.transform_geometry_array(
        shapely.geometry.shape(geojson), source=crsmod.STORAGE_CRS, target=crsmod.METRIC_CRS
    )
    return shapely.transform(g, lambda xy: xy - np.asarray(ORIGIN))


def polys(layer: str, rows: list[dict[str, Any]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        [{k: v for k, v in r.items() if k != "geometry"} for r in rows],
        geometry=gpd.GeoSeries([lonlat(r["geometry"]) for r in rows], crs=crsmod.STORAGE_CRS),
    )


def household(
    hid: str,
    x: float,
    y: float,
    *,
    village: str = V1,
    backbone: bool = False,
    link: str | None = None,
    elderly: int = 0,
    members: int = 3,
) -> dict[str, Any]:
    return {
        "id": hid, "village_code": village, "members": members, "elderly": elderly,
        "backbone": backbone, "backbone_id": link, "geometry": Point(x, y),
    }  # fmt: skip


def clean_households() -> list[dict[str, Any]]:
    """A backbone household in A1 and the five it looks after."""
    rows = [household("H01", 300, 1500, backbone=True)]
    rows += [household(f"H0{k}", 300 + 20 * k, 1450, link="H01") for k in range(2, 7)]
    return rows


def toy(
    *,
    geoms: dict[str, Any] | None = None,
    households: list[dict[str, Any]] | None = None,
    service_points: list[dict[str, Any]] | None = None,
    incidents: list[dict[str, Any]] | None = None,
    unstaffed: dict[str, str | None] | None = None,
) -> dict[str, gpd.GeoDataFrame]:
    """The toy county's frames; ``geoms`` replaces polygons (toy metres) by code."""
    shapes = {code: box(*b) for code, b in BOXES.items()} | (geoms or {})
    names = unstaffed or {}
    townships = polys(
        "townships", [{"code": t, "name": f"镇{t[-1]}", "geometry": shapes[t]} for t in (T1, T2)]
    )
    villages = polys(
        "villages",
        [
            {"code": v, "name": f"村{k}", "township_code": v[:9], "kind": "village",
             "geometry": shapes["v:" + v] if "v:" + v in shapes else shapes[v]}
            for k, v in enumerate((V1, V2), start=1)
        ],
    )  # fmt: skip
    grid_rows = []
    for code in (V1, V2, A, B, C, A1, A2, B1, B2, C1):
        level = {12: 1, 15: 2, 18: 3}[len(code)]
        grid_rows.append(
            {
                "code": code,
                "level": level,
                "parent_code": None if level == 1 else code[: len(code) - 3],
                "village_code": code[:12],
                "name": f"网格{code[-3:]}",
                "responsible_name": names.get(code, "张测试"),
                "geometry": shapes["g:" + code] if "g:" + code in shapes else shapes[code],
            }
        )
    grids = polys("grids", grid_rows)
    grids["level"] = grids["level"].astype("Int64")
    hh = polys("households", clean_households() if households is None else households)
    sp = polys(
        "service_points",
        service_points
        if service_points is not None
        else [
            {"id": f"S{k}", "kind": kind, "village_code": V1, "geometry": Point(100, 100)}
            for k, kind in enumerate(("village_centre", "township_centre", "clinic"))
        ]
        + [
            {
                "id": "S9",
                "kind": "village_centre",
                "village_code": V2,
                "geometry": Point(3000, 1000),
            }
        ],
    )
    inc = polys("incidents", incidents or [])
    if not len(inc):
        inc = gpd.GeoDataFrame(
            {"id": [], "kind": [], "reported_at": pd.Series([], dtype="datetime64[ms]")},
            geometry=gpd.GeoSeries([], crs=crsmod.STORAGE_CRS),
        )
    return {
        "townships": townships,
        "villages": villages,
        "grids": grids,
        "households": hh,
        "service_points": sp,
        "incidents": inc,
    }


#: thresholds for the toy: no workload band (the toy has a handful of households)
TOY = CheckSettings(min_households=0, max_households=1000, as_of=AS_OF)


def check(frames: dict[str, Any], settings: CheckSettings = TOY, **kw: Any) -> dict[str, Any]:
    doc = json.loads(run_checks(frames, settings=settings, **kw).to_json())
    assert list(doc) == ["meta", *CHECKS]
    return doc


def counts(doc: dict[str, Any]) -> dict[str, int]:
    return {name: doc[name]["count"] for name in CHECKS if doc[name]["count"]}


# --- a clean toy county ---------------------------------------------------------------------


def test_a_clean_county_has_no_findings():
    doc = check(toy())
    assert counts(doc) == {}
    assert doc["six_no"]["six_no_villages"] == [V1, V2]
    assert doc["meta"]["as_of"] == "2026-11-30"


def test_every_check_has_a_count_matching_its_items():
    doc = check(toy(geoms={A2: box(0, 0, 1000, 900)}, unstaffed={B: None}))
    for name in CHECKS:
        assert doc[name]["count"] == len(doc[name]["items"]), name
    assert set(doc["meta"]) >= {"as_of", "settings", "counts", "seconds"}
    assert doc["meta"]["counts"]["grids_level_3"] == 5
    assert set(doc["meta"]["seconds"]) == {"prepare", *CHECKS, "total"}


# --- 1. invalid geometries --------------------------------------------------------------------


def test_a_bow_tie_grid_is_invalid_and_the_rest_still_runs():
    bowtie = Polygon([(0, 1000), (1000, 2000), (1000, 1000), (0, 2000)])
    doc = check(toy(geoms={A1: bowtie}))
    [item] = doc["invalid_geometries"]["items"]
    assert (item["layer"], item["code"], item["level"]) == ("grids", A1, 3)
    assert item["reason"].startswith("Self-intersection")
    assert item["reason_zh"] == "自相交"
    # GEOS names the crossing point, the middle of the bow-tie
    at = toy_xy(item["geometry"])
    assert at.distance(Point(500, 1500)) < 0.5
    # the repaired bow-tie is two triangles: A1's top and bottom quarters are uncovered
    gaps = doc["gaps"]["items"]
    assert [(g["level"], g["parent_code"]) for g in gaps] == [("level3", A)] * 2
    assert [g["area_m2"] for g in gaps] == pytest.approx([250_000, 250_000], rel=REL)
    assert {g["adjacent_codes"][0] for g in gaps} == {A1}
    assert sorted(a for g in gaps for a in g["adjacent_codes"]) == [A1, A1, A2]


def test_empty_missing_and_wrong_type_geometries_are_reported():
    frames = toy(geoms={B2: Polygon(), C1: LineString([(2000, 0), (4000, 2000)])})
    geoms = list(frames["townships"].geometry)
    geoms[1] = None
    frames["townships"] = frames["townships"].set_geometry(
        gpd.GeoSeries(geoms, crs=crsmod.STORAGE_CRS)
    )
    doc = check(frames)
    found = {(d["layer"], d["code"]): d["reason"] for d in doc["invalid_geometries"]["items"]}
    assert found == {
        ("townships", T2): "missing geometry",
        ("grids", B2): "empty geometry",
        ("grids", C1): "wrong geometry type LineString",
    }
    # the unusable grids cover nothing: their parents are gaps where they should be
    gaps = {(g["level"], g["parent_code"]): g["area_m2"] for g in doc["gaps"]["items"]}
    assert gaps == pytest.approx({("level3", B): 1_000_000, ("level3", C): 4_000_000}, rel=REL)


# --- 2. gaps ------------------------------------------------------------------------------------


def test_a_gap_between_two_grids():
    doc = check(toy(geoms={A2: box(0, 0, 1000, 900)}))
    assert counts(doc) == {"gaps": 1}
    [gap] = doc["gaps"]["items"]
    assert (gap["level"], gap["parent_level"], gap["parent_code"]) == ("level3", "level2", A)
    assert gap["area_m2"] == pytest.approx(100_000, rel=REL)
    assert gap["adjacent_codes"] == [A1, A2]
    shape = toy_xy(gap["geometry"])
    assert shape.hausdorff_distance(box(0, 900, 1000, 1000)) < 0.2
    assert doc["gaps"]["by_level"] == {"township": 0, "village": 0, "level2": 0, "level3": 1}


def test_geometry_in_the_report_is_geojson_lonlat_with_six_decimals():
    doc = check(toy(geoms={A2: box(0, 0, 1000, 900)}))
    geometry = doc["gaps"]["items"][0]["geometry"]
    assert geometry["type"] == "Polygon"
    coords = np.asarray(geometry["coordinates"][0])
    assert np.all((coords[:, 0] > 112) & (coords[:, 0] < 113))
    assert np.all((coords[:, 1] > 29) & (coords[:, 1] < 30))
    assert np.allclose(coords, np.round(coords, 6), atol=0)


def test_a_sliver_below_the_threshold_is_ignored():
    frames = toy(geoms={A2: box(0, 0, 1000, 999.995)})  # a 5 m² sliver
    assert counts(check(frames)) == {}
    doc = check(frames, TOY.model_copy(update={"sliver_m2": 1.0}))
    [gap] = doc["gaps"]["items"]
    assert gap["area_m2"] == pytest.approx(5.0, rel=0.05)


def test_a_hole_in_a_grid_is_a_gap_and_a_multipolygon_grid_covers_all_its_parts():
    a1 = shapely.MultiPolygon([box(0, 1000, 1000, 1500), box(0, 1600, 1000, 2000)])
    a2 = shapely.MultiPolygon(
        [
            Polygon(
                [(0, 0), (1000, 0), (1000, 1000), (0, 1000)],
                holes=[[(400, 400), (600, 400), (600, 600), (400, 600)]],
            ),
            box(0, 1500, 1000, 1600),
        ]
    )
    rows = [
        *clean_households(),
        household("P1", 500, 1550, link="H01"),  # in A2's northern part
        household("P2", 500, 450, link="H01"),  # in the hole: 50 m from its southern edge
    ]
    doc = check(toy(geoms={A1: a1, A2: a2}, households=rows))
    assert counts(doc) == {"gaps": 1, "households_outside": 1}
    [gap] = doc["gaps"]["items"]
    assert (gap["parent_code"], gap["adjacent_codes"]) == (A, [A2])
    assert gap["area_m2"] == pytest.approx(40_000, rel=REL)
    [outside] = doc["households_outside"]["items"]
    assert (outside["id"], outside["nearest_grid_code"]) == ("P2", A2)
    assert outside["distance_m"] == pytest.approx(50, abs=0.1)


def test_a_village_short_of_its_township_and_level2_grids_sticking_out():
    doc = check(toy(geoms={"v:" + V1: box(0, 0, 2000, 1900), "g:" + V1: box(0, 0, 2000, 1900)}))
    assert counts(doc) == {"gaps": 1, "nesting": 2}
    [gap] = doc["gaps"]["items"]
    assert (gap["level"], gap["parent_code"]) == ("village", T1)
    assert gap["area_m2"] == pytest.approx(200_000, rel=REL)
    nesting = {(d["level"], d["code"]): d for d in doc["nesting"]["items"]}
    assert set(nesting) == {("level2", A), ("level2", B)}
    for d in nesting.values():
        assert d["parent_code"] == V1 and d["into_codes"] == [] and not d["parent_missing"]
        assert d["outside_area_m2"] == pytest.approx(100_000, rel=REL)


def test_holes_between_townships_are_county_gaps_without_an_outline():
    t1 = Polygon(
        [(0, 0), (2000, 0), (2000, 2000), (0, 2000)],
        holes=[[(100, 100), (200, 100), (200, 200), (100, 200)]],
    )
    frames = {"townships": toy(geoms={T1: t1})["townships"]}
    doc = check(frames)
    [gap] = doc["gaps"]["items"]
    assert (gap["level"], gap["parent_level"], gap["parent_code"]) == (
        "township", "county", "430623"
    )  # fmt: skip
    assert gap["area_m2"] == pytest.approx(10_000, rel=REL)
    assert gap["adjacent_codes"] == [T1]
    assert doc["meta"]["county_outline"] == "union of townships"


def test_an_outline_finds_townships_short_of_it_and_sticking_out():
    frames = {"townships": toy()["townships"]}
    outline = lonlat(box(0, -100, 3900, 2000))
    doc = check(frames, outline=outline)
    [gap] = doc["gaps"]["items"]
    assert (gap["level"], gap["parent_code"]) == ("township", "430623")
    assert gap["area_m2"] == pytest.approx(3900 * 100, rel=REL)
    assert gap["adjacent_codes"] == [T1, T2]
    [poke] = doc["nesting"]["items"]
    assert (poke["level"], poke["code"]) == ("township", T2)
    assert poke["outside_area_m2"] == pytest.approx(100 * 2000, rel=REL)


# --- 3. overlaps ------------------------------------------------------------------------------


def test_an_overlap_between_two_siblings():
    doc = check(toy(geoms={A1: box(0, 950, 1000, 2000)}))
    assert counts(doc) == {"overlaps": 1}
    [item] = doc["overlaps"]["items"]
    assert (item["level"], item["parent_code"], item["codes"]) == ("level3", A, [A1, A2])
    assert item["area_m2"] == pytest.approx(50_000, rel=REL)
    assert toy_xy(item["geometry"]).hausdorff_distance(box(0, 950, 1000, 1000)) < 0.2


def test_level2_siblings_overlapping_leave_a_gap_in_the_level3_grids():
    doc = check(toy(geoms={B: box(900, 0, 2000, 2000)}))
    [over] = doc["overlaps"]["items"]
    assert (over["level"], over["parent_code"], over["codes"]) == ("level2", V1, [A, B])
    assert over["area_m2"] == pytest.approx(200_000, rel=REL)
    [gap] = doc["gaps"]["items"]
    assert (gap["level"], gap["parent_code"], gap["adjacent_codes"]) == ("level3", B, [B1, B2])
    assert gap["area_m2"] == pytest.approx(200_000, rel=REL)
    assert doc["nesting"]["count"] == 0


def test_cousins_overlapping_are_nesting_not_sibling_overlaps():
    doc = check(toy(geoms={B1: box(1000, 1000, 2100, 2000)}))
    assert counts(doc) == {"nesting": 1}
    [item] = doc["nesting"]["items"]
    assert (item["level"], item["code"], item["parent_code"]) == ("level3", B1, B)
    assert item["outside_area_m2"] == pytest.approx(100_000, rel=REL)
    assert item["into_codes"] == [C1]
    assert toy_xy(item["geometry"]).hausdorff_distance(box(2000, 1000, 2100, 2000)) < 0.2


# --- 4. nesting -------------------------------------------------------------------------------


def test_a_child_poking_out_within_the_tolerance_is_ignored():
    frames = toy(geoms={B1: box(1000, 1000, 2000.004, 2000)})  # 4 m² outside
    assert counts(check(frames)) == {}
    doc = check(frames, TOY.model_copy(update={"nesting_tolerance_m2": 1.0}))
    [item] = doc["nesting"]["items"]
    assert item["outside_area_m2"] == pytest.approx(4.0, rel=0.05)


def test_a_grid_whose_parent_does_not_exist_lies_wholly_outside():
    frames = toy()
    g = frames["grids"]
    g.loc[g["code"] == C1, "parent_code"] = V2 + "009"
    doc = check(frames)
    [item] = doc["nesting"]["items"]
    assert (item["code"], item["parent_code"], item["parent_missing"]) == (C1, V2 + "009", True)
    assert item["outside_area_m2"] == pytest.approx(4_000_000, rel=REL)
    # and C, having no child left, is not covered at all
    [gap] = doc["gaps"]["items"]
    assert (gap["parent_code"], gap["area_m2"]) == (C, pytest.approx(4_000_000, rel=REL))


# --- 5.-6. households ---------------------------------------------------------------------------


def test_households_outside_every_grid_with_the_nearest_grid():
    rows = [
        *clean_households(),
        household("Q1", 500, 930, link="H01"),  # in the gap: 30 m above A2, 70 m below A1
        household("Q2", 1500, 2040, link="H01"),  # north of the county: 40 m above B1
    ]
    doc = check(toy(geoms={A2: box(0, 0, 1000, 900)}, households=rows))
    items = doc["households_outside"]["items"]
    assert [(d["id"], d["nearest_grid_code"]) for d in items] == [("Q1", A2), ("Q2", B1)]
    assert [d["distance_m"] for d in items] == pytest.approx([30, 40], abs=0.1)
    assert toy_xy(items[0]["geometry"]).distance(Point(500, 930)) < 0.1
    # the household north of the county stands in no village: not a mismatch
    assert doc["village_mismatch"]["count"] == 0


def test_a_household_without_a_location_is_outside_with_no_distance():
    frames = toy()
    hh = frames["households"]
    geoms = list(hh.geometry)
    geoms[3] = None
    frames["households"] = hh.set_geometry(gpd.GeoSeries(geoms, crs=crsmod.STORAGE_CRS))
    doc = check(frames)
    assert doc["households_outside"]["items"] == [
        {
            "id": "H04",
            "village_code": V1,
            "nearest_grid_code": None,
            "distance_m": None,
            "geometry": None,
        }
    ]
    assert doc["linkage"]["count"] == doc["village_mismatch"]["count"] == 0


def test_a_frame_missing_a_column_the_checks_read_is_refused():
    frames = toy()
    frames["grids"] = frames["grids"].drop(columns=["parent_code"])
    with pytest.raises(ConfigError, match="grids: missing column"):
        run_checks(frames, settings=TOY)


def test_households_on_shared_edges_and_vertices_are_inside():
    rows = [
        *clean_households(),
        household("E1", 1000, 1000, link="H01"),  # the vertex A1, A2, B1, B2 share
        household("E2", 2000, 2000, link="H01"),  # the vertex of B1, C1 on the outline
        household("E3", 0, 0, link="H01"),  # the county's corner
    ]
    doc = check(toy(households=rows))
    assert doc["households_outside"]["count"] == 0


def test_households_registered_in_another_village():
    rows = [
        *clean_households(),
        household("M1", 3000, 500, village=V1, link="H01"),  # stands in V2
        household("M2", 500, 500, village=V2, link="H01"),  # stands in V1
        household("M3", 1500, 500, village=V1, link="H01"),  # where it is registered
    ]
    doc = check(toy(households=rows))
    items = [
        {k: d[k] for k in ("id", "registered", "located")} for d in doc["village_mismatch"]["items"]
    ]
    assert items == [
        {"id": "M1", "registered": V1, "located": V2},
        {"id": "M2", "registered": V2, "located": V1},
    ]


# --- 7. linkage ---------------------------------------------------------------------------------


def test_linkage_problems_worked_out_by_hand():
    rows = [household("H01", 100, 100, backbone=True)]
    rows += [household(f"H0{k}", 100 + k, 120, link="H01") for k in range(2, 6)]  # 4 links
    rows += [household("H10", 500, 500, backbone=True)]
    rows += [household(f"H{k}", 510, 500 + k, link="H10") for k in range(11, 22)]  # 11 links
    rows += [
        household("H30", 700, 700),  # ordinary, linked to nobody
        household("H31", 700, 710, link="H99"),  # no such household
        household("H32", 700, 720, link="H30"),  # not a backbone household
        household("H40", 300, 300, backbone=True),
    ]
    rows += [household(f"H4{k}", 300 + k, 310, link="H40") for k in range(1, 5)]
    rows += [household("H45", 300, 1900, link="H40")]  # 1,600 m north of H40
    rows += [household("H50", 900, 900, backbone=True, link="H40")]  # a backbone, linked
    doc = check(toy(households=rows))
    got = doc["linkage"]["items"]
    assert got == [
        {"problem": "under", "id": "H01", "linked": 4},
        {"problem": "under", "id": "H50", "linked": 0},
        {"problem": "over", "id": "H10", "linked": 11},
        {"problem": "unlinked", "id": "H30", "village_code": V1},
        {"problem": "long_link", "id": "H45", "backbone_id": "H40", "distance_m": 1600.0},
        {"problem": "bad_link", "id": "H31", "backbone_id": "H99", "reason": "missing"},
        {"problem": "bad_link", "id": "H32", "backbone_id": "H30", "reason": "not_backbone"},
        {"problem": "bad_link", "id": "H50", "backbone_id": "H40", "reason": "from_backbone"},
    ]
    assert doc["linkage"]["by_problem"] == {
        "under": 2, "over": 1, "unlinked": 1, "long_link": 1, "bad_link": 3
    }  # fmt: skip
    # the band and the distance are settings
    wider = TOY.model_copy(update={"min_links": 4, "max_links": 11, "max_link_m": 1600.5})
    problems = Counter(d["problem"] for d in check(toy(households=rows), wider)["linkage"]["items"])
    assert problems == {"under": 1, "unlinked": 1, "bad_link": 3}


# --- 8. unstaffed grids -----------------------------------------------------------------------


def test_grids_without_a_responsible_person():
    doc = check(toy(unstaffed={B: None, C1: "  "}))
    assert doc["unstaffed_grids"]["items"] == [
        {"code": B, "level": 2, "name": "网格002", "village_code": V1},
        {"code": C1, "level": 3, "name": "网格001", "village_code": V2},
    ]


# --- 9. service coverage ------------------------------------------------------------------------


def service_toy() -> dict[str, Any]:
    rows = [
        household("S1", 2099, 100, village=V2),  # 1,999 m from the V1 centre
        household("S2", 2102, 100, village=V2),  # 2,002 m
        household("S3", 100, 1900, elderly=1),  # 1,800 m
        household("S4", 3000, 1000, village=V2, elderly=2),
        household("S5", 1500, 1500, elderly=1),
    ]
    points = [
        {"id": "P1", "kind": "village_centre", "village_code": V1, "geometry": Point(100, 100)},
        {"id": "P2", "kind": "township_centre", "village_code": V1, "geometry": Point(100, 100)},
        {"id": "P3", "kind": "clinic", "village_code": V2, "geometry": Point(3900, 1900)},
        {"id": "P4", "kind": "elder_care", "village_code": None, "geometry": Point(100, 1900)},
    ]
    return toy(households=rows, service_points=points)


def test_service_coverage_worked_out_by_hand():
    doc = check(service_toy())
    sc = doc["service_coverage"]
    items = {(d["problem"], d.get("kind"), d["village_code"]): d for d in sc["items"]}
    assert set(items) == {
        ("too_far", "village_centre", V2),
        ("too_far", "clinic", V1),
        ("too_far", "elder_care", V1),
        ("no_village_centre", None, V2),
    }
    vc = items["too_far", "village_centre", V2]
    assert (vc["household_ids"], vc["elderly_household_ids"]) == (["S2", "S4"], ["S4"])
    assert (vc["households"], vc["elderly_households"]) == (2, 1)
    assert vc["max_distance_m"] == pytest.approx(math.hypot(2900, 900), abs=0.1)
    clinic = items["too_far", "clinic", V1]  # S3 and S5 stand in V1
    assert clinic["household_ids"] == ["S3"]
    assert clinic["max_distance_m"] == pytest.approx(3800, abs=0.1)
    # elder care: only elderly households of the village with the point (P4 stands in V1);
    # S4 in V2 is not checked, S3 is at the point, S5 is 1,456 m away
    elder = items["too_far", "elder_care", V1]
    assert elder["household_ids"] == elder["elderly_household_ids"] == ["S5"]
    assert elder["max_distance_m"] == pytest.approx(math.hypot(1400, 400), abs=0.1)
    by_kind = sc["by_kind"]
    assert list(by_kind) == ["township_centre", "village_centre", "elder_care", "clinic"]
    assert by_kind["township_centre"]["households_beyond"] == 0
    assert by_kind["elder_care"]["households_checked"] == 2
    assert by_kind["village_centre"] | {"max_distance_m": None} == {
        "max_m": 2000.0, "elderly_only": False, "only_villages_with_points": False,
        "points": 1, "households_checked": 5, "households_beyond": 2,
        "elderly_households_beyond": 1, "max_distance_m": None,
    }  # fmt: skip


def test_service_rules_are_settings():
    rules = {
        "clinic": ServiceRule(max_m=3900),
        "elder_care": ServiceRule(max_m=1000, elderly_only=True),  # county-wide
    }
    doc = check(service_toy(), TOY.model_copy(update={"service_rules": rules}))
    far = {(d["kind"], d["village_code"]): d["household_ids"]
           for d in doc["service_coverage"]["items"] if d["problem"] == "too_far"}  # fmt: skip
    assert far == {("elder_care", V1): ["S5"], ("elder_care", V2): ["S4"]}
    assert list(doc["service_coverage"]["by_kind"]) == ["elder_care", "clinic"]


def test_a_kind_with_no_point_leaves_every_household_too_far():
    rules = {"volunteer_base": ServiceRule(max_m=5000)}
    doc = check(service_toy(), TOY.model_copy(update={"service_rules": rules}))
    fig = doc["service_coverage"]["by_kind"]["volunteer_base"]
    assert (fig["points"], fig["households_beyond"], fig["max_distance_m"]) == (0, 5, None)


def test_an_unknown_service_kind_is_refused():
    with pytest.raises(ConfigError, match="unknown service kind"):
        run_checks(
            service_toy(),
            settings=TOY.model_copy(update={"service_rules": {"spa": ServiceRule(max_m=1)}}),
        )


# --- 10. workload -------------------------------------------------------------------------------


def test_workload_worked_out_by_hand():
    rows = [household("W1", 500, 1500)]  # A1: 1
    rows += [household(f"W2{k}", 500 + k, 500) for k in range(2)]  # A2: 2
    rows += [household(f"W3{k}", 1500 + k, 1500) for k in range(4)]  # B1: 4
    rows += [household(f"W5{k}", 3000 + k, 1000, village=V2) for k in range(3)]  # C1: 3
    band = TOY.model_copy(update={"min_households": 2, "max_households": 3})
    doc = check(toy(households=rows), band)
    assert [(d["problem"], d["code"], d["households"]) for d in doc["workload"]["items"]] == [
        ("too_few", A1, 1),
        ("too_few", B2, 0),
        ("too_many", B1, 4),
    ]
    assert doc["workload"]["band"] == [2, 3]


# --- 11. six-no ---------------------------------------------------------------------------------


def incident(iid: str, kind: str, when: Any, x: float, y: float) -> dict[str, Any]:
    return {"id": iid, "kind": kind, "reported_at": pd.Timestamp(when), "geometry": Point(x, y)}


def six_no_toy() -> dict[str, Any]:
    incidents = [
        incident("I1", "petition", "2025-11-30 00:00:00", 500, 500),  # first instant: in
        incident("I2", "criminal", "2025-11-29 23:59:59", 500, 500),  # a second early
        incident("I3", "overdue_loan", "2026-11-30 23:59:59", 3000, 500),  # last instant
        incident("I4", "lawsuit", "2026-12-01 00:00:00", 3000, 500),  # a second late
        incident("I5", "dispute", "2026-06-01 10:00:00", 3000, 500),  # not a six-no kind
        incident("I6", "illegal_construction", "2026-06-01 10:00:00", 5000, 500),  # no village
    ]
    frames = toy(incidents=incidents)
    frames["incidents"]["reported_at"] = frames["incidents"]["reported_at"].astype("datetime64[ms]")
    return frames


def test_six_no_window_and_kinds_by_hand():
    doc = check(six_no_toy())
    six = doc["six_no"]
    assert six["items"] == [
        {"village_code": V1, "name": "村1", "incidents": 1, "by_kind": {"petition": 1}},
        {"village_code": V2, "name": "村2", "incidents": 1, "by_kind": {"overdue_loan": 1}},
    ]
    assert six["six_no_villages"] == []
    assert six["window"] == {"from": "2025-11-30", "to": "2026-11-30"}
    assert six["unplaced_incidents"] == 1
    later = check(six_no_toy(), TOY.model_copy(update={"as_of": dt.date(2026, 12, 1)}))
    assert later["six_no"]["six_no_villages"] == [V1]
    assert later["six_no"]["items"][0]["by_kind"] == {"lawsuit": 1, "overdue_loan": 1}
    month = check(six_no_toy(), TOY.model_copy(update={"six_no_months": 1}))
    assert month["six_no"]["six_no_villages"] == [V1]


def test_six_no_reads_times_with_an_offset_as_local_time():
    frames = six_no_toy()
    # I1 at 2025-11-30 00:00 in Asia/Shanghai (in the window), the others a second earlier
    frames["incidents"]["reported_at"] = pd.to_datetime(
        ["2025-11-29 16:00:00+00:00"] + ["2025-11-29 15:59:59+00:00"] * 5
    )
    doc = check(frames)
    assert [(d["village_code"], d["by_kind"]) for d in doc["six_no"]["items"]] == [
        (V1, {"petition": 1})
    ]


def test_the_window_is_the_year_up_to_the_end_of_as_of():
    start, end = window(dt.date(2024, 2, 29), 12)
    assert (start, end) == (pd.Timestamp("2023-02-28"), pd.Timestamp("2024-03-01"))


def test_as_of_defaults_to_today_and_can_be_given():
    frames = toy()
    doc = json.loads(run_checks(frames, settings=CheckSettings()).to_json())
    assert doc["meta"]["as_of"] == dt.date.today().isoformat()
    doc = json.loads(run_checks(frames, as_of=dt.date(2020, 1, 2)).to_json())
    assert doc["six_no"]["window"]["to"] == "2020-01-02"


def test_the_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("GISGRID_CHECK_SLIVER_M2", "2.5")
    monkeypatch.setenv("GISGRID_CHECK_SERVICE_RULES", '{"clinic": {"max_m": 2500}}')
    monkeypatch.setenv("GISGRID_CHECK_AS_OF", "2025-01-02")
    s = CheckSettings()
    assert (s.sliver_m2, s.as_of, list(s.service_rules)) == (2.5, dt.date(2025, 1, 2), ["clinic"])
    monkeypatch.setenv("GISGRID_CHECK_MIN_LINKS", "12")
    with pytest.raises(ValueError, match="min_links"):
        CheckSettings()


# --- the report -------------------------------------------------------------------------------


def test_the_report_is_deterministic_whatever_the_input_order():
    frames = toy(geoms={A2: box(0, 0, 1000, 900), A1: box(0, 950, 1000, 2000)}, unstaffed={B: None})
    shuffled = {
        name: f.iloc[np.random.default_rng(1).permutation(len(f))] for name, f in frames.items()
    }
    one, two = check(frames), check(shuffled)
    for doc in (one, two):
        doc["meta"].pop("seconds")
    assert one == two


def test_the_summary_speaks_chinese_and_english():
    report = run_checks(toy(geoms={A2: box(0, 0, 1000, 900)}), settings=TOY)
    both, zh, en = report.summary(), report.summary("zh"), report.summary("en")
    assert "覆盖空隙" in both and "gaps" in both
    assert "覆盖空隙" in zh and "gaps" not in zh
    assert not re.search(r"[\u4e00-\u9fff]", en)
    assert re.search(r"level-2 grid \d{15} not covered by its children: \d{2,3},\d{3} m²", en)
    assert len(both.splitlines()) == len(zh.splitlines()) == len(en.splitlines())


# --- the sample county --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_doc(sample_county) -> dict[str, Any]:
    as_of = dt.date.fromisoformat(sample_county.manifest["as_of"])
    report = run_checks(sample_county.frames, settings=CheckSettings(), as_of=as_of)
    return json.loads(report.to_json())


@pytest.mark.slow
def test_the_sample_county_geometry_defects_are_exactly_the_planted_ones(sample_doc, sample_county):
    planted = sample_county.manifest["defects"]
    assert sample_doc["invalid_geometries"]["count"] == 0
    gaps = sample_doc["gaps"]["items"]
    assert {g["level"] for g in gaps} == {"level3"}
    found = {g["parent_code"]: g["area_m2"] for g in gaps}
    assert len(found) == len(gaps), "one gap per planted parent"
    want = {d["parent_code"]: d["area_m2"] for d in planted["gaps"]}
    assert set(found) == set(want)
    for parent, a in found.items():
        assert a == pytest.approx(want[parent], rel=0.01)
    for g, d in zip(gaps, sorted(planted["gaps"], key=lambda d: d["parent_code"]), strict=True):
        assert sorted(g["adjacent_codes"]) == sorted([d["grid_code"], d["neighbour_code"]])
        assert shapely.geometry.shape(g["geometry"]).covers(Point(d["point"]))
    overlaps = {tuple(o["codes"]): o for o in sample_doc["overlaps"]["items"]}
    want_o = {tuple(d["grid_codes"]): d for d in planted["overlaps"]}
    assert set(overlaps) == set(want_o)
    for pair, o in overlaps.items():
        assert (o["level"], o["parent_code"]) == ("level3", want_o[pair]["parent_code"])
        assert o["area_m2"] == pytest.approx(want_o[pair]["area_m2"], rel=0.01)
    nesting = {n["code"]: n for n in sample_doc["nesting"]["items"]}
    want_n = {d["grid_code"]: d for d in planted["nesting"]}
    assert set(nesting) == set(want_n)
    for code, n in nesting.items():
        assert n["parent_code"] == want_n[code]["parent_code"]
        assert n["into_codes"] == [want_n[code]["into_code"]]
        assert n["outside_area_m2"] == pytest.approx(want_n[code]["outside_area_m2"], rel=0.01)


@pytest.mark.slow
def test_the_sample_county_household_defects_are_exactly_the_planted_ones(
    sample_doc, sample_county
):
    planted = sample_county.manifest["defects"]
    outside = sample_doc["households_outside"]["items"]
    assert [d["id"] for d in outside] == planted["households_outside"]
    assert all(0 < d["distance_m"] < 100 for d in outside)  # they stand in gaps of ~60 m
    mismatch = [
        {k: d[k] for k in ("id", "registered", "located")}
        for d in sample_doc["village_mismatch"]["items"]
    ]
    assert mismatch == planted["village_mismatch"]
    links = sample_doc["linkage"]["items"]

    def of(problem: str) -> list[dict[str, Any]]:
        return [d for d in links if d["problem"] == problem]

    assert [{"backbone_id": d["id"], "linked": d["linked"]} for d in of("under")] == (
        planted["linkage_under"]
    )
    assert [{"backbone_id": d["id"], "linked": d["linked"]} for d in of("over")] == (
        planted["linkage_over"]
    )
    assert [d["id"] for d in of("unlinked")] == planted["unlinked"]
    assert of("long_link") == [] and of("bad_link") == []
    assert [d["code"] for d in sample_doc["unstaffed_grids"]["items"]] == planted["unstaffed_grids"]


@pytest.mark.slow
def test_the_sample_county_six_no_villages(sample_doc, sample_county):
    clean = set(sample_county.manifest["facts"]["six_no_clean_villages"])
    six = sample_doc["six_no"]
    not_six = {d["village_code"] for d in six["items"]}
    assert clean <= set(six["six_no_villages"])
    assert not_six.isdisjoint(clean)
    assert not_six | set(six["six_no_villages"]) == set(sample_county.frames["villages"]["code"])
    # independently: incidents of the six kinds standing in each village (all in the window)
    frames = sample_county.frames
    inc = frames["incidents"][frames["incidents"]["kind"].isin(SIX_NO_KINDS)]
    villages = frames["villages"]
    pts, polys_ = shapely.STRtree(villages.geometry.values).query(
        inc.geometry.values, predicate="within"
    )
    expected = Counter(
        zip(villages["code"].to_numpy()[polys_], inc["kind"].to_numpy()[pts], strict=True)
    )
    got = Counter(
        {(d["village_code"], k): n for d in six["items"] for k, n in d["by_kind"].items()}
    )
    assert got == expected


def brute_force_nearest(xy: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Nearest distance by trying every point (numpy, in chunks)."""
    out = np.empty(len(xy))
    for s in range(0, len(xy), 2000):
        d = np.hypot(
            xy[s : s + 2000, None, 0] - pts[None, :, 0], xy[s : s + 2000, None, 1] - pts[None, :, 1]
        )
        out[s : s + 2000] = d.min(axis=1)
    return out


@pytest.mark.slow
def test_the_sample_county_service_coverage_against_brute_force(sample_doc, sample_county):
    frames = sample_county.frames
    hh = frames["households"].to_crs(crsmod.METRIC_CRS)
    sp = frames["service_points"].to_crs(crsmod.METRIC_CRS)
    xy = np.column_stack([hh.geometry.x, hh.geometry.y])
    elderly = (hh["elderly"] > 0).to_numpy()
    villages = frames["villages"]
    pts, polys_ = shapely.STRtree(villages.geometry.values).query(
        frames["households"].geometry.values, predicate="within"
    )
    village = pd.Series(villages["code"].to_numpy()[polys_], index=pts).reindex(range(len(hh)))
    rules = CheckSettings().service_rules
    by_kind = sample_doc["service_coverage"]["by_kind"]
    items = [d for d in sample_doc["service_coverage"]["items"] if d["problem"] == "too_far"]
    assert set(by_kind) == set(rules)
    for kind, rule in rules.items():
        mine = sp[sp["kind"] == kind]
        checked = np.ones(len(hh), dtype=bool)
        if rule.elderly_only:
            checked &= elderly
        if rule.only_villages_with_points:
            checked &= village.isin(set(mine["village_code"])).to_numpy()
        dist = brute_force_nearest(xy, np.column_stack([mine.geometry.x, mine.geometry.y]))
        beyond = checked & (dist > rule.max_m)
        want = sorted(hh["id"][beyond])
        got = sorted(i for d in items if d["kind"] == kind for i in d["household_ids"])
        assert got == want, kind
        got_e = sorted(i for d in items if d["kind"] == kind for i in d["elderly_household_ids"])
        assert got_e == sorted(hh["id"][beyond & elderly]), kind
        assert by_kind[kind]["max_distance_m"] == pytest.approx(dist[checked].max(), abs=0.1)
        assert by_kind[kind]["households_checked"] == int(checked.sum())
        for d in items:
            if d["kind"] == kind:
                assert set(village[hh["id"].isin(d["household_ids"]).to_numpy()]) == {
                    d["village_code"]
                }
    assert by_kind["elder_care"]["households_checked"] > 0
    assert not [
        d for d in sample_doc["service_coverage"]["items"] if d["problem"] == "no_village_centre"
    ]


@pytest.mark.slow
def test_the_sample_county_workload_against_an_independent_count(sample_doc, sample_county):
    frames = sample_county.frames
    g = frames["grids"]
    l3 = g[g["level"] == 3].reset_index(drop=True)
    _, grid = shapely.STRtree(l3.geometry.values).query(
        frames["households"].geometry.values, predicate="within"
    )
    per_grid = np.bincount(grid, minlength=len(l3))  # no household is in two (test_sample)
    s = CheckSettings()
    want = sorted(
        (("too_few" if n < s.min_households else "too_many"), code, int(n))
        for code, n in zip(l3["code"], per_grid, strict=True)
        if not s.min_households <= n <= s.max_households
    )
    got = sorted(
        (d["problem"], d["code"], d["households"]) for d in sample_doc["workload"]["items"]
    )
    assert got == want
    assert sample_doc["workload"]["grids"] == 2860


@pytest.mark.slow
def test_check_store_reads_the_sample_county_and_its_date(tmp_path, sample_county, sample_doc):
    store = GeoPackageStore(tmp_path / "county.gpkg")
    write_sample_county(store, sample_county)
    doc = json.loads(check_store(store, settings=CheckSettings()).to_json())
    for d in (doc, sample_doc):
        d["meta"].pop("seconds")
    assert doc == sample_doc


# --- the command --------------------------------------------------------------------------------


def test_the_command_prints_the_summary_of_the_little_county(run_gisgrid, filled_store_file):
    result = run_gisgrid("check", "--store", filled_store_file)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "网格检查报告" in text and "grid check report" in text
    # the little county: three villages without level-2 grids, one level-2 grid unstaffed,
    # H007 looks after H008 only, H009 is linked to no one
    assert re.search(r"2\. 覆盖空隙 gaps in the coverage: 3\b", text)
    assert re.search(r"8\. 无负责人网格 grids without a responsible person: 1\b", text)
    assert "H007" in text and "H009" in text


def test_the_command_writes_json(run_gisgrid, filled_store_file, tmp_path):
    result = run_gisgrid("check", "--store", filled_store_file, "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert list(doc) == ["meta", *CHECKS]
    assert {d["parent_code"] for d in doc["gaps"]["items"]} == {
        "430623901002", "430623902001", "430623903001"
    }  # fmt: skip
    out = tmp_path / "reports" / "check.json"
    result = run_gisgrid("check", "--store", filled_store_file, "--out", out, "--lang", "en")
    assert result.returncode == 0, result.stderr
    assert "grid check report" in result.stdout and "网格" not in result.stdout
    again = json.loads(out.read_text(encoding="utf-8"))
    for d in (doc, again):
        d["meta"].pop("seconds")
    assert again == doc


def test_the_command_refuses_an_empty_store_and_a_bad_language(run_gisgrid, tmp_path):
    result = run_gisgrid("check", "--store", tmp_path / "empty.gpkg")
    assert result.returncode == NotFoundError.exit_code
    assert "nothing to check" in result.stderr and "Traceback" not in result.stderr
    result = run_gisgrid("check", "--store", tmp_path / "empty.gpkg", "--lang", "fr")
    assert result.returncode == ConfigError.exit_code and "--lang" in result.stderr


def test_the_demo_step_writes_the_report_for_the_maps(filled_store, tmp_path, capsys):
    from gisgrid.cli import _demo_check

    _demo_check(filled_store, tmp_path / "maps")
    doc = json.loads((tmp_path / "maps" / "check-report.json").read_text(encoding="utf-8"))
    assert doc["gaps"]["count"] == 3
    assert "网格检查报告" in capsys.readouterr().out


def test_a_frame_without_a_crs_is_refused():
    frames = toy()
    frames["grids"] = frames["grids"].set_crs(None, allow_override=True)
    with pytest.raises(ConfigError, match="no CRS"):
        run_checks(frames, settings=TOY)


def test_frames_in_another_crs_are_reprojected():
    frames = toy(geoms={A2: box(0, 0, 1000, 900)})
    frames["grids"] = frames["grids"].to_crs(crsmod.METRIC_CRS)
    [gap] = check(frames)["gaps"]["items"]
    assert gap["area_m2"] == pytest.approx(100_000, rel=REL)


# --- 12. unvisited ----------------------------------------------------------------------------


def test_households_with_elderly_members_not_visited_in_time_are_found():
    rows = clean_households()
    rows += [
        household("E1", 320, 1400, elderly=2, members=2),  # elderly only: every 30 days
        household("E2", 340, 1400, elderly=2, members=2),
        household("E3", 360, 1400, elderly=1, members=4),  # with elderly: every 90 days
        household("E4", 380, 1400, elderly=1, members=4),
        household("E5", 400, 1400, elderly=2, members=2),  # never visited
    ]
    frames = toy(households=rows)
    visits = pd.DataFrame(
        {
            "household_id": ["E1", "E2", "E3", "E4", "E1"],
            "at": pd.to_datetime(
                [
                    "2026-11-20 10:00",  # 10 days before as_of: on time
                    "2026-10-01 10:00",  # 60 days: late for an elderly-only household
                    "2026-09-15 10:00",  # 76 days: on time for a household with elderly
                    "2026-08-01 10:00",  # 121 days: late
                    "2026-12-05 10:00",  # after as_of: does not count
                ]
            ),
        }
    )
    frames["visits"] = visits
    doc = check(frames, as_of=dt.date(2026, 11, 30))
    found = {d["id"]: d for d in doc["unvisited"]["items"]}
    assert set(found) == {"E2", "E4", "E5"}
    assert found["E2"]["category"] == "elderly_only" and found["E2"]["days_since"] == 60
    assert found["E4"]["category"] == "elderly" and found["E4"]["days_since"] == 121
    assert found["E5"]["last_visit"] is None and found["E5"]["days_since"] is None
    assert found["E2"]["grid_code"] == A1
    assert doc["unvisited"]["by_category"] == {"elderly_only": 2, "elderly": 1}
    assert doc["unvisited"]["households"] == {"elderly_only": 3, "elderly": 2}
    summary = run_checks(frames, settings=TOY, as_of=dt.date(2026, 11, 30)).summary("zh")
    assert "老人独居户超过 30 天未走访: 2" in summary and "有老人户超过 90 天未走访: 1" in summary
    # a report for an earlier date: E1's visit of 20 November had not happened, nor the next
    earlier = check(frames, as_of=dt.date(2026, 11, 10))
    assert {d["id"] for d in earlier["unvisited"]["items"]} >= {"E1", "E2"}


def test_visit_intervals_are_settings_and_refuse_nonsense(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GISGRID_CHECK_VISIT_DAYS", '{"elderly_only": 7}')
    assert CheckSettings().visit_days == {"elderly_only": 7}
    monkeypatch.setenv("GISGRID_CHECK_VISIT_DAYS", '{"children": 7}')
    with pytest.raises(ValueError, match="visit_days"):
        CheckSettings()


# --- 13. watchers' elders not visited this week -------------------------------------------------


def test_watchers_elders_not_visited_this_week_are_found():
    """A 岁月港湾 point in A1 (Point 100, 1900): its watcher looks after the elders of A1."""
    rows = clean_households()
    rows += [
        household("W1", 320, 1400, elderly=2, members=2),  # visited Monday: done
        household("W2", 340, 1400, elderly=1, members=4),  # visited last Sunday: not this week
        household("W3", 360, 1400, elderly=2, members=2),  # never visited
        household("W4", 380, 1400, elderly=2, members=2),  # visited only after as_of
        household("W5", 400, 1400, elderly=0, members=3),  # no elder: not watched
        household("W6", 300, 500, elderly=2, members=2),  # in A2: no watcher there
    ]
    points = [
        {"id": "S0", "kind": "village_centre", "village_code": V1, "geometry": Point(100, 100)},
        {"id": "SPE1", "kind": "elder_care", "village_code": V1, "geometry": Point(100, 1900)},
    ]
    frames = toy(households=rows, service_points=points)
    frames["service_points"]["name"] = ["测试一村便民服务站", "测试一村岁月港湾网格点1"]
    frames["visits"] = pd.DataFrame(
        {
            "household_id": ["W1", "W2", "W4"],
            "at": pd.to_datetime(["2026-12-07 09:00", "2026-12-06 23:30", "2026-12-10 10:00"]),
        }
    )
    wednesday = dt.date(2026, 12, 9)  # the week of Monday 7 to Sunday 13 December
    doc = check(frames, as_of=wednesday)
    found = {d["id"]: d for d in doc["watched_unvisited"]["items"]}
    assert set(found) == {"W2", "W3", "W4"}
    assert found["W2"]["last_visit"] == "2026-12-06 23:30:00"
    assert found["W3"]["last_visit"] is None and found["W4"]["last_visit"] is None
    assert found["W2"]["care_point_id"] == "SPE1" and found["W2"]["grid_code"] == A1
    assert found["W2"]["care_point"] == "测试一村岁月港湾网格点1"
    assert doc["watched_unvisited"]["week"] == ["2026-12-07", "2026-12-13"]
    assert doc["watched_unvisited"]["watched"] == 4
    summary = run_checks(frames, settings=TOY, as_of=wednesday).summary("zh")
    assert "本周（2026-12-07–2026-12-13）未走访: 3/4" in summary
    # on Sunday the week is the same; on the next Monday W1's visit no longer counts
    assert check(frames, as_of=dt.date(2026, 12, 13))["watched_unvisited"]["count"] == 2
    assert check(frames, as_of=dt.date(2026, 12, 14))["watched_unvisited"]["count"] == 4
