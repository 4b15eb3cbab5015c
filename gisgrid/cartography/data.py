"""What a map shows, read from a store: an area's layers and the check findings in it.

Maps read the store and the analysis results; they never change the store. This module only
gathers an area's frames: every point's level-3 grid is the one that covers it now, by the
one rule of every reader (:func:`gisgrid.analysis.assign.current_grid_codes`; the stored
``grid_code`` is what the last ``gisgrid assign`` wrote, for exchange), and every figure a
map shows (households, linkage, distance, incidents, six-no status) comes from
:mod:`gisgrid.analysis.indicators`, which the dashboard reads too. The grids shown, and
those the points are looked up in, are those in force on the map's date
(:func:`gisgrid.analysis.assign.in_force`, default today): a retired grid is not drawn.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.analysis.assign import current_grid_codes, grid_index, local_now
from gisgrid.analysis.cases import case_columns, summarise_cases
from gisgrid.analysis.checks.people import (
    not_visited_this_week,
    unvisited_households,
    watched_elders,
)
from gisgrid.analysis.checks.report import CheckReport
from gisgrid.analysis.indicators import Layers, villages_of_points
from gisgrid.analysis.versions import net_on
from gisgrid.errors import UnknownAreaError
from gisgrid.settings import CaseSettings, CheckSettings
from gisgrid.stores.base import Reader

#: the check findings a map can draw, in drawing order
DRAWN_CHECKS = ("gaps", "overlaps", "nesting", "households_outside")


@dataclass
class Finding:
    """One drawable item of a check report: which check, its shape, and what it says."""

    check: str
    geometry: shapely.Geometry
    props: dict[str, Any]


@dataclass(frozen=True)
class AreaData(Layers):
    """The layers of one area (county, township, village or grid) as a map shows them."""

    scope: str
    scope_code: str | None
    findings: list[Finding] = field(default_factory=list)
    #: the area's households not visited within their interval (check 12's rule,
    #: :func:`gisgrid.analysis.checks.people.unvisited_households`): their rows with
    #: ``category``, ``last_visit`` and ``days_since``
    visits_due: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: the area's elders in the care of a 岁月港湾 watcher not visited this week (check 13's
    #: rule, :func:`gisgrid.analysis.checks.people.not_visited_this_week`), with
    #: ``care_point_id``, ``care_point`` and ``last_visit``
    watched_due: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Lon/lat bounds of the area (its villages, or its grids for a grid scope)."""
        frame = self.grids if self.scope == "grid" else self.villages
        b = frame.total_bounds
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])

    def level(self, n: int) -> gpd.GeoDataFrame:
        """The grids of level ``n`` in the area, by code."""
        g = self.grids
        return g[g["level"] == n].sort_values("code").reset_index(drop=True)


def _empty_like(frame: pd.DataFrame) -> Any:
    return frame.iloc[0:0]


