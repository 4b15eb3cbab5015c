"""Accounts, passwords, sessions, API tokens and the audit helper: who is asking, proven.

Everything that decides about a person's access lives here; the store's
:class:`~gisgrid.stores.ledger.Ledger` only loads and saves. Passwords are hashed with
Argon2id (pwdlib); sessions and API tokens are random values of which only the SHA-256 is
stored. A password or a token value is never logged, audited or put in an exception message.

Sign-in failures are counted from the audit log itself (action ``sign_in``, outcome
``failed``), per username typed and per address, so the limit holds across server processes
and restarts and needs no table of its own.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import cache
from typing import Literal

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError

from gisgrid import codes
from gisgrid.analysis.cases import PUBLIC_REPORTER
from gisgrid.analysis.scope import phone_digits
from gisgrid.errors import (
    AuthenticationError,
    ConfigError,
    ForbiddenError,
    NotFoundError,
    Problem,
    RateLimitedError,
    StoreConstraintError,
    ValidationError,
)
from gisgrid.roles import ROLES, Role, RoleInfo, area_kind
from gisgrid.settings import AuthSettings
from gisgrid.stores.ledger import (
    Account,
    AccountChanges,
    AuditEntry,
    AuditQuery,
    AuditRecord,
    Ledger,
    NewAccount,
    NewToken,
    Outcome,
    SessionRecord,
    TokenRecord,
)

SESSION_COOKIE = "gisgrid_session"
#: API token values look like ``ggt_`` and 43 URL-safe characters
TOKEN_PREFIX = "ggt_"
#: characters of a token value kept (as :attr:`TokenRecord.prefix`) to tell tokens apart
TOKEN_PREFIX_LENGTH = 12

#: what every failed sign-in says, whatever failed (unknown name, password, disabled)
WRONG_CREDENTIALS = "用户名或密码错误 / wrong username or password"

USERNAME_PATTERN = r"[a-z0-9_.-]{3,32}"
#: names no account may take: the actor of the steps residents take through the public form
RESERVED_USERNAMES = frozenset({PUBLIC_REPORTER})
_USERNAME = re.compile(USERNAME_PATTERN)
#: a username typed at sign-in is audited as typed, but no longer than this
_ACTOR_CHARS = 64
#: the longest password hashed (Argon2 takes any length; this bounds the work of one request)
MAX_PASSWORD_LENGTH = 256
MAX_NAME_LENGTH = 64
#: a session's idle end (and a token's last use) is written at most this often
TOUCH_INTERVAL = dt.timedelta(minutes=1)
#: generated passwords: letters and digits that cannot be mistaken for one another
_READABLE = "abcdefghjkmnpqrstuvwxyz23456789"
_GROUPS, _GROUP_CHARS = 4, 5


@dataclass(frozen=True)
class Caller:
    """Who is asking: a signed-in account, by a browser session or an API token."""

    account: Account
    via: Literal["session", "token"]
    #: the session (its ``csrf_token`` is what state-changing requests carry); ``None`` for a token
    session: SessionRecord | None
    address: str | None

    @property
    def info(self) -> RoleInfo:
        """What the account's role is and may do."""
        return ROLES[self.account.role]


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: the caller and the cookie that carries the session."""

    caller: Caller
    #: the session token, to put in the cookie (the only place it ever is)
    cookie_value: str
    #: seconds the cookie lives
    max_age: int


# --- time and hashing --------------------------------------------------------------------------


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def _settings(settings: AuthSettings | None) -> AuthSettings:
    return settings if settings is not None else AuthSettings()


def secret_hash(value: str) -> str:
    """The SHA-256 (hex) of a session or token value: what the ledger stores and looks up."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@cache
def _hasher() -> PasswordHash:
    return PasswordHash.recommended()  # Argon2id with the library's current parameters


@cache
def _dummy_hash() -> str:
    """A hash to verify against when the username is unknown, so the answer takes as long."""
    return _hasher().hash(secrets.token_urlsafe(16))


# --- passwords ---------------------------------------------------------------------------------


def generate_password() -> str:
    """A new random password that is easy to read out and type: four groups of five
    characters (no 0/o, 1/l/i), about 100 bits, e.g. ``k7m2x-9pqrt-…``."""
    groups = (
        "".join(secrets.choice(_READABLE) for _ in range(_GROUP_CHARS)) for _ in range(_GROUPS)
    )
    return "-".join(groups)


