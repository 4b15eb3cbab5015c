"""Every per-area figure, computed once: the dashboard's tables and the maps' colours read here.

A point counts in the areas it stands in *now*: its level-3 grid by the one rule of every
reader (:func:`gisgrid.analysis.assign.with_current_grid_codes`: the caller passes frames
whose ``grid_code`` it set), that grid's level-2 grid, village and township (from the code,
:mod:`gisgrid.codes`); a point in no level-3 grid counts in the village whose polygon covers
it (smallest code), and that village's township. A household is *in the net* when it is a
backbone household or linked to one (:func:`in_net`).

Figures per area (township, village, level-1/2/3 grid):

* ``households``, ``linked`` (households in the net), ``unlinked`` (the others), linkage
  share (:func:`floor_share`: never shown as 100 % or 0 % unless exactly so);
* ``grids`` (level-3 grids in it: a level-2 grid's level-3 children, 1 for a level-3 grid),
  ``unstaffed_grids`` (its grids, itself included, without a responsible person);
* ``incidents`` (all, or reported in the last 12 months for the dashboard);
* cases (:func:`case_figures`, from the incidents with their case columns,
  :func:`gisgrid.analysis.cases.case_columns`): ``open_cases`` (a deadline runs),
  ``overdue_cases`` (open and past it) and ``escalated_cases``: overdue cases that have
  escalated at least to the area's level (:func:`gisgrid.analysis.cases.reaches`; a
  township counts the cases escalated to the township or the county, a village those at
  the village or above, a grid every overdue case in it, the county those escalated to it);
* ``distance`` (level 3): median metres from its households to their nearest service point
  of any kind, measured in the metric CRS (from the grid's representative point when it has
  no households);
* from the check report: ``gaps`` (found in the area), ``beyond_service``
  (:func:`beyond_service_ids`: *distinct* households beyond the service radius of at least one
  checked kind, so never more than the area's households), six-no status (a village's: a
  township shows how many of its villages meet it, a grid none), ``unvisited`` (check 12:
  households with members aged 60+ not visited within their interval) and
  ``watched_unvisited`` (check 13: elders in the care of a 岁月港湾 watcher not visited this
  week), each household counted in the area of its level-3 grid now (else its village).

:func:`totals` gives the same figures for the area a page shows (county, township, village),
with the number of findings of each check that lie in it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.analysis.assign.rule import covering_codes
from gisgrid.analysis.cases import LEVELS, Level, reaches
from gisgrid.analysis.checks.report import report_of_area
from gisgrid.layers import kinds
from gisgrid.layers.schema import LOCAL_TZ

#: the layers every figure and the check report are computed from (the web app's dashboard,
#: the Excel workbook, ``gisgrid report``)
FIGURE_LAYERS = (
    "townships",
    "villages",
    "grids",
    "households",
    "service_points",
    "incidents",
    "visits",
)
#: the dashboard's columns, in order
COLUMNS = (
    "code",
    "name",
    "grids",
    "households",
    "linkage_share",
    "unlinked",
    "unstaffed_grids",
    "gaps",
    "overlaps",
    "nesting",
    "beyond_service",
    "incidents",
    "open_cases",
    "overdue_cases",
    "escalated_cases",
    "unvisited",
    "watched_unvisited",
    "six_no",
)
#: the columns counting a visit check's households in each area (checks 12 and 13)
VISIT_COLUMNS = ("unvisited", "watched_unvisited")
#: the case columns of :func:`case_figures`
CASE_COLUMNS = ("open_cases", "overdue_cases", "escalated_cases")
LABELS_ZH = {
    "code": "代码",
    "name": "名称",
    "grids": "网格数",
    "households": "户数",
    "linkage_share": "联户覆盖率",
    "unlinked": "未联户",
    "unstaffed_grids": kinds.CHECKS["unstaffed_grids"].zh,
    "gaps": kinds.CHECKS["gaps"].zh,
    "overlaps": kinds.CHECKS["overlaps"].zh,
    "nesting": kinds.CHECKS["nesting"].zh,
    "beyond_service": "超出服务半径户数",
    "incidents": "近12个月事件",
    "open_cases": "在办案件",
    "overdue_cases": "超期案件",
    "escalated_cases": "升级至本级",
    "unvisited": "未按期走访户",
    "watched_unvisited": "岁月港湾老人本周未走访",
    "six_no": "六无达标",
}
#: the six 六无 categories and the incident kinds each holds (safety and environment are one)
SIX_NO_CATEGORIES: dict[str, tuple[str, ...]] = dict(kinds.SIX_NO_KINDS_OF)


@dataclass(frozen=True)
class Layers:
    """The layers of an area (or the county) the figures are computed from.

    Point layers carry ``grid_code`` set by the one rule of every reader
    (:func:`gisgrid.analysis.assign.with_current_grid_codes`). A map's
    :class:`~gisgrid.cartography.data.AreaData` is one; :meth:`of` makes one of the frames
    the web app caches.
    """

    townships: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    service_points: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame

    @functools.cached_property
    def household_counts(self) -> pd.DataFrame:
        """Households and households in the net per area code (:func:`household_figures`
        without ``beyond``), computed once for these layers (a map asks for its grids, its
        villages and its townships). Do not change it: :func:`household_figures` hands
        out copies."""
        hh = self.households
        areas = areas_of_points(hh, self.villages)
        columns = {
            "households": _per_area(areas),
            "linked": _per_area(areas, in_net(hh).astype(float)),
        }
        return pd.DataFrame(columns).fillna(0).astype(int)

    @classmethod
    def of(cls, frames: Mapping[str, Any]) -> Layers:
        """The layers of ``frames`` (``townships`` … ``incidents``)."""
        return cls(
            townships=frames["townships"],
            villages=frames["villages"],
            grids=frames["grids"],
            households=frames["households"],
            service_points=frames["service_points"],
            incidents=frames["incidents"],
        )


# --- what a point counts in --------------------------------------------------------------------


def in_net(households: pd.DataFrame) -> np.ndarray:
    """Whether each household is in the party-member net (backbone, or linked to one)."""
    return (
        households["backbone"].fillna(False).astype(bool) | households["backbone_id"].notna()
    ).to_numpy()


def floor_share(part: int, whole: int) -> float:
    """``part / whole`` floored to a tenth of a percent, never 0 or 1 unless exactly so.

    Computed on integers, so that 12 households out of 30,000 outside the net read 99.9 %, not
    100.0 %; a share above 0 but below 0.1 % reads 0.1 %. NaN when ``whole`` is 0.
    """
    if whole <= 0:
        return float("nan")
    tenths = (int(part) * 1000) // int(whole)
    if part > 0 and tenths == 0:
        tenths = 1
    return tenths / 1000


def _map_codes(codes: np.ndarray, of: Callable[[Iterable[object]], np.ndarray]) -> np.ndarray:
    """``of`` of each code, computed once per distinct code (``None`` for a missing one)."""
    present = ~pd.isna(codes)
    out = np.full(len(codes), None, dtype=object)
    if present.any():
        ids, distinct = pd.factorize(codes[present])
        found = np.empty(len(distinct), dtype=object)
        found[:] = list(of(distinct))
        out[present] = found[ids]
    return out


def villages_of_points(points: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> np.ndarray:
    """The village each point counts in: its level-3 grid's, else the village covering it.

    Where several villages cover a point in no grid, the smallest code wins (the rule of
    :mod:`gisgrid.analysis.assign`); ``None`` where none does.
    """
    out = _map_codes(points["grid_code"].to_numpy(dtype=object), gridcodes.villages_of)
    loose = np.flatnonzero(pd.isna(out))
    if len(loose) and len(villages):
        out[loose] = covering_codes(
            np.asarray(points.geometry.values, dtype=object)[loose],
            np.asarray(villages.geometry.values, dtype=object),
            villages["code"].to_numpy(dtype=object),
        )
    return out


#: the kinds of area a point counts in, as columns of :func:`areas_of_points`
AREA_KINDS = ("county", "township", "village", "level2", "level3")


def areas_of_points(points: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per point: the ``county``, ``township``, ``village``, ``level2`` and ``level3`` it
    counts in (a store of a prefecture holds several counties)."""
    grid = points["grid_code"].to_numpy(dtype=object)
    village = villages_of_points(points, villages)
    return pd.DataFrame(
        {
            "county": _map_codes(village, gridcodes.counties_of),
            "township": _map_codes(village, gridcodes.townships_of),
            "village": village,
            "level2": _map_codes(grid, gridcodes.level2s_of),
            "level3": np.where(pd.isna(grid), None, grid),
        },
        index=points.index,
    )


