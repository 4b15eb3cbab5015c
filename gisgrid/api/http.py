"""HTTP basics of a production server: compression, HEAD, entity tags and ``304``.

* :class:`Compression`: a pure ASGI middleware that compresses answers of at least
  :data:`MIN_COMPRESS_BYTES` whose type is text (JSON, GeoJSON, scripts, styles, SVG, and
  the HTML of the map pages), with brotli (``br``) when the client accepts it, else gzip.
  Everything else passes as it is: PDF, Excel workbooks and photos are compressed formats
  already; the other HTML pages carry the session's CSRF token beside text taken from the
  request (a reason, a search), which compressed would let an eavesdropper guess the token
  from the sizes of many answers (BREACH); an answer that already has a
  ``Content-Encoding`` or is partial is left alone. A streamed answer stays
  streamed (each part is compressed and flushed as it comes); a strong ``ETag`` of an answer
  compressed becomes weak (it no longer names the bytes sent).
* :class:`HeadAsGet`: a ``HEAD`` request is run as the ``GET`` of the same path and
  answered with its status and headers only. Inside the app there is no ``HEAD``: the access
  rule of a route (:mod:`gisgrid.api.policy`), the caller's scope and the audit apply to it
  exactly as to the ``GET``.
* Entity tags: :func:`entity_tag` makes a weak tag (``W/"…"``: the same content whatever its
  encoding) from what an answer is made of; :func:`matches` reads ``If-None-Match``;
  :func:`not_modified` is the ``304`` and :func:`revalidate` marks a ``200``. Both carry
  ``Cache-Control: private, no-cache``: the answers hold personal data (no shared cache may
  keep them) and a browser must ask again before every use (no copy outlives a write).
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Callable, Sequence

import anyio.to_thread
import brotli
import pydantic_core
from fastapi import Request, Response
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: answers smaller than this are sent as they are (compressing them gains nothing)
MIN_COMPRESS_BYTES = 1024
#: parts at least this large are compressed in a worker thread (the event loop goes on)
THREAD_COMPRESS_BYTES = 128 * 1024
#: media types worth compressing: text of any kind, JSON (GeoJSON, problem+json …), scripts,
#: XML, SVG and vector tiles (MVT: protocol buffers, uncompressed, a third their size
#: gzipped). Not images, PDF, Excel or ZIP: those are compressed formats already.
_COMPRESSIBLE = re.compile(
    r"^(?:text/[\w.+-]+|application/(?:[\w.+-]+\+)?(?:json|xml)|application/(?:x-)?javascript"
    r"|image/svg\+xml|application/vnd\.mapbox-vector-tile)$"
)
#: the HTML pages compressed (paths): the map pages, which hold no secret of the session
HTML_COMPRESSED = (r"/maps/[^/]+",)
#: gzip's level: 6 is zlib's default (level 9 costs much more time for a few % less)
GZIP_LEVEL = 6
#: brotli's quality: 5 compresses JSON and HTML smaller than gzip at about its speed
BROTLI_QUALITY = 5
#: what a personal answer that may be kept and revalidated says to caches
REVALIDATE = "private, no-cache"


# --- compression --------------------------------------------------------------------------------


def _accepted(header: str) -> dict[str, float]:
    """The codings of an ``Accept-Encoding`` header and their weights (``q``)."""
    out: dict[str, float] = {}
    for item in header.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        if not name:
            continue
        weight = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        out[name.lower()] = weight
    return out


def choose_coding(accept_encoding: str) -> str | None:
    """The coding to answer with: ``br``, else ``gzip``, else ``None`` (as it is).

    A coding is taken when the client names it with a weight above zero, or names ``*``
    with a weight above zero and does not refuse the coding by name.
    """
    accepted = _accepted(accept_encoding)
    anything = accepted.get("*", 0.0) > 0
    for coding in ("br", "gzip"):
        weight = accepted.get(coding)
        if (weight is not None and weight > 0) or (weight is None and anything):
            return coding
    return None


def compressible(content_type: str) -> bool:
    """Whether an answer of ``content_type`` (the header's value) is worth compressing."""
    return bool(_COMPRESSIBLE.match(content_type.split(";", 1)[0].strip().lower()))


class _Encoder:
    """One answer's compressor: ``part(data, last=…)`` gives the bytes to send."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        if coding == "br":
            self._br = brotli.Compressor(quality=BROTLI_QUALITY)
        else:
            self._gz = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 16 + zlib.MAX_WBITS)

    def part(self, data: bytes, *, last: bool) -> bytes:
        if self.coding == "br":
            out = self._br.process(data)
            return out + (self._br.finish() if last else self._br.flush())
        out = self._gz.compress(data)
        return out + self._gz.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)

    async def encode(self, data: bytes, *, last: bool) -> bytes:
        if len(data) >= THREAD_COMPRESS_BYTES:
            return await anyio.to_thread.run_sync(lambda: self.part(data, last=last))
        return self.part(data, last=last)


class Compression:
    """Compresses text answers of at least ``minimum_size`` bytes with brotli or gzip.

    Pure ASGI: the answer's start is held back until its first part shows whether it is
    worth compressing (a whole small answer is sent as it is); then each part is compressed
    and sent on, so a streamed answer stays streamed. ``Vary: Accept-Encoding`` is added to
    every answer that would be compressed for another client, compressed or not.

    Parameters
    ----------
    app
        The wrapped application.
    minimum_size
        The smallest answer compressed, in bytes.
    html_paths
        Regular expressions of the paths whose HTML is compressed (no other HTML is).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        minimum_size: int = MIN_COMPRESS_BYTES,
        html_paths: Sequence[str] = HTML_COMPRESSED,
    ) -> None:
        self.app = app
        self.minimum_size = minimum_size
        self.html_paths = tuple(re.compile(p) for p in html_paths)

    def compresses(self, content_type: str, path: str) -> bool:
        """Whether an answer of ``content_type`` to ``path`` is compressed (when large)."""
        if not compressible(content_type):
            return False
        if content_type.split(";", 1)[0].strip().lower() != "text/html":
            return True
        return any(p.fullmatch(path) for p in self.html_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        coding = choose_coding(Headers(scope=scope).get("accept-encoding", ""))
        path = str(scope.get("path", ""))
        start: Message | None = None
        encoder: _Encoder | None = None
        passing = False  # sent as it is from the start on

        async def compressing_send(message: Message) -> None:
            nonlocal start, encoder, passing
            kind = message["type"]
            if kind == "http.response.start":
                headers = MutableHeaders(raw=list(message.get("headers", [])))
                message = {**message, "headers": headers.raw}
                if self.compresses(headers.get("content-type", ""), path):
                    headers.add_vary_header("Accept-Encoding")
                    worth = (
                        coding is not None
                        and "content-encoding" not in headers
                        and message["status"] not in (204, 206, 304)
                    )
                else:
                    worth = False
                if worth:
                    start = message  # until the first part says whether to compress
                else:
                    passing = True
                    await send(message)
                return
            if kind != "http.response.body" or passing:
                if start is not None:  # e.g. a file sent by path: as it is
                    await send(start)
                    start = None
                    passing = True
                await send(message)
                return
            body: bytes = message.get("body", b"")
            more = bool(message.get("more_body", False))
            if start is not None:
                headers = MutableHeaders(raw=start["headers"])
                if not more and len(body) < self.minimum_size:
                    passing = True
                    await send(start)
                    start = None
                    await send(message)
                    return
                assert coding is not None
                encoder = _Encoder(coding)
                headers["Content-Encoding"] = coding
                if "content-length" in headers:
                    del headers["Content-Length"]
                tag = headers.get("etag")
                if tag and not tag.startswith("W/"):  # a strong tag names the bytes: no more
                    headers["ETag"] = "W/" + tag
                data = await encoder.encode(body, last=not more)
                if not more:
                    headers["Content-Length"] = str(len(data))
                await send(start)
                start = None
                await send({**message, "body": data})
                return
            assert encoder is not None
            await send({**message, "body": await encoder.encode(body, last=not more)})

        await self.app(scope, receive, compressing_send)


# --- HEAD ---------------------------------------------------------------------------------------


class HeadAsGet:
    """Answers ``HEAD`` as the ``GET`` of the same path, without the body.

    The app sees a ``GET`` (same path, query, headers and caller): every route that answers
    ``GET`` answers ``HEAD``, under the ``GET``'s access rule. The status and headers are
    the ``GET``'s (``Content-Length`` and ``Content-Encoding`` included); the body is
    dropped as it comes.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] in ("http.response.body", "http.response.pathsend"):
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


# --- entity tags and 304 ------------------------------------------------------------------------


def entity_tag(*parts: object) -> str:
    """A weak entity tag (``W/"…"``) of ``parts``: equal parts, equal tag.

    Weak because the tag names the content, not its bytes: the same answer compressed or
    not has the same tag.
    """
    text = json.dumps(parts, default=str, ensure_ascii=False, separators=(",", ":"))
    return f'W/"{hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]}"'


def matches(request: Request, tag: str) -> bool:
    """Whether ``If-None-Match`` names ``tag`` (weak comparison: ``W/`` is ignored) or ``*``."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    wanted = tag.removeprefix("W/")
    for item in header.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/") == wanted:
            return True
    return False


def json_answer(content: object) -> Response:
    """A JSON answer rendered here, in the route's worker thread.

    FastAPI serializes what a route returns (a dict, a model) on the event loop, where
    ``/api/locate`` and ``/api/health`` run: a layer page of a thousand households or a
    county's check report held every cheap request for the milliseconds it took (measured:
    ``bench/heavy_mix.py``). pydantic-core's encoder, as FastAPI's own: the same bytes.
    """
    body = pydantic_core.to_json(content, inf_nan_mode="null")
    return Response(body, media_type="application/json")


def not_modified(tag: str) -> Response:
    """The ``304`` answer: no body, the tag, and how the copy may be kept."""
    return Response(status_code=304, headers={"ETag": tag, "Cache-Control": REVALIDATE})


def revalidate(response: Response, tag: str) -> None:
    """Give a ``200`` answer its tag and ``Cache-Control: private, no-cache``."""
    response.headers["ETag"] = tag
    response.headers["Cache-Control"] = REVALIDATE


def conditional(request: Request, tag: str, answer: Callable[[], Response]) -> Response:
    """``304`` when the caller holds ``tag``, else ``answer()`` with the tag."""
    if matches(request, tag):
        return not_modified(tag)
    response = answer()
    revalidate(response, tag)
    return response


__all__ = [
    "HTML_COMPRESSED",
    "MIN_COMPRESS_BYTES",
    "REVALIDATE",
    "Compression",
    "HeadAsGet",
    "choose_coding",
    "compressible",
    "conditional",
    "entity_tag",
    "matches",
    "not_modified",
    "revalidate",
]
