"""群众上报 and the assignee picker, through the API on both stores.

A resident (no account) reports through ``POST /api/public/reports``: the incident, its
``report`` step by the reserved actor ``public`` and the public report row are stored
together, routed to the grid, audited with the client's address; the tracking code shows
only kind, stage and dates; a wrong code is a 404; a point outside the county is a 422; too
many reports a 429 with ``Retry-After``; a client-chosen time, an oversize body or a kind
not offered is refused; and nothing is half-written. Staff see the case with the reporter
shown as 群众上报 and the contact phone masked for roles without household records.

Who a case may be dispatched to (``GET /api/incidents/{id}/assignees``): the enabled grid
workers of its grid (by area or by their phone as the grid's responsible person), its
village's and its township's officers, nearest first; only for those who dispatch.

The little county: E001 lies in the first village's west-north grid (001001), whose
responsible person's phone is 13900000000.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from accounts import make_account
from conftest import V1, raw_frame
from fastapi.testclient import TestClient

from gisgrid.analysis.cases import PUBLIC_REPORTER
from gisgrid.api import create_app
from gisgrid.api.logs import loggable_path
from gisgrid.errors import ConfigError, ValidationError
from gisgrid.exchange import import_file
from gisgrid.layers import LAYERS
from gisgrid.services import accounts
from gisgrid.services import incidents as incident_service
from gisgrid.services.accounts import secret_hash
from gisgrid.stores.base import Store
from gisgrid.stores.ledger import AuditQuery

T1 = V1[:9]
#: inside the west-north level-3 grid of the first village
INSIDE = (112.43, 29.65)
#: in Hunan, well east of the little county
OUTSIDE = (113.40, 29.50)
CODE = re.compile(r"^(W\d{14}[0-9a-f]{6})-([a-z2-9]{14})$")


@pytest.fixture
def store(any_store: Store) -> Store:
    """The little county in a store of each kind."""
    any_store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    return any_store


@pytest.fixture
def url(store: Store, request: pytest.FixtureRequest) -> str:
    return str(store.path) if store.path else str(request.getfixturevalue("pg_url"))


def _report(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "environment",
        "description": "河边有人倾倒垃圾（测试）",
        "lon": INSIDE[0],
        "lat": INSIDE[1],
        "contact_phone": "139 0000 1234",
    }
    return body | overrides


def _counts(store: Store) -> tuple[int, int, int]:
    return (store.count("incidents"), store.count("case_steps"), store.count("public_reports"))


def test_a_resident_reports_and_follows_it_with_the_code(store: Store, url: str):
    village = make_account(store, "village", V1)
    viewer = make_account(store, "viewer", T1)
    before = _counts(store)
    with TestClient(create_app(store=url), base_url="https://testserver") as c:
        made = c.post("/api/public/reports", json=_report())
        assert made.status_code == 201, made.text
        answer = made.json()
        match = CODE.fullmatch(answer["code"])
        assert match, answer
        incident_id, secret = match.groups()
        assert answer["stage_zh"] == "立案" and answer["kind_zh"] == "环保事故"
        assert answer["track_url"] == f"/report/{answer['code']}"

        # stored together: the incident routed to its grid, the step, the hash (not the code)
        assert _counts(store) == (before[0] + 1, before[1] + 1, before[2] + 1)
        [incident] = store.read("incidents", where={"id": incident_id}).to_dict("records")
        assert incident["grid_code"] == V1 + "001001" and incident["status"] == "registered"
        steps = store.read("case_steps", where={"incident_id": incident_id})
        assert steps["actor"].tolist() == [PUBLIC_REPORTER]
        assert steps["action"].tolist() == ["report"]
        [row] = store.read("public_reports", where={"incident_id": incident_id}).to_dict("records")
        assert row["code_hash"] == secret_hash(secret) and secret not in row["code_hash"]
        assert row["contact_phone"] == "13900001234"
        [audit] = store.ledger.audit(AuditQuery(action="public_report"))
        assert audit.entry.actor is None and audit.entry.address == "testclient"
        assert audit.entry.target == incident_id

        # tracking: the kind, the stage and dates, nothing else
        tracked = c.get(f"/api/public/reports/{answer['code']}")
        assert tracked.status_code == 200
        assert tracked.json() == {
            "kind": "environment",
            "kind_zh": "环保事故",
            "stage": "registered",
            "stage_zh": "立案",
            "reported_at": answer["reported_at"],
            "updated_at": answer["reported_at"],
            "finished_at": None,
        }
        page = c.get(answer["track_url"])
        assert page.status_code == 200 and "立案" in page.text and "环保事故" in page.text
        assert "倾倒垃圾" not in page.text and "1390000" not in page.text
        wrong = secret[::-1] if secret[::-1] != secret else "a" * 14
        for code in (f"{incident_id}-{wrong}", f"E001-{secret}", "nonsense", f"{incident_id}"):
            assert c.get(f"/api/public/reports/{code}").status_code == 404, code
            assert c.get(f"/report/{code}").status_code == 404, code

        # staff: the case on the village's list, the reporter shown as 群众上报
        listed = c.get("/api/cases", headers=village.headers).json()
        [card] = [x for x in listed["cases"] if x["id"] == incident_id]
        assert card["reporter"] == "public" and card["reporter_zh"] == "群众上报"
        assert card["grid_code"] == V1 + "001001"
        case = c.get(f"/api/incidents/{incident_id}/case", headers=village.headers).json()
        assert case["steps"][0]["actor"] == "public"
        assert case["steps"][0]["actor_zh"] == "群众上报"
        assert case["public_report"] == {"contact_phone": "13900001234"}
        masked = c.get(f"/api/incidents/{incident_id}/case", headers=viewer.headers).json()
        assert masked["public_report"] == {"contact_phone": "139****1234"}
        assert masked["incident"]["description"] is None

        # a signed-in caller's session or token changes nothing: the report is the public's
        staff = c.post("/api/public/reports", json=_report(), headers=village.headers)
        assert staff.status_code == 201
        other_id = CODE.fullmatch(staff.json()["code"]).groups()[0]  # type: ignore[union-attr]
        other_steps = store.read("case_steps", where={"incident_id": other_id})
        assert other_steps["actor"].tolist() == [PUBLIC_REPORTER]
        audited = store.ledger.audit(AuditQuery(action="public_report", target=other_id))
        assert [a.entry.actor for a in audited] == [None]

        # the case moves on: the code shows the new stage
        step = {"action": "reject", "note": "不属于本村事务（测试）"}
        moved = c.post(f"/api/incidents/{incident_id}/steps", json=step, headers=village.headers)
        assert moved.status_code == 201, moved.text
        tracked = c.get(f"/api/public/reports/{answer['code']}").json()
        assert tracked["stage_zh"] == "不予受理" and tracked["finished_at"] is not None


def test_refusals_write_nothing(store: Store, url: str, monkeypatch: pytest.MonkeyPatch):
    before = _counts(store)
    with TestClient(create_app(store=url), base_url="https://testserver") as c:
        outside = c.post("/api/public/reports", json=_report(lon=OUTSIDE[0], lat=OUTSIDE[1]))
        assert outside.status_code == 422
        message = outside.json()["error"]["message"]
        assert "不在本县范围内" in message and "outside the county" in message
        refused = {
            "a time of one's own (in the future)": _report(reported_at="2099-01-01T00:00:00"),
            "a kind residents do not report": _report(kind="criminal"),
            "an unknown kind": _report(kind="party"),
            "no description": _report(description=""),
            "a long description": _report(description="很" * 1001),
            "no phone number": _report(contact_phone="call me"),
            "no place": {k: v for k, v in _report().items() if k != "lat"},
        }
        for why, body in refused.items():
            answer = c.post("/api/public/reports", json=body)
            assert answer.status_code == 422, (why, answer.text)
        huge = c.post("/api/public/reports", json=_report(description="很" * 600_000))
        assert huge.status_code == 413
        # an id taken meanwhile (the check under the writer lock): a conflict, nothing written
        monkeypatch.setattr(incident_service, "new_incident_id", lambda now: "WTAKEN")
        assert c.post("/api/public/reports", json=_report()).status_code == 201
        again = c.post("/api/public/reports", json=_report(description="又一次（测试）"))
        assert again.status_code == 409
    assert _counts(store) == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert len(store.ledger.audit(AuditQuery(action="public_report"))) == 1


def test_too_many_reports_are_refused_with_retry_after(
    store: Store, url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("GISGRID_PUBLIC_MAX_PER_ADDRESS", "2")
    with TestClient(create_app(store=url), base_url="https://testserver") as c:
        for _ in range(2):
            assert c.post("/api/public/reports", json=_report()).status_code == 201
        before = _counts(store)
        refused = c.post("/api/public/reports", json=_report())
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) > 0
        assert "上报过于频繁" in refused.json()["error"]["message"]
        assert _counts(store) == before
        # everyone together: the county-wide limit
        monkeypatch.setenv("GISGRID_PUBLIC_MAX_PER_ADDRESS", "100")
        monkeypatch.setenv("GISGRID_PUBLIC_MAX_PER_HOUR", "2")
        assert c.post("/api/public/reports", json=_report()).status_code == 429
        monkeypatch.setenv("GISGRID_PUBLIC_MAX_PER_HOUR", "3")
        assert c.post("/api/public/reports", json=_report()).status_code == 201


def test_the_access_log_keeps_no_tracking_secret():
    assert loggable_path("/report/W1-abcdefghjkmnpq") == "/report/W1-…"
    assert loggable_path("/api/public/reports/W1-abc?x=1") == "/api/public/reports/W1-…"
    assert loggable_path("/api/public/reports") == "/api/public/reports"
    assert loggable_path("/report") == "/report"
    assert loggable_path("/cases/W1-2?view=area") == "/cases/W1-2"


def test_an_incident_a_resident_reported_stays(store: Store, tmp_path: Path):
    # E003 was reported by a resident (the little county's public report) and has no steps:
    # replacing the incidents without it is refused on both stores alike
    incidents = raw_frame("incidents")
    replacement = tmp_path / "incidents.geojson"
    incidents[incidents["id"] != "E003"].to_file(replacement, driver="GeoJSON")
    with pytest.raises(ValidationError, match="case history"):
        import_file(store, "incidents", replacement, mode="replace")
    assert store.count("incidents") == len(incidents)
    assert store.count("public_reports") == 1


def test_public_is_no_username():
    with pytest.raises(ConfigError, match="reserved"):
        accounts.check_username("public")


def test_the_assignees_of_a_case_nearest_first(store: Store, url: str):
    grid = make_account(store, "grid", V1 + "001001", username="grid-wang")
    # a grid worker of another grid who is the responsible person of E001's grid
    by_phone = make_account(store, "grid", V1 + "002001", phone="13900000000", username="grid-qian")
    elsewhere = make_account(store, "grid", V1 + "002001", username="grid-sun")
    village = make_account(store, "village", V1, username="village-li")
    township = make_account(store, "township", T1, username="town-zhou")
    other_township = make_account(store, "township", "430623902", username="town-wu")
    gone = make_account(store, "village", V1, username="village-gone")
    accounts.set_disabled(store.ledger, username="village-gone", disabled=True, actor="test")
    viewer = make_account(store, "viewer", T1)
    admin = make_account(store, "admin", "430623")
    del elsewhere, gone
    with TestClient(create_app(store=url), base_url="https://testserver") as c:
        for who in (village, township, admin):
            answer = c.get("/api/incidents/E001/assignees", headers=who.headers)
            assert answer.status_code == 200, answer.text
            found = answer.json()["assignees"]
            assert [(a["username"], a["level"]) for a in found] == [
                ("grid-qian", "grid"),
                ("grid-wang", "grid"),
                ("village-li", "village"),
                ("town-zhou", "township"),
            ]
            assert found[1]["role_zh"] == "网格员"
            assert found[2]["area"] == V1 and found[2]["area_name"] == "测试一村"
        # who does not dispatch is refused whether or not the case exists
        for who in (grid, by_phone, viewer):
            assert c.get("/api/incidents/E001/assignees", headers=who.headers).status_code == 403
            assert c.get("/api/incidents/NOPE/assignees", headers=who.headers).status_code == 403
        # outside one's area: not found
        assert (
            c.get("/api/incidents/E001/assignees", headers=other_township.headers).status_code
            == 404
        )
        assert c.get("/api/incidents/NOPE/assignees", headers=village.headers).status_code == 404
        assert c.get("/api/incidents/E001/assignees").status_code == 401
