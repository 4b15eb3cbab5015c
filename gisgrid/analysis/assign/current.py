"""The one rule for "which grid is this point in" when a reader needs it: the grid covering it now.

Every reader (the checks, the dashboard's figures, the maps, the web app's household pages)
takes a point's level-3 grid from its geometry and the level-3 grids as they are *now*, by
the assignment rule of :mod:`.rule` (fast :class:`~.index.GridIndex`, proven equal to the
reference). The stored ``grid_code`` is what the last ``gisgrid assign`` wrote, kept for
exchange and desktop GIS; no reader trusts it, so a household that moved, or was imported
after the last assignment, is counted where it stands, and every reader agrees.

"Now" is a date too: the grids are versioned by ``valid_from`` / ``valid_to``, and
:func:`in_force` is the one rule for the grids in force on a date (default today, in the
county's local time). :func:`level3_grids` and :func:`grid_index` apply it, so a retired
grid, or one that takes effect later, covers nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections.abc import Mapping
from typing import TypeVar
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid.analysis.assign.index import GridIndex
from gisgrid.layers import ASSIGNED_LAYERS
from gisgrid.layers.schema import LOCAL_TZ

Frame = TypeVar("Frame", bound=pd.DataFrame)


def today() -> dt.date:
    """Today's date in the county's local time (a server on UTC would be 8 hours late)."""
    return dt.datetime.now(ZoneInfo(LOCAL_TZ)).date()


def local_now() -> dt.datetime:
    """Now in the county's local time, naive (as the layers keep times), to the second."""
    return dt.datetime.now(ZoneInfo(LOCAL_TZ)).replace(tzinfo=None, microsecond=0)


def in_force(grids: Frame, *, as_of: dt.date | None = None) -> Frame:
    """The grids in force on ``as_of``: the one rule every reader of grids follows.

    A grid is in force on day *d* when (``valid_from`` is missing or ``valid_from <= d``)
    and (``valid_to`` is missing or ``valid_to > d``). ``valid_to`` is the first day the grid
    is no longer in force: a grid retired with ``valid_to = d`` takes no households on *d*,
    and its successor, published with ``valid_from = d``, takes them from that day — the
    two never overlap and leave no day between them. A frame without one of the columns
    (a read that did not ask for it) counts as missing dates there.

    Parameters
    ----------
    grids
        Grid rows (any levels, any columns); dates as dates, timestamps or ISO text
        (unreadable ones count as missing).
    as_of
        The date (default: :func:`today`).

    Returns
    -------
    pandas.DataFrame
        The rows in force, in their order, with their index (same type as ``grids``).
    """
    day = pd.Timestamp(today() if as_of is None else as_of)
    keep = np.ones(len(grids), dtype=bool)
    if "valid_from" in grids.columns:
        start = _days(grids["valid_from"])
        keep &= (start.isna() | (start <= day)).to_numpy(dtype=bool)
    if "valid_to" in grids.columns:
        end = _days(grids["valid_to"])
        keep &= (end.isna() | (end > day)).to_numpy(dtype=bool)
    if keep.all():
        return grids
    return grids[keep]


def _days(values: pd.Series) -> pd.Series:
    """Dates as midnight timestamps without zone (``NaT``: missing or unreadable)."""
    ts = pd.to_datetime(values, errors="coerce")
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    return ts.dt.normalize()


def level3_grids(grids: gpd.GeoDataFrame, *, as_of: dt.date | None = None) -> gpd.GeoDataFrame:
    """The grids the rule assigns to: level 3, in force on ``as_of`` (:func:`in_force`,
    default today), with a code and a (multi)polygon geometry.

    A grid without a code, or whose geometry is missing or not polygonal, covers nothing.
    """
    grids = in_force(grids, as_of=as_of)
    level = pd.to_numeric(grids["level"], errors="coerce").to_numpy()
    polygonal = np.isin(
        shapely.get_type_id(np.asarray(grids.geometry.values, dtype=object)), (3, 6)
    )
    keep = (level == 3) & grids["code"].notna().to_numpy() & polygonal
    out = grids.loc[keep, ["code", "geometry"]].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=grids.crs)


def grid_index(grids: gpd.GeoDataFrame, *, as_of: dt.date | None = None) -> GridIndex:
    """A :class:`GridIndex` of the level-3 grids among ``grids`` (any levels) in force on
    ``as_of`` (default today).

    Kept by its content (the grids' codes and geometry, :data:`_INDEXES`): the web app's
    locator and a county map drawn from the same grids share one index (a second to build
    on a county) instead of building it twice; other grids (a write changed one) are another
    key, never an old index. An index is safe to share between threads.
    """
    level3 = level3_grids(grids, as_of=as_of)
    digest = hashlib.blake2b(digest_size=20)
    digest.update(str(level3.crs).encode())
    codes = level3["code"].to_numpy(dtype=object).astype(str)
    order = np.argsort(codes, kind="stable")  # as the index orders them: by code
    wkbs = shapely.to_wkb(np.asarray(level3.geometry.values, dtype=object)[order])
    for code, wkb in zip(codes[order], wkbs, strict=True):
        digest.update(f"{len(code)}:{code}:{len(wkb)}:".encode())
        digest.update(wkb)
    key = digest.digest()
    with _INDEXES_LOCK:
        found = _INDEXES.get(key)
    if found is not None:
        return found
    index = GridIndex.from_grids(level3)
    with _INDEXES_LOCK:
        if len(_INDEXES) >= _INDEXES_KEPT:
            _INDEXES.pop(next(iter(_INDEXES)))  # the oldest first
        _INDEXES[key] = index
    return index


#: grid indexes by the digest of their grids' codes and geometry (:func:`grid_index`): keyed
#: by the content itself, an entry is only ever given for the very same grids
_INDEXES: dict[bytes, GridIndex] = {}
_INDEXES_KEPT = 2
_INDEXES_LOCK = threading.Lock()


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
    """The frames with ``grid_code`` of the point layers set by :func:`current_grid_codes`,
    and ``grids`` (when given) reduced to the grids in force today (:func:`in_force`): the
    current net, which every figure computed from the frames counts.

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
        A new mapping; the point layers are copies, ``grids`` the rows in force, the
        others the same frames.
    """
    out = dict(frames)
    if "grids" in out:
        out["grids"] = in_force(out["grids"])
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


__all__ = [
    "current_grid_codes",
    "grid_index",
    "in_force",
    "level3_grids",
    "today",
    "with_current_grid_codes",
]
