"""Dependencies of the routes, in one place: who is calling and what they may see (the
one place access is enforced), the app's state, and the query parameters that several
routes share (areas by code, a bounding box)."""

from __future__ import annotations

import functools
import secrets
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from gisgrid import codes
from gisgrid.analysis.scope import RecordsRead, Scope, ScopedReader, scope_of
from gisgrid.api import policy
from gisgrid.api.logs import note_role, note_route
from gisgrid.api.state import AppState
from gisgrid.errors import (
    AuthenticationError,
    ConfigError,
    CsrfError,
    ForbiddenError,
    ReasonRequiredError,
    StoreError,
)
from gisgrid.roles import Permission
from gisgrid.services import accounts
from gisgrid.services.accounts import Caller
from gisgrid.stores.base import BBox


async def get_state(request: Request) -> AppState:
    # async: it waits for nothing (a plain def would be sent to the thread pool, at every
    # request, for one attribute)
    state: AppState = request.app.state.gisgrid
    return state


State = Annotated[AppState, Depends(get_state)]

#: methods that change nothing: no CSRF token needed
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: the longest reason for reading household records that is accepted (and recorded)
MAX_REASON = 200


@dataclass(frozen=True)
class Access:
    """Who is calling a route and what they may see (``None`` on public routes when not
    signed in)."""

    caller: Caller | None
    scope: Scope | None
    reader: ScopedReader | None
    reason: str | None
    record_reads: RecordsRead | None = None
    #: the server's data version (:attr:`AppState.version`) of the grids the scope and the
    #: reader use (read before them: they are as new as it, or newer)
    grids_version: str | None = None


@dataclass(frozen=True)
class SignedIn:
    """The access of a signed-in caller: their scope and the store seen through it.

    ``record_reads`` writes audit lines for reads of residents' records that were noted
    rather than recorded (:meth:`ScopedReader.noting`: pages kept in a cache).
    """

    caller: Caller
    scope: Scope
    reader: ScopedReader
    reason: str | None
    record_reads: RecordsRead
    #: see :attr:`Access.grids_version`
    grids_version: str | None = None


def address_of(request: Request) -> str | None:
    """The caller's network address, as the audit log records it."""
    return request.client.host if request.client else None


def reason_of(request: Request) -> str | None:
    """The reason given for reading household records: ``?reason=`` or the header
    ``X-Access-Reason`` (percent-encoded UTF-8)."""
    text = request.query_params.get("reason") or urllib.parse.unquote(
        request.headers.get("x-access-reason", "")
    )
    text = " ".join(text.split())
    if len(text) > MAX_REASON:
        raise ConfigError(f"reason is at most {MAX_REASON} characters")
    return text or None