def _per_area(areas: pd.DataFrame, weight: np.ndarray | None = None) -> pd.Series:
    """Number (or sum of ``weight``) of points per area code, over every area kind."""
    w = np.ones(len(areas)) if weight is None else np.asarray(weight, dtype=float)
    if len(areas) == 0:
        return pd.Series(dtype=float)
    # one pass over the points, then over the few distinct (township … level-3) tuples; a
    # point's village and level-3 grid decide its other areas, so those two make the key
    village, _ = pd.factorize(areas["village"].to_numpy(), use_na_sentinel=False)
    grid, grids = pd.factorize(areas["level3"].to_numpy(), use_na_sentinel=False)
    _, first, tuple_of = np.unique(
        village.astype(np.int64) * (len(grids) + 1) + grid, return_index=True, return_inverse=True
    )
    small = areas[list(AREA_KINDS)].take(first).assign(_w=np.bincount(tuple_of, weights=w))
    parts = [small.groupby(kind)["_w"].sum() for kind in AREA_KINDS]
    return pd.concat(parts).groupby(level=0).sum()


def count_within(items: Iterable[object], areas: Iterable[str]) -> np.ndarray:
    """For each area code, how many of the item codes lie in it (:func:`gisgrid.codes.lies_in`)."""
    item_list = list(items)
    area_list = list(areas)
    out = np.zeros(len(area_list), dtype=int)
    by_length: dict[int, pd.Series] = {}
    for i, area in enumerate(area_list):
        n = len(area)
        if n not in by_length:
            by_length[n] = pd.Series(gridcodes.prefixes_of(item_list, n)).value_counts()
        out[i] = int(by_length[n].get(area, 0))
    return out


