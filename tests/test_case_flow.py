"""The case flow: every legal step goes, every illegal one is refused, escalation on a set clock.

The expected flow is written out here by hand (the county's 立案→派遣→处置→核查→结案 with
退回, 重新派遣 and 不予受理), independently of :data:`gisgrid.analysis.cases.FLOW`.
"""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from pydantic import ValidationError

from gisgrid.analysis.cases import (
    FLOW,
    Actor,
    Step,
    allowed_actions,
    assignee_of,
    check_step,
    escalation,
    stage_of,
)
from gisgrid.errors import ConflictError, ForbiddenError
from gisgrid.roles import Role
from gisgrid.settings import CaseSettings

T0 = dt.datetime(2026, 11, 2, 9, 0)
H = dt.timedelta(hours=1)

#: stage → the actions allowed in it (hand-written from the issue)
EXPECTED = {
    None: {"report"},
    "registered": {"dispatch", "reject"},
    "dispatched": {"accept", "decline", "redispatch"},
    "handling": {"handled", "redispatch"},
    "verifying": {"verify", "reopen"},
    "closed": set(),
    "rejected": set(),
}

GRID = Actor("wang", Role.GRID, in_area=True)
VILLAGE = Actor("li", Role.VILLAGE, in_area=True)
TOWNSHIP = Actor("zhao", Role.TOWNSHIP, in_area=True)

#: a history reaching each stage
PATHS: dict[str | None, list[Step]] = {
    None: [],
    "registered": [Step("report", "wang", T0)],
    "dispatched": [
        Step("report", "wang", T0),
        Step("dispatch", "li", T0 + H, assignee="wang"),
    ],
    "handling": [
        Step("report", "wang", T0),
        Step("dispatch", "li", T0 + H, assignee="wang"),
        Step("accept", "wang", T0 + 2 * H),
    ],
    "verifying": [
        Step("report", "wang", T0),
        Step("dispatch", "li", T0 + H, assignee="wang"),
        Step("accept", "wang", T0 + 2 * H),
        Step("handled", "wang", T0 + 3 * H, note="调解完成"),
    ],
    "closed": [
        Step("report", "wang", T0),
        Step("dispatch", "li", T0 + H, assignee="wang"),
        Step("accept", "wang", T0 + 2 * H),
        Step("handled", "wang", T0 + 3 * H, note="调解完成"),
        Step("verify", "li", T0 + 4 * H),
    ],
    "rejected": [Step("report", "wang", T0), Step("reject", "li", T0 + H, note="重复上报")],
}


def _step(action: str, at: dt.datetime) -> Step:
    return Step(action, "li", at, note="说明", assignee="wang")  # type: ignore[arg-type]


@pytest.mark.parametrize(("stage", "action"), list(itertools.product(PATHS, FLOW)))
def test_every_action_in_every_stage_is_allowed_exactly_as_the_flow_says(stage, action):
    history = PATHS[stage]
    assert stage_of(history) == stage
    at = (history[-1].at if history else T0) + H
    step = _step(action, at)
    # the caller who would be entitled: the assignee for the assignee's steps, else a
    # township officer (who handled nothing)
    caller = GRID if FLOW[action].by == "assignee" else TOWNSHIP
    step = Step(action, caller.username, at, note="说明", assignee="wang")
    if action in EXPECTED[stage]:
        assert check_step(history, step, caller) == FLOW[action].target
    else:
        with pytest.raises(ConflictError, match="not possible"):
            check_step(history, step, caller)


def test_the_whole_flow_and_the_actions_offered_at_each_stage():
    for stage, history in PATHS.items():
        for caller in (GRID, VILLAGE, TOWNSHIP):
            offered = set(allowed_actions(history, caller))
            assert offered <= EXPECTED[stage]
    assert set(allowed_actions(PATHS["dispatched"], GRID)) == {"accept", "decline"}
    assert set(allowed_actions(PATHS["dispatched"], VILLAGE)) == {"redispatch"}
    assert allowed_actions(PATHS["closed"], TOWNSHIP) == []


def test_closing_needs_a_verification_by_someone_other_than_the_handler():
    history = PATHS["verifying"]
    # the handler is a village secretary who dispatched to themself
    selfish = [
        Step("report", "wang", T0),
        Step("dispatch", "li", T0 + H, assignee="li"),
        Step("accept", "li", T0 + 2 * H),
        Step("handled", "li", T0 + 3 * H, note="已处理"),
    ]
    with pytest.raises(ForbiddenError, match="handled"):
        check_step(selfish, Step("verify", "li", T0 + 4 * H), VILLAGE)
    assert "verify" not in allowed_actions(selfish, VILLAGE)
    assert check_step(selfish, Step("verify", "zhao", T0 + 4 * H), TOWNSHIP) == "closed"
    # a grid worker never verifies
    with pytest.raises(ForbiddenError):
        check_step(history, Step("verify", "wang", T0 + 4 * H), GRID)


def test_only_the_assignee_handles_and_only_in_the_area():
    history = PATHS["dispatched"]
    other = Actor("chen", Role.GRID, in_area=True)
    with pytest.raises(ForbiddenError, match="dispatched to"):
        check_step(history, Step("accept", "chen", T0 + 2 * H), other)
    outside = Actor("li2", Role.VILLAGE, in_area=False)
    with pytest.raises(ForbiddenError, match="area"):
        check_step(PATHS["registered"], Step("reject", "li2", T0 + H, note="x"), outside)
    viewer = Actor("v", Role.VIEWER, in_area=True)
    with pytest.raises(ForbiddenError):
        check_step([], Step("report", "v", T0), viewer)


