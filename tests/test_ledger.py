"""The ledger contract (gisgrid.stores.ledger) on both stores: accounts, sessions, API tokens
and the audit log, the refusals, the append-only audit log and concurrent appends.

Each test runs on a GeoPackage store in ``tmp_path`` (the ledger in ``NAME.access.sqlite``
beside it) and on a PostGIS store of its own (a fresh database, initialised).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import socket
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from gisgrid.errors import NotFoundError, StoreConstraintError, StoreError
from gisgrid.roles import Role
from gisgrid.stores import Store
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import (
    AccountChanges,
    AuditEntry,
    AuditQuery,
    Ledger,
    NewAccount,
    NewToken,
    Outcome,
    SessionRecord,
)
from gisgrid.stores.postgis import PostGISStore, ident
from gisgrid.stores.sqlite_ledger import SQLiteLedger, ledger_path

T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
COUNTY = "430623"
GRID = "430623901001001001"


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def entry(action: str = "test", *, minutes: float = 0, **fields: Any) -> AuditEntry:
    fields.setdefault("outcome", "ok")
    return AuditEntry(action=action, at=at(minutes), **fields)


def new_account(username: str = "wang", **fields: Any) -> NewAccount:
    values: dict[str, Any] = {
        "display_name": "王测试",
        "role": Role.GRID,
        "area": GRID,
        "password_hash": "$argon2id$test-hash",
        "phone": "13900000000",
    }
    values.update(fields)
    return NewAccount(username=username, **values)


def new_session(account_id: int, token_hash: str = "a" * 64, **fields: Any) -> SessionRecord:
    values: dict[str, Any] = {
        "csrf_token": "csrf-" + token_hash[:8],
        "created_at": at(0),
        "expires_at": at(12 * 60),
        "last_seen_at": at(0),
        "address": "10.0.0.7",
    }
    values.update(fields)
    return SessionRecord(token_hash=token_hash, account_id=account_id, **values)


def new_token(account_id: int, token_hash: str, *, minutes: float = 0, **fields: Any) -> NewToken:
    values: dict[str, Any] = {"name": "script", "prefix": "ggt_" + token_hash[:4]}
    values.update(fields)
    return NewToken(account_id=account_id, token_hash=token_hash, created_at=at(minutes), **values)


def all_audit(ledger: Ledger) -> list[Any]:
    return ledger.audit(AuditQuery(limit=10_000, newest_first=False))


# --- the stores --------------------------------------------------------------------------------


@pytest.fixture(params=["gpkg", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each kind, of its own."""
    if request.param == "gpkg":
        yield GeoPackageStore(tmp_path / "county.gpkg")
    else:
        yield request.getfixturevalue("pg_store")


def audit_table(store: Store) -> str:
    return "audit_log" if store.path is not None else "gisgrid.audit_log"


def location(store: Store) -> str:
    """Where the store is, as ``open_store`` takes it (a PostGIS URL with its password)."""
    return store._conninfo if isinstance(store, PostGISStore) else str(store.path)


def direct(store: Store, statement: str) -> None:
    """Run ``statement`` on the store's ledger with a plain connection, outside gisgrid."""
    if isinstance(store, PostGISStore):
        with psycopg.connect(store._conninfo) as conn:
            conn.execute(statement.encode())
    else:
        assert store.path is not None
        with contextlib.closing(sqlite3.connect(ledger_path(store.path))) as con, con:
            con.execute(statement)


# --- accounts ----------------------------------------------------------------------------------


def test_an_account_is_added_read_and_listed(store: Store) -> None:
    ledger = store.ledger
    assert ledger is store.ledger  # one ledger per store
    assert ledger.accounts() == []
    assert ledger.account("wang") is None
    added = ledger.add_account(new_account(), audit=entry("account_add", minutes=1, actor="admin"))
    assert added.username == "wang"
    assert added.display_name == "王测试"
    assert added.role is Role.GRID
    assert (added.area, added.phone, added.disabled) == (GRID, "13900000000", False)
    assert added.created_at == added.password_changed_at == at(1)
    assert added.created_at.tzinfo is dt.UTC
    assert ledger.account("wang") == added
    assert ledger.account_by_id(added.id) == added
    assert ledger.account_by_id(added.id + 1000) is None
    leader = ledger.add_account(
        new_account("li", role=Role.LEADER, area=COUNTY, phone=None),
        audit=entry("account_add", minutes=2, actor="admin"),
    )
    assert leader.role is Role.LEADER and leader.phone is None
    assert [a.username for a in ledger.accounts()] == ["li", "wang"]  # by username
    assert [r.entry.action for r in all_audit(ledger)] == ["account_add", "account_add"]


