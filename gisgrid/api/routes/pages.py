"""Pages: the leaders' dashboard, the coverage and incident maps, the household finder.

Every page is served from this app with its assets (Leaflet and plugins from the packages
installed at set-up, under ``/assets/``): nothing is loaded from the internet.
"""

from __future__ import annotations

import json
import numbers
import urllib.parse
from collections.abc import Hashable, Mapping
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from gisgrid import codes
from gisgrid.analysis import indicators as dashboard
from gisgrid.analysis import organisation
from gisgrid.analysis.assign import local_now
from gisgrid.analysis.cases import CaseSummary, case_columns
from gisgrid.analysis.scope import Scope, ScopedReader
from gisgrid.api import http
from gisgrid.api.deps import County, Grid, Scoped, SignedIn, State, Township, Village
from gisgrid.api.errors import COMMON_ERRORS, HTML_PAGE
from gisgrid.api.security import ASSETS_PREFIX, html_page
from gisgrid.api.state import AppState, CachedPage
from gisgrid.api.templating import render
from gisgrid.errors import ConfigError, NotFoundError
from gisgrid.layers import kinds
from gisgrid.roles import Permission
from gisgrid.services.cases import case_summaries
from gisgrid.stores.base import Reader

router = APIRouter(tags=["pages 页面"], responses=COMMON_ERRORS)
#: the checks whose findings the dashboard shows as cards, labelled from layers.kinds.CHECKS
FINDING_CARDS = (
    "gaps",
    "overlaps",
    "unstaffed_grids",
    "households_outside",
    "six_no",
    "unvisited",
    "watched_unvisited",
)


#: the card of the cases escalated to the level of the page's area (the rows' level is one
#: below it: a township page lists villages)
ESCALATED_CARD = {
    "county": "升级至县级",
    "township": "升级至县级",
    "village": "升级至乡镇",
    "grid": "升级至村级",
}
#: a share below this is shown in red
GOOD_SHARE = 0.95
#: shown where a figure does not apply (a grid's six-no status, a level-3 grid's sub-grids)
NOT_APPLICABLE = "—"


def _percent(share: float) -> str:
    """A share (already floored by :func:`~gisgrid.analysis.indicators.floor_share`) as text."""
    return NOT_APPLICABLE if share != share else f"{share * 100:.1f}%"  # NaN: no households


#: counts shown with their share of a whole (a count alone misleads between areas of very
#: different sizes): the column, the column of the whole and the note's words
SHARES = {
    "beyond_service": ("households", "占"),
    "unstaffed_grids": ("grids", "占"),
    "overdue_cases": ("open_cases", "占在办"),
}


