"""Change sets through the web app, on the GeoPackage store and on PostGIS.

The little county (conftest): village ``V1`` of township ``TOWNSHIP``; its north-west level-3
grid ``NW`` (in its second version) holds households H001-H006. A planner splits it along
the meridian 112.433, the diff shows the households moving, a township officer approves,
and the web app answers with the new grids at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import shapely
from accounts import TestAccount, make_account
from conftest import LEVEL3_BOXES, V1, raw_frame
from fastapi.testclient import TestClient
from shapely.geometry import box, mapping, shape

from gisgrid import codes
from gisgrid.analysis.assign import assign_store
from gisgrid.api import create_app
from gisgrid.layers import LAYERS
from gisgrid.services import accounts
from gisgrid.stores import Store
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.ledger import AuditQuery

NW, SW, NE, SE = LEVEL3_BOXES
TOWNSHIP = codes.township_of(V1)
CUT = {"type": "LineString", "coordinates": [[112.433, 29.71], [112.433, 29.59]]}
IN_NW = {f"H00{n}" for n in range(1, 7)}


@dataclass
class World:
    store: Store
    url: str
    client: TestClient
    people: dict[str, TestAccount]

    sessions: dict[str, dict[str, str]] = field(default_factory=dict)

    def call(self, who: str, method: str, url: str, **kw: Any) -> Any:
        headers = self.sessions.get(who) or self.people[who].headers
        return self.client.request(method, url, headers=headers, **kw)

    def sign_in(self, who: str) -> None:
        """From now on ``who`` calls as a browser does: a session cookie and its CSRF token."""
        person = self.people[who]
        signed = accounts.sign_in(self.store.ledger, person.username, person.password, address=None)
        assert signed.caller.session is not None
        self.sessions[who] = {
            "Cookie": f"{accounts.SESSION_COOKIE}={signed.cookie_value}",
            "X-CSRF-Token": signed.caller.session.csrf_token,
        }


@pytest.fixture(params=["gpkg", "postgis"])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "gpkg":
        store: Store = GeoPackageStore(tmp_path / "county.gpkg")
        url = str(tmp_path / "county.gpkg")
    else:
        store = request.getfixturevalue("pg_store")
        url = request.getfixturevalue("pg_url")
    store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    assign_store(store)
    people = {
        "planner": make_account(store, "planner", TOWNSHIP, username="planner-a"),
        "planner2": make_account(store, "planner", TOWNSHIP, username="planner-b"),
        "officer": make_account(store, "township", TOWNSHIP, username="officer"),
        "admin": make_account(store, "admin", "430623", username="admin-x"),
    }
    with TestClient(create_app(store=url), base_url="https://testserver") as client:
        yield World(store, url, client, people)


def begin(world: World, who: str = "planner", title: str = "拆分西北组") -> int:
    r = world.call(who, "POST", "/api/changesets", json={"village_code": V1, "title": title})
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    return int(r.json()["id"])


def split(world: World, change_set: int, who: str = "planner", after: int = 0) -> Any:
    body = {"after": after, "op": "split", "code": NW, "line": CUT}
    return world.call(who, "POST", f"/api/changesets/{change_set}/edits", json=body)


def level3_at(world: World, lon: float, lat: float) -> str:
    r = world.call("admin", "GET", "/api/locate", params={"lon": lon, "lat": lat})
    assert r.status_code == 200, r.text
    return str(r.json()["grids"]["level3"]["code"])


def test_the_full_flow(world: World, run_gisgrid: Any) -> None:
    cs = begin(world)
    r = split(world, cs)
    assert r.status_code == 201, r.text
    features = r.json()["features"]["features"]
    states = {f["properties"]["code"]: f["properties"]["change"] for f in features}
    pieces = sorted(c for c, s in states.items() if s == "added")
    assert states[NW] == "retired" and len(pieces) == 2
    outline = {f["properties"]["code"]: shape(f["geometry"]) for f in features}
    households = world.store.read("households").set_index("id")
    # where each household of NW goes: the piece covering it (a plain covers test)
    expected = {
        h: next(p for p in pieces if shapely.covers(outline[p], households.geometry[h]))
        for h in IN_NW
    }
    assert len(set(expected.values())) == 2  # both pieces take households

    # the planner (no household records) sees how many move between which grids ...
    diff = world.call("planner", "GET", f"/api/changesets/{cs}/diff").json()
    assert diff["household_ids_shown"] is False
    assert {g["code"] for g in diff["grids"]["removed"]} == {NW}
    assert sorted(g["code"] for g in diff["grids"]["added"]) == pieces
    counted = {(m["from"], m["to"]): m["count"] for m in diff["moves"]["households"]}
    assert all(m["id"] is None for m in diff["moves"]["households"])
    assert counted == {
        (NW, p): sum(1 for h in expected if expected[h] == p) for p in set(expected.values())
    }
    # ... the township officer the households themselves, and the reads are recorded
    diff = world.call("officer", "GET", f"/api/changesets/{cs}/diff").json()
    moved = {m["id"]: (m["from"], m["to"]) for m in diff["moves"]["households"]}
    assert moved == {h: (NW, p) for h, p in expected.items()}
    reads = world.store.ledger.audit(AuditQuery(action="households_read", limit=10))
    assert any(set((r.entry.detail or {}).get("ids", [])) == IN_NW for r in reads)
    assert {w["grid"] for w in diff["workload"]} >= set(pieces)
    assert {f["properties"]["side"] for f in diff["features"]["features"]} == {"before", "after"}

    r = world.call("planner", "POST", f"/api/changesets/{cs}/submit")
    assert r.status_code == 200 and r.json()["status"] == "submitted", r.text
    r = world.call("planner", "POST", f"/api/changesets/{cs}/approve")
    assert r.status_code == 403  # a planner reviews nothing (and is the author)
    r = world.call("officer", "POST", f"/api/changesets/{cs}/approve", json={"comment": "同意"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["reviewer"]) == ("published", "officer")
    assert r.json()["reassigned"]["households"] == len(IN_NW)

    # the web app answers with the new grids at once, the store holds the new codes
    for h, piece in expected.items():
        point = households.geometry[h]
        assert level3_at(world, point.x, point.y) == piece
    stored = world.store.read("households").set_index("id")["grid_code"]
    assert {h: stored[h] for h in IN_NW} == expected
    # the old version is kept, the history lists it
    archived = world.store.read("grid_versions", where={"code": NW})
    assert sorted(archived["version"].tolist()) == [1, 2]
    history = world.call("planner", "GET", f"/api/grids/{NW}/history").json()
    assert [v["properties"]["version"] for v in history["versions"]] == [1, 2, 3]
    assert history["status"] == "retired"
    assert history["went_into"] == pieces
    piece_history = world.call("planner", "GET", f"/api/grids/{pieces[0]}/history").json()
    assert piece_history["came_from"] == [NW] and piece_history["status"] == "in_force"
    # gisgrid history CODE: the same versions and lineage, Chinese first
    shown = run_gisgrid("history", NW, "--store", world.url)
    assert shown.returncode == 0, shown.stderr
    assert f"网格 {NW} 的版本" in shown.stdout and "已停用 retired" in shown.stdout
    assert f"#{cs}" in shown.stdout and "导入 import" in shown.stdout
    assert f"演变为 went into: {', '.join(pieces)}" in shown.stdout
    missing = run_gisgrid("history", V1 + "009009", "--store", world.url)
    assert missing.returncode == 6 and "no grid" in missing.stderr
    done = world.call("planner", "GET", f"/api/changesets/{cs}").json()
    assert done["status"] == "published" and done["stale"] is False
    events = done["events"]
    steps = world.store.ledger.audit(AuditQuery(target=f"change_set/{cs}", limit=20))
    assert [(r.entry.action, r.entry.actor) for r in reversed(steps)] == [
        ("change_set_created", "planner-a"),
        ("change_set_edited", "planner-a"),
        ("change_set_submitted", "planner-a"),
        ("change_set_published", "officer"),
    ]
    assert [e["action"] for e in events][:3] == ["created", "edited", "submitted"]
    assert events[-1]["action"] == "published"


def test_a_refused_edit_and_the_author_who_may_not_approve(world: World) -> None:
    cs = begin(world, "admin", "西片扩大")
    grown = box(112.40, 29.50, 112.50, 29.70)  # the west level-2 grid into the east one
    body = {"after": 0, "op": "reshape", "code": V1 + "001", "geometry": mapping(grown)}
    r = world.call("admin", "POST", f"/api/changesets/{cs}/edits", json=body)
    assert r.status_code == 422, r.text
    problems = r.json()["problems"]
    assert problems == r.json()["error"]["problems"]
    assert r.json()["error"]["code"] == "edit_refused"
    assert {p["kind"] for p in problems} >= {"gap", "outside_parent"}
    assert all(p["geometry"] and p["message_zh"] for p in problems)  # located, in Chinese
    assert world.call("admin", "GET", f"/api/changesets/{cs}").json()["edits"] == 0
    assert split(world, cs, "admin").status_code == 201
    assert world.call("admin", "POST", f"/api/changesets/{cs}/submit").status_code == 200
    r = world.call("admin", "POST", f"/api/changesets/{cs}/approve")
    assert r.status_code == 403 and "author" in r.json()["error"]["message"]


def test_two_sessions_on_one_village(world: World) -> None:
    # two planners in their browsers: session cookies, every write with its CSRF token
    world.sign_in("planner")
    world.sign_in("planner2")
    no_token = {"Cookie": world.sessions["planner"]["Cookie"]}
    body = {"village_code": V1, "title": "无令牌"}
    r = world.client.post("/api/changesets", json=body, headers=no_token)
    assert r.status_code == 403  # a browser's write without its CSRF token
    first, second = begin(world, "planner", "一"), begin(world, "planner2", "二")
    assert split(world, first, "planner").status_code == 201
    merge = {"after": 0, "op": "merge", "codes": [NE, SE]}
    r = world.call("planner2", "POST", f"/api/changesets/{second}/edits", json=merge)
    assert r.status_code == 201, r.text
    assert world.call("planner", "POST", f"/api/changesets/{first}/submit").status_code == 200
    r = world.call("planner2", "POST", f"/api/changesets/{second}/submit")
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "conflict"
    assert [p["id"] for p in error["detail"]["pending"]] == [first]
    # once the first is published, the second was drawn on grids that are no more
    assert world.call("officer", "POST", f"/api/changesets/{first}/approve").status_code == 200
    r = world.call("planner2", "POST", f"/api/changesets/{second}/submit")
    assert r.status_code == 409, r.text
    since = r.json()["error"]["detail"]["changed_since"]
    assert [c["id"] for c in since] == [first]
    assert NW in since[0]["codes"]


def test_a_village_changed_between_submit_and_approve(world: World) -> None:
    cs = begin(world)
    assert split(world, cs).status_code == 201
    assert world.call("planner", "POST", f"/api/changesets/{cs}/submit").status_code == 200
    grids = world.store.read("grids")
    grids.loc[grids["code"] == SE, "name"] = "导入改名"  # an import meanwhile
    world.store.write({"grids": grids})
    r = world.call("officer", "POST", f"/api/changesets/{cs}/approve")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "conflict"
    assert world.store.change_sets.get(cs).status == "submitted"
    assert level3_at(world, 112.430, 29.650) == NW  # nothing was published
    # the reviewer sends it back; the author withdraws it
    r = world.call("officer", "POST", f"/api/changesets/{cs}/return", json={"comment": "已变更"})
    assert r.json()["status"] == "returned"
    assert world.call("planner", "POST", f"/api/changesets/{cs}/withdraw").json()["status"] == (
        "withdrawn"
    )
    listed = world.call("officer", "GET", "/api/changesets", params={"village": V1}).json()
    assert [c["id"] for c in listed["change_sets"]] == [cs]
