"""OGC API – Features under /ogc, against a real server on loopback, on both stores.

The little county of conftest.py is served by ``gisgrid serve`` (a real uvicorn process),
once from a GeoPackage and once from PostGIS. Every answer is compared with the truth
computed here from the store's own read, by plain pandas/geopandas (filters, grids in force,
who sees which household: a spatial join), never by gisgrid's filtering code. GDAL's OAPIF
driver (Debian's gdal-bin: ``ogrinfo``, ``ogr2ogr``) reads every collection and must get the
same features.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from accounts import TestAccount, make_account
from conftest import V1, raw_frame
from servers import gisgrid_server
from shapely.geometry import box, shape

from gisgrid.layers import LAYERS, get_layer
from gisgrid.stores import open_store

OGRINFO = "/usr/bin/ogrinfo"
OGR2OGR = "/usr/bin/ogr2ogr"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
LOCAL = "Asia/Shanghai"


@dataclass(frozen=True)
class Served:
    """A store of the little county, served for real, and its accounts."""

    kind: str
    store: str
    base: str
    accounts: dict[str, TestAccount]
    #: a level-3 grid with some, not all, households; the grid worker's area
    grid: str


def _frames() -> dict[str, Any]:
    return {name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()}


def _grids_now(store: str, day: dt.date | None = None) -> gpd.GeoDataFrame:
    """The grids in force on ``day`` (today): every version of grids and grid_versions whose
    valid_from is missing or not after it, and valid_to missing or after it."""
    st = open_store(store)
    try:
        day = day or dt.datetime.now(ZoneInfo(LOCAL)).date()
        rows = [st.read("grids"), st.read("grid_versions")]
    finally:
        st.close()
    both = pd.concat(rows, ignore_index=True)
    stamp = pd.Timestamp(day)
    keep = (both["valid_from"].isna() | (both["valid_from"] <= stamp)) & (
        both["valid_to"].isna() | (both["valid_to"] > stamp)
    )
    return gpd.GeoDataFrame(both[keep.to_numpy()], geometry="geometry", crs=4326)


def _pick_grid(store: str) -> str:
    grids = _grids_now(store)
    grids = grids[grids["level"] == 3]
    households = _read(store, "households")
    joined = gpd.sjoin(households, grids[["code", "geometry"]], predicate="covered_by")
    counts = joined.groupby("code").size()
    partial = counts[(counts >= 2) & (counts < len(households))]
    return str(partial.index[0])


def _read(store: str, layer: str) -> Any:
    st = open_store(store)
    try:
        return st.read(layer)
    finally:
        st.close()


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """The little county on one store, served by ``gisgrid serve`` on loopback."""
    dropped: str | None = None
    if request.param == "gpkg":
        path = tmp_path_factory.mktemp("ogc") / "county.gpkg"
        st = open_store(str(path))
        st.write(_frames(), meta={"county": "测试县"})
        st.close()
        url = str(path)
    else:
        from gisgrid.stores.postgis import PostGISStore

        pg_server = request.getfixturevalue("pg_server")
        url = dropped = pg_server.fresh_database()
        pg = PostGISStore(url)
        pg.init()
        pg.write(_frames(), meta={"county": "测试县"})
        pg.close()
    grid = _pick_grid(url)
    accounts = {
        "admin": make_account(url, "admin", "430623"),
        "leader": make_account(url, "leader", "430623"),
        "grid": make_account(url, "grid", grid),
        "village": make_account(url, "village", "430623902001"),
        "viewer": make_account(url, "viewer", "430623901"),
    }
    try:
        with gisgrid_server(url) as base:
            yield Served(request.param, url, base, accounts, grid)
    finally:
        if dropped is not None:
            request.getfixturevalue("pg_server").drop_database(dropped)


# --- HTTP ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


def get(served: Served, path: str, *, role: str = "admin", **headers: str) -> Answer:
    """GET ``path`` (below the base URL, or a whole URL) as ``role``."""
    url = path if path.startswith("http") else served.base + path
    sent = {**served.accounts[role].headers, **headers} if role != "anonymous" else headers
    req = urllib.request.Request(url, headers=sent)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return Answer(r.status, {k.lower(): v for k, v in r.headers.items()}, json.load(r))
    except urllib.error.HTTPError as e:
        with e:
            return Answer(e.code, {k.lower(): v for k, v in e.headers.items()}, json.load(e))


def items(served: Served, layer: str, *, role: str = "admin", **query: str) -> Answer:
    text = urllib.parse.urlencode(query)
    return get(served, f"/ogc/collections/{layer}/items?{text}", role=role)


def ids_of(answer: Answer) -> list[str]:
    assert answer.status == 200, answer.body
    return [str(f["id"]) for f in answer.body["features"]]


def all_pages(served: Served, layer: str, *, role: str = "admin", **query: str) -> list[str]:
    """Every feature id, following the ``next`` links from the first page."""
    answer = items(served, layer, role=role, **query)
    found = ids_of(answer)
    matched = answer.body["numberMatched"]
    while True:
        assert answer.body["numberMatched"] == matched
        assert answer.body["numberReturned"] == len(answer.body["features"])
        nxt = [link["href"] for link in answer.body["links"] if link["rel"] == "next"]
        if not nxt:
            break
        answer = get(served, nxt[0], role=role)
        found += ids_of(answer)
    assert len(found) == matched
    return found


def assert_refused(answer: Answer, status: int = 400) -> None:
    assert answer.status == status, answer.body
    assert answer.body["error"]["message"]


# --- the shape of the service --------------------------------------------------------------------


def test_landing_conformance_collections_and_queryables(served: Served) -> None:
    landing = get(served, "/ogc")
    rels = {link["rel"]: link["href"] for link in landing.body["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= set(rels)
    assert get(served, rels["service-desc"]).body["paths"]  # the OpenAPI document
    conf = get(served, "/ogc/conformance").body["conformsTo"]
    for part in ("features-1/1.0/conf/core", "features-1/1.0/conf/geojson"):
        assert f"http://www.opengis.net/spec/ogcapi-{part}" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conf
    assert "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables" in conf

    listed = get(served, "/ogc/collections").body
    by_id = {c["id"]: c for c in listed["collections"]}
    assert list(by_id) == list(LAYERS)  # every layer, in the declared order, for the admin
    grids = by_id["grids"]
    assert grids["storageCrs"] == CRS84 and {CRS84, EPSG_4490} <= set(grids["crs"])
    assert grids["extent"]["spatial"]["crs"] == CRS84
    x0, y0, x1, y1 = grids["extent"]["spatial"]["bbox"][0]
    assert 112 < x0 < x1 < 113 and 29 < y0 < y1 < 30
    assert {link["rel"] for link in grids["links"]} >= {"self", "items"}
    assert get(served, "/ogc/collections/grids").body["id"] == "grids"
    assert_refused(get(served, "/ogc/collections/nothing"), 404)
    assert_refused(get(served, "/ogc/collections?f=html"))

    schema = get(served, "/ogc/collections/households/queryables")
    assert schema.headers["content-type"].startswith("application/schema+json")
    props = schema.body["properties"]
    assert schema.body["type"] == "object" and "$schema" in schema.body
    assert props["members"]["type"] == "integer" and props["village_code"]["type"] == "string"
    # no personal field (a filter on a masked name would tell it), no grid_code (placed at read)
    assert not {"head_name", "house_number", "party_member", "grid_code"} & set(props)
    incidents = get(served, "/ogc/collections/incidents/queryables").body["properties"]
    assert incidents["reported_at"]["format"] == "date-time"


def test_anonymous_is_refused(served: Served) -> None:
    for path in ("/ogc", "/ogc/collections", "/ogc/collections/grids/items"):
        assert_refused(get(served, path, role="anonymous"), 401)


# --- paging --------------------------------------------------------------------------------------


@pytest.mark.parametrize("layer", ["households", "grids", "case_steps"])
def test_all_pages_together_are_the_stores_features(served: Served, layer: str) -> None:
    found = all_pages(served, layer, limit="2")
    assert len(found) == len(set(found)), "a feature on two pages"
    decl = get_layer(layer)
    truth = _grids_now(served.store) if layer == "grids" else _read(served.store, layer)
    expected = ["~".join(str(r[k]) for k in decl.key) for _i, r in truth.iterrows()]
    assert sorted(found) == sorted(expected)


def test_paging_links_and_limits(served: Served) -> None:
    first = items(served, "households", limit="4")
    assert first.body["numberMatched"] == 9 and first.body["numberReturned"] == 4
    assert "prev" not in {link["rel"] for link in first.body["links"]}
    second = items(served, "households", limit="4", offset="4")
    links = {link["rel"]: link["href"] for link in second.body["links"]}
    assert ids_of(get(served, links["prev"])) == ids_of(first)
    assert "offset=8" in links["next"]
    last = get(served, links["next"])
    assert last.body["numberReturned"] == 1 and "next" not in {x["rel"] for x in last.body["links"]}
    assert items(served, "households", limit="100000").status == 200  # clamped to the most
    assert_refused(items(served, "households", limit="0"), 422)
    assert_refused(items(served, "households", offset="-1"), 422)
    assert_refused(items(served, "households", offset=str(2**80)), 422)  # beyond any store
    beyond = items(served, "households", offset=str(2**31 - 1))
    assert ids_of(beyond) == [] and beyond.body["numberMatched"] == 9


# --- filters -------------------------------------------------------------------------------------


def test_bbox_against_geopandas(served: Served) -> None:
    households = _read(served.store, "households")
    window = (112.42, 29.64, 112.44, 29.66)
    truth = households[households.intersects(box(*window))]["id"]
    assert 0 < len(truth) < len(households)
    got = ids_of(items(served, "households", bbox=",".join(map(str, window))))
    assert sorted(got) == sorted(truth)
    # the same box in EPSG:4490: latitude first, by its definition
    lat_lon = f"{window[1]},{window[0]},{window[3]},{window[2]}"
    got_4490 = ids_of(items(served, "households", bbox=lat_lon, **{"bbox-crs": EPSG_4490}))
    assert sorted(got_4490) == sorted(truth)
    # the lon,lat box said to be EPSG:4490 is a latitude of 112: refused, not misread
    bad = items(served, "households", bbox=",".join(map(str, window)), **{"bbox-crs": EPSG_4490})
    assert_refused(bad)
    grids = _grids_now(served.store)
    truth_grids = grids[grids.intersects(box(*window))]["code"]
    got_grids = ids_of(items(served, "grids", bbox=",".join(map(str, window)), limit="1000"))
    assert sorted(got_grids) == sorted(truth_grids)
    for wrong in ("1,2,3", "a,b,c,d", "112.5,29.6,112.4,29.7", "1,2,3,4,5", "nan,1,2,3"):
        assert_refused(items(served, "households", bbox=wrong))
    assert_refused(items(served, "households", bbox="1,2,3,4", **{"bbox-crs": "EPSG:3857"}))
    assert_refused(items(served, "case_steps", bbox=",".join(map(str, window))))  # no geometry


def _local(text: str) -> pd.Timestamp:
    stamp = pd.Timestamp(text)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(LOCAL).tz_localize(None)
    return stamp


@pytest.mark.parametrize(
    ("when", "start", "end"),
    [
        ("2024-03-01/2024-06-30", "2024-03-01 00:00", "2024-06-30 23:59:59.999999"),
        ("2024-05-12T06:05:00Z", "2024-05-12 14:05", "2024-05-12 14:05"),  # UTC → local
        ("2024-05-12T14:05:00+08:00", "2024-05-12 14:05", "2024-05-12 14:05"),
        ("../2024-03-01T09:30:00", None, "2024-03-01 09:30"),
        ("2024-05-13/..", "2024-05-13 00:00", None),
        ("2024-07-20", "2024-07-20 00:00", "2024-07-20 23:59:59.999999"),
    ],
)
def test_datetime_on_incidents_against_pandas(
    served: Served, when: str, start: str | None, end: str | None
) -> None:
    incidents = _read(served.store, "incidents")
    at = incidents["reported_at"]
    keep = pd.Series(True, index=incidents.index)
    if start is not None:
        keep &= at >= _local(start)
    if end is not None:
        keep &= at <= _local(end)
    assert sorted(ids_of(items(served, "incidents", datetime=when))) == sorted(
        incidents.loc[keep, "id"]
    )


def test_datetime_on_grids_is_the_net_of_that_day(served: Served) -> None:
    day = dt.date(2023, 6, 1)
    then = _grids_now(served.store, day)
    answer = items(served, "grids", datetime=day.isoformat(), limit="1000")
    assert sorted(ids_of(answer)) == sorted(then["code"])
    # the first level-3 grid in its first version: reaching further south then
    code = V1 + "001001"
    old = next(f for f in answer.body["features"] if f["id"] == code)
    assert old["properties"]["version"] == 1
    assert shape(old["geometry"]).equals_exact(
        then.set_index("code").geometry[code], tolerance=1e-7
    )
    now = ids_of(items(served, "grids", limit="1000"))
    assert sorted(now) == sorted(_grids_now(served.store)["code"])
    assert_refused(items(served, "grids", datetime="2023-01-01/2024-01-01"))
    # versions over a period: grid_versions, by the days each was in force
    versions = _read(served.store, "grid_versions")
    a, b = pd.Timestamp("2024-02-01"), pd.Timestamp("2024-02-29")
    meets = (versions["valid_from"] <= b) & (versions["valid_to"] > a)
    got = ids_of(items(served, "grid_versions", datetime="2024-02-01/2024-02-29"))
    assert sorted(got) == sorted(
        f"{c}~{v}" for c, v in versions.loc[meets, ["code", "version"]].values
    )
    assert ids_of(items(served, "grid_versions", datetime="2024-03-01/..")) == []  # ended then


def test_datetime_refusals(served: Served) -> None:
    assert_refused(items(served, "villages", datetime="2024-01-01"))  # no dates
    for wrong in ("yesterday", "2024-13-01", "../..", "2024-03-02/2024-03-01", "a/b/c"):
        assert_refused(items(served, "incidents", datetime=wrong))


def test_property_filters_against_pandas(served: Served) -> None:
    villages = _read(served.store, "villages")
    got = ids_of(items(served, "villages", kind="village"))
    assert sorted(got) == sorted(villages.loc[villages["kind"] == "village", "code"])
    grids = _grids_now(served.store)
    level3 = grids[(grids["level"] == 3) & (grids["village_code"] == V1)]["code"]
    got = ids_of(items(served, "grids", level="3", village_code=V1, limit="1000"))
    assert sorted(got) == sorted(level3)
    either = ids_of(get(served, "/ogc/collections/grids/items?level=2&level=3&limit=1000"))
    assert sorted(either) == sorted(grids.loc[grids["level"].isin([2, 3]), "code"])
    households = _read(served.store, "households")
    got = all_pages(served, "households", limit="2", members="3")
    assert sorted(got) == sorted(households.loc[households["members"] == 3, "id"])
    assert_refused(items(served, "grids", level="three"))
    assert_refused(items(served, "households", head_name="测试户主1"))  # personal: not queryable
    assert_refused(items(served, "households", colour="red"))


def test_property_filter_given_twice_is_either(served: Served) -> None:
    url = "/ogc/collections/incidents/items?kind=dispute&kind=petition"
    incidents = _read(served.store, "incidents")
    expected = incidents.loc[incidents["kind"].isin(["dispute", "petition"]), "id"]
    assert sorted(ids_of(get(served, url))) == sorted(expected)


# --- coordinate reference systems ----------------------------------------------------------------


def test_crs84_and_epsg_4490_axis_order(served: Served) -> None:
    plain = items(served, "households")
    assert plain.headers["content-crs"] == f"<{CRS84}>"
    cgcs = items(served, "households", crs=EPSG_4490)
    assert cgcs.headers["content-crs"] == f"<{EPSG_4490}>"
    households = _read(served.store, "households").set_index("id")
    for a, b in zip(plain.body["features"], cgcs.body["features"], strict=True):
        lon, lat = a["geometry"]["coordinates"]
        point = households.geometry[a["id"]]
        assert math.isclose(lon, point.x, abs_tol=1e-7) and math.isclose(lat, point.y, abs_tol=1e-7)
        assert b["geometry"]["coordinates"] == [lat, lon]  # EPSG:4490 is latitude, longitude
    polygon = items(served, "villages", crs=EPSG_4490, limit="1").body["features"][0]
    ring = np.asarray(polygon["geometry"]["coordinates"][0][0])
    assert (ring[:, 0] < 90).all() and (ring[:, 1] > 100).all()
    one = get(served, f"/ogc/collections/households/items/H001?crs={EPSG_4490}")
    assert one.headers["content-crs"] == f"<{EPSG_4490}>"
    assert one.body["geometry"]["coordinates"] == [
        households.geometry["H001"].y,
        households.geometry["H001"].x,
    ]
    assert_refused(items(served, "households", crs="http://www.opengis.net/def/crs/EPSG/0/3857"))


# --- one feature ---------------------------------------------------------------------------------


def test_one_feature_by_id(served: Served) -> None:
    one = get(served, "/ogc/collections/households/items/H003")
    assert one.status == 200 and one.headers["content-type"].startswith("application/geo+json")
    assert one.body["id"] == "H003" and one.body["properties"]["head_name"] == "测试户主3"
    step = get(served, "/ogc/collections/case_steps/items/E001~2")
    assert step.body["properties"]["seq"] == 2 and step.body["geometry"] is None
    grid = get(served, f"/ogc/collections/grids/items/{V1}001001")
    assert grid.body["properties"]["version"] == 2  # the current version
    assert_refused(get(served, "/ogc/collections/households/items/H999"), 404)
    assert_refused(get(served, "/ogc/collections/case_steps/items/E001~two"))
    assert_refused(get(served, "/ogc/collections/case_steps/items/E001"))


# --- who sees what -------------------------------------------------------------------------------


def _households_in(served: Served, grid: str) -> list[str]:
    """The truth: the households a level-3 grid in force today covers (a spatial join)."""
    grids = _grids_now(served.store)
    shape_ = grids.set_index("code").geometry[grid]
    households = _read(served.store, "households")
    return sorted(households.loc[households.covered_by(shape_), "id"])


def test_a_grid_worker_gets_only_their_grid(served: Served) -> None:
    truth = _households_in(served, served.grid)
    assert 0 < len(truth) < 9
    got = all_pages(served, "households", role="grid", limit="1")
    assert sorted(got) == truth
    answer = items(served, "households", role="grid")
    assert answer.body["numberMatched"] == len(truth)
    outside = sorted(set(_read(served.store, "households")["id"]) - set(truth))[0]
    assert_refused(get(served, f"/ogc/collections/households/items/{outside}", role="grid"), 404)
    inside = get(served, f"/ogc/collections/households/items/{truth[0]}", role="grid")
    assert inside.status == 200
    # a village with no households: none, and a box around all of them changes nothing
    assert ids_of(items(served, "households", role="village")) == []
    assert ids_of(items(served, "households", role="village", bbox="112,29,113,30")) == []


def test_a_point_in_no_grid_is_seen_by_the_whole_county_only(served: Served) -> None:
    """E002 lies in no level-3 grid and incidents have no village code: only callers whose
    area is the whole store see it (the scope's rule; the page and its count agree)."""
    grids = _grids_now(served.store)
    level3 = grids[grids["level"] == 3].union_all()
    incidents = _read(served.store, "incidents").set_index("id")
    assert not incidents.geometry["E002"].intersects(level3)
    admin = items(served, "incidents")
    assert "E002" in ids_of(admin) and admin.body["numberMatched"] == len(incidents)
    township = items(served, "incidents", role="viewer")
    assert "E002" not in ids_of(township)
    assert township.body["numberMatched"] == len(township.body["features"])


def test_roles_without_household_records(served: Served) -> None:
    listed = {c["id"] for c in get(served, "/ogc/collections", role="viewer").body["collections"]}
    assert "households" not in listed and "visits" not in listed and "grids" in listed
    assert_refused(items(served, "households", role="viewer"), 403)
    assert_refused(get(served, "/ogc/collections/households", role="viewer"), 403)
    assert items(served, "grids", role="viewer").status == 200
    # a leader reads household records with a reason only (a header: a desktop client's)
    assert_refused(items(served, "households", role="leader"), 403)
    reason = urllib.parse.quote("核查走访")
    with_reason = get(
        served, "/ogc/collections/households/items", role="leader", **{"X-Access-Reason": reason}
    )
    assert with_reason.status == 200 and len(with_reason.body["features"]) == 9


# --- GDAL's OAPIF driver -------------------------------------------------------------------------


def _gdal_options(served: Served, role: str) -> list[str]:
    token = served.accounts[role].token
    return ["--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}"]


def _expected(served: Served, layer: str) -> pd.DataFrame:
    return _grids_now(served.store) if layer == "grids" else _read(served.store, layer)


def _plain(value: Any, *, day: bool = False) -> Any:
    if day and isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _same(a: Any, b: Any) -> bool:
    """``a`` (the store's) and ``b`` (GDAL's GeoJSON: it writes some dates as 2099/12/31
    00:00:00) are the same value."""
    if isinstance(b, str) and re.match(r"^\d{4}/\d\d/\d\d", b):
        b = b.replace("/", "-").replace(" ", "T")
    if isinstance(b, str) and a is not None and not isinstance(a, str):
        # a field GDAL typed as text: its first page had no value there (GDAL 3.6 guesses
        # a layer's types from its first page)
        return json.dumps(a) == b or str(a) == b
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and math.isclose(a, b, abs_tol=1e-9)
    return bool(a == b)


def test_ogrinfo_lists_and_reads_every_collection(served: Served) -> None:
    source = f"OAPIF:{served.base}/ogc"
    run = subprocess.run(
        [OGRINFO, *_gdal_options(served, "admin"), "-ro", "-q", "-al", source],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    for layer in LAYERS:
        features = run.stdout.count(f"OGRFeature({layer}):")
        assert features == len(_expected(served, layer)), layer


@pytest.mark.parametrize("role", ["admin", "grid"])
def test_ogr2ogr_gets_the_stores_features(served: Served, role: str, tmp_path: Path) -> None:
    """Every collection through GDAL (pages of 4: its next links), compared with the store."""
    layers = list(LAYERS) if role == "admin" else ["households", "incidents"]
    for layer in layers:
        out = tmp_path / f"{layer}.geojson"
        subprocess.run(
            [
                OGR2OGR,
                *_gdal_options(served, role),
                "-oo",
                "PAGE_SIZE=4",
                "-f",
                "GeoJSON",
                str(out),
                f"OAPIF:{served.base}/ogc",
                layer,
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        got = json.loads(out.read_text(encoding="utf-8"))["features"]
        decl = get_layer(layer)
        truth = _expected(served, layer)
        if role == "grid" and layer == "households":
            truth = truth[truth["id"].isin(_households_in(served, served.grid))]
        if role == "grid" and layer == "incidents":
            grids = _grids_now(served.store)
            mine = grids.set_index("code").geometry[served.grid]
            truth = truth[truth.covered_by(mine)]
        by_id = {str(f["properties"]["id"]): f for f in got}
        assert len(by_id) == len(got) == len(truth), layer
        for _i, row in truth.iterrows():
            fid = "~".join(str(row[k]) for k in decl.key)
            feature = by_id[fid]
            for column in decl.columns:
                if column == "grid_code":  # the grid now, placed at read: not stored alike
                    continue
                day = decl.field(column).type == "date"
                expected = _plain(row[column], day=day)
                value = feature["properties"].get(column)
                assert _same(expected, value), (layer, fid, column, expected, value)
            if decl.spatial:
                assert shapely.equals_exact(
                    shape(feature["geometry"]), row.geometry, tolerance=1e-7
                ), (layer, fid)


def test_ogrinfo_as_a_leader_gives_a_reason(served: Served) -> None:
    """Two headers for GDAL 3.6: the token and the reason, separated by CRLF."""
    token = served.accounts["leader"].token
    reason = urllib.parse.quote("核查走访")
    source = f"OAPIF:{served.base}/ogc"
    without = subprocess.run(
        [OGRINFO, "--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}", "-ro",
         "-q", source, "households"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "403" in without.stderr and "OGRFeature" not in without.stdout
    headers = f"Authorization: Bearer {token}\r\nX-Access-Reason: {reason}"
    run = subprocess.run(
        [OGRINFO, "--config", "GDAL_HTTP_HEADERS", headers, "-ro", "-q", source, "households"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert run.stdout.count("OGRFeature(households):") == len(_read(served.store, "households"))


def test_gdal_is_here() -> None:
    """The client the tests above use: Debian's gdal-bin, with its OAPIF driver."""
    assert shutil.which(OGRINFO) and shutil.which(OGR2OGR)
    drivers = subprocess.run([OGRINFO, "--formats"], capture_output=True, text=True, check=True)
    assert "OAPIF" in drivers.stdout
