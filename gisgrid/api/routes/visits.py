"""Visits to a household (走访): record one, list them. Thin: :mod:`gisgrid.services.visits`.

A household outside the caller's area answers 404, for reading and for recording alike.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from gisgrid.api import geojson
from gisgrid.api.deps import Scoped, State
from gisgrid.api.errors import COMMON_ERRORS, documented
from gisgrid.api.schemas import VisitRequest
from gisgrid.services.accounts import record_access
from gisgrid.services.visits import record_visit, visits_of

router = APIRouter(tags=["visits 走访"], responses=COMMON_ERRORS)

HouseholdId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="household id")]


@router.get("/api/households/{household_id}/visits", summary="A household's visits 走访记录")
def list_visits(access: Scoped, household_id: HouseholdId) -> dict[str, Any]:
    found = visits_of(access.reader, household_id)
    return {
        "household_id": household_id,
        "visits": [geojson.plain_record(r) for r in found.to_dict("records")],
    }


@router.post(
    "/api/households/{household_id}/visits",
    status_code=201,
    summary="Record a visit to a household 记录走访",
    responses=documented(409),
)
def add_visit(
    state: State, access: Scoped, household_id: HouseholdId, body: VisitRequest
) -> dict[str, Any]:
    with state.write_lock:
        stored = record_visit(
            state.store,
            access.reader,
            household_id,
            visitor=access.caller.account.username,
            kind=body.kind,
            note=body.note,
            at=body.at,
            lon=body.lon,
            lat=body.lat,
            request=body.request,
            index=state.locator.grid_index,
        )
        state.changed()
    visit = geojson.plain_record(stored.visit.to_dict("records")[0])
    record_access(
        state.store.ledger,
        access.caller,
        "visit",
        target=household_id,
        detail={"visit": visit["id"], "kind": body.kind, "request": stored.request_id},
    )
    return {"visit": visit, "request": stored.request_id}