# --- distances ----------------------------------------------------------------------------------


def _metric_xy(geoms: np.ndarray) -> np.ndarray:
    xy = shapely.get_coordinates(geoms)
    x, y = crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS).transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def nearest_service_m(points: gpd.GeoSeries | np.ndarray, services: gpd.GeoDataFrame) -> np.ndarray:
    """Distance in metres from each point to the nearest service point (NaN if there is none)."""
    geoms = np.asarray(points.values if isinstance(points, gpd.GeoSeries) else points, dtype=object)
    if len(geoms) == 0 or len(services) == 0:
        return np.full(len(geoms), np.nan)
    from scipy.spatial import cKDTree  # half a second to import: on first use

    tree = cKDTree(_metric_xy(services.geometry.values))
    dist, _ = tree.query(_metric_xy(geoms))
    return np.asarray(dist, dtype=float)


# --- figures of areas -------------------------------------------------------------------------


def beyond_service_ids(report: Mapping[str, Any]) -> set[str]:
    """The households beyond the service radius of at least one checked kind, each once.

    The check (:mod:`gisgrid.analysis.checks.services`) reports, per kind of service point in
    the service rules (:attr:`gisgrid.settings.CheckSettings.service_rules`, with their
    ``elderly_only`` and ``only_villages_with_points``), the households farther than the
    kind's ``max_m``. A household too far from both a clinic and the township centre is *one*
    household beyond the service radius: the figure is the union of the kinds' households,
    never their sum.
    """
    items = report.get("service_coverage", {}).get("items", [])
    return {
        str(hid)
        for item in items
        if item.get("problem") == "too_far"
        for hid in item.get("household_ids", [])
    }


