"""The GeoPackage store's change sets: drafts, review and their record in a SQLite file beside
the GeoPackage (for ``county.gpkg``, ``county.changes.sqlite``).

A file of its own, like the ledger (:mod:`.sqlite_ledger`), and made and kept the same way
(:mod:`.sqlite_file`: mode 0600, WAL, a busy timeout, ``BEGIN IMMEDIATE`` for every method
that writes). Every method is one transaction; the compare-and-sets (an edit following edit
``after``, a move from some statuses) read and write under SQLite's write lock, so two
writers of the same change set, in threads or processes, never both win.

The database holds its rules itself: edits and events are append-only (triggers refuse any
``UPDATE`` or ``DELETE`` of them), a change set is never deleted (only its status and
counters move), ids are ``AUTOINCREMENT`` (never reused), and a partial unique index keeps
one change set under review (``submitted``) per village.

**Published, and the grids.** A publication writes the grids into the GeoPackage and moves
its change set to ``published`` here: two files, no transaction spans both. The move is made
first in a transaction held open while the GeoPackage is written, and committed right after
it (:meth:`SQLiteChangeSets.publishing`): a failed write rolls the move back. Should the
process die between the GeoPackage's replacement and the commit, the change set is still
``submitted`` while grid rows carry its id (``grids.change_set``): such a change set **counts
as published**, and the next read or move of it records the move (actor ``gisgrid``, the
``published_on`` of its grids) before it answers.

Times are stored as ISO 8601 text in UTC without zone, all of one width (microseconds), so
that comparing the text compares the times.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import Any

from gisgrid.errors import NotFoundError, StoreConstraintError
from gisgrid.stores.changeset_records import (
    CHANGE_SET_COLUMNS,
    EDIT_COLUMNS,
    EVENT_COLUMNS,
    REVIEW_ACTIONS,
    SYSTEM_ACTOR,
    UNDER_REVIEW,
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
    STATUSES,
    ChangeSet,
    ChangeSetEdit,
    ChangeSetEvent,
    ChangeSetStatus,
    EventAction,
    JSONValue,
)
from gisgrid.stores.sqlite_file import BUSY_SECONDS, SideFile

#: the schema version this gisgrid writes (``PRAGMA user_version``)
SCHEMA_VERSION = 1

#: which of some change sets have grid rows in the GeoPackage, and the day they took effect
PublishedLookup = Callable[[Collection[int]], Mapping[int, dt.date | None]]

_STATUS_LIST = ", ".join(f"'{s}'" for s in STATUSES)
_ACTION_LIST = ", ".join(
    f"'{a}'"
    for a in (
        "created",
        "edited",
        "undone",
        "submitted",
        "returned",
        "approved",
        "published",
        "withdrawn",
    )
)

_SCHEMA: tuple[str, ...] = (
    f"""CREATE TABLE IF NOT EXISTS change_sets (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        village_code TEXT NOT NULL CHECK (
            length(village_code) = 12 AND NOT village_code GLOB '*[^0-9]*'
        ),
        title TEXT NOT NULL,
        note TEXT NOT NULL,
        author TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ({_STATUS_LIST})),
        base TEXT NOT NULL,
        edits INTEGER NOT NULL DEFAULT 0 CHECK (edits >= 0),
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        reviewer TEXT,
        comment TEXT,
        published_on TEXT
    )""",
    # one change set under review per village, held by the database itself
    "CREATE UNIQUE INDEX IF NOT EXISTS change_sets_one_submitted"
    " ON change_sets (village_code) WHERE status = 'submitted'",
    "CREATE INDEX IF NOT EXISTS change_sets_village_idx ON change_sets (village_code, id)",
    """CREATE TABLE IF NOT EXISTS change_set_edits (
        change_set INTEGER NOT NULL REFERENCES change_sets (id),
        seq INTEGER NOT NULL CHECK (seq >= 1),
        op TEXT NOT NULL,
        params TEXT NOT NULL,
        result TEXT NOT NULL,
        actor TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (change_set, seq)
    )""",
    f"""CREATE TABLE IF NOT EXISTS change_set_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        change_set INTEGER NOT NULL REFERENCES change_sets (id),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ({_ACTION_LIST})),
        comment TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS change_set_events_idx ON change_set_events (change_set, id)",
    """CREATE TRIGGER IF NOT EXISTS change_set_edits_no_update BEFORE UPDATE ON change_set_edits
    BEGIN
        SELECT RAISE(ABORT, 'change set edits are append-only: an edit cannot be changed');
    END""",
    """CREATE TRIGGER IF NOT EXISTS change_set_edits_no_delete BEFORE DELETE ON change_set_edits
    BEGIN
        SELECT RAISE(ABORT, 'change set edits are append-only: an edit cannot be deleted');
    END""",
    """CREATE TRIGGER IF NOT EXISTS change_set_events_no_update
    BEFORE UPDATE ON change_set_events
    BEGIN
        SELECT RAISE(ABORT, 'change set events are append-only: an event cannot be changed');
    END""",
    """CREATE TRIGGER IF NOT EXISTS change_set_events_no_delete
    BEFORE DELETE ON change_set_events
    BEGIN
        SELECT RAISE(ABORT, 'change set events are append-only: an event cannot be deleted');
    END""",
    """CREATE TRIGGER IF NOT EXISTS change_sets_no_delete BEFORE DELETE ON change_sets
    BEGIN
        SELECT RAISE(ABORT, 'a change set is kept: only its status moves');
    END""",
)


