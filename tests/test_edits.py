"""Grid edits (gisgrid.analysis.edits): topology by construction and the validation of a change.

The toy village is drawn in metres in the metric CRS (UTM 49N) around Huarong and stored in
EPSG:4326, so every area below follows from the drawing. V = level-1 grid [0, 600] x [0, 400];
level-2 P1 = [0, 300] x [0, 400], P2 = [300, 600] x [0, 400]::

    y=400 +----+---------+------------------------------+
          | C  |    E    |   D  (with two holes, filled  |
    y=200 +----+----+----+        by the two parts of H)  |
          |    A    | B  |     [H1]          [H2]        |
    y=0   +---------+----+------------------------------+
         x=0  100  150  300                            600

A, B, C, E are level-3 grids of P1: the vertex (150, 200) is shared by A, B and E, the vertex
(100, 200) by A, C and E. D (a polygon with two holes) and H (a multipolygon of the two
islands H1 = [400, 450] x [150, 250], H2 = [520, 570] x [150, 250]) are the level-3 grids of P2.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisgrid import crs as crsmod
from gisgrid.analysis import edits
from gisgrid.analysis.checks import run_checks
from gisgrid.analysis.checks.context import metric_area
from gisgrid.errors import GridEditError, NotFoundError
from gisgrid.layers import LAYERS
from gisgrid.settings import CheckSettings

X0, Y0 = 690_000.0, 3_265_000.0  # UTM 49N, near Huarong
V = "430623101201"
P1, P2 = V + "001", V + "002"
A, B, C, E = (P1 + s for s in ("001", "002", "003", "004"))
D, H = P2 + "001", P2 + "002"


def lonlat(xy: Any) -> np.ndarray:
    arr = np.asarray(xy, dtype=float)
    lon, lat = crsmod.convert_points(
        arr[:, 0] + X0, arr[:, 1] + Y0, source=crsmod.METRIC_CRS, target=crsmod.STORAGE_CRS
    )
    return np.column_stack([lon, lat])


def poly(shell: list[tuple[float, float]], *holes: list[tuple[float, float]]) -> shapely.Polygon:
    return shapely.Polygon(lonlat(shell), [lonlat(h) for h in holes])


def square(x0: float, y0: float, x1: float, y1: float) -> list[tuple[float, float]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def to_xy(geom: shapely.Geometry) -> shapely.Geometry:
    """A stored geometry in the toy's metres."""
    m = crsmod.transform_geometry_array(geom, source=crsmod.STORAGE_CRS, target=crsmod.METRIC_CRS)
    out: shapely.Geometry = shapely.affinity.translate(m, -X0, -Y0)
    return out


def m2(geom: shapely.Geometry) -> float:
    return float(metric_area(np.asarray([geom], dtype=object))[0])


H1, H2 = square(400, 150, 450, 250), square(520, 150, 570, 250)
SHAPES: dict[str, tuple[int, str | None, shapely.Geometry]] = {
    V: (1, None, poly([(0, 0), (300, 0), (600, 0), (600, 400), (300, 400), (0, 400)])),
    P1: (2, V, poly([(0, 0), (100, 0), (150, 0), (300, 0), (300, 200), (300, 400), (0, 400)])),
    P2: (2, V, poly([(300, 0), (600, 0), (600, 400), (300, 400), (300, 200)])),
    A: (3, P1, poly([(0, 0), (100, 0), (150, 0), (150, 200), (100, 200), (0, 200)])),
    B: (3, P1, poly([(150, 0), (300, 0), (300, 200), (150, 200)])),
    C: (3, P1, poly([(0, 200), (100, 200), (100, 400), (0, 400)])),
    E: (3, P1, poly([(100, 200), (150, 200), (300, 200), (300, 400), (100, 400)])),
    D: (3, P2, poly([(300, 0), (600, 0), (600, 400), (300, 400), (300, 200)], H1, H2)),
    H: (3, P2, shapely.MultiPolygon([poly(H1), poly(H2)])),
}


def toy(shapes: dict[str, tuple[int, str | None, shapely.Geometry]] | None = None) -> Any:
    """The toy grids as a store returns them (validated against the grids layer)."""
    rows = []
    for code, (level, parent, geom) in (shapes or SHAPES).items():
        rows.append(
            {
                "code": code,
                "level": level,
                "parent_code": parent,
                "village_code": V,
                "name": f"网格{code[-3:]}",
                "responsible_name": "张三",
                "geometry": geom,
            }
        )
    frame = gpd.GeoDataFrame(rows, geometry="geometry", crs=crsmod.STORAGE_CRS)
    return LAYERS["grids"].validate(frame).set_crs(crsmod.STORAGE_CRS, allow_override=True)


