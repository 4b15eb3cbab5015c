"""Domain errors → HTTP statuses, in one place. Every error body of the API is JSON:

``{"error": {"type": "...", "code": "...", "message": "...", "problems": [...]}}``

A browser asking for a page (a route whose :class:`~gisgrid.api.policy.Rule` has
``page=True``, or a path outside ``/api/`` that matches no route, requested with ``Accept:
text/html``) gets the same status as an HTML page in the site's style, in Chinese
(:func:`wants_page`, ``templates/error.html``).
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from gisgrid import errors
from gisgrid.api import policy
from gisgrid.api.templating import render

#: every error class of :mod:`gisgrid.errors` → its HTTP status (a test proves none is missing)
STATUS: dict[type[errors.GisgridError], int] = {
    errors.GisgridError: 500,
    errors.ConfigError: 400,
    errors.UnknownLayerError: 404,
    errors.CrsError: 422,
    errors.MapOptionError: 400,
    errors.AssignmentInputError: 422,
    errors.LocateError: 422,
    errors.InputFileError: 400,
    errors.ValidationError: 422,
    errors.ImportRefusedError: 422,
    errors.StoreError: 503,
    errors.StoreConstraintError: 422,
    errors.ConflictError: 409,
    errors.GridEditError: 422,
    errors.EditRefusedError: 422,
    errors.ChangeSetConflictError: 409,
    errors.PayloadTooLargeError: 413,
    errors.UnsupportedMediaTypeError: 415,
    errors.PhotoError: 422,
    errors.OfflineAssetError: 500,
    errors.NotFoundError: 404,
    errors.UnknownAreaError: 404,
    errors.AuthenticationError: 401,
    errors.RateLimitedError: 429,
    errors.BusyError: 503,
    errors.ForbiddenError: 403,
    errors.CsrfError: 403,
    errors.ReasonRequiredError: 403,
}


class ErrorDetail(BaseModel):
    type: str
    code: str | None
    message: str
    problems: list[dict[str, Any]]
    #: what a conflict is about (change sets: ``changed_since``, ``pending``)
    detail: dict[str, Any] | None = None


class ErrorBody(BaseModel):
    """Every 4xx/5xx answer of the API has this shape."""

    error: ErrorDetail


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the given error statuses, all with :class:`ErrorBody`."""
    text = {
        400: "bad parameter",
        401: "not signed in",
        403: "not allowed for this account",
        404: "not found",
        409: "already exists",
        413: "request body too large",
        415: "unsupported media type",
        422: "invalid input",
        429: "too many failed sign-ins",
        500: "server fault",
        503: "store unavailable, or the server busy (Retry-After)",
    }
    return {s: {"model": ErrorBody, "description": text.get(s, "error")} for s in statuses}


#: what any endpoint of the API may answer besides success (every route but the public ones
#: needs a signed-in caller, whose role may not allow it)
COMMON_ERRORS = documented(400, 401, 403, 404, 422, 503)
#: the success answer of a page: HTML (errors stay JSON, as everywhere)
HTML_PAGE: dict[int | str, dict[str, Any]] = {
    200: {"description": "an HTML page", "content": {"text/html": {"schema": {"type": "string"}}}}
}


def status_of(exc: errors.GisgridError) -> int:
    """The HTTP status of ``exc``: its own class's entry, else its nearest ancestor's."""
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500  # unreachable: GisgridError itself is in STATUS


