"""The check report for the county, a township or a village; the figures as an Excel
workbook and the printable wall map (公示牌) of a township or village."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from gisgrid import codes
from gisgrid.analysis.assign import local_now
from gisgrid.analysis.cases import case_columns
from gisgrid.analysis.checks.report import report_of_area
from gisgrid.api import http
from gisgrid.api.deps import County, Scoped, SignedIn, State, Township, Village
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.api.state import AppState
from gisgrid.errors import ConfigError, NotFoundError
from gisgrid.reports.figures import Inputs, report_date
from gisgrid.services.accounts import record_access
from gisgrid.services.cases import case_summaries

if TYPE_CHECKING:  # openpyxl: a twentieth of a second at start, imported on first workbook
    from gisgrid.reports.workbook import Sheet

router = APIRouter(prefix="/api", tags=["checks 检查"], responses=COMMON_ERRORS)


@router.get(
    "/check",
    summary="The check report: where the net fails 网格检查报告",
    response_model=dict[str, Any],
)
def check_report(
    state: State,
    access: Scoped,
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    village: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    county: County = None,
) -> Response:
    """The findings of the area asked for, or of the caller's area. At a prefecture's level
    (a store of several counties, no area asked for) the answer is the findings' counts
    per check and per county, each county's report one link away (``?county=``): the whole
    prefecture's findings are never gathered into one answer. (Rendered as JSON here, not on
    the event loop: :func:`gisgrid.api.http.json_answer`.)"""
    return http.json_answer(_check_report(state, access, township, village, county))


def _check_report(
    state: AppState,
    access: SignedIn,
    township: str | None,
    village: str | None,
    county: str | None,
) -> dict[str, Any]:
    if sum(a is not None for a in (county, township, village)) > 1:
        raise ConfigError("give at most one of county, township, village")
    area = village or township or county
    scope = access.scope
    if area is None:
        if scope.whole_county:
            return prefecture_report(state) if state.several else state.report()
        if scope.home is None:  # several grids: each one's findings, once
            parts = [report_of_area(state.report(state.county_for(a)), a) for a in scope.areas]
            return _merged(parts, state.report(state.county_for(scope=scope)))
        return report_of_area(state.report(state.county_for(scope=scope)), scope.home)
    scope.require(area)
    _known_area(state, area)
    report = state.report(state.county_for(area))
    if not state.several and codes.kind_of(area) == "county":
        return report
    return report_of_area(report, area)


def prefecture_report(state: AppState) -> dict[str, Any]:
    """The prefecture's check report: per check the number of findings (all counties), and
    per county its counts and the link to its report (:meth:`AppState.county_summary`)."""
    from gisgrid.cartography import county_names

    names = county_names(state.store)
    parts = [state.county_summary(c) for c in state.counties]
    meta = dict(parts[0].meta) if parts else {}
    out: dict[str, Any] = {
        "meta": meta | {"area": codes.prefecture_of(state.counties[0]) if parts else None}
    }
    for part in parts:
        for name, count in part.counts.items():
            out.setdefault(name, {"count": 0})["count"] += count
    out["counties"] = [
        {
            "code": part.county,
            "name": names.get(part.county, part.county),
            "url": f"/api/check?county={part.county}",
            "counts": part.counts,
        }
        for part in parts
    ]
    return out


def _merged(parts: list[dict[str, Any]], report: dict[str, Any]) -> dict[str, Any]:
    """The findings of several areas as one report (a finding in two of them once)."""
    out: dict[str, Any] = {"meta": report["meta"] | {"area": None}}
    for part in parts:
        for name, result in part.items():
            if name == "meta":
                continue
            items = out.setdefault(name, {"count": 0, "items": []})["items"]
            items += [i for i in result["items"] if i not in items]
    for name, result in out.items():
        if name != "meta":
            result["count"] = len(result["items"])
    return out


# --- reports that leave the screen: the figures in Excel, the wall map in PDF -------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF = "application/pdf"


def _file(data: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content=data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _binary(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    schema = {"schema": {"type": "string", "format": "binary"}}
    return {200: {"description": what, "content": {media_type: schema}}}


def _known_area(state: AppState, area: str) -> None:
    locator = state.locator  # the whole net, every county's
    known = set(locator.villages["code"]) | set(locator.townships["code"])
    known |= {codes.county_of(str(c)) for c in locator.townships["code"]}
    if area not in known:
        raise NotFoundError(f"no county, township or village {area}")


@router.get(
    "/report.xlsx",
    summary="The dashboard's figures as an Excel workbook 统计报表（Excel）",
    response_class=Response,
    responses=_binary(XLSX, "the workbook: one sheet per level of the area"),
)
def report_xlsx(
    state: State,
    access: Scoped,
    township: Township = None,
    village: Village = None,
) -> Response:
    """One sheet per level (乡镇, 村（社区）, 网格) of the area asked for, or of the caller's
    area; every figure from :mod:`gisgrid.analysis.indicators`. Recorded in the audit log."""
    if township and village:
        raise ConfigError("give township or village, not both")
    scope = access.scope
    area = village or township
    grids: list[str] | None = None
    if area is None and not scope.whole_county:
        home = scope.home
        if home is not None and codes.kind_of(home) in ("county", "township", "village"):
            area = home
        else:  # a grid worker: their grids
            grids = list(scope.areas)
    if area is not None:
        scope.require(area)
        _known_area(state, area)
    from gisgrid.cartography import county_name  # (folium loads only when a page needs it)
    from gisgrid.reports.workbook import build_workbook

    summaries = case_summaries(access.reader, now=local_now(), index=state.locator.grid_index)

    def inputs_of(county: str) -> Inputs:
        report = state.report(county)
        frames = state.frames(county)
        incidents = frames["incidents"]
        cases = case_columns(incidents[incidents["id"].isin({c.id for c in summaries})], summaries)
        return Inputs(frames=frames, report=report, cases=cases, as_of=report_date(report))

    def mask(record: dict[str, object]) -> dict[str, object]:
        return scope.mask_record("grids", record)

    if area is None and grids is None and state.several:  # the prefecture: county by county
        data, sheets, as_of = _prefecture_workbook(state, inputs_of, mask)
    else:
        inputs = inputs_of(state.county_for(area or (grids[0] if grids else None), scope=scope))
        as_of = inputs.as_of
        data, sheets = build_workbook(
            inputs, county=county_name(state.store), area=area, grids=grids, mask=mask
        )
    record_access(
        state.store.ledger,
        access.caller,
        "report_export",
        target=f"GET /api/report.xlsx?area={area or ','.join(grids or []) or 'county'}",
        detail={"format": "xlsx", "rows": {s.title: len(s.table) for s in sheets}},
    )
    name = f"gisgrid-report-{area or ('grids' if grids else 'county')}-{as_of}.xlsx"
    return _file(data, XLSX, name)


def _prefecture_workbook(
    state: AppState,
    inputs_of: Callable[[str], Inputs],
    mask: Callable[[dict[str, object]], dict[str, object]],
) -> tuple[bytes, list[Sheet], dt.date]:
    """The prefecture's workbook, its sheets and date: read county by county (the state
    keeps no more than its ``kept_counties`` meanwhile)."""
    from gisgrid.cartography import county_name, county_names
    from gisgrid.reports.workbook import (
        area_names,
        prefecture_sheets,
        workbook_title,
        write_workbook,
    )

    dates: list[dt.date] = []

    def each() -> Iterator[Inputs]:
        for county in state.counties:
            inputs = inputs_of(county)
            dates.append(inputs.as_of)
            yield inputs

    sheets = prefecture_sheets(each(), county_names=county_names(state.store), mask=mask)
    as_of = max(dates) if dates else dt.date.today()
    names = area_names({"townships": state.locator.townships, "villages": state.locator.villages})
    title = workbook_title(county_name(state.store), None, names)
    return write_workbook(sheets, title=title, as_of=as_of, names=names), sheets, as_of


@router.get(
    "/wallmap.pdf",
    summary="The printable wall map of a township or village 网格公示牌（PDF）",
    response_class=Response,
    responses=_binary(PDF, "the wall map, A3 or A4 landscape, fonts embedded"),
)
def wallmap_pdf(
    state: State,
    access: Scoped,
    township: Township = None,
    village: Village = None,
    paper: Annotated[str, Query(pattern=r"^A[34]$", description="A3 or A4")] = "A3",
) -> Response:
    """The grid net of the area with each grid's responsible person (and phone, for roles
    that see staff contacts), legend, scale bar, north arrow and date. Recorded."""
    if (township is None) == (village is None):
        raise ConfigError("give township or village (one of them)")
    area = str(township or village)
    access.scope.require(area)
    _known_area(state, area)
    from gisgrid.cartography import county_name
    from gisgrid.reports.wallmap import load_net, wall_map_pdf

    net = load_net(
        access.reader,
        township=township,
        village=village,
        as_of=local_now().date(),
        phones=access.scope.staff,
        county=county_name(state.store),
    )
    data = wall_map_pdf(net, paper="A4" if paper == "A4" else "A3")
    record_access(
        state.store.ledger,
        access.caller,
        "wallmap_print",
        target=f"GET /api/wallmap.pdf?area={area}",
        detail={"format": "pdf", "paper": paper, "grids": len(net.grids), "phones": net.phones},
    )
    return _file(data, PDF, f"gisgrid-wallmap-{area}-{net.as_of}.pdf")
