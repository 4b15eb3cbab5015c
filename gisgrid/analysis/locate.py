"""Locate a point: its township, village, grids of every level, their responsible persons,
and the nearest service point of each kind.

Used by the web app's ``/api/locate`` (a field worker's phone position) and by incident
routing. The level-3 grid follows the assignment rule of :mod:`gisgrid.analysis.assign`; the level-2
and level-1 grids follow from its codes. A point in no level-3 grid (a gap) still gets the
village and township that cover it.

The grids are those in force on a date (:func:`gisgrid.analysis.assign.in_force`): today by
default, held ready; another date's net (``as_of``, "as the net stood then") is built from
the same grid versions on first use and kept.

:meth:`Locator.locate` answers a typed :class:`Location`; the API serialises it
(:mod:`gisgrid.api.schemas`).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.analysis.assign import GridIndex, current_grid_codes, grid_index, in_force, today
from gisgrid.analysis.records import text_or_none
from gisgrid.analysis.scope import grids_by_phone
from gisgrid.analysis.versions import net_versions
from gisgrid.errors import LocateError
from gisgrid.layers.schema import CHINA_BOUNDS
from gisgrid.stores.base import Store


@dataclass(frozen=True)
class Township:
    """A township a point lies in."""

    code: str
    name: str


@dataclass(frozen=True)
class Village:
    """A village (社区 or 村) a point lies in."""

    code: str
    name: str
    kind: str


@dataclass(frozen=True)
class GridPerson:
    """A grid of any level and the person responsible for it."""

    code: str
    level: int
    name: str
    responsible_name: str | None
    responsible_phone: str | None
    responsible_role: str | None
    parent_code: str | None
    village_code: str

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> GridPerson:
        """From a grid record (a row of the ``grids`` layer)."""
        return cls(
            code=str(row["code"]),
            level=int(row["level"]),
            name=str(row["name"]),
            responsible_name=text_or_none(row["responsible_name"]),
            responsible_phone=text_or_none(row["responsible_phone"]),
            responsible_role=text_or_none(row["responsible_role"]),
            parent_code=text_or_none(row["parent_code"]),
            village_code=str(row["village_code"]),
        )


@dataclass(frozen=True)
class NearestService:
    """The nearest service point of one kind, and how far it is."""

    kind: str
    id: str
    name: str
    watcher: str | None
    distance_m: float
    lon: float
    lat: float


@dataclass(frozen=True)
class Location:
    """Where a point is and who is responsible for it: what :meth:`Locator.locate` finds.

    Attributes
    ----------
    lon, lat, crs
        The point as given.
    wgs84_lon, wgs84_lat
        The point in WGS84 (rounded to 7 decimals, about 1 cm).
    township, village
        The township and village covering the point (``None`` in none).
    level1, level2, level3
        The grids holding the point: level 3 by the assignment rule, level 2 its parent,
        level 1 the village's grid (``None`` where there is none, e.g. in a gap).
    nearest_services
        The nearest service point of each kind, by kind (sorted).
    """

    lon: float
    lat: float
    crs: str
    wgs84_lon: float
    wgs84_lat: float
    township: Township | None
    village: Village | None
    level1: GridPerson | None
    level2: GridPerson | None
    level3: GridPerson | None
    nearest_services: tuple[NearestService, ...]

    @property
    def in_grid(self) -> bool:
        """Whether a level-3 grid holds the point."""
        return self.level3 is not None


@dataclass(frozen=True)
class GridNet:
    """The grids in force on one date, ready for lookups.

    Attributes
    ----------
    as_of
        The date.
    grids
        The grids of every level in force on it (:func:`~gisgrid.analysis.assign.in_force`).
    records
        Code → the grid's record (no geometry), of those grids.
    index
        The level-3 grids among them by the assignment rule (safe to share between threads).
    """

    as_of: dt.date
    grids: gpd.GeoDataFrame
    records: dict[str, dict[str, Any]]
    index: GridIndex

    @functools.cached_property
    def by_phone(self) -> dict[str, tuple[str, ...]]:
        """Their codes by their responsible person's phone
        (:func:`~gisgrid.analysis.scope.grids_by_phone`), built on first use."""
        return grids_by_phone(self.grids)

    @functools.cached_property
    def counties(self) -> tuple[str, ...]:
        """The counties the grids lie in, in code order (one, but for a prefecture's store)."""
        found = gridcodes.prefixes_of(self.grids["code"], gridcodes.COUNTY_DIGITS)
        return tuple(sorted({str(c) for c in found}))


#: the most dates whose net a :class:`Locator` keeps besides today's
NETS_KEPT = 16


@dataclass
class Locator:
    """Everything needed to locate points, held in memory.

    Build it with :meth:`from_store` (or :meth:`from_frames`); rebuild after grids change.
    ``versions`` holds every grid row read (every version); the lookups use the grids in
    force on a date (:meth:`net`).
    """

    townships: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    versions: gpd.GeoDataFrame
    service_points: gpd.GeoDataFrame
    county: shapely.Geometry

    def __post_init__(self) -> None:
        # GEOS prepared geometries are not thread-safe: one caller at a time
        self._lock = threading.RLock()
        self.versions = self.versions.reset_index(drop=True)
        # plain records: pandas row access costs more than the geometry work per request
        self._version_records: list[dict[str, Any]] = _records(self.versions)
        self._nets_lock = threading.Lock()
        self._today = self._build_net(today())
        self._nets: dict[dt.date, GridNet] = {}
        self._villages = _records(self.villages)
        self._townships = _records(self.townships)
        self._village_tree = shapely.STRtree(self.villages.geometry.values)
        self._township_tree = shapely.STRtree(self.townships.geometry.values)
        shapely.prepare(self.county)
        self._to_metric = crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS)
        sp = self.service_points
        # the service points of each kind, in the metric CRS: a county has hundreds, so the
        # nearest one is a plain numpy pass over them (tens of microseconds, no tree, no
        # scipy to import at start)
        self._kinds: dict[str, tuple[np.ndarray, np.ndarray, list[dict[str, Any]]]] = {}
        if len(sp):
            xy = shapely.get_coordinates(crsmod.to_metric(sp.geometry).values)
            lon = sp.geometry.x.to_numpy()
            lat = sp.geometry.y.to_numpy()
            records = _records(sp)
            for k, (rec, x, y) in enumerate(zip(records, lon, lat, strict=True)):
                rec["lon"], rec["lat"], rec["_k"] = round(float(x), 7), round(float(y), 7), k
            for kind, idx in sp.groupby("kind").indices.items():
                self._kinds[str(kind)] = (
                    np.ascontiguousarray(xy[idx, 0]),
                    np.ascontiguousarray(xy[idx, 1]),
                    [records[i] for i in idx],
                )
        self._kind_order = sorted(self._kinds)

    def _build_net(self, as_of: dt.date) -> GridNet:
        live = in_force(self.versions, as_of=as_of)
        records = {str(rec["code"]): rec for rec in (self._version_records[i] for i in live.index)}
        return GridNet(
            as_of=as_of, grids=live, records=records, index=grid_index(live, as_of=as_of)
        )

    def net(self, as_of: dt.date | None = None) -> GridNet:
        """The grids in force on ``as_of`` (default: today, county time), built on first use.

        Today's net is held ready (and rebuilt once when the date turns); up to
        :data:`NETS_KEPT` other dates are kept, the oldest asked forgotten first.
        """
        day = today() if as_of is None else as_of
        current = self._today
        if day == current.as_of:
            return current
        with self._nets_lock:  # one build per date, even when asked at once
            if as_of is None:  # the date turned since the net was built
                if self._today.as_of != day:
                    self._today = self._build_net(day)
                return self._today
            found = self._nets.pop(day, None)
            if found is None:
                found = self._build_net(day)
            if len(self._nets) >= NETS_KEPT:
                self._nets.pop(next(iter(self._nets)))
            self._nets[day] = found  # last asked, last forgotten
            return found

    @property
    def grids(self) -> gpd.GeoDataFrame:
        """The grids of every level in force today."""
        return self.net().grids

    @property
    def grid_index(self) -> GridIndex:
        """The level-3 grids in force today by the assignment rule (safe to share between
        threads)."""
        return self.net().index

    @classmethod
    def from_store(cls, store: Store) -> Locator:
        """Read townships, villages, grids (every version, :func:`net_versions`) and service
        points from ``store``."""
        return cls.from_frames(
            townships=store.read("townships"),
            villages=store.read("villages"),
            grids=net_versions(store),
            service_points=store.read("service_points"),
        )

    @classmethod
    def from_frames(
        cls,
        *,
        townships: pd.DataFrame,
        villages: pd.DataFrame,
        grids: pd.DataFrame,
        service_points: pd.DataFrame,
    ) -> Locator:
        county = (
            shapely.union_all(townships.geometry.values) if len(townships) else shapely.Polygon()
        )
        return cls(townships, villages, grids, service_points, county)

    def level3_codes(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Level-3 grid codes (or ``None``) of points, by the assignment rule (grids of today)."""
        pts = gpd.GeoSeries(shapely.points(lon, lat), crs=crsmod.STORAGE_CRS)
        return current_grid_codes(pts, self.grid_index)

    def grid(self, code: str | None, *, as_of: dt.date | None = None) -> GridPerson | None:
        """The grid of ``code`` in force on ``as_of`` (default today) and its responsible
        person (``None``: no such grid then)."""
        row = self.net(as_of).records.get(code) if code is not None else None
        return None if row is None else GridPerson.of(row)

    def locate(
        self, lon: float, lat: float, *, crs: str = "wgs84", as_of: dt.date | None = None
    ) -> Location:
        """Where a point is and who is responsible for it.

        Parameters
        ----------
        lon, lat
            Longitude and latitude, in that order.
        crs
            ``wgs84`` (also ``EPSG:4326``), ``cgcs2000`` (``EPSG:4490``), ``gcj02`` (Amap,
            Tencent, WeChat) or ``bd09`` (Baidu).
        as_of
            Answer with the grids in force on this date (default: today).

        Raises
        ------
        LocateError
            Coordinates out of range, swapped (lat, lon), outside China or outside the
            county; or (``as_of`` given) no level-3 grid in force on that date.
        """
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise LocateError("lon and lat must be finite numbers", code="out_of_range")
        x0, y0, x1, y1 = CHINA_BOUNDS
        in_china = x0 <= lon <= x1 and y0 <= lat <= y1
        if not in_china and x0 <= lat <= x1 and y0 <= lon <= y1:
            raise LocateError(
                f"({lon}, {lat}) looks like (lat, lon): give lon first, then lat", code="swapped"
            )
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise LocateError(
                f"({lon}, {lat}) is out of range: lon -180..180, lat -90..90",
                code="out_of_range",
            )
        if not in_china:
            raise LocateError(f"({lon}, {lat}) is outside China", code="outside_china")
        net = self.net(as_of)
        if as_of is not None and net.index.codes.size == 0:
            raise LocateError(
                f"no level-3 grid was in force on {as_of.isoformat()}: the net stored begins "
                "later (or had ended)",
                code="as_of",
            )
        source = crsmod.normalize_crs(crs)
        if source in (crsmod.STORAGE_CRS, crsmod.CGCS2000):
            wlon, wlat = lon, lat
        elif source in ("gcj02", "bd09"):
            wlon, wlat = crsmod.convert_points(lon, lat, source=source)
        else:
            raise LocateError(f"crs must be wgs84, cgcs2000, gcj02 or bd09, not {crs}", code="crs")
        wlon, wlat = float(wlon), float(wlat)
        point = shapely.Point(wlon, wlat)
        with self._lock:
            inside = self.county.covers(point)
        if not inside:
            raise LocateError(
                f"({wlon:.6f}, {wlat:.6f}) is outside the county", code="outside_county"
            )
        code3 = net.index.locate(wlon, wlat)
        with self._lock:
            village = self._cover(self._village_tree, self._villages, point)
            township = self._cover(self._township_tree, self._townships, point)
        g3 = self._grid(net, code3)
        return Location(
            lon=lon,
            lat=lat,
            crs=crs,
            wgs84_lon=round(wlon, 7),
            wgs84_lat=round(wlat, 7),
            township=None
            if township is None
            else Township(code=str(township["code"]), name=str(township["name"])),
            village=None
            if village is None
            else Village(
                code=str(village["code"]), name=str(village["name"]), kind=str(village["kind"])
            ),
            level1=self._grid(net, None if village is None else str(village["code"])),
            level2=self._grid(net, None if g3 is None else g3.parent_code),
            level3=g3,
            nearest_services=self.nearest_services(wlon, wlat),
        )

    def nearest_services(self, lon: float, lat: float) -> tuple[NearestService, ...]:
        """The nearest service point of each kind (sorted by kind), with its distance in metres."""
        x, y = self._to_metric.transform(lon, lat)
        out = []
        for kind in self._kind_order:
            xs, ys, records = self._kinds[kind]
            squared = (xs - x) ** 2 + (ys - y) ** 2
            i = int(np.argmin(squared))  # of equidistant ones, the first
            d = math.sqrt(float(squared[i]))
            rec = records[i]
            out.append(
                NearestService(
                    kind=kind,
                    id=str(rec["id"]),
                    name=str(rec["name"]),
                    watcher=text_or_none(rec["watcher"]),
                    distance_m=round(float(d), 1),
                    lon=rec["lon"],
                    lat=rec["lat"],
                )
            )
        return tuple(out)

    @staticmethod
    def _grid(net: GridNet, code: str | None) -> GridPerson | None:
        row = net.records.get(code) if code is not None else None
        return None if row is None else GridPerson.of(row)

    @staticmethod
    def _cover(
        tree: shapely.STRtree, records: list[dict[str, Any]], point: shapely.Point
    ) -> dict[str, Any] | None:
        """The covering feature with the smallest code, or ``None``."""
        hits = tree.query(point, predicate="covered_by")
        if len(hits) == 0:
            return None
        return min((records[int(i)] for i in hits), key=lambda r: str(r["code"]))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` but its geometry as plain dicts: what ``to_dict("records")``
    gives (values as ``Series.tolist`` gives them), a few times faster on thousands of rows
    (a server's start builds them)."""
    columns = [c for c in frame.columns if c != "geometry"]
    values = []
    for column in columns:
        found = frame[column].tolist()
        if isinstance(frame[column].dtype, pd.api.extensions.ExtensionDtype):
            found = [None if v is pd.NA else v for v in found]  # as to_dict gives them
        values.append(found)
    return [dict(zip(columns, row, strict=True)) for row in zip(*values, strict=True)]
