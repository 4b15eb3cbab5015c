"""The grids in force on a date: one rule (valid_from <= d < valid_to), every reader follows it.

The little county's first village, with versions: the west-north grid ``001001`` was retired
30 days ago (``END``) and ``001003`` took its place that day; the east-south grid ``002002``
was retired then with no successor; the east-north area is held by ``002004`` until 30 days
from now (``NEXT``), when ``002001`` (a smaller code: it would win today if it counted) takes
over. Households H001–H006 stand in the west-north, H007–H008 in the east-south, H009 in
the east-north.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
from accounts import make_account
from conftest import LEVEL3_BOXES, V1, raw_frame
from fastapi.testclient import TestClient
from shapely.geometry import box

from gisgrid.analysis.assign import assign_store, grid_index, in_force, level3_grids, today
from gisgrid.analysis.checks import run_checks
from gisgrid.analysis.locate import Locator
from gisgrid.api import create_app
from gisgrid.errors import NotFoundError
from gisgrid.layers import LAYERS
from gisgrid.stores.base import Store
from gisgrid.stores.geopackage import GeoPackageStore

TODAY = today()
END = TODAY - dt.timedelta(days=30)
NEXT = TODAY + dt.timedelta(days=30)
WEST_NORTH = (112.430, 29.650)  # H001
EAST_NORTH = (112.520, 29.680)  # H009


def _versioned_grids() -> gpd.GeoDataFrame:
    grids = raw_frame("grids")
    rows = grids.set_index("code")
    rows.loc[V1 + "001001", "valid_to"] = END.isoformat()
    rows.loc[V1 + "002002", "valid_to"] = END.isoformat()
    rows.loc[V1 + "002001", "valid_from"] = NEXT.isoformat()
    added = []
    for code, like, start, end in (
        (V1 + "001003", V1 + "001001", END, None),
        (V1 + "002004", V1 + "002001", dt.date(2024, 3, 1), NEXT),
    ):
        row = rows.loc[like].to_dict()
        row.update(
            name=f"新{code[-3:]}",
            valid_from=None if start is None else start.isoformat(),
            valid_to=None if end is None else end.isoformat(),
            geometry=box(*LEVEL3_BOXES[like]),
        )
        added.append({"code": code, **row})
    out = pd.concat([rows.reset_index(), pd.DataFrame(added)], ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=grids.crs)


def _frames() -> dict[str, Any]:
    frames = {name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()}
    frames["grids"] = LAYERS["grids"].validate(_versioned_grids())
    return frames


@pytest.fixture(params=["geopackage", "postgis"])
def county_at(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Store, str]]:
    """The versioned little county in a store of each kind, and where it is."""
    if request.param == "geopackage":
        path = tmp_path / "versions.gpkg"
        store: Store = GeoPackageStore(path)
        store.write(_frames())
        yield store, str(path)
        return
    from gisgrid.stores.postgis import PostGISStore

    url = request.getfixturevalue("pg_url")
    store = PostGISStore(url)
    store.init()
    store.write(_frames())
    yield store, url
    store.close()


@pytest.fixture
def county(county_at: tuple[Store, str]) -> Store:
    return county_at[0]


def _households(store: Store) -> dict[str, str | None]:
    frame = store.read("households", columns=["id", "grid_code"])
    return {
        str(i): (None if pd.isna(c) else str(c))
        for i, c in zip(frame["id"], frame["grid_code"], strict=True)
    }


def _expected(west: str, east_north: str | None, east_south: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {f"H00{n}": V1 + west for n in range(1, 7)}
    out |= {"H007": east_south, "H008": east_south, "H009": east_north}
    return out


# --- the rule ----------------------------------------------------------------------------------


def test_in_force_keeps_the_grids_of_the_day_and_the_boundary_day_belongs_to_the_successor():
    grids = _frames()["grids"]

    def codes(day: dt.date) -> set[str]:
        return set(level3_grids(grids, as_of=day)["code"])

    now = {V1 + "001002", V1 + "001003", V1 + "002004"}
    assert codes(TODAY) == now
    assert set(level3_grids(grids)["code"]) == now  # default: today
    assert codes(END - dt.timedelta(days=1)) == {
        V1 + "001001",
        V1 + "001002",
        V1 + "002002",
        V1 + "002004",
    }
    # valid_to is the first day a grid is no longer in force; valid_from the first day it is
    assert codes(END) == now
    assert codes(NEXT) == {V1 + "001002", V1 + "001003", V1 + "002001"}
    assert codes(NEXT - dt.timedelta(days=1)) == now
    # every level follows it, and a frame without the dates is all in force
    assert V1 + "002" in set(in_force(grids)["code"])
    undated = grids.drop(columns=["valid_from", "valid_to"])
    assert len(in_force(undated, as_of=END)) == len(undated)
    assert grid_index(grids).codes.tolist() == sorted(now)


def test_checks_take_no_retired_grid_as_gap_filler_or_overlap():
    frames = _frames()
    report = run_checks(frames).to_dict()
    # 001003 over 001001 and 002004 over 002001 would overlap if the versions counted
    assert report["overlaps"]["count"] == 0, report["overlaps"]
    # 002002 retired without a successor: its area is a gap in the level-3 net
    gaps = report["gaps"]["items"]
    assert any(item.get("parent_code") == V1 + "002" for item in gaps), gaps


# --- gisgrid assign ----------------------------------------------------------------------------


def test_assign_gives_a_retired_grid_no_households_and_a_future_grid_none_today(county: Store):
    report = assign_store(county)
    assert report.as_of == TODAY
    assert report.grids == 3
    # H007/H008: their grid was retired with no successor, they are in no grid
    assert _households(county) == _expected("001003", V1 + "002004", None)
    assert report.layer("households").unassigned == ("H007", "H008")


def test_assign_as_of_answers_as_the_net_stood_then(county: Store):
    assign_store(county, as_of=END - dt.timedelta(days=1))
    assert _households(county) == _expected("001001", V1 + "002004", V1 + "002002")
    assign_store(county, as_of=END)  # the boundary day: the successor's
    assert _households(county) == _expected("001003", V1 + "002004", None)
    assign_store(county, as_of=NEXT)
    assert _households(county) == _expected("001003", V1 + "002001", None)


def test_assign_refuses_a_date_without_grids_and_changes_nothing(county: Store):
    before = _households(county)
    with pytest.raises(NotFoundError, match="no level-3 grid in force on 1990-01-01"):
        assign_store(county, as_of=dt.date(1990, 1, 1))
    assert _households(county) == before


def test_the_command_takes_as_of(
    tmp_path: Path, run_gisgrid: Callable[..., subprocess.CompletedProcess[str]]
):
    store = GeoPackageStore(tmp_path / "versions.gpkg")
    store.write(_frames())
    old = run_gisgrid("assign", "--store", store.path, "--as-of", str(END - dt.timedelta(days=1)))
    assert old.returncode == 0, old.stderr
    assert f"4 level-3 grids in force on {END - dt.timedelta(days=1)}" in old.stdout
    assert _households(store) == _expected("001001", V1 + "002004", V1 + "002002")
    now = run_gisgrid("assign", "--store", store.path)
    assert now.returncode == 0, now.stderr
    assert f"3 level-3 grids in force on {TODAY}" in now.stdout
    assert _households(store) == _expected("001003", V1 + "002004", None)
    bad = run_gisgrid("assign", "--store", store.path, "--as-of", "yesterday")
    assert bad.returncode != 0 and "--as-of takes an ISO date" in bad.stderr + bad.stdout


# --- the locator and the web app ---------------------------------------------------------------


def test_locator_answers_with_the_grids_of_a_date():
    frames = _frames()
    locator = Locator.from_frames(
        townships=frames["townships"],
        villages=frames["villages"],
        grids=frames["grids"],
        service_points=frames["service_points"],
    )
    assert set(locator.grids["code"]) >= {V1 + "001003"}
    assert V1 + "001001" not in set(locator.grids["code"])

    def level3(day: dt.date | None) -> str | None:
        found = locator.locate(*WEST_NORTH, as_of=day).level3
        return None if found is None else found.code

    assert level3(None) == V1 + "001003"
    assert level3(END - dt.timedelta(days=1)) == V1 + "001001"
    assert level3(END) == V1 + "001003"
    assert locator.net(END - dt.timedelta(days=1)) is locator.net(END - dt.timedelta(days=1))
    east = locator.locate(*EAST_NORTH, as_of=NEXT)
    assert east.level3 is not None and east.level3.code == V1 + "002001"
    assert east.level2 is not None and east.level2.code == V1 + "002"


@pytest.fixture
def client(county_at: tuple[Store, str]) -> Iterator[TestClient]:
    store, url = county_at
    headers = make_account(store, "admin").headers
    with TestClient(create_app(store=url), base_url="https://testserver", headers=headers) as c:
        yield c


def test_api_locate_as_of(client: TestClient):
    def level3(**params: Any) -> Any:
        r = client.get("/api/locate", params={"lon": WEST_NORTH[0], "lat": WEST_NORTH[1], **params})
        assert r.status_code == 200, r.text
        return r.json()["grids"]["level3"]["code"]

    assert level3() == V1 + "001003"
    assert level3(as_of=str(END - dt.timedelta(days=1))) == V1 + "001001"
    assert level3(as_of=str(END)) == V1 + "001003"
    far = client.get("/api/locate", params={"lon": 112.43, "lat": 29.65, "as_of": "1990-01-01"})
    assert far.status_code == 422 and far.json()["error"]["code"] == "as_of", far.text
    bad = client.get("/api/locate", params={"lon": 112.43, "lat": 29.65, "as_of": "last week"})
    assert bad.status_code == 422


def test_api_layers_grids_as_of(client: TestClient):
    def codes(**params: Any) -> set[str]:
        r = client.get("/api/layers/grids", params={"level": 3, **params})
        assert r.status_code == 200, r.text
        return {f["properties"]["code"] for f in r.json()["features"]}

    assert codes() == {V1 + "001002", V1 + "001003", V1 + "002004"}
    assert codes(as_of=str(END - dt.timedelta(days=1))) == {
        V1 + "001001",
        V1 + "001002",
        V1 + "002002",
        V1 + "002004",
    }
    assert codes(as_of=str(NEXT)) == {V1 + "001002", V1 + "001003", V1 + "002001"}
    other = client.get("/api/layers/households", params={"as_of": str(TODAY)})
    assert other.status_code >= 400


def test_the_api_declares_as_of():
    paths = create_app().openapi()["paths"]
    for path in ("/api/locate", "/api/layers/{layer}"):
        params = {p["name"]: p for p in paths[path]["get"]["parameters"]}
        schema = params["as_of"]["schema"]
        assert {"type": "string", "format": "date"} in schema.get("anyOf", [schema])


# --- maps --------------------------------------------------------------------------------------


def test_maps_draw_the_grids_in_force_and_put_the_points_in_them(tmp_path: Path):
    from gisgrid.cartography.data import load_area

    store = GeoPackageStore(tmp_path / "versions.gpkg")
    store.write(_frames())

    def area(day: dt.date | None) -> tuple[set[str], str]:
        data = load_area(store, village=V1, as_of=day)
        first = data.households.set_index("id").loc["H001", "grid_code"]
        return set(data.level(3)["code"]), str(first)

    assert area(None) == ({V1 + "001002", V1 + "001003", V1 + "002004"}, V1 + "001003")
    before = END - dt.timedelta(days=1)
    assert area(before) == (
        {V1 + "001001", V1 + "001002", V1 + "002002", V1 + "002004"},
        V1 + "001001",
    )
