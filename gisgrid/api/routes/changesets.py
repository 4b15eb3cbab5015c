"""Change sets: the planners' drafts of grid edits, their diff, review and publication.

Thin: :mod:`gisgrid.services.changesets` decides; this module reads the request, calls it
with the caller's account and scope, records the step in the audit log and shapes the answer.

Household ids in a diff are residents' data: the points are read through the caller's
:class:`~gisgrid.analysis.scope.ScopedReader`, and a role that may not read household records
(a planner, a viewer) is shown the moves counted per pair of grids instead of the ids; the ids
shown to the others are recorded in the audit log like any read of records.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query

from gisgrid.analysis.assign import in_force
from gisgrid.analysis.edits import CHANGE, RETIRED
from gisgrid.analysis.impact import ChangeImpact
from gisgrid.api import geojson
from gisgrid.api.deps import Scoped, SignedIn, State, Village
from gisgrid.api.errors import COMMON_ERRORS, documented
from gisgrid.api.schemas import (
    ChangeSetListOut,
    ChangeSetOut,
    EditIn,
    EditOut,
    EventOut,
    NewChangeSetIn,
    ReturnIn,
    ReviewIn,
)
from gisgrid.layers import get_layer
from gisgrid.services import changesets as service
from gisgrid.services.accounts import record_access
from gisgrid.stores.changesets import ChangeSet, ChangeSetStatus

router = APIRouter(prefix="/api/changesets", tags=["change sets 变更单"], responses=COMMON_ERRORS)
GRIDS = get_layer("grids")

ChangeSetId = Annotated[int, Path(ge=1, le=2**62, description="the change set's number")]

#: how the diff names what happened to a grid (a retired grid is "removed" from the net)
DIFF_KINDS = {"added": "added", "retired": "removed", "reshaped": "reshaped", "edited": "edited"}


def _audit(state: State, access: SignedIn, action: str, found: ChangeSet, **detail: Any) -> None:
    record_access(
        state.store.ledger,
        access.caller,
        f"change_set_{action}",
        target=f"change_set/{found.id}",
        detail={"village_code": found.village_code, **detail},
    )


def _features(frame: pd.DataFrame, access: SignedIn, **extra: str) -> dict[str, Any]:
    """Grid rows as a FeatureCollection, staff contacts masked as the caller's role needs."""
    shown = access.scope.mask(GRIDS, frame)
    if extra:
        shown = shown.assign(**extra)
    return geojson.feature_collection(shown, matched=len(shown), offset=0, key=("code",))


def _out(found: ChangeSet) -> dict[str, Any]:
    return ChangeSetOut.model_validate(found).model_dump(mode="json")