def _sort_key(value: object) -> str:
    """A cell's ``data-sort``: the number it shows (a share unrounded), else its text."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, numbers.Real) and value == value:
        return repr(float(value))
    return "" if value is None or value != value else str(value)


def _fmt(rec: Mapping[Hashable, Any], column: str) -> dict[str, Any]:
    cell = _fmt_text(rec, column)
    value = rec[column]
    if column == "six_no" and isinstance(value, str) and "/" in value:  # met/villages
        met, of = value.split("/")
        value = int(met) / int(of) if int(of) else float("nan")
    cell["sort"] = _sort_key(value)
    whole_column, words = SHARES.get(column, ("", ""))
    if whole_column and not (whole_column == "grids" and rec.get("level") == 3):
        part, whole = int(rec[column]), int(rec[whole_column])
        if part and whole:
            cell["note"] = f"{words} {_percent(dashboard.floor_share(part, whole))}"
    return cell


def _fmt_text(rec: Mapping[Hashable, Any], column: str) -> dict[str, Any]:
    value = rec[column]
    if column == "linkage_share":
        unlinked = int(rec["unlinked"])
        return {
            "text": _percent(float(value)),
            "note": f"未联户 {unlinked:,}" if unlinked else "",
            "bad": float(value) < GOOD_SHARE,
        }
    if column == "six_no":
        if value is None:
            return {"text": NOT_APPLICABLE, "bad": False}
        if isinstance(value, bool):
            return {"text": "达标" if value else "未达标", "bad": not value}
        return {"text": str(value), "bad": False}
    if column == "grids" and rec.get("level") == 3:
        return {"text": NOT_APPLICABLE, "bad": False}
    if column in (
        "unstaffed_grids",
        "gaps",
        "overlaps",
        "nesting",
        "beyond_service",
        "overdue_cases",
        "escalated_cases",
        "unvisited",
        "watched_unvisited",
    ):
        return {"text": f"{int(value):,}", "bad": int(value) > 0}
    if column in ("grids", "households", "open_cases"):
        return {"text": f"{int(value):,}", "bad": False}
    return {"text": str(value), "bad": False}


def _cards(t: dict[str, Any], *, level: str, counties: int = 1) -> list[dict[str, Any]]:
    """The cards of the area shown: its own figures (:func:`indicators.totals`)."""
    cards: list[dict[str, Any]] = []
    if level == "county":
        cards.append({"label": "县（市、区）", "value": f"{counties:,}"})
    if level in ("county", "township"):
        cards.append({"label": "乡镇", "value": f"{t['townships']:,}"})
    if level in ("county", "township", "village"):
        cards.append({"label": "村（社区）", "value": f"{t['villages']:,}"})
    if level == "grid":
        cards.append({"label": "二级网格", "value": f"{t['grids'][2]:,}"})
    cards.append({"label": "三级网格", "value": f"{t['grids'][3]:,}"})
    cards.append({"label": "农户", "value": f"{t['households']:,}"})
    cards.append(
        {
            "label": "联户覆盖率",
            "value": _percent(t["linkage_share"]),
            "note": f"未联户 {t['unlinked']:,}",
            "warn": t["linkage_share"] < GOOD_SHARE,
        }
    )
    far = t["beyond_service"]
    cards.append(
        {
            "label": dashboard.LABELS_ZH["beyond_service"],
            "value": f"{far:,}",
            "note": f"占 {_percent(dashboard.floor_share(far, t['households']))}"
            if far and t["households"]
            else "",
            "warn": far > 0,
        }
    )
    cards.append({"label": dashboard.LABELS_ZH["open_cases"], "value": f"{t['open_cases']:,}"})
    late = t["overdue_cases"]
    cards.append(
        {"label": dashboard.LABELS_ZH["overdue_cases"], "value": f"{late:,}", "warn": late > 0}
    )
    up = t["escalated_cases"]
    cards.append({"label": ESCALATED_CARD[level], "value": f"{up:,}", "warn": up > 0})
    f = t["findings"]
    for check in FINDING_CARDS:  # a finding is bad as soon as there is one
        if level == "grid" and check == "six_no":
            continue  # a village's page says whether it meets six-no (its own card)
        n = f.get(check, 0)
        cards.append({"label": kinds.CHECKS[check].zh, "value": f"{n:,}", "warn": n > 0})
    return cards


@router.get("/", responses=HTML_PAGE, summary="Dashboard 领导驾驶舱")
def dashboard_page(
    state: State,
    access: Scoped,
    township: Township = None,
    village: Village = None,
    county: County = None,
) -> Response:
    from gisgrid.cartography import county_names
    from gisgrid.cartography.assets import ASSETS

    scope = access.scope
    if county is None and township is None and village is None and not scope.whole_county:
        return RedirectResponse(_home_page(scope), status_code=303)
    for area in (county, township, village):
        if area is not None:
            scope.require(area)
    # a store of several counties (a prefecture's): its page lists the counties, and every
    # page below names its county
    counties = state.counties
    several = len(counties) > 1
    if county is not None and county not in counties:
        raise NotFoundError(f"no county {county}")
    # the names of every county's divisions: the net the locator holds
    locator = state.locator
    names = dict(zip(locator.townships["code"], locator.townships["name"], strict=True))
    names |= dict(zip(locator.villages["code"], locator.villages["name"], strict=True))
    county_name = county_names(state.store)
    names |= {c: county_name.get(c, c) for c in counties}
    if village is not None:
        if village not in names:
            raise NotFoundError(f"no village {village}")
        township = codes.township_of(village)
    if township is not None and township not in names:
        raise NotFoundError(f"no township {township}")
    if several and township is not None:
        county = codes.county_of(township)
    top = "全市" if several else "全县"
    crumbs = [(top, "/")] if scope.whole_county else []
    if county and several:
        crumbs.append((names[county], f"/?county={county}"))
    if township:
        crumbs.append((names[township], f"/?township={township}"))
    if village:
        crumbs.append((names[village], f"/?village={village}"))
    if village:
        level, within, link = "grid", village, None
        map_url = f"/maps/coverage?village={village}"
        links = [
            ("事件地图", f"/maps/incidents?village={village}"),
            *_report_links(f"village={village}"),
        ]
    elif township:
        level, within, link = "village", township, "/?village="
        map_url = f"/maps/coverage?township={township}"
        links = [
            ("事件地图", f"/maps/incidents?township={township}"),
            *_report_links(f"township={township}"),
        ]
    elif several and county is None:
        # the prefecture's level: its counties
        level, within, link = "county", None, "/?county="
        map_url = "/maps/coverage"
        links = [
            ("事件地图", "/maps/incidents"),
            ("网格网（矢量瓦片）", "/tiles"),
            ("检查报告（JSON 数据）", "/api/check"),
            ("导出统计表（Excel）", "/api/report.xlsx"),
        ]
    else:
        level, within, link = "township", county if several else None, "/?township="
        map_url = "/maps/coverage"
        links = [
            ("事件地图", "/maps/incidents"),
            ("网格网（矢量瓦片）", "/tiles"),
            ("检查报告（JSON 数据）", "/api/check"),
            ("导出统计表（Excel）", "/api/report.xlsx"),
        ]
    # the area's layers as files: its grids as a Shapefile, its households as a register
    # (for roles that read them without giving a reason each time)
    if village or township:
        links += _export_links(
            str(village or township), households=access.caller.info.records == "full"
        )
    # the finder of the area shown, for roles that may read household records
    if Permission.HOUSEHOLD_RECORDS in access.caller.info.permissions:
        area = f"?village={village}" if village else f"?township={township}" if township else ""
        links.insert(0, ("农户查找", "/finder" + area))
    # the cases of the caller's area on the clock now (escalation is computed, not stored)
    now = local_now()
    if level == "county":  # the prefecture's level: county by county, small figures only
        # (the same for every caller of the whole store: kept for the clock's minute)
        table, trends, t, months = state.kept_value(
            ("prefecture", now.replace(second=0, microsecond=0)),
            lambda: _prefecture_figures(
                state,
                case_summaries(access.reader, now=now, index=state.locator.grid_index),
                county_name,
            ),
        )
    else:  # one county's working set: the county shown, or the store's one county
        summaries = case_summaries(access.reader, now=now, index=state.locator.grid_index)
        frames = state.frames(state.county_for(village or township or county))
        report = state.report(state.county_for(village or township or county))
        incidents = frames["incidents"]
        cases = case_columns(incidents[incidents["id"].isin({c.id for c in summaries})], summaries)
        table = dashboard.area_table(
            frames, report, level=level, within=within, cases=cases, county_names=county_name
        )
        trends = dashboard.monthly_trend(
            frames, report, [*(str(c) for c in table["code"]), within], cases=cases
        )
        months = [str(m) for m in dashboard.trend_months(report)]
        t = dashboard.totals(
            frames, report, within=village or township or (county if several else None), cases=cases
        )
    # six-no is a village's status: on a village's page it is a card, not a column of grids
    columns = [
        c for c in dashboard.COLUMNS if c != "unlinked" and not (level == "grid" and c == "six_no")
    ]
    headers = [dashboard.LABELS_ZH[c] for c in columns]
    if level == "grid":
        headers.insert(2, "负责人")
    headers.append(TREND_HEADER)
    if level == "township":
        headers.append(LEADERS_HEADER)
    area_codes = [str(c) for c in table["code"]]
    leaders = organisation.township_leaders(
        access.reader, area_codes if level == "township" else [township] if township else []
    )
    rows = []
    for rec in table.to_dict("records"):
        if level == "grid":  # the grids' responsible persons, as the role may see them
            rec = rec | scope.mask_record("grids", {str(k): v for k, v in rec.items()})
        cells = []
        for column in columns:
            cell = _fmt(rec, column)
            if column == "code" and link:
                cell["url"] = f"{link}{rec['code']}"
            cells.append(cell)
            if column == "name" and level == "grid":
                person = rec.get("responsible_name") or "（无）"
                cells.append(
                    {
                        "text": f"{person} {rec.get('responsible_phone') or ''}".strip(),
                        "bad": rec.get("responsible_name") is None,
                    }
                )
        trend = _trend(trends[str(rec["code"])], months)
        cells.append({"text": "", "trend": trend, "sort": str(sum(trend["reported"]))})
        if level == "township":
            names_of = "、".join(f"{x.name}（{x.post}）" for x in leaders[str(rec["code"])])
            cells.append({"text": names_of or "（无）", "sort": names_of})
        rows.append(cells)
    cards = _cards(t, level=level, counties=len(table))
    if village:
        report = state.report(state.county_for(village))
        ok = village in set(report.get("six_no", {}).get("six_no_villages", []))
        cards.append({"label": "六无达标", "value": "达标" if ok else "未达标", "warn": not ok})
    org = _organisation(access.reader, township, village, leaders)
    shown = village or township or (county if several else None)
    title = "网格化基层治理驾驶舱" + (f" · {names[shown]}" if shown else "")
    html = render(
        "dashboard.html",
        access,
        title=title,
        crumbs=crumbs,
        cards=cards,
        headers=headers,
        rows=rows,
        map_url=map_url,
        links=links,
        org=org,
        trend=_trend(trends[within], months),
        scripts=[ASSETS_PREFIX + ASSETS["dashboard_js"].url],
    )
    return html_page(html)


def _prefecture_figures(
    state: AppState, summaries: list[CaseSummary], county_names: Mapping[str, str]
) -> tuple[pd.DataFrame, dict[str | None, dict[str, list[int]]], dict[str, Any], list[str]]:
    """The prefecture's table (a row per county), trends (each county's, ``None`` the
    prefecture's), totals and months, from each county's small figures
    (:meth:`AppState.county_summary`, kept per data version) and the cases on the clock
    now: no county's layers are needed once its figures are kept."""
    ids = {c.id for c in summaries}
    rows, parts = [], []
    trends: dict[str | None, dict[str, list[int]]] = {}
    months: list[str] = []
    for county in state.counties:
        part = state.county_summary(county)
        mine = part.incidents[part.incidents["id"].isin(ids)]
        figures = dashboard.county_case_figures(case_columns(mine, summaries))
        rows.append(part.row | figures | {"name": county_names.get(county, county)})
        parts.append(part.totals | figures)
        trends[county] = part.trend
        months = months or part.months
    whole = {
        key: [sum(values) for values in zip(*(t[key] for t in trends.values()), strict=True)]
        for key in ("reported", "closed")
    }
    trends[None] = whole if trends else {"reported": [], "closed": []}
    table = pd.DataFrame(rows).sort_values("code").reset_index(drop=True)
    return table, trends, dashboard.combined_totals(parts), months


