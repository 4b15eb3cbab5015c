"""The assignment rule and its reference engine: who is in which level-3 grid.

The rule, the same in every engine and every store:

* A point belongs to a level-3 grid when the grid **covers** it: inside, or on its boundary
  (an edge or a vertex). Holes are outside; every part of a multipolygon counts.
* When several grids cover the point (on an edge or vertex they share, or inside an
  overlap), it goes to the one with the **smallest code** (string order of the 18-digit
  codes). The rule does not depend on the order of the inputs. Overlaps are reported by the
  checks.
* When no grid covers it, the point gets no grid (null), and is reported.

:func:`assign_points_exact` is the reference: an STRtree query with the exact ``covered_by``
predicate. Faster engines must give the same answer point by point.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import shapely

from gisgrid import crs as crsmod
from gisgrid.errors import AssignmentInputError


def check_crs(what: str, crs: Any) -> None:
    """Refuse ``what`` (points or grids) without a CRS or in another than EPSG:4326."""
    if crs is None:
        raise AssignmentInputError(f"{what} have no CRS; gisgrid joins in EPSG:4326")
    if crsmod.normalize_crs(crs) not in (crsmod.STORAGE_CRS, crsmod.CGCS2000):
        raise AssignmentInputError(f"{what} are in {crs}, not EPSG:4326")


def check_points(points: gpd.GeoSeries) -> None:
    check_crs("points", points.crs)
    check_point_types(np.asarray(points.values, dtype=object))


def check_point_types(values: np.ndarray) -> None:
    """Refuse geometries other than points (missing and empty ones pass)."""
    # type id -1 is a missing geometry, 0 a point (empty or not)
    if (shapely.get_type_id(values) > 0).any():
        raise AssignmentInputError("only points can be assigned to grids")


def check_grids(grids: gpd.GeoDataFrame) -> None:
    check_crs("grids", grids.crs)
    gtypes = set(shapely.get_type_id(grids.geometry.values))
    if gtypes - {3, 6}:
        raise AssignmentInputError("grids must be polygons or multipolygons")
    if "code" not in grids.columns:
        raise AssignmentInputError("grids need a 'code' column")


def check_join_inputs(points: gpd.GeoSeries, grids: gpd.GeoDataFrame) -> None:
    """Refuse a spatial join whose inputs do not fit: CRS and geometry types.

    Raises
    ------
    AssignmentInputError
        When either side has no CRS or not EPSG:4326, points are not points, or grids are
        not polygons, or grids lack a ``code`` column.
    """
    check_crs("points", points.crs)  # both CRS first, then the geometry types
    check_crs("grids", grids.crs)
    check_points(points)
    check_grids(grids)


def assign_points_exact(points: gpd.GeoSeries, grids: gpd.GeoDataFrame) -> np.ndarray:
    """The grid code of each point by the rule above (``None`` where no grid covers it).

    Parameters
    ----------
    points
        Point geometries in EPSG:4326 (missing or empty points get ``None``).
    grids
        Level-3 grids: a ``code`` column and (multi)polygon geometries in EPSG:4326.

    Returns
    -------
    numpy.ndarray
        Object array of codes (str) or ``None``, aligned with ``points``.
    """
    check_join_inputs(points, grids)
    return covering_codes(
        np.asarray(points.values, dtype=object),
        np.asarray(grids.geometry.values, dtype=object),
        grids["code"].to_numpy(dtype=object),
    )


def covering_codes(points: np.ndarray, polygons: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """The code of the polygon covering each point by the rule above, inputs unchecked: the
    rule for any polygons with codes (grids, villages, county outlines).

    Parameters
    ----------
    points
        Point geometries (missing or empty ones get ``None``).
    polygons
        (Multi)polygons, in the points' CRS.
    codes
        The polygons' codes: where several cover a point, the smallest (string order) wins.

    Returns
    -------
    numpy.ndarray
        Object array of codes or ``None``, aligned with ``points``.
    """
    out = np.full(len(points), None, dtype=object)
    if len(points) == 0 or len(polygons) == 0:
        return out
    tree = shapely.STRtree(polygons)
    pt_idx, grid_idx = tree.query(points, predicate="covered_by")
    if len(pt_idx) == 0:
        return out
    # smallest code wins: sort pairs by point, then by the polygon's rank in code order
    rank = np.empty(len(codes), dtype=np.int64)
    rank[np.argsort(codes.astype(str), kind="stable")] = np.arange(len(codes))
    order = np.lexsort((rank[grid_idx], pt_idx))
    pt_sorted = pt_idx[order]
    first = np.r_[True, pt_sorted[1:] != pt_sorted[:-1]]
    out[pt_sorted[first]] = codes[grid_idx[order][first]]
    return out
