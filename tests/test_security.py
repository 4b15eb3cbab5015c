"""Web security basics (#12, point 5): headers, a script policy without inline script except
by hash, body size limits, no CORS unless configured.

The policy is proven in real Chromium over real HTTP on loopback: every page loads with no
policy violation and its map draws; a script the page did not ship is refused.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import shutil
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from accounts import TestAccount, make_account
from browser import chromium, map_ready, new_page
from conftest import V1
from fastapi.testclient import TestClient
from servers import gisgrid_server
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from gisgrid.api import create_app
from gisgrid.api.security import (
    BodyLimit,
    SecurityHeaders,
    basemap_sources,
    content_security_policy,
    inline_script_hashes,
)
from gisgrid.cartography import build_map, render_page
from gisgrid.services import accounts
from gisgrid.stores.geopackage import GeoPackageStore

TEMPLATES = Path(__file__).resolve().parent.parent / "gisgrid" / "api" / "templates"
#: every page of the web app (the finder without a village lists the villages)
PAGES = (
    "/",
    "/maps/coverage",
    "/maps/incidents",
    f"/maps/finder?village={V1}",
    "/finder",
    "/login",
)
#: what every answer carries, whatever it is
ALWAYS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


@pytest.fixture
def store_file(filled_store_file: Path, tmp_path: Path) -> Path:
    """A private copy of the little county (a server may write beside its store)."""
    path = tmp_path / "county" / "county.gpkg"
    path.parent.mkdir()
    shutil.copyfile(filled_store_file, path)
    return path


@pytest.fixture
def admin(store_file: Path) -> TestAccount:
    """A county admin of the store (every page and API route is open to it)."""
    return make_account(str(store_file))


def signed_in(store_file: Path, admin: TestAccount) -> TestClient:
    """A client of the app on ``store_file`` calling with the admin's API token."""
    client = TestClient(create_app(store=str(store_file)), base_url="https://testserver")
    client.headers.update(admin.headers)
    return client