def _organisation(
    reader: Reader,
    township: str | None,
    village: str | None,
    leaders: Mapping[str, list[organisation.Leader]],
) -> list[tuple[str, list[str]]]:
    """Who answers for the area shown, as the caller may see them: its township's county
    leaders (联乡), and for a village its pairing units (结对) and first secretaries."""
    none = ["（无）"]
    out: list[tuple[str, list[str]]] = []
    if township:
        out.append((LEADERS_HEADER, [f"{x.name}（{x.post}）" for x in leaders[township]] or none))
    if village:
        pairs = organisation.village_pairings(reader, village)
        units = [f"{p.unit_name}（{p.unit_kind_zh}，{p.kind_zh}）" for p in pairs]
        out.append(("结对单位", units or none))
        people = [
            f"{x.name}（{x.unit}" + (f"，{x.start_on.isoformat()} 起" if x.start_on else "") + "）"
            for x in organisation.village_secretaries(reader, village)
        ]
        out.append(("驻村第一书记", people or none))
    return out


#: the header of the trend column and of the township leaders' column
TREND_HEADER = "近12个月趋势"
LEADERS_HEADER = "联乡县级领导"


def _trend(counts: Mapping[str, list[int]], months: list[str]) -> dict[str, Any]:
    """An area's trend for the template's small chart: per month reported and closed, the
    larger of their peaks and a label that says the figures in words."""
    reported, closed = list(counts["reported"]), list(counts["closed"])
    return {
        "reported": reported,
        "closed": closed,
        "top": max([1, *reported, *closed]),
        "months": months,
        "label": f"{months[0]} 至 {months[-1]}：上报 {sum(reported):,} 件，结案 {sum(closed):,} 件",
    }