def load_area(
    store: Reader,
    *,
    township: str | None = None,
    village: str | None = None,
    grid: str | None = None,
    report: Report | None = None,
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
    case_settings: CaseSettings | None = None,
) -> AreaData:
    """Read what a map of the county, one township, one village or one grid shows.

    Parameters
    ----------
    store
        The store to read.
    township, village, grid
        At most one: the code of the area (none: the whole county). A grid code may be of
        level 1, 2 or 3; the area is the grid and its descendants.
    report
        A check report (see :func:`findings_from_report`); its drawable findings inside
        the area are kept.
    as_of
        The date whose grids are shown and take the points (default: today).
    now
        The clock the cases' stages and lateness are read on (county local time, naive;
        default: now): each incident gets its case columns (``status`` its stage now,
        ``open``, ``overdue``, ``level``, ``due``: :func:`gisgrid.analysis.cases.case_columns`
        of :func:`gisgrid.analysis.cases.summarise_cases`, never the stored status alone);
        its date is the day the households' visits are judged on (the rules of checks 12
        and 13: ``visits_due``, ``watched_due``).
    case_settings
        The cases' time limits (default: from the environment).

    Raises
    ------
    UnknownAreaError
        When more than one area is given or its code is not in the store.
    """
    given = [(k, v) for k, v in (("township", township), ("village", village), ("grid", grid)) if v]
    if len(given) > 1:
        raise UnknownAreaError("give at most one of --township, --village, --grid")
    scope, code = given[0] if given else ("county", None)

    townships = store.read("townships")
    villages = store.read("villages")
    if scope == "township":
        villages = villages[villages["township_code"] == code]
        if villages.empty:
            raise UnknownAreaError(f"no township {code} with villages in {store.url}")
    elif scope in ("village", "grid"):
        assert code is not None
        village = gridcodes.village_of(code)
        villages = villages[villages["code"] == village]
        if villages.empty:
            raise UnknownAreaError(f"no village {village} in {store.url}")
    townships = townships[townships["code"].isin(villages["township_code"])]
    village_codes = sorted(villages["code"])

    if scope == "county":
        grids = net_on(store, as_of)
    else:
        grids = net_on(store, as_of, where={"village_code": village_codes})
    if scope == "grid":
        assert code is not None
        grids = grids[[gridcodes.lies_in(c, code) for c in grids["code"]]]
        if grids.empty:
            raise UnknownAreaError(f"no grid {code} in {store.url}")

    # points: read around the area, assign against every level-3 grid around it
    box = None
    if scope != "county":
        b = (grids if scope == "grid" else villages).total_bounds
        pad = 0.002  # about 200 m: points on the edge still find their grid
        box = (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad)
    index = grid_index(
        grids if box is None else net_on(store, as_of, bbox=box, where={"level": 3}), as_of=as_of
    )
    area_codes = set(grids.loc[grids["level"] == 3, "code"])

    @functools.cache
    def area_shape() -> shapely.Geometry:
        """The area's outline (the county's map never asks: every point is in it)."""
        parts = grids[grids["level"] == grids["level"].min()] if scope == "grid" else villages
        return shapely.union_all(parts.geometry)

    def in_area(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        frame = frame.copy()
        frame["grid_code"] = current_grid_codes(frame.geometry, index)
        if scope == "county":
            return frame.reset_index(drop=True)
        inside = frame["grid_code"].isin(area_codes).to_numpy()
        loose = frame["grid_code"].isna().to_numpy().copy()
        if loose.any():
            loose &= np.asarray(shapely.covered_by(frame.geometry.values, area_shape()))
        return frame[inside | loose].reset_index(drop=True)

    households = in_area(store.read("households", bbox=box))
    clock = now or local_now()
    visits = store.read(
        "visits",
        where=None if scope == "county" else {"household_id": sorted(households["id"])},
        columns=["household_id", "at"],
    )
    visits_due = unvisited_households(
        households, visits, as_of=clock.date(), visit_days=CheckSettings().visit_days
    ).sort_values("id", kind="stable")  # by id: the same on every store
    incidents = in_area(store.read("incidents", bbox=box))
    steps = store.read("case_steps")
    if len(incidents) and len(steps):
        steps = steps[steps["incident_id"].isin(set(incidents["id"]))]
    summaries = summarise_cases(incidents, steps, now=now or local_now(), settings=case_settings)
    incidents = case_columns(incidents, summaries)
    incidents["village_code"] = villages_of_points(incidents, villages)

    # service points: the area's, and the nearest ones around it (a household's nearest
    # service point may lie in the next village)
    points = store.read("service_points")
    if scope != "county":
        points = points[_within_m(points, area_shape(), 3000.0)].reset_index(drop=True)
    points = points.copy()
    points_index = index
    if scope != "county" and len(points):
        # the nearby service points may lie beyond the box: their grids are read around them
        x0, y0, x1, y1 = (float(v) for v in points.total_bounds)
        around = net_on(store, as_of, bbox=(x0, y0, x1, y1), where={"level": 3})
        points_index = grid_index(around, as_of=as_of)
    points["grid_code"] = current_grid_codes(points.geometry, points_index)
    watched = watched_elders(
        households, households["grid_code"].to_numpy(), points, points["grid_code"].to_numpy()
    )
    watched_due = not_visited_this_week(watched, visits, as_of=clock.date()).sort_values(
        "id", kind="stable"
    )

    findings = []
    if report is not None:
        findings = [
            f
            for f in findings_from_report(report)
            if scope == "county" or f.geometry.intersects(area_shape().buffer(0.001))
        ]
    return AreaData(
        scope=scope,
        scope_code=code,
        townships=townships.reset_index(drop=True),
        villages=villages.sort_values("code").reset_index(drop=True),
        grids=grids.reset_index(drop=True),
        households=households,
        service_points=points,
        incidents=incidents,
        findings=findings,
        visits_due=visits_due,
        watched_due=watched_due,
    )


def _within_m(points: gpd.GeoDataFrame, shape: shapely.Geometry, metres: float) -> np.ndarray:
    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    tr = crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS)
    metric_shape = shapely.transform(
        shape, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
    )
    xy = shapely.get_coordinates(points.geometry.values)
    pts = shapely.points(np.column_stack(tr.transform(xy[:, 0], xy[:, 1])))
    return np.asarray(shapely.dwithin(pts, metric_shape, metres))


