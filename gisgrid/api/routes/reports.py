"""The check report for the county, a township or a village; the figures as an Excel
workbook and the printable wall map (公示牌) of a township or village."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from gisgrid import codes
from gisgrid.analysis.assign import local_now
from gisgrid.analysis.cases import case_columns
from gisgrid.analysis.checks.report import report_of_area
from gisgrid.api.deps import Scoped, State, Township, Village
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.api.state import AppState
from gisgrid.errors import ConfigError, NotFoundError
from gisgrid.reports.figures import Inputs, report_date
from gisgrid.services.accounts import record_access
from gisgrid.services.cases import case_summaries

router = APIRouter(prefix="/api", tags=["checks 检查"], responses=COMMON_ERRORS)


@router.get("/check", summary="The check report: where the net fails 网格检查报告")
def check_report(
    state: State,
    access: Scoped,
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    village: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
) -> dict[str, Any]:
    if township and village:
        raise ConfigError("give township or village, not both")
    report = state.report()
    area = village or township
    scope = access.scope
    if area is None:
        if scope.whole_county:
            return report
        if scope.home is None:  # several grids: each one's findings, once
            return _merged([report_of_area(report, a) for a in scope.areas], report)
        return report_of_area(report, scope.home)
    scope.require(area)
    known = set(state.frames()["villages"]["code"]) | set(state.frames()["townships"]["code"])
    if area not in known:
        raise NotFoundError(f"no township or village {area}")
    return report_of_area(report, area)


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
    frames = state.frames()
    known = set(frames["villages"]["code"]) | set(frames["townships"]["code"])
    known |= {codes.county_of(str(c)) for c in frames["townships"]["code"]}
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

    report = state.report()
    summaries = case_summaries(access.reader, now=local_now(), index=state.locator.grid_index)
    frames = state.frames()
    incidents = frames["incidents"]
    cases = case_columns(incidents[incidents["id"].isin({c.id for c in summaries})], summaries)
    inputs = Inputs(frames=frames, report=report, cases=cases, as_of=report_date(report))
    data, sheets = build_workbook(
        inputs,
        county=county_name(state.store),
        area=area,
        grids=grids,
        mask=lambda record: scope.mask_record("grids", record),
    )
    record_access(
        state.store.ledger,
        access.caller,
        "report_export",
        target=f"GET /api/report.xlsx?area={area or ','.join(grids or []) or 'county'}",
        detail={"format": "xlsx", "rows": {s.title: len(s.table) for s in sheets}},
    )
    name = f"gisgrid-report-{area or ('grids' if grids else 'county')}-{inputs.as_of}.xlsx"
    return _file(data, XLSX, name)


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
