"""Dependencies of the routes, in one place: the app's state and the query parameters that
several routes share (areas by code, a bounding box)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from gisgrid import codes
from gisgrid.api.state import AppState
from gisgrid.errors import ConfigError
from gisgrid.stores.base import BBox


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.gisgrid
    return state


State = Annotated[AppState, Depends(get_state)]

TOWNSHIP_QUERY = rf"^{codes.TOWNSHIP_PATTERN}$"
VILLAGE_QUERY = rf"^{codes.VILLAGE_PATTERN}$"
#: a level-2 or level-3 grid (a level-1 grid is its village: ask for the village)
GRID_QUERY = rf"^{codes.VILLAGE_PATTERN}(\d{{3}}){{1,2}}$"

Township = Annotated[str | None, Query(pattern=TOWNSHIP_QUERY, description="9-digit code")]
Village = Annotated[str | None, Query(pattern=VILLAGE_QUERY, description="12-digit code")]
Grid = Annotated[str | None, Query(pattern=GRID_QUERY, description="15- or 18-digit code")]

_NUMBER = r"-?\d+(\.\d+)?"
BBOX_PATTERN = rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"
BBOX_TEXT = "minlon,minlat,maxlon,maxlat (WGS84 degrees)"


def parse_bbox(bbox: str | None) -> BBox | None:
    """``minlon,minlat,maxlon,maxlat`` → a tuple, or a clear error."""
    if bbox is None:
        return None
    parts = bbox.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"bbox must be four numbers minlon,minlat,maxlon,maxlat: {bbox!r}"
        ) from None
    if len(values) != 4:
        raise ConfigError(f"bbox must be four numbers minlon,minlat,maxlon,maxlat: {bbox!r}")
    x0, y0, x1, y1 = values
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise ConfigError(f"bbox out of range or min > max: {bbox!r}")
    return x0, y0, x1, y1


def bbox_query(
    bbox: Annotated[str | None, Query(pattern=BBOX_PATTERN, description=BBOX_TEXT)] = None,
) -> BBox | None:
    """The ``bbox`` query parameter, parsed."""
    return parse_bbox(bbox)


BBoxQuery = Annotated[BBox | None, Depends(bbox_query)]
