"""The web app's per-county working set in a store of several counties (a prefecture's).

On the two-county sample: a state keeping one county at a time answers each county's
figures as the whole store's layers give them (:mod:`gisgrid.analysis.indicators`, the one
place figures are derived), holds no more than one county's layers, drops the least recently
used one, forgets everything at a write, and the prefecture's level is the sum of its
counties'.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import TWO_COUNTIES, TWO_COUNTY_HOUSEHOLDS

from gisgrid import codes
from gisgrid.analysis import indicators
from gisgrid.analysis.assign import with_current_grid_codes
from gisgrid.analysis.checks import run_checks
from gisgrid.analysis.county_frames import counties_of_points
from gisgrid.analysis.indicators import FIGURE_LAYERS
from gisgrid.api.state import AppState
from gisgrid.roles import Role
from gisgrid.stores.geopackage import GeoPackageStore


@pytest.fixture(scope="module")
def store(two_county_gpkg: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    path = tmp_path_factory.mktemp("working_set") / "prefecture.gpkg"
    shutil.copy(two_county_gpkg.path, path)
    st = GeoPackageStore(path)
    yield st
    st.close()


@pytest.fixture(scope="module")
def whole(store: Any) -> dict[str, Any]:
    """The whole store's layers as a one-county state reads them (the reference)."""
    state = AppState.load(store)
    frames = {name: store.read(name) for name in FIGURE_LAYERS}
    return with_current_grid_codes(frames, index=state.locator.grid_index)


def _as_of(store: Any) -> Any:
    import datetime as dt

    return dt.date.fromisoformat(store.get_meta("sample_manifest")["as_of"])


def test_each_county_holds_its_own_points_and_no_other(store: Any, whole: Any) -> None:
    state = AppState.load(store, kept_counties=1)
    assert state.counties == TWO_COUNTIES and state.several
    outlines = state._county_outlines()
    seen = 0
    for county in TWO_COUNTIES:
        frames = state.frames(county)
        assert state.kept() == (county,), "one county's layers at a time"
        # every service point: a household's nearest may stand in the next county
        assert sorted(frames["service_points"]["id"]) == sorted(whole["service_points"]["id"])
        for layer in ("households", "incidents"):
            ref = whole[layer]
            mine = ref[counties_of_points(ref, outlines) == county]
            assert sorted(frames[layer]["id"]) == sorted(mine["id"]), layer
            # the same current grid as the whole store's reading gives
            got = frames[layer].set_index("id")["grid_code"]
            assert got.equals(mine.set_index("id")["grid_code"].reindex(got.index)), layer
        for layer in ("townships", "villages", "grids"):
            assert set(frames[layer]["code"].map(codes.county_of)) == {county}, layer
        assert set(frames["visits"]["household_id"]) <= set(frames["households"]["id"])
        seen += len(frames["households"])
    assert seen == TWO_COUNTY_HOUSEHOLDS, "every household in exactly one county"


def test_a_countys_figures_are_those_of_the_whole_store(store: Any, whole: Any) -> None:
    state = AppState.load(store, kept_counties=1)
    report = run_checks(whole, as_of=_as_of(store)).to_dict()
    for county in TWO_COUNTIES:
        frames, mine = state.frames(county), state.report(county)
        for level, within in (("township", county), ("village", f"{county}101")):
            if level == "village":
                within = str(frames["townships"]["code"].iloc[0])
            expected = indicators.area_table(whole, report, level=level, within=within)
            got = indicators.area_table(frames, mine, level=level, within=within)
            assert len(got) and got["code"].tolist() == expected["code"].tolist()
            for column in indicators.COLUMNS:
                assert got[column].tolist() == expected[column].tolist(), (level, column)
        t_whole = indicators.totals(whole, report, within=county)
        t_mine = indicators.totals(frames, mine, within=county)
        assert t_mine == t_whole


def test_the_least_recently_used_county_is_dropped_and_a_write_forgets_all(store: Any) -> None:
    state = AppState.load(store, kept_counties=2)
    a, b = TWO_COUNTIES
    state.frames(a)
    state.frames(b)
    assert state.kept() == (a, b)
    state.frames(a)  # a used last: b goes first
    assert state.kept() == (b, a)
    state = AppState.load(store, kept_counties=1)
    state.frames(a)
    search_b = state.search_in(b)
    assert state.kept() == (b,) and a not in state._searches
    state.households_in(state_scope := _scope(a), a)
    assert state.kept() == (a,) and b not in state._searches
    assert state.search_in(b) is not search_b  # rebuilt from b's layers read again
    assert state.kept() == (b,)
    assert state_scope.key not in state._sets[b].in_scope
    state.county_summary(a)
    state.changed()  # a write of this process
    assert state.kept() == () and not state._summaries and not state._pages
    state.frames(a)
    points = store.read("service_points")
    points.loc[0, "name"] = str(points.loc[0, "name"]) + "（改）"
    store.write({"service_points": points})  # a write from anyone: a new data version
    assert state.refresh() and state.kept() == () and not state._searches


