"""What a map shows, read from a store: an area's layers, assignments and indicators.

Maps read the store and the analysis results; they never change the store. Households,
service points and incidents are assigned to level-3 grids by the store's ``grid_code``
when ``gisgrid assign`` has filled it, else by the reference rule of :mod:`gisgrid.analysis.assign`.

Indicators of a grid (the coverage map colours level-3 grids by one of them):

* ``households``: households in the grid;
* ``linkage``: share of its households inside the party-member net (a backbone household
  itself, or linked to one by ``backbone_id``);
* ``distance``: median distance in metres from its households to their nearest service
  point of any kind (from the grid's representative point when it has no households),
  measured in the metric CRS;
* ``incidents``: incidents reported in the grid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely
from scipy.spatial import cKDTree

from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.analysis.assign import assign_points
from gisgrid.errors import UnknownAreaError
from gisgrid.layers.incidents import SIX_NO_KINDS
from gisgrid.stores.base import Store

#: the six 六无 categories and the incident kinds each holds (safety and environment are one)
SIX_NO_CATEGORIES: dict[str, tuple[str, ...]] = {
    "petition": ("petition",),
    "criminal": ("criminal",),
    "accident": ("safety", "environment"),
    "lawsuit": ("lawsuit",),
    "illegal_construction": ("illegal_construction",),
    "overdue_loan": ("overdue_loan",),
}
assert {k for ks in SIX_NO_CATEGORIES.values() for k in ks} == set(SIX_NO_KINDS)

#: the check findings a map can draw, in drawing order
DRAWN_CHECKS = ("gaps", "overlaps", "nesting", "households_outside")


@dataclass
class Finding:
    """One drawable item of a check report: which check, its shape, and what it says."""

    check: str
    geometry: shapely.Geometry
    props: dict[str, Any]


@dataclass
class AreaData:
    """The layers of one area (county, township, village or grid) as a map shows them."""

    scope: str
    scope_code: str | None
    townships: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    households: gpd.GeoDataFrame
    service_points: gpd.GeoDataFrame
    incidents: gpd.GeoDataFrame
    findings: list[Finding] = field(default_factory=list)

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


def _assigned(points: gpd.GeoDataFrame, grids3: gpd.GeoDataFrame) -> np.ndarray:
    """Level-3 grid code of each point: the store's when assignment has run, else computed."""
    stored = points["grid_code"] if "grid_code" in points.columns else None
    if stored is not None and stored.notna().any():
        return stored.to_numpy(dtype=object)
    if len(points) == 0 or len(grids3) == 0:
        return np.full(len(points), None, dtype=object)
    return assign_points(points.geometry, grids3[["code", "geometry"]])


