"""Vector tiles (MVT): decoded with PyPI mapbox-vector-tile's decoder, compared with the store.

What a tile should hold is computed here independently of gisgrid's tile code: the store's
layer read whole, projected to Web Mercator by pyproj, put in tile units from the tile's
bounds written out here, clipped to the tile and its buffer by shapely. The tile must hold
the same features (ids and attributes exactly) with each geometry within the tile's
quantisation (a point within half a unit, a polygon within two units: GEOS's rounding to
whole units may drop a sliver narrower than one). On both stores, through the real app; a
browser draws the net from the tiles.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
import shapely
from accounts import TestAccount, make_account, session_cookies
from browser import chromium, new_page, wait_until
from fastapi.testclient import TestClient
from pyproj import Transformer
from servers import gisgrid_server
from shapely.geometry import shape

from gisgrid.analysis.assign import current_grid_codes
from gisgrid.analysis.versions import net_on
from gisgrid.api import create_app
from gisgrid.services.incidents import NewIncident, report_incident
from gisgrid.stores import open_store
from gisgrid.stores.base import Store

pytestmark = pytest.mark.slow

MVT = "application/vnd.mapbox-vector-tile"
EXTENT, BUFFER = 4096, 64
#: half the width of the Web Mercator world, metres (EPSG:3857)
ORIGIN = 20037508.342789244
TO_MERCATOR = Transformer.from_crs(4326, 3857, always_xy=True)
#: the attributes a tile of each layer carries (docs/http-api.md)
ATTRIBUTES = {
    "grids": ("code", "name", "level", "responsible_name", "responsible_role"),
    "households": ("id", "grid_code", "house_number"),
    "service_points": ("id", "kind", "name"),
    "incidents": ("id", "kind", "status", "reported_at"),
}


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int, int]:
    n = 2**z
    rad = math.radians(lat)
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.log(math.tan(rad) + 1 / math.cos(rad)) / math.pi) / 2 * n)
    return z, x, y


def densest_tile(store: Store, z: int = 14) -> tuple[int, int, int]:
    """The z14 tile holding the most households of ``store``."""
    h = store.read("households", columns=["id"])
    tiles = [tile_of(p.x, p.y, z) for p in h.geometry]
    keys, counts = np.unique(np.array(tiles), axis=0, return_counts=True)
    z_, x, y = keys[counts.argmax()]
    return int(z_), int(x), int(y)


def expected(store: Store, layer: str, z: int, x: int, y: int) -> list[dict[str, Any]]:
    """What the tile ``z/x/y`` of ``layer`` should hold for a caller who sees everything."""
    if layer == "grids":
        levels = {1} if z <= 10 else {1, 2} if z <= 12 else {1, 2, 3}
        frame = net_on(store, None)
        frame = frame[frame["level"].isin(levels)]
    else:
        frame = store.read(layer)
        if layer == "households":  # the grid covering it now, as every reader gives it
            frame = frame.assign(grid_code=current_grid_codes(frame.geometry, net_on(store, None)))
    size = 2 * ORIGIN / 2**z
    x0, y1 = -ORIGIN + x * size, ORIGIN - y * size

    def to_tile(xy: np.ndarray) -> np.ndarray:
        mx, my = TO_MERCATOR.transform(xy[:, 0], xy[:, 1])
        return np.column_stack(
            ((np.asarray(mx) - x0) / size * EXTENT, (y1 - np.asarray(my)) / size * EXTENT)
        )

    geoms = shapely.transform(np.asarray(frame.geometry.array), to_tile)
    clipped = shapely.clip_by_rect(geoms, -BUFFER, -BUFFER, EXTENT + BUFFER, EXTENT + BUFFER)
    out = []
    for (_, row), geom in zip(frame.iterrows(), clipped, strict=True):
        if geom.is_empty:
            continue
        props = {}
        for c in ATTRIBUTES[layer]:
            v = row[c]
            if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
                continue
            if isinstance(v, dt.datetime | dt.date):
                v = v.isoformat()
            props[c] = v.item() if isinstance(v, np.generic) else v
        out.append({"properties": props, "geometry": geom})
    return out


def decoded(content: bytes, layer: str) -> list[dict[str, Any]]:
    tile = mapbox_vector_tile.decode(content, default_options={"y_coord_down": True})
    assert set(tile) == {layer}
    assert tile[layer]["extent"] == EXTENT
    return [
        {"properties": f["properties"], "geometry": shape(f["geometry"])}
        for f in tile[layer]["features"]
    ]


def key_of(feature: dict[str, Any]) -> str:
    props = feature["properties"]
    return str(props.get("id", props.get("code")))


def assert_same_features(
    got: list[dict[str, Any]], want: list[dict[str, Any]], *, polygon_tolerance: float = 2.0
) -> None:
    """Same features (ids, attributes exactly), geometry within the tile's quantisation.

    A polygon may be missing only when it rounds to nothing (less than a unit wide)."""
    by_key = {key_of(f): f for f in got}
    assert len(by_key) == len(got), "a feature twice"
    wanted = {key_of(f): f for f in want}
    missing = set(wanted) - set(by_key)
    for k in missing:
        g = wanted[k]["geometry"]
        assert g.geom_type != "Point" and g.area < 4, f"{k} missing from the tile"
    assert set(by_key) <= set(wanted), (
        f"unexpected features: {sorted(set(by_key) - set(wanted))[:5]}"
    )
    for k, feature in by_key.items():
        want_f = wanted[k]
        assert feature["properties"] == want_f["properties"], k
        g, w = feature["geometry"], want_f["geometry"]
        if w.geom_type == "Point":
            assert g.geom_type == "Point"
            assert abs(g.x - w.x) <= 0.5 + 1e-6 and abs(g.y - w.y) <= 0.5 + 1e-6, k
        else:
            assert g.is_valid, k
            assert shapely.hausdorff_distance(g, w) <= polygon_tolerance, k


# --- fixtures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """The tiles the tests read, and a grid worker's grid with households in the dense tile."""

    dense: tuple[int, int, int]  # the z14 tile with the most households
    grid: str  # a level-3 grid with households in the dense tile
    point: tuple[float, float]  # a household of that grid