def test_the_prefecture_is_the_sum_of_its_counties(store: Any, whole: Any) -> None:
    state = AppState.load(store, kept_counties=1)
    parts = [state.county_summary(c) for c in TWO_COUNTIES]
    assert len(state.kept()) <= 1, "the prefecture's figures keep no more than one county"
    combined = indicators.combined_totals([p.totals for p in parts])
    report = run_checks(whole, as_of=_as_of(store)).to_dict()
    ref = indicators.totals(whole, report, within=None)
    for key in ("townships", "villages", "grids", "households", "linked", "unlinked"):
        assert combined[key] == ref[key], key
    assert combined["linkage_share"] == ref["linkage_share"]
    assert combined["households"] == TWO_COUNTY_HOUSEHOLDS
    assert sum(int(p.row["households"]) for p in parts) == TWO_COUNTY_HOUSEHOLDS
    rows = indicators.area_table(whole, report, level="county", within=None)
    for part in parts:
        row = rows[rows["code"] == part.county].iloc[0]
        for column in ("households", "grids", "unlinked", "linkage_share", "unstaffed_grids"):
            assert part.row[column] == row[column], (part.county, column)


def _scope(area: str) -> Any:
    import datetime as dt

    from gisgrid.analysis.scope import scope_of
    from gisgrid.roles import ROLES
    from gisgrid.stores.ledger import Account

    at = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)
    account = Account(
        id=1, username="t", display_name="t", role=Role.LEADER, area=area, password_hash="x",
        phone=None, disabled=False, created_at=at, password_changed_at=at,
    )  # fmt: skip
    return scope_of(account, ROLES[Role.LEADER], by_phone={}, reason="测试", counties=TWO_COUNTIES)


# --- through HTTP: a server keeping one county at a time -------------------------------------


@pytest.fixture(scope="module")
def client(store: Any) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from gisgrid.api import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GISGRID_WEB_KEPT_COUNTIES", "1")
        with TestClient(create_app(store=str(store.path))) as c:
            state: AppState = c.app.state.gisgrid  # type: ignore[attr-defined]
            state.filled.wait(120)
            yield c


def test_a_server_keeping_one_county_answers_both(client: Any, store: Any) -> None:
    from accounts import make_account

    state: AppState = client.app.state.gisgrid
    assert state.kept_counties == 1 and len(state.kept()) <= 1
    leader = make_account(str(store.path), Role.LEADER, "430600")
    top = client.get("/", headers=leader.headers)
    assert top.status_code == 200 and "/?county=430611" in top.text
    parts = {c: state.county_summary(c) for c in TWO_COUNTIES}
    total = sum(int(p.totals["households"]) for p in parts.values())
    assert f"{total:,}" in top.text, "the prefecture's card: the sum of its counties"
    for county in TWO_COUNTIES:
        page = client.get(f"/?county={county}", headers=leader.headers)
        assert page.status_code == 200
        assert len(state.kept()) <= 1
        assert f"{int(parts[county].totals['households']):,}" in page.text
        frames = state.frames(county)
        village = str(frames["villages"]["code"].iloc[0])
        assert client.get(f"/maps/coverage?village={village}", headers=leader.headers).is_success
        assert client.get(f"/maps/coverage?county={county}", headers=leader.headers).is_success
        name = str(frames["households"]["head_name"].iloc[0])
        found = client.get(
            "/api/households/search",
            params={"q": name, "village": village[:9], "reason": "测试"},
            headers=leader.headers,
        )
        assert found.status_code == 200, found.text
        hits = found.json()["households"] if "households" in found.json() else found.json()
        assert hits, name
        assert len(state.kept()) <= 1
    # the prefecture's check report: counts per county and links, no items
    check = client.get("/api/check", headers=leader.headers).json()
    assert [c["code"] for c in check["counties"]] == list(TWO_COUNTIES)
    assert check["gaps"]["count"] == sum(p.counts["gaps"] for p in parts.values())
    one = client.get(check["counties"][0]["url"], headers=leader.headers).json()
    assert one["gaps"]["count"] == parts[TWO_COUNTIES[0]].counts["gaps"]
    # the prefecture's maps: its coverage the net drawn from tiles, the others a county's at
    # a time
    moved = client.get("/maps/coverage", headers=leader.headers, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/tiles"
    net = client.get(moved.headers["location"], headers=leader.headers)
    assert net.status_code == 200 and len(net.content) < 10_000
    moved = client.get("/maps/incidents", headers=leader.headers, follow_redirects=False)
    assert moved.status_code == 303 and "county=430611" in moved.headers["location"]
    # a prefecture caller's search names its county
    assert (
        client.get(
            "/api/households/search", params={"q": "张", "reason": "测试"}, headers=leader.headers
        ).status_code
        == 400
    )
    assert re.search(r"/\?county=\d{6}", top.text)
    # the prefecture's workbook, county by county: every county's townships, one held at a time
    import io

    import openpyxl

    book = client.get("/api/report.xlsx", headers=leader.headers)
    assert book.status_code == 200 and len(state.kept()) <= 1
    sheets = openpyxl.load_workbook(io.BytesIO(book.content), read_only=True).worksheets
    first = [str(r[0]) for r in sheets[0].iter_rows(min_row=3, values_only=True) if r and r[0]]
    assert first == list(TWO_COUNTIES)
    townships = {str(r[0])[:6] for r in sheets[1].iter_rows(min_row=3, values_only=True) if r[0]}
    assert townships == set(TWO_COUNTIES)
