"""Cases in the stores: steps appended in one transaction, never lost, never changed, scoped.

The little county's incidents: E001 in the first village (reported and dispatched to
``grid-wang``, two steps), E002 in the second township (closed, imported without steps), E003
in the first village (imported in stage ``handling``). On a GeoPackage and on PostGIS.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pandas as pd
import pytest
from conftest import V1, raw_frame

from gisgrid.analysis.assign import grid_index
from gisgrid.analysis.cases import Actor
from gisgrid.analysis.scope import Scope, ScopedReader
from gisgrid.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    StoreConstraintError,
    StoreError,
    ValidationError,
)
from gisgrid.exchange import import_file
from gisgrid.layers import LAYERS
from gisgrid.roles import ROLES, Role
from gisgrid.services.cases import (
    case_of,
    case_statistics,
    case_summaries,
    take_step,
    work_list,
)
from gisgrid.services.incidents import NewIncident, report_incident
from gisgrid.stores.base import Store
from gisgrid.stores.ledger import AuditQuery

WANG = Actor("grid-wang", Role.GRID, in_area=True)
LI = Actor("village-li", Role.VILLAGE, in_area=True)
ZHAO = Actor("township-zhao", Role.TOWNSHIP, in_area=True)
NOON = dt.datetime(2024, 3, 2, 12, 0)


@pytest.fixture
def store(any_store: Store) -> Store:
    """The little county in a store of each kind."""
    any_store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    return any_store


def _reader(store: Store, area: str, *, role: Role = Role.VILLAGE, residents: bool = True):
    scope = Scope(role=ROLES[role], areas=(area,), residents=residents, staff=True)
    index = grid_index(store.read("grids", where={"level": 3}))
    return ScopedReader(store, scope, index=index)


def test_a_case_reads_its_stage_from_its_steps_or_its_imported_status(store: Store):
    e001 = case_of(store, "E001", caller=WANG, now=NOON)
    assert [s.action for s in e001.steps] == ["report", "dispatch"]
    assert e001.stage == "dispatched" and e001.assignee == "grid-wang"
    assert set(e001.allowed) == {"accept", "decline"}
    e003 = case_of(store, "E003", caller=LI, now=NOON)
    assert e003.steps == () and e003.start == e003.stage == "handling"
    assert set(e003.allowed) == {"redispatch"}
    with pytest.raises(NotFoundError):
        case_of(store, "E999", caller=LI)


def test_the_whole_flow_is_stored_step_by_step(store: Store):
    at = NOON
    for caller, action, note in (
        (WANG, "accept", ""),
        (WANG, "handled", "双方达成调解协议"),
        (LI, "verify", ""),
    ):
        at += dt.timedelta(hours=1)
        case = take_step(store, store, "E001", action=action, caller=caller, note=note, now=at)
    assert case.stage == "closed" and case.allowed == ()
    stored = store.read("case_steps", where={"incident_id": "E001"}).sort_values("seq")
    assert stored["seq"].tolist() == [1, 2, 3, 4, 5]
    assert stored["action"].tolist() == ["report", "dispatch", "accept", "handled", "verify"]
    assert stored["actor"].tolist()[-1] == "village-li"
    assert stored["at"].iloc[-1] == pd.Timestamp(at)


@pytest.mark.parametrize("reported_at", [None, dt.datetime(2024, 3, 2, 12, 0, 0, 326_000)])
def test_a_step_in_the_second_of_the_report_is_not_before_it(store: Store, reported_at):
    """The report is dated to the second as every step is (a dispatch in the same second was
    refused as "dated before the case's last step": the report had kept its milliseconds)."""
    new = NewIncident(
        lon=112.45, lat=29.62, kind="dispute", grid_code=V1 + "001001", reported_at=reported_at
    )
    stored = report_incident(store, new, reporter="grid-wang")
    incident = str(stored["id"].iat[0])
    step = store.read("case_steps", where={"incident_id": incident})["at"].iat[0]
    assert step.microsecond == 0 and pd.Timestamp(stored["reported_at"].iat[0]) == step
    # at once, in the same second
    case = take_step(store, store, incident, action="dispatch", caller=LI, assignee=WANG.username,
                     now=step.to_pydatetime())  # fmt: skip
    assert case.stage == "dispatched"


def test_an_illegal_or_forbidden_step_changes_nothing(store: Store):
    before = store.read("case_steps")
    with pytest.raises(ConflictError, match="not possible"):
        take_step(store, store, "E001", action="verify", caller=ZHAO, now=NOON)
    with pytest.raises(ForbiddenError):
        take_step(store, store, "E001", action="accept", caller=LI, now=NOON)
    with pytest.raises(ConflictError, match="note"):
        take_step(store, store, "E001", action="decline", caller=WANG, now=NOON)
    pd.testing.assert_frame_equal(before, store.read("case_steps"))


def test_a_step_on_a_case_that_moved_meanwhile_is_a_conflict(store: Store):
    take_step(store, store, "E001", action="accept", caller=WANG, now=NOON, after=2)
    with pytest.raises(ConflictError, match="meanwhile"):
        take_step(store, store, "E001", action="decline", caller=WANG, note="x", now=NOON, after=2)
    assert store.count("case_steps", where={"incident_id": "E001"}) == 3


def test_two_people_taking_a_step_at_once_lose_neither(store: Store):
    """Two threads take the next step of the same case at once: one is stored, the other is
    a conflict (or waits for the writer lock and then finds the case moved)."""
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def redispatch(to: str) -> None:
        barrier.wait()
        try:
            take_step(
                store,
                store,
                "E001",
                action="redispatch",
                caller=ZHAO,
                assignee=to,
                now=NOON,
                after=2,
            )
            outcomes.append("stored")
        # a conflict, or the other writer holding the lock: refused, nothing written
        except (ConflictError, StoreError, StoreConstraintError) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=redispatch, args=(n,)) for n in ("wu", "sun")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("stored") == 1, outcomes
    steps = store.read("case_steps", where={"incident_id": "E001"})
    assert len(steps) == 3
    assert steps["seq"].is_unique


def test_steps_are_seen_only_in_the_incidents_area_and_notes_masked_without_records(
    store: Store,
):
    village = _reader(store, V1)
    assert set(village.read("case_steps")["incident_id"]) == {"E001"}
    elsewhere = _reader(store, "430623902001")
    assert len(elsewhere.read("case_steps")) == 0
    with pytest.raises(NotFoundError):
        case_of(elsewhere, "E001", caller=LI)
    masked = _reader(store, V1, role=Role.VIEWER, residents=False)
    notes = masked.read("case_steps")["note"]
    assert notes.isna().all()
    assert store.read("case_steps")["note"].notna().any()


def test_steps_must_belong_to_an_incident_and_incidents_with_steps_stay(
    store: Store, tmp_path: Path
):
    stray = pd.DataFrame(
        {"incident_id": ["E404"], "seq": [1], "action": ["report"], "actor": ["x"],
         "at": ["2024-03-01 10:00:00"], "note": [None], "assignee": [None]}
    )  # fmt: skip
    geo = tmp_path / "steps.geojson"
    geo.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": null, '
        '"properties": ' + stray.iloc[0].to_json() + "}]}",
        encoding="utf-8",
    )
    with pytest.raises(ValidationError, match="no incidents row"):
        import_file(store, "case_steps", geo)
    incidents = raw_frame("incidents")
    kept = incidents[incidents["id"] != "E001"]
    replacement = tmp_path / "incidents.geojson"
    kept.to_file(replacement, driver="GeoJSON")
    with pytest.raises(ValidationError, match="case history"):
        import_file(store, "incidents", replacement, mode="replace")
    assert store.count("incidents") == len(incidents)


def test_a_case_through_the_api_step_by_step_scoped_and_audited(
    store: Store, request: pytest.FixtureRequest
):
    from accounts import make_account
    from fastapi.testclient import TestClient

    from gisgrid.api import create_app

    wang = make_account(store, "grid", V1 + "001001", username="grid-wang")
    li = make_account(store, "village", V1, username="village-li")
    far = make_account(store, "township", "430623902")
    viewer = make_account(store, "viewer", V1)
    url = str(store.path) if store.path else request.getfixturevalue("pg_url")
    with TestClient(create_app(store=url), base_url="https://testserver") as c:
        r = c.get("/api/incidents/E001/case", headers=li.headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["stage"] == "dispatched" and body["stage_zh"] == "派遣"
        assert [s["action"] for s in body["steps"]] == ["report", "dispatch"]
        assert body["allowed"] == [{"action": "redispatch", "label_zh": "重新派遣"}]
        assert c.get("/api/incidents/E001/case", headers=far.headers).status_code == 404
        masked = c.get("/api/incidents/E001/case", headers=viewer.headers).json()
        assert masked["steps"][1]["note"] in ("", None)
        assert body["steps"][1]["note"] == "请尽快调解（测试）"

        def step(who, action, **more):
            return c.post(
                "/api/incidents/E001/steps", json={"action": action, **more}, headers=who.headers
            )

        assert step(li, "verify").status_code == 409  # not in stage 派遣
        assert step(li, "accept").status_code == 403  # not the assignee
        assert step(wang, "accept", after=1).status_code == 409  # a step the caller did not see
        assert step(far, "redispatch", assignee="x").status_code == 404  # not in the area
        assert step(wang, "accept", after=2).status_code == 201
        assert step(wang, "handled", note="已调解").status_code == 201
        assert step(wang, "verify").status_code == 403  # the handler never verifies
        done = step(li, "verify")
        assert done.status_code == 201 and done.json()["stage"] == "closed"
        # lists and maps show the stage now, not the status it was stored with
        closed = c.get("/api/incidents", params={"status": "closed"}, headers=li.headers).json()
        assert "E001" in {f["id"] for f in closed["features"]}
        still = c.get("/api/incidents", params={"status": "registered"}, headers=li.headers)
        assert "E001" not in {f["id"] for f in still.json()["features"]}
    assert store.read("case_steps", where={"incident_id": "E001"})["seq"].max() == 5
    audited = store.ledger.audit(AuditQuery(action="case_step"))
    assert [(e.entry.actor, e.entry.target) for e in audited].count(("village-li", "E001")) == 1


def test_the_work_list_orders_cases_by_deadline_and_knows_what_is_overdue(store: Store):
    found = case_summaries(store, now=NOON)
    assert [c.id for c in found] == ["E001", "E003", "E002"]
    e001, e003, e002 = found
    assert e001.escalation.due == dt.datetime(2024, 3, 2, 11, 0)  # dispatched + 24 h
    assert e001.escalation.overdue and e001.escalation.level == "village"
    assert e001.assignee == "grid-wang" and e001.steps == 2
    # an illegal building may take ten days to handle; counted from its report
    assert e003.escalation.due == dt.datetime(2024, 7, 30, 8, 0) and not e003.escalation.overdue
    assert e002.stage == "closed" and e002.escalation.due is None
    village = case_summaries(_reader(store, V1), now=NOON)
    assert {c.id for c in village} == {"E001", "E003"}
    # E001 is overdue and has gone up to the village: on the grid's and the village's
    # "escalated" lists, not yet on the township's or the county's
    for level, expected in (("grid", ["E001"]), ("village", ["E001"]), ("township", [])):
        assert [c.id for c in work_list(found, me="x", reached=level)] == expected, level
    later = case_summaries(store, now=NOON + dt.timedelta(days=30))
    assert [c.id for c in work_list(later, me="x", reached="county")] == ["E001"]


def test_statistics_count_stages_on_time_and_by_township_and_kind(store: Store):
    at = dt.datetime(2024, 3, 1, 11, 0)  # E001 was dispatched then
    for caller, action, hours, note in (
        (WANG, "accept", 2, ""),  # 2 h to accept (limit 24)
        (WANG, "handled", 30, "调解完成"),  # 30 h to handle (limit 168 for a dispute)
        (LI, "verify", 4, ""),  # 4 h to verify (limit 48)
    ):
        at += dt.timedelta(hours=hours)
        take_step(store, store, "E001", action=action, caller=caller, note=note, now=at)
    found = case_statistics(case_summaries(store, now=at))
    assert (found.cases, found.closed, found.open) == (3, 2, 1)
    # E002 was imported closed: no history to judge it by; E001 was on time throughout
    assert (found.closed_on_time, found.on_time_rate) == (1, 1.0)
    assert found.median_hours == {
        "registered": 1.5,
        "dispatched": 2.0,
        "handling": 30.0,
        "verifying": 4.0,
    }
    first = "430623901"
    assert found.by_township[first].finished == 1 and found.by_township[first].open == 1
    assert found.by_kind["petition"].finished == 1
    late = case_statistics(case_summaries(store, now=dt.datetime(2024, 8, 30)))
    assert late.overdue == 1  # E003, handling since July, past its 240 h


def test_notifications_say_what_waits_for_whom(store: Store, request: pytest.FixtureRequest):
    from accounts import make_account
    from fastapi.testclient import TestClient

    from gisgrid.api import create_app

    wang = make_account(store, "grid", V1 + "001001", username="grid-wang")
    li = make_account(store, "village", V1, username="village-li")
    admin = make_account(store, "admin", "430623")
    url = str(store.path) if store.path else request.getfixturevalue("pg_url")
    with TestClient(create_app(store=url), base_url="https://testserver") as c:

        def waiting(who) -> set[tuple[str, str]]:
            body = c.get("/api/notifications", headers=who.headers).json()
            assert body["count"] == len(body["notifications"])
            return {(n["kind"], n["target"]) for n in body["notifications"]}

        assert ("dispatched_to_me", "E001") in waiting(wang)
        assert ("mine_overdue", "E001") in waiting(wang)  # dispatched in 2024
        assert not {k for k, t in waiting(li) if t == "E001"} - {"escalated"}
        assert ("escalated", "E001") in waiting(admin)  # years late: up to the county
        for action, note in (("accept", ""), ("handled", "已调解")):
            r = c.post(
                "/api/incidents/E001/steps",
                json={"action": action, "note": note},
                headers=wang.headers,
            )
            assert r.status_code == 201
        assert ("dispatched_to_me", "E001") not in waiting(wang)
        assert ("to_verify", "E001") in waiting(li)
        assert not any(k == "to_verify" for k, _ in waiting(wang))


def test_reviewers_are_told_of_change_sets_under_review():
    from gisgrid.services.notifications import notifications_for
    from gisgrid.stores.changesets import ChangeSet

    when = dt.datetime(2026, 11, 30, 9, 0)
    pending = ChangeSet(
        id=3, village_code=V1, title="拆分第一村民小组", note="", author="planner-qian",
        status="submitted", base="fingerprint", edits=1, created_at=when, updated_at=when,
    )  # fmt: skip
    found = notifications_for("township-zhao", Role.TOWNSHIP, [], to_review=[pending])
    assert [(n.kind, n.target, n.about) for n in found] == [("to_review", "3", "拆分第一村民小组")]
    assert found[0].message_zh == "网格变更单待审核"


def test_case_steps_and_visits_are_never_rewritten(store: Store, request: pytest.FixtureRequest):
    """A replace keeps every stored row (both stores); PostGIS refuses UPDATE and DELETE."""
    before = {name: len(store.read(name)) for name in ("case_steps", "visits")}
    store.write({name: LAYERS[name].empty() for name in before}, mode="replace")
    assert {name: len(store.read(name)) for name in before} == before
    if store.path is not None:
        return
    import psycopg

    with psycopg.connect(request.getfixturevalue("pg_url")) as conn:
        for statement in (
            "UPDATE gisgrid.case_steps SET note = 'changed'",
            "DELETE FROM gisgrid.visits",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                conn.execute(statement)
            conn.rollback()
