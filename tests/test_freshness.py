"""Every running server answers with the store as it is now (issue #13, point 6).

A write by another process (the CLI, the store's API in this test process, SQL as QGIS or
psql sends it, an edit of the GeoPackage in place) reaches a server that is running, without
a restart: its data version (:meth:`gisgrid.stores.base.Store.data_version`) changes, the
server's thread sees it within about half a second and reloads the grids (``/api/locate``,
and the scope of every signed-in request: a grid worker linked to a grid by phone gains or
loses access) and forgets what it computed (the check report and dashboard).

The servers are real (``gisgrid serve`` in a subprocess) on a GeoPackage and on PostGIS. The
delays are measured and printed (run with ``-s``), not asserted: a test fails only when the
new answer never comes within :data:`WITHIN` seconds, or when the old one was not the old.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import psycopg
import pyogrio
import pytest
from accounts import TestAccount, make_account
from conftest import LEVEL3_BOXES, V1
from psycopg import sql
from servers import gisgrid_server
from shapely.geometry import MultiPolygon, Point, box

from gisgrid.analysis.assign import assign_store
from gisgrid.api.state import AppState
from gisgrid.errors import StoreError
from gisgrid.layers import LAYERS
from gisgrid.roles import Role
from gisgrid.stores.base import Store
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.postgis import PostGISStore
from gisgrid.stores.postgis.queries import LOCK_SERVER_WRITES, ident

#: the longest a new answer may take to come (generous: a loaded machine, not a benchmark)
WITHIN = 10.0
#: the level-3 grids north and south of the line y = 29.60 in the first level-2 grid
NORTH, SOUTH = V1 + "001001", V1 + "001002"
#: a point just north of that line: in NORTH, until the line moves to 29.62
POINT = (112.43, 29.61)
#: a household in another level-2 grid (V1 002002), whose grid worker is someone else
FAR_HOUSEHOLD, FAR_GRID = "H007", V1 + "002002"
#: the phone of the grid worker of these tests (NORTH is their grid)
PHONE = "13700000077"


def moved_line(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The grids with the line between NORTH and SOUTH moved north to y = 29.62 (still a
    tiling of their level-2 grid): POINT moves from NORTH to SOUTH."""
    x0, _, x1, y1 = LEVEL3_BOXES[NORTH]
    y0 = LEVEL3_BOXES[SOUTH][1]
    out = grids.copy()
    codes = out["code"].to_numpy()
    north = MultiPolygon([box(x0, 29.62, x1, y1)])
    south = MultiPolygon([box(x0, y0, x1, 29.62)])
    out.loc[codes == NORTH, "geometry"] = gpd.GeoSeries([north], crs=out.crs).values
    out.loc[codes == SOUTH, "geometry"] = gpd.GeoSeries([south], crs=out.crs).values
    return out


def with_phone(grids: gpd.GeoDataFrame, code: str, phone: str) -> gpd.GeoDataFrame:
    out = grids.copy()
    out.loc[out["code"] == code, "responsible_phone"] = phone
    return out


def new_household(store: Store) -> gpd.GeoDataFrame:
    """One more household (H010) in NORTH."""
    row = store.read("households").iloc[[8]].copy()
    row["id"], row["backbone_id"], row["backbone"], row["grid_code"] = "H010", None, False, None
    row["geometry"] = gpd.GeoSeries([Point(112.45, 29.66)], crs=row.crs).values
    return row


# --- asking a running server --------------------------------------------------------------------


def get(url: str, headers: dict[str, str]) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def level3_at(base: str, who: TestAccount) -> str | None:
    status, body = get(f"{base}/api/locate?lon={POINT[0]}&lat={POINT[1]}", who.headers)
    assert status == 200, body
    grid = body["grids"]["level3"]
    return None if grid is None else str(grid["code"])


def far_household_status(base: str, who: TestAccount) -> int:
    return get(f"{base}/api/households/{FAR_HOUSEHOLD}", who.headers)[0]


def households_counted(base: str, who: TestAccount) -> int:
    status, body = get(f"{base}/api/check", who.headers)
    assert status == 200, body
    return int(body["meta"]["counts"]["households"])


def delay_until(ask: Callable[[], object], want: object, *, what: str) -> float:
    """Seconds until ``ask()`` answers ``want`` (asked every 20 ms); fails after WITHIN."""
    started = time.monotonic()
    while True:
        got = ask()
        seconds = time.monotonic() - started
        if got == want:
            print(f"{what}: new answer after {seconds:.2f} s")
            return seconds
        assert seconds < WITHIN, f"{what}: still {got!r} after {seconds:.1f} s, not {want!r}"
        time.sleep(0.02)


