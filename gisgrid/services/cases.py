"""Handle a case: read an incident's case (steps, stage, next actions, lateness), take a step.

The rules are :mod:`gisgrid.analysis.cases`; this module reads the incident and its steps
through the caller's :class:`~gisgrid.stores.base.Reader` (so an incident outside the
caller's area is not found, and notes are masked for roles without household records) and
appends a step to the store in one transaction, under the writer lock, refusing it when
another step was taken meanwhile (:class:`~gisgrid.errors.ConflictError`): two people
moving the same case at once never lose one of the steps.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd

from gisgrid import codes
from gisgrid.analysis.assign import GridIndex, current_grid_codes, grid_index, local_now
from gisgrid.analysis.cases import (
    HANDLERS,
    PUBLIC_REPORTER,
    Action,
    Actor,
    CaseSummary,
    Escalation,
    Level,
    Stage,
    Step,
    allowed_actions,
    assignee_of,
    check_step,
    escalation,
    may_dispatch,
    reaches,
    stage_of,
    steps_of,
    summarise_cases,
)
from gisgrid.analysis.scope import scope_of
from gisgrid.errors import ConflictError, ForbiddenError, NotFoundError
from gisgrid.layers import get_layer
from gisgrid.roles import ROLES, Role
from gisgrid.services.photos import check_step_photos, photo_url
from gisgrid.settings import CaseSettings
from gisgrid.stores.base import Reader, Store
from gisgrid.stores.ledger import Account

STEPS = get_layer("case_steps")
#: how the steps of residents' reports show their actor
PUBLIC_REPORTER_ZH = "群众上报"
#: how far a recorded time may lie ahead of the server's clock (phones' clocks drift)
CLOCK_SKEW = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Case:
    """An incident's case as a caller sees it.

    Attributes
    ----------
    incident
        The incident's record (no geometry; masked as the caller's role needs), with
        ``lon`` and ``lat``.
    start
        The stage it was imported in (its ``status``), before its first step here.
    steps
        Its steps, in order.
    stage
        The stage it is in now.
    assignee
        Who it is dispatched to now.
    escalation
        How late it is on the clock it was read with, and how far up it has gone.
    allowed
        The actions the caller may take next.
    """

    incident: dict[str, Any]
    start: Stage | None
    steps: tuple[Step, ...]
    stage: Stage
    assignee: str | None
    escalation: Escalation
    allowed: tuple[Action, ...]


def case_of(
    reader: Reader,
    incident_id: str,
    *,
    caller: Actor,
    now: dt.datetime | None = None,
    settings: CaseSettings | None = None,
) -> Case:
    """The case of incident ``incident_id`` as ``caller`` sees it on the clock ``now``.

    Raises
    ------
    NotFoundError
        No such incident in ``reader`` (outside the caller's area reads as none).
    """
    found = reader.read("incidents", where={"id": incident_id})
    if not len(found):
        raise NotFoundError(f"no incident {incident_id}")
    row = found.iloc[0]
    steps = steps_of(reader.read("case_steps", where={"incident_id": incident_id}))
    status = row["status"]
    # an incident reported here has its report as first step; an imported one its status
    start = None if steps and steps[0].action == "report" else cast(Stage, str(status))
    stage = stage_of(steps, start=start)
    assert stage is not None
    limits = (settings or CaseSettings()).limits_for(str(row["kind"]))
    late = escalation(
        steps,
        now=now or local_now(),
        limits=limits,
        start=start,
        reported_at=pd.Timestamp(row["reported_at"]).to_pydatetime(),
    )
    record = {str(k): v for k, v in row.items() if k != "geometry"}
    geometry = row["geometry"]
    record["lon"], record["lat"] = float(geometry.x), float(geometry.y)
    return Case(
        incident=record,
        start=start,
        steps=steps,
        stage=stage,
        assignee=assignee_of(steps),
        escalation=late,
        allowed=tuple(allowed_actions(steps, caller, start=start)),
    )


def take_step(
    store: Store,
    reader: Reader,
    incident_id: str,
    *,
    action: Action,
    caller: Actor,
    note: str = "",
    assignee: str | None = None,
    photos: Sequence[str] = (),
    now: dt.datetime | None = None,
    after: int | None = None,
) -> Case:
    """Take a step on a case and store it: checked by the flow, appended in one transaction.

    Parameters
    ----------
    store
        Where the step is appended.
    reader
        The store as the caller sees it (the incident must be in it).
    incident_id
        The incident.
    action, note, assignee
        The step.
    photos
        The SHA-256 of the photos taken with it, each uploaded for this incident before
        (:func:`gisgrid.services.photos.upload_photo`).
    caller
        Who takes it (:class:`~gisgrid.analysis.cases.Actor`; ``in_area`` is ignored:
        finding the incident in ``reader`` is what puts it in the area).
    now
        The step's time (default: now, county time).
    after
        The number of steps the caller saw (``None``: the number read now): a step taken
        meanwhile by someone else makes this one a conflict instead of following it blindly.

    Raises
    ------
    NotFoundError
        No such incident for this caller.
    ConflictError
        The flow does not allow the step now, or the case moved meanwhile.
    ForbiddenError
        The caller may not take this step.
    PhotoError
        A photo not uploaded for this incident, or too many.
    """
    at = now or local_now()
    in_area = Actor(caller.username, caller.role, in_area=True)
    case = case_of(reader, incident_id, caller=in_area, now=at)
    seen = len(case.steps) if after is None else after
    if seen != len(case.steps):
        raise ConflictError(
            f"incident {incident_id} has {len(case.steps)} steps now, not {seen}: "
            "someone moved the case meanwhile; reload it"
        )
    step = Step(action=action, actor=caller.username, at=at, note=note, assignee=assignee)
    check_step(case.steps, step, in_area, start=case.start)
    named = check_step_photos(store, incident_id, photos)
    row = pd.DataFrame(
        [
            {
                "incident_id": incident_id,
                "seq": seen + 1,
                "action": action,
                "actor": caller.username,
                "at": pd.Timestamp(at),
                "note": note or None,
                "assignee": assignee,
                "photos": " ".join(named) or None,
            }
        ]
    )

    def still_at(current: Store) -> None:
        # under the writer lock: the authoritative count of the case's steps
        stored = current.count("case_steps", where={"incident_id": incident_id})
        if stored != seen:
            raise ConflictError(
                f"incident {incident_id} was moved by someone else meanwhile "
                f"({stored} steps, not {seen}); reload it"
            )

    store.write({"case_steps": STEPS.validate(row)}, mode="append", check=still_at)
    return case_of(reader, incident_id, caller=in_area, now=at)


def case_summaries(
    reader: Reader,
    *,
    now: dt.datetime | None = None,
    settings: CaseSettings | None = None,
    index: GridIndex | None = None,
) -> list[CaseSummary]:
    """Every case ``reader`` holds (the caller's area), with its stage and lateness on ``now``.

    Two reads (the incidents, their steps), whatever the number of cases; ordered by due
    time, the most urgent first, finished cases last. Each case's grid is the level-3 grid
    covering it now (the one rule; ``index``: today's grids, built from ``reader`` when not
    given), not the code stored with it.
    """
    incidents = reader.read("incidents").copy()
    if index is None:
        index = grid_index(reader.read("grids", where={"level": 3}))
    incidents["grid_code"] = current_grid_codes(incidents.geometry, index)
    out = summarise_cases(
        incidents, reader.read("case_steps"), now=now or local_now(), settings=settings
    )
    finished = dt.datetime.max
    return sorted(out, key=lambda c: (c.escalation.due or finished, c.id))


def work_list(
    summaries: Sequence[CaseSummary],
    *,
    me: str,
    mine: bool = False,
    open_only: bool = True,
    overdue: bool = False,
    stage: Stage | None = None,
    reached: Level | None = None,
) -> list[CaseSummary]:
    """The cases of a work list, in the order of ``summaries`` (by due time).

    Parameters
    ----------
    summaries
        The cases of the caller's area (:func:`case_summaries`).
    me
        The caller's username.
    mine
        Only the cases dispatched to ``me`` now.
    open_only
        Only unfinished cases (a deadline runs).
    overdue
        Only overdue cases.
    stage
        Only cases in this stage.
    reached
        Only overdue cases that have escalated to this level of the net or beyond: the
        cases an officer of that level answers for now (a case escalated to the township
        concerns its grid, village and township, not yet the county).
    """
    return [
        c
        for c in summaries
        if (not mine or c.assignee == me)
        and (not open_only or c.escalation.due is not None)
        and (not overdue or c.escalation.overdue)
        and (stage is None or c.stage == stage)
        and (reached is None or (c.escalation.overdue and reaches(c.escalation.level, reached)))
    ]


@dataclass(frozen=True)
class CaseCounts:
    """Cases of one group (a township, a kind): open, overdue among them, finished."""

    open: int = 0
    overdue: int = 0
    finished: int = 0


@dataclass(frozen=True)
class CaseStatistics:
    """How the cases of an area are handled (for leaders).

    Attributes
    ----------
    cases, open, overdue, closed, rejected
        Counts.
    closed_on_time
        Closed cases none of whose stages took longer than its limit.
    on_time_rate
        ``closed_on_time`` over the closed cases with a history to judge (``None``: none;
        a case imported already closed has none).
    median_hours
        Per stage, the median time cases spent in it (those that have left it).
    by_township, by_kind
        Counts per township code (``""``: in no grid) and per incident kind.
    """

    cases: int
    open: int
    overdue: int
    closed: int
    rejected: int
    closed_on_time: int
    on_time_rate: float | None
    median_hours: dict[str, float]
    by_township: dict[str, CaseCounts]
    by_kind: dict[str, CaseCounts]


def case_statistics(summaries: Sequence[CaseSummary]) -> CaseStatistics:
    """Figures of a set of cases (:func:`case_summaries`): the one place they are derived."""
    closed = [c for c in summaries if c.stage == "closed"]
    judged = [c for c in closed if c.on_time is not None]
    on_time_count = sum(bool(c.on_time) for c in judged)
    hours: dict[str, list[float]] = {}
    for c in summaries:
        for stage, span in c.spans:
            hours.setdefault(stage, []).append(span.total_seconds() / 3600)
    groups: dict[str, dict[str, CaseCounts]] = {"township": {}, "kind": {}}
    for c in summaries:
        township = codes.township_of(c.grid_code) if c.grid_code else ""
        for by, key in (("township", township or ""), ("kind", c.kind)):
            was = groups[by].get(key, CaseCounts())
            finished = c.escalation.due is None
            groups[by][key] = CaseCounts(
                open=was.open + (not finished),
                overdue=was.overdue + c.escalation.overdue,
                finished=was.finished + finished,
            )
    return CaseStatistics(
        cases=len(summaries),
        open=sum(c.escalation.due is not None for c in summaries),
        overdue=sum(c.escalation.overdue for c in summaries),
        closed=len(closed),
        rejected=sum(c.stage == "rejected" for c in summaries),
        closed_on_time=on_time_count,
        on_time_rate=round(on_time_count / len(judged), 4) if judged else None,
        median_hours={s: round(float(statistics.median(v)), 2) for s, v in hours.items()},
        by_township=groups["township"],
        by_kind=groups["kind"],
    )


def steps_as_dicts(steps: Sequence[Step], *, incident_id: str) -> list[dict[str, Any]]:
    """Steps of the case of ``incident_id`` as JSON-ready records, each photo with the
    URL it is read at."""
    return [
        {
            "action": s.action,
            "actor": s.actor,
            "actor_zh": PUBLIC_REPORTER_ZH if s.actor == PUBLIC_REPORTER else None,
            "at": s.at.isoformat(sep=" "),
            "note": s.note,
            "assignee": s.assignee,
            "photos": [{"sha256": p, "url": photo_url(incident_id, p)} for p in s.photos],
        }
        for s in steps
    ]


@dataclass(frozen=True)
class Candidate:
    """An account a case may be dispatched to (the dispatch form's list)."""

    username: str
    display_name: str
    role: str
    role_zh: str
    #: the account's area code and its name
    area: str
    area_name: str | None
    #: how near the case the account works: ``grid``, ``village`` or ``township``
    level: str


def assignees_for(
    reader: Reader,
    accounts: Sequence[Account],
    incident_id: str,
    *,
    caller: Actor,
    by_phone: Mapping[str, Sequence[str]],
    index: GridIndex,
) -> list[Candidate]:
    """Who incident ``incident_id``'s case may be dispatched to, nearest level first.

    The enabled accounts of the roles that handle cases (:data:`HANDLERS`: grid workers,
    village and township officers) whose area holds the incident's place now: its level-3
    grid (a grid worker's area counts the grids whose responsible person has their phone,
    as their access does), or its village when it lies in no grid. Ordered grid workers
    first, then the village's officers, then the township's; by username within a level.

    Parameters
    ----------
    reader
        The store as the caller sees it (an incident outside their area is not found).
    accounts
        Every account (:meth:`Ledger.accounts`).
    incident_id
        The incident.
    caller
        Who asks: only those who may dispatch the case (:func:`may_dispatch`) are answered.
    by_phone
        The grids by their responsible person's phone (the locator's).
    index
        Today's level-3 grids.

    Raises
    ------
    ForbiddenError
        The caller's role does not dispatch cases (checked before the incident is looked
        for: the answer says nothing of whether it exists).
    NotFoundError
        No such incident in the caller's area.
    """
    if not may_dispatch(Actor(caller.username, caller.role, in_area=True)):
        raise ForbiddenError(
            "只有村（社区）、乡镇干部可以派遣案件 (only village or township officers dispatch)"
        )
    found = reader.read("incidents", where={"id": incident_id})
    if not len(found):
        raise NotFoundError(f"no incident {incident_id}")
    point = found.geometry.iloc[0]
    grid = current_grid_codes(found.geometry, index)[0]
    place: str | None = str(grid) if isinstance(grid, str) else None
    if place is None:
        villages = reader.read("villages", columns=["code", "geometry"])
        inside = villages[villages.geometry.covers(point)]
        place = str(inside["code"].iat[0]) if len(inside) else None
    if place is None:
        return []
    names: dict[str, str] = {}
    # a level-1 grid has its village's code: the village's name wins
    for layer in ("grids", "townships", "villages"):
        frame = reader.read(layer, columns=["code", "name"])
        names.update(zip(frame["code"].astype(str), frame["name"].astype(str), strict=True))
    out = []
    for account in accounts:
        if account.disabled or account.role not in HANDLERS:
            continue
        info = ROLES[account.role]
        if not scope_of(account, info, by_phone=by_phone).covers(place):
            continue
        out.append(
            Candidate(
                username=account.username,
                display_name=account.display_name,
                role=account.role.value,
                role_zh=info.label_zh,
                area=account.area,
                area_name=names.get(account.area),
                level={Role.GRID: "grid", Role.VILLAGE: "village"}.get(account.role, "township"),
            )
        )
    rank = {role: i for i, role in enumerate(HANDLERS)}
    return sorted(out, key=lambda c: (rank[Role(c.role)], c.username))
