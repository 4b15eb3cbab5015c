"""Pathological input and heavy requests stall neither the server nor the CLI (issue #16,
point 4).

* A grid or boundary of more vertices than ``GISGRID_GEOMETRY_MAX_VERTICES`` is refused at
  import (exit 4, the feature and its count named, nothing written); grids within the bound
  are checked and mapped.
* Heavy requests take turns (``GISGRID_WEB_HEAVY_CONCURRENCY``, ``…_HEAVY_QUEUE``): beyond
  them the answer is 503 with ``Retry-After`` at once, and ``/api/health`` and
  ``/api/locate`` answer meanwhile, on a real ``gisgrid serve``.
* ``/api/layers/{layer}`` pages in the store: the same features, page by page, as the whole
  layer; ``next`` names the next page.
* A 300 MB body is refused before it is read.

No timing is asserted: a request that should answer within moments is given a generous
hang guard (:data:`GUARD` seconds) and fails only when it hangs.
"""

from __future__ import annotations

import http.client
import json
import os
import select
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import pandas as pd
import pytest
import shapely
from accounts import TestAccount, make_account
from conftest import LEVEL3_BOXES, V1, raw_frame, write_frame
from fastapi.testclient import TestClient
from servers import gisgrid_server

from gisgrid.api.limits import HeavyLimit, Turns
from gisgrid.api.main import create_app
from gisgrid.layers import LAYERS
from gisgrid.layers.incidents import STATUSES
from gisgrid.roles import Role
from gisgrid.stores.base import Window
from gisgrid.stores.geopackage import GeoPackageStore

#: seconds a request that should answer at once may take before the test calls it hung
GUARD = 60.0
#: vertices of each level-3 grid of the heavy county: real boundaries have a few thousand;
#: the four grids' GeoJSON is megabytes, more than the sockets hold for a client that does
#: not read (so such a request stays in flight)
VERTICES = 60_000


def segmentized(geom: shapely.Geometry, vertices: int) -> shapely.Geometry:
    """``geom`` with extra vertices on its edges, about ``vertices`` in all."""
    return shapely.segmentize(geom, float(geom.length) / vertices)


def county_with(path: Path, *, vertices: int) -> GeoPackageStore:
    """The little county with its level-3 grids segmentized to about ``vertices`` each."""
    frames = {name: raw_frame(name) for name in LAYERS}
    grids = frames["grids"]
    for i in grids.index[grids["level"] == 3]:
        grids.loc[i, "geometry"] = segmentized(grids.geometry[i], vertices)
    store = GeoPackageStore(path)
    store.write({name: decl.validate(frames[name]) for name, decl in LAYERS.items()})
    return store