def run_gisgrid(*args: str | Path, store: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gisgrid", *map(str, args), "--store", store],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- the data version of each store --------------------------------------------------------------


def test_geopackage_version_changes_with_every_write_and_only_then(
    filled_store: GeoPackageStore,
) -> None:
    before = filled_store.data_version()
    assert filled_store.data_version() == before  # nothing changed: the same
    make_account(filled_store, Role.ADMIN)  # the ledger is another file: no change
    assert filled_store.data_version() == before
    filled_store.write({"grids": moved_line(filled_store.read("grids"))})
    after_write = filled_store.data_version()
    assert after_write != before
    assign_store(filled_store)  # the fixture's households get their codes: written
    assigned = filled_store.data_version()
    assert assigned != after_write
    assign_store(filled_store)  # nothing changes: nothing written, the same version
    assert filled_store.data_version() == assigned
    filled_store.write({}, meta={"note": "metadata count too"})
    assert filled_store.data_version() != assigned


def test_geopackage_version_sees_edits_in_place(filled_store: GeoPackageStore) -> None:
    """QGIS edits the file in place (GDAL; SQLite, also in write-ahead mode)."""
    versions = [filled_store.data_version()]
    # GDAL appending a feature to the file itself, as QGIS saving an edit
    extra = filled_store.read("households").iloc[[0]].assign(id="H099")
    pyogrio.write_dataframe(extra, filled_store.path, layer="households", append=True)
    versions.append(filled_store.data_version())
    with sqlite3.connect(filled_store.path) as con:
        con.execute("UPDATE county_leaders SET name = 'x' WHERE rowid = 1")
    versions.append(filled_store.data_version())
    con = sqlite3.connect(filled_store.path)
    try:
        assert con.execute("PRAGMA journal_mode = wal").fetchone() == ("wal",)
        for name in ("y", "z"):  # the main file stays as it is: the -wal file counts
            with con:
                con.execute("UPDATE county_leaders SET name = ? WHERE rowid = 1", (name,))
            versions.append(filled_store.data_version())
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        with con:
            con.execute("UPDATE county_leaders SET name = 'w' WHERE rowid = 1")
        versions.append(filled_store.data_version())
    finally:
        con.close()
    assert len(set(versions)) == len(versions), versions


def test_geopackage_version_of_a_store_not_written_yet(tmp_store: GeoPackageStore) -> None:
    assert tmp_store.data_version() == tmp_store.data_version()
    tmp_store.write({"townships": LAYERS["townships"].empty()})
    assert tmp_store.data_version() != "none"


@pytest.fixture
def pg_filled(pg_store: PostGISStore, filled_store: GeoPackageStore) -> PostGISStore:
    """The little county in a PostGIS store of its own."""
    pg_store.write({name: filled_store.read(name) for name in LAYERS})
    return pg_store


def test_postgis_version_changes_with_every_committed_write_whoever_writes(
    pg_filled: PostGISStore, pg_url: str
) -> None:
    versions = [pg_filled.data_version()]
    assert pg_filled.data_version() == versions[0]
    make_account(pg_filled, Role.ADMIN)  # accounts, tokens, audit log: no change
    assert pg_filled.data_version() == versions[0]
    pg_filled.write({"grids": moved_line(pg_filled.read("grids"))})
    versions.append(pg_filled.data_version())
    with psycopg.connect(pg_url) as conn:  # as QGIS or psql: every statement, every table
        for statement in (
            "UPDATE gisgrid.grids SET responsible_phone = '1' WHERE code = '" + NORTH + "'",
            "DELETE FROM gisgrid.incidents WHERE false",  # no row: counts all the same
            "TRUNCATE gisgrid.incidents_grid",
            "INSERT INTO gisgrid.gisgrid_meta (key, value) VALUES ('k', '1')",
        ):
            with conn.transaction():
                conn.execute(statement)  # type: ignore[arg-type]
            versions.append(pg_filled.data_version())
        assign_store(pg_filled)  # the incidents' codes, emptied above, come back: written
        versions.append(pg_filled.data_version())
        assign_store(pg_filled)  # nothing changes: nothing written, the same version
        assert pg_filled.data_version() == versions[-1]
        # not before the commit: a server reading the version then would miss the data
        with conn.transaction():
            conn.execute("UPDATE gisgrid.townships SET name = name")
            assert pg_filled.data_version() == versions[-1]
        versions.append(pg_filled.data_version())
        # a transaction rolled back changes nothing
        with pytest.raises(psycopg.errors.RaiseException), conn.transaction():
            conn.execute("UPDATE gisgrid.villages SET name = name")
            conn.execute("DO $$ BEGIN RAISE EXCEPTION 'no'; END $$")
        assert pg_filled.data_version() == versions[-1]
    assert len(set(versions)) == len(versions), versions


def test_every_postgis_table_but_the_ledger_bumps_the_version(pg_store: PostGISStore) -> None:
    """A layer added later without its trigger fails here. The ledger and the change sets
    (drafts change with every edit; their publication writes the grids, which bump it) do not,
    nor the case photos (a side store, like the GeoPackage's NAME.photos.sqlite: an upload
    changes no answer until a step names it, and the step bumps it)."""
    ledger = {"accounts", "sessions", "api_tokens", "audit_log", "schema_version"}
    ledger |= {"change_sets", "change_set_edits", "change_set_events", "case_photos"}
    with psycopg.connect(pg_store._conninfo) as conn:
        tables = {
            str(r[0])
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'gisgrid'"
            ).fetchall()
        }
        bumped = {
            str(r[0])
            for r in conn.execute(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE n.nspname = 'gisgrid' AND p.proname = 'bump_data_version'"
            ).fetchall()
        }
    assert set(LAYERS) | {"gisgrid_meta", "households_grid"} <= bumped
    assert bumped == tables - ledger - {"data_version"}