def _report_links(query: str) -> list[tuple[str, str]]:
    """The area's reports that leave the screen: its figures in Excel, its wall map in PDF."""
    return [
        ("导出统计表（Excel）", f"/api/report.xlsx?{query}"),
        ("打印网格公示牌（PDF）", f"/api/wallmap.pdf?{query}"),
    ]


def _export_links(area: str, *, households: bool) -> list[tuple[str, str]]:
    """The area's layers as files (:mod:`gisgrid.api.routes.exports`)."""
    links = [("导出网格边界（Shapefile）", f"/api/export/grids?format=shp&area={area}")]
    if households:
        links.append(("导出农户花名册（Excel）", f"/api/export/households?format=xlsx&area={area}"))
    return links


def _home_page(scope: Scope) -> str:
    """The first page of a caller whose area is not the county: their area's dashboard, or
    the list of their grids (a grid worker)."""
    home = scope.home
    if home is not None and codes.kind_of(home) == "county":
        return f"/?county={home}"
    if home is not None and codes.kind_of(home) == "township":
        return f"/?township={home}"
    if home is not None and codes.kind_of(home) == "village":
        return f"/?village={home}"
    return "/finder"


def _area_param(code: str) -> str:
    kind = codes.kind_of(code)
    return kind if kind in ("township", "village") else "grid"