def test_a_taken_username_is_refused_and_nothing_is_written(store: Store) -> None:
    ledger = store.ledger
    first = ledger.add_account(new_account(), audit=entry("account_add", actor="admin"))
    with pytest.raises(StoreConstraintError, match="'wang'"):
        ledger.add_account(
            new_account(display_name="另一个王", role=Role.ADMIN, area=COUNTY),
            audit=entry("account_add", minutes=1, actor="admin", target="second wang"),
        )
    assert ledger.accounts() == [first]
    assert [r.entry.target for r in all_audit(ledger)] == [None]  # its audit entry neither


def test_a_malformed_area_is_refused(store: Store) -> None:
    with pytest.raises(StoreConstraintError):
        store.ledger.add_account(new_account(area="43062390A"), audit=entry("account_add"))
    assert store.ledger.accounts() == [] and all_audit(store.ledger) == []


def test_an_account_is_changed_field_by_field(store: Store) -> None:
    ledger = store.ledger
    added = ledger.add_account(new_account(), audit=entry("account_add"))
    same = ledger.change_account(
        "wang", AccountChanges(), audit=entry("account_change", minutes=1), end_sessions=False
    )
    assert same == added
    changed = ledger.change_account(
        "wang",
        AccountChanges(display_name="王二", role=Role.VILLAGE, area=GRID[:12], phone=""),
        audit=entry("account_change", minutes=2),
        end_sessions=False,
    )
    assert (changed.display_name, changed.role, changed.area) == ("王二", Role.VILLAGE, GRID[:12])
    assert changed.phone is None  # "" removes the phone link
    assert changed.password_changed_at == added.password_changed_at
    assert changed.password_hash == added.password_hash
    changed = ledger.change_account(
        "wang",
        AccountChanges(password_hash="$argon2id$new", disabled=True, phone="13911112222"),
        audit=entry("password_reset", minutes=3),
        end_sessions=False,
    )
    assert changed.password_hash == "$argon2id$new"
    assert changed.password_changed_at == at(3)  # the time of the change: its audit entry's
    assert changed.disabled is True and changed.phone == "13911112222"
    assert changed.display_name == "王二" and changed.created_at == added.created_at
    assert ledger.account("wang") == changed
    again = ledger.change_account(
        "wang", AccountChanges(disabled=False), audit=entry(minutes=4), end_sessions=False
    )
    assert again.disabled is False
    actions = [r.entry.action for r in all_audit(ledger)]
    assert actions == ["account_add", "account_change", "account_change", "password_reset", "test"]


def test_changing_an_unknown_account_is_not_found_and_writes_nothing(store: Store) -> None:
    ledger = store.ledger
    ledger.add_account(new_account(), audit=entry("account_add"))
    with pytest.raises(NotFoundError, match="'zhao'"):
        ledger.change_account(
            "zhao", AccountChanges(disabled=True), audit=entry("x"), end_sessions=True
        )
    assert [r.entry.action for r in all_audit(ledger)] == ["account_add"]


def test_change_account_can_end_every_open_session_of_the_account(store: Store) -> None:
    ledger = store.ledger
    wang = ledger.add_account(new_account(), audit=entry("account_add"))
    li = ledger.add_account(new_account("li"), audit=entry("account_add"))
    ledger.add_session(new_session(wang.id, "1" * 64), audit=entry("sign_in"))
    ledger.add_session(new_session(wang.id, "2" * 64), audit=entry("sign_in"))
    ledger.add_session(new_session(li.id, "3" * 64), audit=entry("sign_in"))
    ledger.end_session("2" * 64, ended_at=at(5), audit=entry("sign_out", minutes=5))
    # a change that keeps the sessions
    ledger.change_account(
        "wang", AccountChanges(display_name="王"), audit=entry(minutes=6), end_sessions=False
    )
    session = ledger.session("1" * 64)
    assert session is not None and session.ended_at is None
    # one that ends them, in the same transaction, at the time of its audit entry
    ledger.change_account(
        "wang",
        AccountChanges(password_hash="$argon2id$other"),
        audit=entry("password_reset", minutes=10),
        end_sessions=True,
    )
    ended = {h: ledger.session(h * 64) for h in "123"}
    assert ended["1"] is not None and ended["1"].ended_at == at(10)
    assert ended["2"] is not None and ended["2"].ended_at == at(5)  # ended before: kept
    assert ended["3"] is not None and ended["3"].ended_at is None  # another account's


