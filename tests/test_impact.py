"""What a change would do (gisgrid.analysis.impact), on the toy village of test_edits.

The expected moves are derived independently of gisgrid's assignment engine: a plain
geopandas spatial join (``covered_by``) of the points with the level-3 grids before and after,
the smallest code taken where several cover a point (the documented rule).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from test_edits import P1, A, B, C, D, E, H, lonlat, m2, poly, toy

from gisgrid import crs as crsmod
from gisgrid.analysis import edits
from gisgrid.analysis.impact import change_impact
from gisgrid.settings import CheckSettings

WEST, EAST = P1 + "005", P1 + "006"  # the pieces of A split along x = 75


def points(xy: dict[str, tuple[float, float]], layer: str = "households") -> gpd.GeoDataFrame:
    ids = list(xy)
    geoms = shapely.points(lonlat([xy[i] for i in ids]))
    frame = gpd.GeoDataFrame({"id": ids}, geometry=list(geoms), crs=crsmod.STORAGE_CRS)
    if layer == "incidents":
        frame["kind"] = "dispute"
    return frame


def grid_by_sjoin(frame: gpd.GeoDataFrame, grids: pd.DataFrame) -> dict[str, str | None]:
    """Each point's level-3 grid by a plain spatial join: covered by, smallest code wins."""
    level3 = gpd.GeoDataFrame(grids[grids["level"] == 3][["code", "geometry"]], crs=4326)
    joined = gpd.sjoin(frame, level3, how="left", predicate="covered_by")
    out: dict[str, str | None] = {}
    for pid, code in zip(joined["id"], joined["code"], strict=True):
        code = code if isinstance(code, str) else None
        prev = out.get(pid)
        out[pid] = code if prev is None or (code is not None and code < prev) else prev
    return out


@pytest.fixture
def grids() -> Any:
    frame = toy()
    # A and B have persons of their own; C and E keep 张三
    frame.loc[frame["code"] == A, ["responsible_name", "responsible_phone"]] = [
        "李四",
        "13811112222",
    ]
    frame.loc[frame["code"] == B, ["responsible_name", "responsible_phone"]] = [
        "王五",
        "13833334444",
    ]
    return frame


def split_a(grids: Any) -> Any:
    # the cut has a vertex of its own inside A, at (75, 100): it becomes a vertex of both pieces
    cut = shapely.LineString(lonlat([(75, -20), (75, 100), (75, 230)]))
    return edits.split_grid(grids, A, cut)


def test_a_split_moves_the_households_the_spatial_join_moves(grids: Any) -> None:
    homes = points(
        {
            "h-west": (30, 100),
            "h-east": (120, 50),
            "h-on-new-edge": (75, 100),  # exactly on the edge between the two pieces
            # the corner A, B and E share: A's before (smallest code), B's after (the east
            # piece keeps the corner, but B's code is smaller)
            "h-on-corner": (150, 200),
            "h-in-b": (200, 100),
            "h-in-c": (50, 300),
            "h-outside": (900, 900),
        }
    )
    changed = split_a(grids)
    assert changed["code"].tolist() == [A, WEST, EAST]
    after = edits.apply_change(grids, changed)
    was, now = grid_by_sjoin(homes, grids), grid_by_sjoin(homes, after)
    # the point on the new edge is covered by both pieces: the smaller code takes it
    on_edge = gpd.sjoin(
        homes[homes["id"] == "h-on-new-edge"],
        gpd.GeoDataFrame(after[after["level"] == 3][["code", "geometry"]], crs=4326),
        predicate="covered_by",
    )
    assert sorted(on_edge["code"]) == [WEST, EAST]
    expected = {(i, was[i], now[i]) for i in was if was[i] != now[i]}
    assert expected == {
        ("h-west", A, WEST),
        ("h-east", A, EAST),
        ("h-on-new-edge", A, WEST),
        ("h-on-corner", A, B),
    }

    impact = change_impact(grids, changed, {"households": homes})
    got = {(m.id, m.from_grid, m.to_grid) for m in impact.moves["households"]}
    assert got == expected
    # areas before and after, in m²
    by_code = {g.code: g for g in impact.grids}
    assert by_code[A].change == "retired"
    assert by_code[A].area_before_m2 == pytest.approx(150 * 200, rel=1e-4)
    assert by_code[A].area_after_m2 is None
    for piece in (WEST, EAST):
        assert by_code[piece].change == "added" and by_code[piece].derived_from == (A,)
        assert by_code[piece].area_before_m2 is None
        assert by_code[piece].area_after_m2 == pytest.approx(75 * 200, rel=1e-4)
    assert impact.codes("added") == [WEST, EAST]


