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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

import pandas as pd

from gisgrid.errors import ConflictError, ForbiddenError
from gisgrid.layers import kinds
from gisgrid.roles import Role
from gisgrid.settings import CaseSettings

Frame = TypeVar("Frame", bound=pd.DataFrame)

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
#: roles a case may be dispatched to (the assignee picker offers them, nearest level first:
#: the grid workers of the case's grid, then its village's, then its township's officers)
HANDLERS: tuple[Role, ...] = (Role.GRID, Role.VILLAGE, Role.TOWNSHIP)
#: the actor of the ``report`` step of a case a resident reported through the public form
#: (群众上报): reserved, no account may be named so
#: (:func:`gisgrid.services.accounts.check_username`)
PUBLIC_REPORTER = "public"


@dataclass(frozen=True)
class Transition:
    """One action of the flow: the stages it starts from, the stage it leads to, who takes it.

    Its labels are in :data:`gisgrid.layers.kinds.CASE_ACTIONS`.
    """

    action: Action
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
        Transition("report", (None,), "registered", "reporter"),
        Transition("dispatch", ("registered",), "dispatched", "dispatcher",
                   assignee_required=True),
        Transition("reject", ("registered",), "rejected", "dispatcher", note_required=True),
        Transition("accept", ("dispatched",), "handling", "assignee"),
        Transition("decline", ("dispatched",), "registered", "assignee",
                   note_required=True),
        Transition("redispatch", ("dispatched", "handling"), "dispatched",
                   "dispatcher", assignee_required=True),
        Transition("handled", ("handling",), "verifying", "assignee",
                   note_required=True),
        Transition("verify", ("verifying",), "closed", "dispatcher",
                   not_handler=True),
        Transition("reopen", ("verifying",), "handling", "dispatcher",
                   note_required=True, not_handler=True),
    )
}  # fmt: skip


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
    photos
        The SHA-256 of each photo taken with it (empty: none, or hidden from the caller).
    """

    action: Action
    actor: str
    at: dt.datetime
    note: str = ""
    assignee: str | None = None
    photos: tuple[str, ...] = ()


@dataclass(frozen=True)
class Actor:
    """Who wants to take a step: the username and role, and whether the case is in their area."""

    username: str
    role: Role
    in_area: bool


def stage_of(history: Sequence[Step], *, start: Stage | None = None) -> Stage | None:
    """The stage the history leads to (``None``: not reported yet).

    ``start`` is the stage the case was in before its first step stored here: an imported
    incident's ``status`` (``None``: the history begins with the report).
    """
    return FLOW[history[-1].action].target if history else start


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


def may_dispatch(caller: Actor) -> bool:
    """Whether ``caller`` may dispatch (and redispatch, reject, verify) a case: a role of
    :data:`DISPATCHERS`, the case in their area (an admin: anywhere). The one rule the flow
    and the assignee picker follow."""
    return caller.role in DISPATCHERS and (caller.in_area or caller.role == Role.ADMIN)


def _may(transition: Transition, caller: Actor, history: Sequence[Step]) -> str | None:
    """Why ``caller`` may not take ``transition`` now (``None``: they may)."""
    if caller.role == Role.ADMIN:
        pass
    elif not caller.in_area:
        return "the case is not in your area"
    if transition.by == "reporter" and caller.role not in REPORTERS:
        return "your role does not report cases"
    if transition.by == "dispatcher" and not may_dispatch(caller):
        return "only a village or township officer dispatches and verifies cases"
    if transition.by == "assignee" and caller.username != assignee_of(history):
        return "only the person the case is dispatched to takes this step"
    if transition.not_handler and caller.username == handler_of(history):
        return "whoever handled a case may not verify it"
    return None


def allowed_actions(
    history: Sequence[Step], caller: Actor, *, start: Stage | None = None
) -> list[Action]:
    """The actions ``caller`` may take next, in the flow's order."""
    stage = stage_of(history, start=start)
    return [
        action
        for action, t in FLOW.items()
        if stage in t.sources and _may(t, caller, history) is None
    ]