# --- sessions ----------------------------------------------------------------------------------


def test_a_session_is_added_read_touched_and_ended(store: Store) -> None:
    ledger = store.ledger
    wang = ledger.add_account(new_account(), audit=entry("account_add"))
    record = new_session(wang.id)
    ledger.add_session(record, audit=entry("sign_in", actor="wang", address="10.0.0.7"))
    assert ledger.session(record.token_hash) == record
    assert ledger.session("b" * 64) is None
    ledger.touch_session(record.token_hash, seen_at=at(30))
    touched = ledger.session(record.token_hash)
    assert touched is not None and touched.last_seen_at == at(30)
    ledger.touch_session(record.token_hash, seen_at=at(20))  # a slower request: not back
    touched = ledger.session(record.token_hash)
    assert touched is not None and touched.last_seen_at == at(30)
    ledger.touch_session("b" * 64, seen_at=at(31))  # an unknown session: nothing to move
    ledger.end_session(record.token_hash, ended_at=at(40), audit=entry("sign_out", minutes=40))
    ended = ledger.session(record.token_hash)
    assert ended is not None and ended.ended_at == at(40)
    assert ended.last_seen_at == at(30) and ended.expires_at == at(12 * 60)
    ledger.touch_session(record.token_hash, seen_at=at(50))  # an ended session stays ended
    ended = ledger.session(record.token_hash)
    assert ended is not None and ended.last_seen_at == at(30)
    with pytest.raises(NotFoundError):
        ledger.end_session("b" * 64, ended_at=at(41), audit=entry("sign_out"))
    actions = [r.entry.action for r in all_audit(ledger)]
    assert actions == ["account_add", "sign_in", "sign_out"]  # touching is not audited


def test_a_session_of_an_unknown_account_is_refused(store: Store) -> None:
    with pytest.raises(NotFoundError):
        store.ledger.add_session(new_session(4711), audit=entry("sign_in"))
    assert all_audit(store.ledger) == []


# --- API tokens --------------------------------------------------------------------------------


def test_tokens_are_added_listed_touched_and_revoked(store: Store) -> None:
    ledger = store.ledger
    wang = ledger.add_account(new_account(), audit=entry("account_add"))
    li = ledger.add_account(new_account("li"), audit=entry("account_add"))
    first = ledger.add_token(
        new_token(wang.id, "t1" * 32, minutes=1, expires_at=at(60 * 24 * 90)),
        audit=entry("token_create", minutes=1),
    )
    second = ledger.add_token(
        new_token(wang.id, "t2" * 32, minutes=2, name="nightly"),
        audit=entry("token_create", minutes=2),
    )
    other = ledger.add_token(new_token(li.id, "t3" * 32, minutes=3), audit=entry("token_create"))
    assert first.name == "script" and first.prefix == "ggt_t1t1"
    assert first.created_at == at(1) and first.expires_at == at(60 * 24 * 90)
    assert (first.revoked_at, first.last_used_at) == (None, None)
    assert second.expires_at is None
    assert ledger.tokens(account_id=wang.id) == [second, first]  # newest first
    assert ledger.tokens() == [other, second, first]
    assert ledger.tokens(account_id=li.id + 1000) == []
    assert ledger.token("t1" * 32) == first
    assert ledger.token("t9" * 32) is None

    ledger.touch_token(first.id, used_at=at(10))
    ledger.touch_token(first.id, used_at=at(9))  # a slower request: not back
    used = ledger.token("t1" * 32)
    assert used is not None and used.last_used_at == at(10)

    revoked = ledger.revoke_token(first.id, revoked_at=at(20), audit=entry("token_revoke"))
    assert revoked.revoked_at == at(20) and revoked.last_used_at == at(10)
    assert ledger.token("t1" * 32) == revoked
    again = ledger.revoke_token(first.id, revoked_at=at(30), audit=entry("token_revoke"))
    assert again.revoked_at == at(20)  # the first revocation stands
    assert ledger.tokens(account_id=wang.id) == [second, revoked]  # revoked ones included

    with pytest.raises(NotFoundError):
        ledger.revoke_token(first.id + 1000, revoked_at=at(31), audit=entry("token_revoke"))
    with pytest.raises(NotFoundError):
        ledger.touch_token(first.id + 1000, used_at=at(31))
    with pytest.raises(NotFoundError):
        ledger.add_token(new_token(4711, "t4" * 32), audit=entry("token_create"))
    with pytest.raises(StoreConstraintError):  # one hash, one token
        ledger.add_token(new_token(li.id, "t1" * 32), audit=entry("token_create"))
    actions = [r.entry.action for r in all_audit(ledger)]
    assert actions == ["account_add"] * 2 + ["token_create"] * 3 + ["token_revoke"] * 2