def test_postgis_version_read_by_a_role_without_a_grant_on_its_table(
    pg_filled: PostGISStore, pg_url: str
) -> None:
    """A clerk granted the tables before the upgrade (docs/county-it.md) bumps and reads it."""
    role = f"clerk_{secrets.token_hex(4)}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'clerk-pw'").format(ident(role)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA gisgrid TO {}").format(ident(role)))
        conn.execute(
            sql.SQL("GRANT SELECT, UPDATE ON gisgrid.grids, gisgrid.schema_version TO {}").format(
                ident(role)
            )
        )
    parts = urlsplit(pg_url)
    host = parts.netloc.rpartition("@")[2]
    clerk_url = urlunsplit(parts._replace(netloc=f"{role}:clerk-pw@{host}"))
    clerk = PostGISStore(clerk_url)
    try:
        before = clerk.data_version()
        with psycopg.connect(clerk_url) as conn:
            conn.execute("UPDATE gisgrid.grids SET name = name")
        assert clerk.data_version() != before
    finally:
        clerk.close()
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(ident(role)))


# --- the server's state ---------------------------------------------------------------------------


def test_refresh_swaps_the_grids_and_forgets_what_was_computed(
    filled_store: GeoPackageStore,
) -> None:
    state = AppState.load(filled_store)
    old_locator, old_frames = state.locator, state.frames()
    old_search = state.search
    assert state.locator.locate(*POINT).level3.code == NORTH  # type: ignore[union-attr]
    assert state.refresh() is False  # nothing changed: nothing reloaded
    assert state.locator is old_locator and state.frames() is old_frames

    filled_store.write({"grids": moved_line(filled_store.read("grids"))})
    assert state.refresh() is True
    assert state.locator is not old_locator
    assert state.locator.locate(*POINT).level3.code == SOUTH  # type: ignore[union-attr]
    assert state.frames() is not old_frames and state.search is not old_search
    codes = state.frames()["households"].set_index("id")["grid_code"]
    assert state.version == filled_store.data_version()
    assert state.refresh() is False
    assert codes["H001"] == NORTH  # H001 (29.65) stays north of the line