def _character_classes(password: str) -> int:
    classes = set()
    for ch in password:
        if ch.isdigit():
            classes.add("digit")
        elif ch.isalpha() and ch.isascii():
            classes.add("upper" if ch.isupper() else "lower")
        else:
            classes.add("other")
    return len(classes)


def password_problems(
    password: str, *, username: str | None = None, settings: AuthSettings | None = None
) -> list[str]:
    """What the password policy finds wrong with ``password`` (empty: acceptable).

    The messages never quote the password.
    """
    minimum = _settings(settings).min_password_length
    problems = []
    if len(password) < minimum:
        problems.append(f"密码至少 {minimum} 个字符 / a password has at least {minimum} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(
            f"密码至多 {MAX_PASSWORD_LENGTH} 个字符 / "
            f"a password has at most {MAX_PASSWORD_LENGTH} characters"
        )
    if password and _character_classes(password) < 2:
        problems.append(
            "密码不能只由一类字符组成（如全是数字）/ a password mixes at least two kinds of "
            "characters (lower case, upper case, digits, others)"
        )
    if username and username.lower() in password.lower():
        problems.append("密码不能包含用户名 / a password must not contain the username")
    return problems


def hash_password(
    password: str, *, settings: AuthSettings | None = None, username: str | None = None
) -> str:
    """The Argon2id hash of ``password`` once it meets the policy.

    Raises
    ------
    ValidationError
        The password is too short or too long, of one kind of character only, or holds
        the username.
    """
    problems = password_problems(password, username=username, settings=settings)
    if problems:
        raise ValidationError(
            "password", [Problem(None, None, "password", message) for message in problems]
        )
    return _hasher().hash(password)


def _verify(password: str, password_hash: str) -> bool:
    try:
        return _hasher().verify(password, password_hash)
    except UnknownHashError:  # a hash of no known scheme matches no password
        return False


# --- checks of what an account is made of ------------------------------------------------------


def check_username(username: str) -> str:
    """``username`` if it is 3–32 characters of a–z, 0–9, ``_ . -`` and not reserved
    (:data:`RESERVED_USERNAMES`); ConfigError otherwise."""
    if not _USERNAME.fullmatch(username):
        raise ConfigError(
            f"用户名须为 3–32 个小写字母、数字或 _ . - / a username is 3-32 characters of "
            f"a-z, 0-9, _ . - (not {username[:_ACTOR_CHARS]!r})"
        )
    if username in RESERVED_USERNAMES:
        raise ConfigError(
            f"用户名“{username}”为系统保留（群众上报） / the username {username!r} is reserved "
            "(the actor of residents' reports)"
        )
    return username


def normalise_phone(phone: str) -> str:
    """The digits of a phone number (how grids' ``responsible_phone`` is compared).

    Raises
    ------
    ConfigError
        Fewer than 7 or more than 15 digits: no phone number.
    """
    digits = phone_digits(phone)
    if not 7 <= len(digits) <= 15:
        raise ConfigError(f"电话号码无效 / {phone!r} is no phone number (7-15 digits)")
    return digits


def check_area(role: Role, area: str) -> str:
    """``area`` if it is a well-formed code of a kind the role may be given.

    A grid worker's area is a level-2 or level-3 grid; a phone given besides links them to
    the grids whose responsible person has it (reassigning those grids moves that access).

    Raises
    ------
    ConfigError
        A malformed code, or a kind of area the role does not take (a grid worker needs a
        grid, a township officer a township, …).
    """
    try:
        codes.kind_of(area)
    except ValueError:
        raise ConfigError(
            f"区域编码无效 / {area!r} is no county (6 digits), township (9), village (12) "
            "or grid (15/18) code"
        ) from None
    info = ROLES[role]
    kind = area_kind(area)
    if kind not in info.areas:
        raise ConfigError(
            f"{info.label_zh}的区域须为 {'、'.join(info.areas)} / a {role.value} account's "
            f"area is a {' or '.join(info.areas)} code, not a {kind} code ({area})"
        )
    return area


