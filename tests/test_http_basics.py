"""HTTP basics of a production server (issue #16, point 5), on real ``gisgrid serve`` processes.

Compression (brotli, gzip) of large text answers and nothing else; entity tags and ``304`` on
layers and map pages, changing with every write, also another process's; ``HEAD`` on every
``GET`` route under the same access rule; the 413 of a body too large; readiness apart from
liveness; a graceful shutdown on SIGTERM (the request under way finishes, the store is
closed, exit 0); one JSON access line per request with nothing personal in it.
"""

from __future__ import annotations

import asyncio
import gzip
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import brotli
import geopandas as gpd
import pyogrio
import pytest
from accounts import TestAccount, make_account
from conftest import V1
from servers import free_port, gisgrid_server
from shapely.geometry import Point

from gisgrid.api.http import choose_coding, compressible
from gisgrid.roles import Role
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import AuditQuery

#: the longest a server may take to see another process's write (generous: a loaded machine)
WITHIN = 20.0
NORTH = V1 + "001001"
#: headers every answer carries (gisgrid.api.security)
SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


class Answer:
    """A raw HTTP answer: status, headers (lower-case names) and body as sent."""

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(decoded(self))


def ask(
    base: str, path: str, *, method: str = "GET", headers: dict[str, str] | None = None
) -> Answer:
    """One request with http.client: no redirect followed, no body decoded."""
    parts = urllib.parse.urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=120)
    try:
        conn.request(method, path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return Answer(r.status, {k.lower(): v for k, v in r.getheaders()}, body)
    finally:
        conn.close()


def decoded(answer: Answer) -> bytes:
    coding = answer.headers.get("content-encoding")
    if coding == "gzip":
        return gzip.decompress(answer.body)
    if coding == "br":
        return bytes(brotli.decompress(answer.body))
    assert coding is None, coding
    return answer.body


@pytest.fixture
def store(filled_store: GeoPackageStore) -> GeoPackageStore:
    return filled_store


@pytest.fixture
def admin(store: GeoPackageStore) -> TestAccount:
    return make_account(store, Role.ADMIN)


@pytest.fixture
def server(store: GeoPackageStore, admin: TestAccount) -> Iterator[str]:
    with gisgrid_server(str(store.path)) as base:
        yield base


def wait_for(ask_: Callable[[], object], want: object, *, what: str) -> None:
    """Ask until ``ask_()`` is ``want``; fail after :data:`WITHIN` seconds."""
    deadline = time.monotonic() + WITHIN
    while (got := ask_()) != want:
        assert time.monotonic() < deadline, f"{what}: still {got!r}, not {want!r}"
        time.sleep(0.05)


def data_version(base: str) -> str:
    return str(ask(base, "/api/health").json()["data_version"])


def import_household(store: GeoPackageStore, tmp_path: Path, hid: str) -> None:
    """``gisgrid import households --mode append`` in another process: one more household."""
    row = store.read("households").iloc[[8]].copy()
    row["id"], row["backbone_id"], row["backbone"], row["grid_code"] = hid, None, False, None
    row["geometry"] = gpd.GeoSeries([Point(112.45, 29.66)], crs=row.crs).values
    path = tmp_path / f"{hid}.geojson"
    pyogrio.write_dataframe(row, path, driver="GeoJSON")
    done = subprocess.run(
        [sys.executable, "-m", "gisgrid", "import", "households", str(path), "--mode", "append",
         "--store", str(store.path)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


# --- compression ---------------------------------------------------------------------------------


def test_large_answers_are_compressed_and_decode_to_the_same(
    server: str, admin: TestAccount
) -> None:
    path = "/api/layers/grids"
    plain = ask(server, path, headers=admin.headers)
    assert plain.status == 200 and "content-encoding" not in plain.headers
    assert len(plain.body) > 1024
    assert "Accept-Encoding" in plain.headers["vary"]
    for coding in ("gzip", "br"):
        packed = ask(server, path, headers={**admin.headers, "Accept-Encoding": coding})
        assert packed.status == 200
        assert packed.headers["content-encoding"] == coding
        assert int(packed.headers["content-length"]) == len(packed.body) < len(plain.body) / 3
        assert json.loads(decoded(packed)) == json.loads(plain.body)
        assert packed.headers["etag"] == plain.headers["etag"]  # weak: the same content
        for name in SECURITY_HEADERS:
            assert name in packed.headers, name
    # a browser's usual header: brotli preferred; a refused coding is not used
    both = {**admin.headers, "Accept-Encoding": "gzip, deflate, br"}
    assert ask(server, path, headers=both).headers["content-encoding"] == "br"
    refused = {**admin.headers, "Accept-Encoding": "br;q=0, gzip"}
    assert ask(server, path, headers=refused).headers["content-encoding"] == "gzip"
    nothing = {**admin.headers, "Accept-Encoding": "identity"}
    assert "content-encoding" not in ask(server, path, headers=nothing).headers


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("", None),
        ("identity", None),
        ("gzip", "gzip"),
        ("gzip, deflate, br, zstd", "br"),
        ("br;q=0, gzip;q=0.5", "gzip"),
        ("GZIP;Q=1.0", "gzip"),
        ("gzip;q=0, br;q=0", None),
        ("*", "br"),
        ("*;q=0.1, br;q=0", "gzip"),
        ("deflate", None),
        ("gzip;q=oops", None),
    ],
)
def test_the_coding_is_the_best_the_client_accepts(accept: str, coding: str | None) -> None:
    assert choose_coding(accept) == coding


#: answers compressed, and answers sent as they are (compressed formats already)
TEXT = ("application/json", "application/geo+json", "text/html; charset=utf-8", "text/css",
        "text/javascript", "image/svg+xml", "application/problem+json")  # fmt: skip
PACKED = ("application/pdf", "image/jpeg", "image/png", "image/webp", "application/zip",
          "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "")  # fmt: skip


def test_only_text_is_worth_compressing() -> None:
    for kind in TEXT:
        assert compressible(kind), kind
    for kind in PACKED:
        assert not compressible(kind), kind


def test_small_answers_and_compressed_formats_are_sent_as_they_are(
    server: str, admin: TestAccount
) -> None:
    gz = {**admin.headers, "Accept-Encoding": "gzip, br"}
    small = ask(server, "/api/health/live", headers=gz)
    assert small.status == 200 and "content-encoding" not in small.headers
    assert small.json() == {"status": "ok"}
    workbook = ask(server, "/api/report.xlsx", headers=gz)
    assert workbook.status == 200, workbook.body[:300]
    assert workbook.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert "content-encoding" not in workbook.headers
    assert workbook.body[:2] == b"PK"  # the zip the workbook is
    # a 413 is small JSON, with the security headers
    too_large = ask(
        server,
        "/api/incidents",
        method="POST",
        headers={**gz, "Content-Type": "application/json", "Content-Length": str(2**30)},
    )
    assert too_large.status == 413
    assert too_large.json()["error"]["type"] == "PayloadTooLargeError"
    for name in SECURITY_HEADERS:
        assert name in too_large.headers, name


def test_of_the_html_pages_only_the_map_pages_are_compressed(
    server: str, admin: TestAccount
) -> None:
    """The pages with the user bar hold the session's CSRF token next to text from the
    request: compressing them would leak the token by the sizes (BREACH). Map pages hold no
    secret of the session, and they are the large ones."""
    gz = {**admin.headers, "Accept-Encoding": "gzip, br"}
    for path in ("/", "/account/tokens", "/finder"):
        page = ask(server, path, headers=gz)
        assert page.status == 200 and page.headers["content-type"].startswith("text/html")
        assert len(page.body) > 1024 and "content-encoding" not in page.headers, path
        assert b"csrf_token" in page.body, path
    page = ask(server, f"/maps/coverage?village={V1}", headers=gz)
    assert page.status == 200 and page.headers["content-encoding"] == "br"
    assert b"csrf" not in decoded(page)


def test_a_streamed_file_is_compressed_part_by_part(server: str) -> None:
    """The static assets are files sent in parts: compressed, they still decode whole."""
    from gisgrid.cartography import asset_files

    big = [
        n
        for n, f in sorted(asset_files().items())
        if n.endswith(".js") and f.stat().st_size > 70_000
    ]
    name, file = big[0], asset_files()[big[0]]
    for coding in ("gzip", "br"):
        got = ask(server, f"/assets/{name}", headers={"Accept-Encoding": coding})
        assert got.status == 200 and got.headers["content-encoding"] == coding
        assert decoded(got) == Path(file).read_bytes()
        assert got.headers["etag"].startswith('W/"')  # the file's tag named other bytes
        assert "no-store" not in got.headers.get("cache-control", "")  # assets may be kept


# --- entity tags and 304 -------------------------------------------------------------------------


def test_a_layer_is_answered_304_until_another_process_writes(
    server: str, store: GeoPackageStore, admin: TestAccount, tmp_path: Path
) -> None:
    path = "/api/layers/households?limit=100"
    first = ask(server, path, headers=admin.headers)
    assert first.status == 200
    tag = first.headers["etag"]
    assert tag.startswith('W/"')
    assert first.headers["cache-control"] == "private, no-cache"
    again = ask(server, path, headers={**admin.headers, "If-None-Match": tag})
    assert again.status == 304 and again.body == b""
    assert again.headers["etag"] == tag and again.headers["cache-control"] == "private, no-cache"
    # another query, another tag
    other = ask(server, "/api/layers/households?limit=99", headers=admin.headers)
    assert other.headers["etag"] != tag
    # the households' reads are recorded even when the answer is a 304
    reads = len(store.ledger.audit(AuditQuery(action="households_read", limit=1000)))
    assert ask(server, path, headers={**admin.headers, "If-None-Match": tag}).status == 304
    assert len(store.ledger.audit(AuditQuery(action="households_read", limit=1000))) == reads + 1

    before = data_version(server)
    import_household(store, tmp_path, "H010")  # the CLI, another process
    changed = ask(server, path, headers={**admin.headers, "If-None-Match": tag})
    assert changed.status == 200  # at once: the tag asks the store for its version
    assert changed.headers["etag"] != tag
    assert "H010" in {f["id"] for f in changed.json()["features"]}
    # once the server has the new grids in memory too (they place the points), the tag
    # settles: 304 again
    wait_for(lambda: data_version(server) != before, True, what="the server reloads")
    settled = ask(server, path, headers=admin.headers)
    assert settled.status == 200 and "H010" in {f["id"] for f in settled.json()["features"]}
    new = {**admin.headers, "If-None-Match": settled.headers["etag"]}
    assert ask(server, path, headers=new).status == 304


def test_a_write_through_the_store_changes_a_grid_layers_tag(
    server: str, store: GeoPackageStore, admin: TestAccount
) -> None:
    path = "/api/layers/grids?level=3"
    tag = ask(server, path, headers=admin.headers).headers["etag"]
    assert ask(server, path, headers={**admin.headers, "If-None-Match": tag}).status == 304
    grids = store.read("grids")
    grids.loc[grids["code"] == NORTH, "name"] = "改名的网格"
    store.write({"grids": grids})  # the store's API in this test process
    changed = ask(server, path, headers={**admin.headers, "If-None-Match": tag})
    assert changed.status == 200 and changed.headers["etag"] != tag
    assert "改名的网格" in {f["properties"]["name"] for f in changed.json()["features"]}


def test_callers_who_see_differently_never_share_a_tag(
    server: str, store: GeoPackageStore, admin: TestAccount
) -> None:
    worker = make_account(store, Role.GRID, area=NORTH)
    other_worker = make_account(store, Role.GRID, area=V1 + "002002")
    viewer = make_account(store, Role.VIEWER, area="430623")  # sees the county, names masked
    path = "/api/layers/grids?level=3"
    answers = {
        who: ask(server, path, headers=acc.headers)
        for who, acc in {
            "admin": admin, "worker": worker, "other": other_worker, "viewer": viewer
        }.items()
    }  # fmt: skip
    for answer in answers.values():
        assert answer.status == 200
    bodies = {who: a.body for who, a in answers.items()}
    tags = {who: a.headers["etag"] for who, a in answers.items()}
    assert len(set(bodies.values())) == 4  # four different views of the grids …
    assert len(set(tags.values())) == 4  # … four tags
    # one caller's tag is no use to another: the other gets the whole answer
    held = ask(server, path, headers={**worker.headers, "If-None-Match": tags["admin"]})
    assert held.status == 200 and held.body == bodies["worker"]
    # and the same caller role in the same area as another account: the same view, same tag
    twin = make_account(store, Role.GRID, area=NORTH)
    same = {**twin.headers, "If-None-Match": tags["worker"]}
    assert ask(server, path, headers=same).status == 304


def test_a_map_page_is_answered_304_until_its_data_change(
    server: str, store: GeoPackageStore, admin: TestAccount, tmp_path: Path
) -> None:
    path = f"/maps/coverage?village={V1}"
    first = ask(server, path, headers=admin.headers)
    assert first.status == 200 and first.headers["content-type"].startswith("text/html")
    tag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    assert "content-security-policy" in first.headers
    again = ask(server, path, headers={**admin.headers, "If-None-Match": tag})
    assert again.status == 304 and again.body == b"" and again.headers["etag"] == tag
    # the same page for a viewer (names and phones masked) is another page, another tag
    viewer = make_account(store, Role.VIEWER, area="430623")
    theirs = ask(server, path, headers={**viewer.headers, "If-None-Match": tag})
    assert theirs.status == 200 and theirs.headers["etag"] != tag

    before = data_version(server)
    import_household(store, tmp_path, "H011")  # another process adds a household on the map
    wait_for(lambda: data_version(server) != before, True, what="the server sees the write")
    changed = ask(server, path, headers={**admin.headers, "If-None-Match": tag})
    assert changed.status == 200 and changed.headers["etag"] != tag
    assert decoded(changed) != first.body
    new = {**admin.headers, "If-None-Match": changed.headers["etag"]}
    assert ask(server, path, headers=new).status == 304


def test_the_icon_browsers_ask_for_is_no_content_kept_a_day(server: str) -> None:
    """``/favicon.ico``, which every browser asks for on its first page of a site: 204 with
    no body, cacheable for a day, for anyone (not a 404 in the console and the log)."""
    for method in ("GET", "HEAD"):
        icon = ask(server, "/favicon.ico", method=method)
        assert icon.status == 204 and icon.body == b"", (method, icon.status)
        assert icon.headers["cache-control"] == "public, max-age=86400"
        for name in SECURITY_HEADERS:
            assert name in icon.headers, name


# --- HEAD ----------------------------------------------------------------------------------------


def test_head_answers_like_get_without_a_body_under_the_same_rule(
    server: str, store: GeoPackageStore, admin: TestAccount
) -> None:
    health = ask(server, "/api/health", method="HEAD")
    assert health.status == 200 and health.body == b""
    assert health.headers["content-type"] == "application/json"
    assert int(health.headers["content-length"]) == len(ask(server, "/api/health").body)
    for name in SECURITY_HEADERS:
        assert name in health.headers, name

    # never past the access rule: no caller, a caller without the permission
    assert ask(server, "/api/layers/grids", method="HEAD").status == 401
    assert ask(server, "/api/accounts", method="HEAD").status == 401
    page = ask(server, "/maps/coverage", method="HEAD")
    assert page.status == 303 and page.headers["location"].startswith("/login")
    viewer = make_account(store, Role.VIEWER, area="430623")
    assert ask(server, "/api/accounts", method="HEAD", headers=viewer.headers).status == 403
    assert ask(server, "/api/layers/households", method="HEAD", headers=viewer.headers).status == (
        ask(server, "/api/layers/households", headers=viewer.headers).status
    )
    assert ask(server, "/api/accounts", method="HEAD", headers=admin.headers).status == 200

    # the GET's headers, compressed or not, and no body
    for extra in ({}, {"Accept-Encoding": "gzip"}):
        headers = {**admin.headers, **extra}
        got = ask(server, "/api/layers/grids", headers=headers)
        head = ask(server, "/api/layers/grids", method="HEAD", headers=headers)
        assert head.status == 200 and head.body == b""
        for name in ("content-type", "content-length", "content-encoding", "etag", "vary"):
            assert head.headers.get(name) == got.headers.get(name), name
        tagged = {**headers, "If-None-Match": got.headers["etag"]}
        assert ask(server, "/api/layers/grids", method="HEAD", headers=tagged).status == 304
    # a route without GET is not answered to HEAD either
    assert ask(server, "/api/public/reports", method="HEAD").status == 405


# --- readiness and liveness ----------------------------------------------------------------------


def test_ready_means_the_store_answers_and_the_caches_are_warm(
    server: str, store: GeoPackageStore
) -> None:
    ready = ask(server, "/api/health")
    assert ready.status == 200
    body = ready.json()
    assert body["status"] == "ok" and body["ready"] is True and body["warm"] is True
    assert ask(server, "/api/health/live").json() == {"status": "ok"}
    # the store cannot be read (a broken file in its place): not ready (503), still alive
    moved = store.path.with_name("away.gpkg")
    os.replace(store.path, moved)
    store.path.write_bytes(b"not a GeoPackage " * 100)
    try:
        gone = ask(server, "/api/health")
        assert gone.status == 503
        assert gone.json()["ready"] is False and gone.json()["status"] == "unavailable"
        assert ask(server, "/api/health/live").status == 200
    finally:
        os.replace(moved, store.path)
    assert ask(server, "/api/health").status == 200


# --- graceful shutdown ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def county_copy(sample_gpkg: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test sample county (30,000 households) in a copy of its own: its map is slow."""
    path = tmp_path_factory.mktemp("http_county") / "county.gpkg"
    shutil.copy(sample_gpkg.path, path)
    return path


def test_sigterm_lets_the_request_under_way_finish_and_exits_0(county_copy: Path) -> None:
    store = GeoPackageStore(county_copy)
    admin = make_account(store, Role.ADMIN)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GISGRID_")}
    env["GISGRID_WEB_SHUTDOWN_SECONDS"] = "300"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gisgrid", "serve", "--store", str(county_copy), "--port",
         str(port), "--access-log"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(lambda: _alive(base), True, what="the server starts")
        answer: list[Answer] = []
        # the county's coverage map, built on first use: seconds of work
        slow = threading.Thread(
            target=lambda: answer.append(ask(base, "/maps/coverage", headers=admin.headers))
        )
        slow.start()
        # under way: the token's first use is recorded as the request is let in
        wait_for(lambda: _token_used(store), True, what="the request is let in")
        assert not answer  # still building the page
        proc.send_signal(signal.SIGTERM)
        slow.join(timeout=300)
        printed, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    log = printed.decode()
    assert answer and answer[0].status == 200, log
    assert b"</html>" in answer[0].body
    assert proc.returncode == 0, log
    # it was under way when the stop came: uvicorn waited for it, then the app shut down
    assert "Waiting for connections to close" in log, log
    waited = log.index("Waiting for connections to close")
    assert waited < log.index("Application shutdown complete")
    lines = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    assert {"route": "/maps/{kind}", "status": 200} in [
        {"route": x["route"], "status": x["status"]} for x in lines
    ]


def _alive(base: str) -> bool:
    try:
        return ask(base, "/api/health/live").status == 200
    except OSError:
        return False


def _token_used(store: GeoPackageStore) -> bool:
    return any(t.last_used_at is not None for t in store.ledger.tokens())


# --- the access log ------------------------------------------------------------------------------


def test_the_access_log_is_json_without_anything_personal(
    store: GeoPackageStore, admin: TestAccount
) -> None:
    household = store.read("households").iloc[0]
    hid, name = str(household["id"]), str(household["head_name"])
    phone = "13812345678"
    printed: list[str] = []
    with gisgrid_server(str(store.path), options=["--access-log"], output=printed) as base:
        query = urllib.parse.urlencode({"q": name, "reason": f"走访 {phone}"})
        assert ask(base, f"/api/households/search?{query}", headers=admin.headers).status == 200
        assert ask(base, f"/api/households/{hid}?reason={phone}", headers=admin.headers).status == (
            200
        )
        assert ask(base, f"/api/households/{hid}", method="HEAD").status == 401
        assert ask(base, "/report/W1-abcdefghjkmnpq").status in (200, 404)
        assert ask(base, f"/no/such/{hid}").status == 404
    log = printed[0]
    lines = [json.loads(x) for x in log.splitlines() if x.startswith("{")]
    seen = {(x["method"], x["route"], x["status"], x["role"]) for x in lines}
    assert ("GET", "/api/households/search", 200, "admin") in seen
    assert ("GET", "/api/households/{household_id}", 200, "admin") in seen
    assert ("HEAD", "/api/households/{household_id}", 401, None) in seen
    assert {("GET", "/report/{code}", s, None) for s in (200, 404)} & seen
    assert ("GET", None, 404, None) in seen
    for line in lines:
        assert set(line) == {"time", "method", "route", "status", "ms", "bytes", "role"}
        assert line["time"].endswith("Z") and line["ms"] >= 0 and line["bytes"] >= 0
    # nothing of the caller, the household, the query or the tracking code
    for secret in (hid, name, urllib.parse.quote(name), phone, admin.username, admin.token,
                   "abcdefghjkmnpq", "q=", "reason", "127.0.0.1"):  # fmt: skip
        assert all(secret not in x for x in log.splitlines() if x.startswith("{")), secret


def test_not_ready_while_the_caches_are_warming(store: GeoPackageStore) -> None:
    """Started, the store answering, the caches not yet filled: 503 ``warming``."""
    from gisgrid.api.limits import Turns
    from gisgrid.api.routes.health import readiness
    from gisgrid.api.state import AppState

    state = AppState.load(store)
    turns = Turns(concurrency=1, queue=0)
    try:
        cold = asyncio.run(readiness(state, turns))
        assert not isinstance(cold, dict) and getattr(cold, "status_code", None) == 503
        body = json.loads(bytes(getattr(cold, "body", b"")))
        assert body["status"] == "warming" and body["ready"] is False and body["warm"] is False
        state.warm()
        warm = asyncio.run(readiness(state, turns))
        assert getattr(warm, "ready", None) is True and getattr(warm, "status", None) == "ok"
    finally:
        store.close()


def test_ready_once_the_hot_paths_are_warm_before_the_caches_are_filled(
    store: GeoPackageStore,
) -> None:
    """Readiness waits for the hot paths only: the grids and the locate index loaded and
    answered once (what the first ``/api/locate`` would build, built), not for the
    dashboard's caches, which ``caches`` reports; :meth:`AppState.warm` does both, in order."""
    from gisgrid.api.limits import Turns
    from gisgrid.api.routes.health import readiness
    from gisgrid.api.state import AppState

    state = AppState.load(store)
    turns = Turns(concurrency=1, queue=0)
    try:
        net = state.locator.net()
        assert "by_phone" not in vars(net)  # built on first use: not yet
        state.prime()
        assert "by_phone" in vars(net)  # what every signed-in request's scope reads
        state.warmed.set()  # as warm() does after prime(), before it fills the caches
        ready = asyncio.run(readiness(state, turns))
        assert getattr(ready, "ready", None) is True and getattr(ready, "warm", None) is True
        assert getattr(ready, "caches", None) is False
        assert state.kept() == () and not state._searches  # no county's working set yet
        state.warm()
        filled = asyncio.run(readiness(state, turns))
        assert getattr(filled, "caches", None) is True
        (county,) = state.kept()  # the store's one county: layers, report and search
        assert state._sets[county].report is not None and county in state._searches
    finally:
        store.close()


def test_a_layers_tag_on_postgis_follows_sql_from_another_client(
    pg_store: Any, pg_url: str, filled_store: GeoPackageStore
) -> None:
    """The same on PostGIS: a write in SQL (as QGIS or psql sends it) changes the tag at once."""
    import psycopg

    from gisgrid.layers import LAYERS

    pg_store.write({name: filled_store.read(name) for name in LAYERS})
    admin = make_account(pg_store, Role.ADMIN)
    path = "/api/layers/grids?level=3"
    with gisgrid_server(pg_url) as base:
        first = ask(base, path, headers={**admin.headers, "Accept-Encoding": "gzip"})
        assert first.status == 200 and first.headers["content-encoding"] == "gzip"
        tag = first.headers["etag"]
        held = {**admin.headers, "If-None-Match": tag}
        assert ask(base, path, headers=held).status == 304
        assert ask(base, path, method="HEAD", headers=held).status == 304
        with psycopg.connect(pg_url) as conn:
            conn.execute("UPDATE gisgrid.grids SET name = %s WHERE code = %s", ("改名", NORTH))
        changed = ask(base, path, headers=held)
        assert changed.status == 200 and changed.headers["etag"] != tag
        assert "改名" in {f["properties"]["name"] for f in changed.json()["features"]}