@pytest.fixture
def grids() -> Any:
    return toy()


def boundary_findings(frame: pd.DataFrame) -> dict[str, int]:
    report = run_checks({"grids": frame}, settings=CheckSettings())
    return {
        name: report[name].count for name in ("invalid_geometries", "overlaps", "gaps", "nesting")
    }


def geometry_of(frame: pd.DataFrame, code: str) -> shapely.Geometry:
    return frame.loc[frame["code"] == code].geometry.iloc[0]


def assert_tiles(original: shapely.Geometry, pieces: list[shapely.Geometry]) -> None:
    """The pieces cover the original (areas within 0.01 %) and do not overlap."""
    whole = m2(original)
    assert sum(m2(p) for p in pieces) == pytest.approx(whole, rel=1e-4)
    for i, p in enumerate(pieces):
        for q in pieces[i + 1 :]:
            assert m2(shapely.intersection(p, q)) < 1e-3
    union = shapely.union_all(pieces)
    assert m2(shapely.symmetric_difference(union, original)) < whole * 1e-4


def line(*points: tuple[float, float]) -> shapely.LineString:
    return shapely.LineString(lonlat(points))


# --- split ------------------------------------------------------------------------------


def test_split_tiles_the_original_and_allocates_two_new_codes(grids: Any) -> None:
    changed = edits.split_grid(grids, A, line((75, -20), (75, 230)))
    assert changed[edits.CHANGE].tolist() == ["retired", "added", "added"]
    assert changed["code"].tolist() == [A, P1 + "005", P1 + "006"]
    assert changed[edits.DERIVED_FROM].tolist()[1:] == [A, A]
    assert set(changed["parent_code"]) == {P1}
    assert changed.crs == crsmod.STORAGE_CRS
    pieces = list(changed.geometry.iloc[1:])
    assert all(p.geom_type == "MultiPolygon" for p in pieces)
    assert_tiles(geometry_of(grids, A), pieces)
    assert sorted(m2(p) for p in pieces) == pytest.approx([75 * 200, 75 * 200], rel=1e-4)
    # the untouched corners keep their stored coordinates exactly (shared edges stay shared)
    corner = tuple(lonlat([(150, 200)])[0])
    assert corner in {tuple(c) for c in shapely.get_coordinates(pieces[1]).tolist()}
    assert edits.validate_change(grids, changed) == []
    assert boundary_findings(edits.apply_change(grids, changed)) == dict.fromkeys(
        ("invalid_geometries", "overlaps", "gaps", "nesting"), 0
    )


def test_split_of_a_multipolygon_with_the_line_crossing_one_part(grids: Any) -> None:
    changed = edits.split_grid(grids, H, line((425, 100), (425, 300)))
    left, right = changed.geometry.iloc[1], changed.geometry.iloc[2]
    assert_tiles(geometry_of(grids, H), [left, right])
    # the part the line misses goes with the nearer piece (the right half of H1)
    areas = sorted([m2(left), m2(right)])
    assert areas == pytest.approx([25 * 100, 25 * 100 + 50 * 100], rel=1e-4)
    assert edits.validate_change(grids, changed) == []


def test_split_of_a_grid_with_holes(grids: Any) -> None:
    changed = edits.split_grid(grids, D, line((490, -10), (490, 410)))
    assert_tiles(geometry_of(grids, D), list(changed.geometry.iloc[1:]))
    assert edits.validate_change(grids, changed) == []


@pytest.mark.parametrize(
    ("drawn", "why"),
    [
        ([(75, -20), (75, 100)], "edge to edge"),  # ends inside
        ([(1000, -20), (1000, 500)], "outside"),  # misses the grid
        ([(40, -20), (40, 230), (110, 230), (110, -20)], "3 pieces"),  # crosses twice
        ([(-50, 0), (200, 0)], "edge to edge|outside"),  # runs along its edge
    ],
)
def test_split_refuses_a_line_that_does_not_cut_the_grid_in_two(
    grids: Any, drawn: list[tuple[float, float]], why: str
) -> None:
    with pytest.raises(GridEditError, match=why):
        edits.split_grid(grids, A, line(*drawn))


def test_split_refuses_a_level1_grid_and_a_sliver_piece(grids: Any) -> None:
    with pytest.raises(GridEditError, match="level-1"):
        edits.split_grid(grids, V, line((75, -20), (75, 430)))
    with pytest.raises(GridEditError, match="only"):
        edits.split_grid(grids, A, line((0.01, -20), (0.01, 230)))