def parse_role(role: Role | str) -> Role:
    """The role named ``role``; ConfigError naming the roles otherwise."""
    try:
        return Role(role)
    except ValueError:
        raise ConfigError(
            f"未知角色 / unknown role {role!r}: one of {', '.join(r.value for r in Role)}"
        ) from None


def _phone_for(role: Role, phone: str | None) -> str | None:
    """The normalised phone of an account of ``role`` (only a grid worker's links grids)."""
    if phone is None or phone == "":
        return None
    if role != Role.GRID:
        raise ConfigError(
            "只有网格员账户可关联电话 / only a grid worker's account is linked to grids by phone"
        )
    return normalise_phone(phone)


def _display_name(display_name: str, username: str) -> str:
    name = display_name.strip() or username
    if len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"显示名过长 / a display name has at most {MAX_NAME_LENGTH} characters")
    return name


def _account(ledger: Ledger, username: str) -> Account:
    account = ledger.account(username)
    if account is None:
        raise NotFoundError(f"没有账户 / no account {username!r}")
    return account


def _entry(
    action: str,
    *,
    at: dt.datetime,
    actor: str | None,
    address: str | None,
    outcome: Outcome = "ok",
    role: str | None = None,
    target: str | None = None,
    reason: str | None = None,
    detail: Mapping[str, object] | None = None,
) -> AuditEntry:
    return AuditEntry(
        action=action,
        outcome=outcome,
        at=at,
        actor=actor,
        role=role,
        address=address,
        target=target,
        reason=reason,
        detail=dict(detail or {}),
    )


# --- accounts ----------------------------------------------------------------------------------


def add_account(
    ledger: Ledger,
    *,
    username: str,
    display_name: str,
    role: Role,
    area: str,
    password: str,
    phone: str | None = None,
    actor: str | None,
    address: str | None = None,
    settings: AuthSettings | None = None,
) -> Account:
    """Add an account (audited as ``account_add``).

    Raises
    ------
    ConfigError
        A bad username, role, area for the role, phone or display name.
    ValidationError
        The password does not meet the policy.
    StoreConstraintError
        The username is taken.
    """
    username = check_username(username)
    role = parse_role(role)
    area = check_area(role, area)
    phone = _phone_for(role, phone)
    name = _display_name(display_name, username)
    if ledger.account(username) is not None:  # the ledger's unique key still decides a race
        raise StoreConstraintError(f"用户名已被占用 / the username {username!r} is already taken")
    password_hash = hash_password(password, settings=settings, username=username)
    now = _now(None)
    return ledger.add_account(
        NewAccount(
            username=username,
            display_name=name,
            role=role,
            area=area,
            password_hash=password_hash,
            phone=phone,
        ),
        audit=_entry(
            "account_add",
            at=now,
            actor=actor,
            address=address,
            target=username,
            detail={"role": role.value, "area": area, "phone_linked": phone is not None},
        ),
    )


def set_role(
    ledger: Ledger,
    username: str,
    *,
    role: Role,
    area: str,
    phone: str | None = None,
    actor: str | None,
    address: str | None = None,
) -> Account:
    """Give an account another role and area (audited; its sessions end).

    ``phone`` links a grid worker to the grids whose responsible person has it; ``None``
    keeps a grid worker's phone, ``""`` removes it; any other role has none.
    """
    role = parse_role(role)
    area = check_area(role, area)
    before = _account(ledger, username)
    new_phone = _phone_for(role, phone)
    if new_phone is None:
        keep = role == Role.GRID and phone is None
        new_phone = before.phone if keep else None
    changes = AccountChanges(role=role, area=area, phone=new_phone or "")
    return ledger.change_account(
        username,
        changes,
        audit=_entry(
            "account_change",
            at=_now(None),
            actor=actor,
            address=address,
            target=username,
            detail={
                "role": [before.role.value, role.value],
                "area": [before.area, area],
                "phone_linked": [before.phone is not None, new_phone is not None],
            },
        ),
        end_sessions=True,
    )