def test_notes_assignees_and_order_are_required():
    registered = PATHS["registered"]
    with pytest.raises(ConflictError, match="note"):
        check_step(registered, Step("reject", "li", T0 + H), VILLAGE)
    with pytest.raises(ConflictError, match="person"):
        check_step(registered, Step("dispatch", "li", T0 + H), VILLAGE)
    with pytest.raises(ConflictError, match="before"):
        check_step(registered, Step("dispatch", "li", T0 - H, assignee="wang"), VILLAGE)


def test_decline_returns_the_case_and_clears_the_assignee():
    history = [*PATHS["dispatched"], Step("decline", "wang", T0 + 2 * H, note="不属本格")]
    assert stage_of(history) == "registered"
    assert assignee_of(history) is None
    redone = [*history, Step("dispatch", "li", T0 + 3 * H, assignee="chen")]
    assert assignee_of(redone) == "chen"


LIMITS = CaseSettings().limits_for("other")


@pytest.mark.parametrize(
    ("hours_after", "overdue", "level"),
    [
        (0, False, "grid"),
        (24, False, "grid"),  # exactly at the limit: still on time
        (25, True, "village"),
        (48, True, "village"),
        (49, True, "township"),
        (73, True, "county"),
        (24 * 30, True, "county"),
    ],
)
def test_escalation_goes_one_level_up_per_time_limit_on_a_set_clock(hours_after, overdue, level):
    history = PATHS["registered"]
    found = escalation(history, now=T0 + hours_after * H, limits=LIMITS)
    assert found.stage == "registered"
    assert found.due == T0 + 24 * H
    assert (found.overdue, found.level) == (overdue, level)


def test_escalation_counts_from_the_last_step_and_stops_when_closed():
    handling = PATHS["handling"]
    entered = handling[-1].at
    limit = LIMITS["handling"]
    on_time = escalation(handling, now=entered + limit * H, limits=LIMITS)
    assert not on_time.overdue
    late = escalation(handling, now=entered + (limit + 1) * H, limits=LIMITS)
    assert late.overdue and late.level == "village"
    closed = escalation(PATHS["closed"], now=T0 + 10_000 * H, limits=LIMITS)
    assert closed.due is None and not closed.overdue


def test_case_settings_take_kind_overrides_and_refuse_nonsense(monkeypatch):
    assert CaseSettings().limits_for("safety")["handling"] < LIMITS["handling"]
    monkeypatch.setenv("GISGRID_CASE_KIND_HOURS", '{"other": {"handling": 5}}')
    assert CaseSettings().limits_for("other")["handling"] == 5
    monkeypatch.setenv("GISGRID_CASE_KIND_HOURS", '{"other": {"closing": 5}}')
    with pytest.raises(ValidationError, match="stages"):
        CaseSettings()
    monkeypatch.setenv("GISGRID_CASE_KIND_HOURS", '{"other": {"handling": 0}}')
    with pytest.raises(ValidationError, match="greater than 0"):
        CaseSettings()


def test_the_flow_names_exactly_the_stages_and_actions_the_labels_know():
    from typing import get_args

    from gisgrid.analysis.cases import Stage
    from gisgrid.layers import kinds

    assert set(FLOW) == set(kinds.CASE_ACTIONS)
    assert set(get_args(Stage)) == set(kinds.CASE_STATUSES)
    assert {t.target for t in FLOW.values()} <= set(kinds.CASE_STATUSES)


def test_the_stage_now_is_the_last_steps_or_the_stored_status():
    import pandas as pd

    from gisgrid.analysis.cases import stages_now, with_stages_now

    incidents = pd.DataFrame(
        {"id": ["A", "B", "C"], "status": ["registered", "closed", "handling"]}
    )
    steps = pd.DataFrame(
        {
            "incident_id": ["A", "A", "A", "Z"],
            "seq": [3, 1, 2, 1],  # stored in any order: the number decides
            "action": ["accept", "report", "dispatch", "report"],
        }
    )
    assert stages_now(incidents, steps).tolist() == ["handling", "closed", "handling"]
    assert with_stages_now(incidents, steps.iloc[:0]) is incidents
    assert with_stages_now(incidents, steps)["status"].tolist()[0] == "handling"
    assert incidents["status"].tolist()[0] == "registered"  # the input is left as it was


def test_stage_spans_and_on_time():
    from gisgrid.analysis.cases import on_time, stage_spans

    spans = stage_spans(PATHS["closed"])
    assert spans == [
        ("registered", H),
        ("dispatched", H),
        ("handling", H),
        ("verifying", H),
    ]
    assert on_time(spans, LIMITS)
    late = [*PATHS["dispatched"], Step("accept", "wang", T0 + H + 30 * H)]
    assert stage_spans(late)[-1] == ("dispatched", 30 * H)
    assert not on_time(stage_spans(late), LIMITS)  # 24 h to accept
    # an imported case counts from its report time in the stage it was imported in
    imported = stage_spans(
        [Step("handled", "wang", T0 + 5 * H, note="x")], start="handling", reported_at=T0
    )
    assert imported == [("handling", 5 * H)]
