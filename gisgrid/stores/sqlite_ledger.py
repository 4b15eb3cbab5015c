"""The GeoPackage store's ledger: accounts, sessions, API tokens and the audit log in a
SQLite file beside the GeoPackage (for ``county.gpkg``, ``county.access.sqlite``).

Why a file of its own, not tables in the GeoPackage:

* the GeoPackage is rewritten by copy-on-write on every layer write, and it is the file
  handed to QGIS users. Password hashes and the audit trail must not travel with it, nor be
  copied on every write;
* every read of household records appends an audit line: it must not wait for a layer
  write (the writer lock) nor rewrite a whole GeoPackage.

The file is made and kept as every side file of the GeoPackage (:mod:`.sqlite_file`: mode
0600, WAL, a busy timeout, ``BEGIN IMMEDIATE`` when a method writes, the schema numbered by
``PRAGMA user_version``); every method is one transaction.
The audit log is append-only: triggers refuse any ``UPDATE`` or ``DELETE`` of it, and its
ids (``AUTOINCREMENT``) are never reused.

Times are stored as ISO 8601 text in UTC, all of one width (``…T09:30:00.000000+00:00``),
so that comparing the text compares the times.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
from pathlib import Path
from typing import cast

from gisgrid.errors import NotFoundError, StoreConstraintError
from gisgrid.roles import Role
from gisgrid.stores.ledger import (
    Account,
    AccountChanges,
    AuditEntry,
    AuditQuery,
    AuditRecord,
    NewAccount,
    NewToken,
    Outcome,
    SessionRecord,
    TokenRecord,
    account_from_row,
    audit_from_row,
    session_from_row,
    token_from_row,
    utc,
)
from gisgrid.stores.sqlite_file import BUSY_SECONDS, SideFile

#: the schema version this gisgrid writes (``PRAGMA user_version``)
SCHEMA_VERSION = 1

_SCHEMA: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS accounts (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL,
        area TEXT NOT NULL CHECK (
            length(area) IN (6, 9, 12, 15, 18) AND NOT area GLOB '*[^0-9]*'
        ),
        password_hash TEXT NOT NULL,
        phone TEXT,
        disabled INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
        created_at TEXT NOT NULL,
        password_changed_at TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS sessions (
        token_hash TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts (id),
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        address TEXT,
        ended_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS sessions_account_idx ON sessions (account_id)",
    """CREATE TABLE IF NOT EXISTS api_tokens (
        id INTEGER PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts (id),
        name TEXT NOT NULL,
        token_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        revoked_at TEXT,
        last_used_at TEXT
    )""",
    "CREATE INDEX IF NOT EXISTS api_tokens_account_idx ON api_tokens (account_id)",
    """CREATE TABLE IF NOT EXISTS audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT,
        role TEXT,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'failed')),
        address TEXT,
        target TEXT,
        reason TEXT,
        detail TEXT NOT NULL DEFAULT '{}'
    )""",
    # count_audit (the sign-in rate limit): per account and per address, recent entries
    "CREATE INDEX IF NOT EXISTS audit_log_count_actor_idx"
    " ON audit_log (action, outcome, actor, at)",
    "CREATE INDEX IF NOT EXISTS audit_log_count_address_idx"
    " ON audit_log (action, outcome, address, at)",
    # the audit query: by time, and one person's entries newest first
    "CREATE INDEX IF NOT EXISTS audit_log_at_idx ON audit_log (at)",
    "CREATE INDEX IF NOT EXISTS audit_log_actor_idx ON audit_log (actor, id)",
    """CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only: an entry cannot be changed');
    END""",
    """CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN
        SELECT RAISE(ABORT, 'the audit log is append-only: an entry cannot be deleted');
    END""",
)

_ACCOUNT_COLUMNS = (
    "id, username, display_name, role, area, password_hash, phone, disabled, created_at, "
    "password_changed_at"
)
_SESSION_COLUMNS = (
    "token_hash, account_id, csrf_token, created_at, expires_at, last_seen_at, address, ended_at"
)
_TOKEN_COLUMNS = (
    "id, account_id, name, token_hash, prefix, created_at, expires_at, revoked_at, last_used_at"
)
_AUDIT_COLUMNS = "id, at, actor, role, action, outcome, address, target, reason, detail"


def ledger_path(gpkg: Path) -> Path:
    """The ledger file of a GeoPackage: ``county.gpkg`` → ``county.access.sqlite``."""
    return gpkg.with_name(f"{gpkg.stem}.access.sqlite")


class SQLiteLedger:
    """A :class:`~gisgrid.stores.ledger.Ledger` in a SQLite file.

    Parameters
    ----------
    path
        The file; it and its folder are made on first use.
    busy_seconds
        How long a call waits while another process writes before it fails.
    """

    #: a file beside the GeoPackage, in WAL mode: reads take microseconds, never wait
    local_reads = True

    def __init__(self, path: str | os.PathLike[str], *, busy_seconds: float = BUSY_SECONDS) -> None:
        self.path = Path(path)
        self._file = SideFile(
            self.path,
            what="the ledger",
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            busy_seconds=busy_seconds,
        )

    def __repr__(self) -> str:
        return f"SQLiteLedger({str(self.path)!r})"

    # accounts ---------------------------------------------------------------------------
    def add_account(self, account: NewAccount, *, audit: AuditEntry) -> Account:
        at = _text(audit.at)
        with self._transaction("adding an account to", write=True) as con:
            try:
                row = con.execute(
                    "INSERT INTO accounts (username, display_name, role, area, password_hash, "
                    "phone, disabled, created_at, password_changed_at) "
                    f"VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING {_ACCOUNT_COLUMNS}",
                    (
                        account.username,
                        account.display_name,
                        str(Role(account.role)),
                        account.area,
                        account.password_hash,
                        account.phone or None,
                        at,
                        at,
                    ),
                ).fetchone()
            except sqlite3.IntegrityError as exc:
                raise _refusal(exc, account.username) from exc
            self._append(con, audit)
        return account_from_row(row, time=_time)

    def change_account(
        self, username: str, changes: AccountChanges, *, audit: AuditEntry, end_sessions: bool
    ) -> Account:
        at = _text(audit.at)
        role = None if changes.role is None else str(Role(changes.role))
        disabled = None if changes.disabled is None else int(changes.disabled)
        with self._transaction("changing an account in", write=True) as con:
            try:
                row = con.execute(
                    "UPDATE accounts SET "
                    "display_name = coalesce(?, display_name), "
                    "role = coalesce(?, role), "
                    "area = coalesce(?, area), "
                    "phone = CASE WHEN ? IS NULL THEN phone ELSE nullif(?, '') END, "
                    "password_hash = coalesce(?, password_hash), "
                    "password_changed_at = CASE WHEN ? IS NULL THEN password_changed_at "
                    "ELSE ? END, "
                    "disabled = coalesce(?, disabled) "
                    f"WHERE username = ? RETURNING {_ACCOUNT_COLUMNS}",
                    (
                        changes.display_name,
                        role,
                        changes.area,
                        changes.phone,
                        changes.phone,
                        changes.password_hash,
                        changes.password_hash,
                        at,
                        disabled,
                        username,
                    ),
                ).fetchone()
            except sqlite3.IntegrityError as exc:
                raise _refusal(exc, username) from exc
            if row is None:
                raise NotFoundError(f"no account {username!r}")
            if end_sessions:
                con.execute(
                    "UPDATE sessions SET ended_at = ? WHERE account_id = ? AND ended_at IS NULL",
                    (at, row[0]),
                )
            self._append(con, audit)
        return account_from_row(row, time=_time)

    def account(self, username: str) -> Account | None:
        with self._transaction("reading an account from", write=False) as con:
            row = con.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE username = ?", (username,)
            ).fetchone()
        return None if row is None else account_from_row(row, time=_time)

    def account_by_id(self, account_id: int) -> Account | None:
        # every signed-in request asks: on the connection kept open for such reads
        row = self._file.read_one(
            "reading an account from",
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE id = ?",
            (int(account_id),),
        )
        return None if row is None else account_from_row(row, time=_time)

    def accounts(self) -> list[Account]:
        with self._transaction("reading the accounts from", write=False) as con:
            rows = con.execute(
                f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY username"
            ).fetchall()
        return [account_from_row(r, time=_time) for r in rows]

    # sessions ---------------------------------------------------------------------------
    def add_session(self, session: SessionRecord, *, audit: AuditEntry) -> None:
        with self._transaction("adding a session to", write=True) as con:
            self._require_account(con, session.account_id)
            try:
                con.execute(
                    f"INSERT INTO sessions ({_SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        session.token_hash,
                        int(session.account_id),
                        session.csrf_token,
                        _text(session.created_at),
                        _text(session.expires_at),
                        _text(session.last_seen_at),
                        session.address,
                        _text_or_none(session.ended_at),
                    ),
                )
            except sqlite3.IntegrityError as exc:
                raise StoreConstraintError(
                    f"the ledger {self.path} refused the session, nothing was written: {exc}"
                ) from exc
            self._append(con, audit)

    def session(self, token_hash: str) -> SessionRecord | None:
        # every request with a session cookie asks: on the connection kept open for reads
        row = self._file.read_one(
            "reading a session from",
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE token_hash = ?",
            (token_hash,),
        )
        return None if row is None else session_from_row(row, time=_time)

    def touch_session(self, token_hash: str, *, seen_at: dt.datetime) -> None:
        seen = _text(seen_at)
        with self._transaction("touching a session in", write=True) as con:
            # only forward: two requests of one session may finish in either order
            con.execute(
                "UPDATE sessions SET last_seen_at = ? "
                "WHERE token_hash = ? AND ended_at IS NULL AND last_seen_at < ?",
                (seen, token_hash, seen),
            )

    def end_session(self, token_hash: str, *, ended_at: dt.datetime, audit: AuditEntry) -> None:
        with self._transaction("ending a session in", write=True) as con:
            found = con.execute(
                "UPDATE sessions SET ended_at = coalesce(ended_at, ?) WHERE token_hash = ?",
                (_text(ended_at), token_hash),
            ).rowcount
            if not found:
                raise NotFoundError("no such session")
            self._append(con, audit)

    # API tokens -------------------------------------------------------------------------
    def add_token(self, token: NewToken, *, audit: AuditEntry) -> TokenRecord:
        with self._transaction("adding an API token to", write=True) as con:
            self._require_account(con, token.account_id)
            try:
                row = con.execute(
                    "INSERT INTO api_tokens (account_id, name, token_hash, prefix, created_at, "
                    f"expires_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING {_TOKEN_COLUMNS}",
                    (
                        int(token.account_id),
                        token.name,
                        token.token_hash,
                        token.prefix,
                        _text(token.created_at),
                        _text_or_none(token.expires_at),
                    ),
                ).fetchone()
            except sqlite3.IntegrityError as exc:
                raise StoreConstraintError(
                    f"the ledger {self.path} refused the API token, nothing was written: {exc}"
                ) from exc
            self._append(con, audit)
        return token_from_row(row, time=_time)

    def tokens(self, *, account_id: int | None = None) -> list[TokenRecord]:
        where, params = "", cast(tuple[int, ...], ())
        if account_id is not None:
            where, params = "WHERE account_id = ?", (int(account_id),)
        with self._transaction("reading the API tokens from", write=False) as con:
            rows = con.execute(
                f"SELECT {_TOKEN_COLUMNS} FROM api_tokens {where} "
                "ORDER BY created_at DESC, id DESC",
                params,
            ).fetchall()
        return [token_from_row(r, time=_time) for r in rows]

    def token(self, token_hash: str) -> TokenRecord | None:
        # every request with a token asks: on the connection kept open for such reads
        row = self._file.read_one(
            "reading an API token from",
            f"SELECT {_TOKEN_COLUMNS} FROM api_tokens WHERE token_hash = ?",
            (token_hash,),
        )
        return None if row is None else token_from_row(row, time=_time)

    def touch_token(self, token_id: int, *, used_at: dt.datetime) -> None:
        used = _text(used_at)
        with self._transaction("touching an API token in", write=True) as con:
            found = con.execute(
                "UPDATE api_tokens SET last_used_at = CASE "
                "WHEN last_used_at IS NULL OR last_used_at < ? THEN ? ELSE last_used_at END "
                "WHERE id = ?",
                (used, used, int(token_id)),
            ).rowcount
            if not found:
                raise NotFoundError(f"no API token {token_id}")

    def revoke_token(
        self, token_id: int, *, revoked_at: dt.datetime, audit: AuditEntry
    ) -> TokenRecord:
        with self._transaction("revoking an API token in", write=True) as con:
            row = con.execute(
                "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) "
                f"WHERE id = ? RETURNING {_TOKEN_COLUMNS}",
                (_text(revoked_at), int(token_id)),
            ).fetchone()
            if row is None:
                raise NotFoundError(f"no API token {token_id}")
            self._append(con, audit)
        return token_from_row(row, time=_time)

    # the audit log ----------------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> None:
        with self._transaction("appending to the audit log in", write=True) as con:
            self._append(con, entry)

    def audit(self, query: AuditQuery) -> list[AuditRecord]:
        """The entries ``query`` asks for (``since`` ≤ at < ``until``), by id."""
        if query.limit <= 0:
            return []
        parts: list[str] = []
        params: list[object] = []
        for column, value in (
            ("actor", query.actor),
            ("action", query.action),
            ("address", query.address),
            ("outcome", query.outcome),
        ):
            if value is not None:
                parts.append(f"{column} = ?")
                params.append(value)
        if query.since is not None:
            parts.append("at >= ?")
            params.append(_text(query.since))
        if query.until is not None:
            parts.append("at < ?")
            params.append(_text(query.until))
        if query.target is not None:
            parts.append("instr(target, ?) > 0")  # plain text: no LIKE wildcards to escape
            params.append(query.target)
        if query.before_id is not None:
            parts.append("id < ?")
            params.append(int(query.before_id))
        where = " AND ".join(parts) or "1"
        order = "DESC" if query.newest_first else "ASC"
        with self._transaction("reading the audit log of", write=False) as con:
            rows = con.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE {where} ORDER BY id {order} LIMIT ?",
                (*params, int(query.limit)),
            ).fetchall()
        return [audit_from_row(r, time=_time, detail=json.loads) for r in rows]

    def count_audit(
        self,
        *,
        action: str,
        outcome: Outcome,
        since: dt.datetime,
        actor: str | None = None,
        address: str | None = None,
    ) -> int:
        parts = ["action = ?", "outcome = ?", "at >= ?"]
        params: list[object] = [action, outcome, _text(since)]
        if actor is not None:
            parts.append("actor = ?")
            params.append(actor)
        if address is not None:
            parts.append("address = ?")
            params.append(address)
        with self._transaction("counting audit entries in", write=False) as con:
            row = con.execute(
                f"SELECT count(*) FROM audit_log WHERE {' AND '.join(parts)}", params
            ).fetchone()
        return int(row[0])

    # helpers ----------------------------------------------------------------------------
    @staticmethod
    def _append(con: sqlite3.Connection, entry: AuditEntry) -> None:
        con.execute(
            "INSERT INTO audit_log (at, actor, role, action, outcome, address, target, reason, "
            "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                _text(entry.at),
                entry.actor,
                None if entry.role is None else str(entry.role),
                entry.action,
                entry.outcome,
                entry.address,
                entry.target,
                entry.reason,
                json.dumps(dict(entry.detail), ensure_ascii=False, sort_keys=True),
            ),
        )

    @staticmethod
    def _require_account(con: sqlite3.Connection, account_id: int) -> None:
        found = con.execute("SELECT 1 FROM accounts WHERE id = ?", (int(account_id),)).fetchone()
        if found is None:
            raise NotFoundError(f"no account with id {account_id}")

    def close(self) -> None:
        """Close the connection kept open for the reads of every request."""
        self._file.close()

    def _transaction(
        self, doing: str, *, write: bool
    ) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """One transaction of the file (:meth:`.sqlite_file.SideFile.transaction`)."""
        return self._file.transaction(doing, write=write)


def _refusal(exc: sqlite3.IntegrityError, username: str) -> StoreConstraintError:
    """The plain message for an account the ledger refused."""
    if "accounts.username" in str(exc):
        why = f"the username {username!r} is already taken"
    elif "area" in str(exc):
        why = "an area is a code of 6, 9, 12, 15 or 18 digits"
    else:
        why = str(exc)
    return StoreConstraintError(f"the ledger refused the account, nothing was written: {why}")


def _text(moment: dt.datetime) -> str:
    """A time as the ledger stores it: UTC, ISO 8601, microseconds (all of one width)."""
    return utc(moment).isoformat(timespec="microseconds")


def _text_or_none(moment: dt.datetime | None) -> str | None:
    return None if moment is None else _text(moment)


def _time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