@pytest.fixture(scope="module")
def heavy_county(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The little county whose level-3 grids have :data:`VERTICES` vertices each."""
    return county_with(tmp_path_factory.mktemp("heavy") / "heavy.gpkg", vertices=VERTICES).path


# --- geometry bounds at import ---------------------------------------------------------------


def test_a_grid_over_the_vertex_bound_is_refused_at_import(
    run_gisgrid: Any, filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    grids = raw_frame("grids")
    code = V1 + "001002"
    i = grids.index[grids["code"] == code][0]
    grids.loc[i, "geometry"] = segmentized(grids.geometry[i], 101_000)
    vertices = int(shapely.get_num_coordinates(grids.geometry[i]))
    assert vertices > 100_000
    before = filled_store.read("grids")
    done = run_gisgrid("import", "grids", write_frame(grids, tmp_path / "g.geojson"),
                       "--mode", "replace", store=filled_store.path)  # fmt: skip
    assert done.returncode == 4, done.stderr
    said = done.stdout + done.stderr
    assert code in said and f"{vertices:,}" in said and "100,000" in said
    assert "顶点过多" in said and "too many vertices" in said
    assert "1 problem(s)" in said  # the bound alone
    after = filled_store.read("grids")
    assert shapely.equals_exact(after.geometry.values, before.geometry.values, tolerance=0).all()


def test_the_bound_is_a_setting(tmp_path: Path, filled_store_file: Path) -> None:
    grids = raw_frame("grids")
    grids.loc[grids["level"] == 3, "geometry"] = [
        segmentized(g, 3_000) for g in grids.geometry[grids["level"] == 3]
    ]
    path = write_frame(grids, tmp_path / "g.geojson")

    def run(bound: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GISGRID_")}
        env |= {"GISGRID_GEOMETRY_MAX_VERTICES": bound, "COLUMNS": "200"}
        store = tmp_path / f"s{bound}.gpkg"
        shutil.copyfile(filled_store_file, store)
        return subprocess.run(
            [sys.executable, "-m", "gisgrid", "import", "grids", str(path), "--store", str(store),
             "--mode", "replace"],
            env=env, capture_output=True, text=True, check=False, cwd=tmp_path,
        )  # fmt: skip

    refused = run("2000")
    assert refused.returncode == 4 and "2,000" in refused.stdout + refused.stderr
    kept = GeoPackageStore(tmp_path / "s2000.gpkg").read("grids").geometry.values
    assert max(shapely.get_num_coordinates(kept)) < 100  # nothing written: the boxes still
    accepted = run("5000")
    assert accepted.returncode == 0, accepted.stderr
    written = GeoPackageStore(tmp_path / "s5000.gpkg").read("grids").geometry.values
    assert max(shapely.get_num_coordinates(written)) > 2_000


def test_grids_at_the_bound_are_checked_and_mapped(tmp_path: Path) -> None:
    """Every level-3 grid at about 100,000 vertices, the default bound: ``gisgrid check``
    and ``gisgrid map coverage`` finish (docs/county-it.md gives the time they took) and
    find what they find on the same grids with four corners."""
    store = county_with(tmp_path / "bound.gpkg", vertices=99_000)
    assert max(shapely.get_num_coordinates(store.read("grids").geometry)) <= 100_000
    plain = county_with(tmp_path / "plain.gpkg", vertices=4)
    found = {}
    for name, path in (("bound", store.path), ("plain", plain.path)):
        for command in (
            ["check", "--out", f"{name}.json"],
            ["map", "coverage", "--out", f"{name}.html"],
        ):
            done = subprocess.run(
                [sys.executable, "-m", "gisgrid", *command, "--store", str(path)],
                cwd=tmp_path,
                capture_output=True,
                text=True,
                check=False,
                timeout=1800,  # a hang guard, not a measure
            )
            assert done.returncode == 0, (command, done.stderr[-2000:])
        assert (tmp_path / f"{name}.html").stat().st_size > 0
        found[name] = json.loads((tmp_path / f"{name}.json").read_text(encoding="utf-8"))
    for check in ("overlaps", "nesting", "gaps"):
        codes = {
            name: sorted(json.dumps(i.get("codes") or i.get("code") or i.get("parent_code"))
                         for i in report[check]["items"])
            for name, report in found.items()
        }  # fmt: skip
        assert codes["bound"] == codes["plain"], check


# --- heavy requests take turns -----------------------------------------------------------------


def get(base: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=GUARD)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def is_busy(status: int, headers: dict[str, str], body: bytes, *, retry_after: str) -> bool:
    """Whether an answer is the busy 503 in its documented shape (fails on a wrong shape)."""
    if status != 503:
        return False
    assert headers["retry-after"] == retry_after, headers
    if headers["content-type"].startswith("text/html"):
        assert "服务器繁忙" in body.decode()
    else:
        error = json.loads(body)["error"]
        assert error["type"] == "BusyError" and error["code"] == "busy", error
    return True


@pytest.fixture
def heavy_store(heavy_county: Path, tmp_path: Path) -> Path:
    path = tmp_path / "heavy.gpkg"
    shutil.copyfile(heavy_county, path)
    return path


def test_heavy_requests_beyond_their_turns_get_503_and_cheap_ones_still_answer(
    heavy_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crowd of heavy requests (megabytes of GeoJSON each, the dashboard, search) on a
    server with one turn and two places in the queue: the excess is refused 503 at once,
    and health and locate answer while heavy requests run."""
    admin = make_account(str(heavy_store), Role.ADMIN)
    monkeypatch.setenv("GISGRID_WEB_HEAVY_CONCURRENCY", "1")
    monkeypatch.setenv("GISGRID_WEB_HEAVY_QUEUE", "2")
    monkeypatch.setenv("GISGRID_WEB_RETRY_AFTER_SECONDS", "7")
    auth = admin.headers
    heavy = [
        ("/api/layers/grids?level=3", auth),
        ("/api/layers/grids?level=3", auth),
        ("/", auth | {"Accept": "text/html"}),
        ("/api/households/search?q=H", auth),
    ] * 8
    results: list[tuple[int, dict[str, str], bytes]] = []
    with gisgrid_server(str(heavy_store), warm=True) as base:

        def ask(path: str, headers: dict[str, str]) -> None:
            results.append(get(base, path, headers))

        threads = [threading.Thread(target=ask, args=h) for h in heavy]
        for t in threads:
            t.start()
        busiest = 0
        lon, lat = LEVEL3_BOXES[V1 + "001001"][0] + 0.01, 29.65
        while any(t.is_alive() for t in threads):
            assert get(base, "/api/health/live", {})[0] == 200
            status, _h, body = get(base, "/api/health", {})
            assert status == 200, body
            busiest = max(busiest, json.loads(body)["heavy_running"])
            status, _h, body = get(base, f"/api/locate?lon={lon}&lat={lat}", auth)
            assert status == 200, body
            assert json.loads(body)["grids"]["level3"]["code"] == V1 + "001001"
        for t in threads:
            t.join(GUARD)
    assert len(results) == len(heavy)
    busy = [r for r in results if is_busy(*r, retry_after="7")]
    assert busy, "no heavy request was refused"
    assert all(status in (200, 503) for status, _h, _b in results)
    assert len(busy) < len(results)  # those with a turn were answered
    assert busiest == 1  # the cheap requests answered while a heavy one ran, never two


def _nice_of(pid: int, tid: int) -> int:
    """A thread's nice value, from ``/proc`` (field 19 of its ``stat``)."""
    stat = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[16])


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
def test_the_servers_worker_threads_give_way_to_its_event_loop(heavy_store: Path) -> None:
    """``gisgrid serve``'s threads started after it starts (the request workers, the
    warming) run ten steps nicer than its main thread, the event loop of ``/api/locate``
    and ``/api/health`` (:mod:`gisgrid.api.priority`)."""
    admin = make_account(str(heavy_store), Role.ADMIN)
    with gisgrid_server(str(heavy_store), warm=True) as base:
        for _ in range(3):  # requests that run in the workers
            assert get(base, "/api/layers/townships", admin.headers)[0] == 200
        status, _h, body = get(base, "/api/health", {})
        assert status == 200, body
        pid = int(json.loads(body)["process"])
        main = _nice_of(pid, pid)
        others = [_nice_of(pid, int(t)) for t in os.listdir(f"/proc/{pid}/task") if int(t) != pid]
        assert main == os.getpriority(os.PRIO_PROCESS, 0)  # the loop as the process was started
        workers = [n for n in others if n == min(main + 10, 19)]
        assert len(workers) >= 2, (main, others)  # the warming's and a request's at least