@router.get(
    "/maps/{kind}",
    responses=HTML_PAGE
    | {
        303: {"description": "to the map of the caller's own area, when none was asked for"},
        304: {"description": "not modified: the page of If-None-Match"},
    },
    summary="A map page 地图",
)
def map_page(
    request: Request,
    state: State,
    access: Scoped,
    kind: Annotated[str, Path(pattern=r"^(coverage|incidents|finder)$")],
    township: Township = None,
    village: Village = None,
    grid: Grid = None,
    indicator: Annotated[str, Query(pattern=r"^[a-z_]{1,30}$")] = "households",
    lang: Annotated[str, Query(pattern=r"^(zh|en)$")] = "zh",
    county: County = None,
) -> Response:
    from gisgrid.cartography import build_map, render_page

    if sum(x is not None for x in (county, township, village, grid)) > 1:
        raise ConfigError("give at most one of county, township, village, grid")
    scope = access.scope
    area = township or village or grid
    # a county of a prefecture's store: its map is the whole map of its working set
    county_home = scope.home is not None and codes.kind_of(scope.home) == "county"
    if area is None and county is None and not scope.whole_county and not county_home:
        if scope.home is None:
            return RedirectResponse("/finder", status_code=303)
        return RedirectResponse(
            f"/maps/{kind}?{_area_param(scope.home)}={scope.home}", status_code=303
        )
    if area is None and county is None and scope.whole_county and state.several:
        # the prefecture's level: its coverage is the net drawn from vector tiles (every
        # grid of the prefecture in one page would be tens of megabytes); the other maps are
        # drawn per county, its first county first
        if kind == "coverage":
            return RedirectResponse("/tiles", status_code=303)
        query = urllib.parse.urlencode({"county": state.counties[0], "indicator": indicator})
        return RedirectResponse(f"/maps/{kind}?{query}&lang={lang}", status_code=303)
    if county is not None:
        scope.require(county)
        if county not in state.counties:
            raise NotFoundError(f"no county {county}")
    if area is not None:
        scope.require(area)
    # the working set of the area's county (the store's one county, or the caller's)
    which = state.county_for(area or county, scope=scope)
    reads: list[tuple[str, list[str]]] = []
    # the cases' stages and lateness are read on the clock: a page is kept for its minute
    now = local_now().replace(second=0)

    def build() -> CachedPage:
        report = state.report(which) if kind == "coverage" else None
        # the county's whole layers from the state's frames (in memory, this data version),
        # seen through the caller's scope as ever
        reader = ScopedReader(
            state.kept_reader(which),
            access.reader.scope,
            index=access.reader.index,
            on_records_read=lambda layer, ids: reads.append((layer, ids)),
        )
        m = build_map(
            kind,
            reader,
            township=township,
            village=village,
            grid=grid,
            indicator=indicator,
            lang=lang,
            report=report,
            now=now,
        )
        return CachedPage(render_page(m, asset_base="/assets/").html, tuple(reads))

    clock = now.date() if kind == "finder" else now  # the finder shows no cases
    key = (kind, which, township, village, grid, indicator, lang, scope.key, clock)
    page = state.page(key, build)
    _record(access, page)  # a 304 too: the caller sees the residents' records again
    # the dashboard shows the coverage map in a frame
    return http.conditional(request, page.etag, lambda: html_page(page.html, framed_here=True))