@pytest.fixture(scope="module")
def store_path(sample_gpkg: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tiles") / "county.gpkg"
    shutil.copy(sample_gpkg.path, path)
    return path


@pytest.fixture(scope="module")
def place(store_path: Path) -> Place:
    store = open_store(str(store_path))
    try:
        dense = densest_tile(store)
        homes = [f for f in expected(store, "households", *dense) if "grid_code" in f["properties"]]
        grids = pd.Series([f["properties"]["grid_code"] for f in homes]).value_counts()
        grid = str(grids.index[0])
        mine = store.read("households", where={"id": [key_of(f) for f in homes]})
        mine = mine[current_grid_codes(mine.geometry, net_on(store, None)) == grid]
        p = mine.geometry.iloc[0]
        return Place(dense=dense, grid=grid, point=(p.x, p.y))
    finally:
        store.close()


@pytest.fixture(scope="module")
def people(store_path: Path, place: Place) -> dict[str, TestAccount]:
    store = str(store_path)
    return {
        "admin": make_account(store, "admin"),
        "leader": make_account(store, "leader"),
        "grid": make_account(store, "grid", place.grid),
        "viewer": make_account(store, "viewer", "430623"),
    }


@pytest.fixture(scope="module")
def client(store_path: Path, people: dict[str, TestAccount]) -> Iterator[TestClient]:
    with TestClient(create_app(store=str(store_path)), base_url="https://testserver") as c:
        assert c.app.state.gisgrid.warmed.wait(timeout=300)
        yield c


def get_tile(c: TestClient, who: TestAccount, layer: str, z: int, x: int, y: int) -> Any:
    return c.get(f"/tiles/{layer}/{z}/{x}/{y}.mvt", headers=who.headers)


def sample_tiles(place: Place) -> list[tuple[str, tuple[int, int, int]]]:
    """Tiles of every layer at zooms that show it: around the dense tile."""
    _z, x, y = place.dense
    return [
        ("households", place.dense),
        ("grids", place.dense),
        ("grids", (11, x >> 3, y >> 3)),
        ("grids", (9, x >> 5, y >> 5)),
        ("service_points", (11, x >> 3, y >> 3)),
        ("incidents", (12, x >> 2, y >> 2)),
    ]


# --- the tiles hold the store's features ---------------------------------------------------------


def test_tiles_hold_the_stores_features_at_that_zoom(
    client: TestClient, people: dict[str, TestAccount], place: Place, store_path: Path
) -> None:
    store = open_store(str(store_path))
    try:
        for layer, (z, x, y) in sample_tiles(place):
            r = get_tile(client, people["admin"], layer, z, x, y)
            assert r.status_code == 200, (layer, z, r.text[:200])
            assert r.headers["content-type"] == MVT
            if len(r.content) >= 1024:  # MVT is not compressed itself: sent compressed
                assert r.headers["content-encoding"] in ("br", "gzip")
            want = expected(store, layer, z, x, y)
            assert want, f"no {layer} in {z}/{x}/{y}: the test proves nothing"
            assert_same_features(decoded(r.content, layer), want)
    finally:
        store.close()


def test_grid_levels_follow_the_zoom(
    client: TestClient, people: dict[str, TestAccount], place: Place
) -> None:
    z, x, y = place.dense
    for zoom, levels in ((9, {1}), (11, {1, 2}), (14, {1, 2, 3})):
        r = get_tile(client, people["admin"], "grids", zoom, x >> (z - zoom), y >> (z - zoom))
        found = {f["properties"]["level"] for f in decoded(r.content, "grids")}
        assert found == levels, zoom


def test_two_stores_give_the_same_tiles(
    pg_server: Any,
    sample_county: Any,
    client: TestClient,
    people: dict[str, TestAccount],
    place: Place,
) -> None:
    """The same county in PostGIS: every sample tile decodes to the same features as from
    the GeoPackage (and both to the store's: the test above), for the admin and a grid
    worker."""
    from gisgrid.sample import write_sample_county
    from gisgrid.stores.postgis import PostGISStore

    url = pg_server.fresh_database()
    try:
        store = PostGISStore(url)
        store.init()
        write_sample_county(store, sample_county)
        admin = make_account(store, "admin")
        worker = make_account(store, "grid", place.grid)
        for layer, (z, x, y) in sample_tiles(place):
            assert_same_features(
                decoded(get_tile(client, people["admin"], layer, z, x, y).content, layer),
                expected(store, layer, z, x, y),
            )
        store.close()
        with TestClient(create_app(store=url), base_url="https://testserver") as pg:
            for layer, (z, x, y) in sample_tiles(place):
                for here, there in ((people["admin"], admin), (people["grid"], worker)):
                    a = get_tile(client, here, layer, z, x, y)
                    b = get_tile(pg, there, layer, z, x, y)
                    assert a.status_code == b.status_code, (layer, z)
                    if a.status_code == 200:
                        assert_same_features(
                            decoded(b.content, layer),
                            decoded(a.content, layer),
                            polygon_tolerance=1.0,
                        )
    finally:
        pg_server.drop_database(url)


# --- who sees what --------------------------------------------------------------------------------


def test_a_grid_workers_household_tile_holds_only_their_households(
    client: TestClient, people: dict[str, TestAccount], place: Place, store_path: Path
) -> None:
    store = open_store(str(store_path))
    try:
        everything = expected(store, "households", *place.dense)
    finally:
        store.close()
    r = get_tile(client, people["grid"], "households", *place.dense)
    assert r.status_code == 200
    got = decoded(r.content, "households")
    mine = [f for f in everything if f["properties"].get("grid_code") == place.grid]
    assert 0 < len(mine) < len(everything)
    assert_same_features(got, mine)
    # the same households the layer API gives the worker in that tile's box
    z, x, y = place.dense
    size = 360 / 2**z
    west, east = -180 + x * size, -180 + (x + 1) * size
    north = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / 2**z))))
    south = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * (y + 1) / 2**z))))
    api = client.get(
        "/api/layers/households",
        params={"bbox": f"{west},{south},{east},{north}", "limit": 1000},
        headers=people["grid"].headers,
    ).json()
    inside = {
        f["properties"]["id"]
        for f in got
        if 0 <= f["geometry"].x <= EXTENT and 0 <= f["geometry"].y <= EXTENT
    }
    assert {str(f["id"]) for f in api["features"]} >= inside - {None}


