"""What every check works on, prepared once: geometries repaired and projected, points assigned.

Stored geometries are in EPSG:4326, and their topology is defined there: an edge is straight
in longitude and latitude, and a vertex a planner snapped onto a neighbour's edge lies on it
in those coordinates (projected, a long straight edge bends and the vertex falls off it by
up to metres). So the set operations (covers, intersections, differences, unions) run on the
stored coordinates, and every area and distance is measured in
:data:`gisgrid.crs.METRIC_CRS` (UTM 49N) by projecting the pieces they produce.

A polygon that is not valid is reported by the ``invalid_geometries`` check and, for the
other checks, repaired with :func:`shapely.make_valid` (keeping its polygonal parts). Missing,
empty and non-polygonal geometries take part in no geometric check.

The grids checked are those in force today (:func:`gisgrid.analysis.assign.in_force`, the
one rule of every reader; the checks' ``as_of`` is the six-no year's, not the net's): a
retired grid, or one not yet in force, fills no gap, overlaps nothing and is no parent —
the net a household is assigned to today is the net checked.

Households get their level-3 grid by the one rule of every reader,
:func:`gisgrid.analysis.assign.current_grid_codes` (the grid covering them now; the stored
``grid_code`` is not read). Households, incidents and service points are assigned to villages
with :func:`gisgrid.analysis.assign.assign_points` by the same rule.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.analysis import assign as assignmod
from gisgrid.errors import ConfigError
from gisgrid.layers import LAYERS
from gisgrid.settings import CheckSettings

#: the layers the checks read, and their columns (``None``: every column)
LAYER_COLUMNS: dict[str, list[str] | None] = {
    "townships": ["code", "name"],
    "villages": ["code", "name", "township_code", "kind"],
    "grids": ["code", "level", "parent_code", "village_code", "name", "responsible_name"],
    "households": ["id", "village_code", "members", "elderly", "backbone", "backbone_id"],
    "service_points": ["id", "kind", "village_code"],
    "incidents": ["id", "kind", "reported_at"],
    "visits": ["household_id", "at"],
}

#: read besides :data:`LAYER_COLUMNS` when a layer has them: the grids' dates, for the grids
#: in force (a frame without them counts as all in force); the service points' names, which
#: check 13 shows for an elder-care point (a frame without them shows its id)
DATED_COLUMNS: dict[str, list[str]] = {
    "grids": ["valid_from", "valid_to"],
    "service_points": ["name"],
}

AssignFunc = Callable[[gpd.GeoSeries, gpd.GeoDataFrame], np.ndarray]

#: GEOS reasons for invalid geometries, in Chinese for the summary
REASONS_ZH = {
    "Self-intersection": "自相交",
    "Ring Self-intersection": "环自相交",
    "Too few points": "点数过少",
    "Hole lies outside shell": "内环在外环之外",
    "Nested holes": "内环嵌套",
    "Interior is disconnected": "内部不连通",
    "Nested shells": "外环嵌套",
    "Duplicate Rings": "环重复",
    "Invalid Coordinate": "坐标无效",
    "Ring is not closed": "环未闭合",
    "missing geometry": "缺少几何",
    "empty geometry": "几何为空",
    "wrong geometry type": "几何类型错误",
}

_LOCATION = re.compile(r"\[\s*([-+0-9.eE]+)[ ,]+([-+0-9.eE]+)\s*\]")


def assignment_engine() -> tuple[str, AssignFunc]:
    """The point → polygon engine: :func:`gisgrid.analysis.assign.assign_points`.

    It takes ``(points, polygons)`` in EPSG:4326 with a ``code`` column and returns the code
    of each point by the documented rule of :mod:`gisgrid.analysis.assign` (``None`` when outside);
    its answers equal the reference ``assign_points_exact`` point by point (tests/test_assign).
    """
    return "assign_points", assignmod.assign_points


# --- geometry helpers -------------------------------------------------------------------


def to_metric(geoms: Any) -> Any:
    """Geometries (EPSG:4326) projected to the metric CRS; missing ones stay missing."""
    return crsmod.transform_geometry_array(
        geoms, source=crsmod.STORAGE_CRS, target=crsmod.METRIC_CRS
    )


def polygon_parts(geom: shapely.Geometry | None) -> np.ndarray:
    """The non-empty polygons of any geometry (lines and points of a collection dropped)."""
    if geom is None or shapely.is_empty(geom):
        return np.empty(0, dtype=object)
    parts = shapely.get_parts(shapely.get_parts(geom))
    keep = (shapely.get_type_id(parts) == 3) & ~shapely.is_empty(parts)
    return np.asarray(parts[keep], dtype=object)


def geojson(geom: shapely.Geometry) -> dict[str, Any]:
    """An EPSG:4326 geometry as a GeoJSON dict, coordinates rounded to 6 decimals (~0.1 m)."""
    rounded = shapely.transform(geom, lambda xy: np.round(xy, 6))
    out: dict[str, Any] = json.loads(shapely.to_geojson(rounded))
    return out


def metric_area(geoms: Any) -> Any:
    """Area in m² of EPSG:4326 geometries, measured in the metric CRS (0 for missing)."""
    return np.nan_to_num(shapely.area(to_metric(geoms)), nan=0.0)


def point_geojson(lon: float, lat: float) -> dict[str, Any]:
    """A GeoJSON point, coordinates rounded to 6 decimals (about 0.1 m)."""
    return {"type": "Point", "coordinates": [round(float(lon), 6), round(float(lat), 6)]}


def texts(values: Any) -> np.ndarray:
    """A column as an object array of stripped strings or ``None`` (for missing or blank)."""
    arr = np.asarray(values, dtype=object)
    out = np.full(len(arr), None, dtype=object)
    present = ~pd.isna(arr)
    if present.any():
        stripped = pd.Series(arr[present], dtype=object).astype(str).str.strip()
        vals = stripped.to_numpy(dtype=object)
        vals[vals == ""] = None
        out[present] = vals
    return out


def area(value: float) -> float:
    """An area in m², rounded to 0.1."""
    return round(float(value), 1)


def metres(value: float) -> float:
    """A distance in m, rounded to 0.1."""
    return round(float(value), 1)


# --- polygon layers ---------------------------------------------------------------------


@dataclass(frozen=True)
class GeometryProblem:
    """A polygon that is missing, empty, of the wrong type or not valid."""

    index: int
    reason: str
    location: tuple[float, float] | None


def reason_zh(reason: str) -> str:
    """The Chinese label of a GEOS invalidity reason (or of gisgrid's own reasons)."""
    head = reason.split("[", 1)[0].strip()
    for key, zh in REASONS_ZH.items():
        if head.startswith(key):
            return zh
    return "几何无效"


def repair(geoms: np.ndarray) -> tuple[np.ndarray, list[GeometryProblem]]:
    """Usable polygonal geometries and the problems found.

    Parameters
    ----------
    geoms
        Stored (multi)polygons, EPSG:4326.

    Returns
    -------
    usable : numpy.ndarray
        The valid ones as they are, invalid ones repaired (polygonal parts of
        :func:`shapely.make_valid`), ``None`` for missing, empty, wrong-type and
        unrepairable ones.
    problems : list of GeometryProblem
        One per geometry that is not a valid non-empty (multi)polygon, with GEOS's reason.
    """
    geoms = np.asarray(geoms, dtype=object)
    usable = geoms.copy()
    problems: list[GeometryProblem] = []
    missing = shapely.is_missing(geoms)
    type_id = shapely.get_type_id(geoms)
    polygonal = np.isin(type_id, (3, 6))
    empty = ~missing & shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        problems.append(GeometryProblem(int(i), "missing geometry", None))
    for i in np.flatnonzero(~missing & ~polygonal):
        kind = getattr(geoms[i], "geom_type", type(geoms[i]).__name__)
        problems.append(GeometryProblem(int(i), f"wrong geometry type {kind}", None))
    for i in np.flatnonzero(~missing & polygonal & empty):
        problems.append(GeometryProblem(int(i), "empty geometry", None))
    usable[missing | ~polygonal | empty] = None
    candidates = np.flatnonzero(~missing & polygonal & ~empty)
    valid = shapely.is_valid(geoms[candidates])
    for i in candidates[~valid].tolist():
        reason = str(shapely.is_valid_reason(geoms[i]))
        m = _LOCATION.search(reason)
        loc = (float(m.group(1)), float(m.group(2))) if m else None
        problems.append(GeometryProblem(i, reason, loc))
        parts = polygon_parts(shapely.make_valid(geoms[i]))
        usable[i] = shapely.multipolygons(parts) if len(parts) else None
    problems.sort(key=lambda p: p.index)
    return usable, problems


@dataclass
class PolygonLayer:
    """The polygons of one layer (or one grid level) as the checks use them."""

    layer: str
    codes: np.ndarray
    raw: np.ndarray
    usable: np.ndarray
    problems: list[GeometryProblem]

    @classmethod
    def build(cls, layer: str, frame: pd.DataFrame) -> PolygonLayer:
        """Check and repair the polygons of ``frame`` (a ``code`` column, EPSG:4326)."""
        raw = np.asarray(frame.geometry.values, dtype=object)
        usable, problems = repair(raw)
        return cls(layer, texts(frame["code"]), raw, usable, problems)

    @cached_property
    def metric(self) -> np.ndarray:
        """The usable polygons projected to the metric CRS (for distances)."""
        out: np.ndarray = to_metric(self.usable)
        return out

    def subset(self, mask: np.ndarray) -> PolygonLayer:
        """The features where ``mask`` is true (problems re-indexed)."""
        idx = np.flatnonzero(mask)
        new = {int(old): k for k, old in enumerate(idx)}
        problems = [
            GeometryProblem(new[p.index], p.reason, p.location)
            for p in self.problems
            if p.index in new
        ]
        return PolygonLayer(
            self.layer,
            self.codes[idx],
            self.raw[idx],
            self.usable[idx],
            problems,
        )

    @property
    def ok(self) -> np.ndarray:
        """True where the polygon is usable."""
        return ~shapely.is_missing(self.usable)

    def frame(self) -> gpd.GeoDataFrame:
        """Usable polygons with their codes, EPSG:4326, for the assignment engine."""
        ok = self.ok & np.asarray([c is not None for c in self.codes], dtype=bool)
        return gpd.GeoDataFrame(
            {"code": self.codes[ok]},
            geometry=gpd.GeoSeries(self.usable[ok], crs=crsmod.STORAGE_CRS),
        )


def _conform(name: str, frame: pd.DataFrame | None) -> pd.DataFrame:
    """A layer frame with every column the checks read; spatial ones in EPSG:4326."""
    decl = LAYERS[name]
    if frame is None:
        return decl.empty()
    if decl.spatial:
        if not isinstance(frame, gpd.GeoDataFrame):
            raise ConfigError(f"{name}: a GeoDataFrame is needed")
        if frame.crs is None:
            raise ConfigError(f"{name}: the frame has no CRS (gisgrid stores EPSG:4326)")
        if crsmod.normalize_crs(frame.crs) not in (crsmod.STORAGE_CRS, crsmod.CGCS2000):
            frame = frame.to_crs(crsmod.STORAGE_CRS)
        elif crsmod.normalize_crs(frame.crs) == crsmod.CGCS2000:
            frame = frame.set_crs(crsmod.STORAGE_CRS, allow_override=True)
    missing = [c for c in LAYER_COLUMNS[name] or [] if c not in frame.columns]
    if missing:
        raise ConfigError(f"{name}: missing column(s) {', '.join(missing)}")
    return frame.reset_index(drop=True)


@dataclass
class CheckContext:
    """Everything the checks share: settings, date, layers, prepared polygons, assignments."""

    settings: CheckSettings
    as_of: dt.date
    frames: dict[str, pd.DataFrame]
    outline: shapely.Geometry | None = None
    engine: tuple[str, AssignFunc] = field(default_factory=assignment_engine)

    @classmethod
    def build(
        cls,
        frames: dict[str, pd.DataFrame],
        *,
        settings: CheckSettings,
        as_of: dt.date,
        outline: shapely.Geometry | None = None,
    ) -> CheckContext:
        """Keep the grids in force today, conform the frames and prepare the polygons
        (validity, repair, projection)."""
        frames = dict(frames)
        if frames.get("grids") is not None:
            frames["grids"] = assignmod.in_force(frames["grids"])
        conformed = {name: _conform(name, frames.get(name)) for name in LAYER_COLUMNS}
        ctx = cls(settings, as_of, conformed, outline)
        # prepare the polygons now, so that their cost is not billed to one check
        _ = ctx.townships, ctx.villages, ctx.grids, ctx.outline_usable
        return ctx

    # polygons ------------------------------------------------------------------------
    @cached_property
    def townships(self) -> PolygonLayer:
        return PolygonLayer.build("townships", self.frames["townships"])

    @cached_property
    def villages(self) -> PolygonLayer:
        return PolygonLayer.build("villages", self.frames["villages"])

    @cached_property
    def grids(self) -> PolygonLayer:
        return PolygonLayer.build("grids", self.frames["grids"])

    @cached_property
    def grid_levels(self) -> np.ndarray:
        """Level of each grid (0 where missing)."""
        lv = pd.to_numeric(self.frames["grids"]["level"], errors="coerce")
        return np.asarray(lv.fillna(0).astype(int).to_numpy(), dtype=int)

    def level(self, level: int) -> PolygonLayer:
        """The grids of one level."""
        return self.grids.subset(self.grid_levels == level)

    @cached_property
    def level3(self) -> PolygonLayer:
        return self.level(3)

    @cached_property
    def outline_usable(self) -> shapely.Geometry | None:
        """The county outline (EPSG:4326, repaired), when one was given (else ``None``)."""
        if self.outline is None:
            return None
        usable, problems = repair(np.asarray([self.outline], dtype=object))
        if usable[0] is None:
            raise ConfigError(f"the county outline is unusable: {problems[0].reason}")
        out: shapely.Geometry = usable[0]
        return out

    @cached_property
    def m2_per_deg2(self) -> float:
        """An upper bound of square metres per square degree over the county's extent.

        A degree of latitude is at most 111.7 km, one of longitude 111.32 km times the
        cosine of the latitude; UTM's scale factor adds less than 0.1 % near the zone's
        central meridian. 1.25e10 covers all of it, at the latitude nearest the equator.
        """
        geoms = np.concatenate([self.townships.usable, self.villages.usable, self.grids.usable])
        ok = geoms[~shapely.is_missing(geoms)]
        if not len(ok):
            return 1.25e10
        bounds = shapely.bounds(ok)
        lat = np.concatenate([bounds[:, 1], bounds[:, 3]])
        low = float(np.min(np.abs(lat))) if np.all(lat > 0) or np.all(lat < 0) else 0.0
        return 1.25e10 * float(np.cos(np.radians(low)))

    @cached_property
    def county_code(self) -> str:
        """The 6-digit county code the township codes share (``"county"`` when they do not)."""
        prefixes = {gridcodes.county_of(c) for c in self.townships.codes if c is not None}
        return prefixes.pop() if len(prefixes) == 1 else "county"

    # points --------------------------------------------------------------------------
    def assign(self, points: gpd.GeoSeries, polygons: PolygonLayer) -> np.ndarray:
        """The code of the polygon covering each point (rule of :mod:`gisgrid.analysis.assign`)."""
        out = np.full(len(points), None, dtype=object)
        target = polygons.frame()
        if len(points) == 0 or len(target) == 0:
            return out
        _, func = self.engine
        result = np.asarray(func(points.reset_index(drop=True), target), dtype=object)
        result[pd.isna(result)] = None
        return result

    @cached_property
    def households(self) -> pd.DataFrame:
        return self.frames["households"]

    @cached_property
    def household_ids(self) -> np.ndarray:
        return texts(self.households["id"])

    @cached_property
    def household_registered(self) -> np.ndarray:
        """The village each household is registered in (``village_code``)."""
        return texts(self.households["village_code"])

    @cached_property
    def household_lonlat(self) -> np.ndarray:
        """Household coordinates (lon, lat), NaN where missing or empty."""
        return points_lonlat(self.households.geometry.values)

    @cached_property
    def household_xy(self) -> np.ndarray:
        """Household coordinates in the metric CRS, NaN where missing or empty."""
        return lonlat_to_xy(self.household_lonlat)

    @cached_property
    def household_grid(self) -> np.ndarray:
        """The level-3 grid of each household now (``None``: in no level-3 grid).

        The one rule every reader follows (:func:`gisgrid.analysis.assign.current_grid_codes`,
        on the grids as stored): the stored ``grid_code`` is not read.
        """
        return assignmod.current_grid_codes(self.households.geometry, self.frames["grids"])

    @cached_property
    def household_village(self) -> np.ndarray:
        """The village each household stands in (``None``: in no village)."""
        return self.assign(self.households.geometry, self.villages)


def points_lonlat(geoms: Any) -> np.ndarray:
    """(lon, lat) of point geometries, NaN for missing or empty ones."""
    geoms = np.asarray(geoms, dtype=object)
    out = np.full((len(geoms), 2), np.nan)
    if len(geoms):
        out[:, 0] = shapely.get_x(geoms)
        out[:, 1] = shapely.get_y(geoms)
    return out


def lonlat_to_xy(lonlat: np.ndarray) -> np.ndarray:
    """Metric coordinates of (lon, lat) pairs; NaN stays NaN."""
    out = np.full(lonlat.shape, np.nan)
    ok = np.isfinite(lonlat).all(axis=1)
    if ok.any():
        x, y = crsmod.convert_points(
            lonlat[ok, 0], lonlat[ok, 1], source=crsmod.STORAGE_CRS, target=crsmod.METRIC_CRS
        )
        out[ok, 0] = x
        out[ok, 1] = y
    return out
