"""Who may do what: the roles of gisgrid's accounts and what each may see and do.

Access follows the net (网中定格、格上定人、人上定责): every account has a role and an area
(the county, a township, a village or a grid). What a role may do is declared here once;
:mod:`gisgrid.analysis.scope` applies it to data and :mod:`gisgrid.api.policy` to routes.

Figures (counts, shares, check findings) are shown for one's own area only; the roles whose
area is the county (admin, leader, and viewers or planners given the county) see all of it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

from gisgrid import codes


class Role(enum.StrEnum):
    """The roles; the value is what the CLI, the database and the API use."""

    ADMIN = "admin"
    LEADER = "leader"
    TOWNSHIP = "township"
    VILLAGE = "village"
    GRID = "grid"
    PLANNER = "planner"
    VIEWER = "viewer"


class Permission(enum.StrEnum):
    """What a route needs (:mod:`gisgrid.api.policy` gives every route one)."""

    #: anyone, signed in or not: the sign-in page, health, static assets
    PUBLIC = "public"
    #: any signed-in account: sign out, one's own tokens
    SIGNED_IN = "signed_in"
    #: figures and maps of one's area (no personal data unless the role has records)
    FIGURES = "figures"
    #: household records (names, house numbers, party membership, credit rating)
    HOUSEHOLD_RECORDS = "household_records"
    #: report an incident in one's area
    REPORT_INCIDENTS = "report_incidents"
    #: boundaries of one's area: export, import, edit (change sets)
    BOUNDARIES = "boundaries"
    #: approve or return the planners' change sets of one's area (never one's own)
    REVIEW_BOUNDARIES = "review_boundaries"
    #: accounts, tokens and the audit log
    ADMINISTER = "administer"


#: how a role reads household records: in full, only with a recorded reason, or never
Records = Literal["full", "on_request", "none"]
#: the kinds of area an account of a role may have
AreaKind = Literal["prefecture", "county", "township", "village", "grid"]


@dataclass(frozen=True)
class RoleInfo:
    """What one role is and may do."""

    role: Role
    label_zh: str
    #: the kinds of area an account of this role may be given
    areas: tuple[AreaKind, ...]
    #: household records: full, on request with a reason that is recorded, or none
    records: Records
    #: responsible persons' names and phones (staff contacts); without it only figures
    staff_contacts: bool
    permissions: frozenset[Permission]


_EVERYONE = frozenset({Permission.PUBLIC, Permission.SIGNED_IN, Permission.FIGURES})

ROLES: dict[Role, RoleInfo] = {
    info.role: info
    for info in (
        RoleInfo(
            Role.ADMIN,
            "系统管理员",
            ("prefecture", "county"),
            "full",
            True,
            _EVERYONE | set(Permission),
        ),
        RoleInfo(
            Role.LEADER,
            "县级领导",
            ("prefecture", "county"),
            "on_request",
            True,
            _EVERYONE | {Permission.HOUSEHOLD_RECORDS},
        ),
        RoleInfo(
            Role.TOWNSHIP,
            "乡镇干部",
            ("township",),
            "full",
            True,
            _EVERYONE
            | {
                Permission.HOUSEHOLD_RECORDS,
                Permission.REPORT_INCIDENTS,
                Permission.REVIEW_BOUNDARIES,
            },
        ),
        RoleInfo(
            Role.VILLAGE,
            "村（社区）书记",
            ("village",),
            "full",
            True,
            _EVERYONE | {Permission.HOUSEHOLD_RECORDS, Permission.REPORT_INCIDENTS},
        ),
        RoleInfo(
            Role.GRID,
            "网格员",
            ("grid",),
            "full",
            True,
            _EVERYONE | {Permission.HOUSEHOLD_RECORDS, Permission.REPORT_INCIDENTS},
        ),
        RoleInfo(
            Role.PLANNER,
            "网格规划员",
            ("prefecture", "county", "township", "village"),
            "none",
            True,
            _EVERYONE | {Permission.BOUNDARIES},
        ),
        RoleInfo(
            Role.VIEWER,
            "只读查看",
            ("prefecture", "county", "township", "village"),
            "none",
            False,
            _EVERYONE,
        ),
    )
}


def role_info(role: str) -> RoleInfo:
    """The role named ``role``; a :class:`ValueError` naming the roles otherwise."""
    try:
        return ROLES[Role(role)]
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise ValueError(f"unknown role {role!r}: one of {known}") from None


def area_kind(area: str) -> AreaKind:
    """The kind of an area code: a 6-digit county, 9-digit township, 12-digit village or a
    15/18-digit grid (a level-1 grid is its village)."""
    kind = codes.kind_of(area)
    if kind == "prefecture":
        return "prefecture"
    if kind == "county":
        return "county"
    if kind == "township":
        return "township"
    if kind == "village":
        return "village"
    return "grid"