def test_a_viewer_sees_grids_without_names_and_no_households(
    client: TestClient, people: dict[str, TestAccount], place: Place
) -> None:
    viewer, admin = people["viewer"], people["admin"]
    seen = decoded(get_tile(client, viewer, "grids", *place.dense).content, "grids")
    full = decoded(get_tile(client, admin, "grids", *place.dense).content, "grids")
    assert {key_of(f) for f in seen} == {key_of(f) for f in full}
    names = {key_of(f): f["properties"].get("responsible_name") for f in full}
    shown = {key_of(f): f["properties"].get("responsible_name") for f in seen}
    assert any(names.values())
    assert all(shown[k] != v for k, v in names.items() if v), "a viewer sees staff names"
    r = get_tile(client, viewer, "households", *place.dense)
    assert r.status_code == 403 and r.json()["error"]["message"]
    # a leader reads households with a reason only (recorded), as the layer
    r = get_tile(client, people["leader"], "households", *place.dense)
    assert r.status_code >= 400 and r.json()["error"]["message"]
    r = client.get(
        "/tiles/households/{}/{}/{}.mvt".format(*place.dense),
        params={"reason": "走访核查"},
        headers=people["leader"].headers,
    )
    assert r.status_code == 200 and decoded(r.content, "households")
    assert client.get("/tiles/grids/{}/{}/{}.mvt".format(*place.dense)).status_code == 401


