"""Is the service up (liveness), and can it serve (readiness): for people and load balancers."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from gisgrid.api.deps import State

router = APIRouter(prefix="/api/health", tags=["service 服务"])


class Health(BaseModel):
    """What ``/api/health`` answers, 200 when ready, 503 when not."""

    #: ``ok``: the store answers; ``unavailable``: it does not (``message`` says why)
    status: Literal["ok", "unavailable"]
    ready: bool
    #: whether the dashboard's layers and report are computed (pages are fast from then on)
    warm: bool
    store: str
    #: the store's data version this server answers with (``None``: not known yet); it
    #: follows the store's within about a second (docs/county-it.md, Fresh answers)
    data_version: str | None = None
    message: str | None = None


class Liveness(BaseModel):
    status: Literal["ok"]


@router.get(
    "",
    summary="Ready to serve: the store answers now (503 when it does not)",
    response_model=Health,
    responses={503: {"model": Health, "description": "the store does not answer"}},
)
def readiness(state: State) -> Health | JSONResponse:
    problem = state.store_problem()
    health = Health(
        status="ok" if problem is None else "unavailable",
        ready=problem is None,
        warm=state.warmed.is_set(),
        store=state.store.url,
        data_version=state.version,
        message=None if problem is None else str(problem),
    )
    if problem is None:
        return health
    return JSONResponse(health.model_dump(), status_code=503)


@router.get("/live", summary="The process answers (never asks the store)", response_model=Liveness)
def liveness() -> Liveness:
    return Liveness(status="ok")