def test_the_turns_are_exact() -> None:
    """In process, with heavy answers held until released: ``concurrency`` run, ``queue``
    wait, every one beyond is 503 at once; a cheap request passes meanwhile; released, the
    waiting ones run."""

    async def main() -> None:
        gate = anyio.Event()

        async def held(scope: Any, receive: Any, send: Any) -> None:
            """The app: heavy answers wait for the gate."""
            if scope["path"] != "/api/health/live":
                await gate.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

        turns = Turns(concurrency=2, queue=3)
        app = HeavyLimit(held, turns=turns, retry_after=9)
        statuses: dict[int, int] = {}
        headers: dict[int, dict[str, str]] = {}

        async def call(n: int, path: str) -> None:
            scope = {"type": "http", "method": "GET", "path": path, "headers": [],
                     "query_string": b"", "root_path": ""}  # fmt: skip

            async def receive() -> dict[str, Any]:
                return {"type": "http.request", "body": b"", "more_body": False}

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses[n] = message["status"]
                    headers[n] = {k.decode(): v.decode() for k, v in message["headers"]}

            await app(scope, receive, send)

        async with anyio.create_task_group() as tg:
            for n in range(9):
                tg.start_soon(call, n, "/api/layers/households")
                await anyio.wait_all_tasks_blocked()
            assert (turns.running, turns.waiting) == (2, 3)
            refused = {n for n, s in statuses.items() if s == 503}
            assert refused == {5, 6, 7, 8}
            assert all(headers[n]["retry-after"] == "9" for n in refused)
            await call(99, "/api/health/live")  # not heavy: answered at once
            assert statuses[99] == 200
            gate.set()
        assert [statuses[n] for n in range(5)] == [200] * 5
        assert (turns.running, turns.waiting) == (0, 0)

    anyio.run(main)