def test_a_store_that_cannot_answer_leaves_the_state_as_it_is(
    filled_store: GeoPackageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = AppState.load(filled_store)
    locator, frames = state.locator, state.frames()
    filled_store.write({"grids": moved_line(filled_store.read("grids"))})

    def down() -> str:
        raise StoreError("cannot connect to the PostGIS store (in this test)")

    monkeypatch.setattr(filled_store, "data_version", down)
    assert state.refresh() is False
    assert state.locator is locator and state.frames() is frames
    monkeypatch.undo()  # back: the change is found at the next round
    assert state.refresh() is True and state.locator is not locator


def test_the_watch_thread_reloads_by_itself_and_stops(filled_store: GeoPackageStore) -> None:
    state = AppState.load(filled_store)
    state.watch(every=0.05)
    try:
        filled_store.write({"grids": moved_line(filled_store.read("grids"))})
        delay_until(
            lambda: state.locator.locate(*POINT).level3.code,  # type: ignore[union-attr]
            SOUTH,
            what="AppState.watch",
        )
    finally:
        state.stop()
    assert not [t for t in threading.enumerate() if t.name == "gisgrid-fresh"]


# --- real servers, written to by other processes -----------------------------------------------


def follow_writes(
    store_arg: str,
    store: Store,
    *,
    move_line: Callable[[], None],
    set_phone: Callable[[str, str], None],
    tmp_path: Path,
) -> None:
    """Start a server on ``store_arg``, change the store from other processes, ask the server.

    ``move_line`` moves the line between NORTH and SOUTH; ``set_phone(code, phone)`` changes
    a grid's responsible phone; households are added by ``gisgrid import`` (the CLI).
    """
    admin = make_account(store, Role.ADMIN)
    worker = make_account(store, Role.GRID, area=NORTH, phone=PHONE)
    with gisgrid_server(store_arg) as base:
        # the point's grid, in /api/locate and in the scope of every request
        assert level3_at(base, admin) == NORTH
        move_line()
        delay_until(lambda: level3_at(base, admin), SOUTH, what=f"{store.url}: locate")

        # a grid worker linked by phone gains the grid's households, and loses them
        assert far_household_status(base, worker) == 404
        set_phone(FAR_GRID, "137-0000-0077")  # the same phone, as people type it
        delay_until(lambda: far_household_status(base, worker), 200, what="gains access")
        set_phone(FAR_GRID, "13911112222")  # the grid goes to someone else
        delay_until(lambda: far_household_status(base, worker), 404, what="loses access")

        # the check report (the dashboard's figures) follows an import from the CLI
        assert households_counted(base, admin) == 9
        added = tmp_path / "h010.geojson"
        pyogrio.write_dataframe(new_household(store), added, driver="GeoJSON")
        run_gisgrid("import", "households", added, "--mode", "append", store=store_arg)
        delay_until(lambda: households_counted(base, admin), 10, what="check report")


def test_a_server_on_a_geopackage_follows_the_cli_and_other_writers(
    filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    def move_line() -> None:  # gisgrid import, replacing the grids
        moved = tmp_path / "moved.gpkg"
        pyogrio.write_dataframe(moved_line(filled_store.read("grids")), moved, layer="grids")
        run_gisgrid("import", "grids", moved, "--mode", "replace", store=str(filled_store.path))

    def set_phone(code: str, phone: str) -> None:  # the store's API in this process
        filled_store.write({"grids": with_phone(filled_store.read("grids"), code, phone)})

    follow_writes(
        str(filled_store.path),
        filled_store,
        move_line=move_line,
        set_phone=set_phone,
        tmp_path=tmp_path,
    )


def test_a_server_on_postgis_follows_the_cli_sql_and_other_writers(
    pg_filled: PostGISStore, pg_url: str, tmp_path: Path
) -> None:
    def move_line() -> None:  # the store's API in this process
        pg_filled.write({"grids": moved_line(pg_filled.read("grids"))})

    def set_phone(code: str, phone: str) -> None:  # SQL, as QGIS or psql sends it
        with psycopg.connect(pg_url) as conn:
            conn.execute(
                "UPDATE gisgrid.grids SET responsible_phone = %s WHERE code = %s", (phone, code)
            )

    follow_writes(pg_url, pg_filled, move_line=move_line, set_phone=set_phone, tmp_path=tmp_path)


def health_version(base: str) -> str | None:
    status, body = get(f"{base}/api/health", {})
    assert status == 200, body
    return None if body["data_version"] is None else str(body["data_version"])


@pytest.mark.parametrize("kind", ["geopackage", "postgis"])
def test_two_servers_and_a_writer_no_stale_answer_after_the_announced_version(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Issue #16, point 2: every server process sees every write; once a server says (in
    ``/api/health``) that it answers with the store's new version, none of its answers is
    older."""
    store: Store = request.getfixturevalue("filled_store" if kind == "geopackage" else "pg_filled")
    store_arg = str(store.path) if isinstance(store, GeoPackageStore) else store._conninfo
    admin = make_account(store, Role.ADMIN)
    grids = store.read("grids")
    with gisgrid_server(store_arg) as one, gisgrid_server(store_arg) as two:
        for round_, (frame, expected) in enumerate(
            [(moved_line(grids), SOUTH), (grids, NORTH), (moved_line(grids), SOUTH)]
        ):
            store.write({"grids": frame})
            announced = store.data_version()
            for base in (one, two):
                delay_until(
                    lambda base=base: health_version(base),  # type: ignore[misc]
                    announced,
                    what=f"{kind} round {round_ + 1}: {base} announces the version",
                )
                assert level3_at(base, admin) == expected


# --- announced writes (PostGIS NOTIFY) and the server's write lock -----------------------------


def test_postgis_announces_each_committed_writing_transaction_once(
    pg_filled: PostGISStore, pg_url: str
) -> None:
    """Migration 0013: ``NOTIFY gisgrid_data`` at the commit of every transaction that wrote
    the layers (many statements: one announcement), none for one rolled back; the listening
    connection is opened again when it broke (as when PostgreSQL restarts)."""
    assert pg_filled.wait_for_change(0.1) is True  # just started listening: "maybe"
    assert pg_filled.wait_for_change(0.1) is False  # nothing written: nothing announced
    with psycopg.connect(pg_url) as conn:
        with conn.transaction():
            for _ in range(5):  # five statements, one transaction: one announcement
                conn.execute("UPDATE gisgrid.grids SET name = name")
        assert pg_filled.wait_for_change(WITHIN) is True
        assert pg_filled.wait_for_change(0.2) is False
        with pytest.raises(psycopg.errors.RaiseException), conn.transaction():
            conn.execute("UPDATE gisgrid.villages SET name = name")
            conn.execute("DO $$ BEGIN RAISE EXCEPTION 'no'; END $$")
        assert pg_filled.wait_for_change(0.2) is False  # rolled back: nothing announced
        # the listening connection ends (a restart of PostgreSQL ends it the same way)
        ended = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'gisgrid-listen' AND datname = current_database()"
        ).fetchall()
        assert ended == [(True,)]
        conn.commit()
        assert pg_filled.wait_for_change(WITHIN) is True  # broken: "maybe", listen again
        assert pg_filled.wait_for_change(WITHIN) is True  # listening again: "maybe"
        assert pg_filled.wait_for_change(0.1) is False
        conn.execute("INSERT INTO gisgrid.gisgrid_meta (key, value) VALUES ('k', '1')")
        conn.commit()
        assert pg_filled.wait_for_change(WITHIN) is True
    pg_filled.close()  # closes the listening connection too
    with psycopg.connect(pg_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'gisgrid-listen' "
            "AND datname = current_database()"
        ).fetchone() == (0,)


def test_a_geopackage_announces_nothing(filled_store: GeoPackageStore) -> None:
    filled_store.write({"grids": moved_line(filled_store.read("grids"))})
    assert filled_store.wait_for_change(0.01) is False


@pytest.mark.parametrize("kind", ["geopackage", "postgis"])
def test_the_processes_serving_a_store_take_turns_to_write(
    kind: str, request: pytest.FixtureRequest
) -> None:
    """``gisgrid serve --workers N``, or servers on several machines: a process writing
    holds the store's turn (:meth:`Store.writers_turn`), and another waits for it instead
    of being refused by the store's writer lock."""
    store: Store = request.getfixturevalue("filled_store" if kind == "geopackage" else "pg_filled")
    one, two = AppState.load(store), AppState.load(store)  # as two worker processes

    def taken() -> bool:  # as another process finds the turn
        if isinstance(store, GeoPackageStore):
            with open(store.path.with_name(f".{store.path.name}.serve.lock"), "a") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(fh, fcntl.LOCK_UN)
                return False
        assert isinstance(store, PostGISStore)
        with psycopg.connect(store._conninfo, autocommit=True) as conn:
            row = conn.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_SERVER_WRITES,))
            if row.fetchone() != (True,):
                return True
            conn.execute("SELECT pg_advisory_unlock(%s)", (LOCK_SERVER_WRITES,))
            return False

    order: list[str] = []

    def second() -> None:
        with two.write_lock:
            order.append("second writes")
            store.write({"grids": store.read("grids")})

    with one.write_lock:
        assert taken()
        waiting = threading.Thread(target=second)
        waiting.start()
        store.write({"grids": moved_line(store.read("grids"))})
        order.append("first wrote")
    waiting.join(timeout=60)
    assert order == ["first wrote", "second writes"]
    assert not taken()
    with pytest.raises(RuntimeError), one.write_lock:  # released however the write ends
        raise RuntimeError("a failed write")
    assert not taken()