def test_new_codes_never_reuse_a_retired_code(grids: Any) -> None:
    retired = grids[grids["code"] == A].assign(code=P1 + "007")
    with_history = pd.concat([grids, retired], ignore_index=True)
    assert edits.allocate_codes(with_history, P1, 2) == [P1 + "008", P1 + "009"]
    assert edits.allocate_codes(grids, P2, 1) == [P2 + "003"]


# --- merge ------------------------------------------------------------------------------


def test_merge_equals_the_union_with_a_new_code(grids: Any) -> None:
    changed = edits.merge_grids(grids, [A, B, E])
    assert changed[edits.CHANGE].tolist() == ["retired"] * 3 + ["added"]
    merged = changed.iloc[-1]
    assert merged["code"] == P1 + "005"
    assert merged[edits.DERIVED_FROM] == f"{A},{B},{E}"
    assert merged["name"] == "网格004"  # the largest keeps its name and person
    union = shapely.union_all([geometry_of(grids, c) for c in (A, B, E)])
    assert m2(shapely.symmetric_difference(merged.geometry, union)) < 1e-3
    assert len(shapely.get_parts(merged.geometry)) == 1
    assert edits.validate_change(grids, changed) == []


def test_merge_refuses_non_siblings_and_non_adjacent(grids: Any) -> None:
    with pytest.raises(GridEditError, match="siblings"):
        edits.merge_grids(grids, [B, D])
    with pytest.raises(GridEditError, match="share no"):
        edits.merge_grids(grids, [C, B])
    with pytest.raises(GridEditError, match="two grids"):
        edits.merge_grids(grids, [A, A])


def test_merge_refuses_grids_touching_at_a_corner_only() -> None:
    shapes = dict(SHAPES)
    shapes[A] = (3, P1, poly(square(0, 0, 150, 200)))
    shapes[B] = (3, P1, poly(square(150, 0, 300, 200)))
    shapes[C] = (3, P1, poly(square(0, 200, 150, 400)))
    shapes[E] = (3, P1, poly(square(150, 200, 300, 400)))
    with pytest.raises(GridEditError, match="share no"):
        edits.merge_grids(toy(shapes), [A, E])


# --- reshape ----------------------------------------------------------------------------


def test_reshape_moving_a_shared_edge_30m_moves_the_neighbour_with_it(grids: Any) -> None:
    moved = poly([(0, 0), (100, 0), (180, 0), (180, 200), (150, 200), (100, 200), (0, 200)])
    changed = edits.reshape_grid(grids, A, moved)
    assert set(changed[edits.CHANGE]) == {"reshaped"}
    assert sorted(changed["code"]) == [A, B]
    gained = m2(geometry_of(changed, A)) - m2(geometry_of(grids, A))
    lost = m2(geometry_of(grids, B)) - m2(geometry_of(changed, B))
    assert gained == pytest.approx(30 * 200, rel=1e-4)
    assert lost == pytest.approx(gained, rel=1e-6)
    after = edits.apply_change(grids, changed)
    assert boundary_findings(after) == dict.fromkeys(
        ("invalid_geometries", "overlaps", "gaps", "nesting"), 0
    )
    assert edits.validate_change(grids, changed) == []


def test_reshape_giving_up_area_hands_it_to_the_neighbour_along_it(grids: Any) -> None:
    # A pulls its east edge back 30 m: B takes the strip (the vertex shared by 3 grids moves)
    moved = poly([(0, 0), (100, 0), (120, 0), (120, 200), (100, 200), (0, 200)])
    changed = edits.reshape_grid(grids, A, moved)
    gained = m2(geometry_of(changed, B)) - m2(geometry_of(grids, B))
    assert gained == pytest.approx(30 * 200, rel=1e-4)
    assert m2(geometry_of(grids, A)) - m2(geometry_of(changed, A)) == pytest.approx(gained)
    after = edits.apply_change(grids, changed)
    counts = boundary_findings(after)
    assert counts["overlaps"] == counts["gaps"] == 0
    assert edits.validate_change(grids, changed) == []


def test_reshape_shares_a_corner_given_up_among_the_grids_meeting_there(grids: Any) -> None:
    # A gives up the 30 m square at (150, 200), the vertex it shares with B and E: B takes
    # the half nearer to it (below the diagonal), E the other half
    moved = poly(
        [(0, 0), (100, 0), (150, 0), (150, 170), (120, 170), (120, 200), (100, 200), (0, 200)]
    )
    changed = edits.reshape_grid(grids, A, moved)
    assert sorted(changed["code"]) == [A, B, E]
    gained = {c: m2(geometry_of(changed, c)) - m2(geometry_of(grids, c)) for c in (B, E)}
    assert gained[B] + gained[E] == pytest.approx(900, rel=1e-4)
    assert gained[B] == pytest.approx(450, abs=30)
    after = edits.apply_change(grids, changed)
    counts = boundary_findings(after)
    assert counts["overlaps"] == counts["gaps"] == counts["invalid_geometries"] == 0
    assert edits.validate_change(grids, changed) == []


