"""The phone pages of cases: the work list (``/cases``) and a case (``/cases/{incident_id}``).

Thin: the cases are read with :mod:`gisgrid.services.cases` through the caller's reader (an
incident outside the caller's area answers 404, as the API does); the page of a case is
HTML and the script of this package (``gisgrid-cases.js``, with the shared helpers of
``gisgrid-page.js``) that reads the case from
``/api/incidents/{id}/case`` and takes the steps through ``/api/incidents/{id}/steps``
(the API decides who may take which step), their photos uploaded first through
``/api/incidents/{id}/photos``. No inline script: the page passes its data in
``data-`` attributes, and Leaflet comes from ``/assets/`` like every other asset.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from gisgrid.analysis.cases import FLOW, PUBLIC_REPORTER, Actor, Level
from gisgrid.api.deps import Scoped, State
from gisgrid.api.errors import COMMON_ERRORS, HTML_PAGE
from gisgrid.api.security import ASSETS_PREFIX, html_page
from gisgrid.api.templating import render
from gisgrid.layers import kinds
from gisgrid.layers.case_steps import MAX_STEP_PHOTOS
from gisgrid.roles import Role, area_kind
from gisgrid.services.cases import CaseSummary, case_of, case_statistics, case_summaries, work_list
from gisgrid.settings import CaseSettings

router = APIRouter(tags=["pages 页面"], responses=COMMON_ERRORS)

#: the page's scripts and style sheets, in load order (Leaflet before the page's script)
CASE_JS = ("leaflet", "page_js", "cases_js")
CASE_CSS = ("leaflet_css", "cases_css")
#: the roles that see the figures of their area's cases on the work list
LEADERS = frozenset({Role.LEADER, Role.ADMIN, Role.TOWNSHIP})
#: where an overdue case has escalated to, as the badge says it
LEVEL_ZH = {"grid": "网格", "village": "村", "township": "乡镇", "county": "县", "prefecture": "市"}
#: the work list's tabs: name → label
VIEWS = {"mine": "我的", "area": "本辖区全部", "overdue": "已超期", "escalated": "升级至本级"}
View = Literal["mine", "area", "overdue", "escalated"]
#: cards on one page of the work list (a township's whole list would not fit a phone)
PAGE_SIZE = 30

IncidentId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="incident id")]


def _card(case: CaseSummary) -> dict[str, Any]:
    late = case.escalation
    return {
        "id": case.id,
        "kind_zh": kinds.label(kinds.INCIDENT_KINDS, case.kind, "zh"),
        "stage": case.stage,
        "stage_zh": kinds.CASE_STATUSES[case.stage].zh,
        "reported_at": case.reported_at.strftime("%Y-%m-%d %H:%M"),
        "due": None if late.due is None else late.due.strftime("%Y-%m-%d %H:%M"),
        "overdue": late.overdue,
        "level_zh": LEVEL_ZH[late.level],
        "assignee": case.assignee,
        "grid_code": case.grid_code,
        # a resident's report (群众上报): shown on the card
        "public": case.reporter == PUBLIC_REPORTER,
    }


def _figures(access: Scoped, summaries: list[CaseSummary]) -> dict[str, Any]:
    """The figures of the caller's area (:func:`case_statistics`), labelled for the page."""
    found = case_statistics(summaries)
    townships = access.reader.read("townships", columns=["code", "name"])
    names = dict(zip(townships["code"], townships["name"], strict=True))
    rate = found.on_time_rate
    return {
        "cases": found.cases,
        "open": found.open,
        "overdue": found.overdue,
        "closed": found.closed,
        "rejected": found.rejected,
        "on_time": "—" if rate is None else f"{rate * 100:.1f}%",
        "median_hours": [
            (kinds.CASE_STATUSES[stage].zh, f"{found.median_hours[stage]:.1f}")
            for stage in kinds.CASE_STATUSES
            if stage in found.median_hours
        ],
        "by_township": [
            (names.get(code, code or "（不在网格内）"), c)
            for code, c in sorted(found.by_township.items())
        ],
        "by_kind": [
            (kinds.label(kinds.INCIDENT_KINDS, kind, "zh"), c)
            for kind, c in sorted(found.by_kind.items())
        ],
    }


@router.get("/cases", responses=HTML_PAGE, summary="My cases 我的案件 (phone page)")
def cases_page(
    state: State,
    access: Scoped,
    view: Annotated[
        View,
        Query(
            description="mine, area (all of one's area), overdue, or escalated (overdue "
            "cases that have reached the level of one's area)"
        ),
    ] = "mine",
    page: Annotated[int, Query(ge=1, le=100_000, description="page of the list, from 1")] = 1,
) -> Response:
    from gisgrid.cartography.assets import ASSETS

    summaries = case_summaries(access.reader, index=state.locator.grid_index)
    account = access.caller.account
    kind = area_kind(account.area)
    # a case escalates to the county at most: a prefecture's account sees what reached it
    level: Level = "county" if kind == "prefecture" else kind
    found = work_list(
        summaries,
        me=account.username,
        mine=view == "mine",
        overdue=view == "overdue",
        reached=level if view == "escalated" else None,
        open_only=True,
    )
    pages = max(1, -(-len(found) // PAGE_SIZE))
    page = min(page, pages)
    leader = account.role in LEADERS
    html = render(
        "cases.html",
        access,
        title="我的案件",
        view=view,
        views=VIEWS,
        level_zh=LEVEL_ZH[kind],
        matched=len(found),
        page=page,
        pages=pages,
        cards=[_card(c) for c in found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]],
        figures=_figures(access, summaries) if leader else None,
        styles=[ASSETS_PREFIX + ASSETS["cases_css"].url],
    )
    return html_page(html)


@router.get("/cases/{incident_id}", responses=HTML_PAGE, summary="A case 案件 (phone page)")
def case_page(access: Scoped, incident_id: IncidentId) -> Response:
    from gisgrid.cartography.assets import ASSETS

    account = access.caller.account
    # read here so that an incident outside the area answers 404 like the API, not an empty page
    case = case_of(
        access.reader, incident_id, caller=Actor(account.username, account.role, in_area=True)
    )
    description = case.incident.get("description")
    html = render(
        "case.html",
        access,
        title="案件 " + incident_id,
        incident_id=incident_id,
        kind_zh=kinds.label(kinds.INCIDENT_KINDS, str(case.incident["kind"]), "zh"),
        description=description if isinstance(description, str) else "",
        lon=case.incident["lon"],
        lat=case.incident["lat"],
        note_required=" ".join(a for a, t in FLOW.items() if t.note_required),
        assignee_required=" ".join(a for a, t in FLOW.items() if t.assignee_required),
        photo_max_bytes=CaseSettings().photo_max_bytes,
        max_photos=MAX_STEP_PHOTOS,
        scripts=[ASSETS_PREFIX + ASSETS[name].url for name in CASE_JS],
        styles=[ASSETS_PREFIX + ASSETS[name].url for name in CASE_CSS],
    )
    return html_page(html)