@pytest.fixture
def client(
    store_file: Path, admin: TestAccount, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    for name in ("GISGRID_TILES", "GISGRID_WEB_CORS_ORIGINS"):
        monkeypatch.delenv(name, raising=False)
    with signed_in(store_file, admin) as c:
        yield c


def policy_of(response: Any) -> dict[str, list[str]]:
    """The Content-Security-Policy of a response, directive → sources."""
    out: dict[str, list[str]] = {}
    for part in response.headers["content-security-policy"].split(";"):
        name, *values = part.split()
        out[name] = values
    return out


# --- the script hashes ----------------------------------------------------------------------


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_hashes_cover_exactly_the_inline_scripts_a_browser_runs() -> None:
    html = (
        "<html><head><script>var a = 1;</script>"
        '<script src="/assets/x.js"></script>'
        '<script type="application/json" id="d">{"n": "<b>"}</script>'
        "<SCRIPT type='text/javascript'>\r\nvar b = '</scr' + 'ipt>';\r\n</SCRIPT>"
        "<script>var a = 1;</script>"
        '<script type="module">import "/assets/m.js";</script>'
        "</head><body><p>var c;</p></body></html>"
    )
    assert inline_script_hashes(html) == [
        _sha("var a = 1;"),
        _sha("\nvar b = '</scr' + 'ipt>';\n"),  # the browser reads CR LF as LF
        _sha('import "/assets/m.js";'),
    ]
    assert inline_script_hashes("<p>no script</p>") == []


def test_the_policy_never_allows_inline_script_or_eval() -> None:
    policy = content_security_policy(script_hashes=["'sha256-abc='"], image_sources=["https://t"])
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert directives["script-src"] == "'self' 'sha256-abc='"
    assert "unsafe" not in directives["script-src"] and "unsafe" not in directives["default-src"]
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["img-src"] == "'self' data: https://t"


class _Markup(HTMLParser):
    """Inline scripts, event-handler attributes and javascript: URLs of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.handlers: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {n for n, _v in attrs}
        if tag == "script" and "src" not in names:
            self.inline_scripts += 1
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.handlers.append(f"<{tag} {name}={value!r}>")


def _markup(html: str) -> _Markup:
    found = _Markup()
    found.feed(html)
    found.close()
    return found


def test_templates_hold_no_inline_script() -> None:
    """No script in a template: a page that needs one (the grid editor) links a static file
    by ``src`` and holds nothing between the tags."""
    templates = sorted(TEMPLATES.glob("*.html"))
    assert templates
    for path in templates:
        text = path.read_text(encoding="utf-8")
        linked = re.findall(r'<script src="\{\{ [a-z_]+ \}\}"></script>', text)
        assert len(re.findall(r"<script\b", text, re.I)) == len(linked), (
            f"{path.name} has a script element that is not a bare link to a static file"
        )
        assert not re.search(r"\son[a-z]+\s*=", text, re.I), f"{path.name} has an event handler"
        assert "javascript:" not in text.lower(), f"{path.name} has a javascript: URL"


@pytest.mark.parametrize("kind", ["coverage", "incidents", "finder"])
def test_map_pages_have_no_event_handler_attributes(kind: str, store_file: Path) -> None:
    """Hashes allow script elements only: a handler attribute (onclick=…) would be refused."""
    options = {"village": V1} if kind == "finder" else {}
    html = render_page(build_map(kind, GeoPackageStore(store_file), **options), "/assets/").html
    found = _markup(html)
    assert found.handlers == []
    assert found.inline_scripts >= 1  # the page does have inline scripts: the hashes matter
    assert len(inline_script_hashes(html)) >= 1


# --- the headers ----------------------------------------------------------------------------


def test_every_answer_carries_the_security_headers(client: TestClient) -> None:
    answers = {
        "page": client.get("/"),
        "map": client.get("/maps/coverage"),
        "api": client.get("/api/layers"),
        "error": client.get("/api/nope"),
        "bad request": client.get("/api/locate", params={"lon": "x"}),
        "asset": client.get("/assets/" + _first_asset(client)),
    }
    for what, r in answers.items():
        for name, value in ALWAYS.items():
            assert r.headers.get(name) == value, (what, name)
        assert "geolocation=(self)" in r.headers["permissions-policy"], what
        assert "'unsafe-inline'" not in policy_of(r)["script-src"], what
        assert "access-control-allow-origin" not in r.headers, what
    for what in ("page", "api", "error", "bad request"):
        assert answers[what].headers["cache-control"] == "no-store", what
    # a map page may be kept by the browser alone, asked again before every use (its ETag)
    assert answers["map"].headers["cache-control"] == "private, no-cache"
    assert "no-store" not in answers["asset"].headers.get("cache-control", "")
    for what in ("page", "api", "error"):
        assert answers[what].headers["x-frame-options"] == "DENY", what
        assert policy_of(answers[what])["frame-ancestors"] == ["'none'"], what
    # the dashboard frames the coverage map: this server's pages only
    assert answers["map"].headers["x-frame-options"] == "SAMEORIGIN"
    assert policy_of(answers["map"])["frame-ancestors"] == ["'self'"]


def _first_asset(client: TestClient) -> str:
    html = client.get("/maps/coverage").text
    found = re.search(r'src="/assets/([^"]+\.js)"', html)
    assert found is not None
    return found.group(1)


@pytest.mark.parametrize("path", PAGES)
def test_each_page_allows_exactly_its_own_inline_scripts(client: TestClient, path: str) -> None:
    r = client.get(path)
    assert r.status_code == 200
    script_src = policy_of(r)["script-src"]
    assert script_src == ["'self'", *inline_script_hashes(r.text)]
    assert policy_of(r)["default-src"] == ["'self'"]


def test_the_configured_basemap_may_draw_its_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GISGRID_TILES", "none")
    assert basemap_sources() == []
    monkeypatch.setenv("GISGRID_TILES", "custom")
    monkeypatch.setenv("GISGRID_TILES_URL", "http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png")
    assert basemap_sources() == ["http://10.1.2.3:8080"]
    monkeypatch.setenv("GISGRID_TILES", "tianditu")
    monkeypatch.setenv("GISGRID_TIANDITU_KEY", "k")
    assert basemap_sources() == ["https://*.tianditu.gov.cn"]
    monkeypatch.setenv("GISGRID_TILES", "osm")
    assert basemap_sources() == ["https://tile.openstreetmap.org"]


def test_a_page_with_a_basemap_lets_its_tiles_in(
    store_file: Path, admin: TestAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GISGRID_TILES", "custom")
    monkeypatch.setenv("GISGRID_TILES_URL", "http://10.1.2.3:8080/tiles/{z}/{x}/{y}.png")
    with signed_in(store_file, admin) as c:
        assert policy_of(c.get("/maps/coverage"))["img-src"] == [
            "'self'",
            "data:",
            "http://10.1.2.3:8080",
        ]
        assert "http://10.1.2.3:8080" in policy_of(c.get("/api/health"))["img-src"]


def test_streamed_answers_pass_through_unbuffered() -> None:
    """Each chunk reaches the client before the next is made (a buffering middleware would
    wait for the end: the stream waits for its first chunk to arrive, so it would hang)."""
    first_sent = asyncio.Event()

    async def chunks() -> Any:
        yield b"one,"
        await asyncio.wait_for(first_sent.wait(), timeout=5)
        yield b"two"

    async def endpoint(_request: Any) -> StreamingResponse:
        return StreamingResponse(chunks(), media_type="text/csv")

    inner = Starlette(routes=[Route("/s", endpoint)])
    app = SecurityHeaders(
        BodyLimit(inner, max_body_bytes=1024, max_json_bytes=1024),
        policy=content_security_policy(),
    )
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if message.get("body") == b"one,":
            first_sent.set()

    requests = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if requests:
            return requests.pop()
        await asyncio.Event().wait()  # the client stays connected
        return {"type": "http.disconnect"}

    scope = {"type": "http", "method": "GET", "path": "/s", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start, *bodies = sent
    headers = dict(start["headers"])
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert [m["body"] for m in bodies if m["body"]] == [b"one,", b"two"]


# --- body limits ----------------------------------------------------------------------------


@pytest.fixture
def small_limits(
    store_file: Path, admin: TestAccount, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[TestClient, int, int]]:
    monkeypatch.setenv("GISGRID_WEB_MAX_JSON_BYTES", "2048")
    monkeypatch.setenv("GISGRID_WEB_MAX_BODY_BYTES", "8192")
    with signed_in(store_file, admin) as c:
        yield c, 2048, 8192


def _is_413(r: Any) -> None:
    assert r.status_code == 413, r.text
    error = r.json()["error"]
    assert error["type"] == "PayloadTooLargeError"
    assert set(error) == {"type", "code", "message", "problems"}
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_json_body_over_its_limit_is_refused(small_limits: tuple[TestClient, int, int]) -> None:
    client, json_limit, _ = small_limits
    body = {"type": "Feature", "properties": {"description": "x" * json_limit}}
    _is_413(client.post("/api/incidents", json=body))
    # no content type: FastAPI reads the body as JSON, so the JSON limit holds
    _is_413(client.post("/api/incidents", content=b"{" + b" " * json_limit + b"}"))
    # under the limit the request reaches the route (which finds the feature wrong)
    assert client.post("/api/incidents", json={"type": "Feature"}).status_code == 422


def test_other_bodies_have_the_larger_limit(small_limits: tuple[TestClient, int, int]) -> None:
    client, json_limit, body_limit = small_limits
    mid = b"x" * (json_limit + 100)
    r = client.post("/api/incidents", content=mid, headers={"content-type": "text/plain"})
    assert r.status_code != 413
    big = b"x" * (body_limit + 1)
    _is_413(client.post("/api/incidents", content=big, headers={"content-type": "text/plain"}))


def test_a_chunked_body_is_counted(small_limits: tuple[TestClient, int, int]) -> None:
    client, json_limit, _ = small_limits

    def body() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"type": "Feature", "properties": {"description": "'
        for _ in range(json_limit // 100 + 1):
            yield b"x" * 100
        yield b'"}}'

    _is_413(
        client.post("/api/incidents", content=body(), headers={"content-type": "application/json"})
    )


def test_a_case_photo_upload_has_its_own_limit(
    store_file: Path, admin: TestAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``GISGRID_CASE_PHOTO_MAX_BYTES`` is the photo route's limit, above or below the
    others; past it the answer is 413, announced or chunked."""
    monkeypatch.setenv("GISGRID_WEB_MAX_JSON_BYTES", "2048")
    monkeypatch.setenv("GISGRID_WEB_MAX_BODY_BYTES", "8192")
    monkeypatch.setenv("GISGRID_CASE_PHOTO_MAX_BYTES", "16384")
    jpeg = {"content-type": "image/jpeg"}
    within = b"\xff\xd8\xff" + bytes(12000)  # over the general limit, within the photo's
    with signed_in(store_file, admin) as c:
        url = "/api/incidents/NO-SUCH-INCIDENT/photos"
        assert c.post(url, content=within, headers=jpeg).status_code == 404  # reached the route
        _is_413(c.post(url, content=b"\xff\xd8\xff" + bytes(16384), headers=jpeg))
        # JSON to the photo route: the photo's limit too (then refused for its type)
        r = c.post(url, content=b"{" + b" " * 4000 + b"}", headers={"content-type": "text/json"})
        assert r.status_code == 404

        def body() -> Iterator[bytes]:  # no Content-Length: sent chunked
            yield b"\xff\xd8\xff"
            for _ in range(17):
                yield bytes(1000)

        _is_413(c.post(url, content=body(), headers=jpeg))
        # elsewhere the general limit holds
        _is_413(c.post("/api/incidents", content=within, headers=jpeg))


def _http(port: int, head: bytes, chunks: list[bytes], *, timeout: float = 10) -> bytes:
    """Send ``head`` and ``chunks`` on a raw connection and read the answer (without ever
    ending a chunked body: a server that waits for the end never answers)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head)
        for chunk in chunks:
            s.sendall(chunk)
        deadline = time.monotonic() + timeout
        data = b""
        while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
            if time.monotonic() > deadline:
                break
            got = s.recv(65536)
            if not got:
                break
            data += got
        return data


def test_the_real_server_answers_413_before_the_body_ends(
    store_file: Path, admin: TestAccount
) -> None:
    auth = b"Authorization: Bearer %s\r\n" % admin.token.encode()
    with gisgrid_server(str(store_file)) as base:
        port = int(urlsplit(base).port or 0)
        limit = 1024 * 1024  # the default JSON limit
        # announced too large: answered at once, nothing of the body sent
        head = (
            b"POST /api/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (auth, limit * 50)
        )
        answer = _http(port, head, [])
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["error"]["type"] == (
            "PayloadTooLargeError"
        )
        # chunked, never ended: the server stops reading past the limit and answers
        head = (
            b"POST /api/incidents HTTP/1.1\r\nHost: 127.0.0.1\r\n%s"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" % auth
        )
        piece = b"x" * 65536
        chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (limit // len(piece) + 2)
        answer = _http(port, head, chunks)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


# --- CORS -----------------------------------------------------------------------------------


def test_no_cors_unless_configured(client: TestClient) -> None:
    origin = {"Origin": "http://elsewhere.example"}
    r = client.get("/api/layers", headers=origin)
    assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    pre = client.options(
        "/api/incidents", headers=origin | {"Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in pre.headers
    assert not any(k.startswith("access-control-") for k in pre.headers)


def test_cors_for_exactly_the_configured_origins(
    store_file: Path, admin: TestAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GISGRID_WEB_CORS_ORIGINS", '["https://portal.county.example"]')
    with signed_in(store_file, admin) as c:
        allowed = {"Origin": "https://portal.county.example"}
        r = c.get("/api/layers", headers=allowed)
        assert r.headers["access-control-allow-origin"] == "https://portal.county.example"
        assert "access-control-allow-credentials" not in r.headers
        pre = c.options(
            "/api/incidents", headers=allowed | {"Access-Control-Request-Method": "POST"}
        )
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == "https://portal.county.example"
        assert pre.headers["x-content-type-options"] == "nosniff"
        other = c.get("/api/layers", headers={"Origin": "http://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers


# --- in Chromium ----------------------------------------------------------------------------

#: records every policy violation of the page and its frames, before any script of theirs runs
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", e => window.__violations.push(
    e.effectiveDirective + " " + (e.blockedURI || "inline") + " " + (e.sample || "")));
"""


@dataclass(frozen=True)
class Served:
    """The real server on a copy of the little county, and a county admin's session."""

    base: str
    cookie: str


@pytest.fixture(scope="module")
def served(filled_store_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    path = tmp_path_factory.mktemp("security_served") / "county.gpkg"
    shutil.copyfile(filled_store_file, path)
    admin = make_account(str(path))
    store = GeoPackageStore(path)
    try:
        signed = accounts.sign_in(store.ledger, admin.username, admin.password, address=None)
    finally:
        store.close()
    with gisgrid_server(str(path)) as base:
        yield Served(base, signed.cookie_value)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _open(browser: Any, url: str, served: Served | None = None) -> tuple[Any, Any, list[str]]:
    page, log = new_page(browser, viewport={"width": 1280, "height": 900})
    if served is not None:  # signed in
        page.context.add_cookies(
            [{"name": accounts.SESSION_COOKIE, "value": served.cookie, "url": served.base}]
        )
    console: list[str] = []
    page.on("console", lambda msg: console.append(msg.text))
    page.add_init_script(RECORD_VIOLATIONS)
    page.goto(url, wait_until="load", timeout=60_000)
    return page, log, console


def _violations(page: Any, console: list[str]) -> list[str]:
    found = [v for frame in page.frames for v in frame.evaluate("window.__violations || []")]
    refused = [m for m in console if "Refused to" in m or "Content Security Policy" in m]
    return found + refused


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_with_no_policy_violation_and_draws(
    browser: Any, served: Served, path: str
) -> None:
    signed = path != "/login"
    page, log, console = _open(browser, served.base + path, served if signed else None)
    assert page.url == served.base + path  # signed in: not sent to the sign-in page
    maps = [f for f in page.frames if "/maps/" in f.url]
    if path not in ("/finder", "/login"):
        assert maps, "the page shows no map"
    for frame in maps:
        map_ready(frame)
        drawn = frame.evaluate(
            "document.querySelectorAll('.leaflet-overlay-pane canvas, .leaflet-overlay-pane path,"
            " .leaflet-marker-pane > *').length"
        )
        assert drawn > 0, f"nothing drawn on {frame.url}"
        counts = frame.evaluate("window.gisgrid.counts")
        assert sum(counts.values()) > 0
    if path == "/finder":
        page.locator("details.township summary").first.click()  # a township, then a village
        page.locator("details.township[open] li a").first.click()
        map_ready(page)
    page.wait_for_timeout(200)
    assert _violations(page, console) == []
    assert log.errors == [] and log.blocked == []


def test_a_script_the_page_did_not_ship_is_refused(browser: Any, served: Served) -> None:
    """The listener above can see a violation: an injected inline script and handler are
    refused, and do not run."""
    page, _log, console = _open(browser, served.base + "/maps/coverage", served)
    map_ready(page)
    page.evaluate(
        """() => {
            const s = document.createElement("script");
            s.textContent = "window.__ran = true;";
            document.body.appendChild(s);
            const img = document.createElement("img");
            img.setAttribute("onerror", "window.__ran = true;");
            img.src = "data:,x";
            document.body.appendChild(img);
        }"""
    )
    page.wait_for_timeout(300)
    assert page.evaluate("window.__ran === undefined")
    found = _violations(page, console)
    assert any(v.startswith("script-src") for v in found), found


def test_no_other_site_can_frame_the_pages(browser: Any, served: Served) -> None:
    page, _log, _console = _open(browser, "about:blank", served)
    base = served.base
    page.set_content(
        f'<iframe id="a" src="{base}/login"></iframe><iframe id="b" src="{base}/maps/coverage">'
    )
    page.wait_for_timeout(1500)
    frames = page.frames[1:]
    assert len(frames) == 2
    # refused: the browser shows its own error page in the frame instead
    assert all(f.url.startswith("chrome-error://") for f in frames), [f.url for f in frames]


def test_an_unhandled_fault_answers_500_with_the_headers_and_no_detail() -> None:
    from fastapi import FastAPI

    from gisgrid.api import security

    app = FastAPI()
    security.install(app)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail of the fault")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "server_fault"
    assert "secret" not in r.text
    for name, value in ALWAYS.items():
        assert r.headers[name] == value
    assert "default-src" in r.headers["content-security-policy"]


def test_a_json_429_says_when_to_try_again() -> None:
    from fastapi import FastAPI

    from gisgrid.api import errors as api_errors
    from gisgrid.errors import RateLimitedError

    app = FastAPI()
    api_errors.install(app)

    @app.get("/limited")
    def limited() -> None:
        raise RateLimitedError("too many", retry_after=17)

    with TestClient(app) as c:
        r = c.get("/limited")
    assert r.status_code == 429 and r.headers["retry-after"] == "17"
