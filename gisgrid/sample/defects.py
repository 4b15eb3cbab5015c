"""Planted boundary defects: gaps and overlaps between level-3 siblings, a grid poking out.

Each defect is made with a small disc centred on a shared edge, so it touches exactly the
two grids it names. Everything is recorded for the manifest; the checks must find exactly
these and nothing else. The surgery is done on the EPSG:4326 polygons that are stored (a
vertex computed on a straight edge in metres is not on it after reprojection); discs are
drawn in metres and areas measured in metres.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely

DISC_RADIUS = 60.0  # metres: defects of about 0.5 ha, far above any sliver tolerance
MIN_SEPARATION = 3000.0  # metres between planted defects


@dataclass
class BoundaryDefects:
    """What was planted; geometries in EPSG:4326, areas in m²."""

    gaps: list[dict[str, Any]] = field(default_factory=list)
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    nesting: list[dict[str, Any]] = field(default_factory=list)
    discs: list[shapely.Polygon] = field(default_factory=list)
    gap_polygons: list[shapely.Geometry] = field(default_factory=list)


def _shared_midpoint(
    a: shapely.Geometry, b: shapely.Geometry, to_m: Callable[[Any], Any]
) -> shapely.Point | None:
    shared = shapely.line_merge(shapely.intersection(a.boundary, b.boundary))
    lines = [to_m(g) for g in shapely.get_parts(shared) if g.geom_type == "LineString"]
    if not lines:
        return None
    longest = max(lines, key=lambda g: g.length)
    if longest.length < 4 * DISC_RADIUS:
        return None
    return longest.interpolate(0.5, normalized=True)


def plant_boundary_defects(
    geoms: np.ndarray,
    table: pd.DataFrame,
    *,
    rural: np.ndarray,
    rng: np.random.Generator,
    to_m: Callable[[Any], Any],
    to_ll: Callable[[Any], Any],
    gaps: int = 3,
    overlaps: int = 3,
    nesting: int = 2,
) -> tuple[np.ndarray, BoundaryDefects]:
    """Return new level-3 geometries with defects planted, and their record.

    Parameters
    ----------
    geoms
        Level-3 geometries in EPSG:4326 (an exact coverage).
    table
        Level-3 table with ``code``, ``parent_code``, ``village_code``.
    rural
        Boolean per grid: may carry a defect (rural grids are large enough).
    rng
        Random generator.
    to_m, to_ll
        Geometry transforms EPSG:4326 → metric CRS and back.
    gaps, overlaps, nesting
        How many of each to plant.
    """
    geoms = geoms.copy()
    tree = shapely.STRtree(geoms)
    out = BoundaryDefects()
    used_points: list[np.ndarray] = []
    used_grids: set[int] = set()
    parent = table["parent_code"].to_numpy()
    village = table["village_code"].to_numpy()
    codes = table["code"].to_numpy()
    order = rng.permutation(np.flatnonzero(rural))
    wanted = ["gap"] * gaps + ["overlap"] * overlaps + ["nesting"] * nesting
    for kind in wanted:
        for i in order:
            i = int(i)
            if i in used_grids:
                continue
            neighbours = [int(j) for j in tree.query(geoms[i], predicate="touches") if j != i]
            if kind == "nesting":
                pool = [
                    j for j in neighbours if parent[j] != parent[i] and village[j] == village[i]
                ]
            else:
                pool = [j for j in neighbours if parent[j] == parent[i]]
            pool = [j for j in pool if j not in used_grids and rural[j]]
            placed = False
            for j in pool:
                mid = _shared_midpoint(geoms[i], geoms[j], to_m)
                if mid is None:
                    continue
                xy = np.array([mid.x, mid.y])
                if any(np.hypot(*(xy - p)) < MIN_SEPARATION for p in used_points):
                    continue
                disc = to_ll(mid.buffer(DISC_RADIUS, quad_segs=8))
                if set(map(int, tree.query(disc, predicate="intersects"))) != {i, j}:
                    continue  # near a third grid: pick another place
                if kind == "gap":
                    piece = shapely.intersection(geoms[i], disc)
                    new_i = shapely.difference(geoms[i], disc)
                else:
                    piece = shapely.intersection(geoms[j], disc)
                    new_i = shapely.union(geoms[i], piece)
                if (
                    not shapely.is_valid(new_i)
                    or shapely.get_num_geometries(new_i) != shapely.get_num_geometries(geoms[i])
                    or piece.geom_type != "Polygon"
                ):
                    continue
                geoms[i] = new_i
                used_points.append(xy)
                used_grids.update((i, j))
                out.discs.append(disc)
                area = float(to_m(piece).area)
                if kind == "gap":
                    out.gaps.append(
                        {
                            "parent_code": parent[i],
                            "grid_code": codes[i],
                            "neighbour_code": codes[j],
                            "area_m2": area,
                        }
                    )
                    out.gap_polygons.append(piece)
                elif kind == "overlap":
                    out.overlaps.append(
                        {
                            "parent_code": parent[i],
                            "grid_codes": sorted([codes[i], codes[j]]),
                            "area_m2": area,
                        }
                    )
                else:
                    out.nesting.append(
                        {
                            "grid_code": codes[i],
                            "parent_code": parent[i],
                            "into_code": codes[j],
                            "outside_area_m2": area,
                        }
                    )
                placed = True
                break
            if placed:
                break
        else:
            raise RuntimeError(f"could not plant a {kind} defect")
    return geoms, out
