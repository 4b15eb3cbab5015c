"""What every answer of the web app carries for the browser's safety, and what it accepts.

* :class:`SecurityHeaders`: a pure ASGI middleware (it passes streamed bodies through as
  they come) that adds the security headers to every response: a Content-Security-Policy
  (the default one, unless the route set its own), ``X-Content-Type-Options``, frame,
  referrer, opener and permissions policies, and ``Cache-Control: no-store`` on everything
  but the static assets (answers may hold personal data) and the answers that set their
  own (layers and map pages: ``private, no-cache`` with an entity tag, :mod:`gisgrid.api.http`).
* Pages with inline script: the map pages (folium) carry small inline ``<script>`` blocks.
  :func:`html_page` answers a page with a policy that allows exactly the SHA-256 hashes of
  the page's own inline scripts (:func:`inline_script_hashes`): never ``'unsafe-inline'``.
* :class:`BodyLimit`: a request body larger than :class:`~gisgrid.settings.WebSettings`
  allows (``max_json_bytes`` for JSON, ``max_body_bytes`` for anything else; a case photo's
  upload: :attr:`~gisgrid.settings.CaseSettings.photo_max_bytes`) is answered 413 before
  more than the limit is read: by its ``Content-Length``, or by counting the bytes of a
  chunked body as they arrive.
* CORS: none unless ``GISGRID_WEB_CORS_ORIGINS`` names origins (:func:`install`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Sequence
from html.parser import HTMLParser
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gisgrid.api.errors import error_body, status_of
from gisgrid.api.http import Compression, HeadAsGet
from gisgrid.api.limits import HeavyLimit, Turns
from gisgrid.errors import MapOptionError, PayloadTooLargeError
from gisgrid.settings import CaseSettings, WebSettings

#: paths under this prefix are static assets: the browser may cache them
ASSETS_PREFIX = "/assets/"
#: the upload of a case photo (``POST /api/incidents/{incident_id}/photos``): its own limit
PHOTO_UPLOAD_PATH = r"/api/incidents/[^/]+/photos"

#: script types a browser runs (an inline script of another type, e.g. the map's JSON
#: payload ``application/json``, is data: the policy does not apply to it)
_JS_TYPES = frozenset(
    {"", "module", "text/javascript", "application/javascript", "text/ecmascript",
     "application/ecmascript"}
)  # fmt: skip


# --- the Content-Security-Policy ----------------------------------------------------------


class _InlineScripts(HTMLParser):
    """Collects the text of every inline script a browser would run."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self._parts: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "script":
            return
        attr = {name: (value or "") for name, value in attrs}
        runs = attr.get("type", "").strip().lower() in _JS_TYPES
        self._parts = [] if runs and "src" not in attr else None

    def handle_data(self, data: str) -> None:
        if self._parts is not None:
            self._parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._parts is not None:
            self.scripts.append("".join(self._parts))
            self._parts = None


def inline_script_hashes(html: str) -> list[str]:
    """The CSP sources (``'sha256-…'``) of the inline scripts of ``html``, in page order.

    The hash is of the script's text exactly as the browser sees it: between ``<script>``
    and ``</script>``, line breaks normalised as an HTML parser does (CR LF and CR → LF).
    Scripts with ``src`` and data blocks (``type="application/json"``) are not hashed.
    """
    parser = _InlineScripts()
    parser.feed(html.replace("\r\n", "\n").replace("\r", "\n"))
    parser.close()
    out: list[str] = []
    for text in parser.scripts:
        digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
        source = f"'sha256-{digest}'"
        if source not in out:
            out.append(source)
    return out


