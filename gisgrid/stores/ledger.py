"""What a store keeps about people's access: accounts, sessions, API tokens and the audit log.

Every store offers a :class:`Ledger` (``store.ledger``). It only loads and saves: passwords
are hashed, sessions and tokens checked, and scope decided above it
(:mod:`gisgrid.services.accounts`, :mod:`gisgrid.analysis.scope`). Every change it makes is
one transaction together with its audit entry, and the audit log is append-only: the stores
refuse to update or delete an entry (PostGIS and SQLite triggers).

Times are timezone-aware UTC. Secrets are never stored: sessions and tokens by the SHA-256 of
their value, passwords by their hash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, cast

from gisgrid.roles import Role

#: what came of an audited action
Outcome = Literal["ok", "denied", "failed"]


@dataclass(frozen=True)
class NewAccount:
    """An account to add; ``password_hash`` from :mod:`gisgrid.services.accounts`."""

    username: str
    display_name: str
    role: Role
    #: the area code: county (6 digits), township (9), village (12) or grid (15/18)
    area: str
    password_hash: str
    #: a grid worker's phone: the grids whose responsible person has it are theirs
    phone: str | None = None


@dataclass(frozen=True)
class Account:
    """A stored account."""

    id: int
    username: str
    display_name: str
    role: Role
    area: str
    password_hash: str
    phone: str | None
    disabled: bool
    created_at: dt.datetime
    #: when the password was last set (a new password ends the sessions before it)
    password_changed_at: dt.datetime


@dataclass(frozen=True)
class AccountChanges:
    """What to change of an account; ``None`` leaves a field as it is."""

    display_name: str | None = None
    role: Role | None = None
    area: str | None = None
    #: ``""`` removes the phone link
    phone: str | None = None
    password_hash: str | None = None
    disabled: bool | None = None


@dataclass(frozen=True)
class SessionRecord:
    """A signed-in browser session, stored by the hash of its cookie value."""

    token_hash: str
    account_id: int
    #: the value every state-changing request of this session must carry (CSRF)
    csrf_token: str
    created_at: dt.datetime
    #: the absolute end; the idle end is ``last_seen_at`` + the idle time of the settings
    expires_at: dt.datetime
    last_seen_at: dt.datetime
    address: str | None = None
    ended_at: dt.datetime | None = None


@dataclass(frozen=True)
class NewToken:
    """An API token for scripts; its value is shown once and stored only hashed."""

    account_id: int
    name: str
    token_hash: str
    #: the first characters of the value, so a person can tell their tokens apart
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class TokenRecord:
    """A stored API token."""

    id: int
    account_id: int
    name: str
    token_hash: str
    prefix: str
    created_at: dt.datetime
    expires_at: dt.datetime | None
    revoked_at: dt.datetime | None
    last_used_at: dt.datetime | None


@dataclass(frozen=True)
class AuditEntry:
    """One line of the audit log: who did what, to what, from where, and how it went.

    ``target`` names what was read or changed (household ids, a search query, an account);
    ``detail`` holds the rest as JSON (e.g. an account's role before and after).
    """

    action: str
    outcome: Outcome
    at: dt.datetime
    actor: str | None = None
    role: str | None = None
    address: str | None = None
    target: str | None = None
    reason: str | None = None
    detail: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditRecord:
    """A stored audit entry with its sequence number.

    Numbers always increase in the order of appending; PostgreSQL may skip one after an
    append that was rolled back.
    """

    id: int
    entry: AuditEntry


@dataclass(frozen=True)
class AuditQuery:
    """Which audit entries to read: all filters are optional and combine with AND."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    actor: str | None = None
    action: str | None = None
    address: str | None = None
    outcome: Outcome | None = None
    #: entries whose target contains this text
    target: str | None = None
    limit: int = 100
    #: the newest first (default) or the oldest first
    newest_first: bool = True
    #: only entries with an id below this (paging through the newest first)
    before_id: int | None = None


class Ledger(Protocol):
    """Accounts, sessions, tokens and the audit log of one store.

    Every method that changes something takes the :class:`AuditEntry` that records it and
    writes both in one transaction. Refusals raise the errors of :mod:`gisgrid.errors`:
    ``StoreConstraintError`` for a username taken, ``NotFoundError`` for an unknown account
    or token, ``StoreError`` when the store cannot be reached.
    """

    #: its reads answer from a file on this machine within microseconds and never wait for
    #: a writer (SQLite in WAL mode): a web server may make them on its event loop, where
    #: reads over the network (PostgreSQL) go to a thread (:func:`gisgrid.api.deps.enforce`)
    local_reads: bool

    # accounts -------------------------------------------------------------------------
    def add_account(self, account: NewAccount, *, audit: AuditEntry) -> Account: ...

    def change_account(
        self, username: str, changes: AccountChanges, *, audit: AuditEntry, end_sessions: bool
    ) -> Account:
        """Apply ``changes``; with ``end_sessions`` every open session of the account ends
        (a new password, a new role or area, disabling)."""
        ...

    def account(self, username: str) -> Account | None: ...

    def account_by_id(self, account_id: int) -> Account | None: ...

    def accounts(self) -> list[Account]:
        """Every account, by username."""
        ...

    # sessions -------------------------------------------------------------------------
    def add_session(self, session: SessionRecord, *, audit: AuditEntry) -> None: ...

    def session(self, token_hash: str) -> SessionRecord | None: ...

    def touch_session(self, token_hash: str, *, seen_at: dt.datetime) -> None:
        """Move the idle end of a session (not audited: reads are audited themselves)."""
        ...

    def end_session(self, token_hash: str, *, ended_at: dt.datetime, audit: AuditEntry) -> None: ...

    # API tokens -----------------------------------------------------------------------
    def add_token(self, token: NewToken, *, audit: AuditEntry) -> TokenRecord: ...

    def tokens(self, *, account_id: int | None = None) -> list[TokenRecord]:
        """The tokens of one account (or all), newest first, revoked ones included."""
        ...

    def token(self, token_hash: str) -> TokenRecord | None: ...

    def touch_token(self, token_id: int, *, used_at: dt.datetime) -> None: ...

    def revoke_token(
        self, token_id: int, *, revoked_at: dt.datetime, audit: AuditEntry
    ) -> TokenRecord: ...

    # the audit log --------------------------------------------------------------------
    def append_audit(self, entry: AuditEntry) -> None: ...

    def audit(self, query: AuditQuery) -> list[AuditRecord]: ...

    def count_audit(
        self,
        *,
        action: str,
        outcome: Outcome,
        since: dt.datetime,
        actor: str | None = None,
        address: str | None = None,
    ) -> int:
        """How many entries match (the sign-in rate limit counts recent failures with it)."""
        ...


def utc(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC, as the ledgers store and return times.

    Raises
    ------
    ValueError
        A naive datetime: its time zone would be a guess.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a ledger time must carry its time zone, not {moment!r}")
    return moment.astimezone(dt.UTC)


# --- reading rows: both stores select the columns in the order of the dataclasses ---------

#: a store's stored time → an aware UTC datetime
TimeDecoder = Callable[[Any], dt.datetime]


def _maybe(time: TimeDecoder, value: Any) -> dt.datetime | None:
    return None if value is None else time(value)


def account_from_row(row: Sequence[Any], *, time: TimeDecoder) -> Account:
    """An :class:`Account` from a row of its columns in field order."""
    return Account(
        id=int(row[0]),
        username=row[1],
        display_name=row[2],
        role=Role(row[3]),
        area=row[4],
        password_hash=row[5],
        phone=row[6],
        disabled=bool(row[7]),
        created_at=time(row[8]),
        password_changed_at=time(row[9]),
    )


def session_from_row(row: Sequence[Any], *, time: TimeDecoder) -> SessionRecord:
    """A :class:`SessionRecord` from a row of its columns in field order."""
    return SessionRecord(
        token_hash=row[0],
        account_id=int(row[1]),
        csrf_token=row[2],
        created_at=time(row[3]),
        expires_at=time(row[4]),
        last_seen_at=time(row[5]),
        address=row[6],
        ended_at=_maybe(time, row[7]),
    )


def token_from_row(row: Sequence[Any], *, time: TimeDecoder) -> TokenRecord:
    """A :class:`TokenRecord` from a row of its columns in field order."""
    return TokenRecord(
        id=int(row[0]),
        account_id=int(row[1]),
        name=row[2],
        token_hash=row[3],
        prefix=row[4],
        created_at=time(row[5]),
        expires_at=_maybe(time, row[6]),
        revoked_at=_maybe(time, row[7]),
        last_used_at=_maybe(time, row[8]),
    )


def audit_from_row(
    row: Sequence[Any], *, time: TimeDecoder, detail: Callable[[Any], Mapping[str, object]]
) -> AuditRecord:
    """An :class:`AuditRecord` from ``id, at, actor, role, action, outcome, address, target,
    reason, detail`` (``detail`` decodes the stored JSON)."""
    return AuditRecord(
        id=int(row[0]),
        entry=AuditEntry(
            at=time(row[1]),
            actor=row[2],
            role=row[3],
            action=row[4],
            outcome=cast(Outcome, row[5]),
            address=row[6],
            target=row[7],
            reason=row[8],
            detail=detail(row[9]),
        ),
    )