def changes_path(gpkg: Path) -> Path:
    """The change-set file of a GeoPackage: ``county.gpkg`` → ``county.changes.sqlite``."""
    return gpkg.with_name(f"{gpkg.stem}.changes.sqlite")


class SQLiteChangeSets:
    """A :class:`~gisgrid.stores.changesets.ChangeSets` in a SQLite file.

    Parameters
    ----------
    path
        The file; it and its folder are made on first use.
    published
        Which of some change sets have grid rows in the GeoPackage (and their
        ``published_on``): those still ``submitted`` here count as published (see the
        module's docstring). ``None``: no grids to look at.
    busy_seconds
        How long a call waits while another process writes before it fails.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        published: PublishedLookup | None = None,
        busy_seconds: float = BUSY_SECONDS,
    ) -> None:
        self.path = Path(path)
        self._published = published
        self._file = SideFile(
            self.path,
            what="the change sets",
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            busy_seconds=busy_seconds,
        )

    def __repr__(self) -> str:
        return f"SQLiteChangeSets({str(self.path)!r})"

    # the protocol -----------------------------------------------------------------------
    def create(
        self, *, village_code: str, title: str, note: str, author: str, base: str
    ) -> ChangeSet:
        at = _text(now())
        with self._file.transaction("creating a change set in", write=True) as con:
            try:
                row = con.execute(
                    "INSERT INTO change_sets (village_code, title, note, author, status, base, "
                    "edits, created_at, updated_at) VALUES (?, ?, ?, ?, 'draft', ?, 0, ?, ?) "
                    f"RETURNING {CHANGE_SET_COLUMNS}",
                    (village_code, title, note, author, base, at, at),
                ).fetchone()
            except sqlite3.IntegrityError as exc:
                raise StoreConstraintError(
                    f"the change sets {self.path} refused the change set, nothing was "
                    f"written: {exc} (a village code has 12 digits)"
                ) from exc
            _append_event(con, int(row[0]), at, author, "created", None)
        return _record(row)

    def get(self, change_set: int) -> ChangeSet | None:
        self._settle(change_set=int(change_set))
        with self._file.transaction("reading a change set from", write=False) as con:
            return _find(con, int(change_set))

    def find(
        self,
        *,
        villages: Collection[str] | None = None,
        statuses: Collection[ChangeSetStatus] | None = None,
        limit: int = 200,
    ) -> list[ChangeSet]:
        if limit <= 0 or (villages is not None and not villages):
            return []
        if statuses is not None and not statuses:
            return []
        self._settle(villages=villages)
        parts: list[str] = []
        params: list[object] = []
        if villages is not None:
            parts.append(f"village_code IN ({', '.join('?' * len(villages))})")
            params.extend(str(v) for v in villages)
        if statuses is not None:
            wanted = check_statuses(statuses)
            parts.append(f"status IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        where = " AND ".join(parts) or "1"
        with self._file.transaction("reading the change sets from", write=False) as con:
            rows = con.execute(
                f"SELECT {CHANGE_SET_COLUMNS} FROM change_sets WHERE {where} "
                "ORDER BY id DESC LIMIT ?",
                (*params, int(limit)),
            ).fetchall()
        return [_record(r) for r in rows]

    def edits(self, change_set: int) -> list[ChangeSetEdit]:
        with self._file.transaction("reading the edits from", write=False) as con:
            rows = con.execute(
                f"SELECT {EDIT_COLUMNS} FROM change_set_edits WHERE change_set = ? ORDER BY seq",
                (int(change_set),),
            ).fetchall()
        return [edit_from_row(r, time=_time) for r in rows]

    def events(self, change_set: int) -> list[ChangeSetEvent]:
        with self._file.transaction("reading the events from", write=False) as con:
            rows = con.execute(
                f"SELECT {EVENT_COLUMNS} FROM change_set_events WHERE change_set = ? ORDER BY id",
                (int(change_set),),
            ).fetchall()
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
        at = _text(now())
        stored_params = params_text(params)
        with self._file.transaction("adding an edit to", write=True) as con:
            found = _require(con, int(change_set))
            if found.status not in EDITABLE:
                raise not_editable(found)
            if found.edits != after:
                raise stale_edit(found, after)
            seq = found.edits + 1
            con.execute(
                "UPDATE change_sets SET edits = ?, updated_at = ? WHERE id = ? AND edits = ?",
                (seq, at, found.id, found.edits),
            )
            row = con.execute(
                f"INSERT INTO change_set_edits ({EDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
                f"RETURNING {EDIT_COLUMNS}",
                (found.id, seq, op, stored_params, result, actor, at),
            ).fetchone()
            _append_event(con, found.id, at, actor, event_action_of(op), None)
        return edit_from_row(row, time=_time)

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
        # a submitted change set whose grids are in the GeoPackage is published: recorded
        # first, so that it is not moved back nor blocks its village
        self._settle(change_set=None if to == "submitted" else int(change_set))
        with self._file.transaction("moving a change set in", write=True) as con:
            return _move(
                con,
                int(change_set),
                from_statuses=from_statuses,
                to=to,
                actor=actor,
                action=action,
                comment=comment,
                base=base,
                published_on=published_on,
                review=action in REVIEW_ACTIONS,
            )

    # publishing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def publishing(
        self, change_set: int, *, actor: str, published_on: dt.date
    ) -> Iterator[ChangeSet]:
        """Move ``change_set`` from ``submitted`` to ``published`` in a transaction held open
        while the caller writes its grids: committed when the block ends, rolled back when
        it raises. Holding SQLite's write lock, no one moves the change set meanwhile.

        Raises
        ------
        NotFoundError, ConflictError
            As :meth:`move` (the change set is not ``submitted``), before the block runs.
        """
        self._settle(change_set=int(change_set))
        with self._file.transaction("publishing a change set in", write=True) as con:
            yield _move(
                con,
                int(change_set),
                from_statuses=UNDER_REVIEW,
                to="published",
                actor=actor,
                action="published",
                comment=None,
                base=None,
                published_on=published_on,
                review=True,
            )

    def _settle(
        self, *, change_set: int | None = None, villages: Collection[str] | None = None
    ) -> None:
        """Record as published the change sets still ``submitted`` whose grids were written
        (see the module's docstring): ``change_set``, or those of ``villages``, or all."""
        if self._published is None:
            return
        parts, params = ["status = 'submitted'"], list[object]()
        if change_set is not None:
            parts.append("id = ?")
            params.append(change_set)
        if villages is not None:
            parts.append(f"village_code IN ({', '.join('?' * len(villages))})")
            params.extend(str(v) for v in villages)
        with self._file.transaction("reading the change sets from", write=False) as con:
            rows = con.execute(
                f"SELECT id FROM change_sets WHERE {' AND '.join(parts)}", params
            ).fetchall()
        if not rows:
            return
        for found, day in self._published([int(r[0]) for r in rows]).items():
            with self._file.transaction("recording a publication in", write=True) as con:
                current = _find(con, found)
                if current is None or current.status != "submitted":
                    continue  # recorded meanwhile
                _move(
                    con,
                    found,
                    from_statuses=UNDER_REVIEW,
                    to="published",
                    actor=SYSTEM_ACTOR,
                    action="published",
                    comment="recorded from the grids: they were published, the move was not",
                    base=None,
                    published_on=day,
                    review=False,
                )


# --- one transaction's work ---------------------------------------------------------------------


def _move(
    con: sqlite3.Connection,
    change_set: int,
    *,
    from_statuses: Collection[ChangeSetStatus],
    to: ChangeSetStatus,
    actor: str,
    action: EventAction,
    comment: str | None,
    base: str | None,
    published_on: dt.date | None,
    review: bool,
) -> ChangeSet:
    """Compare and set a change set's status, with its event, in ``con``'s transaction."""
    found = _require(con, change_set)
    if found.status not in from_statuses:
        raise moved_meanwhile(found, from_statuses)
    if to == "submitted":
        other = con.execute(
            f"SELECT {CHANGE_SET_COLUMNS} FROM change_sets "
            "WHERE village_code = ? AND status = 'submitted' AND id <> ? ORDER BY id LIMIT 1",
            (found.village_code, found.id),
        ).fetchone()
        if other is not None:
            raise under_review(_record(other))
    at = _text(now())
    row = con.execute(
        "UPDATE change_sets SET status = ?, updated_at = ?, base = coalesce(?, base), "
        "reviewer = CASE WHEN ? THEN ? ELSE reviewer END, "
        "comment = CASE WHEN ? THEN ? ELSE comment END, "
        "published_on = coalesce(?, published_on) "
        f"WHERE id = ? AND status = ? RETURNING {CHANGE_SET_COLUMNS}",
        (
            to,
            at,
            base,
            int(review),
            actor,
            int(review),
            comment,
            None if published_on is None else published_on.isoformat(),
            found.id,
            found.status,
        ),
    ).fetchone()
    _append_event(con, found.id, at, actor, action, comment)
    return _record(row)


def _append_event(
    con: sqlite3.Connection,
    change_set: int,
    at: str,
    actor: str,
    action: EventAction,
    comment: str | None,
) -> None:
    con.execute(
        f"INSERT INTO change_set_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?)",
        (change_set, at, actor, action, comment),
    )


def _find(con: sqlite3.Connection, change_set: int) -> ChangeSet | None:
    row = con.execute(
        f"SELECT {CHANGE_SET_COLUMNS} FROM change_sets WHERE id = ?", (change_set,)
    ).fetchone()
    return None if row is None else _record(row)


def _require(con: sqlite3.Connection, change_set: int) -> ChangeSet:
    found = _find(con, change_set)
    if found is None:
        raise NotFoundError(f"no change set {change_set}")
    return found


def _record(row: Any) -> ChangeSet:
    return change_set_from_row(row, time=_time, day=dt.date.fromisoformat)


def _text(moment: dt.datetime) -> str:
    """A time as stored: ISO 8601, microseconds, UTC without zone (all of one width)."""
    return moment.isoformat(timespec="microseconds")


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)
