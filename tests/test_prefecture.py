"""Several counties in one store: the sample prefecture's generator, codes, checks, scope.

The two-county sample (Huarong and its neighbour 君山区, few households) is built once per
session (``two_county_sample`` in conftest); nothing here builds the 1.5 M prefecture.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import numpy as np
import pytest
import shapely
from conftest import TWO_COUNTIES, TWO_COUNTY_HOUSEHOLDS

from gisgrid import codes
from gisgrid import crs as crsmod
from gisgrid.analysis.assign import GridIndex
from gisgrid.analysis.checks import CheckSettings, run_checks
from gisgrid.analysis.scope import ScopedReader, scope_of
from gisgrid.errors import ConfigError
from gisgrid.layers import LAYERS
from gisgrid.roles import ROLES, Role, area_kind
from gisgrid.sample.boundaries import load_county_boundaries
from gisgrid.sample.prefecture import build_sample_prefecture, split_households
from gisgrid.services import accounts
from gisgrid.stores.ledger import Account

# --- codes: a prefecture is dddd00 ------------------------------------------------------------


def test_kind_of_tells_a_prefecture_from_a_county() -> None:
    assert codes.kind_of("430600") == "prefecture"
    assert codes.kind_of("430611") == "county"
    assert codes.kind_of("430623") == "county"
    assert codes.kind_of("430623101") == "township"
    assert area_kind("430600") == "prefecture"
    assert codes.prefecture_of("430611101001") == "430600"
    assert codes.area_prefix("430600") == "4306"
    assert codes.area_prefix("430611") == "430611"
    assert codes.lies_in("430611101001", "430600")
    assert codes.lies_in("430623", "430600")
    assert not codes.lies_in("430711101001", "430600")
    assert not codes.lies_in("430611101001", "430623")


def test_the_roles_that_take_a_county_take_a_prefecture() -> None:
    for role in (Role.ADMIN, Role.LEADER, Role.PLANNER, Role.VIEWER):
        assert accounts.check_area(role, "430600") == "430600"
    for role in (Role.TOWNSHIP, Role.VILLAGE, Role.GRID):
        with pytest.raises(ConfigError):
            accounts.check_area(role, "430600")


def _metric(geoms: Any) -> Any:
    to_m = crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS)
    return shapely.transform(geoms, lambda xy: np.column_stack(to_m.transform(*xy.T)))


# --- the generator ------------------------------------------------------------------------------


def test_households_are_split_by_villages_exactly() -> None:
    split = split_households(1_000, {"430611": 1, "430623": 3}, {"430611": 0, "430623": 0})
    assert split == {"430611": 250, "430623": 750}
    odd = split_households(10, {"a": 1, "b": 1, "c": 1}, {"a": 0, "b": 0, "c": 0})
    assert sum(odd.values()) == 10 and sorted(odd.values()) == [3, 3, 4]
    with pytest.raises(ConfigError, match="least"):
        split_households(1_000, {"430611": 1, "430623": 3}, {"430611": 300, "430623": 0})


def test_other_prefectures_and_counties_are_refused() -> None:
    with pytest.raises(ConfigError, match="430600"):
        build_sample_prefecture("430700")
    with pytest.raises(ConfigError, match="430699"):
        build_sample_prefecture(counties=["430699"])


def test_each_county_has_its_own_outline_divisions_and_ids(two_county_sample: Any) -> None:
    frames = two_county_sample.frames
    manifest = two_county_sample.manifest
    assert sorted(manifest["counties"]) == list(TWO_COUNTIES)
    assert manifest["prefecture"] == {"code": "430600", "name": "岳阳市"}
    assert len(frames["households"]) == TWO_COUNTY_HOUSEHOLDS
    for name, frame in frames.items():
        LAYERS[name].validate(frame)  # the merged layers are valid as they are
        if "id" in frame.columns:
            assert frame["id"].is_unique, name
    for county in TWO_COUNTIES:
        b = load_county_boundaries(county)
        mine = frames["townships"][frames["townships"]["code"].str.startswith(county)]
        assert sorted(mine["code"]) == sorted(b.townships["code"])
        villages = frames["villages"][frames["villages"]["code"].str.startswith(county)]
        assert sorted(villages["code"]) == sorted(b.villages["code"])
        # the county's townships tile its own real outline (in metres)
        union = shapely.coverage_union_all(_metric(mine.geometry.to_numpy()))
        assert shapely.symmetric_difference(union, _metric(b.outline)).area < 1.0
        hh = frames["households"]
        assert (
            hh["village_code"].str.startswith(county).sum()
            == manifest["counties"][county]["households"]
        )
        assert (
            hh["id"].str.startswith(f"{county}-").sum()
            == manifest["counties"][county]["households"]
        )
    # households in proportion to the villages kept: 86 and 203
    assert manifest["counties"]["430611"]["households"] == round(8_000 * 86 / 289)


def test_the_checks_find_no_gap_or_overlap_across_the_county_border(two_county_sample) -> None:
    as_of = dt.date.fromisoformat(two_county_sample.manifest["as_of"])
    doc = json.loads(
        run_checks(two_county_sample.frames, settings=CheckSettings(), as_of=as_of).to_json()
    )
    counties = two_county_sample.manifest["counties"]
    planted_gaps = {d["parent_code"] for c in counties.values() for d in c["defects"]["gaps"]}
    planted_overlaps = {
        tuple(d["grid_codes"]) for c in counties.values() for d in c["defects"]["overlaps"]
    }
    gaps = doc["gaps"]["items"]
    assert {g["level"] for g in gaps} == {"level3"}, "no township or village gap at the border"
    assert {g["parent_code"] for g in gaps} == planted_gaps
    assert {tuple(o["codes"]) for o in doc["overlaps"]["items"]} == planted_overlaps
    planted_nesting = {d["grid_code"] for c in counties.values() for d in c["defects"]["nesting"]}
    assert {n["code"] for n in doc["nesting"]["items"]} == planted_nesting


def test_a_township_gap_names_its_county_or_the_prefecture_between_counties(
    two_county_sample,
) -> None:
    """A township missing from the middle of the net leaves a hole in the union of the
    townships: the gap names the county of the townships around it, and, when they are of
    both counties, the prefecture (市), never the word "county"."""
    frames = two_county_sample.frames
    townships = frames["townships"]
    geoms = townships.geometry.values
    codes_ = townships["code"].to_numpy()

    def holes(parts: Any) -> float:  # square degrees of the union's holes
        union = shapely.union_all(parts, grid_size=1e-7)
        return sum(shapely.Polygon(r).area for p in shapely.get_parts(union) for r in p.interiors)

    before = holes(geoms)
    inner: dict[bool, str] = {}  # between counties? → a township whose removal leaves a hole
    for k, code in enumerate(codes_):
        others = np.delete(geoms, k)
        if holes(others) < before + 0.5 * shapely.area(geoms[k]):
            continue  # on the net's outer edge: no hole without it
        near = np.delete(codes_, k)[shapely.dwithin(others, geoms[k], 1e-6)]
        inner.setdefault(len({codes.county_of(c) for c in near}) > 1, code)
    assert set(inner) == {True, False}, "the sample has townships inside the net, at the border too"
    as_of = dt.date.fromisoformat(two_county_sample.manifest["as_of"])
    for between, code in inner.items():
        cut = dict(frames)
        cut["townships"] = townships[townships["code"] != code].reset_index(drop=True)
        doc = json.loads(run_checks(cut, settings=CheckSettings(), as_of=as_of).to_json())
        found = [g for g in doc["gaps"]["items"] if g["level"] == "township"]
        assert found, code
        expected = ("prefecture", "430600") if between else ("county", codes.county_of(code))
        assert {(g["parent_level"], g["parent_code"]) for g in found} == {expected}, code


# --- scope: a county's account sees its county, the prefecture's both ---------------------------


def _reader(store: Any, role: Role, area: str) -> ScopedReader:
    grids = store.read("grids", where={"level": 3})
    index = GridIndex.from_grids(grids)
    counties = tuple(sorted({codes.county_of(c) for c in store.read("townships")["code"]}))
    at = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    account = Account(
        id=1, username="t", display_name="t", role=role, area=area, password_hash="x",
        phone=None, disabled=False, created_at=at, password_changed_at=at,
    )  # fmt: skip
    scope = scope_of(account, ROLES[role], by_phone={}, reason="测试", counties=counties)
    return ScopedReader(store, scope, index=index)


@pytest.fixture(params=["gpkg", "postgis"])
def two_county_store(request: pytest.FixtureRequest, two_county_gpkg: Any) -> Any:
    if request.param == "gpkg":
        return two_county_gpkg
    from gisgrid.analysis.assign import assign_store
    from gisgrid.sample import write_sample_county
    from gisgrid.stores.postgis import PostGISStore

    server = request.getfixturevalue("pg_server")
    url = server.fresh_database()
    store = PostGISStore(url)
    store.init()
    write_sample_county(store, request.getfixturevalue("two_county_sample"))
    assign_store(store)
    request.addfinalizer(lambda: (store.close(), server.drop_database(url)))
    return store


def test_a_county_leader_sees_only_their_county(two_county_store: Any) -> None:
    for county in TWO_COUNTIES:
        reader = _reader(two_county_store, Role.LEADER, county)
        assert not reader.scope.whole_county
        for layer, column in (
            ("households", "grid_code"),
            ("townships", "code"),
            ("incidents", "grid_code"),
            ("villages", "code"),
        ):
            frame = reader.read(layer)
            assert len(frame)
            inside = frame[column].dropna().map(codes.county_of)
            assert set(inside) == {county}, layer
        leaders = reader.read("county_leaders")
        assert set(leaders["id"].str[:6]) == {county}


def test_the_prefecture_leader_sees_both_counties(two_county_store: Any) -> None:
    reader = _reader(two_county_store, Role.LEADER, "430600")
    assert reader.scope.whole_county
    households = reader.read("households")
    assert len(households) == TWO_COUNTY_HOUSEHOLDS
    assert set(households["village_code"].map(codes.county_of)) == set(TWO_COUNTIES)
    assert households["head_name"].notna().all()  # read with a reason: in full
    one = _reader(two_county_store, Role.VIEWER, "430623")
    assert one.count("households") == int(
        np.sum(households["grid_code"].fillna(households["village_code"]).str[:6] == "430623")
    )


def test_demo_accounts_of_a_prefecture(two_county_gpkg: Any, tmp_path: Any) -> None:
    import shutil

    from gisgrid.sample.accounts import make_demo_accounts
    from gisgrid.stores.geopackage import GeoPackageStore

    path = tmp_path / "p.gpkg"
    shutil.copy(two_county_gpkg.path, path)
    made = make_demo_accounts(GeoPackageStore(path), actor="test")
    by_name = {a.username: (a.role, a.area) for a in made}
    assert by_name["demo-admin"] == (Role.ADMIN, "430600")
    assert by_name["demo-leader"] == (Role.LEADER, "430600")
    for county in TWO_COUNTIES:
        assert by_name[f"demo-leader-{county}"] == (Role.LEADER, county)
        assert by_name[f"demo-admin-{county}"] == (Role.ADMIN, county)
    assert {a.role for a in made} == set(Role)


# --- the web app: the prefecture's level on the leaders' dashboard ------------------------------


@pytest.fixture(scope="module")
def two_county_client(two_county_gpkg: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import shutil

    from fastapi.testclient import TestClient

    from gisgrid.api import create_app

    path = tmp_path_factory.mktemp("two_county_app") / "prefecture.gpkg"
    shutil.copy(two_county_gpkg.path, path)
    with TestClient(create_app(store=str(path))) as client:
        yield client, str(path)


def test_the_prefecture_leader_dashboard_lists_the_counties(two_county_client: Any) -> None:
    from accounts import make_account

    client, path = two_county_client
    leader = make_account(path, Role.LEADER, "430600")
    page = client.get("/", headers=leader.headers, follow_redirects=False)
    assert page.status_code == 200
    text = page.text
    assert "全市" in text and "君山区" in text and "华容县" in text
    assert "/?county=430611" in text and "/?county=430623" in text
    assert "/?township=" not in text, "the prefecture's page lists counties, not townships"
    one = client.get("/?county=430611", headers=leader.headers)
    assert one.status_code == 200
    shown = set(re.findall(r"/\?township=(\d{9})", one.text))
    assert shown and {codes.county_of(c) for c in shown} == {"430611"}
    assert "网格化基层治理驾驶舱 · 君山区" in one.text
    assert client.get("/?county=430612", headers=leader.headers).status_code == 404


def test_a_county_leader_dashboard_is_their_county(two_county_client: Any) -> None:
    from accounts import make_account

    client, path = two_county_client
    leader = make_account(path, Role.LEADER, "430623")
    first = client.get("/", headers=leader.headers, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/?county=430623"
    page = client.get("/?county=430623", headers=leader.headers)
    shown = set(re.findall(r"/\?township=(\d{9})", page.text))
    assert len(shown) == 14 and {codes.county_of(c) for c in shown} == {"430623"}
    assert "/?county=430611" not in page.text
    assert client.get("/?county=430611", headers=leader.headers).status_code == 403
    assert client.get("/?township=430611001", headers=leader.headers).status_code == 403
    report = client.get("/api/check", headers=leader.headers).json()
    places = [i.get("parent_code") or i.get("code") for i in report["gaps"]["items"]]
    assert places and all(str(p).startswith("430623") for p in places)
    page = client.get("/maps/coverage", headers=leader.headers)
    assert page.status_code == 200
    title = re.search(r"<title>(.*?)</title>", page.text)
    assert title and "华容县" in title.group(1) and "岳阳市" not in title.group(1)


def test_the_workbooks_of_the_prefecture_and_of_a_county(two_county_client: Any) -> None:
    import io

    import openpyxl
    from accounts import make_account

    client, path = two_county_client

    def sheets(role: Role, area: str) -> dict[str, list[str]]:
        answer = client.get("/api/report.xlsx", headers=make_account(path, role, area).headers)
        assert answer.status_code == 200
        book = openpyxl.load_workbook(io.BytesIO(answer.content), read_only=True)
        out = {}
        for sheet in book.worksheets:
            rows = list(sheet.iter_rows(min_row=3, values_only=True))
            out[sheet.title] = [str(r[0]) for r in rows if r and r[0]]
        return out

    whole = sheets(Role.LEADER, "430600")
    assert next(iter(whole)) == "县（市、区）"
    assert whole["县（市、区）"] == list(TWO_COUNTIES)
    one = sheets(Role.LEADER, "430611")
    assert "县（市、区）" not in one
    assert one["乡镇"] and {codes.county_of(c) for c in one["乡镇"]} == {"430611"}
    assert {codes.county_of(c) for c in one["村（社区）"]} == {"430611"}


def test_demo_refuses_a_county_without_the_prefecture_and_an_unknown_prefecture(
    run_gisgrid: Any, tmp_path: Any
) -> None:
    alone = run_gisgrid("demo", "--store", tmp_path / "a.gpkg", "--county", "430611")
    assert alone.returncode == 2 and "--prefecture" in alone.stderr
    other = run_gisgrid("demo", "--store", tmp_path / "b.gpkg", "--prefecture", "430700")
    assert other.returncode != 0 and "430600" in other.stdout + other.stderr