def caller_of(
    request: Request, state: AppState, *, deferred: list[Callable[[], None]] | None = None
) -> Caller | None:
    """The signed-in caller: an API token (``Authorization: Bearer``) or a session cookie.

    With ``deferred``, the ledger's writes (a token's or session's use, once a minute) are
    appended to it instead of made (:func:`caller_on_loop`).

    Raises
    ------
    AuthenticationError
        An ``Authorization`` header that is not a valid, current token.
    """
    address = address_of(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise AuthenticationError("Authorization must be 'Bearer <token>'")
        caller = accounts.caller_from_token(
            state.store.ledger, value.strip(), address=address, deferred=deferred
        )
        if caller is None:
            raise AuthenticationError("令牌无效或已过期 (invalid, revoked or expired token)")
        return caller
    cookie = request.cookies.get(accounts.SESSION_COOKIE)
    if cookie:
        return accounts.caller_from_session(
            state.store.ledger, cookie, address=address, settings=state.auth, deferred=deferred
        )
    return None


async def caller_on_loop(request: Request, state: AppState) -> Caller | None:
    """:func:`caller_of` without a thread for a ledger whose reads are local
    (:attr:`~gisgrid.stores.ledger.Ledger.local_reads`: SQLite beside the GeoPackage, tens
    of microseconds): read on the event loop, its rare writes (a use recorded, once a minute)
    made in a thread after. Over the network (PostgreSQL) all of it runs in a thread: the
    event loop never waits for a server."""
    ledger = state.store.ledger
    if not ledger.local_reads:
        return await run_in_threadpool(caller_of, request, state)
    deferred: list[Callable[[], None]] = []
    caller = caller_of(request, state, deferred=deferred)
    for write in deferred:
        await run_in_threadpool(write)
    return caller


#: the header (scripts, the page script) or form field (forms) carrying the CSRF token
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


async def csrf_form_token(request: Request) -> str | None:
    """The CSRF token of a form post (read before the route; Starlette keeps the parsed form
    for the route to read again)."""
    if request.method in SAFE_METHODS:
        return None
    kind = request.headers.get("content-type", "")
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


def check_csrf(request: Request, caller: Caller, form_token: str | None) -> None:
    """A browser session's state-changing request must carry the session's CSRF token
    (header ``X-CSRF-Token`` or form field ``csrf_token``); API tokens need none (a
    browser never sends them by itself).

    Raises
    ------
    CsrfError
        The token is missing or not the session's.
    """
    if caller.session is None or request.method in SAFE_METHODS:
        return
    given = request.headers.get(CSRF_HEADER) or form_token or ""
    if not secrets.compare_digest(given.encode(), caller.session.csrf_token.encode()):
        raise CsrfError("缺少或错误的 CSRF 令牌，请刷新页面后重试 (missing or wrong CSRF token)")


async def enforce(
    request: Request,
    state: State,
    form_token: Annotated[str | None, Depends(csrf_form_token)],
) -> Access:
    """Apply the route's rule (:mod:`gisgrid.api.policy`) to the caller: runs before every
    route of the app.

    On the event loop (no thread-pool hop for every request): the caller is read from the
    ledger there when its reads are local, in a thread otherwise, and its writes (a denial
    recorded, a token's use) are made in a thread (:func:`caller_on_loop`).

    Raises
    ------
    AuthenticationError
        Not signed in (401); a page sends the browser to the sign-in page instead (303).
    ForbiddenError
        The role may not do this (403, recorded in the audit log), or a browser's
        state-changing request without its CSRF token.
    ReasonRequiredError
        A role that reads household records on request gave no reason.
    """
    route = request.scope.get("route")
    if not isinstance(route, Route):  # dependencies run only for matched routes
        raise RuntimeError(f"no route matched {request.url.path}")
    note_route(request.scope, route.path)  # the access log keeps the template, not the path
    rule = policy.rule_for(request.method, route.path)
    needed = rule.permission_for(request.path_params)
    if needed is Permission.PUBLIC:  # signing in guards its own form (no session yet)
        try:  # who it is matters little here: a bad token or a store that is down is no one
            anyone = await caller_on_loop(request, state)
        except (AuthenticationError, StoreError):
            anyone = None
        if anyone is not None:
            note_role(request.scope, anyone.info.role.value)
        return Access(caller=anyone, scope=None, reader=None, reason=None)
    caller = await caller_on_loop(request, state)
    if caller is not None:
        note_role(request.scope, caller.info.role.value)
    if caller is None:
        if rule.page and request.method in SAFE_METHODS:
            target = urllib.parse.quote(str(request.url.path) + _query(request), safe="/")
            raise StarletteHTTPException(
                303,
                detail="请先登录 (sign in first)",
                headers={"Location": f"/login?next={target}"},
            )
        raise AuthenticationError("请先登录 (sign in first)")
    if needed not in caller.info.permissions:
        await run_in_threadpool(  # a write: never on the event loop
            functools.partial(
                accounts.record_access,
                state.store.ledger,
                caller,
                "denied",
                outcome="denied",
                target=f"{request.method} {request.url.path}",
                detail={"needs": needed.value},
            )
        )
        raise ForbiddenError(
            f"账号角色“{caller.info.label_zh}”无此权限 (role {caller.info.role.value} may not: "
            f"{needed.value})"
        )
    if request.method not in SAFE_METHODS:
        check_csrf(request, caller, form_token)
    reason = reason_of(request)
    if (
        needed is Permission.HOUSEHOLD_RECORDS
        and caller.info.records == "on_request"
        and reason is None
    ):
        raise ReasonRequiredError(
            "查阅农户信息须说明理由，理由将被记录 (give a reason: ?reason=… or X-Access-Reason)"
        )
    # the version first: a reload swaps the grids in before it announces their version
    grids_version = state.version
    locator = state.locator  # once: a reload swapping it meanwhile leaves this request whole
    net = locator.net()
    scope = scope_of(
        caller.account, caller.info, by_phone=net.by_phone, reason=reason, counties=net.counties
    )
    target = f"{request.method} {request.url.path}{_query(request)}"

    def records_read(layer: str, ids: list[str]) -> None:
        accounts.record_access(
            state.store.ledger,
            caller,
            f"{layer}_read",
            target=target,
            reason=reason,
            detail={"count": len(ids), "ids": ids},
        )

    reader = ScopedReader(
        state.store, scope, index=locator.grid_index, on_records_read=records_read
    )
    return Access(
        caller=caller,
        scope=scope,
        reader=reader,
        reason=reason,
        record_reads=records_read,
        grids_version=grids_version,
    )


def _query(request: Request) -> str:
    query = request.url.query
    return f"?{query}" if query else ""


async def signed_in(access: Annotated[Access, Depends(enforce)]) -> SignedIn:
    """The access of a route that is not public (the rule made sure someone is signed in).

    Async: it waits for nothing (no thread-pool hop at every request); :func:`enforce`,
    which asks the ledger, runs in the thread pool."""
    if (
        access.caller is None
        or access.scope is None
        or access.reader is None
        or access.record_reads is None
    ):
        raise AuthenticationError("请先登录 (sign in first)")
    return SignedIn(
        access.caller,
        access.scope,
        access.reader,
        access.reason,
        access.record_reads,
        access.grids_version,
    )


#: the access of any route: public routes may see who is signed in
Anyone = Annotated[Access, Depends(enforce)]
#: the access of a route that needs a signed-in caller
Scoped = Annotated[SignedIn, Depends(signed_in)]

COUNTY_QUERY = rf"^{codes.COUNTY_PATTERN}$"
TOWNSHIP_QUERY = rf"^{codes.TOWNSHIP_PATTERN}$"
VILLAGE_QUERY = rf"^{codes.VILLAGE_PATTERN}$"
#: a level-2 or level-3 grid (a level-1 grid is its village: ask for the village)
GRID_QUERY = rf"^{codes.VILLAGE_PATTERN}(\d{{3}}){{1,2}}$"

#: any grid code in a path (a level-1 grid is its village's code)
GRID_CODE_PATH = rf"^{codes.VILLAGE_PATTERN}(\d{{3}}){{0,2}}$"

County = Annotated[
    str | None, Query(pattern=COUNTY_QUERY, description="6-digit county code (a prefecture's)")
]
Township = Annotated[str | None, Query(pattern=TOWNSHIP_QUERY, description="9-digit code")]
Village = Annotated[str | None, Query(pattern=VILLAGE_QUERY, description="12-digit code")]
Grid = Annotated[str | None, Query(pattern=GRID_QUERY, description="15- or 18-digit code")]

_NUMBER = r"-?\d+(\.\d+)?"
BBOX_PATTERN = rf"^{_NUMBER},{_NUMBER},{_NUMBER},{_NUMBER}$"
BBOX_TEXT = "minlon,minlat,maxlon,maxlat (WGS84 degrees)"


def parse_bbox(bbox: str | None) -> BBox | None:
    """``minlon,minlat,maxlon,maxlat`` → a tuple, or a clear error."""
    if bbox is None:
        return None
    parts = bbox.split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"bbox must be four numbers minlon,minlat,maxlon,maxlat: {bbox!r}"
        ) from None
    if len(values) != 4:
        raise ConfigError(f"bbox must be four numbers minlon,minlat,maxlon,maxlat: {bbox!r}")
    x0, y0, x1, y1 = values
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise ConfigError(f"bbox out of range or min > max: {bbox!r}")
    return x0, y0, x1, y1


def bbox_query(
    bbox: Annotated[str | None, Query(pattern=BBOX_PATTERN, description=BBOX_TEXT)] = None,
) -> BBox | None:
    """The ``bbox`` query parameter, parsed."""
    return parse_bbox(bbox)


BBoxQuery = Annotated[BBox | None, Depends(bbox_query)]