def test_a_token_read_on_the_kept_connection_follows_every_other_writer(tmp_path: Path) -> None:
    """A token and an account are read on a connection the ledger keeps open (every request
    asks): a revocation and a disabled account, by another process, and a ledger file made
    anew (another inode) are all seen at the next read."""
    path = tmp_path / "county.access.sqlite"
    server = SQLiteLedger(path)  # the web server's ledger
    wang = server.add_account(new_account(), audit=entry("account_add"))
    token = server.add_token(new_token(wang.id, "t1" * 32), audit=entry("token_create"))
    assert server.token("t1" * 32) == token  # the kept connection is open from here
    acct = server.account_by_id(wang.id)
    assert acct is not None and not acct.disabled
    # another process revokes the token and disables the account
    script = (
        "import sqlite3, sys\n"
        "con = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "con.execute(\"UPDATE api_tokens SET revoked_at = '2026-01-01T00:00:00+00:00'\")\n"
        "con.execute('UPDATE accounts SET disabled = 1')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(path)], check=True)
    revoked = server.token("t1" * 32)
    assert revoked is not None and revoked.revoked_at is not None
    disabled = server.account_by_id(wang.id)
    assert disabled is not None and disabled.disabled
    # the file made anew (another inode: read on a new connection)
    for old in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        old.unlink()
    other = SQLiteLedger(path)
    li = other.add_account(new_account("li"), audit=entry("account_add"))
    other.add_token(new_token(li.id, "t2" * 32), audit=entry("token_create"))
    assert server.token("t1" * 32) is None
    found = server.token("t2" * 32)
    assert found is not None and found.account_id == li.id
    server.close()
    assert server.token("t9" * 32) is None  # closed: the next read opens another


# --- the audit log -----------------------------------------------------------------------------


def _fill_audit(ledger: Ledger) -> None:
    """Ten entries, one a minute: sign-ins of two people from two addresses, and reads."""
    rows: list[tuple[str, Outcome, str, str, str | None]] = [
        ("sign_in", "failed", "wang", "10.0.0.1", None),
        ("sign_in", "failed", "wang", "10.0.0.2", None),
        ("sign_in", "ok", "wang", "10.0.0.1", None),
        ("households_read", "ok", "wang", "10.0.0.1", "H001,H002"),
        ("sign_in", "failed", "li", "10.0.0.2", None),
        ("households_read", "ok", "li", "10.0.0.2", "search: 测试户主"),
        ("denied", "denied", "li", "10.0.0.2", "/api/layers/households"),
        ("sign_in", "failed", "li", "10.0.0.1", None),
        ("households_read", "ok", "wang", "10.0.0.1", "H002"),
        ("sign_out", "ok", "wang", "10.0.0.1", None),
    ]
    for n, (action, outcome, actor, address, target) in enumerate(rows):
        ledger.append_audit(
            AuditEntry(
                action=action,
                outcome=outcome,
                at=at(n),
                actor=actor,
                role="grid",
                address=address,
                target=target,
                reason="走访" if target else None,
                detail={"n": n, "名": "测试"} if n % 2 else {},
            )
        )


def test_audit_entries_come_back_as_appended(store: Store) -> None:
    ledger = store.ledger
    _fill_audit(ledger)
    records = all_audit(ledger)
    assert len(records) == 10
    ids = [r.id for r in records]
    assert ids == sorted(ids) and len(set(ids)) == 10
    second = records[1].entry
    assert second == AuditEntry(
        action="sign_in",
        outcome="failed",
        at=at(1),
        actor="wang",
        role="grid",
        address="10.0.0.2",
        detail={"n": 1, "名": "测试"},
    )
    assert second.at.tzinfo is dt.UTC
    assert records[3].entry.reason == "走访" and records[0].entry.detail == {}


def test_the_audit_query_honours_every_field(store: Store) -> None:
    ledger = store.ledger
    _fill_audit(ledger)
    ids = [r.id for r in all_audit(ledger)]  # ids[n] is the entry of minute n

    def found(**fields: Any) -> list[int]:
        return [ids.index(r.id) for r in ledger.audit(AuditQuery(**fields))]

    assert found() == list(range(9, -1, -1))  # newest first by default
    assert found(newest_first=False) == list(range(10))
    assert found(limit=3) == [9, 8, 7]
    assert found(limit=3, newest_first=False) == [0, 1, 2]
    assert found(limit=0) == []
    assert found(actor="li") == [7, 6, 5, 4]
    assert found(action="sign_in") == [7, 4, 2, 1, 0]
    assert found(outcome="failed") == [7, 4, 1, 0]
    assert found(outcome="denied") == [6]
    assert found(address="10.0.0.2") == [6, 5, 4, 1]
    assert found(target="H002") == [8, 3]  # contains
    assert found(target="测试户主") == [5]
    assert found(target="%") == []  # plain text, no wildcards
    assert found(since=at(3), until=at(6)) == [5, 4, 3]  # since ≤ at < until
    assert found(since=at(8)) == [9, 8]
    assert found(until=at(1)) == [0]
    assert found(since=at(3).astimezone(dt.timezone(dt.timedelta(hours=8)))) == found(since=at(3))
    assert found(action="sign_in", outcome="failed", actor="wang") == [1, 0]
    assert found(action="sign_in", address="10.0.0.1", newest_first=False) == [0, 2, 7]
    # paging through the newest first
    page1 = found(limit=4)
    page2 = found(limit=4, before_id=ids[page1[-1]])
    page3 = found(limit=4, before_id=ids[page2[-1]])
    assert (page1, page2, page3) == ([9, 8, 7, 6], [5, 4, 3, 2], [1, 0])
    assert found(before_id=ids[0]) == []
    assert found(before_id=ids[5], actor="wang", limit=2) == [3, 2]


def test_count_audit_counts_the_matches(store: Store) -> None:
    ledger = store.ledger
    assert ledger.count_audit(action="sign_in", outcome="failed", since=at(-60)) == 0
    _fill_audit(ledger)

    def count(**fields: Any) -> int:
        fields.setdefault("action", "sign_in")
        fields.setdefault("outcome", "failed")
        fields.setdefault("since", at(0))
        return ledger.count_audit(**fields)

    assert count() == 4
    assert count(since=at(2)) == 2
    assert count(since=at(7)) == 1 and count(since=at(7.5)) == 0
    assert count(actor="wang") == 2 and count(actor="li") == 2 and count(actor="zhao") == 0
    assert count(address="10.0.0.2") == 2
    assert count(actor="li", address="10.0.0.1") == 1
    assert count(outcome="ok") == 1
    assert count(action="households_read", outcome="ok", actor="wang") == 2


def test_times_must_carry_their_zone_and_come_back_in_utc(store: Store) -> None:
    ledger = store.ledger
    with pytest.raises(ValueError, match="time zone"):
        ledger.append_audit(AuditEntry(action="x", outcome="ok", at=dt.datetime(2026, 1, 1)))
    beijing = dt.timezone(dt.timedelta(hours=8))
    ledger.append_audit(AuditEntry(action="x", outcome="ok", at=at(0).astimezone(beijing)))
    (record,) = all_audit(ledger)
    assert record.entry.at == at(0) and record.entry.at.tzinfo is dt.UTC
    assert record.entry.at.utcoffset() == dt.timedelta(0)


def test_the_audit_log_is_append_only(store: Store) -> None:
    ledger = store.ledger
    _fill_audit(ledger)
    before = all_audit(ledger)
    table = audit_table(store)
    refused = (sqlite3.IntegrityError, psycopg.errors.InsufficientPrivilege)
    with pytest.raises(refused, match="append-only"):
        direct(store, f"UPDATE {table} SET actor = 'nobody' WHERE actor = 'wang'")
    with pytest.raises(refused, match="append-only"):
        direct(store, f"DELETE FROM {table} WHERE action = 'sign_in'")
    with pytest.raises(refused, match="append-only"):
        direct(store, f"DELETE FROM {table}")
    if store.path is None:  # PostgreSQL has TRUNCATE too (SQLite's is a DELETE)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            direct(store, f"TRUNCATE {table}")
    assert all_audit(ledger) == before
    direct(store, f"INSERT INTO {table} (at, action, outcome) VALUES ('{at(20)}', 'x', 'ok')")
    assert len(all_audit(ledger)) == 11  # appending is what it is for


# --- two writers at once -------------------------------------------------------------------------

APPENDER = r"""
import datetime as dt, sys
from gisgrid.stores import open_store
from gisgrid.stores.ledger import AuditEntry

ledger = open_store(sys.argv[1]).ledger
name, count = sys.argv[2], int(sys.argv[3])
print("ready", flush=True)
sys.stdin.readline()
for n in range(count):
    ledger.append_audit(AuditEntry(
        action="test", outcome="ok", at=dt.datetime.now(dt.UTC), actor=name, detail={"n": n}
    ))
print("done", flush=True)
"""


def test_two_processes_appending_at_once_lose_nothing(store: Store) -> None:
    store.ledger.append_audit(entry("first"))  # the schema exists before they start
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", APPENDER, location(store), name, "200"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name in ("w1", "w2")
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        for worker in workers:  # both go together
            assert worker.stdin is not None
            worker.stdin.write("go\n")
            worker.stdin.flush()
        outcomes = [worker.communicate(timeout=300) for worker in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    for worker, (out, err) in zip(workers, outcomes, strict=True):
        assert worker.returncode == 0 and out == "done\n", err
    records = [r for r in all_audit(store.ledger) if r.entry.action == "test"]
    assert len(records) == 400 and len({r.id for r in records}) == 400
    for name in ("w1", "w2"):  # each worker's entries all there, in the order appended
        mine = [r.entry.detail["n"] for r in records if r.entry.actor == name]
        assert mine == list(range(200))
        assert store.ledger.count_audit(action="test", outcome="ok", since=T0, actor=name) == 200


# --- the GeoPackage side file ---------------------------------------------------------------------


def test_the_ledger_lives_beside_the_geopackage_owner_only(tmp_path: Path) -> None:
    store = GeoPackageStore(tmp_path / "county.gpkg")
    side = tmp_path / "county.access.sqlite"
    assert store.ledger.path == side == ledger_path(store.path)
    old = os.umask(0)  # the mode must not depend on the umask
    try:
        store.ledger.add_account(new_account(), audit=entry("account_add"))
        # a reader keeps SQLite's -wal and -shm files there while the ledger writes
        with contextlib.closing(sqlite3.connect(side)) as reader:
            assert reader.execute("SELECT count(*) FROM accounts").fetchone() == (1,)
            store.ledger.append_audit(entry())
            made = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("county.acc"))
            assert made == [side.name, f"{side.name}-shm", f"{side.name}-wal"]
            for name in made:
                assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name
    finally:
        os.umask(old)


def test_the_geopackage_holds_no_accounts_or_audit(
    filled_store: GeoPackageStore,
) -> None:
    """What is handed to QGIS users carries neither password hashes nor the audit trail."""
    filled_store.ledger.add_account(new_account(), audit=entry("account_add"))
    filled_store.write({"incidents": filled_store.read("incidents")})  # a layer write after it
    with sqlite3.connect(filled_store.path) as con:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        dump = "\n".join(con.iterdump())
    assert not tables & {"accounts", "sessions", "api_tokens", "audit_log"}
    assert "argon2" not in dump and "account_add" not in dump
    assert filled_store.ledger.account("wang") is not None


def test_the_side_file_schema_is_made_once_and_a_newer_one_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.access.sqlite"
    SQLiteLedger(path).append_audit(entry())
    SQLiteLedger(path).append_audit(entry())  # a second instance finds the schema there
    assert len(all_audit(SQLiteLedger(path))) == 2
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 1
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        con.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="newer than this gisgrid"):
        SQLiteLedger(path).accounts()


def test_a_ledger_that_cannot_be_reached_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "plain-file").write_text("not a folder")
    store = GeoPackageStore(tmp_path / "plain-file" / "county.gpkg")
    with pytest.raises(StoreError):
        store.ledger.accounts()
    with pytest.raises(StoreError):
        store.ledger.append_audit(entry())
    broken = tmp_path / "broken.access.sqlite"
    broken.write_bytes(b"this is not a database, just bytes " * 100)
    with pytest.raises(StoreError):
        SQLiteLedger(broken).account("wang")