# --- gisgrid serve --workers N -----------------------------------------------------------------


def health_of(base: str) -> dict[str, Any]:
    """One answer of ``/api/health``, with when it was asked (``asked``) and when the answer
    was in (``answered``), by this process's monotonic clock."""
    asked = time.monotonic()
    status, body = get(f"{base}/api/health", {})
    assert status in (200, 503), body
    return {**body, "asked": asked, "answered": time.monotonic()}


def health_batch(base: str, *, n: int = 8) -> list[dict[str, Any]]:
    """``n`` answers of ``/api/health`` asked at once (connections of their own: the workers
    share the listening socket, whichever is free answers). In the order asked, which need
    not be the order answered: see ``asked`` and ``answered``."""
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda _: health_of(base), range(n)))


@pytest.mark.parametrize("kind", ["geopackage", "postgis"])
def test_serve_with_two_workers_no_stale_answer_after_the_announced_version(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #16, point 2: ``gisgrid serve --workers 2``, and a write from the command line.

    Both worker processes answer (``/api/health`` says which, and with which data version);
    each announces the new version, and once it has, none of its answers is older. On
    PostGIS the servers look at the version only every 60 s here: the write reaches them
    by its announcement (``NOTIFY``), not by their looking."""
    store: Store = request.getfixturevalue("filled_store" if kind == "geopackage" else "pg_filled")
    store_arg = str(store.path) if isinstance(store, GeoPackageStore) else store._conninfo
    if kind == "postgis":
        monkeypatch.setenv("GISGRID_WEB_FRESH_SECONDS", "60")
    admin = make_account(store, Role.ADMIN)
    before = store.data_version()
    with gisgrid_server(store_arg, options=["--workers", "2"]) as base:
        # both workers up and ready, with the store's version
        processes: dict[int, str | None] = {}
        started = time.monotonic()
        while len(processes) < 2 or None in processes.values():
            for body in health_batch(base):
                if body["ready"]:
                    processes[int(body["process"])] = body["data_version"]
            assert time.monotonic() - started < 60, f"not two ready workers: {processes}"
        assert set(processes.values()) == {before}, processes
        assert level3_at(base, admin) == NORTH

        moved = tmp_path / "moved.gpkg"
        pyogrio.write_dataframe(moved_line(store.read("grids")), moved, layer="grids")
        run_gisgrid("import", "grids", moved, "--mode", "replace", store=store_arg)
        announced = store.data_version()
        assert announced != before

        # each worker announces the new version; once it has, it never answers older: an
        # answer asked after another answer of the same worker came in with the new version
        # must have it too (answers asked together may come in any order)
        new_since: dict[int, float] = {}
        started = time.monotonic()
        while set(new_since) != set(processes):
            batch = health_batch(base)
            for body in batch:
                process, version = int(body["process"]), body["data_version"]
                assert process in processes, f"a worker restarted: {body}"
                if version == announced:
                    new_since[process] = min(
                        new_since.get(process, body["answered"]), body["answered"]
                    )
            for body in batch:
                process, version = int(body["process"]), body["data_version"]
                if process in new_since and body["asked"] > new_since[process]:
                    assert version == announced, f"stale after the announced version: {body}"
                # else: not yet (the old version, or one between the import's own writes)
            seconds = time.monotonic() - started
            assert seconds < WITHIN, f"{kind}: still not every worker new: {set(new_since)}"
        print(f"{kind}: both workers announced the new version after {seconds:.2f} s")

        # and then every answer, from whichever worker, is the new one
        answered: set[int] = set()
        for _ in range(8):
            for body in health_batch(base):
                assert body["data_version"] == announced, body
                answered.add(int(body["process"]))
            with ThreadPoolExecutor(max_workers=8) as pool:
                grids = list(pool.map(lambda _: level3_at(base, admin), range(8)))
            assert grids == [SOUTH] * 8
        assert answered == set(processes)
    for process in processes:  # stopped (SIGTERM to gisgrid serve): its workers with it
        with pytest.raises(ProcessLookupError):
            os.kill(process, 0)