def check_step(
    history: Sequence[Step], step: Step, caller: Actor, *, start: Stage | None = None
) -> Stage:
    """Whether ``step`` may follow ``history`` when ``caller`` takes it; the stage it leads to.

    ``start``: as :func:`stage_of` takes it.

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
    stage = stage_of(history, start=start)
    label = kinds.CASE_ACTIONS[step.action].zh
    if stage not in transition.sources:
        shown = kinds.CASE_STATUSES[stage].zh if stage else "未上报"
        possible = [a for a, t in FLOW.items() if stage in t.sources]
        raise ConflictError(
            f"{label} is not possible in stage {shown} ({stage}); "
            f"possible: {', '.join(possible) or 'none (the case is finished)'}"
        )
    if history and step.at < history[-1].at:
        raise ConflictError("a step cannot be dated before the case's last step")
    if transition.note_required and not step.note.strip():
        raise ConflictError(f"{label} needs a note")
    if transition.assignee_required and not step.assignee:
        raise ConflictError(f"{label} needs the person it goes to")
    why = _may(transition, caller, history)
    if why is not None:
        raise ForbiddenError(why)
    return transition.target


def stages_now(incidents: pd.DataFrame, steps: pd.DataFrame) -> pd.Series:
    """Each incident's stage now: its last step's, or (no step) the status it was stored with.

    The one rule every reader of the incidents' ``status`` follows (lists, maps, figures).

    Parameters
    ----------
    incidents
        Incident rows (``id``, ``status``).
    steps
        Case steps (``incident_id``, ``seq``, ``action``), of these incidents or more.

    Returns
    -------
    pandas.Series
        The stage per incident, aligned with ``incidents``.
    """
    stages = incidents["status"].astype(object).copy()
    if not len(steps) or not len(incidents):
        return stages
    last = steps.sort_values("seq", kind="stable").drop_duplicates("incident_id", keep="last")
    target: dict[str, str] = {a: t.target for a, t in FLOW.items()}
    now = dict(
        zip(
            last["incident_id"].astype(str),
            (target[str(a)] for a in last["action"]),
            strict=True,
        )
    )
    ids = incidents["id"].astype(str)
    moved = ids.isin(now.keys()).to_numpy()
    stages[moved] = [now[i] for i in ids[moved]]
    return stages


def with_stages_now(incidents: Frame, steps: pd.DataFrame) -> Frame:
    """``incidents`` with ``status`` set to each one's stage now (:func:`stages_now`)."""
    if not len(steps):
        return incidents
    out = incidents.copy()
    out["status"] = stages_now(incidents, steps).astype(incidents["status"].dtype)
    return out


def stage_spans(
    history: Sequence[Step],
    *,
    start: Stage | None = None,
    reported_at: dt.datetime | None = None,
) -> list[tuple[Stage, dt.timedelta]]:
    """How long the case stayed in each stage it has left, in order.

    A stage is entered by a step (or, for an imported case, at its report time in the
    stage it was imported in) and left by the next step; the stage it is in now is not
    counted (it has not ended).
    """
    spans: list[tuple[Stage, dt.timedelta]] = []
    entered: tuple[Stage, dt.datetime] | None = None
    if start is not None and reported_at is not None:
        entered = (start, reported_at)
    for step in history:
        if entered is not None:
            spans.append((entered[0], step.at - entered[1]))
        entered = (FLOW[step.action].target, step.at)
    return spans


def on_time(spans: Sequence[tuple[Stage, dt.timedelta]], limits: Mapping[str, float]) -> bool:
    """Whether no stage of ``spans`` took longer than its time limit."""
    return all(
        span <= dt.timedelta(hours=float(limits[stage]))
        for stage, span in spans
        if stage in OPEN_STAGES
    )


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
    start: Stage | None = None,
    reported_at: dt.datetime | None = None,
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
    start, reported_at
        An imported case without steps: the stage it was imported in, and its report time
        (the time it counts from).

    Raises
    ------
    ValueError
        Neither a history nor a starting stage with its report time.
    """
    stage = stage_of(history, start=start)
    if history:
        since = history[-1].at
    elif stage is not None and reported_at is not None:
        since = reported_at
    else:
        raise ValueError("a case without a report has no stage")
    assert stage is not None
    if stage not in OPEN_STAGES:
        return Escalation(stage, since, None, False, "grid")
    limit = dt.timedelta(hours=float(limits[stage]))
    due = since + limit
    if now <= due:
        return Escalation(stage, since, due, False, "grid")
    # up one level as the limit passes, and one more at the end of each further limit
    periods = math.ceil((now - due) / limit)
    return Escalation(stage, since, due, True, LEVELS[min(periods, len(LEVELS) - 1)])


def steps_of(frame: pd.DataFrame) -> tuple[Step, ...]:
    """The steps of one case's rows of ``case_steps``, in order."""
    return tuple(step for _, step in _step_rows(frame))


def steps_by_case(frame: pd.DataFrame) -> dict[str, tuple[Step, ...]]:
    """The steps of every case in rows of ``case_steps``, in order, by incident id.

    One pass over the rows: a county's thousands of cases in a fraction of a second, not a
    frame filtered and sorted per case.
    """
    grouped: dict[str, list[Step]] = {}
    for incident, step in _step_rows(frame):
        grouped.setdefault(incident, []).append(step)
    return {k: tuple(v) for k, v in grouped.items()}


def _step_rows(frame: pd.DataFrame) -> Iterator[tuple[str, Step]]:
    """(incident id, step) of every row, by ``seq`` (ties as stored), columns read as lists."""
    if not len(frame):
        return
    frame = frame.sort_values("seq", kind="stable")

    def column(name: str) -> list[Any]:
        return frame[name].tolist() if name in frame.columns else [None] * len(frame)

    # Python datetimes straight from numpy (a Timestamp per row and then its conversion
    # took most of a county's time here)
    at_values = pd.to_datetime(frame["at"]).to_numpy(dtype="datetime64[us]").tolist()

    for incident, action, actor, at, note, assignee, photos in zip(
        column("incident_id"),
        column("action"),
        column("actor"),
        at_values,
        column("note"),
        column("assignee"),
        column("photos"),
        strict=True,
    ):
        yield (
            str(incident),
            Step(
                action=cast(Action, str(action)),
                actor=str(actor),
                at=at,
                note=note if isinstance(note, str) else "",
                assignee=assignee if isinstance(assignee, str) else None,
                photos=tuple(photos.split()) if isinstance(photos, str) else (),
            ),
        )


