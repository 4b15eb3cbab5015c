"""Signing in and out: the Chinese sign-in page, its form, and the sign-out form.

There is no session before signing in, so the sign-in form is guarded by a double-submit
cookie: ``GET /login`` sets :data:`LOGIN_CSRF_COOKIE` and puts the same value in the form;
``POST /login`` accepts the form only when both agree (a page of another site can make a
browser post the form, but cannot read or set the cookie). Signing out is an ordinary
state-changing request of a session: :func:`gisgrid.api.deps.enforce` checks its CSRF
token before the route runs.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gisgrid.api.deps import Anyone, Scoped, State, address_of
from gisgrid.api.errors import COMMON_ERRORS, HTML_PAGE
from gisgrid.api.security import html_page
from gisgrid.api.templating import render
from gisgrid.errors import AuthenticationError, RateLimitedError
from gisgrid.services import accounts
from gisgrid.settings import AuthSettings

router = APIRouter(tags=["sign-in 登录"], responses=COMMON_ERRORS)

#: the double-submit cookie of the sign-in form (sent back only to ``/login``)
LOGIN_CSRF_COOKIE = "gisgrid_login_csrf"
#: seconds the sign-in page may stay open before its form needs a reload
LOGIN_CSRF_SECONDS = 2 * 3600
_TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
#: the longest ``next`` accepted (a page's path and query)
MAX_NEXT = 2000

WRONG = "用户名或密码错误"
EXPIRED = "登录页面已过期，请重新输入用户名和密码。"

_HTML = {"content": {"text/html": {"schema": {"type": "string"}}}}
LOGIN_ANSWERS: dict[int | str, dict[str, Any]] = HTML_PAGE | {
    303: {"description": "signed in: to the page asked for (``next``) or the dashboard"},
    401: {"description": "the page again: 用户名或密码错误", **_HTML},
    403: {"description": "the page again: the form's token does not match its cookie", **_HTML},
    429: {"description": "the page again: too many failed attempts (Retry-After)", **_HTML},
}


def local_target(value: str | None) -> str:
    """``value`` when it is a path of this server (``/…``, not ``//host`` or ``/\\host``),
    else ``/``: after signing in the browser goes nowhere else."""
    if not value or len(value) > MAX_NEXT or not value.startswith("/"):
        return "/"
    if value.startswith(("//", "/\\")) or any(c in value for c in "\\\r\n\t\x00"):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "/"
    return value


def _login_page(
    request: Request,
    settings: AuthSettings,
    *,
    next_url: str,
    username: str = "",
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The sign-in page with a form token that matches its cookie (kept when still valid,
    so two open sign-in tabs both work)."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not _TOKEN.fullmatch(token):
        token = secrets.token_urlsafe(32)
    html = render("login.html", csrf_token=token, next=next_url, username=username, error=error)
    response = html_page(html, status_code=status)
    response.headers.update(headers or {})
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        max_age=LOGIN_CSRF_SECONDS,
        path="/login",
        secure=settings.cookie_secure,
        httponly=True,
        samesite="strict",
    )
    return response


@router.get("/login", responses=LOGIN_ANSWERS, summary="The sign-in page 登录")
def login_page(
    request: Request,
    state: State,
    access: Anyone,
    next: Annotated[str | None, Query()] = None,
) -> Response:
    target = local_target(next)
    if access.caller is not None and access.caller.via == "session":
        return RedirectResponse(target, status_code=303)
    return _login_page(request, state.auth, next_url=target)


@router.post("/login", responses=LOGIN_ANSWERS, summary="Sign in 登录")
def login(
    request: Request,
    state: State,
    username: Annotated[str, Form(max_length=accounts.MAX_NAME_LENGTH)] = "",
    password: Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    target = local_target(next)
    settings = state.auth
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not (cookie and secrets.compare_digest(cookie.encode(), csrf_token.encode())):
        return _login_page(
            request, settings, next_url=target, username=username, error=EXPIRED, status=403
        )
    try:
        signed = accounts.sign_in(
            state.store.ledger,
            username.strip(),
            password,
            address=address_of(request),
            settings=settings,
        )
    except RateLimitedError as exc:
        minutes = max(1, -(-exc.retry_after // 60))
        return _login_page(
            request,
            settings,
            next_url=target,
            username=username,
            error=f"登录失败次数过多，请 {minutes} 分钟后再试。",
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except AuthenticationError:
        return _login_page(
            request, settings, next_url=target, username=username, error=WRONG, status=401
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        accounts.SESSION_COOKIE,
        signed.cookie_value,
        max_age=signed.max_age,
        path="/",
        secure=settings.cookie_secure,
        httponly=True,
        # Lax, not Strict: a link to a page from another intranet page must arrive signed in
        samesite="lax",
    )
    response.delete_cookie(
        LOGIN_CSRF_COOKIE, path="/login", secure=settings.cookie_secure, httponly=True
    )
    return response


@router.post(
    "/logout",
    responses={303: {"description": "signed out: to the sign-in page"}},
    summary="Sign out 退出登录",
)
def logout(request: Request, state: State, access: Scoped) -> Response:
    # the CSRF token of the session was checked before this runs (deps.enforce)
    accounts.sign_out(
        state.store.ledger,
        access.caller,
        cookie_value=request.cookies.get(accounts.SESSION_COOKIE, ""),
    )
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(
        accounts.SESSION_COOKIE,
        path="/",
        secure=state.auth.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return response
