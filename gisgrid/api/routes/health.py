"""Is the process up (liveness), and is it ready to serve (readiness): for people and load
balancers.

* ``/api/health/live``: the process answers HTTP. Never asks the store. A service manager
  restarts the process when this fails.
* ``/api/health``: ready: the store answers now *and* the hot paths are warm (the grids and
  the locate index loaded and answered once; the dashboard's caches are filled after, in the
  background: ``caches``). 503 otherwise: a load
  balancer sends no requests to an instance until it is ready, and takes it out of rotation
  (not restarts it) while its store is unreachable: it recovers by itself.
"""

from __future__ import annotations

import os
from typing import Annotated, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gisgrid.api.deps import State
from gisgrid.api.limits import Turns

router = APIRouter(prefix="/api/health", tags=["service 服务"])

#: the threads that ask the store for readiness (made in the event loop at first use)
_limiters: list[anyio.CapacityLimiter] = []


def _health_threads() -> anyio.CapacityLimiter:
    if not _limiters:
        _limiters.append(anyio.CapacityLimiter(4))
    return _limiters[0]


def heavy_turns(request: Request) -> Turns:
    """The turns of heavy requests (made by :func:`gisgrid.api.security.install`)."""
    turns: Turns = request.app.state.turns
    return turns


HeavyTurns = Annotated[Turns, Depends(heavy_turns)]


class Health(BaseModel):
    """What ``/api/health`` answers, 200 when ready, 503 when not."""

    #: ``ok``: ready; ``warming``: the store answers, the hot paths are not ready yet
    #: (a moment after a start); ``unavailable``: the store does not answer (``message``)
    status: Literal["ok", "warming", "unavailable"]
    #: the store answers and the hot paths are warm: send requests here
    ready: bool
    #: whether the hot paths are ready: the grids and the locate index loaded and answered
    #: once (``/api/locate`` at full speed from the first request)
    warm: bool
    #: whether the caches are filled: the dashboard's layers, the check report, the
    #: household search and the county map's geometry, computed in the background after
    #: ``warm`` (seconds on a county);
    #: until then the first page needing one computes it, or waits for it
    caches: bool = False
    store: str
    #: the store's data version this server answers with (``None``: not known yet); it
    #: follows the store's within about a second (docs/county-it.md, Fresh answers)
    data_version: str | None = None
    #: the process that answered (its id): with ``gisgrid serve --workers N`` or several
    #: machines behind a proxy, which of them says so
    process: int
    message: str | None = None
    #: heavy requests (pages, maps, layers, search, reports) running now, and waiting for
    #: a turn (``GISGRID_WEB_HEAVY_*``: beyond the queue they are answered 503)
    heavy_running: int = 0
    heavy_waiting: int = 0


class Liveness(BaseModel):
    status: Literal["ok"]


@router.get(
    "",
    summary="Ready to serve: the store answers and the caches are warm (503 when not)",
    response_model=Health,
    responses={503: {"model": Health, "description": "the store does not answer, or warming"}},
)
async def readiness(state: State, turns: HeavyTurns) -> Health | JSONResponse:
    # the store's answer in a thread of this route's own (never behind the heavy requests'
    # work in the shared thread pool)
    problem = await anyio.to_thread.run_sync(state.store_problem, limiter=_health_threads())
    warm = state.warmed.is_set()
    ready = problem is None and warm
    health = Health(
        status="unavailable" if problem is not None else "ok" if warm else "warming",
        ready=ready,
        warm=warm,
        caches=state.filled.is_set(),
        store=state.store.url,
        data_version=state.version,
        process=os.getpid(),
        message=None if problem is None else str(problem),
        heavy_running=turns.running,
        heavy_waiting=turns.waiting,
    )
    if ready:
        return health
    return JSONResponse(health.model_dump(), status_code=503)


@router.get("/live", summary="The process answers (never asks the store)", response_model=Liveness)
async def liveness() -> Liveness:
    return Liveness(status="ok")
