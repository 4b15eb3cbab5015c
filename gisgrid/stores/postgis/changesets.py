"""The PostGIS store's change sets, in the tables of migration 0007 (``gisgrid.change_sets``,
``gisgrid.change_set_edits``, ``gisgrid.change_set_events``).

Every method of :class:`PostGISChangeSets` is one transaction on a pooled connection of the
store. The compare-and-sets lock the change set's row first (``SELECT … FOR UPDATE``): a
second writer waits for the first to commit and then reads what it wrote, so two edits
following the same one, or two moves of the same change set, never both win. The rule "one
change set under review per village" is the database's (a partial unique index); the check
before it only gives the message its words. :func:`move_change_set` takes a connection, so
that a publication moves its change set in the transaction that writes the grids
(:meth:`~gisgrid.stores.postgis.PostGISStore.publish_grids`).

Edits and events are append-only in the database itself (triggers refuse UPDATE, DELETE and
TRUNCATE; see the migration). All SQL is in ``sql/queries.sql`` (the ``changes_`` queries).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.types.json import Jsonb

from gisgrid.errors import NotFoundError, StoreConstraintError
from gisgrid.stores.changeset_records import (
    REVIEW_ACTIONS,
    change_set_from_row,
    check_statuses,
    edit_from_row,
    event_action_of,
    event_from_row,
    moved_meanwhile,
    not_editable,
    now,
    params_text,
    stale_edit,
    under_review,
)
from gisgrid.stores.changesets import (
    EDITABLE,
    ChangeSet,
    ChangeSetEdit,
    ChangeSetEvent,
    ChangeSetStatus,
    EventAction,
    JSONValue,
)
from gisgrid.stores.postgis.queries import query as named

if TYPE_CHECKING:
    from gisgrid.stores.postgis.store import PostGISStore


class PostGISChangeSets:
    """A :class:`~gisgrid.stores.changesets.ChangeSets` in the database of a PostGIS store.

    Parameters
    ----------
    store
        The store whose connections it uses (:attr:`PostGISStore.change_sets` makes it).

    Notes
    -----
    A store without a gisgrid schema reads as having no change sets and refuses changes,
    saying to run ``gisgrid init``; so does one whose schema is older.
    """

    def __init__(self, store: PostGISStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"PostGISChangeSets({self._store.url!r})"

    def create(
        self, *, village_code: str, title: str, note: str, author: str, base: str
    ) -> ChangeSet:
        at = now()
        with self._transaction("creating a change set in") as conn:
            try:
                with conn.transaction():
                    row = conn.execute(
                        named("changes_insert"),
                        (village_code, title, note, author, base, at, at),
                    ).fetchone()
            except psycopg.errors.IntegrityError as exc:
                raise StoreConstraintError(
                    f"the store {self._store.url} refused the change set, nothing was "
                    f"written: {exc.diag.message_primary} (a village code has 12 digits)"
                ) from exc
            found = _record(_one(row))
            _append_event(conn, found.id, at, author, "created", None)
        return found

    def get(self, change_set: int) -> ChangeSet | None:
        with self._reading("reading a change set from") as conn:
            row = (
                conn.execute(named("changes_get"), (int(change_set),)).fetchone() if conn else None
            )
        return None if row is None else _record(row)

    def find(
        self,
        *,
        villages: Collection[str] | None = None,
        statuses: Collection[ChangeSetStatus] | None = None,
        limit: int = 200,
    ) -> list[ChangeSet]:
        if limit <= 0:
            return []
        village_list = None if villages is None else [str(v) for v in villages]
        status_list = None if statuses is None else list(check_statuses(statuses))
        with self._reading("reading the change sets from") as conn:
            rows = (
                conn.execute(
                    named("changes_find"),
                    (village_list, village_list, status_list, status_list, int(limit)),
                ).fetchall()
                if conn
                else []
            )
        return [_record(r) for r in rows]

    def edits(self, change_set: int) -> list[ChangeSetEdit]:
        with self._reading("reading the edits from") as conn:
            rows = (
                conn.execute(named("changes_edits"), (int(change_set),)).fetchall() if conn else []
            )
        return [edit_from_row(r, time=_time) for r in rows]

    def events(self, change_set: int) -> list[ChangeSetEvent]:
        with self._reading("reading the events from") as conn:
            rows = (
                conn.execute(named("changes_events"), (int(change_set),)).fetchall() if conn else []
            )
        return [event_from_row(r, time=_time) for r in rows]

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
        """Append an edit (and its ``edited`` or ``undone`` event); see the protocol."""
        at = now()
        stored_params = Jsonb(params, dumps=lambda value: params_text(value))
        with self._transaction("adding an edit to") as conn:
            found = _locked(conn, int(change_set))
            if found.status not in EDITABLE:
                raise not_editable(found)
            if found.edits != after:
                raise stale_edit(found, after)
            seq = found.edits + 1
            conn.execute(named("changes_count_edit"), (seq, at, found.id, found.edits))
            row = conn.execute(
                named("changes_insert_edit"),
                (found.id, seq, op, stored_params, result, actor, at),
            ).fetchone()
            _append_event(conn, found.id, at, actor, event_action_of(op), None)
        return edit_from_row(_one(row), time=_time)

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
        check_statuses([*from_statuses, to])
        with self._transaction("moving a change set in") as conn:
            return move_change_set(
                conn,
                int(change_set),
                from_statuses=from_statuses,
                to=to,
                actor=actor,
                action=action,
                comment=comment,
                base=base,
                published_on=published_on,
            )

    @contextlib.contextmanager
    def _transaction(self, doing: str) -> Iterator[psycopg.Connection[Any]]:
        """One transaction that writes; a store without a current schema refuses it."""
        with self._store._connection(doing) as conn, conn.transaction():
            self._store._usable(conn, writing=True)
            yield conn

    @contextlib.contextmanager
    def _reading(self, doing: str) -> Iterator[psycopg.Connection[Any] | None]:
        """One transaction that reads; ``None`` when the store has no schema yet."""
        with self._store._connection(doing) as conn, conn.transaction():
            yield conn if self._store._usable(conn, writing=False) else None


def move_change_set(
    conn: psycopg.Connection[Any],
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
    """Compare and set a change set's status, with its event, in ``conn``'s transaction
    (see :meth:`~gisgrid.stores.changesets.ChangeSets.move`).

    Raises
    ------
    NotFoundError
        No such change set.
    ConflictError
        Its status is not one of ``from_statuses``, or (to ``submitted``) another change
        set of its village is under review.
    """
    found = _locked(conn, change_set)
    if found.status not in from_statuses:
        raise moved_meanwhile(found, from_statuses)
    if to == "submitted":
        other = conn.execute(named("changes_other_submitted"), (found.village_code, found.id))
        row = other.fetchone()
        if row is not None:
            raise under_review(_record(row))
    at = now()
    review = action in REVIEW_ACTIONS
    try:
        with conn.transaction():  # a savepoint: the refusal below reads on after it
            moved = conn.execute(
                named("changes_move"),
                (
                    to,
                    at,
                    base,
                    review,
                    actor,
                    review,
                    comment,
                    published_on,
                    found.id,
                    found.status,
                ),
            ).fetchone()
    except psycopg.errors.UniqueViolation as exc:
        # another change set of the village was submitted and committed meanwhile
        row = conn.execute(
            named("changes_other_submitted"), (found.village_code, found.id)
        ).fetchone()
        if row is None:
            raise
        raise under_review(_record(row)) from exc
    _append_event(conn, found.id, at, actor, action, comment)
    return _record(_one(moved))


def _locked(conn: psycopg.Connection[Any], change_set: int) -> ChangeSet:
    """The change set, its row locked until the transaction ends."""
    row = conn.execute(named("changes_get_for_update"), (change_set,)).fetchone()
    if row is None:
        raise NotFoundError(f"no change set {change_set}")
    return _record(row)


def _append_event(
    conn: psycopg.Connection[Any],
    change_set: int,
    at: dt.datetime,
    actor: str,
    action: EventAction,
    comment: str | None,
) -> None:
    conn.execute(named("changes_insert_event"), (change_set, at, actor, action, comment))


def _record(row: Sequence[Any]) -> ChangeSet:
    return change_set_from_row(row, time=_time, day=_day)


def _one(row: Sequence[Any] | None) -> Sequence[Any]:
    if row is None:  # an INSERT or UPDATE … RETURNING of a locked row always answers
        raise RuntimeError("the database returned no row")
    return row


def _time(value: dt.datetime) -> dt.datetime:
    return value


def _day(value: dt.date) -> dt.date:
    return value
