"""Every version of the grids: the net as it stood on any date, and one grid's history.

The ``grids`` layer holds the latest version of each grid; ``grid_versions`` the versions a
publication superseded, as they were (:mod:`gisgrid.layers.grid_versions`). Together they are
the whole history of the net, and :func:`~gisgrid.analysis.assign.in_force` on them gives
the net on a date: :func:`net_versions` reads them as one frame.

Lineage is a version's ``derived_from`` (the codes it came from, by split or merge); the
grids that came from a grid are those naming it there (:func:`grid_history`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.analysis.assign.current import in_force, today
from gisgrid.errors import NotFoundError
from gisgrid.layers import get_layer
from gisgrid.stores.base import BBox, Reader, Where

#: the columns a superseded version has besides the grids layer's
ARCHIVE_COLUMNS = ("superseded_at", "superseded_by")


def net_versions(
    reader: Reader,
    *,
    where: Where | None = None,
    bbox: BBox | None = None,
    archive_columns: bool = False,
) -> gpd.GeoDataFrame:
    """Every version of the grids (latest and superseded) as one grids-shaped frame.

    Filter it with :func:`~gisgrid.analysis.assign.in_force` for the net on a date. Rows
    of ``grid_versions`` come after those of ``grids``.

    Parameters
    ----------
    reader
        A store, or a store seen through a caller's scope.
    where, bbox
        As :meth:`~gisgrid.stores.base.Reader.read` takes them (grids columns only).
    archive_columns
        Keep :data:`ARCHIVE_COLUMNS` (empty for the latest versions); without them the frame
        has exactly the grids layer's columns.
    """
    latest = reader.read("grids", where=where, bbox=bbox)
    older = reader.read("grid_versions", where=where, bbox=bbox)
    if not archive_columns:
        older = older.drop(columns=list(ARCHIVE_COLUMNS))
    else:
        latest = latest.copy()
        for column in ARCHIVE_COLUMNS:
            latest[column] = pd.Series(
                dtype=get_layer("grid_versions").field(column).dtype, index=latest.index
            )
    frames = [f for f in (latest, older) if len(f)] or [latest]
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crsmod.STORAGE_CRS)


def net_on(
    reader: Reader,
    as_of: dt.date | None,
    *,
    where: Where | None = None,
    bbox: BBox | None = None,
) -> gpd.GeoDataFrame:
    """The grids in force on ``as_of`` (default today), superseded versions included when
    they were the ones in force then; without archive columns, like a grids read."""
    if as_of is None or as_of >= today():
        # today or later: the latest versions are the only candidates (a superseded
        # version ended on or before the day its successor was published)
        return in_force(reader.read("grids", where=where, bbox=bbox), as_of=as_of)
    return in_force(net_versions(reader, where=where, bbox=bbox), as_of=as_of).reset_index(
        drop=True
    )


@dataclass(frozen=True)
class GridHistory:
    """One grid's versions and lineage.

    Attributes
    ----------
    code
        The grid.
    versions
        Its versions, oldest first (grids columns, :data:`ARCHIVE_COLUMNS`, ``area_m2`` and
        the geometry), the latest last.
    came_from
        Codes it came from (split, merge), from its versions' ``derived_from``.
    went_into
        Codes of the grids that came from it, sorted.
    """

    code: str
    versions: gpd.GeoDataFrame
    came_from: tuple[str, ...]
    went_into: tuple[str, ...]

    def status(self, as_of: dt.date | None = None) -> str:
        """``in_force``, ``retired`` or ``future`` on ``as_of`` (default today)."""
        if len(in_force(self.versions, as_of=as_of)):
            return "in_force"
        day = pd.Timestamp(today() if as_of is None else as_of)
        starts = pd.to_datetime(self.versions["valid_from"], errors="coerce")
        if bool((starts > day).any()):
            return "future"
        return "retired"


def _codes(text: object) -> list[str]:
    if not isinstance(text, str):
        return []
    return [c.strip() for c in text.split(",") if c.strip()]


def grid_history(reader: Reader, code: str) -> GridHistory:
    """Every version of grid ``code`` and where it came from and went.

    Raises
    ------
    NotFoundError
        ``reader`` holds no version of ``code`` (absent, or outside the caller's area).
    """
    try:
        gridcodes.grid_level_of(code)
    except ValueError as exc:
        raise NotFoundError(str(exc)) from None
    village = gridcodes.village_of(code)
    rows = net_versions(reader, where={"village_code": village}, archive_columns=True)
    mine = rows[rows["code"].astype(str) == code].copy()
    if not len(mine):
        raise NotFoundError(f"no grid {code}")
    mine["version"] = mine["version"].fillna(1).astype("int64")
    mine = mine.sort_values("version", kind="stable").reset_index(drop=True)
    mine["area_m2"] = np.round(crsmod.to_metric(mine.geometry).area.to_numpy(), 1)
    came_from = sorted({c for text in mine["derived_from"] for c in _codes(text)})
    went_into = sorted(
        {
            str(other)
            for other, text in zip(rows["code"], rows["derived_from"], strict=True)
            if code in _codes(text) and str(other) != code
        }
    )
    versions = gpd.GeoDataFrame(mine, geometry="geometry", crs=crsmod.STORAGE_CRS)
    return GridHistory(
        code=code, versions=versions, came_from=tuple(came_from), went_into=tuple(went_into)
    )
