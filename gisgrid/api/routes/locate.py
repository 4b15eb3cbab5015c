"""Where is this point, and who is responsible for it."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from gisgrid.api.deps import Scoped, State
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.api.schemas import LocateResponse

router = APIRouter(prefix="/api", tags=["locate 定位"], responses=COMMON_ERRORS)


@router.get(
    "/locate",
    summary="Township, village, grids and responsible persons at a point",
    response_model=LocateResponse,
)
async def locate(
    state: State,
    access: Scoped,
    lon: Annotated[float, Query(description="longitude, given FIRST")],
    lat: Annotated[float, Query(description="latitude")],
    crs: Annotated[
        Literal["wgs84", "cgcs2000", "gcj02", "bd09"],
        Query(description="wgs84/cgcs2000 (GPS), gcj02 (Amap, Tencent, WeChat), bd09 (Baidu)"),
    ] = "wgs84",
    as_of: Annotated[
        dt.date | None,
        Query(
            description="answer with the grids in force on this date, YYYY-MM-DD (default today)"
        ),
    ] = None,
) -> JSONResponse:
    # the hot path of the field app: well under a millisecond of in-memory work, so it runs
    # on the event loop (no thread-pool hop) and answers the model's plain dump (no generic
    # encoder, no second validation)
    if as_of is not None:  # another date's net is built on first use: not on the event loop
        await run_in_threadpool(state.locator.net, as_of)
    body = LocateResponse.of(state.locator.locate(lon, lat, crs=crs, as_of=as_of)).model_dump()
    if not access.scope.staff:  # figures-only roles: no responsible person's contact
        grids = body["grids"]
        for level, grid in grids.items():
            if grid is not None:
                grids[level] = access.scope.mask_record("grids", grid)
    return JSONResponse(body)