# --- check reports --------------------------------------------------------------------------


#: what a check report may be given as: the report, its JSON text, or the parsed mapping
Report = CheckReport | Mapping[str, Any] | str | bytes


def _report_dict(report: Report) -> Mapping[str, Any]:
    parsed: object = report
    if isinstance(report, CheckReport):
        parsed = report.to_dict()
    elif isinstance(report, str | bytes):
        parsed = json.loads(report)
    if not isinstance(parsed, Mapping):
        raise TypeError(f"a check report is a CheckReport, JSON or a mapping, not {type(report)}")
    return parsed


def _checks_of(report: Mapping[str, Any]) -> dict[str, Any]:
    checks = report.get("checks", report)
    if isinstance(checks, list):  # [{"name": …, "count": …, "items": […]}, …]
        return {str(c.get("name", c.get("check", ""))): c for c in checks if isinstance(c, dict)}
    return dict(checks) if isinstance(checks, Mapping) else {}


def findings_from_report(report: Report) -> list[Finding]:
    """The drawable findings of a check report (gaps, overlaps, nesting, households outside).

    The report is what :func:`gisgrid.analysis.checks.check_store` returns (a
    :class:`~gisgrid.analysis.checks.CheckReport`), its JSON text, or the parsed mapping:
    each check has ``count`` and ``items``; items carry a GeoJSON ``geometry`` where
    drawable and other fields (codes, areas in m²) that the popup lists.
    """
    out: list[Finding] = []
    checks = _checks_of(_report_dict(report))
    for name in DRAWN_CHECKS:
        check = checks.get(name)
        items = check.get("items", []) if isinstance(check, Mapping) else []
        for item in items or []:
            if not isinstance(item, Mapping) or not item.get("geometry"):
                continue
            geom = shapely.geometry.shape(item["geometry"])
            if geom.is_empty:
                continue
            props = {
                k: v
                for k, v in item.items()
                if k != "geometry" and (v is None or isinstance(v, str | int | float | list))
            }
            out.append(Finding(name, geom, props))
    return out


def check_report(store: Reader) -> CheckReport:
    """The check report of the store (:func:`gisgrid.analysis.checks.check_store`)."""
    from gisgrid.analysis.checks import check_store

    return check_store(store)


__all__ = [
    "DRAWN_CHECKS",
    "AreaData",
    "Finding",
    "UnknownAreaError",
    "check_report",
    "findings_from_report",
    "load_area",
]
