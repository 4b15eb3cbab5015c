"""Real headless Chromium for the map tests, with the network blocked.

Debian's ``chromium`` (never a downloaded browser) driven by Python playwright. Every
request that is not ``file:``, ``data:``, ``blob:`` or to the loopback address is aborted
and recorded; console errors and uncaught page errors are recorded too. A test asserts both
lists are empty.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

CHROMIUM = os.environ.get("GISGRID_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_SCHEMES = {"file", "data", "blob", "about"}
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def is_local(url: str) -> bool:
    """Whether a request stays on this machine (a file, inline data, or loopback)."""
    parsed = urlparse(url)
    if parsed.scheme in LOCAL_SCHEMES:
        return True
    host = (parsed.hostname or "").lower()
    return host in LOOPBACK or host.startswith("127.")


@dataclass
class PageLog:
    """What a page did that a test checks: requests blocked, errors, every request."""

    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser (playwright), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def new_page(
    browser: Any, *, cookies: list[dict[str, str]] | None = None, **context_options: Any
) -> tuple[Any, PageLog]:
    """A page in a fresh context whose non-local requests are aborted and logged; the context
    holds ``cookies`` (a signed-in session: ``accounts.session_cookies``)."""
    context = browser.new_context(**context_options)
    if cookies:
        context.add_cookies(cookies)
    log = PageLog()

    def route(r: Any) -> None:
        url = r.request.url
        log.requests.append(url)
        if is_local(url):
            r.continue_()
        else:
            log.blocked.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on(
        "console",
        lambda msg: (
            log.errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: log.errors.append(f"page error: {exc}"))
    page.on("requestfailed", lambda req: log.errors.append(f"request failed: {req.url}")
            if is_local(req.url) else None)  # fmt: skip
    return page, log


def wait_until(frame: Any, predicate: str, arg: Any = None, *, timeout_ms: float = 60_000) -> Any:
    """Poll ``predicate`` (a JavaScript function of ``arg``) from here until it is truthy.

    For pages served with a Content-Security-Policy: playwright's ``wait_for_function``
    re-evaluates its predicate with ``eval`` inside the page, which the policy refuses
    (only the first, immediate check passes, as devtools evaluation).
    """
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        value = frame.evaluate(predicate, arg)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"still false after {timeout_ms / 1000:.0f} s: {predicate}")
        time.sleep(0.05)


def map_ready(frame: Any, *, timeout_ms: float = 60_000) -> None:
    """Wait until the map of a page (or frame) says it is drawn (CSP-safe)."""
    wait_until(frame, "() => !!(window.gisgrid && window.gisgrid.ready)", timeout_ms=timeout_ms)


def open_map(page: Any, path: Path, *, timeout_ms: float = 60_000) -> None:
    """Open a saved map from disk and wait until its script says it is drawn."""
    page.goto(path.resolve().as_uri(), wait_until="load", timeout=timeout_ms)
    page.wait_for_function("window.gisgrid && window.gisgrid.ready === true", timeout=timeout_ms)


def click_latlng(page: Any, lat: float, lng: float) -> None:
    """A real mouse click where the map draws the point (lat, lng)."""
    xy = page.evaluate(
        """([lat, lng]) => {
            const m = window.gisgrid.map;
            const p = m.latLngToContainerPoint([lat, lng]);
            const r = m.getContainer().getBoundingClientRect();
            return [p.x + r.left, p.y + r.top];
        }""",
        [lat, lng],
    )
    page.mouse.click(xy[0], xy[1])