def _record(access: SignedIn, page: CachedPage) -> None:
    """Record the residents' records a page shows, each time it is served."""
    for layer, ids in page.reads:
        access.record_reads(layer, ids)


@router.get(
    "/finder",
    responses=HTML_PAGE | {307: {"description": "to the finder map of the village or grid"}},
    summary="Household finder 农户查找",
)
def finder_page(
    state: State,
    access: Scoped,
    township: Township = None,
    village: Village = None,
    grid: Grid = None,
) -> Response:
    """The finder's first page (a search across the caller's area, townships → villages, or
    a grid worker's grids; ``township`` opens that township's list), or, given a village or
    grid, its finder map."""
    from gisgrid.cartography.assets import ASSETS

    scope = access.scope
    reason = access.reason or ""
    if village is None and grid is None:
        if township is not None:
            scope.require(township)
        # every county's townships and villages: the net the locator holds
        frames = {"townships": state.locator.townships, "villages": state.locator.villages}
        groups = _finder_groups(frames, scope, opened=township, reason=reason)
        grids: list[tuple[str, str]] = []
        if not groups:  # a grid worker: their grids
            mine = state.locator.grids.sort_values("code")
            mine = mine[[c in scope.areas for c in mine["code"]]]
            grids = [
                (_with_reason(f"/finder?grid={c}", reason), f"{n}（{c}）")
                for c, n in zip(mine["code"], mine["name"], strict=True)
            ]
        names = {v["code"]: f"{t['name']} · {v['name']}" for t in groups for v in t["villages"]}
        html = render(
            "finder.html",
            access,
            title="农户查找",
            groups=groups,
            grids=grids,
            query="",
            reason=reason,
            village_names=json.dumps(names, ensure_ascii=False, separators=(",", ":")),
            scope_note=f"在{_scope_name(frames, scope)}范围内查找",
            styles=[ASSETS_PREFIX + ASSETS[name].url for name in FINDER_CSS],
            scripts=[ASSETS_PREFIX + ASSETS[name].url for name in FINDER_JS],
        )
        return html_page(html)
    scope.require(village or grid or "")
    target = f"/maps/finder?village={village}" if village else f"/maps/finder?grid={grid}"
    return RedirectResponse(_with_reason(target, reason), status_code=307)