def load_area(
    store: Store,
    *,
    township: str | None = None,
    village: str | None = None,
    grid: str | None = None,
    report: Any = None,
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
        grids = store.read("grids")
    else:
        grids = store.read("grids", where={"village_code": village_codes})
    if scope == "grid":
        assert code is not None
        grids = grids[grids["code"].str.startswith(code)]
        if grids.empty:
            raise UnknownAreaError(f"no grid {code} in {store.url}")

    # points: read around the area, assign against every level-3 grid around it
    box = None
    if scope != "county":
        b = (grids if scope == "grid" else villages).total_bounds
        pad = 0.002  # about 200 m: points on the edge still find their grid
        box = (b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad)
    grids3_around = (
        grids[grids["level"] == 3]
        if box is None
        else store.read("grids", bbox=box, where={"level": 3})
    )
    area_codes = set(grids.loc[grids["level"] == 3, "code"])
    area_shape = shapely.union_all(
        (grids[grids["level"] == grids["level"].min()] if scope == "grid" else villages).geometry
    )

    def in_area(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        frame = frame.copy()
        frame["grid_code"] = _assigned(frame, grids3_around)
        if scope == "county":
            return frame.reset_index(drop=True)
        inside = frame["grid_code"].isin(area_codes).to_numpy()
        loose = frame["grid_code"].isna().to_numpy().copy()
        if loose.any():
            loose &= np.asarray(shapely.covered_by(frame.geometry.values, area_shape))
        return frame[inside | loose].reset_index(drop=True)

    households = in_area(store.read("households", bbox=box))
    incidents = in_area(store.read("incidents", bbox=box))
    incidents["village_code"] = _village_of(incidents, villages)

    # service points: the area's, and the nearest ones around it (a household's nearest
    # service point may lie in the next village)
    points = store.read("service_points")
    if scope != "county":
        points = points[_within_m(points, area_shape, 3000.0)].reset_index(drop=True)
    points = points.copy()
    points["grid_code"] = _assigned(points, grids3_around)

    data = AreaData(
        scope=scope,
        scope_code=code,
        townships=townships.reset_index(drop=True),
        villages=villages.sort_values("code").reset_index(drop=True),
        grids=grids.reset_index(drop=True),
        households=households,
        service_points=points,
        incidents=incidents,
    )
    if report is not None:
        data.findings = [
            f
            for f in findings_from_report(report)
            if scope == "county" or f.geometry.intersects(area_shape.buffer(0.001))
        ]
    return data


def _village_of(points: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> np.ndarray:
    """Village code of each point: from its level-3 grid, else the village polygon covering it."""
    out = gridcodes.villages_of(points["grid_code"])
    loose = np.flatnonzero([v is None for v in out])
    if len(loose) and len(villages):
        tree = shapely.STRtree(villages.geometry.values)
        pi, vi = tree.query(points.geometry.values[loose], predicate="covered_by")
        codes = villages["code"].to_numpy(dtype=object)
        for p, v in zip(pi, vi, strict=True):
            if out[loose[p]] is None:
                out[loose[p]] = codes[v]
    return out


def _metric_xy(geoms: np.ndarray) -> np.ndarray:
    tr = pyproj.Transformer.from_crs(crsmod.STORAGE_CRS, crsmod.METRIC_CRS, always_xy=True)
    xy = shapely.get_coordinates(geoms)
    x, y = tr.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def _within_m(points: gpd.GeoDataFrame, shape: shapely.Geometry, metres: float) -> np.ndarray:
    if len(points) == 0:
        return np.zeros(0, dtype=bool)
    tr = pyproj.Transformer.from_crs(crsmod.STORAGE_CRS, crsmod.METRIC_CRS, always_xy=True)
    metric_shape = shapely.transform(
        shape, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
    )
    pts = shapely.points(_metric_xy(points.geometry.values))
    return np.asarray(shapely.dwithin(pts, metric_shape, metres))


def nearest_service_m(points: gpd.GeoSeries | np.ndarray, services: gpd.GeoDataFrame) -> np.ndarray:
    """Distance in metres from each point to the nearest service point (NaN if there is none)."""
    geoms = np.asarray(getattr(points, "values", points), dtype=object)
    if len(geoms) == 0 or len(services) == 0:
        return np.full(len(geoms), np.nan)
    tree = cKDTree(_metric_xy(services.geometry.values))
    dist, _ = tree.query(_metric_xy(geoms))
    return np.asarray(dist, dtype=float)


def in_net(households: pd.DataFrame) -> np.ndarray:
    """Whether each household is in the party-member net (backbone, or linked to one)."""
    return (
        households["backbone"].fillna(False).astype(bool) | households["backbone_id"].notna()
    ).to_numpy()


def grid_indicators(data: AreaData) -> pd.DataFrame:
    """Indicators of every grid of the area (index: code; levels 1-3).

    Columns: ``households``, ``linked`` (households in the net), ``linkage`` (share, NaN
    without households), ``distance`` (metres, level 3), ``incidents`` (level 3).
    """
    grids = data.grids
    hh = data.households
    codes = hh["grid_code"].to_numpy(dtype=object)
    assigned = np.array([isinstance(c, str) for c in codes])
    net = in_net(hh)
    frame = pd.DataFrame({"code": codes[assigned], "net": net[assigned]})
    dist_hh = nearest_service_m(hh.geometry.values[assigned], data.service_points)
    frame["dist"] = dist_hh
    out = pd.DataFrame(index=pd.Index(grids["code"], name="code"))
    out["households"] = 0
    out["linked"] = 0
    for level, length in ((1, 12), (2, 15), (3, 18)):
        key = frame["code"].str[:length]
        counts = key.value_counts()
        linked = frame.groupby(key)["net"].sum()
        mask = grids["level"].to_numpy() == level
        these = grids["code"].to_numpy()[mask]
        out.loc[these, "households"] = counts.reindex(these).fillna(0).astype(int).to_numpy()
        out.loc[these, "linked"] = linked.reindex(these).fillna(0).astype(int).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["linkage"] = np.where(
            out["households"] > 0, out["linked"] / out["households"].clip(lower=1), np.nan
        )
    median = frame.groupby("code")["dist"].median()
    out["distance"] = median.reindex(out.index).to_numpy()
    level3 = grids["level"].to_numpy() == 3
    missing = level3 & np.isnan(out["distance"].to_numpy())
    if missing.any():
        reps = shapely.point_on_surface(grids.geometry.values[missing])
        out.loc[grids["code"].to_numpy()[missing], "distance"] = nearest_service_m(
            reps, data.service_points
        )
    out.loc[grids["code"].to_numpy()[~level3], "distance"] = np.nan
    inc = data.incidents["grid_code"].dropna().value_counts()
    out["incidents"] = inc.reindex(out.index).fillna(0).astype(int).to_numpy()
    return out


def village_indicators(data: AreaData) -> pd.DataFrame:
    """Households, households in the net and linkage share per village (index: code)."""
    hh = data.households
    codes = pd.Series(gridcodes.villages_of(hh["grid_code"]))
    frame = pd.DataFrame({"village": codes, "net": in_net(hh)}).dropna(subset=["village"])
    out = pd.DataFrame(index=pd.Index(data.villages["code"], name="code"))
    out["households"] = frame["village"].value_counts().reindex(out.index).fillna(0).astype(int)
    out["linked"] = frame.groupby("village")["net"].sum().reindex(out.index).fillna(0).astype(int)
    out["linkage"] = np.where(
        out["households"] > 0, out["linked"] / out["households"].clip(lower=1), np.nan
    )
    return out


def six_no_status(incidents: pd.DataFrame, village_codes: list[str]) -> pd.DataFrame:
    """Incidents of each 六无 category per village (index: village code); 0 everywhere = met."""
    cats = {kind: cat for cat, kinds in SIX_NO_CATEGORIES.items() for kind in kinds}
    frame = pd.DataFrame(
        {"village": incidents["village_code"], "cat": incidents["kind"].map(cats)}
    ).dropna()
    table = pd.crosstab(frame["village"], frame["cat"]) if len(frame) else pd.DataFrame()
    return table.reindex(index=village_codes, columns=list(SIX_NO_CATEGORIES)).fillna(0).astype(int)


# --- check reports --------------------------------------------------------------------------


def _report_dict(report: Any) -> Mapping[str, Any]:
    if hasattr(report, "to_dict"):
        report = report.to_dict()
    elif hasattr(report, "to_json"):
        report = report.to_json()
    if isinstance(report, str | bytes):
        report = json.loads(report)
    if not isinstance(report, Mapping):
        raise TypeError(f"a check report is a mapping or has to_json(), not {type(report)}")
    return report


def _checks_of(report: Mapping[str, Any]) -> dict[str, Any]:
    checks = report.get("checks", report)
    if isinstance(checks, list):  # [{"name": …, "count": …, "items": […]}, …]
        return {str(c.get("name", c.get("check", ""))): c for c in checks if isinstance(c, dict)}
    return dict(checks) if isinstance(checks, Mapping) else {}


def findings_from_report(report: Any) -> list[Finding]:
    """The drawable findings of a check report (gaps, overlaps, nesting, households outside).

    The report is what :func:`gisgrid.analysis.checks.check_store` returns (anything with
    ``to_json()``), its JSON text, or the parsed mapping: each check has ``count`` and
    ``items``; items carry a GeoJSON ``geometry`` where drawable and other fields (codes,
    areas in m²) that the popup lists.
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


def check_report(store: Store) -> Any:
    """The check report of the store (:func:`gisgrid.analysis.checks.check_store`)."""
    from gisgrid.analysis.checks import check_store

    return check_store(store)


__all__ = [
    "DRAWN_CHECKS",
    "SIX_NO_CATEGORIES",
    "AreaData",
    "Finding",
    "UnknownAreaError",
    "check_report",
    "findings_from_report",
    "grid_indicators",
    "in_net",
    "load_area",
    "nearest_service_m",
    "six_no_status",
    "village_indicators",
]
