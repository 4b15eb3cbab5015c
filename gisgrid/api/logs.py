"""Nothing personal in the server log.

* :class:`AccessLog` (``gisgrid serve --access-log``, ``GISGRID_WEB_ACCESS_LOG``): one JSON
  object per request on standard output, with the time, the method, the *route template*
  (``/api/households/{household_id}``, never the path itself: paths hold household ids and
  residents' tracking codes), the status, the duration, the bytes sent and the caller's role.
  No query (a search for a household, a leader's reason), no username, no address, no
  header. The route and the role are noted by :func:`gisgrid.api.deps.enforce` through
  :func:`note_route` and :func:`note_role`.
* uvicorn's own access lines (off under ``gisgrid serve``; on when the app is run by uvicorn
  directly) keep the path, not the query (:class:`PathOnly`), and a resident's tracking code
  (``/report/<incident id>-<secret>``) keeps its incident id and loses its secret.

The audit log (which an admin reads, and which cannot be changed) is where reads are recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "uvicorn.access"
#: the logger of :class:`AccessLog`'s lines
JSON_ACCESS_LOGGER = "gisgrid.access"
#: where a request's :class:`AccessNote` is kept in its ASGI scope
NOTE_KEY = "gisgrid.access"
#: the secret half of a tracking code in the paths of residents' reports
_TRACKING = re.compile(r"^(/report/|/api/public/reports/)([^/]*-)[^/-]+$")


def loggable_path(path: str) -> str:
    """``path`` as the access log may keep it: no query, no tracking code's secret."""
    path = path.split("?", 1)[0]
    return _TRACKING.sub(r"\1\2…", path)


class PathOnly(logging.Filter):
    """Drop the query string (and a tracking code's secret) from uvicorn's access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn logs '%s - "%s %s HTTP/%s" %d' with (client, method, path, version, status)
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            record.args = (args[0], args[1], loggable_path(args[2]), args[3], args[4])
        return True


def keep_queries_out_of_the_log() -> None:
    """Install :class:`PathOnly` on uvicorn's access logger (once)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, PathOnly) for f in logger.filters):
        logger.addFilter(PathOnly())


# --- the structured access log -----------------------------------------------------------------


@dataclass
class AccessNote:
    """What the app tells the access log about a request: the route template it matched
    (``None``: none, e.g. a 404) and the caller's role (``None``: nobody signed in)."""

    route: str | None = None
    role: str | None = None


def note_route(scope: Scope, route: str) -> None:
    """Note the route template a request matched (a no-op without the access log)."""
    note = scope.get(NOTE_KEY)
    if isinstance(note, AccessNote):
        note.route = route


def note_role(scope: Scope, role: str) -> None:
    """Note the role of the request's caller (a no-op without the access log)."""
    note = scope.get(NOTE_KEY)
    if isinstance(note, AccessNote):
        note.role = role


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return record.getMessage()


def json_access_logger() -> logging.Logger:
    """The logger of the JSON access lines, writing each line as it is to standard output."""
    logger = logging.getLogger(JSON_ACCESS_LOGGER)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(_JsonLines())
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return logger


class AccessLog:
    """Writes one JSON object per HTTP request once its answer is sent (or has failed).

    ``{"time": "2026-12-01T03:04:05.678Z", "method": "GET", "route":
    "/api/households/{household_id}", "status": 200, "ms": 12.3, "bytes": 1834, "role":
    "township"}``: ``time`` is when the request came (UTC), ``ms`` how long it took until the
    last byte was handed to the server, ``bytes`` the body as sent (compressed, if it was),
    ``route`` and ``role`` ``null`` when there was none. The outermost middleware: it sees
    ``HEAD`` as ``HEAD`` and the status of every answer (401, 413, 500 included).

    Parameters
    ----------
    app
        The wrapped application.
    logger
        Where the lines go (default :func:`json_access_logger`).
    """

    def __init__(self, app: ASGIApp, *, logger: logging.Logger | None = None) -> None:
        self.app = app
        self.logger = logger or json_access_logger()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        note = AccessNote()
        when = dt.datetime.now(dt.UTC)
        started = time.perf_counter()
        status: int | None = None
        sent = 0

        async def counting_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        try:
            await self.app({**scope, NOTE_KEY: note}, receive, counting_send)
        finally:
            line = {
                "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "method": str(scope.get("method", "")),
                "route": note.route,
                "status": 500 if status is None else status,
                "ms": round((time.perf_counter() - started) * 1000, 1),
                "bytes": sent,
                "role": note.role,
            }
            self.logger.info(json.dumps(line, separators=(",", ":")))