def _tile_source(url: str) -> str | None:
    """The CSP host source of a tile URL template (``https://t{s}.x.cn/…`` → ``https://*.x.cn``)."""
    parts = urlsplit(url.replace("{s}", "SUBDOMAIN"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    labels = parts.netloc.split(".")
    if any("SUBDOMAIN" in label or "{" in label for label in labels):
        # a wildcard can only stand for the leftmost labels: everything up to the last template
        last = max(i for i, label in enumerate(labels) if "SUBDOMAIN" in label or "{" in label)
        labels = ["*", *labels[last + 1 :]]
    return f"{parts.scheme}://{'.'.join(labels)}"


def basemap_sources() -> list[str]:
    """Where the configured basemap's tiles come from (``GISGRID_TILES``), as CSP sources.

    Empty without a basemap, or when the setting is incomplete (the map page then answers
    with the setting's own error).
    """
    from gisgrid.cartography.styles import tiles_for

    try:
        tiles = tiles_for(None, "zh")
    except MapOptionError:
        return []
    out: list[str] = []
    for layer in tiles.layers:
        source = _tile_source(str(layer["url"]))
        if source is not None and source not in out:
            out.append(source)
    return out


def content_security_policy(
    *,
    script_hashes: Sequence[str] = (),
    image_sources: Sequence[str] = (),
    frame_ancestors: str = "'none'",
) -> str:
    """The policy of a page: scripts only from this server or with one of ``script_hashes``.

    Styles may be inline (folium and the templates style elements inline; a style cannot run
    code). Images from this server, ``data:`` URLs and the basemap (``image_sources``).
    """
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *script_hashes],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", *image_sources],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": [frame_ancestors],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def html_page(html: str, *, status_code: int = 200, framed_here: bool = False) -> HTMLResponse:
    """An HTML answer whose policy allows exactly the inline scripts of ``html``.

    Parameters
    ----------
    html
        The rendered page.
    status_code
        The HTTP status.
    framed_here
        The page may be shown in a frame of this server's own pages (the dashboard shows
        the coverage map in an ``<iframe>``); otherwise no page may frame it.
    """
    policy = content_security_policy(
        script_hashes=inline_script_hashes(html),
        image_sources=basemap_sources(),
        frame_ancestors="'self'" if framed_here else "'none'",
    )
    headers = {"Content-Security-Policy": policy}
    if framed_here:
        headers["X-Frame-Options"] = "SAMEORIGIN"
    return HTMLResponse(html, status_code=status_code, headers=headers)


# --- the middlewares ----------------------------------------------------------------------


class SecurityHeaders:
    """Adds the security headers to every HTTP response that does not set them itself.

    Pure ASGI: only the ``http.response.start`` message is touched, the body is passed on
    message by message (a streamed answer stays streamed).

    Parameters
    ----------
    app
        The wrapped application.
    policy
        The default Content-Security-Policy (for answers without their own).
    """

    def __init__(self, app: ASGIApp, *, policy: str) -> None:
        self.app = app
        self.fixed: list[tuple[bytes, bytes]] = [
            (b"content-security-policy", policy.encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"geolocation=(self), camera=(), microphone=(), payment=()"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = str(scope.get("path", "")).startswith(ASSETS_PREFIX)
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _value in headers}
                headers += [(n, v) for n, v in self.fixed if n not in present]
                if not cacheable and b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception:
            # an unhandled fault: answer 500 here, with the headers, in the API's error shape
            # (Starlette's own answer comes from outside every middleware, without them);
            # raised on so that the server logs it
            if not started:
                await _server_fault(send_with_headers)
            raise


async def _server_fault(send: Send) -> None:
    """Send a 500 answer that says nothing of the fault (the log has it)."""
    body = json.dumps(
        error_body("ServerError", "the server failed to answer this request", code="server_fault")
    ).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_JSON_MEDIA = re.compile(r"^application/(?:[\w.+-]+\+)?json$")


class BodyLimit:
    """Answers 413 to a request body larger than allowed, before reading more than that.

    The limit is ``max_json_bytes`` for a JSON body (``application/json``, ``…+json``, or no
    content type, which FastAPI reads as JSON) and ``max_body_bytes`` for any other; a path
    matching one of ``path_limits`` has that limit instead, whatever its type. A body
    announced by ``Content-Length`` is judged before the app runs; a chunked one is counted
    as the app reads it: past the limit the read fails (:class:`PayloadTooLargeError`) and,
    whatever the app does about that, the answer is the 413.

    Parameters
    ----------
    app
        The wrapped application.
    max_body_bytes, max_json_bytes
        The limits, in bytes.
    path_limits
        (regular expression of a path, its limit in bytes): routes with a limit of their own.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_json_bytes: int,
        path_limits: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_json_bytes = max_json_bytes
        self.path_limits = tuple((re.compile(p), limit) for p, limit in path_limits)

    def limit_for(self, content_type: str, path: str = "") -> int:
        """The limit for a body of ``content_type`` (the header's value, parameters and all)
        sent to ``path``."""
        for pattern, limit in self.path_limits:
            if pattern.fullmatch(path):
                return limit
        media = content_type.split(";", 1)[0].strip().lower()
        return (
            self.max_json_bytes if media == "" or _JSON_MEDIA.match(media) else self.max_body_bytes
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.lower(): value for name, value in scope.get("headers", [])}
        limit = self.limit_for(
            headers.get(b"content-type", b"").decode("latin-1"), str(scope.get("path", ""))
        )
        declared = headers.get(b"content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise PayloadTooLargeError(_too_large_text(limit))
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # the app answered the failed read in its own way (FastAPI: 400): the client
                # gets the 413 instead
                if not started:
                    started = True
                    await _too_large(send, limit)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except PayloadTooLargeError:
            if not started:
                await _too_large(send, limit)


def _too_large_text(limit: int) -> str:
    return f"the request body is larger than the {limit:,} bytes this server accepts"


async def _too_large(send: Send, limit: int) -> None:
    """Send the 413 answer, in the API's error shape."""
    exc = PayloadTooLargeError(_too_large_text(limit))
    body = json.dumps(error_body(type(exc).__name__, str(exc))).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status_of(exc),
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install(app: FastAPI, *, settings: WebSettings | None = None) -> None:
    """Add the middlewares to ``app``: headers outermost, then ``HEAD`` answered as ``GET``,
    the turns of heavy requests (:mod:`gisgrid.api.limits`) and compression
    (:mod:`gisgrid.api.http`), then the body limit, then CORS.

    CORS only when ``settings.cors_origins`` names origins: exactly those, without
    credentials (a session cookie is never sent cross-site; scripts elsewhere use tokens).
    """

    web = settings or WebSettings()
    # add_middleware wraps what is there: the last added is the outermost
    if web.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(web.cors_origins),
            allow_credentials=False,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(
        BodyLimit,
        max_body_bytes=web.max_body_bytes,
        max_json_bytes=web.max_json_bytes,
        path_limits=[(PHOTO_UPLOAD_PATH, CaseSettings().photo_max_bytes)],
    )
    app.add_middleware(Compression)
    # heavy requests take turns outside the compression and the app (cheap ones pass)
    app.state.turns = Turns(concurrency=web.heavy_concurrency, queue=web.heavy_queue)
    app.add_middleware(HeavyLimit, turns=app.state.turns, retry_after=web.retry_after_seconds)
    app.add_middleware(HeadAsGet)
    app.add_middleware(
        SecurityHeaders, policy=content_security_policy(image_sources=basemap_sources())
    )


__all__ = [
    "ASSETS_PREFIX",
    "BodyLimit",
    "SecurityHeaders",
    "basemap_sources",
    "content_security_policy",
    "html_page",
    "inline_script_hashes",
    "install",
]