def test_persons_gain_and_lose_and_the_workload_is_banded(grids: Any) -> None:
    homes = points(
        {
            "h1": (30, 100),
            "h2": (120, 50),
            "h3": (150, 200),  # on the corner of A, B, E: leaves 李四 (A) for 王五 (B)
            "h4": (200, 100),
            "h5": (50, 300),
        }
    )
    settings = CheckSettings(min_households=1, max_households=1)
    impact = change_impact(grids, split_a(grids), {"households": homes}, settings=settings)
    persons = {p.name: p for p in impact.persons}
    assert set(persons) == {"李四", "王五"}  # 张三 (C, E) keeps what they had
    assert (persons["李四"].before, persons["李四"].after) == (3, 2)
    assert persons["李四"].grids_before == (A,)
    assert persons["李四"].grids_after == (WEST, EAST)  # the pieces keep the person
    assert (persons["王五"].before, persons["王五"].after) == (1, 2)
    loads = {w.code: (w.households_before, w.households, w.band) for w in impact.workload}
    assert loads == {
        B: (1, 2, "too_many"),
        C: (1, 1, "ok"),
        E: (0, 0, "too_few"),
        WEST: (0, 1, "ok"),
        EAST: (0, 1, "ok"),
        D: (0, 0, "too_few"),  # every level-3 grid of the village
        H: (0, 0, "too_few"),
    }
    assert impact.band == (1, 1)


def test_a_reshape_moves_the_strip_and_every_point_layer(grids: Any) -> None:
    # A takes 30 m of B: what stands in the strip moves from B to A; the rest stays
    moved = poly([(0, 0), (100, 0), (180, 0), (180, 200), (150, 200), (100, 200), (0, 200)])
    changed = edits.reshape_grid(grids, A, moved)
    layers = {
        "households": points({"in-strip": (165, 100), "in-b": (250, 100)}),
        "service_points": points({"sp-strip": (170, 20), "sp-a": (20, 20)}, "service_points"),
        "incidents": points({"inc-strip": (179, 199), "inc-e": (200, 300)}, "incidents"),
    }
    impact = change_impact(grids, changed, layers)
    after = edits.apply_change(grids, changed)
    for layer, frame in layers.items():
        was, now = grid_by_sjoin(frame, grids), grid_by_sjoin(frame, after)
        expected = {(i, was[i], now[i]) for i in was if was[i] != now[i]}
        assert {(m.id, m.from_grid, m.to_grid) for m in impact.moves[layer]} == expected
        assert len(expected) == 1 and next(iter(expected))[1:] == (B, A)
    by_code = {g.code: g for g in impact.grids}
    assert by_code[A].area_after_m2 - by_code[A].area_before_m2 == pytest.approx(6000, rel=1e-3)
    assert by_code[B].area_before_m2 - by_code[B].area_after_m2 == pytest.approx(6000, rel=1e-3)
    assert m2(shapely.union_all(list(after.geometry[after["code"].isin([A, B])]))) == (
        pytest.approx(300 * 200, rel=1e-4)
    )


def test_an_attribute_edit_moves_no_one_but_the_persons(grids: Any) -> None:
    homes = points({"h1": (30, 100), "h2": (200, 100)})
    changed = edits.edit_attributes(grids, A, responsible_name="赵六", responsible_phone="")
    impact = change_impact(grids, changed, {"households": homes})
    assert impact.moves["households"] == ()
    assert [(g.code, g.change, g.area_before_m2 == g.area_after_m2) for g in impact.grids] == [
        (A, "edited", True)
    ]
    persons = {(p.name, p.before, p.after) for p in impact.persons}
    assert persons == {("李四", 1, 0), ("赵六", 0, 1)}
    assert C in {w.code for w in impact.workload}
