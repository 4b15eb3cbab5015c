"""One rule for a point's grid, one source of every per-area figure.

A store whose stored ``grid_code`` is stale (households moved into another village without
``gisgrid assign``) and partly missing: the check report, the web app's frames and dashboard
rows, and the maps' data and indicators all give every household the grid that covers it
now, and their figures per township, village and grid equal a brute-force count made here
from the reference engine (``assign_points_exact``) and plain shapely predicates.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from gisgrid import codes
from gisgrid.analysis import indicators
from gisgrid.analysis.assign import assign_points_exact, assign_store, current_grid_codes
from gisgrid.analysis.checks import check_store
from gisgrid.api.state import AppState
from gisgrid.cartography.data import load_area
from gisgrid.sample import write_sample_county
from gisgrid.stores.geopackage import GeoPackageStore

MOVED = 40
UNSET = 40


@pytest.fixture(scope="module")
def stale_store(sample_county: Any, tmp_path_factory: pytest.TempPathFactory) -> GeoPackageStore:
    """The sample county with stale and missing stored grid codes.

    Households of the first village are moved into a level-3 grid of another village (their
    stored ``grid_code`` kept), and other households lose their stored ``grid_code``.
    """
    store = GeoPackageStore(tmp_path_factory.mktemp("indicators") / "stale.gpkg")
    write_sample_county(store, sample_county)
    assign_store(store)
    hh = store.read("households")
    grids = store.read("grids")
    assert hh["grid_code"].notna().mean() > 0.9
    level3 = grids[grids["level"] == 3].sort_values("code")
    first_village = str(level3["village_code"].iloc[0])
    elsewhere = level3[level3["village_code"] != first_village].iloc[::7]
    movers = hh.index[hh["village_code"] == first_village][:MOVED]
    targets = shapely.point_on_surface(elsewhere.geometry.values[: len(movers)])
    hh.loc[movers, "geometry"] = targets
    rest = hh.index.difference(movers)
    hh.loc[rest[::500][:UNSET], "grid_code"] = None
    incidents = store.read("incidents")
    incidents.loc[incidents.index[:10], "geometry"] = targets[:10]
    store.write({"households": hh, "incidents": incidents}, mode="replace")
    return store


@pytest.fixture(scope="module")
def truth(stale_store: GeoPackageStore) -> dict[str, Any]:
    """Brute force: the reference engine and shapely predicates, one point at a time."""
    grids = stale_store.read("grids")
    villages = stale_store.read("villages").sort_values("code")
    level3 = grids[grids["level"] == 3][["code", "geometry"]]

    def areas(points: gpd.GeoDataFrame) -> pd.DataFrame:
        grid = assign_points_exact(points.geometry, level3)
        village = []
        for code, point in zip(grid, points.geometry, strict=True):
            if code is not None:
                village.append(codes.village_of(code))
                continue
            shapes = zip(villages["code"], villages.geometry, strict=True)
            covering = [c for c, g in shapes if g.covers(point)]
            village.append(min(covering) if covering else None)
        return pd.DataFrame(
            {
                "level3": grid,
                "level2": [None if c is None else codes.level2_of(c) for c in grid],
                "village": village,
                "township": [None if v is None else codes.township_of(v) for v in village],
            },
            index=points.index,
        )

    hh = stale_store.read("households")
    incidents = stale_store.read("incidents")
    return {
        "households": hh,
        "household_areas": areas(hh),
        "net": (hh["backbone"].fillna(False).astype(bool) | hh["backbone_id"].notna()).to_numpy(),
        "incidents": incidents,
        "incident_areas": areas(incidents),
        "grids": grids,
    }


def _count(areas: pd.DataFrame, code: str, mask: np.ndarray | None = None) -> int:
    column = {
        "township": "township",
        "village": "village",
        "level2": "level2",
        "level3": "level3",
    }[codes.kind_of(code)]
    hit = (areas[column] == code).to_numpy()
    return int((hit if mask is None else hit & mask).sum())


def _floored(part: int, whole: int) -> float:
    """A share floored to 0.1 % by integers (never 100 % unless it is; NaN without a whole)."""
    if not whole:
        return float("nan")
    return (part * 1000 // whole or (1 if part else 0)) / 1000


def _expected(truth: dict[str, Any], code: str, as_of: str) -> dict[str, Any]:
    areas = truth["household_areas"]
    n = _count(areas, code)
    linked = _count(areas, code, truth["net"])
    grids = truth["grids"]
    inc = truth["incidents"]
    recent = (inc["reported_at"] > pd.Timestamp(as_of) - pd.DateOffset(months=12)).to_numpy()
    return {
        "households": n,
        "linkage_share": _floored(linked, n),
        "linked": linked,
        "grids": int(sum(codes.lies_in(c, code) for c in grids.loc[grids["level"] == 3, "code"])),
        "incidents": _count(truth["incident_areas"], code, recent),
    }


@pytest.fixture(scope="module")
def app_state(stale_store: GeoPackageStore) -> AppState:
    return AppState.load(stale_store)


@pytest.fixture(scope="module")
def areas_under_test(truth: dict[str, Any]) -> dict[str, str]:
    """A township, a village, a level-2 and a level-3 grid that moved households went to."""
    areas = truth["household_areas"]
    hh = truth["households"]
    stored = hh["grid_code"].to_numpy(dtype=object)
    moved = [
        i
        for i, (s, c) in enumerate(zip(stored, areas["level3"], strict=True))
        if s and c and s != c
    ]
    grid = str(areas["level3"].iloc[moved[0]])
    return {
        "township": codes.township_of(grid),
        "village": codes.village_of(grid),
        "level2": codes.level2_of(grid),
        "level3": grid,
    }


# --- the store really is stale ------------------------------------------------------------------


def test_the_store_holds_stale_and_missing_grid_codes(truth: dict[str, Any]) -> None:
    stored = truth["households"]["grid_code"].to_numpy(dtype=object)
    now = truth["household_areas"]["level3"].to_numpy(dtype=object)
    stale = [s is not None and c is not None and s != c for s, c in zip(stored, now, strict=True)]
    missing = [s is None and c is not None for s, c in zip(stored, now, strict=True)]
    assert sum(stale) >= MOVED // 2
    assert sum(missing) >= UNSET // 2


# --- one grid per point, whoever reads ----------------------------------------------------------


def test_every_reader_gives_each_household_the_grid_covering_it_now(
    stale_store: GeoPackageStore, truth: dict[str, Any], app_state: AppState
) -> None:
    expected = pd.Series(
        truth["household_areas"]["level3"].to_numpy(), index=truth["households"]["id"]
    )

    def same(got: pd.Series) -> None:
        want = expected.reindex(got.index)
        assert [None if pd.isna(v) else v for v in got] == [None if pd.isna(v) else v for v in want]

    # the rule itself
    hh = truth["households"]
    same(pd.Series(current_grid_codes(hh.geometry, truth["grids"]), index=hh["id"]))
    # the web app's frames (dashboard, report, search)
    frames = app_state.frames()
    same(frames["households"].set_index("id")["grid_code"])
    # the maps' data, county-wide and for one village
    county = load_area(stale_store)
    same(county.households.set_index("id")["grid_code"])
    village = str(truth["household_areas"]["village"].dropna().iloc[0])
    same(load_area(stale_store, village=village).households.set_index("id")["grid_code"])
    # the check report: households outside every grid, and households per grid
    report = check_store(stale_store)
    outside = {d["id"] for d in report["households_outside"].items}
    assert outside == set(expected.index[expected.isna().to_numpy()])
    per_grid = expected.dropna().value_counts()
    for item in report["workload"].items:
        assert item["households"] == int(per_grid.get(item["code"], 0))
    l3 = truth["grids"].loc[truth["grids"]["level"] == 3, "code"]
    median = float(np.median(per_grid.reindex(l3).fillna(0)))
    assert report["workload"].extra["median_households"] == median


def test_the_dashboard_and_the_checks_agree_on_households_outside(app_state: AppState) -> None:
    report = app_state.report()
    frames = app_state.frames()
    none = set(frames["households"].loc[frames["households"]["grid_code"].isna(), "id"])
    assert {d["id"] for d in report["households_outside"]["items"]} == none


# --- every figure from one source, equal to a brute-force count ---------------------------------


def test_dashboard_rows_equal_a_brute_force_count(
    app_state: AppState, truth: dict[str, Any], areas_under_test: dict[str, str]
) -> None:
    frames, report = app_state.frames(), app_state.report()
    as_of = report["meta"]["as_of"]
    township, village = areas_under_test["township"], areas_under_test["village"]
    for level, within, code in (
        ("township", None, township),
        ("village", township, village),
        ("grid", village, areas_under_test["level2"]),
        ("grid", village, areas_under_test["level3"]),
    ):
        table = indicators.area_table(frames, report, level=level, within=within)
        row = table.set_index("code").loc[code]
        want = _expected(truth, code, as_of)
        assert row["households"] == want["households"] > 0, (level, code)
        assert row["linkage_share"] == pytest.approx(want["linkage_share"]), (level, code)
        assert row["incidents"] == want["incidents"], (level, code)
        if level != "grid":
            assert row["grids"] == want["grids"], (level, code)
    # every township row, and the county total
    table = indicators.area_table(frames, report, level="township")
    for code, n in zip(table["code"], table["households"], strict=True):
        assert n == _expected(truth, code, as_of)["households"]
    totals = indicators.totals(frames, report)
    assert totals["households"] == len(truth["households"])
    assert totals["linkage_share"] == _floored(int(truth["net"].sum()), len(truth["net"]))


def test_map_indicators_equal_a_brute_force_count(
    stale_store: GeoPackageStore, truth: dict[str, Any], areas_under_test: dict[str, str]
) -> None:
    township, village = areas_under_test["township"], areas_under_test["village"]
    data = load_area(stale_store, village=village)
    grid_ind = indicators.grid_indicators(data)
    for code in (village, areas_under_test["level2"], areas_under_test["level3"]):
        want = _expected(truth, code, "2000-01-01")
        assert grid_ind.loc[code, "households"] == want["households"] > 0, code
        assert grid_ind.loc[code, "linked"] == want["linked"], code
    assert (
        indicators.village_indicators(data).loc[village, "households"]
        == (_expected(truth, village, "2000-01-01")["households"])
    )
    area = load_area(stale_store, township=township)
    v_ind = indicators.village_indicators(area)
    for code in area.villages["code"]:
        want = _expected(truth, code, "2000-01-01")
        assert v_ind.loc[code, "households"] == want["households"], code
        assert v_ind.loc[code, "linked"] == want["linked"], code
    t_ind = indicators.township_indicators(area)
    assert t_ind.loc[township, "households"] == sum(
        _expected(truth, c, "2000-01-01")["households"] for c in area.villages["code"]
    )
    # a level-3 grid's incidents on the map: all of them, not only the last year's
    g3 = areas_under_test["level3"]
    assert grid_ind.loc[g3, "incidents"] == _count(truth["incident_areas"], g3)


def test_the_dashboard_and_the_map_give_the_same_figures(
    stale_store: GeoPackageStore, app_state: AppState, areas_under_test: dict[str, str]
) -> None:
    """Row by row: would fail as soon as the dashboard and the map count differently."""
    frames, report = app_state.frames(), app_state.report()
    township, village = areas_under_test["township"], areas_under_test["village"]
    county = load_area(stale_store)
    county_ind = indicators.township_indicators(county)
    rows = indicators.area_table(frames, report, level="township").set_index("code")
    assert rows["households"].to_dict() == county_ind["households"].to_dict()
    area = load_area(stale_store, township=township)
    v_ind = indicators.village_indicators(area)
    rows = indicators.area_table(frames, report, level="village", within=township)
    for code, n, share in zip(rows["code"], rows["households"], rows["linkage_share"], strict=True):
        assert v_ind.loc[code, "households"] == n
        assert _floored(int(v_ind.loc[code, "linked"]), n) == pytest.approx(share, nan_ok=True)
    data = load_area(stale_store, village=village)
    g_ind = indicators.grid_indicators(data)
    rows = indicators.area_table(frames, report, level="grid", within=village)
    for code, n in zip(rows["code"], rows["households"], strict=True):
        assert g_ind.loc[code, "households"] == n, code


def test_a_figure_read_from_stored_codes_would_disagree(
    truth: dict[str, Any], areas_under_test: dict[str, str]
) -> None:
    """The stale store tells the rules apart: counting stored codes gives other figures."""
    stored = truth["households"]["grid_code"]
    code = areas_under_test["level3"]
    assert int((stored == code).sum()) != _count(truth["household_areas"], code)


# --- typed results ----------------------------------------------------------------------------


def test_locate_returns_a_typed_result(app_state: AppState, truth: dict[str, Any]) -> None:
    from gisgrid.analysis.locate import Location

    row = truth["households"].iloc[0]
    where = app_state.locator.locate(row.geometry.x, row.geometry.y)
    assert isinstance(where, Location)
    assert where.in_grid == (where.level3 is not None)
    assert where.level3 is None or where.level3.code == truth["household_areas"]["level3"].iloc[0]
    assert [s.kind for s in where.nearest_services] == sorted(
        s.kind for s in where.nearest_services
    )
