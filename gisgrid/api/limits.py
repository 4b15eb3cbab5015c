"""Heavy requests take turns; the cheap ones never wait behind them.

A heavy request (a page, a map, a layer, household search, the check report, the workbook,
the wall map, an export: :data:`HEAVY_PATHS`) reads and computes for tens of milliseconds
to seconds, in a thread of the server's one thread pool (40 threads). Without a bound, sixty
dashboard requests take every thread and ``/api/health`` and ``/api/locate``, which need one
for a moment, wait behind them for good.

:class:`HeavyLimit`, a pure ASGI middleware, lets at most ``concurrency`` heavy requests
run at a time (``GISGRID_WEB_HEAVY_CONCURRENCY``, well below the pool's 40), lets at most
``queue`` more wait for their turn without holding a thread (``GISGRID_WEB_HEAVY_QUEUE``),
and answers any beyond them at once with 503, ``Retry-After`` and the API's error body
(:class:`~gisgrid.errors.BusyError`; an HTML error page for a browser's page request).
Every other request passes untouched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
from fastapi import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from gisgrid.api.errors import busy_answer
from gisgrid.errors import BusyError

#: the paths of heavy requests (any method): pages, maps, layers, search, reports, exports
HEAVY_PATHS = (
    r"/",
    r"/finder",
    r"/maps/[^/]+",
    r"/api/layers(?:/[^/]+)?",
    r"/api/households/search",
    r"/api/check",
    r"/api/report\.xlsx",
    r"/api/wallmap\.pdf",
    r"/api/export/[^/]+",
)

BUSY_MESSAGE = (
    "服务器繁忙，请稍后再试 (the server is busy with as many heavy requests as it takes: "
    "try again in {seconds} s)"
)


@dataclass
class Turns:
    """The turns of heavy requests: how many may run and wait, how many do now.

    The event loop's one thread changes the counts: no lock is needed.
    """

    concurrency: int
    queue: int
    running: int = 0
    waiting: int = 0
    #: made in the event loop at first use
    limiter: anyio.CapacityLimiter | None = field(default=None, repr=False)

    @property
    def full(self) -> bool:
        """Every turn taken and the queue full: the next heavy request is refused."""
        return self.running >= self.concurrency and self.waiting >= self.queue


class HeavyLimit:
    """At most ``turns.concurrency`` heavy requests at a time, ``turns.queue`` more waiting,
    503 beyond.

    Parameters
    ----------
    app
        The wrapped application.
    turns
        The bounds and the counts (``app.state.turns``: ``/api/health`` shows them).
    retry_after
        Seconds the 503 answer asks the client to wait.
    paths
        Regular expressions of the heavy paths (whole path).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        turns: Turns,
        retry_after: int,
        paths: Sequence[str] = HEAVY_PATHS,
    ) -> None:
        self.app = app
        self.turns = turns
        self.retry_after = retry_after
        self.paths = re.compile("|".join(f"(?:{p})" for p in paths))

    def heavy(self, path: str) -> bool:
        """Whether a request of ``path`` is heavy."""
        return self.paths.fullmatch(path) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.heavy(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        turns = self.turns
        if turns.limiter is None:
            turns.limiter = anyio.CapacityLimiter(turns.concurrency)
        limiter = turns.limiter
        if turns.full:
            exc = BusyError(
                BUSY_MESSAGE.format(seconds=self.retry_after), retry_after=self.retry_after
            )
            await busy_answer(Request(scope), exc)(scope, receive, send)
            return
        turns.waiting += 1
        try:
            await limiter.acquire()
        finally:
            turns.waiting -= 1
        turns.running += 1
        try:
            await self.app(scope, receive, send)
        finally:
            turns.running -= 1
            limiter.release()


__all__ = ["HEAVY_PATHS", "HeavyLimit", "Turns"]
