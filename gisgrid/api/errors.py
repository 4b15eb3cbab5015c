"""Domain errors → HTTP statuses, in one place. Every error body is JSON:

``{"error": {"type": "...", "code": "...", "message": "...", "problems": [...]}}``
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from gisgrid import errors

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
        503: "store unavailable",
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


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(errors.GisgridError)
    async def gisgrid_error(_request: Request, exc: errors.GisgridError) -> JSONResponse:
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
            if isinstance(exc, errors.RateLimitedError)
            else None
        )
        return JSONResponse(body, status_code=status_of(exc), headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # routing's own answers (no such path, wrong method) in the same shape as ours
        body = error_body("HTTPException", str(exc.detail), code=f"http_{exc.status_code}")
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def request_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
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
        return JSONResponse(body, status_code=422)
