"""The audit log (admin): sign-ins, reads of household records, changes and refusals,
newest first, filtered and paged by ``before_id``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from gisgrid.api.deps import Scoped, State
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.api.schemas import AuditOut, AuditPageOut
from gisgrid.services import accounts
from gisgrid.stores.ledger import AuditQuery

router = APIRouter(prefix="/api/audit", tags=["audit 审计"], responses=COMMON_ERRORS)

#: the most entries one page answers
MAX_PAGE = 1000
Text = Annotated[str | None, Query(max_length=200)]


def audit_query(
    since: Annotated[dt.datetime | None, Query(description="from (no zone: server time)")] = None,
    until: Annotated[dt.datetime | None, Query(description="before")] = None,
    actor: Text = None,
    action: Annotated[str | None, Query(max_length=64, description="e.g. sign_in")] = None,
    address: Text = None,
    outcome: Literal["ok", "denied", "failed"] | None = None,
    target: Annotated[str | None, Query(max_length=200, description="target contains")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    before_id: Annotated[int | None, Query(ge=1, le=2**62, description="older than")] = None,
) -> AuditQuery:
    """The filters of the audit log as the API and the admin page take them."""
    return AuditQuery(
        since=since,
        until=until,
        actor=actor or None,
        action=action or None,
        address=address or None,
        outcome=outcome,
        target=target or None,
        limit=limit,
        before_id=before_id,
    )


def older_than(records: list[AuditOut], query: AuditQuery) -> int | None:
    """The ``before_id`` of the next (older) page, or ``None`` at the end."""
    return records[-1].id if records and len(records) == query.limit else None


AuditFilters = Annotated[AuditQuery, Depends(audit_query)]


@router.get("", summary="The audit log, newest first, with filters and paging")
def read_audit(state: State, access: Scoped, query: AuditFilters) -> AuditPageOut:
    entries = [AuditOut.of(r) for r in accounts.read_audit(state.store.ledger, query)]
    return AuditPageOut(entries=entries, older=older_than(entries, query))