def household_figures(layers: Layers, *, beyond: Collection[str] | None = None) -> pd.DataFrame:
    """Households and households in the net per area code (every kind of area; index: code).

    With ``beyond`` (household ids, :func:`beyond_service_ids`) a ``beyond_service`` column
    counts the households among them in each area.
    """
    if beyond is None:  # the grids', villages' and townships' figures of one map: once
        return layers.household_counts.copy()
    hh = layers.households
    areas = areas_of_points(hh, layers.villages)
    columns = {"households": _per_area(areas), "linked": _per_area(areas, in_net(hh).astype(float))}
    far = hh["id"].astype(str).isin(set(beyond)).to_numpy(dtype=float)
    columns["beyond_service"] = _per_area(areas, far)
    return pd.DataFrame(columns).fillna(0).astype(int)


def _share(linked: pd.Series, households: pd.Series) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(households > 0, linked / households.clip(lower=1), np.nan)


def _household_columns(
    layers: Layers, codes: pd.Index, *, beyond: Collection[str] | None = None
) -> pd.DataFrame:
    figures = household_figures(layers, beyond=beyond).reindex(codes).fillna(0).astype(int)
    figures["linkage"] = _share(figures["linked"], figures["households"])
    return figures


def grid_indicators(layers: Layers) -> pd.DataFrame:
    """Indicators of every grid of the area (index: code; levels 1-3).

    Columns: ``households``, ``linked`` (households in the net), ``linkage`` (share, NaN
    without households), ``distance`` (metres, level 3), ``incidents`` (level 3).
    """
    grids = layers.grids
    hh = layers.households
    out = _household_columns(layers, pd.Index(grids["code"], name="code"))
    assigned = hh["grid_code"].notna().to_numpy()
    dist = pd.Series(
        nearest_service_m(hh.geometry.values[assigned], layers.service_points),
        index=hh["grid_code"].to_numpy(dtype=object)[assigned],
    )
    median = dist.groupby(level=0).median() if len(dist) else pd.Series(dtype=float)
    out["distance"] = median.reindex(out.index).to_numpy(dtype=float)
    level3 = grids["level"].to_numpy() == 3
    missing = level3 & np.isnan(out["distance"].to_numpy())
    if missing.any():
        reps = shapely.point_on_surface(grids.geometry.values[missing])
        out.loc[grids["code"].to_numpy()[missing], "distance"] = nearest_service_m(
            reps, layers.service_points
        )
    out.loc[grids["code"].to_numpy()[~level3], "distance"] = np.nan
    inc = layers.incidents["grid_code"].dropna().value_counts()
    out["incidents"] = inc.reindex(out.index).fillna(0).astype(int).to_numpy()
    return out


def village_indicators(layers: Layers) -> pd.DataFrame:
    """Households, households in the net and linkage share per village (index: code)."""
    return _household_columns(layers, pd.Index(layers.villages["code"], name="code"))


def township_indicators(layers: Layers) -> pd.DataFrame:
    """Households, households in the net and linkage share per township (index: code)."""
    return _household_columns(layers, pd.Index(layers.townships["code"], name="code"))


def six_no_status(incidents: pd.DataFrame, village_codes: list[str]) -> pd.DataFrame:
    """Incidents of each 六无 category per village (index: village code); 0 everywhere = met.

    ``incidents`` carry the ``village_code`` they count in (:func:`villages_of_points`).
    """
    cats = {kind: cat for cat, ks in SIX_NO_CATEGORIES.items() for kind in ks}
    frame = pd.DataFrame(
        {"village": incidents["village_code"], "cat": incidents["kind"].map(cats)}
    ).dropna()
    table = pd.crosstab(frame["village"], frame["cat"]) if len(frame) else pd.DataFrame()
    return table.reindex(index=village_codes, columns=list(SIX_NO_CATEGORIES)).fillna(0).astype(int)