def error_body(
    kind: str,
    message: str,
    *,
    code: str | None = None,
    problems: list[Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {
        "type": kind,
        "code": code,
        "message": message,
        "problems": problems or [],
    }
    if detail is not None:
        error["detail"] = detail
    return {"error": error}


#: an error page's heading and what it tells the reader, by HTTP status
PAGE_TEXT: dict[int, tuple[str, str]] = {
    400: ("请求有误", "请求的参数不正确，请返回后重试。"),
    401: ("请先登录", "尚未登录或登录已失效，请先登录。"),
    403: ("无权访问", "您的账号无权查看此页面或此区域的信息。"),
    404: ("没有找到", "要找的页面、区域或记录不存在，或不在您负责的范围内。"),
    405: ("不支持的请求方式", "此页面不接受这种请求，请从首页重新进入。"),
    409: ("操作冲突", "数据已被他人改动，请刷新后重试。"),
    413: ("提交的内容过大", "提交的内容超过了允许的大小。"),
    415: ("不支持的文件类型", "提交的文件类型不受支持。"),
    422: ("请求参数不正确", "链接中的参数不正确，请从首页重新进入。"),
    429: ("尝试次数过多", "失败次数过多，请稍后再试。"),
    500: ("服务器出错", "服务器处理时出错，请稍后再试；若一再出现，请联系县里的系统管理员。"),
    503: ("服务暂时不可用", "数据库暂时无法连接或服务器繁忙，请稍后再试。"),
}


def wants_page(request: Request) -> bool:
    """Whether an error answers ``request`` as an HTML page rather than a JSON body.

    A browser's request (``Accept`` names ``text/html``) for a page: a route whose policy
    rule says ``page=True``, or a path that matches no route and is not under ``/api/``.
    API routes always answer JSON, whatever the caller accepts.
    """
    if "text/html" not in request.headers.get("accept", ""):
        return False
    route = request.scope.get("route")
    if isinstance(route, Route):
        try:
            return policy.rule_for(request.method, route.path).page
        except KeyError:  # a method the route does not take (405): judged by its path
            pass
    return not (request.url.path.startswith("/api/") or request.url.path == "/api")


def chinese_part(message: str) -> str | None:
    """The Chinese part of a bilingual message ("中文 (English)", "中文 / English"), or None
    if it has none."""
    head = message.split(" (", 1)[0].split(" / ", 1)[0].strip()
    return head if head and not head.isascii() else None


def error_page(
    request: Request,
    status: int,
    message: str,
    headers: Mapping[str, str] | None = None,
    *,
    ask_reason: bool = False,
) -> HTMLResponse:
    """The HTML page of an error: the status, its Chinese heading and explanation (the
    message's own Chinese part when it has one), links home and, when not signed in, to the
    sign-in page; with ``ask_reason`` (a role that reads household records on request gave
    no reason) a form that asks the same page again with the reason."""
    title, hint = PAGE_TEXT.get(status, ("出错了", "请求未能完成，请从首页重新进入。"))
    links = [("返回首页", "/")]
    if status == 401:
        links.append(("登录", "/login?next=" + urllib.parse.quote(request.url.path, safe="/")))
    reason_form = None
    if ask_reason and request.method == "GET":
        keep = [(k, v) for k, v in request.query_params.multi_items() if k != "reason"]
        reason_form = {"action": request.url.path, "keep": keep}
    html = render(
        "error.html", status=status, title=title, message=chinese_part(message) or hint,
        links=links, reason_form=reason_form,
    )  # fmt: skip
    return HTMLResponse(html, status_code=status, headers=headers)


def busy_answer(request: Request, exc: errors.BusyError) -> Response:
    """The 503 of a busy server (:class:`~gisgrid.errors.BusyError`), with ``Retry-After``:
    an HTML page for a browser's page request, the JSON error body otherwise."""
    body = error_body(type(exc).__name__, str(exc), code="busy")
    return _answer(request, status_of(exc), body, {"Retry-After": str(exc.retry_after)})


def _answer(
    request: Request,
    status: int,
    body: dict[str, Any],
    headers: Mapping[str, str] | None = None,
    *,
    ask_reason: bool = False,
) -> Response:
    if wants_page(request):
        message = str(body["error"]["message"])
        return error_page(request, status, message, headers, ask_reason=ask_reason)
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(errors.GisgridError)
    async def gisgrid_error(request: Request, exc: errors.GisgridError) -> Response:
        problems: list[Any] = []
        detail: dict[str, Any] | None = None
        code = exc.code if isinstance(exc, errors.LocateError) else None
        if isinstance(exc, errors.ValidationError):
            problems = [p.as_dict() for p in exc.problems]
        elif isinstance(exc, errors.EditRefusedError):
            problems = list(exc.problems)
            code = "edit_refused"
        elif isinstance(exc, errors.ChangeSetConflictError):
            detail, code = dict(exc.detail), "conflict"
        body = error_body(type(exc).__name__, str(exc), code=code, problems=problems, detail=detail)
        if isinstance(exc, errors.EditRefusedError):
            body["problems"] = problems  # beside the error too: the editor draws them
        headers = (
            {"Retry-After": str(exc.retry_after)}
            if isinstance(exc, errors.RateLimitedError | errors.BusyError)
            else None
        )
        asking = isinstance(exc, errors.ReasonRequiredError)
        return _answer(request, status_of(exc), body, headers, ask_reason=asking)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        # routing's own answers (no such path, wrong method) in the same shape as ours
        body = error_body("HTTPException", str(exc.detail), code=f"http_{exc.status_code}")
        if exc.status_code < 400:  # a redirect (a page's caller not signed in): as it is
            return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)
        return _answer(request, exc.status_code, body, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_error(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"location": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"location": [], "message": "invalid request"}
        where = ".".join(str(p) for p in first["location"])
        body = error_body(
            "RequestValidationError",
            f"{where}: {first['message']}",
            code="invalid_request",
            problems=problems,
        )
        return _answer(request, 422, body)

    @app.exception_handler(Exception)
    async def server_error(request: Request, _exc: Exception) -> Response:
        # a bug: Starlette's outermost middleware sends this answer and re-raises (logged)
        return _answer(request, 500, error_body("InternalServerError", "server fault"))
