"""Locate a point: its township, village, grids of every level, their responsible persons,
and the nearest service point of each kind.

Used by the web app's ``/api/locate`` (a field worker's phone position) and by incident
routing. The level-3 grid follows the assignment rule of :mod:`gisgrid.assign`; the level-2
and level-1 grids follow from its codes. A point in no level-3 grid (a gap) still gets the
village and township that cover it.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from gisgrid import crs as crsmod
from gisgrid.assign import assign_points_exact
from gisgrid.errors import GisgridError
from gisgrid.layers.schema import CHINA_BOUNDS
from gisgrid.stores.base import Store


class LocateError(GisgridError):
    """A point that cannot be located: out of range, swapped, or outside the county."""

    exit_code = 2

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def _person(row: pd.Series | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        "code": row["code"],
        "level": int(row["level"]),
        "name": row["name"],
        "responsible_name": row["responsible_name"],
        "responsible_phone": row["responsible_phone"],
        "responsible_role": row["responsible_role"],
    }


@dataclass
class Locator:
    """Everything needed to locate points, held in memory.

    Build it with :meth:`from_store` (or :meth:`from_frames`); rebuild after grids change.
    """

    townships: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    service_points: gpd.GeoDataFrame
    county: shapely.Geometry

    def __post_init__(self) -> None:
        # GEOS prepared geometries are not thread-safe: one caller at a time
        self._lock = threading.RLock()
        self.level3 = self.grids[self.grids["level"] == 3].reset_index(drop=True)
        self.by_code = self.grids.set_index("code", drop=False)
        self._village_tree = shapely.STRtree(self.villages.geometry.values)
        self._township_tree = shapely.STRtree(self.townships.geometry.values)
        shapely.prepare(self.county)
        try:  # the fast engine when it is there
            from gisgrid.assign import GridIndex  # type: ignore[attr-defined]

            self._index: Any = GridIndex.from_grids(self.level3)
        except ImportError:
            self._index = None
        sp = self.service_points
        self._kinds: dict[str, tuple[cKDTree, pd.DataFrame]] = {}
        if len(sp):
            xy = shapely.get_coordinates(crsmod.to_metric(sp.geometry).values)
            for kind, idx in sp.groupby("kind").indices.items():
                self._kinds[str(kind)] = (cKDTree(xy[idx]), sp.iloc[idx].reset_index(drop=True))

    @classmethod
    def from_store(cls, store: Store) -> Locator:
        """Read townships, villages, grids and service points from ``store``."""
        return cls.from_frames(
            townships=store.read("townships"),
            villages=store.read("villages"),
            grids=store.read("grids"),
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
        """Level-3 grid codes (or ``None``) of points, by the assignment rule."""
        pts = gpd.GeoSeries(shapely.points(lon, lat), crs=crsmod.STORAGE_CRS)
        with self._lock:
            if self._index is not None:
                return np.asarray(self._index.assign(pts), dtype=object)
            return assign_points_exact(pts, self.level3)

    def locate(self, lon: float, lat: float, *, crs: str = "wgs84") -> dict[str, Any]:
        """Where a point is and who is responsible for it.

        Parameters
        ----------
        lon, lat
            Longitude and latitude, in that order.
        crs
            ``wgs84`` (also ``EPSG:4326``), ``cgcs2000`` (``EPSG:4490``), ``gcj02`` (Amap,
            Tencent, WeChat) or ``bd09`` (Baidu).

        Raises
        ------
        LocateError
            Coordinates out of range, swapped (lat, lon), outside China or outside the county.
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
        code3 = self.level3_codes(np.array([wlon]), np.array([wlat]))[0]
        g3 = self.by_code.loc[code3] if code3 is not None else None
        g2 = self._grid(g3["parent_code"]) if g3 is not None else None
        with self._lock:
            village = self._cover(self._village_tree, self.villages, point)
            township = self._cover(self._township_tree, self.townships, point)
        g1 = self._grid(village["code"]) if village is not None else None
        return {
            "input": {"lon": lon, "lat": lat, "crs": crs},
            "wgs84": {"lon": round(wlon, 7), "lat": round(wlat, 7)},
            "township": None
            if township is None
            else {"code": township["code"], "name": township["name"]},
            "village": None
            if village is None
            else {"code": village["code"], "name": village["name"], "kind": village["kind"]},
            "grids": {"level1": _person(g1), "level2": _person(g2), "level3": _person(g3)},
            "in_grid": g3 is not None,
            "nearest_service_points": self.nearest_services(wlon, wlat),
        }

    def nearest_services(self, lon: float, lat: float) -> dict[str, Any]:
        """The nearest service point of each kind, with its distance in metres."""
        pt = crsmod.to_metric(gpd.GeoSeries([shapely.Point(lon, lat)], crs=crsmod.STORAGE_CRS))
        xy = shapely.get_coordinates(pt.values)[0]
        out: dict[str, Any] = {}
        for kind, (tree, frame) in sorted(self._kinds.items()):
            d, i = tree.query(xy)
            row = frame.iloc[int(i)]
            out[kind] = {
                "id": row["id"],
                "name": row["name"],
                "watcher": row["watcher"],
                "distance_m": round(float(d), 1),
                "lon": round(row.geometry.x, 7),
                "lat": round(row.geometry.y, 7),
            }
        return out

    def _grid(self, code: Any) -> pd.Series | None:
        if code is None or code not in self.by_code.index:
            return None
        return self.by_code.loc[code]

    @staticmethod
    def _cover(
        tree: shapely.STRtree, frame: gpd.GeoDataFrame, point: shapely.Point
    ) -> pd.Series | None:
        hits = tree.query(point, predicate="covered_by")
        if len(hits) == 0:
            return None
        rows = frame.iloc[np.sort(hits)]
        return rows.sort_values("code").iloc[0]
