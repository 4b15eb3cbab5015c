"""Pages of accounts: the admin's accounts and audit log (``/admin/…``) and everyone's own
API tokens (``/account/tokens``). Plain HTML forms, no script: every post carries the
session's CSRF token in the field ``csrf_token`` (checked by :func:`gisgrid.api.deps.enforce`)
and answers with a redirect to the page (post/redirect/get), or with the page and the error
in Chinese, or, for a password or token value, with a page showing it this once."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from gisgrid.api.deps import Scoped, SignedIn, State, address_of
from gisgrid.api.errors import COMMON_ERRORS, HTML_PAGE, ErrorBody, status_of
from gisgrid.api.routes.accounts import Username
from gisgrid.api.state import AppState
from gisgrid.api.templating import render
from gisgrid.errors import (
    ConfigError,
    GisgridError,
    NotFoundError,
    StoreConstraintError,
    ValidationError,
)
from gisgrid.roles import ROLES, Role, area_kind
from gisgrid.services import accounts
from gisgrid.stores.ledger import AuditQuery, AuditRecord, Outcome, TokenRecord

router = APIRouter(tags=["pages 页面"], responses=COMMON_ERRORS)

#: the errors a form can cause, shown on the page (anything else is the API's JSON answer)
FORM_ERRORS = (ConfigError, ValidationError, StoreConstraintError, NotFoundError)
#: what each kind of form error is called on the page
ERROR_ZH: dict[type[GisgridError], str] = {
    ValidationError: "输入不符合要求",
    StoreConstraintError: "无法保存",
    NotFoundError: "找不到",
    ConfigError: "输入有误",
}
OUTCOME_ZH: dict[str, str] = {"ok": "成功", "denied": "拒绝", "failed": "失败"}
TOKEN_STATE_ZH = {"valid": "有效", "revoked": "已撤销", "expired": "已过期"}
#: audit entries on one page (unless ``?limit=`` says otherwise)
AUDIT_PAGE = 100
#: characters of an audit entry's detail shown in the table
DETAIL_CHARS = 200
#: pages with accounts, tokens or the audit log are never kept by a browser or a proxy
NO_STORE = {"Cache-Control": "no-store"}
TokenId = Annotated[int, Path(ge=1, le=2**62)]
#: a form's answers: the page again with its error (HTML), or the API's JSON error (a request
#: refused before the form is read), a redirect when done, a page showing a secret once
FORM_PAGE: dict[int | str, dict[str, Any]] = HTML_PAGE | {
    303: {"description": "done: back to the page (post/redirect/get)"},
    **{
        status: {
            "model": ErrorBody,
            "description": "the page again, with the error in Chinese",
            "content": {"text/html": {"schema": {"type": "string"}}},
        }
        for status in (400, 404, 422)
    },
}
Field = Annotated[str, Form(max_length=300)]
PasswordField = Annotated[str, Form(max_length=accounts.MAX_PASSWORD_LENGTH)]


def _when(at: dt.datetime | None) -> str:
    return "" if at is None else at.astimezone().strftime("%Y-%m-%d %H:%M")


def _error_text(exc: GisgridError) -> str:
    """The message of a form error, in Chinese first (the services' messages are bilingual)."""
    kind = next((ERROR_ZH[c] for c in type(exc).__mro__ if c in ERROR_ZH), "错误")
    if isinstance(exc, ValidationError):
        return f"{kind}：" + "；".join(p.message for p in exc.problems)
    return f"{kind}：{exc}"


def _page(template: str, access: SignedIn, *, status: int = 200, **context: Any) -> HTMLResponse:
    html = render(template, access, **context)
    return HTMLResponse(html, status_code=status, headers=NO_STORE)


def _done(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303, headers=NO_STORE)


def _attempt(change: Callable[[], Response], *, failed: Callable[[str, int], Response]) -> Response:
    """Run a form's change; a form error gives the page again with the error, in Chinese."""
    try:
        return change()
    except FORM_ERRORS as exc:
        return failed(_error_text(exc), status_of(exc))


# --- accounts ------------------------------------------------------------------------------


def _area_names(state: AppState) -> dict[str, str]:
    """The names of the townships, villages and grids, by code."""
    names: dict[str, str] = {}
    for frame in (state.locator.townships, state.locator.villages, state.locator.grids):
        names.update(zip(frame["code"].astype(str), frame["name"].astype(str), strict=True))
    return names


def _area_label(area: str, names: Mapping[str, str]) -> str:
    if not area:
        return "按电话关联的网格"
    try:
        if area_kind(area) == "county":
            return "全县"
        if area_kind(area) == "prefecture":
            return "全市"
    except ValueError:
        return ""
    return names.get(area, "")


def _accounts_page(
    state: AppState, access: SignedIn, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    ledger = state.store.ledger
    names = _area_names(state)
    listed = accounts.list_accounts(ledger)
    usernames = {a.id: a.username for a in listed}
    rows = [
        {
            "username": a.username,
            "display_name": a.display_name,
            "role": a.role.value,
            "role_zh": ROLES[a.role].label_zh,
            "area": a.area,
            "area_name": _area_label(a.area, names),
            "phone": a.phone or "",
            "disabled": a.disabled,
            "created": _when(a.created_at),
        }
        for a in listed
    ]
    now = dt.datetime.now(dt.UTC)
    tokens = [
        _token_row(t, usernames.get(t.account_id, str(t.account_id)), now)
        for t in accounts.list_tokens(ledger)
    ]
    roles = [(r.value, info.label_zh) for r, info in ROLES.items()]
    return _page(
        "admin_accounts.html",
        access,
        status=status,
        title="账户管理",
        rows=rows,
        tokens=tokens,
        roles=roles,
        error=error,
    )


@router.get("/admin/accounts", responses=HTML_PAGE, summary="Accounts 账户管理 (admin)")
def accounts_page(state: State, access: Scoped) -> Response:
    return _accounts_page(state, access)


def _shown_once(access: SignedIn, *, title: str, message: str, secret: str, back: str) -> Response:
    return _page("shown_once.html", access, title=title, message=message, secret=secret, back=back)


@router.post("/admin/accounts", responses=FORM_PAGE, summary="Add an account (form)")
def add_account_form(
    state: State,
    access: Scoped,
    request: Request,
    username: Field = "",
    display_name: Field = "",
    role: Field = "",
    area: Field = "",
    phone: Field = "",
    password: PasswordField = "",
) -> Response:
    def change() -> Response:
        chosen = password or accounts.generate_password()
        account = accounts.add_account(
            state.store.ledger,
            username=username.strip(),
            display_name=display_name,
            role=accounts.parse_role(role),
            area=area.strip(),
            password=chosen,
            phone=phone.strip() or None,
            actor=access.caller.account.username,
            address=address_of(request),
            settings=state.auth,
        )
        if password:
            return _done("/admin/accounts")
        return _shown_once(
            access,
            title="账户已添加",
            message=f"账户 {account.username} 已添加。初始密码只显示这一次，请立即交给本人：",
            secret=chosen,
            back="/admin/accounts",
        )

    return _attempt(change, failed=lambda e, s: _accounts_page(state, access, error=e, status=s))


@router.post(
    "/admin/accounts/{username}/role",
    responses=FORM_PAGE,
    summary="Change an account's role, area and phone (form)",
)
def change_role_form(
    state: State,
    access: Scoped,
    request: Request,
    username: Username,
    role: Field = "",
    area: Field = "",
    phone: Field = "",
) -> Response:
    def change() -> Response:
        new_role = accounts.parse_role(role)
        accounts.check_own_change(access.caller.account, username, role=new_role)
        accounts.set_role(
            state.store.ledger,
            username,
            role=new_role,
            area=area.strip(),
            phone=phone.strip(),
            actor=access.caller.account.username,
            address=address_of(request),
        )
        return _done("/admin/accounts")

    return _attempt(change, failed=lambda e, s: _accounts_page(state, access, error=e, status=s))


@router.post(
    "/admin/accounts/{username}/disabled",
    responses=FORM_PAGE,
    summary="Disable (disabled=1) or enable (disabled=0) an account (form)",
)
def set_disabled_form(
    state: State,
    access: Scoped,
    request: Request,
    username: Username,
    disabled: Field = "",
) -> Response:
    def change() -> Response:
        if disabled not in ("0", "1"):
            raise ConfigError("disabled 须为 1（停用）或 0（启用）/ disabled is 1 or 0")
        accounts.check_own_change(access.caller.account, username, disabled=disabled == "1")
        accounts.set_disabled(
            state.store.ledger,
            username,
            disabled=disabled == "1",
            actor=access.caller.account.username,
            address=address_of(request),
        )
        return _done("/admin/accounts")

    return _attempt(change, failed=lambda e, s: _accounts_page(state, access, error=e, status=s))


@router.post(
    "/admin/accounts/{username}/password",
    responses=FORM_PAGE,
    summary="Reset an account's password to a generated one, shown once (form)",
)
def reset_password_form(
    state: State, access: Scoped, request: Request, username: Username
) -> Response:
    def change() -> Response:
        account, password = accounts.reset_password(
            state.store.ledger,
            username,
            password=None,
            actor=access.caller.account.username,
            address=address_of(request),
            settings=state.auth,
        )
        return _shown_once(
            access,
            title="密码已重置",
            message=(
                f"账户 {account.username} 的新密码只显示这一次，请立即交给本人"
                "（该账户已登录的会话均已结束）："
            ),
            secret=password,
            back="/admin/accounts",
        )

    return _attempt(change, failed=lambda e, s: _accounts_page(state, access, error=e, status=s))


@router.post(
    "/admin/tokens/{token_id}/revoke",
    responses=FORM_PAGE,
    summary="Revoke any account's API token (form)",
)
def revoke_any_token_form(
    state: State, access: Scoped, request: Request, token_id: TokenId
) -> Response:
    def change() -> Response:
        accounts.revoke_token_of(
            state.store.ledger,
            token_id,
            owner=None,
            actor=access.caller.account.username,
            address=address_of(request),
        )
        return _done("/admin/accounts")

    return _attempt(change, failed=lambda e, s: _accounts_page(state, access, error=e, status=s))


# --- the audit log -------------------------------------------------------------------------


def _moment(text: str, label: str) -> dt.datetime | None:
    """A time of the filter form (``2026-11-30`` or ``2026-11-30T08:00``, server time)."""
    if not text.strip():
        return None
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{label}须为日期或时间，如 2026-11-30 或 2026-11-30T08:00") from None


def _audit_row(record: AuditRecord) -> dict[str, str]:
    e = record.entry
    detail = json.dumps(dict(e.detail), ensure_ascii=False, default=str) if e.detail else ""
    if len(detail) > DETAIL_CHARS:
        detail = detail[:DETAIL_CHARS] + "…"
    return {
        "id": str(record.id),
        "at": e.at.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
        "action": e.action,
        "outcome": e.outcome,
        "outcome_zh": OUTCOME_ZH.get(e.outcome, e.outcome),
        "actor": e.actor or "",
        "role": ROLES[Role(e.role)].label_zh if e.role in ROLES else e.role or "",
        "address": e.address or "",
        "target": e.target or "",
        "reason": e.reason or "",
        "detail": detail,
    }


@router.get("/admin/audit", responses=FORM_PAGE, summary="The audit log 审计日志 (admin)")
def audit_page(
    state: State,
    access: Scoped,
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
    actor: Annotated[str, Query(max_length=200)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    address: Annotated[str, Query(max_length=200)] = "",
    outcome: Annotated[str, Query(pattern=r"^(ok|denied|failed)?$")] = "",
    target: Annotated[str, Query(max_length=200)] = "",
    before_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = AUDIT_PAGE,
) -> Response:
    filters = {
        "since": since,
        "until": until,
        "actor": actor,
        "action": action,
        "address": address,
        "outcome": outcome,
        "target": target,
    }
    error, status, rows, older = None, 200, [], None
    try:
        query = AuditQuery(
            since=_moment(since, "起始时间"),
            until=_moment(until, "截止时间"),
            actor=actor.strip() or None,
            action=action.strip() or None,
            address=address.strip() or None,
            outcome=_outcome(outcome),
            target=target.strip() or None,
            limit=limit,
            before_id=before_id,
        )
        records = accounts.read_audit(state.store.ledger, query)
    except FORM_ERRORS as exc:
        error, status = _error_text(exc), status_of(exc)
    else:
        rows = [_audit_row(r) for r in records]
        if len(records) == limit:
            kept: dict[str, str | int] = {k: v for k, v in filters.items() if v}
            if limit != AUDIT_PAGE:
                kept["limit"] = limit
            older = "/admin/audit?" + urllib.parse.urlencode(kept | {"before_id": records[-1].id})
    return _page(
        "admin_audit.html",
        access,
        status=status,
        title="审计日志",
        filters=filters,
        outcomes=list(OUTCOME_ZH.items()),
        rows=rows,
        older=older,
        newest="/admin/audit?" + urllib.parse.urlencode({k: v for k, v in filters.items() if v}),
        paged=before_id is not None,
        error=error,
    )


def _outcome(text: str) -> Outcome | None:
    if text == "ok":
        return "ok"
    if text == "denied":
        return "denied"
    if text == "failed":
        return "failed"
    return None


# --- my API tokens -------------------------------------------------------------------------


def _token_row(token: TokenRecord, username: str, now: dt.datetime) -> dict[str, Any]:
    state = accounts.token_state(token, now=now)
    return {
        "id": token.id,
        "username": username,
        "name": token.name,
        "prefix": token.prefix,
        "created": _when(token.created_at),
        "expires": _when(token.expires_at) or "永不",
        "last_used": _when(token.last_used_at) or "未使用",
        "state": state,
        "state_zh": TOKEN_STATE_ZH[state],
    }


def _tokens_page(
    state: AppState, access: SignedIn, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    me = access.caller.account
    now = dt.datetime.now(dt.UTC)
    rows = [
        _token_row(t, me.username, now) for t in accounts.list_tokens(state.store.ledger, owner=me)
    ]
    return _page(
        "my_tokens.html",
        access,
        status=status,
        title="我的 API 令牌",
        rows=rows,
        default_days=state.auth.token_days,
        error=error,
    )


@router.get("/account/tokens", responses=HTML_PAGE, summary="My API tokens 我的令牌")
def my_tokens_page(state: State, access: Scoped) -> Response:
    return _tokens_page(state, access)


@router.post(
    "/account/tokens",
    responses=FORM_PAGE,
    summary="Create an API token for me (form; the value is shown once)",
)
def create_token_form(
    state: State,
    access: Scoped,
    request: Request,
    name: Field = "",
    days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    def change() -> Response:
        me = access.caller.account
        try:
            lasting = int(days) if days.strip() else None
        except ValueError:
            raise ConfigError("有效天数须为整数（0 为永不过期）/ days is a whole number") from None
        record, value = accounts.create_token(
            state.store.ledger,
            me,
            name=name,
            days=lasting,
            actor=me.username,
            address=address_of(request),
            settings=state.auth,
        )
        return _shown_once(
            access,
            title="令牌已创建",
            message=(
                f"令牌“{record.name}”已创建。它的值只显示这一次，请立即复制保存；"
                "以后只能看到开头几个字符："
            ),
            secret=value,
            back="/account/tokens",
        )

    return _attempt(change, failed=lambda e, s: _tokens_page(state, access, error=e, status=s))


@router.post(
    "/account/tokens/{token_id}/revoke",
    responses=FORM_PAGE,
    summary="Revoke one of my API tokens (form)",
)
def revoke_my_token_form(
    state: State, access: Scoped, request: Request, token_id: TokenId
) -> Response:
    def change() -> Response:
        me = access.caller.account
        accounts.revoke_token_of(
            state.store.ledger,
            token_id,
            owner=me,
            actor=me.username,
            address=address_of(request),
        )
        return _done("/account/tokens")

    return _attempt(change, failed=lambda e, s: _tokens_page(state, access, error=e, status=s))
