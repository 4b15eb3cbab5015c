"""What both stores' change sets share: rows to records, the refusals' words, the clock.

The SQLite side file of a GeoPackage (:mod:`gisgrid.stores.sqlite_changesets`) and the PostGIS
tables (:mod:`gisgrid.stores.postgis.changesets`) keep the same columns in the same order
(:data:`CHANGE_SET_COLUMNS`, :data:`EDIT_COLUMNS`, :data:`EVENT_COLUMNS`) and refuse the same
things with the same messages, made here.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any, cast

from gisgrid.errors import ConflictError
from gisgrid.stores.changesets import (
    EDITABLE,
    STATUSES,
    ChangeSet,
    ChangeSetEdit,
    ChangeSetEvent,
    ChangeSetStatus,
    EventAction,
    JSONValue,
)

CHANGE_SET_COLUMNS = (
    "id, village_code, title, note, author, status, base, edits, created_at, updated_at, "
    "reviewer, comment, published_on"
)
EDIT_COLUMNS = "change_set, seq, op, params, result, actor, at"
EVENT_COLUMNS = "change_set, at, actor, action, comment"

#: where a change set must stand to be published
UNDER_REVIEW: tuple[ChangeSetStatus, ...] = ("submitted",)

#: the actions after which a change set names its reviewer and their comment
REVIEW_ACTIONS: tuple[EventAction, ...] = ("returned", "approved", "published")

#: the account name of a step gisgrid records by itself (a publication found in the grids)
SYSTEM_ACTOR = "gisgrid"

Decoder = Callable[[Any], Any]


def now() -> dt.datetime:
    """The time change sets are stamped with: UTC, without zone (as the records say)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def event_action_of(op: str) -> EventAction:
    """The event an edit is recorded with."""
    return "undone" if op == "undo" else "edited"


def check_statuses(statuses: Collection[str]) -> tuple[ChangeSetStatus, ...]:
    """``statuses`` checked to be known (a typo must not silently match nothing)."""
    unknown = sorted(set(statuses) - set(STATUSES))
    if unknown:
        raise ValueError(f"unknown change set status(es): {', '.join(unknown)}")
    return tuple(cast(ChangeSetStatus, s) for s in statuses)


def change_set_from_row(row: Sequence[Any], *, time: Decoder, day: Decoder) -> ChangeSet:
    """A :class:`ChangeSet` from a row of :data:`CHANGE_SET_COLUMNS`."""
    return ChangeSet(
        id=int(row[0]),
        village_code=str(row[1]),
        title=str(row[2]),
        note=str(row[3]),
        author=str(row[4]),
        status=cast(ChangeSetStatus, row[5]),
        base=str(row[6]),
        edits=int(row[7]),
        created_at=time(row[8]),
        updated_at=time(row[9]),
        reviewer=row[10],
        comment=row[11],
        published_on=None if row[12] is None else day(row[12]),
    )


def edit_from_row(row: Sequence[Any], *, time: Decoder) -> ChangeSetEdit:
    """A :class:`ChangeSetEdit` from a row of :data:`EDIT_COLUMNS` (params as JSON text or
    already decoded)."""
    params = row[3]
    if isinstance(params, str | bytes):
        params = json.loads(params)
    return ChangeSetEdit(
        change_set=int(row[0]),
        seq=int(row[1]),
        op=str(row[2]),
        params=cast(Mapping[str, JSONValue], params),
        result=str(row[4]),
        actor=str(row[5]),
        at=time(row[6]),
    )


def event_from_row(row: Sequence[Any], *, time: Decoder) -> ChangeSetEvent:
    """A :class:`ChangeSetEvent` from a row of :data:`EVENT_COLUMNS`."""
    return ChangeSetEvent(
        change_set=int(row[0]),
        at=time(row[1]),
        actor=str(row[2]),
        action=cast(EventAction, row[3]),
        comment=row[4],
    )


def params_text(params: Mapping[str, JSONValue]) -> str:
    """An edit's parameters as stored: JSON text (refusing what JSON cannot hold)."""
    return json.dumps(dict(params), ensure_ascii=False, sort_keys=True, allow_nan=False)


# --- refusals -------------------------------------------------------------------------------


def not_editable(found: ChangeSet) -> ConflictError:
    return ConflictError(
        f"change set {found.id} is {found.status}: only a change set in "
        f"{' or '.join(EDITABLE)} takes edits"
    )


def stale_edit(found: ChangeSet, after: int) -> ConflictError:
    return ConflictError(
        f"change set {found.id} has {found.edits} edit(s), not {after}: another edit was "
        f"added meanwhile (from another tab or session); reload it and edit again"
    )


def moved_meanwhile(found: ChangeSet, from_statuses: Collection[str]) -> ConflictError:
    expected = " or ".join(sorted(from_statuses)) or "(no status)"
    return ConflictError(
        f"change set {found.id} is {found.status}, not {expected}: it was moved meanwhile"
    )


def under_review(other: ChangeSet) -> ConflictError:
    """Another change set of the village is submitted: the one-under-review rule."""
    return ConflictError(
        f"change set {other.id} of village {other.village_code} is already under review "
        f"(author {other.author}, title {other.title!r}): one change set of a village is "
        f"reviewed at a time"
    )
