"""The PostGIS store's ledger: accounts, sessions, API tokens and the audit log in the tables
of migration 0004 (``gisgrid.accounts``, ``gisgrid.sessions``, ``gisgrid.api_tokens``,
``gisgrid.audit_log``).

Every method is one transaction on a pooled connection of the store; a change and its audit
entry commit together, the entry appended last. The audit log is append-only in the
database itself (a trigger refuses UPDATE, DELETE and TRUNCATE; see the migration).
Times go in and come out timezone-aware, in UTC.

All SQL is in ``sql/queries.sql`` (the ``ledger_`` queries).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

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
from gisgrid.stores.postgis.queries import ident
from gisgrid.stores.postgis.queries import query as named

if TYPE_CHECKING:
    from gisgrid.stores.postgis.store import PostGISStore


class PostGISLedger:
    """A :class:`~gisgrid.stores.ledger.Ledger` in the database of a PostGIS store.

    Parameters
    ----------
    store
        The store whose connections it uses (:attr:`PostGISStore.ledger` makes it).

    Notes
    -----
    A store without a gisgrid schema reads as having no accounts and no audit entries and
    refuses changes, saying to run ``gisgrid init``; so does one whose schema is older.
    """

    #: reads go over the network to PostgreSQL (a web server makes them in a thread)
    local_reads = False

    def __init__(self, store: PostGISStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"PostGISLedger({self._store.url!r})"

    # accounts ---------------------------------------------------------------------------
    def add_account(self, account: NewAccount, *, audit: AuditEntry) -> Account:
        at = utc(audit.at)
        with self._transaction("adding an account to") as conn:
            try:
                row = conn.execute(
                    named("ledger_insert_account"),
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
            except psycopg.errors.IntegrityError as exc:
                raise _refusal(exc, account.username) from exc
            self._append(conn, audit)
        return account_from_row(_one(row), time=_time)

    def change_account(
        self, username: str, changes: AccountChanges, *, audit: AuditEntry, end_sessions: bool
    ) -> Account:
        at = utc(audit.at)
        role = None if changes.role is None else str(Role(changes.role))
        with self._transaction("changing an account in") as conn:
            try:
                row = conn.execute(
                    named("ledger_change_account"),
                    (
                        changes.display_name,
                        role,
                        changes.area,
                        changes.phone,
                        changes.phone,
                        changes.password_hash,
                        changes.password_hash,
                        at,
                        changes.disabled,
                        username,
                    ),
                ).fetchone()
            except psycopg.errors.IntegrityError as exc:
                raise _refusal(exc, username) from exc
            if row is None:
                raise NotFoundError(f"no account {username!r}")
            if end_sessions:
                conn.execute(named("ledger_end_account_sessions"), (at, row[0]))
            self._append(conn, audit)
        return account_from_row(row, time=_time)

    def account(self, username: str) -> Account | None:
        with self._reading("reading an account from") as conn:
            row = conn.execute(named("ledger_account"), (username,)).fetchone() if conn else None
        return None if row is None else account_from_row(row, time=_time)

    def account_by_id(self, account_id: int) -> Account | None:
        with self._reading("reading an account from") as conn:
            statement = named("ledger_account_by_id")
            row = conn.execute(statement, (int(account_id),)).fetchone() if conn else None
        return None if row is None else account_from_row(row, time=_time)

    def accounts(self) -> list[Account]:
        with self._reading("reading the accounts from") as conn:
            rows = conn.execute(named("ledger_accounts")).fetchall() if conn else []
        return [account_from_row(r, time=_time) for r in rows]

    # sessions ---------------------------------------------------------------------------
    def add_session(self, session: SessionRecord, *, audit: AuditEntry) -> None:
        with self._transaction("adding a session to") as conn:
            self._require_account(conn, session.account_id)
            try:
                conn.execute(
                    named("ledger_insert_session"),
                    (
                        session.token_hash,
                        int(session.account_id),
                        session.csrf_token,
                        utc(session.created_at),
                        utc(session.expires_at),
                        utc(session.last_seen_at),
                        session.address,
                        _utc_or_none(session.ended_at),
                    ),
                )
            except psycopg.errors.IntegrityError as exc:
                raise StoreConstraintError(
                    f"the store {self._store.url} refused the session, nothing was written: "
                    f"{exc.diag.message_primary}"
                ) from exc
            self._append(conn, audit)

    def session(self, token_hash: str) -> SessionRecord | None:
        with self._reading("reading a session from") as conn:
            row = conn.execute(named("ledger_session"), (token_hash,)).fetchone() if conn else None
        return None if row is None else session_from_row(row, time=_time)

    def touch_session(self, token_hash: str, *, seen_at: dt.datetime) -> None:
        seen = utc(seen_at)
        with self._transaction("touching a session in") as conn:
            conn.execute(named("ledger_touch_session"), (seen, token_hash, seen))

    def end_session(self, token_hash: str, *, ended_at: dt.datetime, audit: AuditEntry) -> None:
        with self._transaction("ending a session in") as conn:
            found = conn.execute(named("ledger_end_session"), (utc(ended_at), token_hash))
            if not found.rowcount:
                raise NotFoundError("no such session")
            self._append(conn, audit)

    # API tokens -------------------------------------------------------------------------
    def add_token(self, token: NewToken, *, audit: AuditEntry) -> TokenRecord:
        with self._transaction("adding an API token to") as conn:
            self._require_account(conn, token.account_id)
            try:
                row = conn.execute(
                    named("ledger_insert_token"),
                    (
                        int(token.account_id),
                        token.name,
                        token.token_hash,
                        token.prefix,
                        utc(token.created_at),
                        _utc_or_none(token.expires_at),
                    ),
                ).fetchone()
            except psycopg.errors.IntegrityError as exc:
                raise StoreConstraintError(
                    f"the store {self._store.url} refused the API token, nothing was written: "
                    f"{exc.diag.message_primary}"
                ) from exc
            self._append(conn, audit)
        return token_from_row(_one(row), time=_time)

    def tokens(self, *, account_id: int | None = None) -> list[TokenRecord]:
        condition: sql.Composable = named("always")
        params: list[object] = []
        if account_id is not None:
            condition = named("equals", column=ident("account_id"))
            params.append(int(account_id))
        with self._reading("reading the API tokens from") as conn:
            statement = named("ledger_tokens", condition=condition)
            rows = conn.execute(statement, params).fetchall() if conn else []
        return [token_from_row(r, time=_time) for r in rows]

    def token(self, token_hash: str) -> TokenRecord | None:
        with self._reading("reading an API token from") as conn:
            row = conn.execute(named("ledger_token"), (token_hash,)).fetchone() if conn else None
        return None if row is None else token_from_row(row, time=_time)

    def touch_token(self, token_id: int, *, used_at: dt.datetime) -> None:
        with self._transaction("touching an API token in") as conn:
            found = conn.execute(named("ledger_touch_token"), (utc(used_at), int(token_id)))
            if not found.rowcount:
                raise NotFoundError(f"no API token {token_id}")

    def revoke_token(
        self, token_id: int, *, revoked_at: dt.datetime, audit: AuditEntry
    ) -> TokenRecord:
        with self._transaction("revoking an API token in") as conn:
            statement = named("ledger_revoke_token")
            row = conn.execute(statement, (utc(revoked_at), int(token_id))).fetchone()
            if row is None:
                raise NotFoundError(f"no API token {token_id}")
            self._append(conn, audit)
        return token_from_row(row, time=_time)

    # the audit log ----------------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> None:
        with self._transaction("appending to the audit log of") as conn:
            self._append(conn, entry)

    def audit(self, query: AuditQuery) -> list[AuditRecord]:
        """The entries ``query`` asks for (``since`` ≤ at < ``until``), by id."""
        if query.limit <= 0:
            return []
        parts: list[sql.Composable] = []
        params: list[object] = []
        for column, value in (
            ("actor", query.actor),
            ("action", query.action),
            ("address", query.address),
            ("outcome", query.outcome),
        ):
            if value is not None:
                parts.append(named("equals", column=ident(column)))
                params.append(value)
        fragments: list[tuple[str, object]] = [
            ("ledger_since", _utc_or_none(query.since)),
            ("ledger_until", _utc_or_none(query.until)),
            ("ledger_target_contains", query.target),
            ("ledger_before_id", query.before_id),
        ]
        for fragment, bound in fragments:
            if bound is not None:
                parts.append(named(fragment))
                params.append(bound)
        order = "ledger_audit_newest" if query.newest_first else "ledger_audit_oldest"
        statement = named(order, condition=_all_of(parts))
        with self._reading("reading the audit log of") as conn:
            rows = conn.execute(statement, [*params, int(query.limit)]).fetchall() if conn else []
        return [audit_from_row(r, time=_time, detail=dict) for r in rows]

    def count_audit(
        self,
        *,
        action: str,
        outcome: Outcome,
        since: dt.datetime,
        actor: str | None = None,
        address: str | None = None,
    ) -> int:
        parts: list[sql.Composable] = [
            named("equals", column=ident("action")),
            named("equals", column=ident("outcome")),
            named("ledger_since"),
        ]
        params: list[object] = [action, outcome, utc(since)]
        for column, value in (("actor", actor), ("address", address)):
            if value is not None:
                parts.append(named("equals", column=ident(column)))
                params.append(value)
        statement = named("ledger_count_audit", condition=_all_of(parts))
        with self._reading("counting audit entries in") as conn:
            row = conn.execute(statement, params).fetchone() if conn else (0,)
        return int(_one(row)[0])

    # helpers ----------------------------------------------------------------------------
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

    @staticmethod
    def _append(conn: psycopg.Connection[Any], entry: AuditEntry) -> None:
        conn.execute(
            named("ledger_append_audit"),
            (
                utc(entry.at),
                entry.actor,
                None if entry.role is None else str(entry.role),
                entry.action,
                entry.outcome,
                entry.address,
                entry.target,
                entry.reason,
                Jsonb(dict(entry.detail)),
            ),
        )

    @staticmethod
    def _require_account(conn: psycopg.Connection[Any], account_id: int) -> None:
        row = conn.execute(named("ledger_account_exists"), (int(account_id),)).fetchone()
        if not (row and row[0]):
            raise NotFoundError(f"no account with id {account_id}")


def _all_of(parts: Sequence[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(parts) if parts else named("always")


def _one(row: Sequence[Any] | None) -> Sequence[Any]:
    if row is None:  # an INSERT … RETURNING or count(*) always answers
        raise RuntimeError("the database returned no row")
    return row


def _refusal(exc: psycopg.errors.IntegrityError, username: str) -> StoreConstraintError:
    """The plain message for an account the database refused."""
    constraint = exc.diag.constraint_name or ""
    if constraint == "accounts_username_key":
        why = f"the username {username!r} is already taken"
    elif constraint == "accounts_area_format":
        why = "an area is a code of 6, 9, 12, 15 or 18 digits"
    else:
        why = exc.diag.message_primary or str(exc)
    return StoreConstraintError(f"the store refused the account, nothing was written: {why}")


def _utc_or_none(moment: dt.datetime | None) -> dt.datetime | None:
    return None if moment is None else utc(moment)


def _time(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)