def test_reshape_is_clipped_to_the_parent_and_refuses_swallowing(grids: Any) -> None:
    # drawn 50 m beyond the parent's south edge: clipped
    beyond = poly([(0, -50), (150, -50), (150, 200), (100, 200), (0, 200)])
    changed = edits.reshape_grid(grids, A, beyond)
    assert m2(geometry_of(changed, A)) == pytest.approx(150 * 200, rel=1e-4)
    assert edits.validate_change(grids, changed) == []
    with pytest.raises(GridEditError, match="merge"):
        edits.reshape_grid(grids, A, poly(square(0, 0, 300, 200)))


def test_reshaping_a_level2_grid_whose_children_do_not_follow_is_reported(grids: Any) -> None:
    # P1 takes 30 m of P2 (P2 follows), but the level-3 grids are not moved: D sticks out
    # of P2 and a gap opens in P1 beside B
    moved = poly([(0, 0), (100, 0), (150, 0), (330, 0), (330, 400), (0, 400)])
    changed = edits.reshape_grid(grids, P1, moved)
    assert sorted(changed["code"]) == [P1, P2]
    problems = edits.validate_change(grids, changed)
    assert {(p.kind, p.codes) for p in problems} == {("outside_parent", (D,)), ("gap", (P1,))}
    for p in problems:
        assert p.area_m2 == pytest.approx(30 * 400, rel=1e-2)