# --- paging in the store -----------------------------------------------------------------------


@pytest.fixture
def many_households(filled_store: GeoPackageStore) -> GeoPackageStore:
    """The little county with 240 more households (in the first village's grids)."""
    households = raw_frame("households")
    first = households.iloc[[0]]
    rows = []
    for n in range(240):
        row = first.copy()
        row["id"] = f"HP{n:04d}"
        x0, y0, x1, y1 = LEVEL3_BOXES[list(LEVEL3_BOXES)[n % 4]]
        row["geometry"] = [shapely.Point(x0 + (x1 - x0) * (n + 1) / 250, (y0 + y1) / 2)]
        rows.append(row)
    extra = LAYERS["households"].validate(pd.concat(rows, ignore_index=True))
    filled_store.write({"households": extra}, mode="append")
    return filled_store


def pages(client: TestClient, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    """Every page of ``path``, following ``next``."""
    out = []
    r = client.get(path, params=params)
    while True:
        assert r.status_code == 200, r.text
        body = r.json()
        out.append(body)
        if "next" not in body:
            return out
        r = client.get(body["next"])


@pytest.mark.parametrize("role, area", [(Role.ADMIN, "430623"), (Role.TOWNSHIP, V1[:9])])
def test_pages_of_a_layer_are_the_layer(
    many_households: GeoPackageStore, role: Role, area: str
) -> None:
    account = make_account(many_households, role, area)
    with TestClient(create_app(store=str(many_households.path))) as client:
        client.headers.update(account.headers)
        whole = client.get("/api/layers/households", params={"limit": 1000}).json()
        assert "next" not in whole and whole["numberReturned"] == whole["numberMatched"] > 240
        for params in (
            {"limit": 37},
            {"limit": 50, "village": V1},
            {"limit": 40, "township": V1[:9]},
        ):
            got = pages(client, "/api/layers/households", params)
            ids = [f["id"] for p in got for f in p["features"]]
            wanted = client.get("/api/layers/households", params=params | {"limit": 1000}).json()
            assert ids == [f["id"] for f in wanted["features"]], params
            assert all(p["numberMatched"] == wanted["numberMatched"] for p in got)
            assert len(got) == -(-wanted["numberMatched"] // params["limit"])
        # a bbox goes down too
        x0, y0, x1, y1 = LEVEL3_BOXES[V1 + "001001"]
        box = f"{x0},{y0},{x1},{y1}"
        inside = pages(client, "/api/layers/households", {"limit": 10, "bbox": box})
        points = [f["geometry"]["coordinates"] for p in inside for f in p["features"]]
        assert points and all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in points)
        assert len(points) == inside[0]["numberMatched"]


def test_a_page_of_households_is_audited_as_the_rows_it_shows(
    many_households: GeoPackageStore,
) -> None:
    from gisgrid.stores.ledger import AuditQuery

    account = make_account(many_households, Role.TOWNSHIP, V1[:9])
    with TestClient(create_app(store=str(many_households.path))) as client:
        client.headers.update(account.headers)
        body = client.get("/api/layers/households", params={"limit": 7, "offset": 20}).json()
    shown = sorted(f["properties"]["id"] for f in body["features"])
    assert len(shown) == 7
    query = AuditQuery(action="households_read", actor=account.username, limit=1000)
    entries = many_households.ledger.audit(query)
    recorded = sorted(str(i) for r in entries for i in r.entry.detail["ids"])  # type: ignore[attr-defined]
    assert recorded == shown


# --- bodies -----------------------------------------------------------------------------------


def _answer_while_sending(port: int, head: bytes, total: int) -> tuple[bytes, int]:
    """Send ``head`` and then up to ``total`` bytes of chunked body, stopping as soon as the
    server answers; returns the answer and the body bytes sent."""
    sent = 0
    piece = b"x" * 65536
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=GUARD) as s:
        s.sendall(head)
        while sent < total:
            readable, _w, _x = select.select([s], [], [], 0)
            if readable:
                break
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        s.settimeout(GUARD)
        try:
            while b"\r\n\r\n" not in data:
                got = s.recv(65536)
                if not got:
                    break
                data += got
        except ConnectionResetError:
            pass
    return data, sent