@router.get("", summary="Change sets of the caller's area, newest first")
def list_change_sets(
    state: State,
    access: Scoped,
    village: Village = None,
    status: Annotated[ChangeSetStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> ChangeSetListOut:
    found = service.list_change_sets(
        state.store, scope=access.scope, village=village, status=status, limit=limit
    )
    return ChangeSetListOut(change_sets=[ChangeSetOut.model_validate(c) for c in found])


@router.post("", status_code=201, summary="Begin a draft change set for a village")
def begin(state: State, access: Scoped, body: NewChangeSetIn) -> dict[str, Any]:
    found = service.begin(
        state.store,
        account=access.caller.account,
        scope=access.scope,
        village_code=body.village_code,
        title=body.title,
        note=body.note,
    )
    _audit(state, access, "created", found, title=found.title)
    return _out(found)


@router.get("/{change_set_id}", summary="A change set, its edits, events and change (GeoJSON)")
def get_change_set(state: State, access: Scoped, change_set_id: ChangeSetId) -> dict[str, Any]:
    draft = service.open_draft(state.store, change_set_id, scope=access.scope)
    return {
        **_out(draft.change_set),
        "stale": draft.stale,
        "edit_list": [EditOut.model_validate(e).model_dump(mode="json") for e in draft.edits],
        "effective": [e.seq for e in draft.effective],
        "events": [EventOut.model_validate(e).model_dump(mode="json") for e in draft.events],
        "features": _features(draft.change, access),
    }


@router.post(
    "/{change_set_id}/edits",
    status_code=201,
    summary="Make one edit (or undo) in a draft: validated, refused with its problems",
    responses=documented(409),
)
def add_edit(
    state: State, access: Scoped, change_set_id: ChangeSetId, body: EditIn
) -> dict[str, Any]:
    outcome = service.add_edit(
        state.store,
        change_set_id,
        account=access.caller.account,
        scope=access.scope,
        after=body.after,
        op=body.op,
        params=body.params(),
    )
    found = state.store.change_sets.get(change_set_id)
    if found is not None:
        _audit(state, access, "edited", found, op=body.op, seq=outcome.edit.seq)
    return {
        "edit": EditOut.model_validate(outcome.edit).model_dump(mode="json"),
        "features": _features(outcome.change, access),
        "problems": [],
    }


def _diff_body(draft: service.Draft, impact: ChangeImpact, access: SignedIn) -> dict[str, Any]:
    grids: dict[str, list[dict[str, Any]]] = {kind: [] for kind in DIFF_KINDS.values()}
    for g in impact.grids:
        grids[DIFF_KINDS[g.change]].append(
            {
                "code": g.code,
                "name": g.name,
                "level": g.level,
                "area_before_m2": g.area_before_m2,
                "area_after_m2": g.area_after_m2,
                "derived_from": list(g.derived_from),
            }
        )
    moves: dict[str, list[dict[str, Any]]] = {}
    for layer, found in impact.moves.items():
        if layer == "households" and not access.scope.residents:
            # no household records for this role: how many move between which grids
            pairs = Counter((m.from_grid, m.to_grid) for m in found)
            moves[layer] = [
                {"id": None, "from": a, "to": b, "count": n}
                for (a, b), n in sorted(pairs.items(), key=str)
            ]
            continue
        moves[layer] = [
            {"id": m.id, "from": m.from_grid, "to": m.to_grid, "count": 1} for m in found
        ]
        if layer == "households" and found:
            access.record_reads(layer, [m.id for m in found])
    persons = []
    for p in impact.persons:
        shown = access.scope.mask_record(
            "grids", {"responsible_name": p.name, "responsible_phone": p.phone}
        )
        persons.append(
            {
                "grid": "、".join(p.grids_after or p.grids_before),
                "grids_before": list(p.grids_before),
                "grids_after": list(p.grids_after),
                "name": shown["responsible_name"],
                "phone": shown["responsible_phone"],
                "before": p.before,
                "after": p.after,
            }
        )
    touched = [g.code for g in impact.grids]
    before = in_force(draft.grids)
    before = before[before["code"].astype(str).isin(touched)]
    after = draft.change[draft.change[CHANGE].astype(str) != RETIRED]
    before_fc = _features(before, access, side="before")
    after_fc = _features(after.drop(columns=[CHANGE]), access, side="after")
    return {
        "change_set": _out(draft.change_set),
        "stale": draft.stale,
        "grids": grids,
        "moves": moves,
        "household_ids_shown": access.scope.residents,
        "persons": persons,
        "workload": [
            {
                "grid": w.code,
                "households_before": w.households_before,
                "households": w.households,
                "band": w.band,
            }
            for w in impact.workload
        ],
        "band": list(impact.band),
        "features": {
            "type": "FeatureCollection",
            "features": before_fc["features"] + after_fc["features"],
        },
    }


@router.get(
    "/{change_set_id}/diff",
    summary="What the change set would do: grids, moving households/points, persons, workload",
)
def diff(state: State, access: Scoped, change_set_id: ChangeSetId) -> dict[str, Any]:
    draft = service.open_draft(state.store, change_set_id, scope=access.scope)
    impact = service.diff(draft, service.village_points(access.reader, draft))
    return _diff_body(draft, impact, access)


@router.post("/{change_set_id}/submit", summary="Send a draft to review", responses=documented(409))
def submit(state: State, access: Scoped, change_set_id: ChangeSetId) -> dict[str, Any]:
    found = service.submit(
        state.store, change_set_id, account=access.caller.account, scope=access.scope
    )
    _audit(state, access, "submitted", found)
    return _out(found)


@router.post(
    "/{change_set_id}/approve",
    summary="Approve and publish: new grid versions, households reassigned, in one transaction",
    responses=documented(409),
)
def approve(
    state: State, access: Scoped, change_set_id: ChangeSetId, body: ReviewIn | None = None
) -> dict[str, Any]:
    with state.write_lock:
        published = service.approve(
            state.store, change_set_id, account=access.caller.account, scope=access.scope
        )
        state.changed()
    state.refresh()  # this server answers with the new grids at once (the others follow)
    found = published.change_set
    moved = {item.layer: item.changed for item in published.written.layers}
    comment = None if body is None else body.comment
    _audit(state, access, "published", found, reassigned=moved, comment=comment)
    return {**_out(found), "reassigned": moved}


@router.post(
    "/{change_set_id}/return",
    summary="Send a submitted change set back to its author with a comment",
    responses=documented(409),
)
def return_change_set(
    state: State, access: Scoped, change_set_id: ChangeSetId, body: ReturnIn
) -> dict[str, Any]:
    found = service.return_to_author(
        state.store,
        change_set_id,
        account=access.caller.account,
        scope=access.scope,
        comment=body.comment,
    )
    _audit(state, access, "returned", found)
    return _out(found)


@router.post(
    "/{change_set_id}/withdraw",
    summary="Give a change set up (its author)",
    responses=documented(409),
)
def withdraw(state: State, access: Scoped, change_set_id: ChangeSetId) -> dict[str, Any]:
    found = service.withdraw(
        state.store, change_set_id, account=access.caller.account, scope=access.scope
    )
    _audit(state, access, "withdrawn", found)
    return _out(found)