# --- cases ---------------------------------------------------------------------------------------

#: the level of the net each kind of area is at, for escalation (a level-2 grid is a grid)
AREA_LEVELS: dict[str, Level] = {
    "county": "county",
    "township": "township",
    "village": "village",
    "level2": "grid",
    "level3": "grid",
}


def case_figures(cases: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> pd.DataFrame:
    """Open, overdue and escalated cases per area code (every kind of area; index: code).

    Parameters
    ----------
    cases
        Incidents with their current ``grid_code`` and case columns ``open``, ``overdue``
        and ``level`` (:func:`gisgrid.analysis.cases.case_columns`).
    villages
        The villages (for cases in no level-3 grid).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CASE_COLUMNS`; an area without cases is missing (read it as 0).
    """
    if not len(cases):
        return pd.DataFrame(columns=list(CASE_COLUMNS), dtype=int)
    areas = areas_of_points(cases, villages)
    is_open = cases["open"].to_numpy(dtype=bool)
    late = cases["overdue"].to_numpy(dtype=bool)
    levels = cases["level"].to_numpy(dtype=object)
    columns: dict[str, pd.Series] = {
        "open_cases": _per_area(areas, is_open.astype(float)),
        "overdue_cases": _per_area(areas, late.astype(float)),
    }
    parts = []
    for kind, area_level in AREA_LEVELS.items():
        up = late & np.array([reaches(lv, area_level) for lv in levels], dtype=bool)
        parts.append(pd.Series(up.astype(float), index=cases.index).groupby(areas[kind]).sum())
    columns["escalated_cases"] = pd.concat(parts).groupby(level=0).sum()
    return pd.DataFrame(columns).fillna(0).astype(int)


def county_case_figures(cases: pd.DataFrame) -> dict[str, int]:
    """The county's :data:`CASE_COLUMNS`: escalated means escalated to the county."""
    late = cases["overdue"].to_numpy(dtype=bool)
    top = np.array([lv == LEVELS[-1] for lv in cases["level"]], dtype=bool)
    return {
        "open_cases": int(cases["open"].to_numpy(dtype=bool).sum()),
        "overdue_cases": int(late.sum()),
        "escalated_cases": int((late & top).sum()) if len(cases) else 0,
    }


# --- the dashboard --------------------------------------------------------------------------------


def area_table(
    frames: Mapping[str, pd.DataFrame],
    report: Mapping[str, Any],
    *,
    level: str,
    within: str | None = None,
    cases: gpd.GeoDataFrame | None = None,
    county_names: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Figures per area of ``level`` (``county``, ``township``, ``village`` or ``grid``)
    inside ``within``.

    Parameters
    ----------
    frames
        ``townships``, ``villages``, ``grids``, ``households``, ``service_points``,
        ``incidents`` (canonical, point layers with their current ``grid_code``).
    report
        The check report as a dict (:meth:`gisgrid.analysis.checks.CheckReport.to_dict`).
    level
        Rows are counties (prefecture view: the counties the townships lie in), townships
        (county view), villages (of a township) or level-2/3 grids (of a village).
    within
        A county code (for townships), a township code (for villages), a township or village
        code (for grids); none: the whole store.
    cases
        The incidents with their case columns (:func:`gisgrid.analysis.cases.case_columns`):
        adds :data:`CASE_COLUMNS` (:func:`case_figures`); without, they are 0.
    county_names
        The counties' names (county level; a county without one is named by its code).
    """
    layers = Layers.of(frames)
    g = layers.grids
    if level == "county":
        found = sorted({gridcodes.county_of(str(c)) for c in layers.townships["code"]})
        names = county_names or {}
        areas = pd.DataFrame({"code": found, "name": [names.get(c, c) for c in found]})
    elif level == "township":
        t = layers.townships
        inside = [gridcodes.lies_in(str(c), within or "") for c in t["code"]]
        areas = t.loc[np.array(inside, dtype=bool), ["code", "name"]]
    elif level == "village":
        v = layers.villages
        inside = [gridcodes.lies_in(c, within or "") for c in v["code"]]
        areas = v.loc[inside, ["code", "name"]]
    elif level == "grid":
        inside = [gridcodes.lies_in(str(c), within or "") for c in g["village_code"]]
        areas = g.loc[
            (g["level"] > 1) & np.array(inside, dtype=bool),
            ["code", "name", "level", "responsible_name", "responsible_phone"],
        ]
    else:
        raise ValueError(f"level must be county, township, village or grid, not {level!r}")
    out = pd.DataFrame(areas).sort_values("code").reset_index(drop=True)
    codes = list(out["code"])
    figures = _household_columns(layers, pd.Index(codes), beyond=beyond_service_ids(report))
    out["households"] = figures["households"].to_numpy()
    out["unlinked"] = (figures["households"] - figures["linked"]).to_numpy()
    out["linkage_share"] = [
        floor_share(linked, n)
        for linked, n in zip(figures["linked"], figures["households"], strict=True)
    ]
    # one definition at every level: level-3 grids and grids without a person in the area
    # (a level-2 grid's children, a level-3 grid itself)
    out["grids"] = count_within(g.loc[g["level"] == 3, "code"], codes)
    out["unstaffed_grids"] = count_within(g.loc[g["responsible_name"].isna(), "code"], codes)
    out["gaps"] = count_within(finding_places(report, "gaps"), codes)
    out["overlaps"] = count_within(finding_places(report, "overlaps"), codes)
    out["nesting"] = count_within(finding_places(report, "nesting"), codes)
    out["beyond_service"] = figures["beyond_service"].to_numpy()
    out["incidents"] = recent_incidents(layers, report, codes)
    per_area = (
        case_figures(cases, layers.villages)
        if cases is not None
        else pd.DataFrame(columns=list(CASE_COLUMNS))
    )
    for column in CASE_COLUMNS:
        out[column] = per_area[column].reindex(codes).fillna(0).astype(int).to_numpy()
    for column in VISIT_COLUMNS:
        out[column] = count_within(visit_places(report, column), codes)
    ok = set(report.get("six_no", {}).get("six_no_villages", []))
    if level == "village":
        out["six_no"] = [c in ok for c in codes]
    elif level in ("county", "township"):
        vcodes = list(layers.villages["code"])
        out["six_no"] = [
            f"{sum(1 for v in vcodes if gridcodes.lies_in(v, c) and v in ok)}/"
            f"{sum(1 for v in vcodes if gridcodes.lies_in(v, c))}"
            for c in codes
        ]
    else:  # six-no is a village's status: the village page shows it once, not per grid
        out["six_no"] = None
    return out


def finding_places(report: Mapping[str, Any], check: str) -> list[str]:
    """Where each finding of a boundary check (``gaps``, ``overlaps``, ``nesting``) counts.

    A gap or an overlap between siblings lies in their parent (``parent_code``); a grid
    outside its parent counts in the areas of its own code (a level-3 grid poking out of its
    level-2 parent counts in that level-2 grid, its village and township, and as itself).
    """
    items = report.get(check, {}).get("items", [])
    key = "code" if check == "nesting" else "parent_code"
    return [str(i.get(key) or "") for i in items]


def visit_places(report: Mapping[str, Any], check: str) -> list[str]:
    """Where each household a visit check (``unvisited``, ``watched_unvisited``) found counts:
    its level-3 grid now, else the village it is registered in."""
    items = report.get(check, {}).get("items", [])
    return [str(i.get("grid_code") or i.get("village_code") or "") for i in items]


def recent_incidents(layers: Layers, report: Mapping[str, Any], codes: list[str]) -> np.ndarray:
    """Incidents reported in the 12 months up to the report's ``as_of`` in each area."""
    inc = layers.incidents
    as_of = pd.Timestamp(report.get("meta", {}).get("as_of") or dt.date.today())
    recent = (inc["reported_at"] > as_of - pd.DateOffset(months=12)).to_numpy()
    areas = areas_of_points(inc[recent], layers.villages)
    counts = _per_area(areas)
    return np.asarray(counts.reindex(codes).fillna(0).astype(int).to_numpy(), dtype=int)


#: the months a trend covers (the month of the report's ``as_of`` last)
TREND_MONTHS = 12


def trend_months(report: Mapping[str, Any], *, months: int = TREND_MONTHS) -> list[pd.Period]:
    """The ``months`` calendar months up to the report's ``as_of`` (its month last)."""
    as_of = pd.Timestamp(report.get("meta", {}).get("as_of") or dt.date.today())
    last = as_of.to_period("M")
    return [last - k for k in range(months - 1, -1, -1)]


def _local_naive(when: pd.Series) -> pd.Series:
    """Times as naive county local times (times with an offset read in Asia/Shanghai)."""
    times = pd.to_datetime(when)
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        times = times.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    return times


def monthly_counts(
    points: gpd.GeoDataFrame,
    when: pd.Series,
    villages: gpd.GeoDataFrame,
    codes: Iterable[str | None],
    months: list[pd.Period],
) -> dict[str | None, list[int]]:
    """Per area code (``None``: the county), how many ``points`` fall in each of ``months``.

    A point counts in the month of ``when`` (county local time; NaT: in none) and in the
    areas it counts in now (:func:`areas_of_points`).
    """
    period = _local_naive(when).dt.to_period("M")
    out: dict[str | None, list[int]] = {code: [0] * len(months) for code in codes}
    keep = period.isin(months).to_numpy(dtype=bool)
    if not keep.any():
        return out
    areas = areas_of_points(points[keep], villages)
    slot = {m: i for i, m in enumerate(months)}
    month_of = period[keep].map(slot).to_numpy(dtype=int)
    for i in range(len(months)):
        counts = _per_area(areas[month_of == i])
        for code in out:
            out[code][i] = int((month_of == i).sum()) if code is None else int(counts.get(code, 0))
    return out


def monthly_trend(
    frames: Mapping[str, pd.DataFrame],
    report: Mapping[str, Any],
    codes: Iterable[str | None],
    *,
    cases: gpd.GeoDataFrame | None = None,
) -> dict[str | None, dict[str, list[int]]]:
    """Per area code (``None``: the county): ``reported`` (incidents reported) and ``closed``
    (cases closed: :func:`gisgrid.analysis.cases.case_columns`' ``closed_at``) in each of the
    :func:`trend_months`, counted where each incident stands now."""
    layers = Layers.of(frames)
    months = trend_months(report)
    wanted = list(codes)
    inc = layers.incidents
    reported = monthly_counts(inc, inc["reported_at"], layers.villages, wanted, months)
    if cases is not None and len(cases):
        closed = monthly_counts(cases, cases["closed_at"], layers.villages, wanted, months)
    else:
        closed = {code: [0] * len(months) for code in wanted}
    return {code: {"reported": reported[code], "closed": closed[code]} for code in wanted}


def totals(
    frames: Mapping[str, pd.DataFrame],
    report: Mapping[str, Any],
    *,
    within: str | None = None,
    cases: gpd.GeoDataFrame | None = None,
) -> dict[str, Any]:
    """The figures of the area a page shows: the county, or the township or village ``within``.

    Keys: ``townships``, ``villages`` (in the area), ``grids`` (per level 1-3, in the area),
    ``households``, ``linked``, ``unlinked``, ``linkage_share`` (:func:`floor_share`),
    ``beyond_service`` (:func:`beyond_service_ids` in the area), ``six_no`` (villages meeting
    it), :data:`CASE_COLUMNS` (with ``cases``, as :func:`area_table` takes them; escalated:
    to the area's level, the county's for the county) and ``findings``: per check, the
    number of findings (county) or of findings that name a
    place in the area (:func:`gisgrid.analysis.checks.report.report_of_area`).
    """
    layers = Layers.of(frames)
    g = layers.grids
    beyond = beyond_service_ids(report)
    hh = layers.households
    if within is None:
        households = len(hh)
        linked = int(in_net(hh).sum())
        far = int(hh["id"].astype(str).isin(beyond).sum())
        scope = report
    else:
        row = household_figures(layers, beyond=beyond).reindex([within]).fillna(0).iloc[0]
        households, linked, far = (int(row[k]) for k in ("households", "linked", "beyond_service"))
        scope = report_of_area(report, within)

    def inside(codes: Iterable[object]) -> int:
        return int(count_within(codes, [within])[0]) if within else len(list(codes))

    ok = report.get("six_no", {}).get("six_no_villages", [])
    case_totals = dict.fromkeys(CASE_COLUMNS, 0)
    if cases is not None and within is None:
        case_totals = county_case_figures(cases)
    elif cases is not None and within is not None:
        found = case_figures(cases, layers.villages).reindex([within]).fillna(0)
        case_totals = {c: int(found[c].iloc[0]) for c in CASE_COLUMNS}
    return {
        **case_totals,
        "townships": inside(layers.townships["code"]),
        "villages": inside(layers.villages["code"]),
        "grids": {lv: inside(g.loc[g["level"] == lv, "code"]) for lv in (1, 2, 3)},
        "households": households,
        "linked": linked,
        "unlinked": households - linked,
        "linkage_share": floor_share(linked, households),
        "beyond_service": far,
        "six_no": inside(ok),
        "findings": {
            name: int(value.get("count", 0))
            for name, value in scope.items()
            if isinstance(value, Mapping) and "count" in value
        },
    }


def combined_totals(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The :func:`totals` of areas that do not overlap (a prefecture's counties) as one
    area's: every count summed, the linkage share of the sums (:func:`floor_share`)."""
    out: dict[str, Any] = {
        **dict.fromkeys(CASE_COLUMNS, 0),
        "townships": 0,
        "villages": 0,
        "grids": dict.fromkeys((1, 2, 3), 0),
        "households": 0,
        "linked": 0,
        "beyond_service": 0,
        "six_no": 0,
        "findings": {},
    }
    for part in parts:
        for key in (*CASE_COLUMNS, "townships", "villages", "households", "linked"):
            out[key] += int(part.get(key, 0))
        out["beyond_service"] += int(part["beyond_service"])
        out["six_no"] += int(part["six_no"])
        for level, n in part["grids"].items():
            out["grids"][level] += int(n)
        for name, n in part["findings"].items():
            out["findings"][name] = out["findings"].get(name, 0) + int(n)
    out["unlinked"] = out["households"] - out["linked"]
    out["linkage_share"] = floor_share(out["linked"], out["households"])
    return out


__all__ = [
    "AREA_KINDS",
    "AREA_LEVELS",
    "CASE_COLUMNS",
    "COLUMNS",
    "LABELS_ZH",
    "SIX_NO_CATEGORIES",
    "TREND_MONTHS",
    "VISIT_COLUMNS",
    "Layers",
    "area_table",
    "areas_of_points",
    "beyond_service_ids",
    "case_figures",
    "combined_totals",
    "count_within",
    "county_case_figures",
    "finding_places",
    "floor_share",
    "grid_indicators",
    "household_figures",
    "in_net",
    "monthly_counts",
    "monthly_trend",
    "nearest_service_m",
    "recent_incidents",
    "six_no_status",
    "totals",
    "township_indicators",
    "trend_months",
    "village_indicators",
    "villages_of_points",
    "visit_places",
]
