"""Change sets: the planners' drafts of grid edits, their review, and their record.

A change set is one purpose (a title, a note) in one village: several grid edits made in a
draft, submitted, reviewed by someone other than its author (a township officer or the
county's admin), and, once approved, published into the grids as one transaction
(:meth:`gisgrid.stores.base.Store.publish_grids`).

Nothing here is ever overwritten in a way that loses what happened: edits are appended (an
undo is an edit too), every step is an :class:`ChangeSetEvent`, and only a change set's
status and counters move. Every store keeps its change sets beside its layers (the
GeoPackage in ``NAME.changes.sqlite``, PostGIS in tables of its schema); the analysis
(:mod:`gisgrid.services.changesets`) decides, the store only keeps and compares-and-sets.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

#: where a change set stands: ``draft`` (being edited), ``submitted`` (waiting for review),
#: ``returned`` (sent back with a comment: editable again), ``published`` (approved and in the
#: grids), ``withdrawn`` (given up by its author)
ChangeSetStatus = Literal["draft", "submitted", "returned", "published", "withdrawn"]
STATUSES: tuple[ChangeSetStatus, ...] = ("draft", "submitted", "returned", "published", "withdrawn")
#: the statuses whose edits may still change
EDITABLE: tuple[ChangeSetStatus, ...] = ("draft", "returned")

#: what happened to a change set
EventAction = Literal[
    "created", "edited", "undone", "submitted", "returned", "approved", "published", "withdrawn"
]

#: JSON as stored: objects, arrays, text, numbers, booleans, null
JSONValue = object


@dataclass(frozen=True)
class ChangeSet:
    """One change set as stored.

    Attributes
    ----------
    id
        Its number, given by the store (1, 2, …; never reused).
    village_code
        The village (level-1 grid) whose grids it changes.
    title, note
        Its purpose, and the author's explanation.
    author
        The username of the account that began it.
    status
        See :data:`ChangeSetStatus`.
    base
        The fingerprint of the village's grids the edits were made on
        (:func:`gisgrid.services.changesets.village_fingerprint`): a publish or submit
        finding another answers 409.
    edits
        How many edits it holds (undos included): the sequence number of the last one; a
        new edit says which it follows (no lost edit from two browser tabs).
    created_at, updated_at
        When it began and last moved (UTC, naive).
    reviewer
        The username of whoever last returned or approved it.
    comment
        The reviewer's last comment.
    published_on
        The date its grids took effect (``valid_from`` of the new versions).
    """

    id: int
    village_code: str
    title: str
    note: str
    author: str
    status: ChangeSetStatus
    base: str
    edits: int
    created_at: dt.datetime
    updated_at: dt.datetime
    reviewer: str | None = None
    comment: str | None = None
    published_on: dt.date | None = None


@dataclass(frozen=True)
class ChangeSetEdit:
    """One edit of a change set, as it was made (appended, never changed).

    Attributes
    ----------
    change_set, seq
        The change set and the edit's number in it (1, 2, …).
    op
        ``split``, ``merge``, ``reshape``, ``add``, ``attributes`` or ``undo``.
    params
        What the planner asked (JSON: codes, the drawn geometry as GeoJSON in lon/lat,
        attribute values).
    result
        The changed grids the edit made (a GeoJSON FeatureCollection as text, lon/lat, with
        ``change`` and ``derived_from`` per feature); empty for an undo.
    actor
        The username.
    at
        When (UTC, naive).
    """

    change_set: int
    seq: int
    op: str
    params: Mapping[str, JSONValue]
    result: str
    actor: str
    at: dt.datetime


@dataclass(frozen=True)
class ChangeSetEvent:
    """One step in a change set's life (appended, never changed)."""

    change_set: int
    at: dt.datetime
    actor: str
    action: EventAction
    comment: str | None = None


class ChangeSets(Protocol):
    """Where a store keeps its change sets. Every method is one transaction."""

    def create(
        self, *, village_code: str, title: str, note: str, author: str, base: str
    ) -> ChangeSet:
        """A new draft (and its ``created`` event)."""
        ...

    def get(self, change_set: int) -> ChangeSet | None:
        """The change set numbered ``change_set``; ``None`` when there is none."""
        ...

    def find(
        self,
        *,
        villages: Collection[str] | None = None,
        statuses: Collection[ChangeSetStatus] | None = None,
        limit: int = 200,
    ) -> list[ChangeSet]:
        """Change sets in these villages (``None``: all) and statuses, newest first."""
        ...

    def edits(self, change_set: int) -> list[ChangeSetEdit]:
        """Its edits in order (undos included)."""
        ...

    def events(self, change_set: int) -> list[ChangeSetEvent]:
        """Its events in order."""
        ...

    def add_edit(
        self,
        change_set: int,
        *,
        after: int,
        op: str,
        params: Mapping[str, JSONValue],
        result: str,
        actor: str,
    ) -> ChangeSetEdit:
        """Append an edit to an editable change set, following edit number ``after``.

        Raises
        ------
        NotFoundError
            No such change set.
        ConflictError
            It is not editable (:data:`EDITABLE`), or its last edit is not ``after`` (an edit
            was added meanwhile, from another tab or session).
        """
        ...

    def move(
        self,
        change_set: int,
        *,
        from_statuses: Collection[ChangeSetStatus],
        to: ChangeSetStatus,
        actor: str,
        action: EventAction,
        comment: str | None = None,
        base: str | None = None,
        published_on: dt.date | None = None,
    ) -> ChangeSet:
        """Compare and set its status, with the event, in one transaction.

        Moving to ``submitted`` also holds the rule "one change set under review per
        village": another one submitted in the same village is a conflict. ``base`` (when
        given) replaces the fingerprint (a returned draft rebased); the reviewer and the
        comment are set for ``returned``, ``approved`` and ``published``.

        Raises
        ------
        NotFoundError
            No such change set.
        ConflictError
            Its status is not one of ``from_statuses`` (someone moved it meanwhile), or
            (to ``submitted``) another change set of the village is under review; the
            message names it.
        """
        ...