def set_disabled(
    ledger: Ledger,
    username: str,
    *,
    disabled: bool,
    actor: str | None,
    address: str | None = None,
) -> Account:
    """Disable an account (its sessions end, its tokens stop working) or enable it again."""
    _account(ledger, username)
    return ledger.change_account(
        username,
        AccountChanges(disabled=disabled),
        audit=_entry(
            "account_change",
            at=_now(None),
            actor=actor,
            address=address,
            target=username,
            detail={"disabled": disabled},
        ),
        end_sessions=disabled,
    )


def reset_password(
    ledger: Ledger,
    username: str,
    *,
    password: str | None,
    actor: str | None,
    address: str | None = None,
    settings: AuthSettings | None = None,
) -> tuple[Account, str]:
    """Set a new password (generated when ``password`` is ``None``); the account's
    sessions end. Returns the account and the password (to show once)."""
    _account(ledger, username)
    new = generate_password() if password is None else password
    password_hash = hash_password(new, settings=settings, username=username)
    account = ledger.change_account(
        username,
        AccountChanges(password_hash=password_hash),
        audit=_entry(
            "password_reset",
            at=_now(None),
            actor=actor,
            address=address,
            target=username,
            detail={"generated": password is None},
        ),
        end_sessions=True,
    )
    return account, new


def check_own_change(
    actor: Account, username: str, *, role: Role | None = None, disabled: bool | None = None
) -> None:
    """Refuse an admin taking their own access away on the web (disabling their account or
    giving it another role): they would lose the page in mid-work, and could leave the county
    without an admin. Another admin, or ``gisgrid users`` on the server, does it.

    Raises
    ------
    ConfigError
        ``username`` is the actor's own and the change takes their access away.
    """
    if actor.username == username and (disabled or (role is not None and role != actor.role)):
        raise ConfigError(
            "不能停用自己的账户或更改自己的角色，请由另一位管理员操作 / you cannot disable "
            "your own account or change your own role: another admin can"
        )


def list_accounts(ledger: Ledger) -> list[Account]:
    """Every account, by username."""
    return ledger.accounts()


def get_account(ledger: Ledger, username: str) -> Account:
    """The account named ``username``; NotFoundError when there is none."""
    return _account(ledger, username)


def has_enabled_admin(ledger: Ledger) -> bool:
    """Whether some enabled account is an admin (``gisgrid serve`` beyond loopback needs one)."""
    return any(a.role == Role.ADMIN and not a.disabled for a in ledger.accounts())


# --- sign-in and sessions ----------------------------------------------------------------------


def retry_after(
    ledger: Ledger,
    *,
    action: str,
    outcome: Outcome,
    since: dt.datetime,
    window: dt.timedelta,
    now: dt.datetime,
    excess: int,
    actor: str | None = None,
    address: str | None = None,
) -> int:
    """Seconds until so many audited ``action`` entries with ``outcome`` (since ``since``)
    have left the window that one more is allowed: the ``Retry-After`` of every limit
    counted from the audit log (failed sign-ins, residents' reports)."""
    counted = ledger.audit(
        AuditQuery(
            since=since,
            actor=actor,
            address=address,
            action=action,
            outcome=outcome,
            newest_first=False,
            limit=excess,
        )
    )
    if len(counted) < excess:
        return 1
    leaves = counted[-1].entry.at + window
    return max(1, math.ceil((leaves - now).total_seconds()))


def _rate_limit(
    ledger: Ledger, actor: str, address: str | None, *, settings: AuthSettings, now: dt.datetime
) -> None:
    """Refuse (audited as ``denied``) when the account or the address failed too often."""
    window = dt.timedelta(minutes=settings.failure_window_minutes)
    since = now - window
    # the account's failures, and the address's (when known): each against its own limit
    limits: list[tuple[int, dict[str, str]]] = [
        (settings.max_failures_per_account, {"actor": actor})
    ]
    if address is not None:
        limits.append((settings.max_failures_per_address, {"address": address}))
    waits = []
    for limit, who in limits:
        failed = ledger.count_audit(action="sign_in", outcome="failed", since=since, **who)
        if failed >= limit:
            waits.append(
                retry_after(
                    ledger,
                    action="sign_in",
                    outcome="failed",
                    since=since,
                    window=window,
                    now=now,
                    excess=failed - limit + 1,
                    **who,
                )
            )
    if waits:
        ledger.append_audit(
            _entry(
                "sign_in",
                at=now,
                actor=actor,
                address=address,
                outcome="denied",
                detail={"why": "rate_limited"},
            )
        )
        wait = max(waits)
        raise RateLimitedError(
            f"登录失败次数过多，请 {math.ceil(wait / 60)} 分钟后再试 / too many failed sign-ins: "
            f"try again in {wait} s",
            retry_after=wait,
        )