def test_the_side_file_is_ignored_by_git() -> None:
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        pytest.skip("not a git checkout")
    for name in ("county.access.sqlite", "county.access.sqlite-wal", "county.access.sqlite-shm"):
        found = subprocess.run(
            ["git", "-C", str(root), "check-ignore", "-q", f"data/{name}"], check=False
        )
        assert found.returncode == 0, name


# --- PostGIS only ---------------------------------------------------------------------------------


def test_the_application_role_cannot_change_the_audit_log(pg_store: PostGISStore) -> None:
    """A role with docs/county-it.md's grants (UPDATE, DELETE, TRUNCATE on every table of the
    schema) uses the ledger, and still cannot change or remove an audit entry."""
    url = pg_store._conninfo
    role = f"clerk_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'clerk-pw'").format(ident(role)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA gisgrid TO {}").format(ident(role)))
        conn.execute(
            sql.SQL(
                "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA gisgrid "
                "TO {}"
            ).format(ident(role))
        )
    host = urlsplit(url).netloc.rpartition("@")[2]
    clerk_url = urlunsplit(urlsplit(url)._replace(netloc=f"{role}:clerk-pw@{host}"))
    clerk = PostGISStore(clerk_url)
    try:
        wang = clerk.ledger.add_account(new_account(), audit=entry("account_add"))
        clerk.ledger.add_token(new_token(wang.id, "t1" * 32), audit=entry("token_create"))
        clerk.ledger.append_audit(entry("households_read", target="H001"))
        before = all_audit(clerk.ledger)
        assert len(before) == 3
        for statement in (
            "UPDATE gisgrid.audit_log SET target = 'H999'",
            "DELETE FROM gisgrid.audit_log WHERE id = (SELECT max(id) FROM gisgrid.audit_log)",
            "TRUNCATE gisgrid.audit_log",
        ):
            with (
                psycopg.connect(clerk_url) as conn,
                pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
            ):
                conn.execute(statement.encode())
        assert all_audit(pg_store.ledger) == before
    finally:
        clerk.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(ident(role)))