#: the finder page's style sheets and scripts, in load order
FINDER_CSS = ("cases_css", "finder_css")
FINDER_JS = ("page_js", "finder_js")


def _with_reason(url: str, reason: str) -> str:
    """``url`` carrying the caller's reason for reading household records, if they gave one
    (a role that reads them on request needs it on every page and call)."""
    return url + "&reason=" + urllib.parse.quote(reason) if reason else url


def _finder_groups(
    frames: Mapping[str, Any], scope: Scope, *, opened: str | None, reason: str
) -> list[dict[str, Any]]:
    """The caller's villages grouped by township, in code order: a village whose name
    another village of the list has too is marked (the page adds its township's name)."""
    villages = frames["villages"].sort_values("code")
    mine = villages[[scope.covers(c) for c in villages["code"]]]
    townships = dict(zip(frames["townships"]["code"], frames["townships"]["name"], strict=True))
    repeated = set(mine["name"][mine["name"].duplicated(keep=False)])
    groups: dict[str, dict[str, Any]] = {}
    for code, name in zip(mine["code"], mine["name"], strict=True):
        t = codes.township_of(code)
        group = groups.setdefault(
            t, {"code": t, "name": townships.get(t, t), "villages": [], "open": False}
        )
        group["villages"].append(
            {
                "code": code,
                "name": name,
                "url": _with_reason(f"/finder?village={code}", reason),
                "duplicate": name in repeated,
            }
        )
    out = list(groups.values())
    for group in out:  # one township (or the one asked for) opens at once
        group["open"] = len(out) == 1 or group["code"] == opened
    return out


def _scope_name(frames: Mapping[str, Any], scope: Scope) -> str:
    """The caller's area as the finder names it: 全县 (全市), a township's or village's name."""
    if scope.whole_county:
        return "全市" if len(scope.counties) > 1 else "全县"
    if scope.home is not None and codes.kind_of(scope.home) == "county":
        return "全县"
    names = dict(zip(frames["townships"]["code"], frames["townships"]["name"], strict=True))
    names |= dict(zip(frames["villages"]["code"], frames["villages"]["name"], strict=True))
    areas = sorted(scope.areas)
    if all(a in names for a in areas):
        return "、".join(names[a] for a in areas)
    return "您负责的网格"


@router.get(
    "/favicon.ico",
    status_code=204,
    response_class=Response,
    responses={204: {"description": "no icon: the browser shows its own"}},
    summary="The icon browsers ask every site for: none (no 404 on every page)",
)
def favicon() -> Response:
    """Browsers ask for ``/favicon.ico`` on their first page of a site; a 404 put an error
    in the console and a line in the access log for each. No content, kept for a day."""
    return Response(status_code=204, headers={"Cache-Control": "public, max-age=86400"})


@router.get(
    "/assets/{path:path}",
    responses={200: {"description": "a file: script, style sheet or image"}},
    summary="Front-end assets from installed packages",
)
def asset(path: str) -> FileResponse:
    from gisgrid.cartography import asset_files

    files = asset_files()
    if path not in files:
        raise NotFoundError(f"no asset {path}")
    return FileResponse(files[path])