def sign_in(
    ledger: Ledger,
    username: str,
    password: str,
    *,
    address: str | None,
    settings: AuthSettings | None = None,
    now: dt.datetime | None = None,
) -> SignedIn:
    """Check a username and password and open a session (every attempt is audited).

    The rate limit is checked before the password, and an unknown username costs as much
    time as a known one. An unknown name, a wrong password and a disabled account all give
    the same :class:`AuthenticationError`.

    Raises
    ------
    RateLimitedError
        Too many failed attempts for this username or from this address lately.
    AuthenticationError
        The username and password do not open an enabled account.
    """
    settings = _settings(settings)
    now = _now(now)
    actor = username[:_ACTOR_CHARS]
    _rate_limit(ledger, actor, address, settings=settings, now=now)
    known = (
        _USERNAME.fullmatch(username) is not None
        and username not in RESERVED_USERNAMES
        and len(password) <= MAX_PASSWORD_LENGTH
    )
    account = ledger.account(username) if known else None
    if account is None:
        _verify(password[:MAX_PASSWORD_LENGTH], _dummy_hash())
        why = "unknown_user"
    elif not _verify(password, account.password_hash):
        why = "wrong_password"
    elif account.disabled:
        why = "disabled"
    else:
        why = ""
    if account is None or why:
        ledger.append_audit(
            _entry(
                "sign_in",
                at=now,
                actor=actor,
                address=address,
                outcome="failed",
                role=account.role.value if account is not None else None,
                detail={"why": why},
            )
        )
        raise AuthenticationError(WRONG_CREDENTIALS)
    cookie_value = secrets.token_urlsafe(32)
    lifetime = dt.timedelta(hours=settings.session_hours)
    session = SessionRecord(
        token_hash=secret_hash(cookie_value),
        account_id=account.id,
        csrf_token=secrets.token_urlsafe(32),
        created_at=now,
        expires_at=now + lifetime,
        last_seen_at=now,
        address=address,
    )
    ledger.add_session(
        session,
        audit=_entry(
            "sign_in", at=now, actor=account.username, address=address, role=account.role.value
        ),
    )
    return SignedIn(
        caller=Caller(account=account, via="session", session=session, address=address),
        cookie_value=cookie_value,
        max_age=int(lifetime.total_seconds()),
    )


def session_is_open(
    session: SessionRecord, account: Account, *, settings: AuthSettings, now: dt.datetime
) -> bool:
    """Whether a session still stands: not ended, not past its absolute or idle end, its
    account enabled and its password unchanged since the session began."""
    idle_end = session.last_seen_at + dt.timedelta(minutes=settings.idle_minutes)
    return (
        session.ended_at is None
        and now < session.expires_at
        and now < idle_end
        and not account.disabled
        and account.password_changed_at <= session.created_at
    )


def caller_from_session(
    ledger: Ledger,
    cookie_value: str,
    *,
    address: str | None,
    settings: AuthSettings | None = None,
    now: dt.datetime | None = None,
    deferred: list[Callable[[], None]] | None = None,
) -> Caller | None:
    """The caller a session cookie stands for, or ``None`` (unknown, ended, expired, idle
    too long, account disabled, password changed since). Moves the idle end (at most once
    a minute; with ``deferred``, that write is appended to it, as :func:`caller_from_token`
    does)."""
    if not cookie_value or len(cookie_value) > 128:
        return None
    settings = _settings(settings)
    now = _now(now)
    token_hash = secret_hash(cookie_value)
    session = ledger.session(token_hash)
    if session is None:
        return None
    account = ledger.account_by_id(session.account_id)
    if account is None or not session_is_open(session, account, settings=settings, now=now):
        return None
    if now - session.last_seen_at >= TOUCH_INTERVAL:
        _write(functools.partial(ledger.touch_session, token_hash, seen_at=now), deferred)
        session = SessionRecord(
            token_hash=session.token_hash,
            account_id=session.account_id,
            csrf_token=session.csrf_token,
            created_at=session.created_at,
            expires_at=session.expires_at,
            last_seen_at=now,
            address=session.address,
            ended_at=session.ended_at,
        )
    return Caller(account=account, via="session", session=session, address=address)


