"""What waits for the caller (待办提醒): derived on every request, never stored. Thin:
:mod:`gisgrid.services.notifications`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gisgrid.api.deps import Scoped, State
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.services.cases import case_summaries
from gisgrid.services.changesets import list_change_sets, may_review
from gisgrid.services.notifications import notifications_for

router = APIRouter(tags=["notifications 待办提醒"], responses=COMMON_ERRORS)


@router.get("/api/notifications", summary="What waits for me: cases, change sets to review")
def my_notifications(state: State, access: Scoped) -> dict[str, Any]:
    account = access.caller.account
    cases = case_summaries(access.reader, index=state.locator.grid_index)
    submitted = list_change_sets(state.store, scope=access.scope, status="submitted")
    review = [cs for cs in submitted if may_review(cs, account, access.scope)]
    found = notifications_for(account.username, account.role, cases, to_review=review)
    return {
        "count": len(found),
        "notifications": [
            {"kind": n.kind, "message_zh": n.message_zh, "target": n.target, "about": n.about}
            for n in found
        ],
    }
