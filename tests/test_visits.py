"""Visits to households (走访): recorded where the household is, kept for good, on both stores.

The little county's visits: V001 to H002 and V002 to H005, both in the first village's
west-north grid (001001).
"""

from __future__ import annotations

import datetime as dt

import pytest
from accounts import make_account
from conftest import V1, raw_frame
from fastapi.testclient import TestClient

from gisgrid.analysis.assign import grid_index
from gisgrid.analysis.cases import Actor
from gisgrid.analysis.scope import Scope, ScopedReader
from gisgrid.api import create_app
from gisgrid.errors import NotFoundError, ValidationError
from gisgrid.layers import LAYERS
from gisgrid.roles import ROLES, Role
from gisgrid.services.cases import case_of
from gisgrid.services.visits import record_visit, visits_of
from gisgrid.stores.base import Store
from gisgrid.stores.ledger import AuditQuery


@pytest.fixture
def store(any_store: Store) -> Store:
    """The little county in a store of each kind."""
    any_store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    return any_store


def _reader(store: Store, area: str, *, role: Role = Role.GRID) -> ScopedReader:
    info = ROLES[role]
    scope = Scope(role=info, areas=(area,), residents=info.records == "full", staff=True)
    return ScopedReader(store, scope, index=grid_index(store.read("grids", where={"level": 3})))


def test_a_visit_is_recorded_and_listed_newest_first(store: Store):
    grid = _reader(store, V1 + "001001")
    at = dt.datetime(2024, 5, 6, 9, 0)
    stored = record_visit(
        store, grid, "H002", visitor="grid-wang", kind="errand", note="代缴医保", at=at,
        lon=112.432, lat=29.652,
    )  # fmt: skip
    assert stored.visit["id"].iat[0].startswith("V20240506090000")
    assert stored.request_id is None
    listed = visits_of(grid, "H002")
    assert listed["kind"].tolist() == ["errand", "look_in"]
    assert listed["note"].tolist()[0] == "代缴医保"
    assert store.count("visits") == len(raw_frame("visits")) + 1


def test_no_visit_outside_ones_area_and_none_in_the_future(store: Store):
    elsewhere = _reader(store, V1 + "002001")  # the east-north grid: H002 is not there
    with pytest.raises(NotFoundError):
        record_visit(store, elsewhere, "H002", visitor="x", kind="look_in")
    with pytest.raises(NotFoundError):
        visits_of(elsewhere, "H002")
    assert len(elsewhere.read("visits")) == 0
    mine = _reader(store, V1 + "001001")
    future = dt.datetime.now() + dt.timedelta(days=2)
    with pytest.raises(ValidationError, match="future"):
        record_visit(store, mine, "H002", visitor="x", kind="look_in", at=future)
    with pytest.raises(ValidationError, match="neither"):
        record_visit(store, mine, "H002", visitor="x", kind="look_in", lon=112.4)
    with pytest.raises(ValidationError):
        record_visit(store, mine, "H002", visitor="x", kind="party")
    assert store.count("visits") == len(raw_frame("visits"))


def test_visits_through_the_api_scoped_and_audited(store: Store, request: pytest.FixtureRequest):
    url = str(store.path) if store.path else request.getfixturevalue("pg_url")
    wang = make_account(store, "grid", V1 + "001001", username="grid-wang")
    other = make_account(store, "grid", V1 + "002001")
    viewer = make_account(store, "viewer", V1)
    with TestClient(create_app(store=url), base_url="https://testserver") as c:
        listed = c.get("/api/households/H005/visits", headers=wang.headers)
        assert listed.status_code == 200
        assert [v["id"] for v in listed.json()["visits"]] == ["V002"]
        body = {"kind": "look_in", "note": "独居老人，身体尚好", "at": "2024-06-01T10:00:00+08:00"}
        made = c.post("/api/households/H005/visits", json=body, headers=wang.headers)
        assert made.status_code == 201, made.text
        assert made.json()["visit"]["at"].startswith("2024-06-01T10:00:00")
        assert (
            c.post("/api/households/H005/visits", json=body, headers=other.headers).status_code
            == 404
        )
        assert c.get("/api/households/H005/visits", headers=viewer.headers).status_code == 403
        assert c.get("/api/layers/visits", headers=viewer.headers).status_code == 403
        seen = c.get("/api/layers/visits", headers=other.headers).json()
        assert seen["features"] == []
    audited = store.ledger.audit(AuditQuery(action="visit"))
    assert [(a.entry.actor, a.entry.target) for a in audited] == [("grid-wang", "H005")]


def test_a_visit_can_open_a_service_request_that_follows_the_case_flow(store: Store):
    grid = _reader(store, V1 + "001001")
    at = dt.datetime(2024, 5, 6, 9, 0)
    before = store.count("incidents")
    stored = record_visit(
        store, grid, "H005", visitor="grid-wang", kind="errand", at=at,
        request="代办低保年审材料",
    )  # fmt: skip
    assert stored.request_id is not None
    assert store.count("incidents") == before + 1
    [opened] = store.read("incidents", where={"id": stored.request_id}).to_dict("records")
    assert opened["kind"] == "service_request" and opened["status"] == "registered"
    assert "代办低保年审材料" in opened["description"]
    assert stored.visit["id"].iat[0] in opened["description"]
    home = store.read("households", where={"id": "H005"}).geometry.iloc[0]
    assert opened["geometry"].equals(home)
    case = case_of(grid, stored.request_id, caller=Actor("village-li", Role.VILLAGE, True))
    assert case.stage == "registered" and [s.actor for s in case.steps] == ["grid-wang"]
    assert case.allowed == ("dispatch", "reject")