def sign_out(ledger: Ledger, caller: Caller, *, cookie_value: str) -> None:
    """End the caller's session (audited as ``sign_out``); nothing for a token's caller or
    a cookie that is not the caller's session."""
    token_hash = secret_hash(cookie_value)
    if caller.session is None or caller.session.token_hash != token_hash:
        return
    now = _now(None)
    ledger.end_session(
        token_hash,
        ended_at=now,
        audit=_entry(
            "sign_out",
            at=now,
            actor=caller.account.username,
            address=caller.address,
            role=caller.account.role.value,
        ),
    )


# --- API tokens --------------------------------------------------------------------------------


def create_token(
    ledger: Ledger,
    account: Account,
    *,
    name: str,
    days: int | None,
    actor: str | None,
    address: str | None = None,
    settings: AuthSettings | None = None,
) -> tuple[TokenRecord, str]:
    """A new API token for ``account``: its record and its value (show it once; only its
    hash is stored). ``days`` ``None`` takes ``AuthSettings.token_days``; 0 never ends.

    Raises
    ------
    ConfigError
        No name, a name too long, or negative days.
    ForbiddenError
        The account is disabled.
    """
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ConfigError(f"令牌名称须为 1–{MAX_NAME_LENGTH} 个字符 / a token needs a name")
    if days is None:
        days = _settings(settings).token_days
    if days < 0:
        raise ConfigError(f"有效天数不能为负 / --days is 0 (no end) or more, not {days}")
    if account.disabled:
        raise ForbiddenError(
            f"账户已停用 / the account {account.username!r} is disabled: it gets no token"
        )
    now = _now(None)
    value = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + dt.timedelta(days=days) if days else None
    record = ledger.add_token(
        NewToken(
            account_id=account.id,
            name=name,
            token_hash=secret_hash(value),
            prefix=value[:TOKEN_PREFIX_LENGTH],
            created_at=now,
            expires_at=expires_at,
        ),
        audit=_entry(
            "token_create",
            at=now,
            actor=actor,
            address=address,
            target=account.username,
            detail={
                "token_name": name,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        ),
    )
    return record, value


def token_is_valid(token: TokenRecord, *, now: dt.datetime) -> bool:
    """Whether a token still works: not revoked and not past its end."""
    return token.revoked_at is None and (token.expires_at is None or now < token.expires_at)


def caller_from_token(
    ledger: Ledger,
    value: str,
    *,
    address: str | None,
    now: dt.datetime | None = None,
    deferred: list[Callable[[], None]] | None = None,
) -> Caller | None:
    """The caller an API token stands for, or ``None`` (unknown, revoked, expired, account
    disabled). Records its use (at most once a minute); with ``deferred``, that write is
    appended to it for the caller to make (a web server reads on its event loop and writes
    in a thread)."""
    if not value.startswith(TOKEN_PREFIX) or len(value) > 128:
        return None
    now = _now(now)
    token = ledger.token(secret_hash(value))
    if token is None or not token_is_valid(token, now=now):
        return None
    account = ledger.account_by_id(token.account_id)
    if account is None or account.disabled:
        return None
    if token.last_used_at is None or now - token.last_used_at >= TOUCH_INTERVAL:
        _write(functools.partial(ledger.touch_token, token.id, used_at=now), deferred)
    return Caller(account=account, via="token", session=None, address=address)


def _write(write: Callable[[], None], deferred: list[Callable[[], None]] | None) -> None:
    """Make ``write`` now, or append it to ``deferred`` for the caller to make."""
    if deferred is None:
        write()
    else:
        deferred.append(write)


#: what became of a token, as :func:`token_state` tells
TokenState = Literal["valid", "revoked", "expired"]


def token_state(token: TokenRecord, *, now: dt.datetime | None = None) -> TokenState:
    """Whether a token works, was revoked, or has passed its end."""
    if token.revoked_at is not None:
        return "revoked"
    return "valid" if token_is_valid(token, now=_now(now)) else "expired"


def list_tokens(ledger: Ledger, *, owner: Account | None = None) -> list[TokenRecord]:
    """The API tokens of ``owner`` (every account's when ``None``), newest first, revoked
    ones included. Only their records: a token's value is never kept."""
    return ledger.tokens(account_id=None if owner is None else owner.id)


def revoke_token_of(
    ledger: Ledger,
    token_id: int,
    *,
    owner: Account | None,
    actor: str | None,
    address: str | None = None,
) -> TokenRecord:
    """Revoke an API token of ``owner`` (any account's when ``None``: an admin).

    Raises
    ------
    NotFoundError
        No such token, or it is not ``owner``'s (whose tokens exist is not told).
    """
    if not any(t.id == token_id for t in list_tokens(ledger, owner=owner)):
        raise NotFoundError(f"没有该令牌 / no API token {token_id}")
    return revoke_token(ledger, token_id, actor=actor, address=address)


def revoke_token(
    ledger: Ledger, token_id: int, *, actor: str | None, address: str | None = None
) -> TokenRecord:
    """Revoke an API token (audited as ``token_revoke``); NotFoundError for an unknown id."""
    now = _now(None)
    return ledger.revoke_token(
        token_id,
        revoked_at=now,
        audit=_entry(
            "token_revoke", at=now, actor=actor, address=address, target=f"token {token_id}"
        ),
    )


# --- the audit log -----------------------------------------------------------------------------


def read_audit(ledger: Ledger, query: AuditQuery) -> list[AuditRecord]:
    """The audit entries ``query`` asks for; a time without a zone (a web form's) is this
    machine's local time, as ``gisgrid audit`` takes it.

    Raises
    ------
    ConfigError
        A time out of range.
    """
    since = None if query.since is None else _aware(query.since)
    until = None if query.until is None else _aware(query.until)
    return ledger.audit(replace(query, since=since, until=until))


def _aware(moment: dt.datetime) -> dt.datetime:
    """``moment`` in UTC (no zone: this machine's); ConfigError for a time that has none in
    UTC (the first or last hours of years 1 and 9999)."""
    try:
        return (moment.astimezone() if moment.tzinfo is None else moment).astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise ConfigError(f"时间超出范围 / the time {moment.isoformat()} is out of range") from None


def record_access(
    ledger: Ledger,
    caller: Caller | None,
    action: str,
    *,
    outcome: Outcome = "ok",
    target: str | None = None,
    reason: str | None = None,
    detail: Mapping[str, object] | None = None,
    address: str | None = None,
) -> None:
    """Append one audit line for what ``caller`` did or was refused (reads of household
    records, denials). ``address`` is used when there is no caller (anonymous)."""
    ledger.append_audit(
        _entry(
            action,
            at=_now(None),
            actor=caller.account.username if caller is not None else None,
            role=caller.account.role.value if caller is not None else None,
            address=caller.address if caller is not None else address,
            outcome=outcome,
            target=target,
            reason=reason,
            detail=detail,
        )
    )


def record_action(
    ledger: Ledger,
    action: str,
    *,
    actor: str,
    target: str | None = None,
    detail: Mapping[str, object] | None = None,
) -> None:
    """Append one audit line for a change or an export made outside the web app (the
    command line: ``actor`` is ``cli:<login name>``).

    Written after the change committed: a crash in between loses the line, never the data.
    """
    ledger.append_audit(
        _entry(action, at=_now(None), actor=actor, address=None, target=target, detail=detail)
    )


__all__ = [
    "SESSION_COOKIE",
    "TOKEN_PREFIX",
    "Caller",
    "SignedIn",
    "add_account",
    "caller_from_session",
    "caller_from_token",
    "check_area",
    "check_own_change",
    "check_username",
    "create_token",
    "generate_password",
    "get_account",
    "has_enabled_admin",
    "hash_password",
    "list_accounts",
    "list_tokens",
    "normalise_phone",
    "parse_role",
    "password_problems",
    "read_audit",
    "record_access",
    "record_action",
    "reset_password",
    "revoke_token",
    "revoke_token_of",
    "set_disabled",
    "set_role",
    "sign_in",
    "sign_out",
    "token_state",
]
