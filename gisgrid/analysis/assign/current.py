"""The one rule for "which grid is this point in" when a reader needs it: the grid covering it now.

Every reader (the checks, the dashboard's figures, the maps, the web app's household pages)
takes a point's level-3 grid from its geometry and the level-3 grids as they are *now*, by
the assignment rule of :mod:`.rule` (fast :class:`~.index.GridIndex`, proven equal to the
reference). The stored ``grid_code`` is what the last ``gisgrid assign`` wrote, kept for
exchange and desktop GIS; no reader trusts it, so a household that moved, or was imported
after the last assignment, is counted where it stands, and every reader agrees.
"""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid.analysis.assign.index import GridIndex
from gisgrid.layers import ASSIGNED_LAYERS


def level3_grids(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grids the rule assigns to: level 3, with a code and a (multi)polygon geometry.

    A grid without a code, or whose geometry is missing or not polygonal, covers nothing.
    """
    level = pd.to_numeric(grids["level"], errors="coerce").to_numpy()
    polygonal = np.isin(
        shapely.get_type_id(np.asarray(grids.geometry.values, dtype=object)), (3, 6)
    )
    keep = (level == 3) & grids["code"].notna().to_numpy() & polygonal
    out = grids.loc[keep, ["code", "geometry"]].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=grids.crs)


def grid_index(grids: gpd.GeoDataFrame) -> GridIndex:
    """A :class:`GridIndex` of the level-3 grids among ``grids`` (any levels)."""
    return GridIndex.from_grids(level3_grids(grids))


def current_grid_codes(points: gpd.GeoSeries, grids: gpd.GeoDataFrame | GridIndex) -> np.ndarray:
    """The level-3 grid covering each point now, by the assignment rule (``None``: no grid).

    Parameters
    ----------
    points
        Point geometries in EPSG:4326 (missing or empty ones get ``None``).
    grids
        The grids (any levels; only level 3 counts), or a :class:`GridIndex` built from them
        with :func:`grid_index` (build it once to answer several layers).

    Returns
    -------
    numpy.ndarray
        Object array of codes (str) or ``None``, aligned with ``points``.
    """
    if len(points) == 0:
        return np.full(0, None, dtype=object)
    index = grids if isinstance(grids, GridIndex) else grid_index(grids)
    return np.asarray(index.assign(points), dtype=object)


def with_current_grid_codes(
    frames: Mapping[str, pd.DataFrame],
    *,
    index: GridIndex | None = None,
    layers: tuple[str, ...] = ASSIGNED_LAYERS,
) -> dict[str, pd.DataFrame]:
    """The frames with ``grid_code`` of the point layers set by :func:`current_grid_codes`.

    Parameters
    ----------
    frames
        Layer name → canonical frame; needs ``grids`` unless ``index`` is given. Layers of
        ``layers`` that are absent are left absent.
    index
        The grid index to use (default: built from ``frames["grids"]``).
    layers
        The point layers whose ``grid_code`` is set.

    Returns
    -------
    dict
        A new mapping; the point layers are copies, the others the same frames.
    """
    out = dict(frames)
    todo = [name for name in layers if name in out]
    if not todo:
        return out
    if index is None:
        index = grid_index(out["grids"])
    for name in todo:
        frame = out[name].copy()
        frame["grid_code"] = current_grid_codes(frame.geometry, index)
        out[name] = frame
    return out


__all__ = ["current_grid_codes", "grid_index", "level3_grids", "with_current_grid_codes"]