def test_a_store_without_the_schema_reads_empty_and_refuses_changes(pg_url: str) -> None:
    store = PostGISStore(pg_url)
    try:
        ledger = store.ledger
        assert ledger.accounts() == [] and ledger.account("wang") is None
        assert ledger.tokens() == [] and ledger.session("a" * 64) is None
        assert all_audit(ledger) == []
        assert ledger.count_audit(action="sign_in", outcome="failed", since=T0) == 0
        with pytest.raises(StoreError, match="gisgrid init"):
            ledger.append_audit(entry())
        with pytest.raises(StoreError, match="gisgrid init"):
            ledger.add_account(new_account(), audit=entry("account_add"))
        store.init(target=3)  # a store of the gisgrid before accounts: upgrade first
        with pytest.raises(StoreError, match="schema version 3; this gisgrid needs"):
            ledger.accounts()
        assert store.init().applied[0] == "0004_access"  # and the migrations after it
        ledger.add_account(new_account(), audit=entry("account_add"))
        assert [a.username for a in ledger.accounts()] == ["wang"]
    finally:
        store.close()


def test_an_unreachable_database_is_a_store_error() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = PostGISStore(f"postgresql://nobody:pw@127.0.0.1:{port}/nothing")
    try:
        with pytest.raises(StoreError, match="cannot connect"):
            store.ledger.accounts()
        with pytest.raises(StoreError, match="cannot connect"):
            store.ledger.append_audit(entry())
    finally:
        store.close()
