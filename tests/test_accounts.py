"""Accounts, passwords, sessions, tokens and sign-in (gisgrid.services.accounts), on a real
store's ledger: a GeoPackage in tmp_path, and PostGIS for sign-in and the rate limit."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gisgrid.errors import (
    AuthenticationError,
    ConfigError,
    ForbiddenError,
    NotFoundError,
    RateLimitedError,
    StoreConstraintError,
    ValidationError,
)
from gisgrid.roles import Role
from gisgrid.services import accounts
from gisgrid.settings import AuthSettings
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import Account, AuditQuery, AuditRecord, Ledger

SETTINGS = AuthSettings(
    session_hours=8,
    idle_minutes=30,
    max_failures_per_account=3,
    max_failures_per_address=5,
    failure_window_minutes=15,
    min_password_length=10,
    token_days=30,
)
COUNTY, TOWNSHIP, VILLAGE = "430623", "430623101", "430623101201"
LEVEL3 = "430623101201003002"
PASSWORD = "Dongting-lake-42"


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return GeoPackageStore(tmp_path / "county.gpkg").ledger


@pytest.fixture(params=["geopackage", "postgis"])
def any_ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    """The ledger of each kind of store (sign-in and its limit must agree on both)."""
    if request.param == "geopackage":
        yield GeoPackageStore(tmp_path / "county.gpkg").ledger
        return
    store = request.getfixturevalue("pg_store")
    yield store.ledger


def add(
    ledger: Ledger,
    username: str = "li.ming",
    *,
    role: Role = Role.VILLAGE,
    area: str = VILLAGE,
    password: str = PASSWORD,
    phone: str | None = None,
) -> Account:
    return accounts.add_account(
        ledger,
        username=username,
        display_name="李明",
        role=role,
        area=area,
        password=password,
        phone=phone,
        actor="cli:tester",
        address=None,
        settings=SETTINGS,
    )


def audit(ledger: Ledger, **query: Any) -> list[AuditRecord]:
    return ledger.audit(AuditQuery(limit=1000, newest_first=False, **query))


def later(minutes: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)


# --- passwords ---------------------------------------------------------------------------------


def test_generated_passwords_are_long_readable_new_and_acceptable() -> None:
    made = {accounts.generate_password() for _ in range(20)}
    assert len(made) == 20
    for password in made:
        assert len(password) >= 16
        assert re.fullmatch(r"[a-hjkmnp-z2-9]{5}(-[a-hjkmnp-z2-9]{5}){3}", password), password
        assert not set(password) & set("01ilo")
        assert accounts.password_problems(password, username="li.ming", settings=SETTINGS) == []


def test_a_hash_is_argon2id_and_verifies() -> None:
    hashed = accounts.hash_password(PASSWORD, settings=SETTINGS)
    assert hashed.startswith("$argon2id$")
    assert PASSWORD not in hashed
    assert hashed != accounts.hash_password(PASSWORD, settings=SETTINGS)  # salted


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("Ab3-short", "at least 10 characters"),
        ("aaaaaaaaaaaaaa", "two kinds of characters"),
        ("12345678901234", "two kinds of characters"),
        ("我的密码是很长很长的一句话", "two kinds of characters"),
        ("xx-Li.Ming-2024", "must not contain the username"),
        ("x" * 300 + "1", "at most 256 characters"),
    ],
)
def test_the_password_policy_refuses(password: str, words: str) -> None:
    with pytest.raises(ValidationError) as caught:
        accounts.hash_password(password, settings=SETTINGS, username="li.ming")
    message = str(caught.value)
    assert words in message
    assert "密码" in message  # Chinese and English
    assert password not in message


def test_the_minimum_length_comes_from_the_settings() -> None:
    strict = AuthSettings(min_password_length=20)
    with pytest.raises(ValidationError, match="at least 20 characters"):
        accounts.hash_password(PASSWORD, settings=strict)
    assert accounts.hash_password(PASSWORD, settings=SETTINGS)


# --- accounts ----------------------------------------------------------------------------------


def test_add_account_stores_a_hash_and_audits(ledger: Ledger) -> None:
    account = add(ledger)
    assert (account.username, account.role, account.area) == ("li.ming", Role.VILLAGE, VILLAGE)
    assert account.display_name == "李明" and not account.disabled
    assert account.password_hash.startswith("$argon2id$")
    assert ledger.account("li.ming") == account
    [entry] = [r.entry for r in audit(ledger)]
    assert (entry.action, entry.outcome, entry.actor, entry.target) == (
        "account_add", "ok", "cli:tester", "li.ming",
    )  # fmt: skip
    assert PASSWORD not in repr(entry)


@pytest.mark.parametrize("username", ["ab", "x" * 33, "Li.Ming", "li ming", "李明", "li/ming", ""])
def test_a_bad_username_is_refused(ledger: Ledger, username: str) -> None:
    with pytest.raises(ConfigError, match="3-32 characters"):
        add(ledger, username)
    assert ledger.accounts() == []


def test_a_username_is_taken_once(ledger: Ledger) -> None:
    add(ledger)
    with pytest.raises(StoreConstraintError):
        add(ledger, role=Role.VIEWER, area=COUNTY)


@pytest.mark.parametrize(
    ("role", "area", "ok"),
    [
        (Role.ADMIN, COUNTY, True),
        (Role.ADMIN, TOWNSHIP, False),
        (Role.LEADER, COUNTY, True),
        (Role.LEADER, VILLAGE, False),
        (Role.TOWNSHIP, TOWNSHIP, True),
        (Role.TOWNSHIP, COUNTY, False),
        (Role.VILLAGE, VILLAGE, True),
        (Role.VILLAGE, LEVEL3, False),
        (Role.GRID, LEVEL3, True),
        (Role.GRID, LEVEL3[:15], True),
        (Role.GRID, VILLAGE, False),
        (Role.GRID, "", False),
        (Role.PLANNER, COUNTY, True),
        (Role.PLANNER, VILLAGE, True),
        (Role.PLANNER, LEVEL3, False),
        (Role.VIEWER, TOWNSHIP, True),
        (Role.VIEWER, LEVEL3, False),
        (Role.VILLAGE, "4306231012", False),  # no length of the hierarchy
        (Role.VILLAGE, "43062310120x", False),
    ],
)
def test_the_area_fits_the_role(ledger: Ledger, role: Role, area: str, ok: bool) -> None:
    if ok:
        assert add(ledger, role=role, area=area).area == area
    else:
        with pytest.raises(ConfigError):
            add(ledger, role=role, area=area)
        assert ledger.accounts() == []


def test_a_grid_worker_may_be_linked_by_phone_too(ledger: Ledger) -> None:
    account = add(ledger, role=Role.GRID, area=LEVEL3, phone="100-1234 5678")
    assert (account.area, account.phone) == (LEVEL3, "10012345678")
    with pytest.raises(ConfigError):
        add(ledger, "wang.fang", role=Role.GRID, area="", phone="10012345678")


@pytest.mark.parametrize(("role", "area", "phone"), [(Role.VILLAGE, VILLAGE, "10012345678"),
                                                     (Role.GRID, LEVEL3, "12")])  # fmt: skip
def test_a_phone_only_for_grid_workers_and_only_a_phone(
    ledger: Ledger, role: Role, area: str, phone: str
) -> None:
    with pytest.raises(ConfigError):
        add(ledger, role=role, area=area, phone=phone)


def test_an_unknown_role_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="admin, leader"):
        accounts.parse_role("chief")


def test_set_role_changes_role_and_area_and_ends_sessions(ledger: Ledger) -> None:
    add(ledger, role=Role.GRID, area=LEVEL3, phone="10012345678")
    signed = accounts.sign_in(ledger, "li.ming", PASSWORD, address="10.0.0.5", settings=SETTINGS)
    changed = accounts.set_role(ledger, "li.ming", role=Role.GRID, area=LEVEL3[:15], actor="a")
    assert changed.phone == "10012345678"  # kept for a grid worker when not given
    assert accounts.caller_from_session(ledger, signed.cookie_value, address=None) is None
    changed = accounts.set_role(ledger, "li.ming", role=Role.TOWNSHIP, area=TOWNSHIP, actor="a")
    assert (changed.role, changed.area, changed.phone) == (Role.TOWNSHIP, TOWNSHIP, None)
    entry = audit(ledger, action="account_change")[-1].entry
    assert entry.target == "li.ming" and entry.actor == "a"
    assert entry.detail["role"] == ["grid", "township"]
    with pytest.raises(NotFoundError):
        accounts.set_role(ledger, "nobody", role=Role.VIEWER, area=COUNTY, actor="a")
    with pytest.raises(ConfigError):
        accounts.set_role(ledger, "li.ming", role=Role.TOWNSHIP, area=VILLAGE, actor="a")


def test_has_enabled_admin(ledger: Ledger) -> None:
    assert not accounts.has_enabled_admin(ledger)
    add(ledger, "root", role=Role.ADMIN, area=COUNTY)
    assert accounts.has_enabled_admin(ledger)
    accounts.set_disabled(ledger, "root", disabled=True, actor="a")
    assert not accounts.has_enabled_admin(ledger)


# --- sign-in -----------------------------------------------------------------------------------


def test_sign_in_opens_a_session_stored_by_its_hash(any_ledger: Ledger) -> None:
    ledger = any_ledger
    account = add(ledger)
    signed = accounts.sign_in(ledger, "li.ming", PASSWORD, address="10.0.0.5", settings=SETTINGS)
    assert signed.max_age == 8 * 3600
    assert signed.caller.account.id == account.id and signed.caller.via == "session"
    cookie = signed.cookie_value
    assert len(cookie) >= 43
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    assert ledger.session(cookie) is None
    stored = ledger.session(digest)
    assert stored is not None and stored.account_id == account.id
    assert stored.csrf_token and stored.csrf_token != cookie
    assert signed.caller.session is not None
    assert signed.caller.session.csrf_token == stored.csrf_token
    caller = accounts.caller_from_session(ledger, cookie, address="10.0.0.6", settings=SETTINGS)
    assert caller is not None
    assert (caller.account.username, caller.address, caller.info.label_zh) == (
        "li.ming", "10.0.0.6", "村（社区）书记",
    )  # fmt: skip
    assert accounts.caller_from_session(ledger, cookie + "x", address=None) is None
    assert accounts.caller_from_session(ledger, "", address=None) is None
    [entry] = [r.entry for r in audit(ledger, action="sign_in")]
    assert (entry.outcome, entry.actor, entry.role, entry.address) == (
        "ok", "li.ming", "village", "10.0.0.5",
    )  # fmt: skip


@pytest.mark.parametrize("case", ["wrong password", "unknown user", "disabled", "bad name"])
def test_every_failed_sign_in_says_the_same_and_is_audited(any_ledger: Ledger, case: str) -> None:
    ledger = any_ledger
    add(ledger)
    username, password = "li.ming", PASSWORD
    if case == "wrong password":
        password = "Dongting-lake-43"
    elif case == "unknown user":
        username = "wang.fang"
    elif case == "disabled":
        accounts.set_disabled(ledger, "li.ming", disabled=True, actor="a")
    else:
        username = "Li Ming <script>"
    with pytest.raises(AuthenticationError) as caught:
        accounts.sign_in(ledger, username, password, address="10.0.0.7", settings=SETTINGS)
    assert not isinstance(caught.value, RateLimitedError)
    assert str(caught.value) == "用户名或密码错误 / wrong username or password"
    [entry] = [r.entry for r in audit(ledger, action="sign_in")]
    assert (entry.outcome, entry.actor, entry.address) == ("failed", username, "10.0.0.7")
    assert password not in repr(entry)


def test_the_limit_per_account_holds_before_the_password_is_checked(any_ledger: Ledger) -> None:
    ledger = any_ledger
    add(ledger)
    add(ledger, "wang.fang")
    for i in range(3):
        with pytest.raises(AuthenticationError):
            accounts.sign_in(ledger, "li.ming", f"wrong-{i}-pass", address=f"10.0.1.{i}",
                             settings=SETTINGS)  # fmt: skip
    # the right password now is refused too, from yet another address: the account is limited
    with pytest.raises(RateLimitedError) as caught:
        accounts.sign_in(ledger, "li.ming", PASSWORD, address="10.0.1.9", settings=SETTINGS)
    assert 0 < caught.value.retry_after <= 15 * 60
    assert "用户名或密码错误" not in str(caught.value)
    entries = [r.entry for r in audit(ledger, action="sign_in")]
    assert [e.outcome for e in entries] == ["failed"] * 3 + ["denied"]
    assert entries[-1].actor == "li.ming"
    # another account is not limited, and after the window the account signs in again
    assert accounts.sign_in(ledger, "wang.fang", PASSWORD, address="10.0.1.9", settings=SETTINGS)
    after = later(16)
    assert accounts.sign_in(
        ledger, "li.ming", PASSWORD, address="10.0.1.9", settings=SETTINGS, now=after
    )


def test_the_limit_per_address_counts_every_username(any_ledger: Ledger) -> None:
    ledger = any_ledger
    add(ledger)
    for i in range(5):  # different names, one address: no account reaches its own limit
        with pytest.raises(AuthenticationError):
            accounts.sign_in(ledger, f"guess{i}", "Wrong-password-1", address="10.9.9.9",
                             settings=SETTINGS)  # fmt: skip
    with pytest.raises(RateLimitedError):
        accounts.sign_in(ledger, "li.ming", PASSWORD, address="10.9.9.9", settings=SETTINGS)
    assert accounts.sign_in(ledger, "li.ming", PASSWORD, address="10.9.9.8", settings=SETTINGS)
    denied = [r.entry for r in audit(ledger, outcome="denied")]
    assert [(e.action, e.actor, e.address) for e in denied] == [("sign_in", "li.ming", "10.9.9.9")]


def test_the_limit_comes_from_the_settings(ledger: Ledger) -> None:
    add(ledger)
    lenient = SETTINGS.model_copy(update={"max_failures_per_account": 5})
    for _ in range(4):
        with pytest.raises(AuthenticationError):
            accounts.sign_in(ledger, "li.ming", "Wrong-password", address=None, settings=lenient)
    assert accounts.sign_in(ledger, "li.ming", PASSWORD, address=None, settings=lenient)
    with pytest.raises(RateLimitedError):
        accounts.sign_in(ledger, "li.ming", PASSWORD, address=None, settings=SETTINGS)


# --- sessions ----------------------------------------------------------------------------------


def test_a_session_ends_at_its_absolute_end(ledger: Ledger) -> None:
    add(ledger)
    short = SETTINGS.model_copy(update={"session_hours": 1.0, "idle_minutes": 600.0})
    signed = accounts.sign_in(ledger, "li.ming", PASSWORD, address=None, settings=short)
    cookie = signed.cookie_value
    assert accounts.caller_from_session(ledger, cookie, address=None, settings=short,
                                        now=later(59)) is not None  # fmt: skip
    assert accounts.caller_from_session(ledger, cookie, address=None, settings=short,
                                        now=later(61)) is None  # fmt: skip


def test_a_session_ends_when_idle_and_use_moves_the_idle_end(ledger: Ledger) -> None:
    add(ledger)
    signed = accounts.sign_in(ledger, "li.ming", PASSWORD, address=None, settings=SETTINGS)
    cookie = signed.cookie_value
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    first = ledger.session(digest)
    assert first is not None
    # within a minute of the last write nothing is written
    soon = first.last_seen_at + dt.timedelta(seconds=30)
    assert accounts.caller_from_session(ledger, cookie, address=None, settings=SETTINGS, now=soon)
    assert ledger.session(digest) == first
    # used after 29 minutes: the idle end moves, so 58 minutes after sign-in it still stands
    at29 = first.last_seen_at + dt.timedelta(minutes=29)
    caller = accounts.caller_from_session(ledger, cookie, address=None, settings=SETTINGS, now=at29)
    assert caller is not None and caller.session is not None
    assert caller.session.last_seen_at == at29
    touched = ledger.session(digest)
    assert touched is not None and touched.last_seen_at == at29
    at58 = first.last_seen_at + dt.timedelta(minutes=58)
    assert accounts.caller_from_session(ledger, cookie, address=None, settings=SETTINGS, now=at58)
    # then 31 idle minutes: gone
    at89 = at58 + dt.timedelta(minutes=31)
    assert (
        accounts.caller_from_session(ledger, cookie, address=None, settings=SETTINGS, now=at89)
        is None
    )


def test_an_untouched_session_ends_after_the_idle_time(ledger: Ledger) -> None:
    add(ledger)
    cookie = accounts.sign_in(ledger, "li.ming", PASSWORD, address=None,
                              settings=SETTINGS).cookie_value  # fmt: skip
    assert accounts.caller_from_session(ledger, cookie, address=None, settings=SETTINGS,
                                        now=later(31)) is None  # fmt: skip


def test_a_new_password_ends_the_sessions_before_it(ledger: Ledger) -> None:
    add(ledger)
    cookie = accounts.sign_in(ledger, "li.ming", PASSWORD, address=None,
                              settings=SETTINGS).cookie_value  # fmt: skip
    account, new = accounts.reset_password(
        ledger, "li.ming", password=None, actor="cli:tester", settings=SETTINGS
    )
    assert account.password_changed_at >= account.created_at
    assert accounts.caller_from_session(ledger, cookie, address=None, settings=SETTINGS) is None
    with pytest.raises(AuthenticationError):
        accounts.sign_in(ledger, "li.ming", PASSWORD, address=None, settings=SETTINGS)
    fresh = accounts.sign_in(ledger, "li.ming", new, address=None, settings=SETTINGS)
    assert accounts.caller_from_session(ledger, fresh.cookie_value, address=None) is not None
    entry = audit(ledger, action="password_reset")[-1].entry
    assert entry.target == "li.ming" and new not in repr(entry)
    with pytest.raises(ValidationError):
        accounts.reset_password(ledger, "li.ming", password="short", actor="a", settings=SETTINGS)
    with pytest.raises(NotFoundError):
        accounts.reset_password(ledger, "nobody", password=None, actor="a", settings=SETTINGS)


def test_disabling_ends_sessions_and_enabling_does_not_revive_them(ledger: Ledger) -> None:
    add(ledger)
    cookie = accounts.sign_in(ledger, "li.ming", PASSWORD, address=None,
                              settings=SETTINGS).cookie_value  # fmt: skip
    assert accounts.set_disabled(ledger, "li.ming", disabled=True, actor="a").disabled
    assert accounts.caller_from_session(ledger, cookie, address=None, settings=SETTINGS) is None
    assert not accounts.set_disabled(ledger, "li.ming", disabled=False, actor="a").disabled
    assert accounts.caller_from_session(ledger, cookie, address=None, settings=SETTINGS) is None
    assert accounts.sign_in(ledger, "li.ming", PASSWORD, address=None, settings=SETTINGS)


def test_sign_out_ends_the_session(ledger: Ledger) -> None:
    add(ledger)
    signed = accounts.sign_in(ledger, "li.ming", PASSWORD, address="10.0.0.5", settings=SETTINGS)
    other = accounts.sign_in(ledger, "li.ming", PASSWORD, address="10.0.0.5", settings=SETTINGS)
    accounts.sign_out(ledger, signed.caller, cookie_value=signed.cookie_value)
    assert accounts.caller_from_session(ledger, signed.cookie_value, address=None) is None
    assert accounts.caller_from_session(ledger, other.cookie_value, address=None) is not None
    [entry] = [r.entry for r in audit(ledger, action="sign_out")]
    assert (entry.actor, entry.address) == ("li.ming", "10.0.0.5")
    # a cookie that is not the caller's own session ends nothing
    accounts.sign_out(ledger, signed.caller, cookie_value=other.cookie_value)
    assert accounts.caller_from_session(ledger, other.cookie_value, address=None) is not None


# --- API tokens --------------------------------------------------------------------------------


def test_a_token_is_shown_once_stored_hashed_and_names_its_caller(ledger: Ledger) -> None:
    account = add(ledger)
    record, value = accounts.create_token(
        ledger, account, name="nightly export", days=None, actor="cli:tester", settings=SETTINGS
    )
    assert re.fullmatch(r"ggt_[A-Za-z0-9_-]{43}", value)
    assert record.prefix == value[:12] and record.name == "nightly export"
    assert record.token_hash == hashlib.sha256(value.encode()).hexdigest()
    assert ledger.token(value) is None
    assert record.expires_at is not None
    assert record.expires_at - record.created_at == dt.timedelta(days=30)
    caller = accounts.caller_from_token(ledger, value, address="10.0.0.8")
    assert caller is not None
    assert (caller.account.username, caller.via, caller.session, caller.address) == (
        "li.ming", "token", None, "10.0.0.8",
    )  # fmt: skip
    used = ledger.token(record.token_hash)
    assert used is not None and used.last_used_at is not None
    entry = audit(ledger, action="token_create")[-1].entry
    assert entry.target == "li.ming" and value not in repr(entry)
    for wrong in ("", value[:-1], "ggt_" + "A" * 43, value[4:], "Bearer " + value):
        assert accounts.caller_from_token(ledger, wrong, address=None) is None


def test_revoked_expired_and_disabled_tokens_give_no_caller(ledger: Ledger) -> None:
    account = add(ledger)
    revoked, revoked_value = accounts.create_token(ledger, account, name="a", days=None,
                                                   actor="x", settings=SETTINGS)  # fmt: skip
    assert accounts.revoke_token(ledger, revoked.id, actor="x").revoked_at is not None
    assert accounts.caller_from_token(ledger, revoked_value, address=None) is None
    assert audit(ledger, action="token_revoke")[-1].entry.target == f"token {revoked.id}"

    _, short_value = accounts.create_token(ledger, account, name="b", days=1, actor="x")
    assert accounts.caller_from_token(ledger, short_value, address=None, now=later(23 * 60))
    assert accounts.caller_from_token(ledger, short_value, address=None, now=later(25 * 60)) is None

    forever, forever_value = accounts.create_token(ledger, account, name="c", days=0, actor="x")
    assert forever.expires_at is None
    assert accounts.caller_from_token(ledger, forever_value, address=None, now=later(10**7))

    accounts.set_disabled(ledger, "li.ming", disabled=True, actor="x")
    assert accounts.caller_from_token(ledger, forever_value, address=None) is None
    disabled = ledger.account("li.ming")
    assert disabled is not None
    with pytest.raises(ForbiddenError):
        accounts.create_token(ledger, disabled, name="d", days=None, actor="x")
    with pytest.raises(NotFoundError):
        accounts.revoke_token(ledger, 999_999, actor="x")


@pytest.mark.parametrize(("name", "days"), [("", None), (" ", None), ("x" * 65, None), ("a", -1)])
def test_a_token_needs_a_name_and_days_of_zero_or_more(
    ledger: Ledger, name: str, days: int | None
) -> None:
    account = add(ledger)
    with pytest.raises(ConfigError):
        accounts.create_token(ledger, account, name=name, days=days, actor="x")
    assert ledger.tokens() == []


# --- the audit helper and secrets --------------------------------------------------------------


def test_record_access_names_the_caller(ledger: Ledger) -> None:
    add(ledger)
    caller = accounts.sign_in(ledger, "li.ming", PASSWORD, address="10.0.0.5",
                              settings=SETTINGS).caller  # fmt: skip
    accounts.record_access(ledger, caller, "households_read", target="H1,H2", reason="走访",
                           detail={"layer": "households"})  # fmt: skip
    accounts.record_access(ledger, None, "denied", outcome="denied", target="/api/x",
                           address="10.0.0.66")  # fmt: skip
    read, denied = [r.entry for r in audit(ledger)][-2:]
    assert (read.action, read.actor, read.role, read.address, read.target, read.reason) == (
        "households_read", "li.ming", "village", "10.0.0.5", "H1,H2", "走访",
    )  # fmt: skip
    assert read.detail == {"layer": "households"}
    assert (denied.actor, denied.outcome, denied.address) == (None, "denied", "10.0.0.66")


def test_no_secret_reaches_the_audit_log_or_the_log(
    ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    account = add(ledger)
    signed = accounts.sign_in(ledger, "li.ming", PASSWORD, address=None, settings=SETTINGS)
    with pytest.raises(AuthenticationError):
        accounts.sign_in(ledger, "li.ming", "Not-the-password-7", address=None, settings=SETTINGS)
    _, token = accounts.create_token(ledger, account, name="t", days=None, actor="x")
    accounts.caller_from_token(ledger, token, address=None)
    _, new = accounts.reset_password(ledger, "li.ming", password=None, actor="x")
    accounts.sign_out(ledger, signed.caller, cookie_value=signed.cookie_value)
    session = signed.caller.session
    assert session is not None
    secrets_ = [PASSWORD, "Not-the-password-7", token, new, signed.cookie_value, session.csrf_token]
    written = repr(audit(ledger)) + caplog.text
    assert len(audit(ledger)) >= 6
    for secret in secrets_:
        assert secret not in written
