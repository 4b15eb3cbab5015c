"""The web app's HTTP API, on a real store holding the sample county.

Functional tests go through ``with TestClient(app)`` (the lifespan runs); the real server
(uvicorn in a subprocess on a free loopback port) is exercised by the smoke tests and by
property-based fuzzing of every operation from the OpenAPI schema, signed in as each role (no
5xx, responses match the schema). Every test signs in with an API token of a county admin
unless it is about a role.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import schemathesis
import shapely
from accounts import admin_headers, make_account
from conftest import assert_same
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance
from servers import gisgrid_server

from gisgrid import crs as crsmod
from gisgrid.analysis.assign import assign_points_exact
from gisgrid.api import create_app
from gisgrid.codes import township_of, village_of
from gisgrid.errors import ConflictError, ValidationError
from gisgrid.roles import Role
from gisgrid.sample import write_sample_county
from gisgrid.services.incidents import NewIncident, report_incident
from gisgrid.stores.geopackage import GeoPackageStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def county_file(sample_county, tmp_path_factory) -> Path:
    """The sample county in a GeoPackage, written once for this module."""
    path = tmp_path_factory.mktemp("api") / "county.gpkg"
    write_sample_county(GeoPackageStore(path), sample_county)
    return path


@pytest.fixture
def store_copy(county_file, tmp_path) -> Path:
    """A private copy for tests that write."""
    path = tmp_path / "county.gpkg"
    shutil.copy(county_file, path)
    return path


@pytest.fixture(scope="module")
def client(county_file) -> Iterator[TestClient]:
    headers = admin_headers(str(county_file))
    with TestClient(create_app(store=str(county_file)), headers=headers) as c:
        yield c


@pytest.fixture(scope="module")
def frames(sample_county) -> dict[str, Any]:
    return sample_county.frames


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert body["error"]["message"], body
    return body["error"]


# --- layers ----------------------------------------------------------------------------------


def test_layer_list_counts_match_the_store(client, frames):
    listed = {item["name"]: item["features"] for item in client.get("/api/layers").json()}
    for name, frame in frames.items():
        assert listed[name] == len(frame), name


def test_grids_of_a_village_by_level(client, frames):
    grids = frames["grids"]
    village = grids.loc[grids["level"] == 1, "code"].iloc[5]
    r = client.get("/api/layers/grids", params={"level": 3, "village": village, "limit": 5000})
    assert r.status_code == 200
    body = r.json()
    expected = grids[(grids["level"] == 3) & (grids["village_code"] == village)]
    got = {f["properties"]["code"] for f in body["features"]}
    assert got == set(expected["code"])
    assert body["numberMatched"] == len(expected) == body["numberReturned"]
    feature = body["features"][0]
    row = expected.set_index("code").loc[feature["properties"]["code"]]
    assert feature["properties"]["responsible_name"] == row["responsible_name"]
    assert feature["id"] == feature["properties"]["code"]
    geom = shapely.geometry.shape(feature["geometry"])
    assert shapely.hausdorff_distance(geom, row.geometry) < 1e-6


def test_paging_covers_every_feature_once(client, frames):
    seen: list[str] = []
    offset = 0
    while True:
        r = client.get("/api/layers/villages", params={"limit": 37, "offset": offset})
        page = r.json()
        seen += [f["properties"]["code"] for f in page["features"]]
        offset += 37
        if offset >= page["numberMatched"]:
            break
    assert sorted(seen) == sorted(frames["villages"]["code"])


def test_bbox_filter_matches_an_exact_intersection(client, frames):
    sp = frames["service_points"]
    x0, y0, x1, y1 = 112.50, 29.40, 112.60, 29.50
    r = client.get("/api/layers/service_points", params={"bbox": f"{x0},{y0},{x1},{y1}"})
    got = {f["properties"]["id"] for f in r.json()["features"]}
    box = shapely.box(x0, y0, x1, y1)
    expected = set(sp.loc[shapely.intersects(sp.geometry.values, box), "id"])
    assert got == expected and got


def test_simplify_keeps_shared_edges_and_drops_vertices(client, sample_county):
    # a township without planted defects, so its level-3 grids form a valid coverage
    defects = sample_county.manifest["defects"]
    touched = {d["parent_code"][:9] for k in ("gaps", "overlaps", "nesting") for d in defects[k]}
    township = next(
        c for c in sorted(sample_county.frames["townships"]["code"]) if c not in touched
    )
    params = {"level": 3, "township": township, "limit": 5000}
    raw = client.get("/api/layers/grids", params=params).json()["features"]
    simple = client.get("/api/layers/grids", params=params | {"simplify": 50}).json()["features"]

    def geoms(fs: list[dict[str, Any]]) -> np.ndarray:
        return np.array([shapely.geometry.shape(f["geometry"]) for f in fs], dtype=object)

    g_raw, g_simple = geoms(raw), geoms(simple)
    assert len(g_raw) == len(g_simple) > 10
    assert shapely.get_num_coordinates(g_simple).sum() < shapely.get_num_coordinates(g_raw).sum()
    assert shapely.coverage_is_valid(g_raw)
    assert shapely.coverage_is_valid(g_simple), "simplification broke shared edges"


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/api/layers/farms", {}, 404),
        ("/api/layers/households", {"limit": 5000}, 400),
        ("/api/layers/villages", {"bbox": "1,2,3"}, 422),
        ("/api/layers/villages", {"bbox": "113,29,112,30"}, 400),
        ("/api/layers/villages", {"level": 2}, 400),
        ("/api/layers/villages", {"village": "12ab"}, 422),
        ("/api/layers/villages", {"limit": 0}, 422),
    ],
)
def test_bad_layer_requests_get_a_json_4xx(client, path, params, status):
    r = client.get(path, params=params)
    assert r.status_code == status
    error_of(r)


def test_households_come_in_pages_never_all_at_once(client, frames):
    r = client.get("/api/layers/households", params={"limit": 1000})
    body = r.json()
    assert body["numberReturned"] == 1000 < body["numberMatched"] == len(frames["households"])


# --- locate ----------------------------------------------------------------------------------


def test_locate_agrees_with_the_assignment_rule(client, frames):
    hh = frames["households"].sample(60, random_state=1)
    level3 = frames["grids"][frames["grids"]["level"] == 3]
    expected = assign_points_exact(hh.geometry, level3)
    grids = frames["grids"].set_index("code")
    for (_, row), code in zip(hh.iterrows(), expected, strict=True):
        r = client.get("/api/locate", params={"lon": row.geometry.x, "lat": row.geometry.y})
        assert r.status_code == 200
        body = r.json()
        got = body["grids"]["level3"]["code"] if body["in_grid"] else None
        assert got == code
        if code is not None:
            assert (
                body["grids"]["level3"]["responsible_name"] == grids.loc[code, "responsible_name"]
            )
            assert body["grids"]["level2"]["code"] == grids.loc[code, "parent_code"]
            assert body["village"]["code"] == code[:12]
            assert body["township"]["code"] == code[:9]
        assert set(body["nearest_service_points"]) >= {"village_centre", "township_centre"}


@pytest.mark.parametrize(
    ("crs", "forward", "offset_m"),
    [("gcj02", crsmod.wgs84_to_gcj02, (400, 800)), ("bd09", crsmod.wgs84_to_bd09, (900, 1600))],
)
def test_locate_converts_phone_map_coordinates(client, frames, crs, forward, offset_m):
    for _, row in frames["households"].sample(20, random_state=2).iterrows():
        x, y = row.geometry.x, row.geometry.y
        plain = client.get("/api/locate", params={"lon": x, "lat": y}).json()
        lon, lat = forward(x, y)
        shifted = client.get("/api/locate", params={"lon": lon, "lat": lat, "crs": crs}).json()
        assert shifted["grids"] == plain["grids"]
        assert abs(shifted["wgs84"]["lon"] - x) < 1e-6 and abs(shifted["wgs84"]["lat"] - y) < 1e-6
        # read as WGS84 the same numbers land far away (GCJ-02 ~600 m, BD-09 ~1.2 km here)
        wrong = client.get("/api/locate", params={"lon": lon, "lat": lat})
        if wrong.status_code == 200:
            a = gpd.GeoSeries(shapely.points([[x, y], [lon, lat]]), crs=crsmod.STORAGE_CRS)
            d = crsmod.to_metric(a).values
            assert offset_m[0] < shapely.distance(d[0], d[1]) < offset_m[1]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"lon": 29.5, "lat": 112.6}, "swapped"),
        ({"lon": 200, "lat": 10}, "out_of_range"),
        ({"lon": 0, "lat": 0}, "outside_china"),
        ({"lon": 116.4, "lat": 39.9}, "outside_county"),
        ({"lon": "x", "lat": 29.5}, "invalid_request"),
        ({"lat": 29.5}, "invalid_request"),
        ({"lon": 112.6, "lat": 29.5, "crs": "mars"}, "invalid_request"),
        ({"lon": "nan", "lat": 29.5}, None),
    ],
)
def test_locate_refuses_bad_points_with_a_reason(client, params, code):
    r = client.get("/api/locate", params=params)
    assert r.status_code == 422
    error = error_of(r)
    if code is not None:
        assert error["code"] == code


# --- households ------------------------------------------------------------------------------


def test_search_finds_by_name_initials_house_number_and_id(client, frames):
    hh = frames["households"].set_index("id")
    target = hh.index[1234]
    row = hh.loc[target]
    village = row["village_code"]
    by_name = client.get(
        "/api/households/search", params={"q": row["head_name"], "village": village}
    )
    assert target in [h["id"] for h in by_name.json()["results"]]
    by_number = client.get("/api/households/search", params={"q": row["house_number"]})
    assert by_number.json()["results"][0]["id"] == target
    by_id = client.get("/api/households/search", params={"q": target}).json()["results"]
    assert by_id[0]["id"] == target and by_id[0]["score"] == 100
    from pypinyin import Style, pinyin

    initials = "".join(p[0][0] for p in pinyin(row["head_name"], style=Style.NORMAL))
    found = client.get(
        "/api/households/search", params={"q": initials, "village": village, "limit": 50}
    ).json()["results"]
    assert target in [h["id"] for h in found]
    for h in found:
        assert h["village_code"].startswith(village)


def test_search_needs_a_query(client):
    r = client.get("/api/households/search", params={"q": ""})
    assert r.status_code == 422
    error_of(r)


def test_a_household_with_its_grid_and_backbone(client, frames):
    hh = frames["households"]
    linked = hh[hh["backbone_id"].notna()].iloc[10]
    body = client.get(f"/api/households/{linked['id']}").json()
    assert body["household"]["head_name"] == linked["head_name"]
    assert body["backbone"]["id"] == linked["backbone_id"]
    level3 = frames["grids"][frames["grids"]["level"] == 3]
    code = assign_points_exact(gpd.GeoSeries([linked.geometry], crs=crsmod.STORAGE_CRS), level3)[0]
    assert body["grid"]["code"] == code
    backbone = client.get(f"/api/households/{linked['backbone_id']}").json()
    members = {h["id"] for h in backbone["linked_households"]}
    assert members == set(hh.loc[hh["backbone_id"] == linked["backbone_id"], "id"])


@pytest.mark.parametrize(
    ("path", "status"), [("/api/households/H9999999", 404), ("/api/households/a%20b", 422)]
)
def test_unknown_households(client, path, status):
    r = client.get(path)
    assert r.status_code == status
    error_of(r)


# --- incidents -------------------------------------------------------------------------------


def incident(lon: float, lat: float, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "properties": {"kind": "dispute", "description": "测试纠纷"} | props,
    }


def test_report_an_incident_routes_it_and_stores_it(store_copy, frames):
    hh = frames["households"].iloc[500]
    headers = admin_headers(str(store_copy))
    with TestClient(create_app(store=str(store_copy)), headers=headers) as c:
        before = GeoPackageStore(store_copy).count("incidents")
        r = c.post("/api/incidents", json=incident(hh.geometry.x, hh.geometry.y, id="T-1"))
        assert r.status_code == 201, r.text
        body = r.json()
        where = c.get("/api/locate", params={"lon": hh.geometry.x, "lat": hh.geometry.y}).json()
        assert body["routing"]["grids"] == where["grids"]
        assert body["incident"]["properties"]["grid_code"] == where["grids"]["level3"]["code"]
        stored = GeoPackageStore(store_copy).read("incidents", where={"id": "T-1"})
        assert len(stored) == 1 and stored["kind"].iat[0] == "dispute"
        # the case's history begins with the report, by whoever reported it
        steps = GeoPackageStore(store_copy).read("case_steps", where={"incident_id": "T-1"})
        assert steps["action"].tolist() == ["report"] and steps["seq"].tolist() == [1]
        assert c.get("/api/incidents/T-1/case").json()["stage"] == "registered"
        assert GeoPackageStore(store_copy).count("incidents") == before + 1
        listed = c.get(
            "/api/incidents", params={"kind": "dispute", "village": where["village"]["code"]}
        )
        assert "T-1" in {f["id"] for f in listed.json()["features"]}
        again = c.post("/api/incidents", json=incident(hh.geometry.x, hh.geometry.y, id="T-1"))
        assert again.status_code == 409
        error_of(again)


@pytest.mark.parametrize(
    ("body", "params", "status"),
    [
        (incident(112.6, 29.5, kind="bogus"), {}, 422),
        (incident(112.6, 29.5, status="done"), {}, 422),
        (incident(29.5, 112.6), {}, 422),
        (incident(116.4, 39.9), {}, 422),
        (incident(112.6, 29.5, reported_at="yesterday"), {}, 422),
        (incident(112.6, 29.5, reported_at="2099-01-01T09:00:00+08:00"), {}, 422),
        (incident(112.6, 29.5, id="a b"), {}, 422),
        (incident(112.6, 29.5, colour="red"), {}, 422),
        (
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
                "properties": {"kind": "dispute"},
            },
            {},
            422,
        ),
        (
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [112.6, 29.5, 3, 4]},
                "properties": {"kind": "dispute"},
            },
            {},
            422,
        ),
        ({"type": "FeatureCollection", "features": []}, {}, 422),
        ({"type": "Feature", "properties": {"kind": "dispute"}}, {}, 422),
        (incident(112.6, 29.5), {"crs": "mars"}, 422),
    ],
)
def test_bad_incidents_are_refused_and_nothing_is_stored(store_copy, body, params, status):
    before = GeoPackageStore(store_copy).read("incidents")
    headers = admin_headers(str(store_copy))
    with TestClient(create_app(store=str(store_copy)), headers=headers) as c:
        r = c.post("/api/incidents", json=body, params=params)
        assert r.status_code == status, r.text
        error_of(r)
    after = GeoPackageStore(store_copy).read("incidents")
    pd.testing.assert_frame_equal(before, after)


def test_the_incident_service_stores_one_valid_incident(store_copy):
    """The domain write without HTTP: validated, stored once, a duplicate or bad one refused."""
    store = GeoPackageStore(store_copy)
    before = store.read("incidents")
    reported = dt.datetime(2024, 5, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    new = NewIncident(
        lon=112.6, lat=29.5, kind="dispute", grid_code=None, id="S-1", reported_at=reported
    )
    stored = report_incident(store, new)
    assert list(stored["id"]) == ["S-1"] and stored["status"].iat[0] == "registered"
    assert_same(stored, store.read("incidents", where={"id": "S-1"}))
    with pytest.raises(ConflictError):
        report_incident(store, new)
    with pytest.raises(ValidationError):
        report_incident(store, NewIncident(lon=112.6, lat=29.5, kind="bogus"))
    assert store.count("incidents") == len(before) + 1


def test_malformed_json_is_a_4xx(client):
    r = client.post(
        "/api/incidents", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    error_of(r)


def test_incident_filters_match_the_store(client, frames):
    inc = frames["incidents"]
    params = {"kind": "dispute", "since": "2026-06-01", "until": "2026-08-31", "limit": 5000}
    body = client.get("/api/incidents", params=params).json()
    t = inc["reported_at"]
    expected = inc[(inc["kind"] == "dispute") & (t >= "2026-06-01") & (t < "2026-09-01")]
    assert {f["id"] for f in body["features"]} == set(expected["id"])
    assert body["numberMatched"] == len(expected) > 0


# --- the real server -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served_file(county_file, tmp_path_factory) -> Path:
    """The copy of the county the real server serves."""
    path = tmp_path_factory.mktemp("served") / "county.gpkg"
    shutil.copy(county_file, path)
    return path


def area_for(role: Role, frames: dict[str, Any]) -> str:
    """A real area of the sample county of the kind ``role`` is given (issue #12, point 2)."""
    level3 = frames["grids"].loc[frames["grids"]["level"] == 3, "code"].sort_values()
    grid = str(level3.iloc[len(level3) // 2])
    return {
        Role.ADMIN: "430623",
        Role.LEADER: "430623",
        Role.TOWNSHIP: township_of(grid),
        Role.VILLAGE: village_of(grid),
        Role.GRID: grid,
        Role.PLANNER: township_of(grid),
        Role.VIEWER: township_of(grid),
    }[role]


@pytest.fixture(scope="module")
def role_headers(served_file, frames) -> dict[Role, dict[str, str]]:
    """An account of every role on the served copy, each for a real area of its kind."""
    return {
        role: make_account(str(served_file), role, area_for(role, frames)).headers for role in Role
    }


@pytest.fixture(scope="module")
def server_headers(role_headers) -> dict[str, str]:
    """A county admin's ``Authorization`` header for the real server."""
    return role_headers[Role.ADMIN]


@pytest.fixture(scope="module")
def server(served_file, role_headers) -> Iterator[str]:
    """``gisgrid serve`` in a subprocess on a free loopback port, on a copy of the county
    (its accounts made before it starts)."""
    with gisgrid_server(str(served_file)) as base:
        yield base


def get(url: str, headers: dict[str, str], *, timeout: float = 30) -> Any:
    """``urlopen`` of a GET with ``headers`` (the caller closes the answer)."""
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def test_the_real_server_answers_over_http(server, server_headers, frames):
    hh = frames["households"].iloc[0]
    url = f"{server}/api/locate?lon={hh.geometry.x}&lat={hh.geometry.y}"
    with get(url, server_headers, timeout=10) as r:
        body = json.loads(r.read())
    level3 = frames["grids"][frames["grids"]["level"] == 3]
    code = assign_points_exact(gpd.GeoSeries([hh.geometry], crs=crsmod.STORAGE_CRS), level3)[0]
    assert code is not None
    assert body["in_grid"] and body["grids"]["level3"]["code"] == code
    with pytest.raises(urllib.error.HTTPError) as bad:
        get(f"{server}/api/locate?lon=29.5&lat=112.6", server_headers, timeout=10)
    assert bad.value.code == 422
    assert json.loads(bad.value.read())["error"]["code"] == "swapped"


#: every operation of the API, read from the app's own OpenAPI document at collection time
OPERATIONS = [
    (path, method.upper())
    for path, item in create_app().openapi()["paths"].items()
    for method in item
]


def test_every_route_but_the_schema_itself_is_fuzzed() -> None:
    """A route left out of the OpenAPI document would escape the fuzzing below: every route
    of the policy is in it (the assets' path parameter spelled without its converter)."""
    from gisgrid.api import policy

    fuzzed = {(m, p.replace("{path}", "{path:path}")) for p, m in OPERATIONS}
    assert set(policy.ROUTES) - fuzzed == {("GET", "/openapi.json")}


@pytest.fixture(scope="module")
def api_schema(server):
    return schemathesis.openapi.from_url(f"{server}/openapi.json")


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_fuzzing_the_api_finds_no_5xx_and_answers_match_the_schema(
    api_schema, role_headers, path, method, role
):
    operation = api_schema[path][method]
    headers = role_headers[role]

    # five examples per role (35 per operation across the seven roles): the suite must fit CI
    @given(case=operation.as_strategy())
    @settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        # a schema-valid request may still be refused for its meaning (a level filter on a
        # layer without levels, a role that may not read it): that 4xx is right; 5xx and
        # off-schema answers are not
        # timeout: a hang guard, not a speed check (a map page takes seconds on a busy machine)
        case.call_and_validate(
            headers=headers, excluded_checks=[positive_data_acceptance], timeout=120
        )

    fuzz()


# --- the real server on PostGIS --------------------------------------------------------------


@pytest.fixture(scope="module")
def pg_county_url(pg_server, sample_county) -> Iterator[str]:
    """The sample county in a fresh PostGIS database of its own."""
    from gisgrid.stores.postgis import PostGISStore

    url = pg_server.fresh_database()
    store = PostGISStore(url)
    store.init()
    write_sample_county(store, sample_county)
    store.close()
    yield url
    pg_server.drop_database(url)


def _post(url: str, body: dict[str, Any], headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"} | headers,
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_real_server_on_postgis(pg_county_url, frames):
    from gisgrid.stores.postgis import PostGISStore

    hh = frames["households"].iloc[:40]
    level3 = frames["grids"][frames["grids"]["level"] == 3]
    expected = assign_points_exact(hh.geometry, level3)
    headers = admin_headers(pg_county_url)
    with gisgrid_server(pg_county_url) as base:
        with get(f"{base}/api/layers", headers) as r:
            listed = {i["name"]: i["features"] for i in json.loads(r.read())}
        assert listed["households"] == len(frames["households"])
        for (_, row), code in zip(hh.iterrows(), expected, strict=True):
            url = f"{base}/api/locate?lon={row.geometry.x}&lat={row.geometry.y}"
            with get(url, headers) as r:
                body = json.loads(r.read())
            assert (body["grids"]["level3"] or {}).get("code") == code
        store = PostGISStore(pg_county_url)
        before = store.count("incidents")
        x, y = hh.geometry.iloc[0].x, hh.geometry.iloc[0].y
        status, body = _post(f"{base}/api/incidents", incident(x, y, id="PG-1"), headers)
        assert status == 201, body
        assert store.count("incidents") == before + 1
        stored = store.read("incidents", where={"id": "PG-1"})
        assert stored["grid_code"].iat[0] == expected[0]
        status, body = _post(f"{base}/api/incidents", incident(x, y, kind="bogus"), headers)
        assert status == 422 and body["error"]["problems"]
        assert store.count("incidents") == before + 1
        store.close()
