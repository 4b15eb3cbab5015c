"""Vector tiles (MVT) of the net: which features a tile holds, in the tile's coordinates.

A tile ``z/x/y`` is a square of the Web Mercator grid (EPSG:3857, the grid of Leaflet, QGIS
and every web map), :data:`EXTENT` units a side, with :data:`BUFFER` units more on each side
so that lines and symbols crossing a tile's edge are drawn whole. What a tile of a layer
holds (:data:`TILE_LAYERS`):

========================  ============  ==================================================
layer                     from zoom     attributes
========================  ============  ==================================================
``grids``                 8             code, name, level, responsible_name,
                                        responsible_role; the levels by zoom
                                        (:func:`grid_levels`): level 1 up to z10, levels
                                        1–2 at z11–12, levels 1–3 from z13
``households``            14            id, grid_code, house_number
``service_points``        10            id, kind, name
``incidents``             12            id, kind, status, reported_at
========================  ============  ==================================================

Below a layer's zoom its tiles are empty (a prefecture's 1.5 million households are no
picture at z10). Grids are the net in force today (:func:`gisgrid.analysis.versions.net_on`).

Everything is read through the reader given, which for the web app is the caller's
:class:`~gisgrid.analysis.scope.ScopedReader`: the features of the caller's area only, the
personal fields the role may not see masked (a masked field is left out of the tile: MVT has
no null), a read of residents' fields recorded. No second rule of who sees what lives here.

The same read, the same code on both stores (GeoPackage and PostGIS read by bounding box
through their spatial indexes; :mod:`gisgrid.cartography.mvt` encodes): the placing of points
in their grid (what a grid worker's area is made of) is the scope's, in memory, and would
be a second rule in SQL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid.analysis.versions import net_on
from gisgrid.errors import ConfigError, NotFoundError
from gisgrid.layers import get_layer
from gisgrid.stores.base import BBox, Reader

#: tile units a side (the MVT default, what ST_AsMVT and QGIS use)
EXTENT = 4096
#: tile units drawn beyond each edge
BUFFER = 64
#: the deepest zoom served (about 2 cm a tile unit at the equator)
MAX_ZOOM = 22
#: the Web Mercator sphere's radius (EPSG:3857) and half the world's width in metres
EARTH_RADIUS = 6378137.0
HALF_WORLD = math.pi * EARTH_RADIUS
#: the latitudes Web Mercator reaches
MAX_LATITUDE = 85.0511287798066


@dataclass(frozen=True)
class TileLayer:
    """What the tiles of one layer hold.

    Attributes
    ----------
    name
        The layer (:data:`gisgrid.layers.LAYERS`); also the layer's name inside the tile.
    columns
        The attributes of its features: declared fields of the layer.
    min_zoom
        The first zoom whose tiles hold features (below: empty tiles).
    """

    name: str
    columns: tuple[str, ...]
    min_zoom: int


#: the layers served as tiles
TILE_LAYERS: dict[str, TileLayer] = {
    layer.name: layer
    for layer in (
        TileLayer("grids", ("code", "name", "level", "responsible_name", "responsible_role"), 8),
        TileLayer("households", ("id", "grid_code", "house_number"), 14),
        TileLayer("service_points", ("id", "kind", "name"), 10),
        TileLayer("incidents", ("id", "kind", "status", "reported_at"), 12),
    )
}


def tile_layer(name: str) -> TileLayer:
    """The tile layer named ``name``.

    Raises
    ------
    NotFoundError
        No such tile layer (naming the ones there are).
    """
    try:
        return TILE_LAYERS[name]
    except KeyError:
        raise NotFoundError(f"no tile layer {name!r}: one of {', '.join(TILE_LAYERS)}") from None


def grid_levels(z: int) -> tuple[int, ...]:
    """The grid levels in a tile of zoom ``z``: the villages (level 1) up to z10, natural
    villages (level 2) from z11, villager groups (level 3) from z13."""
    if z <= 10:
        return (1,)
    if z <= 12:
        return (1, 2)
    return (1, 2, 3)


@dataclass(frozen=True)
class TileAddress:
    """One tile of the Web Mercator grid (``z/x/y``, ``y`` from the north, as XYZ URLs)."""

    z: int
    x: int
    y: int

    @classmethod
    def checked(cls, z: int, x: int, y: int) -> TileAddress:
        """The tile ``z/x/y``.

        Raises
        ------
        ConfigError
            ``z`` outside 0–:data:`MAX_ZOOM`, or ``x``/``y`` outside ``0 … 2**z - 1``.
        """
        if not 0 <= z <= MAX_ZOOM:
            raise ConfigError(f"zoom {z} outside 0-{MAX_ZOOM}")
        last = 2**z - 1
        if not (0 <= x <= last and 0 <= y <= last):
            raise ConfigError(f"tile {z}/{x}/{y}: x and y must be 0-{last} at zoom {z}")
        return cls(z, x, y)

    @property
    def size(self) -> float:
        """The tile's side in Web Mercator metres."""
        return 2 * HALF_WORLD / 2**self.z

    def mercator_bounds(self, *, buffer: int = 0) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` in EPSG:3857, ``buffer`` tile units wider each side."""
        size = self.size
        pad = size * buffer / EXTENT
        x0 = -HALF_WORLD + self.x * size
        y1 = HALF_WORLD - self.y * size
        return x0 - pad, y1 - size - pad, x0 + size + pad, y1 + pad

    def lonlat_bounds(self, *, buffer: int = 0) -> BBox:
        """The same square in longitude and latitude (a rectangle there too)."""
        x0, y0, x1, y1 = self.mercator_bounds(buffer=buffer)
        lon0, lat0 = mercator_to_lonlat(x0, y0)
        lon1, lat1 = mercator_to_lonlat(x1, y1)
        return (max(lon0, -180.0), max(lat0, -90.0), min(lon1, 180.0), min(lat1, 90.0))

    def to_tile(self, lonlat: np.ndarray) -> np.ndarray:
        """Longitude/latitude pairs (an ``(n, 2)`` array) → tile units (floats, y down)."""
        x0, _, _, y1 = self.mercator_bounds()
        scale = EXTENT / self.size
        lon = lonlat[:, 0]
        lat = np.clip(lonlat[:, 1], -MAX_LATITUDE, MAX_LATITUDE)
        mx = np.radians(lon) * EARTH_RADIUS
        my = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * EARTH_RADIUS
        return np.column_stack(((mx - x0) * scale, (y1 - my) * scale))


def mercator_to_lonlat(x: float, y: float) -> tuple[float, float]:
    """One EPSG:3857 point in degrees."""
    lon = math.degrees(x / EARTH_RADIUS)
    lat = math.degrees(2 * math.atan(math.exp(y / EARTH_RADIUS)) - math.pi / 2)
    return lon, lat


def _empty(columns: list[str]) -> gpd.GeoDataFrame:
    """A tile layer without features (made only when needed: 2 ms, a tenth of a tile)."""
    return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in columns}, geometry=[])


def read_tile(reader: Reader, layer: TileLayer, at: TileAddress) -> gpd.GeoDataFrame:
    """The features of ``layer`` in tile ``at`` (with its buffer), as ``reader`` shows them.

    Returns
    -------
    geopandas.GeoDataFrame
        The layer's tile columns (masked values as ``None``/``NA``) and the geometry in tile
        units (floats, y down), polygons clipped to the tile and its buffer; empty below the
        layer's zoom. Not yet rounded: :func:`gisgrid.cartography.mvt.encode_layer` rounds.
    """
    columns = list(layer.columns)
    if at.z < layer.min_zoom:
        return _empty(columns)
    bbox = at.lonlat_bounds(buffer=BUFFER)
    if layer.name == "grids":
        frame = net_on(reader, None, bbox=bbox)
        frame = frame[frame["level"].isin(grid_levels(at.z)).to_numpy(dtype=bool)]
    else:
        frame = reader.read(layer.name, bbox=bbox, columns=columns)
    if not len(frame):
        return _empty(columns)
    lonlat = np.asarray(frame.geometry.array)
    low, high = -BUFFER, EXTENT + BUFFER
    if get_layer(layer.name).geometry_type == "Point":
        # one row a feature (a missing point: NaN, never kept)
        xy = at.to_tile(np.column_stack([shapely.get_x(lonlat), shapely.get_y(lonlat)]))
        keep = (xy >= low).all(axis=1) & (xy <= high).all(axis=1)  # the bbox read's edges
        geometry = shapely.points(xy)
    else:
        geometry = shapely.transform(lonlat, at.to_tile)
        bounds = shapely.bounds(geometry)
        crossing = ((bounds[:, :2] < low) | (bounds[:, 2:] > high)).any(axis=1)
        geometry[crossing] = shapely.clip_by_rect(geometry[crossing], low, low, high, high)
        keep = ~shapely.is_empty(geometry)
    kept = {c: frame[c].to_numpy()[keep] for c in columns}  # arrays: no frame copied twice
    return gpd.GeoDataFrame(kept, geometry=geometry[keep], crs=None)


__all__ = [
    "BUFFER",
    "EXTENT",
    "MAX_ZOOM",
    "TILE_LAYERS",
    "TileAddress",
    "TileLayer",
    "grid_levels",
    "read_tile",
    "tile_layer",
]