def test_every_household_tile_is_recorded_in_the_audit_log(
    client: TestClient, people: dict[str, TestAccount], place: Place, store_path: Path
) -> None:
    from gisgrid.stores.ledger import AuditQuery

    worker = people["grid"]
    r = get_tile(client, worker, "households", *place.dense)
    shown = {key_of(f) for f in decoded(r.content, "households")}
    again = client.get(
        "/tiles/households/{}/{}/{}.mvt".format(*place.dense),
        headers=worker.headers | {"If-None-Match": r.headers["etag"]},
    )
    assert again.status_code == 304  # not sent again, but read again: recorded again
    store = open_store(str(store_path))
    try:
        log = store.ledger.audit(AuditQuery(actor=worker.username, action="households_read"))
    finally:
        store.close()
    tiles = [e for e in log if "/tiles/households/" in (e.entry.target or "")]
    assert len(tiles) >= 2
    assert set(tiles[0].entry.detail["ids"]) == shown  # type: ignore[attr-defined]


# --- bad addresses, empty tiles, revalidation ---------------------------------------------


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/tiles/grids/23/0/0.mvt", 422),
        ("/tiles/grids/14/16384/0.mvt", 400),
        ("/tiles/grids/3/0/8.mvt", 400),
        ("/tiles/grids/14/-1/0.mvt", 422),
        ("/tiles/grids/zz/0/0.mvt", 422),
        ("/tiles/roads/14/0/0.mvt", 404),
        ("/tiles/visits/14/0/0.mvt", 404),
        ("/tiles/roads.json", 404),
    ],
)
def test_a_bad_tile_address_is_refused_with_a_reason(
    client: TestClient, people: dict[str, TestAccount], path: str, status: int
) -> None:
    r = client.get(path, headers=people["admin"].headers)
    assert r.status_code == status, r.text[:200]
    assert r.json()["error"]["message"]