def test_reshape_on_the_sample_county(sample_gpkg: Any) -> None:
    grids = sample_gpkg.read("grids")
    level3 = grids[grids["level"] == 3]
    row = level3.iloc[len(level3) // 2]
    parent = geometry_of(grids, row["parent_code"])
    m = to_xy(row.geometry)
    grown = shapely.intersection(shapely.buffer(m, 30), to_xy(parent))
    grown = shapely.affinity.translate(grown, X0, Y0)
    drawn = crsmod.transform_geometry_array(
        grown, source=crsmod.METRIC_CRS, target=crsmod.STORAGE_CRS
    )
    changed = edits.reshape_grid(grids, row["code"], drawn)
    assert len(changed) >= 2
    gained = m2(geometry_of(changed, row["code"])) - m2(row.geometry)
    lost = sum(
        m2(geometry_of(grids, c)) - m2(geometry_of(changed, c))
        for c in changed["code"]
        if c != row["code"]
    )
    assert gained > 1000
    assert lost == pytest.approx(gained, rel=1e-3)
    assert edits.validate_change(grids, changed) == []


# --- split and merge on the sample county -------------------------------------------------


def test_split_and_merge_on_the_sample_county(sample_gpkg: Any) -> None:
    grids = sample_gpkg.read("grids")
    level3 = grids[grids["level"] == 3]
    row = level3.iloc[100]
    m = to_xy(row.geometry)
    x = float(shapely.point_on_surface(m).x)
    _, miny, _, maxy = shapely.bounds(m)
    changed = edits.split_grid(grids, row["code"], line((x, miny - 50), (x, maxy + 50)))
    assert_tiles(row.geometry, list(changed.geometry.iloc[1:]))
    siblings = level3[level3["parent_code"] == row["parent_code"]]
    highest = max(int(c[-3:]) for c in grids["code"] if c.startswith(row["parent_code"]))
    assert changed["code"].tolist()[1:] == [
        f"{row['parent_code']}{highest + 1:03d}",
        f"{row['parent_code']}{highest + 2:03d}",
    ]
    assert edits.validate_change(grids, changed) == []
    # merge: this grid and a sibling sharing an edge with it
    other = next(
        c
        for c, g in zip(siblings["code"], siblings.geometry, strict=True)
        if c != row["code"] and shapely.length(shapely.intersection(g.boundary, row.geometry)) > 0
    )
    merged = edits.merge_grids(grids, [row["code"], other])
    union = shapely.union_all([row.geometry, geometry_of(grids, other)])
    assert m2(shapely.symmetric_difference(merged.geometry.iloc[-1], union)) < 1e-2
    assert edits.validate_change(grids, merged) == []


# --- snap -------------------------------------------------------------------------------


def test_snap_pulls_vertices_onto_a_neighbours_vertex_and_edge(grids: Any) -> None:
    # drawn: one vertex 2 m off B's corner (300, 200) → onto it exactly; one 2 m off E's
    # edge (y = 400 at x = 220) → onto the edge; one 50 m away from everything stays
    drawn = poly([(152, 202), (301.4, 201.4), (220, 398), (180, 300)])
    snapped = edits.snap(drawn, grids, 3.0, exclude=[E])
    coords = shapely.get_coordinates(snapped)
    corner = lonlat([(300, 200)])[0]
    assert any((c == corner).all() for c in coords)
    near_edge = to_xy(shapely.Point(coords[2]))
    assert near_edge.y == pytest.approx(400, abs=1e-3)
    assert near_edge.x == pytest.approx(220, abs=0.01)
    inside = to_xy(shapely.Point(coords[3]))
    assert (inside.x, inside.y) == pytest.approx((180, 300), abs=1e-6)
    # (152, 202) was 2.8 m from the vertex (150, 200) shared by A, B and E: onto it
    assert (coords[0] == lonlat([(150, 200)])[0]).all()
    assert edits.snap(drawn, grids, 0) is drawn


def test_snap_pulls_onto_the_parents_boundary(grids: Any) -> None:
    drawn = poly([(50, -2), (140, 1.5), (140, 150), (50, 150)])
    snapped = edits.snap(drawn, grids, 3.0, exclude=[A, B, C, E])
    coords = [to_xy(shapely.Point(c)) for c in shapely.get_coordinates(snapped)]
    seen = [(round(p.x, 2), round(p.y, 2)) for p in coords]
    # (50, -2) and (140, 1.5) lie near no vertex: onto the parent's edge; the parent's vertex
    # (100, 0) along the drawn edge is added to it, so the two edges run together
    assert seen[:3] == [(50, 0), (100, 0), (140, 0)]


# --- validate_change ------------------------------------------------------------------------


def raw_change(grids: Any, code: str, geom: shapely.Geometry, change: str = "reshaped") -> Any:
    """A change made by hand, not by an edit (as an import or a careless client would)."""
    row = grids[grids["code"] == code].copy()
    row["geometry"] = [shapely.MultiPolygon([geom]) if geom.geom_type == "Polygon" else geom]
    row[edits.CHANGE] = change
    return gpd.GeoDataFrame(row, geometry="geometry", crs=crsmod.STORAGE_CRS)


def location_xy(problem: edits.EditProblem) -> shapely.Geometry:
    assert problem.geometry is not None
    return to_xy(shapely.geometry.shape(problem.geometry))


def test_validate_finds_an_80m_overlap_with_a_sibling(grids: Any) -> None:
    grown = poly(
        [(0, 0), (100, 0), (150, 0), (230, 0), (230, 200), (150, 200), (100, 200), (0, 200)]
    )
    problems = edits.validate_change(grids, raw_change(grids, A, grown))
    assert [p.kind for p in problems] == ["overlap"]
    (p,) = problems
    assert p.codes == (A, B)
    assert p.area_m2 == pytest.approx(80 * 200, rel=1e-2)
    assert "重叠" in p.message_zh and "overlap" in p.message
    assert location_xy(p).bounds == pytest.approx((150, 0, 230, 200), abs=0.15)


def test_validate_finds_a_grid_2km_outside_its_parent(grids: Any) -> None:
    moved = shapely.affinity.translate(to_xy(geometry_of(grids, B)), 2000, 0)
    moved = crsmod.transform_geometry_array(
        shapely.affinity.translate(moved, X0, Y0),
        source=crsmod.METRIC_CRS,
        target=crsmod.STORAGE_CRS,
    )
    problems = edits.validate_change(grids, raw_change(grids, B, moved))
    kinds = {p.kind: p for p in problems}
    assert set(kinds) == {"outside_parent", "gap"}
    outside = kinds["outside_parent"]
    assert outside.codes == (B,)
    assert outside.area_m2 == pytest.approx(150 * 200, rel=1e-2)
    assert location_xy(outside).bounds == pytest.approx((2150, 0, 2300, 200), abs=0.15)
    assert "超出" in outside.message_zh
    # where B was, P1 (and, seen from P1's parent, nothing: P1 still covers it) has a gap
    assert kinds["gap"].codes == (P1,)
    assert location_xy(kinds["gap"]).bounds == pytest.approx((150, 0, 300, 200), abs=0.15)


def test_validate_finds_a_missing_parent(grids: Any) -> None:
    orphan = raw_change(grids, C, geometry_of(grids, C).geoms[0], change="added")
    orphan["code"] = V + "009001"
    orphan["parent_code"] = V + "009"
    problems = edits.validate_change(grids, orphan)
    missing = [p for p in problems if p.kind == "parent_missing"]
    assert len(missing) == 1
    assert missing[0].codes == (V + "009001",)
    assert V + "009" in missing[0].message and "不存在" in missing[0].message_zh
    assert location_xy(missing[0]).bounds == pytest.approx((0, 200, 100, 400), abs=0.15)


def test_validate_finds_a_deleted_level2_parent(grids: Any) -> None:
    retired = raw_change(grids, P2, geometry_of(grids, P2), change="retired")
    problems = edits.validate_change(grids, retired)
    assert {(p.kind, p.codes) for p in problems} == {
        ("parent_missing", (D,)),
        ("parent_missing", (H,)),
        ("gap", (V,)),
    }


def test_validate_finds_a_new_gap(grids: Any) -> None:
    shrunk = poly([(0, 0), (100, 0), (120, 0), (120, 200), (100, 200), (0, 200)])
    problems = edits.validate_change(grids, raw_change(grids, A, shrunk))
    assert [p.kind for p in problems] == ["gap"]
    assert problems[0].area_m2 == pytest.approx(30 * 200, rel=1e-2)
    assert location_xy(problems[0]).bounds == pytest.approx((120, 0, 150, 200), abs=0.15)
    assert "缝隙" in problems[0].message_zh and "gap" in problems[0].message


def test_validate_finds_a_reused_code_and_a_code_off_the_rule(grids: Any) -> None:
    split = edits.split_grid(grids, C, line((50, 190), (50, 410)))
    codes = split["code"].tolist()
    split.loc[split["code"] == codes[1], "code"] = E  # in use
    split.loc[split["code"] == codes[2], "code"] = P2 + "009"  # not under its parent
    problems = [p for p in edits.validate_change(grids, split) if p.kind == "code"]
    assert {p.codes for p in problems} == {(E,), (P2 + "009",)}
    assert all(p.geometry is not None and p.message_zh for p in problems)


def test_validate_reports_an_invalid_outline(grids: Any) -> None:
    bowtie = poly([(0, 0), (150, 200), (150, 0), (0, 200)])
    problems = edits.validate_change(grids, raw_change(grids, A, bowtie))
    assert "invalid_geometry" in {p.kind for p in problems}
    bad = next(p for p in problems if p.kind == "invalid_geometry")
    assert bad.geometry is not None and "无效" in bad.message_zh


def test_problems_already_in_the_store_are_not_reported() -> None:
    # before: B overlaps E by 20 m and C leaves a gap of 10 m under P1's north edge
    shapes = dict(SHAPES)
    shapes[B] = (3, P1, poly([(150, 0), (300, 0), (300, 200), (300, 220), (150, 220), (150, 200)]))
    shapes[C] = (3, P1, poly([(0, 200), (100, 200), (100, 390), (0, 390)]))
    grids = toy(shapes)
    before = boundary_findings(grids)
    assert before["overlaps"] == 1 and before["gaps"] == 1
    assert (
        edits.validate_change(grids, edits.split_grid(grids, A, line((75, -20), (75, 230)))) == []
    )
    assert edits.validate_change(grids, edits.merge_grids(grids, [A, C])) == []
    # B's overlap with E grows by 30 m: only the growth is reported
    grown = poly([(150, 0), (300, 0), (300, 200), (300, 250), (150, 250), (150, 200)])
    problems = edits.validate_change(grids, raw_change(grids, B, grown))
    assert [p.kind for p in problems] == ["overlap"]
    assert problems[0].area_m2 == pytest.approx(30 * 150, rel=1e-2)


def test_problem_as_dict_is_json_ready(grids: Any) -> None:
    import json

    shrunk = poly([(0, 0), (100, 0), (120, 0), (120, 200), (100, 200), (0, 200)])
    (problem,) = edits.validate_change(grids, raw_change(grids, A, shrunk))
    data = json.loads(json.dumps(problem.as_dict(), ensure_ascii=False))
    assert data["kind"] == "gap" and data["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_a_change_set_of_several_edits_is_validated_as_one(grids: Any) -> None:
    split = edits.split_grid(grids, A, line((75, -20), (75, 230)))
    middle = edits.apply_change(grids, split)
    east_piece = split["code"].iloc[2]
    moved = poly(
        [(75, 0), (100, 0), (150, 0), (180, 0), (180, 200), (150, 200), (100, 200), (75, 200)]
    )
    reshape = edits.reshape_grid(middle, east_piece, moved)
    merged = edits.merge_grids(edits.apply_change(middle, reshape), [C, E])
    change_set = edits.combine_changes([split, reshape, merged])
    states = dict(zip(change_set["code"], change_set[edits.CHANGE], strict=True))
    assert states == {
        A: "retired",
        split["code"].iloc[1]: "added",
        east_piece: "added",
        B: "reshaped",
        C: "retired",
        E: "retired",
        P1 + "007": "added",
    }
    row = change_set[change_set["code"] == east_piece].iloc[0]
    assert row[edits.DERIVED_FROM] == A
    assert m2(row.geometry) == pytest.approx(105 * 200, rel=1e-4)
    assert edits.validate_change(grids, change_set) == []
    # born and gone within the set: never there
    again = edits.merge_grids(edits.apply_change(grids, split), list(split["code"].iloc[1:]))
    both = edits.combine_changes([split, again])
    assert sorted(both[edits.CHANGE]) == ["added", "retired"]


def test_grids_retired_before_only_hold_their_codes(grids: Any) -> None:
    old = grids[grids["code"] == A].assign(code=P1 + "007", valid_to=pd.Timestamp("2020-01-01"))
    with_history = pd.concat([grids, old], ignore_index=True)
    changed = edits.split_grid(with_history, A, line((75, -20), (75, 230)))
    assert changed["code"].tolist()[1:] == [P1 + "008", P1 + "009"]
    assert edits.validate_change(with_history, changed) == []  # the old A overlaps nothing now
    moved = poly([(0, 0), (100, 0), (180, 0), (180, 200), (150, 200), (100, 200), (0, 200)])
    assert sorted(edits.reshape_grid(with_history, A, moved)["code"]) == [A, B]
    with pytest.raises(NotFoundError):
        edits.split_grid(with_history, P1 + "007", line((75, -20), (75, 230)))


# --- add --------------------------------------------------------------------------------


def test_add_grid_takes_what_it_covers_from_the_siblings(grids: Any) -> None:
    # drawn 50 m beyond P1's west edge: clipped to [0, 150] x [100, 300]; it takes the north
    # half of A west of 150 (A keeps its south half), the south half of C and of E's west part
    drawn = poly(square(-50, 100, 150, 300))
    changed = edits.add_grid(grids, P1, drawn, name="新网格")
    assert changed[edits.CHANGE].tolist() == ["added", "reshaped", "reshaped", "reshaped"]
    new = changed.iloc[0]
    assert new["code"] == P1 + "005"  # the next sequence under P1
    assert (new["level"], new["parent_code"], new["village_code"]) == (3, P1, V)
    assert new["name"] == "新网格" and pd.isna(new["responsible_name"])
    assert pd.isna(new[edits.DERIVED_FROM])
    assert m2(new.geometry) == pytest.approx(150 * 200, rel=1e-4)
    assert changed["code"].tolist()[1:] == [A, C, E]
    lost = {c: m2(geometry_of(grids, c)) - m2(geometry_of(changed, c)) for c in (A, C, E)}
    assert lost == pytest.approx({A: 150 * 100, C: 100 * 100, E: 50 * 100}, rel=1e-4)
    after = edits.apply_change(grids, changed)
    assert boundary_findings(after) == dict.fromkeys(
        ("invalid_geometries", "overlaps", "gaps", "nesting"), 0
    )
    assert edits.validate_change(grids, changed) == []
    # the grids layer takes the new row as it is
    LAYERS["grids"].validate(changed.drop(columns=[edits.CHANGE, edits.DERIVED_FROM]))


def test_add_grid_under_a_level1_grid_is_level2(grids: Any) -> None:
    changed = edits.add_grid(grids, V, poly(square(250, 350, 350, 400)), name="新片区")
    new = changed.iloc[0]
    assert (new["code"], new["level"], new["parent_code"]) == (V + "003", 2, V)
    assert sorted(changed["code"].tolist()[1:]) == [P1, P2]


def test_add_grid_refuses_what_cannot_be_drawn(grids: Any) -> None:
    with pytest.raises(GridEditError, match="whole"):  # C lies entirely inside
        edits.add_grid(grids, P1, poly(square(-10, 190, 110, 410)), name="x")
    with pytest.raises(GridEditError, match="outside"):
        edits.add_grid(grids, P1, poly(square(1000, 0, 1100, 100)), name="x")
    with pytest.raises(GridEditError, match="level-3"):
        edits.add_grid(grids, A, poly(square(10, 10, 50, 50)), name="x")
    with pytest.raises(GridEditError, match="only"):  # a 2 m² sliver
        edits.add_grid(grids, P1, poly(square(0, 0, 1, 2)), name="x")
    with pytest.raises(NotFoundError):
        edits.add_grid(grids, V + "009", poly(square(10, 10, 50, 50)), name="x")
    # a reshape drawn wholly outside the parent is refused the same way (not a crash)
    with pytest.raises(GridEditError, match="outside"):
        edits.reshape_grid(grids, A, poly(square(1000, 0, 1100, 100)))


# --- attributes -------------------------------------------------------------------------


def test_edit_attributes_changes_the_values_not_the_outline(grids: Any) -> None:
    changed = edits.edit_attributes(
        grids, B, name="新名字", responsible_name="李四", responsible_phone="13812345678"
    )
    assert changed[edits.CHANGE].tolist() == ["edited"]
    row = changed.iloc[0]
    assert (row["code"], row["name"], row["responsible_name"]) == (B, "新名字", "李四")
    assert row["responsible_phone"] == "13812345678"
    assert row.geometry.equals_exact(geometry_of(grids, B), 0)
    after = edits.apply_change(grids, changed)
    assert len(after) == len(grids)
    assert after.loc[after["code"] == B, "name"].iloc[0] == "新名字"
    assert edits.validate_change(grids, changed) == []
    # an empty text clears a responsible person's field
    cleared = edits.edit_attributes(grids, B, responsible_name="")
    assert pd.isna(cleared["responsible_name"].iloc[0])


def test_edit_attributes_refuses_values_the_layer_refuses(grids: Any) -> None:
    with pytest.raises(GridEditError, match="responsible_phone"):
        edits.edit_attributes(grids, B, responsible_phone="12345")
    with pytest.raises(GridEditError, match="name"):
        edits.edit_attributes(grids, B, name="   ")
    with pytest.raises(GridEditError, match="nothing to change"):
        edits.edit_attributes(grids, B, name="网格002")
    with pytest.raises(NotFoundError):
        edits.edit_attributes(grids, P1 + "099", name="x")


def test_validate_reports_an_edited_value_off_the_rule(grids: Any) -> None:
    bad = raw_change(grids, B, geometry_of(grids, B), change="edited")
    bad["responsible_phone"] = "12345"
    problems = edits.validate_change(grids, bad)
    assert [(p.kind, p.codes) for p in problems] == [("attribute", (B,))]
    assert "responsible_phone" in problems[0].message and problems[0].geometry is not None


def test_combined_edits_keep_the_last_attributes_and_outline(grids: Any) -> None:
    moved = poly([(0, 0), (100, 0), (180, 0), (180, 200), (150, 200), (100, 200), (0, 200)])
    reshape = edits.reshape_grid(grids, A, moved)
    middle = edits.apply_change(grids, reshape)
    named = edits.edit_attributes(middle, A, name="改名")
    both = edits.combine_changes([reshape, named])
    row = both[both["code"] == A].iloc[0]
    assert (row[edits.CHANGE], row["name"]) == ("reshaped", "改名")
    assert m2(row.geometry) == pytest.approx(180 * 200, rel=1e-4)
    # edited first, then reshaped: reshaped, with the new name (the reshape saw it)
    renamed = edits.edit_attributes(grids, A, name="改名")
    reshaped = edits.reshape_grid(edits.apply_change(grids, renamed), A, moved)
    row = edits.combine_changes([renamed, reshaped]).set_index("code").loc[A]
    assert (row[edits.CHANGE], row["name"]) == ("reshaped", "改名")
    # added then edited: still added, with the new name
    added = edits.add_grid(grids, P1, poly(square(-50, 100, 150, 300)), name="新网格")
    new_code = added["code"].iloc[0]
    renamed_new = edits.edit_attributes(edits.apply_change(grids, added), new_code, name="新名")
    row = edits.combine_changes([added, renamed_new]).set_index("code").loc[new_code]
    assert (row[edits.CHANGE], row["name"]) == ("added", "新名")
    assert edits.validate_change(grids, edits.combine_changes([added, renamed_new])) == []


def test_a_cut_across_long_edges_keeps_them_straight_in_lonlat() -> None:
    # the little county's level-3 grids are 7 km wide: an edge straight in lon/lat bows some
    # 0.3 m in metres, so a vertex cut into it in metres must come back onto the lon/lat edge
    from conftest import V1, raw_frame

    grids = LAYERS["grids"].validate(raw_frame("grids"))
    cut = shapely.LineString([(112.44, 29.71), (112.44, 29.59)])
    changed = edits.split_grid(grids, V1 + "001001", cut)
    assert edits.validate_change(grids, changed) == []
    # the fixture's own findings (it has gaps elsewhere), no more
    assert boundary_findings(edits.apply_change(grids, changed)) == boundary_findings(grids)