def test_a_300_mb_body_is_refused_before_it_is_read(
    filled_store: GeoPackageStore,
) -> None:
    admin: TestAccount = make_account(filled_store, Role.ADMIN)
    auth = b"Authorization: Bearer %s\r\n" % admin.token.encode()
    big = 300 * 1024 * 1024
    with gisgrid_server(str(filled_store.path)) as base:
        port = int(urlsplit(base).port or 0)
        for media in (b"application/octet-stream", b"application/x-www-form-urlencoded"):
            # announced: refused from its Content-Length, before a byte of it is sent
            head = (
                b"POST /api/incidents HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\n"
                b"Content-Length: %d\r\n\r\n" % (auth, media, big)
            )
            answer, sent = _answer_while_sending(port, head, 0)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
            # chunked: counted as it comes, refused past the limit (50 MB), long before 300
            head = (
                b"POST /api/incidents HTTP/1.1\r\nHost: x\r\n%sContent-Type: %s\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" % (auth, media)
            )
            answer, sent = _answer_while_sending(port, head, big)
            assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
            assert sent < big // 2, sent


def test_both_stores_read_a_window_as_the_rows_of_the_whole_read(any_store: Any) -> None:
    """``read(…, window=)`` is the slice of the whole read, and ``count(…, bbox=)`` its
    length, in each store alike, with and without filters."""
    frames = {name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()}
    any_store.write(frames)
    x0, y0, x1, y1 = LEVEL3_BOXES[V1 + "001001"]
    filters: list[dict[str, Any]] = [
        {},
        {"bbox": (x0, y0, x1, y1)},
        {"where": {"village_code": [V1]}},
        {"where": {"village_code": [V1]}, "bbox": (112.0, 29.0, 113.0, 30.0)},
    ]
    for layer in ("households", "incidents", "grids"):
        for f in filters:
            if "village_code" in f.get("where", {}) and layer == "incidents":
                f = {**f, "where": {"status": list(STATUSES)[:2]}}
            whole = any_store.read(layer, **f)
            assert any_store.count(layer, **f) == len(whole), (layer, f)
            for offset, limit in ((0, 1), (1, 2), (2, 100), (len(whole), 5)):
                page = any_store.read(layer, **f, window=Window(offset, limit))
                key = list(LAYERS[layer].key)
                want = whole.iloc[offset : offset + limit][key].reset_index(drop=True)
                assert page[key].reset_index(drop=True).equals(want), (layer, f, offset)