def test_an_empty_tile_is_204(
    client: TestClient, people: dict[str, TestAccount], place: Place
) -> None:
    _z, x, y = place.dense
    admin = people["admin"]
    assert get_tile(client, admin, "grids", 14, 0, 0).status_code == 204  # far from the county
    assert get_tile(client, admin, "households", 13, x >> 1, y >> 1).status_code == 204  # below z14
    r = get_tile(client, admin, "grids", 5, x >> 9, y >> 9)  # below the grids' zoom
    assert r.status_code == 204 and r.content == b""


def test_a_tile_is_revalidated_until_the_store_changes(
    client: TestClient, people: dict[str, TestAccount], place: Place, store_path: Path
) -> None:
    z, x, y = place.dense
    admin = people["admin"]
    url = f"/tiles/incidents/{z}/{x}/{y}.mvt"
    first = client.get(url, headers=admin.headers)
    tag = first.headers["etag"]
    assert "private" in first.headers["cache-control"]
    again = client.get(url, headers=admin.headers | {"If-None-Match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag
    # another's view is another tag
    assert client.get(url, headers=people["grid"].headers).headers.get("etag") != tag
    # a write by another process (here: the services on the store file) changes the tile
    store = open_store(str(store_path))
    try:
        report_incident(
            store,
            NewIncident(
                lon=place.point[0], lat=place.point[1], kind="dispute", description="瓦片测试"
            ),
            reporter="tiles",
        )
    finally:
        store.close()
    after = client.get(url, headers=admin.headers | {"If-None-Match": tag})
    assert after.status_code == 200 and after.headers["etag"] != tag
    assert "瓦片测试" not in after.text
    ids_before = (
        {key_of(f) for f in decoded(first.content, "incidents")} if first.content else set()
    )
    assert len({key_of(f) for f in decoded(after.content, "incidents")} - ids_before) == 1


def test_tilejson_describes_the_layer(client: TestClient, people: dict[str, TestAccount]) -> None:
    r = client.get("/tiles/households.json", headers=people["admin"].headers)
    assert r.status_code == 200
    body = r.json()
    assert body["tiles"] == ["https://testserver/tiles/households/{z}/{x}/{y}.mvt"]
    assert body["minzoom"] == 14
    assert list(body["vector_layers"][0]["fields"]) == list(ATTRIBUTES["households"])


# --- the map drawn from the tiles ---------------------------------------------------------


def test_the_net_map_draws_the_grids_from_tiles_in_chromium(
    store_path: Path, people: dict[str, TestAccount], place: Place
) -> None:
    """Real Chromium on a real server: /tiles asks for grid tiles, paints their features
    (the grids painted are the store's), then households at z14; nothing from outside."""
    store = open_store(str(store_path))
    try:
        codes = set(net_on(store, None)["code"].astype(str))
    finally:
        store.close()
    with gisgrid_server(str(store_path)) as base, chromium() as browser:
        cookies = session_cookies(str(store_path), people["admin"], base)
        page, log = new_page(browser, cookies=cookies, viewport={"width": 900, "height": 700})
        answer = page.goto(f"{base}/tiles", wait_until="load")
        assert len(answer.body()) < 5_000  # the page holds no grid: the tiles do
        wait_until(page, "() => window.gisgrid && window.gisgrid.ready")
        tiles = [u for u in log.requests if "/tiles/grids/" in u]
        assert tiles, "no grid tile asked for"
        painted = page.evaluate("() => Array.from(window.gisgrid.grids)")
        assert len(painted) > 10 and set(painted) <= codes
        lat, lon = place.point[1], place.point[0]
        page.evaluate(
            "([lat, lon]) => { window.gisgrid.ready = false; window.gisgrid.painted = {};"
            " window.gisgrid.map.setView([lat, lon], 15, {animate: false}); }",
            [lat, lon],
        )
        wait_until(page, "() => (window.gisgrid.painted.households || 0) > 0")
        wait_until(page, "() => (window.gisgrid.painted.grids || 0) > 0")
        assert [u for u in log.requests if "/tiles/households/15/" in u]
        assert log.blocked == [] and log.errors == []


# --- the encoder itself -----------------------------------------------------------------------


def test_varints_are_protobufs_own() -> None:
    from google.protobuf.internal.encoder import _VarintBytes

    from gisgrid.cartography.mvt import varints

    values = np.array([0, 1, 127, 128, 300, 16383, 16384, 2**35, 2**63 - 1, 2**64 - 1], np.uint64)
    assert varints(values) == b"".join(_VarintBytes(int(v)) for v in values)


def test_polygons_with_holes_and_parts_and_every_kind_of_value_decode_as_written() -> None:
    """A multipolygon with a hole, a polygon that rounds to nothing (left out), masked and
    typed attributes: what the maintained decoder reads back is what was written."""
    from gisgrid.cartography.mvt import encode

    ring = shapely.Polygon(
        [(100, 100), (900, 100), (900, 900), (100, 900)],
        [[(300, 300), (300, 600), (600, 600), (600, 300)]],
    )
    multi = shapely.MultiPolygon([ring, shapely.box(1000.2, 1000.4, 2000.6, 1500.1)])
    sliver = shapely.box(3000, 3000, 3000.2, 3400)
    frame = gpd.GeoDataFrame(
        {
            "code": ["A", "B", "C"],
            "level": pd.array([3, None, 1], dtype="Int64"),
            "ok": [True, False, True],
            "share": [0.25, float("nan"), -1.5],
            "at": [pd.Timestamp("2026-11-30T08:00:00+08:00"), pd.NaT, pd.NaT],
        },
        geometry=[multi, shapely.box(-10.4, 50, 4000, 4100.6), sliver],
    )
    tile = mapbox_vector_tile.decode(encode({"t": frame}), default_options={"y_coord_down": True})
    got = {f["properties"]["code"]: f for f in tile["t"]["features"]}
    assert set(got) == {"A", "B"}
    assert got["A"]["properties"] == {
        "code": "A", "level": 3, "ok": True, "share": 0.25, "at": "2026-11-30T08:00:00+08:00",
    }  # fmt: skip
    assert got["B"]["properties"] == {"code": "B", "ok": False}
    a = shape(got["A"]["geometry"])
    assert a.geom_type == "MultiPolygon" and a.is_valid
    assert shapely.equals(a, shapely.set_precision(multi, 1.0))
    assert len(a.geoms[0].interiors) == 1
    assert shapely.equals(shape(got["B"]["geometry"]), shapely.box(-10, 50, 4000, 4101))
    assert encode({"t": frame.iloc[2:]}) == b""  # nothing left: an empty tile


def test_the_maps_tile_library_is_the_npm_package_pinned_by_the_lock_file() -> None:
    import json

    from gisgrid.cartography.assets import ASSETS, NPM_FOLDER, NpmSource

    lock = json.loads((NPM_FOLDER / "package-lock.json").read_text(encoding="utf-8"))
    pinned = lock["packages"]["node_modules/protomaps-leaflet"]["version"]
    source = ASSETS["protomaps"].source
    assert isinstance(source, NpmSource) and source.version == pinned
    assert ASSETS["protomaps"].url == f"npm-protomaps-leaflet-{pinned}/protomaps-leaflet.js"


def test_a_warm_server_makes_tiles_from_the_layers_it_keeps(
    client: TestClient, people: dict[str, TestAccount], place: Place
) -> None:
    """Once the caches are filled, a tile is read from the kept layers (their STR tree is
    built), not from the store: the served way the bench measures."""
    state = client.app.state.gisgrid
    assert state.filled.wait(timeout=300)
    state.refresh()  # caught up with the writes of the tests before (the watcher would soon)
    state.frames()
    (kept,) = state._sets.values()  # the store's one county
    kept.trees.clear()
    r = get_tile(
        client, people["admin"], "service_points", 11, place.dense[1] >> 3, place.dense[2] >> 3
    )
    assert r.status_code == 200
    assert "service_points" in kept.trees  # (the kept frame's tree, built by this tile)