@dataclass(frozen=True)
class CaseSummary:
    """One case in a work list: where it stands and how late it is."""

    id: str
    kind: str
    reported_at: dt.datetime
    grid_code: str | None
    stage: Stage
    assignee: str | None
    #: who recorded its handling last (they may not verify it)
    handler: str | None
    steps: int
    escalation: Escalation
    #: how long it stayed in each stage it has left
    spans: tuple[tuple[Stage, dt.timedelta], ...]
    #: no stage it has left took longer than its limit (``None``: no stage to judge, e.g.
    #: a case imported finished)
    on_time: bool | None
    #: who reported it (the actor of its ``report`` step; ``None``: imported without one)
    reporter: str | None = None


def summarise_cases(
    incidents: pd.DataFrame,
    steps: pd.DataFrame,
    *,
    now: dt.datetime,
    settings: CaseSettings | None = None,
) -> list[CaseSummary]:
    """Every case of ``incidents`` with its stage and lateness on the clock ``now``.

    The one place a case's summary is derived (work lists, figures, maps): from its history
    in ``steps``, or, for an imported case without a report step, from the ``status`` it was
    stored with and its report time.

    Parameters
    ----------
    incidents
        Incident rows (``id``, ``kind``, ``status``, ``reported_at``, ``grid_code``: the
        level-3 grid covering it now, set by the caller by the one rule).
    steps
        Their ``case_steps`` rows (more are ignored).
    now
        The clock (county local time, naive).
    settings
        The time limits (default: :class:`~gisgrid.settings.CaseSettings`).

    Returns
    -------
    list of CaseSummary
        In the order of ``incidents``.
    """
    config = settings or CaseSettings()
    by_incident = steps_by_case(steps)
    out = []
    columns = [c for c in incidents.columns if c != "geometry"]
    for rec in incidents[columns].to_dict("records"):
        history = by_incident.get(str(rec["id"]), ())
        start = None if history and history[0].action == "report" else cast(Stage, rec["status"])
        stage = stage_of(history, start=start)
        assert stage is not None
        reported = pd.Timestamp(rec["reported_at"]).to_pydatetime()
        limits = config.limits_for(str(rec["kind"]))
        late = escalation(history, now=now, limits=limits, start=start, reported_at=reported)
        grid = rec.get("grid_code")
        spans = stage_spans(history, start=start, reported_at=reported)
        out.append(
            CaseSummary(
                id=str(rec["id"]),
                kind=str(rec["kind"]),
                reported_at=reported,
                grid_code=grid if isinstance(grid, str) else None,
                stage=stage,
                assignee=assignee_of(history),
                handler=handler_of(history),
                steps=len(history),
                escalation=late,
                spans=tuple(spans),
                on_time=on_time(spans, limits) if spans else None,
                reporter=history[0].actor if history and history[0].action == "report" else None,
            )
        )
    return out


def reaches(level: Level, area_level: Level) -> bool:
    """Whether a case escalated to ``level`` shows at an area of ``area_level`` as escalated.

    An overdue case is on the lists of every level it has escalated to: one escalated to
    ``township`` counts at its grid, its village and its township, not at the county.
    """
    return LEVELS.index(level) >= LEVELS.index(area_level)


def case_columns(incidents: Frame, summaries: Sequence[CaseSummary]) -> Frame:
    """``incidents`` with each one's case as columns, from its summary (matched by ``id``).

    ``status`` becomes the stage now; ``open`` (a deadline runs), ``overdue``, ``level``
    (how far up it has escalated: ``grid`` while on time), ``due`` and ``closed_at`` (when it
    entered ``closed``; NaT while it is not closed) are added. Incidents without a summary
    keep their stored status, open as it says, never overdue, and have no closing time.
    """
    by_id = {c.id: c for c in summaries}
    out = incidents.copy()
    found = [by_id.get(str(i)) for i in incidents["id"]]
    stages = [c.stage if c else s for c, s in zip(found, incidents["status"], strict=True)]
    out["status"] = pd.Series(stages, index=incidents.index, dtype=object).astype(
        incidents["status"].dtype
    )
    out["open"] = [
        (c.escalation.due is not None) if c else (s in OPEN_STAGES)
        for c, s in zip(found, stages, strict=True)
    ]
    out["overdue"] = [bool(c and c.escalation.overdue) for c in found]
    out["level"] = [c.escalation.level if c else "grid" for c in found]
    out["due"] = pd.Series(
        [pd.Timestamp(c.escalation.due) if c and c.escalation.due else pd.NaT for c in found],
        index=incidents.index,
        dtype="datetime64[ns]",
    )
    out["closed_at"] = pd.Series(
        [pd.Timestamp(c.escalation.since) if c and c.stage == "closed" else pd.NaT for c in found],
        index=incidents.index,
        dtype="datetime64[ns]",
    )
    return out
