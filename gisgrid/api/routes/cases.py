"""A case: an incident's handling 立案→派遣→处置→核查→结案 — read it, take the next step.

Thin: the flow is :mod:`gisgrid.analysis.cases`, reading and storing
:mod:`gisgrid.services.cases`. The incident is found through the caller's reader, so one
outside the caller's area answers 404; a step the flow does not allow answers 409, one the
caller may not take 403, and nothing is written.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from gisgrid.analysis.cases import PUBLIC_REPORTER, Actor, Level, Stage
from gisgrid.api import geojson
from gisgrid.api.deps import Scoped, State
from gisgrid.api.errors import COMMON_ERRORS, documented
from gisgrid.api.schemas import AssigneesResponse, CaseResponse, CaseStepRequest
from gisgrid.layers import kinds
from gisgrid.services.accounts import record_access
from gisgrid.services.cases import (
    PUBLIC_REPORTER_ZH,
    Case,
    CaseCounts,
    assignees_for,
    case_of,
    case_statistics,
    case_summaries,
    steps_as_dicts,
    take_step,
    work_list,
)

router = APIRouter(tags=["cases 案件办理"], responses=COMMON_ERRORS)

IncidentId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="incident id")]


def _actor(access: Scoped) -> Actor:
    account = access.caller.account
    return Actor(account.username, account.role, in_area=True)


def _public_report(access: Scoped, incident_id: str) -> dict[str, Any] | None:
    """A resident's report (群众上报): the contact phone they left, masked for roles without
    household records (the scoped reader masks it)."""
    found = access.reader.read("public_reports", where={"incident_id": incident_id})
    if not len(found):
        return None
    phone = found["contact_phone"].iat[0]
    return {"contact_phone": phone if isinstance(phone, str) else None}


def _answer(case: Case, access: Scoped) -> dict[str, Any]:
    late = case.escalation
    return {
        "public_report": _public_report(access, str(case.incident["id"])),
        "incident": geojson.plain_record(case.incident),
        "stage": case.stage,
        "stage_zh": kinds.CASE_STATUSES[case.stage].zh,
        "assignee": case.assignee,
        "steps": steps_as_dicts(case.steps, incident_id=str(case.incident["id"])),
        "allowed": [{"action": a, "label_zh": kinds.CASE_ACTIONS[a].zh} for a in case.allowed],
        "due": None if late.due is None else late.due.isoformat(sep=" "),
        "overdue": late.overdue,
        "escalated_to": late.level,
    }


@router.get("/api/cases", summary="Work list: the cases of one's area by deadline 案件清单")
def list_cases(
    state: State,
    access: Scoped,
    mine: Annotated[bool, Query(description="only the cases dispatched to me")] = False,
    open_only: Annotated[bool, Query(alias="open", description="only unfinished cases")] = True,
    overdue: Annotated[bool, Query(description="only overdue cases")] = False,
    stage: Annotated[Stage | None, Query()] = None,
    reached: Annotated[
        Level | None,
        Query(description="only overdue cases escalated to this level of the net or beyond"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    me = access.caller.account.username
    found = work_list(
        case_summaries(access.reader, index=state.locator.grid_index),
        me=me,
        mine=mine,
        open_only=open_only,
        overdue=overdue,
        stage=stage,
        reached=reached,
    )
    return {
        "matched": len(found),
        "cases": [
            {
                "id": c.id,
                "kind": c.kind,
                "kind_zh": kinds.label(kinds.INCIDENT_KINDS, c.kind, "zh"),
                "reported_at": c.reported_at.isoformat(sep=" "),
                "grid_code": c.grid_code,
                "stage": c.stage,
                "stage_zh": kinds.CASE_STATUSES[c.stage].zh,
                "assignee": c.assignee,
                "reporter": c.reporter,
                "reporter_zh": PUBLIC_REPORTER_ZH if c.reporter == PUBLIC_REPORTER else None,
                "steps": c.steps,
                "due": None if c.escalation.due is None else c.escalation.due.isoformat(sep=" "),
                "overdue": c.escalation.overdue,
                "escalated_to": c.escalation.level,
            }
            for c in found[offset : offset + limit]
        ],
    }


@router.get("/api/cases/stats", summary="How the area's cases are handled 案件办理统计")
def case_stats(state: State, access: Scoped) -> dict[str, Any]:
    found = case_statistics(case_summaries(access.reader, index=state.locator.grid_index))
    townships = access.reader.read("townships", columns=["code", "name"])
    names = dict(zip(townships["code"], townships["name"], strict=True))

    def counts(c: CaseCounts) -> dict[str, int]:
        return {"open": c.open, "overdue": c.overdue, "finished": c.finished}

    return {
        "cases": found.cases,
        "open": found.open,
        "overdue": found.overdue,
        "closed": found.closed,
        "rejected": found.rejected,
        "closed_on_time": found.closed_on_time,
        "on_time_rate": found.on_time_rate,
        "median_hours": {
            stage: {"hours": h, "stage_zh": kinds.CASE_STATUSES[stage].zh}
            for stage, h in found.median_hours.items()
        },
        "by_township": [
            {"township": code or None, "name": names.get(code), **counts(c)}
            for code, c in sorted(found.by_township.items())
        ],
        "by_kind": [
            {"kind": k, "kind_zh": kinds.label(kinds.INCIDENT_KINDS, k, "zh"), **counts(c)}
            for k, c in sorted(found.by_kind.items())
        ],
    }


@router.get(
    "/api/incidents/{incident_id}/case",
    summary="An incident's case: stage, steps, next actions, deadline 案件详情",
    response_model=CaseResponse,
)
def read_case(access: Scoped, incident_id: IncidentId) -> dict[str, Any]:
    return _answer(case_of(access.reader, incident_id, caller=_actor(access)), access)


@router.get(
    "/api/incidents/{incident_id}/assignees",
    summary="Who the case may be dispatched to, nearest first 可派遣人员",
    response_model=AssigneesResponse,
)
def list_assignees(state: State, access: Scoped, incident_id: IncidentId) -> dict[str, Any]:
    locator = state.locator
    found = assignees_for(
        access.reader,
        state.store.ledger.accounts(),
        incident_id,
        caller=_actor(access),
        by_phone=locator.net().by_phone,
        index=locator.grid_index,
    )
    return {
        "incident_id": incident_id,
        "assignees": [
            {
                "username": c.username,
                "display_name": c.display_name,
                "role": c.role,
                "role_zh": c.role_zh,
                "area": c.area,
                "area_name": c.area_name,
                "level": c.level,
            }
            for c in found
        ],
    }


@router.post(
    "/api/incidents/{incident_id}/steps",
    status_code=201,
    summary="Take the next step of a case 办理案件",
    response_model=CaseResponse,
    responses=documented(409),
)
def add_step(
    state: State, access: Scoped, incident_id: IncidentId, body: CaseStepRequest
) -> dict[str, Any]:
    with state.write_lock:
        case = take_step(
            state.store,
            access.reader,
            incident_id,
            action=body.action,
            caller=_actor(access),
            note=body.note,
            assignee=body.assignee,
            photos=body.photos,
            after=body.after,
        )
        state.changed()
    record_access(
        state.store.ledger,
        access.caller,
        "case_step",
        target=incident_id,
        detail={
            "action": body.action,
            "stage": case.stage,
            "assignee": body.assignee,
            "photos": len(body.photos),
        },
    )
    return _answer(case, access)
