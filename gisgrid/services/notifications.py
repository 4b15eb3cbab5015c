"""Notifications: what waits for the caller, as a list in the app (no external service).

Derived on every request from what is stored, never stored themselves: the cases of the
caller's area (:func:`gisgrid.services.cases.case_summaries`) and the change sets waiting for
review. So a notification disappears as soon as what it asks for is done, whoever did it,
in whichever process.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gisgrid.analysis.cases import DISPATCHERS, Level
from gisgrid.layers import kinds
from gisgrid.roles import Role
from gisgrid.services.cases import CaseSummary
from gisgrid.stores.changesets import ChangeSet

Kind = Literal[
    "dispatched_to_me", "mine_overdue", "to_dispatch", "to_verify", "escalated", "to_review"
]

#: where a role sits in the net: an overdue case escalated to this level is its concern
LEVEL_OF: dict[Role, Level] = {
    Role.GRID: "grid",
    Role.VILLAGE: "village",
    Role.TOWNSHIP: "township",
    Role.LEADER: "county",
    Role.ADMIN: "county",
}
_MESSAGES: dict[Kind, str] = {
    "dispatched_to_me": "新派遣给您的案件，请签收处置",
    "mine_overdue": "您承办的案件已超期",
    "to_dispatch": "新上报的案件待派遣",
    "to_verify": "已处置的案件待核查",
    "escalated": "超期案件已上报到本级",
    "to_review": "网格变更单待审核",
}


@dataclass(frozen=True)
class Notification:
    """One thing waiting for the caller."""

    kind: Kind
    message_zh: str
    #: the incident id (cases) or the change set's number (review)
    target: str
    #: what it is about, briefly (the case's kind and stage, the change set's title)
    about: str


def notifications_for(
    username: str,
    role: Role,
    cases: Sequence[CaseSummary],
    *,
    to_review: Sequence[ChangeSet] = (),
) -> list[Notification]:
    """What waits for ``username`` (of ``role``) among the cases of their area.

    Parameters
    ----------
    cases
        The cases of the caller's area (already cut to it).
    to_review
        Change sets under review in the caller's area that the caller may review.
    """
    out: list[Notification] = []

    def add(kind: Kind, target: str, about: str) -> None:
        out.append(Notification(kind, _MESSAGES[kind], target, about))

    level = LEVEL_OF.get(role)
    dispatcher = role in DISPATCHERS
    for case in cases:
        about = (
            f"{kinds.label(kinds.INCIDENT_KINDS, case.kind, 'zh')} · "
            f"{kinds.CASE_STATUSES[case.stage].zh}"
        )
        if case.assignee == username and case.stage == "dispatched":
            add("dispatched_to_me", case.id, about)
        if case.assignee == username and case.escalation.overdue:
            add("mine_overdue", case.id, about)
        if dispatcher and case.stage == "registered":
            add("to_dispatch", case.id, about)
        if dispatcher and case.stage == "verifying" and case.handler != username:
            add("to_verify", case.id, about)
        if level is not None and level != "grid" and case.escalation.level == level:
            add("escalated", case.id, about)
    for change_set in to_review:
        add("to_review", str(change_set.id), change_set.title)
    return out
