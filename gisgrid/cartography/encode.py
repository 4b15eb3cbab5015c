"""Compact geometry for map pages: coverage-aware simplification, rounding, delta strings.

A county map holds thousands of polygons and up to hundreds of thousands of points; written
as GeoJSON at full precision that is tens of megabytes. Here:

* polygons of one level are simplified together with :func:`shapely.coverage_simplify`
  (in the metric CRS), which keeps the edges neighbours share identical, so no slivers or
  gaps appear between grids that tile;
* coordinates are rounded to a quantum (degrees) fitting the zoom the map is read at;
* each ring or point sequence becomes a short ASCII string: integer steps on the quantum
  grid, delta-encoded, zigzag-signed, in 5-bit groups (the scheme of encoded polylines),
  which the page's script (``decodeCoords`` in ``static/gisgrid-map.js``) turns back into
  coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gisgrid import crs as crsmod


@dataclass(frozen=True)
class Grid:
    """The integer grid coordinates are rounded to: ``lon = (ox + X) * q``, same for lat."""

    quantum: float
    ox: int
    oy: int

    @classmethod
    def around(cls, bounds: tuple[float, float, float, float], quantum: float) -> Grid:
        """A grid whose origin is at the south-west corner of ``bounds`` (lon/lat)."""
        return cls(quantum, int(np.floor(bounds[0] / quantum)), int(np.floor(bounds[1] / quantum)))

    def to_json(self) -> dict[str, object]:
        """The parameters the page's decoder needs."""
        return {"q": self.quantum, "o": [self.ox, self.oy]}

    def ints(self, xy: np.ndarray) -> np.ndarray:
        """Coordinates (n × 2, lon/lat) as integer steps from the origin."""
        out = np.rint(xy / self.quantum).astype(np.int64)
        out[:, 0] -= self.ox
        out[:, 1] -= self.oy
        return out


def encode_ints(values: np.ndarray) -> str:
    """Signed integers as printable ASCII (zigzag, 5-bit groups, 63 + group, 0x20 = more)."""
    v = np.asarray(values, dtype=np.int64)
    if v.size == 0:
        return ""
    z = ((v << 1) ^ (v >> 63)).astype(np.uint64)
    nbits = np.zeros(len(z), dtype=np.int64)
    nz = z > 0
    nbits[nz] = np.floor(np.log2(z[nz].astype(np.float64))).astype(np.int64) + 1
    # floating log2 can be off by one at powers of two: fix with exact shifts
    nbits[nz & ((z >> nbits.astype(np.uint64)) > 0)] += 1
    groups = np.maximum(1, -(-nbits // 5))
    width = int(groups.max())
    j = np.arange(width, dtype=np.uint64)
    chunks = ((z[:, None] >> (np.uint64(5) * j[None, :])) & np.uint64(31)).astype(np.int64)
    more = j[None, :].astype(np.int64) < (groups[:, None] - 1)
    chars = chunks + 63 + np.where(more, 32, 0)
    keep = j[None, :].astype(np.int64) < groups[:, None]
    return chars[keep].astype(np.uint8).tobytes().decode("ascii")


def decode_ints(text: str) -> list[int]:
    """The inverse of :func:`encode_ints` (the page does the same in JavaScript)."""
    out: list[int] = []
    shift = result = 0
    for ch in text.encode("ascii"):
        b = ch - 63
        result |= (b & 31) << shift
        shift += 5
        if b < 32:
            out.append((result >> 1) ^ -(result & 1))
            shift = result = 0
    return out


def encode_coords(xy: np.ndarray, grid: Grid) -> str:
    """A sequence of lon/lat pairs as one string of deltas on ``grid`` (x, y interleaved)."""
    ints = grid.ints(np.asarray(xy, dtype=np.float64).reshape(-1, 2))
    if len(ints) == 0:
        return ""
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return encode_ints(deltas.reshape(-1))


def decode_coords(text: str, grid: Grid) -> np.ndarray:
    """The inverse of :func:`encode_coords`: lon/lat pairs (rounded to the grid)."""
    ints = np.cumsum(np.array(decode_ints(text), dtype=np.int64).reshape(-1, 2), axis=0)
    return np.column_stack(
        [(ints[:, 0] + grid.ox) * grid.quantum, (ints[:, 1] + grid.oy) * grid.quantum]
    )


def _ring(coords: np.ndarray, grid: Grid) -> str | None:
    ints = grid.ints(coords[:-1])  # the closing vertex repeats the first
    keep = np.r_[True, np.any(np.diff(ints, axis=0) != 0, axis=1)]
    ints = ints[keep]
    if len(ints) < 3:
        return None
    deltas = np.diff(ints, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    return encode_ints(deltas.reshape(-1))


def encode_polygon(geom: shapely.Geometry, grid: Grid) -> list[list[str]]:
    """A (multi)polygon as a list of polygons, each a list of ring strings (outer first)."""
    out: list[list[str]] = []
    for part in shapely.get_parts(geom):
        if part.is_empty or part.geom_type != "Polygon":
            continue
        outer = _ring(np.asarray(part.exterior.coords), grid)
        if outer is None:
            continue
        rings = [outer]
        for hole in part.interiors:
            enc = _ring(np.asarray(hole.coords), grid)
            if enc is not None:
                rings.append(enc)
        out.append(rings)
    return out


def simplify_coverage(geoms: np.ndarray, tolerance_m: float) -> np.ndarray:
    """Simplify polygons that tile (one level of grids) together, keeping shared edges shared.

    Parameters
    ----------
    geoms
        Polygons in EPSG:4326.
    tolerance_m
        Simplification tolerance in metres (worked in the metric CRS); 0 returns the input.
    """
    geoms = np.asarray(geoms, dtype=object)
    if tolerance_m <= 0 or len(geoms) == 0:
        return geoms
    metric = project(geoms, crsmod.STORAGE_CRS, crsmod.METRIC_CRS)
    simple = shapely.coverage_simplify(metric, tolerance_m)
    # a polygon collapsed by simplification keeps its original shape
    empty = shapely.is_empty(simple) | shapely.is_missing(simple)
    simple = np.where(empty, metric, simple)
    return np.asarray(project(simple, crsmod.METRIC_CRS, crsmod.STORAGE_CRS), dtype=object)


def project(geoms: np.ndarray, source: str, target: str) -> np.ndarray:
    """Geometries reprojected from ``source`` to ``target`` (lon/lat order throughout)."""
    transformer = crsmod.transformer(source, target)

    def on_xy(xy: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([x, y])

    return np.asarray(shapely.transform(geoms, on_xy), dtype=object)


__all__ = [
    "Grid",
    "decode_coords",
    "decode_ints",
    "encode_coords",
    "encode_ints",
    "encode_polygon",
    "project",
    "simplify_coverage",
]
