"""The case flow 立案 → 派遣 → 处置 → 核查 → 结案: which step may follow which, by whom, by when.

A case (an incident being handled) has a history: the steps taken, each with who, when and
a note. Everything else is derived from that history, here, in one place: the stage it is
in (:func:`stage_of`), which actions may come next for a caller (:func:`allowed_actions`),
whether a step is allowed (:func:`check_step`, a :class:`~gisgrid.errors.ConflictError` for
a step the flow does not allow, a :class:`~gisgrid.errors.ForbiddenError` for a caller who
may not take it), and how late it is and how far up the net it has escalated
(:func:`escalation`). Because escalation is computed from the history and a clock passed
in, it is right after a restart, on both stores, and in tests on a clock that is set.

The flow (the county's 网格化服务管理 practice):

========== ================= ============ ==============================================
action     from              to           who
========== ================= ============ ==============================================
report     (none)            registered   grid worker, village, township (in their area)
dispatch   registered        dispatched   village or township officer; names an assignee
reject     registered        rejected     village or township officer (不予受理), a note
accept     dispatched        handling     the assignee
decline    dispatched        registered   the assignee (退回: not theirs), a note
redispatch dispatched,       dispatched   village or township officer (重新派遣), a new
           handling                       assignee
handled    handling          verifying    the assignee, a note of what was done
verify     verifying         closed       anyone allowed to dispatch, not the handler (核查
                                          通过 → 结案)
reopen     verifying         handling     anyone allowed to dispatch, not the handler (核查
                                          不通过 → 退回处置), a note
========== ================= ============ ==============================================

Closing needs a verification: ``closed`` is reached only by ``verify``, by someone other
than whoever recorded the handling.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from gisgrid.errors import ConflictError, ForbiddenError
from gisgrid.roles import Role

Stage = Literal["registered", "dispatched", "handling", "verifying", "closed", "rejected"]
Action = Literal[
    "report", "dispatch", "reject", "accept", "decline", "redispatch", "handled", "verify", "reopen"
]
#: the stages a case stays open in (a deadline runs)
OPEN_STAGES: tuple[Stage, ...] = ("registered", "dispatched", "handling", "verifying")
#: where an overdue case has escalated to, from the grid up to the county
Level = Literal["grid", "village", "township", "county"]
LEVELS: tuple[Level, ...] = ("grid", "village", "township", "county")

#: roles that dispatch, redispatch, reject and verify (within their area)
DISPATCHERS = frozenset({Role.VILLAGE, Role.TOWNSHIP, Role.ADMIN})
#: roles that report
REPORTERS = frozenset({Role.GRID, Role.VILLAGE, Role.TOWNSHIP, Role.ADMIN})


@dataclass(frozen=True)
class Transition:
    """One action of the flow: the stages it starts from, the stage it leads to, who takes it."""

    action: Action
    label_zh: str
    sources: tuple[Stage | None, ...]
    target: Stage
    #: ``dispatcher`` (:data:`DISPATCHERS`), ``reporter`` (:data:`REPORTERS`) or ``assignee``
    by: Literal["dispatcher", "reporter", "assignee"]
    note_required: bool = False
    assignee_required: bool = False
    #: may not be taken by whoever recorded the handling
    not_handler: bool = False


FLOW: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition("report", "上报", (None,), "registered", "reporter"),
        Transition("dispatch", "派遣", ("registered",), "dispatched", "dispatcher",
                   assignee_required=True),
        Transition("reject", "不予受理", ("registered",), "rejected", "dispatcher",
                   note_required=True),
        Transition("accept", "签收处置", ("dispatched",), "handling", "assignee"),
        Transition("decline", "退回", ("dispatched",), "registered", "assignee",
                   note_required=True),
        Transition("redispatch", "重新派遣", ("dispatched", "handling"), "dispatched",
                   "dispatcher", assignee_required=True),
        Transition("handled", "处置完毕", ("handling",), "verifying", "assignee",
                   note_required=True),
        Transition("verify", "核查通过并结案", ("verifying",), "closed", "dispatcher",
                   not_handler=True),
        Transition("reopen", "核查不通过", ("verifying",), "handling", "dispatcher",
                   note_required=True, not_handler=True),
    )
}  # fmt: skip

STAGE_LABELS: dict[Stage, str] = {
    "registered": "立案",
    "dispatched": "派遣",
    "handling": "处置",
    "verifying": "核查",
    "closed": "结案",
    "rejected": "不予受理",
}


@dataclass(frozen=True)
class Step:
    """One step of a case's history, as stored.

    Attributes
    ----------
    action
        What was done.
    actor
        The username who did it.
    at
        When (county local time, naive).
    note
        What the actor wrote.
    assignee
        For ``dispatch`` and ``redispatch``: the username it went to.
    """

    action: Action
    actor: str
    at: dt.datetime
    note: str = ""
    assignee: str | None = None


@dataclass(frozen=True)
class Caller:
    """Who wants to take a step: the username and role, and whether the case is in their area."""

    username: str
    role: Role
    in_area: bool


def stage_of(history: Sequence[Step]) -> Stage | None:
    """The stage the history leads to (``None``: not reported yet)."""
    return FLOW[history[-1].action].target if history else None


def assignee_of(history: Sequence[Step]) -> str | None:
    """Who the case is dispatched to now (the last dispatch's assignee while it lasts)."""
    current: str | None = None
    for step in history:
        if step.action in ("dispatch", "redispatch"):
            current = step.assignee
        elif step.action in ("decline", "reject"):
            current = None
    return current


def handler_of(history: Sequence[Step]) -> str | None:
    """Who recorded the handling last (``handled``): they may not verify it."""
    for step in reversed(history):
        if step.action == "handled":
            return step.actor
    return None


def _may(transition: Transition, caller: Caller, history: Sequence[Step]) -> str | None:
    """Why ``caller`` may not take ``transition`` now (``None``: they may)."""
    if caller.role == Role.ADMIN:
        pass
    elif not caller.in_area:
        return "the case is not in your area"
    if transition.by == "reporter" and caller.role not in REPORTERS:
        return "your role does not report cases"
    if transition.by == "dispatcher" and caller.role not in DISPATCHERS:
        return "only a village or township officer dispatches and verifies cases"
    if transition.by == "assignee" and caller.username != assignee_of(history):
        return "only the person the case is dispatched to takes this step"
    if transition.not_handler and caller.username == handler_of(history):
        return "whoever handled a case may not verify it"
    return None


def allowed_actions(history: Sequence[Step], caller: Caller) -> list[Action]:
    """The actions ``caller`` may take next, in the flow's order."""
    stage = stage_of(history)
    return [
        action
        for action, t in FLOW.items()
        if stage in t.sources and _may(t, caller, history) is None
    ]


def check_step(history: Sequence[Step], step: Step, caller: Caller) -> Stage:
    """Whether ``step`` may follow ``history`` when ``caller`` takes it; the stage it leads to.

    Raises
    ------
    ConflictError
        The flow does not allow the action in the case's stage (the message names the
        stage and the actions it allows), a step dated before the last one, or a missing
        note or assignee.
    ForbiddenError
        ``caller`` may not take the action.
    """
    transition = FLOW[step.action]
    stage = stage_of(history)
    if stage not in transition.sources:
        shown = STAGE_LABELS[stage] if stage else "未上报"
        possible = [a for a, t in FLOW.items() if stage in t.sources]
        raise ConflictError(
            f"{transition.label_zh} is not possible in stage {shown} ({stage}); "
            f"possible: {', '.join(possible) or 'none (the case is finished)'}"
        )
    if history and step.at < history[-1].at:
        raise ConflictError("a step cannot be dated before the case's last step")
    if transition.note_required and not step.note.strip():
        raise ConflictError(f"{transition.label_zh} needs a note")
    if transition.assignee_required and not step.assignee:
        raise ConflictError(f"{transition.label_zh} needs the person it goes to")
    why = _may(transition, caller, history)
    if why is not None:
        raise ForbiddenError(why)
    return transition.target


@dataclass(frozen=True)
class Escalation:
    """How late a case is in its stage and how far up the net it has gone.

    Attributes
    ----------
    stage
        The stage it is in.
    since
        When it entered it.
    due
        When the stage's time limit runs out (``None``: closed or rejected).
    overdue
        Whether ``due`` has passed.
    level
        Where the case is seen as overdue: ``grid`` while on time, then one level up the
        net for each further time limit that passes (``village``, ``township``, ``county``).
    """

    stage: Stage
    since: dt.datetime
    due: dt.datetime | None
    overdue: bool
    level: Level


def escalation(
    history: Sequence[Step],
    *,
    now: dt.datetime,
    limits: Mapping[str, float],
) -> Escalation:
    """The case's lateness on the clock ``now``, from its history alone.

    Parameters
    ----------
    history
        Its steps, in order (at least the report).
    now
        The clock (county local time, naive): the caller's, so tests set it.
    limits
        Hours allowed in each open stage (:meth:`gisgrid.settings.CaseSettings.limits_for`).

    Raises
    ------
    ValueError
        An empty history.
    """
    if not history:
        raise ValueError("a case without a report has no stage")
    stage = stage_of(history)
    assert stage is not None
    since = history[-1].at
    if stage not in OPEN_STAGES:
        return Escalation(stage, since, None, False, "grid")
    limit = dt.timedelta(hours=float(limits[stage]))
    due = since + limit
    if now <= due:
        return Escalation(stage, since, due, False, "grid")
    # up one level as the limit passes, and one more at the end of each further limit
    periods = math.ceil((now - due) / limit)
    return Escalation(stage, since, due, True, LEVELS[min(periods, len(LEVELS) - 1)])
