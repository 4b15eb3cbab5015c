"""群众上报: the resident-facing report form ``/report`` and the tracking of a report, no sign-in.

Thin: :mod:`gisgrid.services.public_reports` stores a report (incident, first case step,
public report row: one transaction) and answers a tracking code.

Why the POST needs no CSRF token: it uses no ambient authority. The route never looks at who
is signed in (a session cookie the browser sends along is ignored: the report is the
public's, its step's actor the reserved ``public``), so a forged cross-site request can do
nothing that anyone on the internet cannot do directly; and a cross-site page cannot send it
as JSON without a CORS preflight that this server does not answer. What protects the form
is the rate limit per client address and for everyone together (429 with ``Retry-After``),
the body limit (413) and the validation (422).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from gisgrid.api.deps import State, address_of
from gisgrid.api.errors import COMMON_ERRORS, HTML_PAGE, documented
from gisgrid.api.security import ASSETS_PREFIX, html_page
from gisgrid.api.templating import render
from gisgrid.errors import ConfigError, LocateError, NotFoundError, Problem, ValidationError
from gisgrid.layers import kinds
from gisgrid.services.accounts import normalise_phone
from gisgrid.services.public_reports import (
    PublicReport,
    Tracking,
    public_kinds,
    submit_report,
    track,
)
from gisgrid.settings import PUBLIC_KINDS, PublicReportSettings

router = APIRouter(tags=["public 群众上报"], responses=COMMON_ERRORS)

#: the page's scripts and style sheets, in load order
REPORT_JS = ("leaflet", "page_js", "report_js")
REPORT_CSS = ("leaflet_css", "report_css")
#: how much the township outlines are simplified for the form's map (degrees, about 40 m)
OUTLINE_TOLERANCE = 0.0004
OUTSIDE = (
    "该位置不在本县范围内，请在地图上本县境内重新选择 / the point lies outside the county: "
    "choose a place within it"
)

Code = Annotated[str, Path(min_length=1, max_length=80, description="the tracking code")]


class PublicReportRequest(BaseModel):
    """A resident's report. The time is the server's: a request naming one is refused."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(json_schema_extra={"enum": list(PUBLIC_KINDS)})
    description: str = Field(min_length=1, max_length=1000, description="what happened")
    lon: float = Field(ge=-180, le=180, description="WGS84 longitude")
    lat: float = Field(ge=-90, le=90, description="WGS84 latitude")
    contact_phone: str | None = Field(
        None, max_length=20, pattern=r"^\+?[0-9 -]{7,20}$", description="optional"
    )


class PublicReportCreated(BaseModel):
    """The tracking code (shown once: only its hash is kept) and when it was received."""

    code: str
    reported_at: str
    kind: str
    kind_zh: str
    stage: str
    stage_zh: str
    track_url: str


class PublicReportStatus(BaseModel):
    """What a tracking code shows: the kind, the stage and its dates, nothing more."""

    kind: str
    kind_zh: str
    stage: str
    stage_zh: str
    reported_at: str
    updated_at: str
    finished_at: str | None


def _minutes(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _status(found: Tracking) -> dict[str, Any]:
    return {
        "kind": found.kind,
        "kind_zh": found.kind_zh,
        "stage": found.stage,
        "stage_zh": found.stage_zh,
        "reported_at": _minutes(found.reported_at),
        "updated_at": _minutes(found.updated_at),
        "finished_at": None if found.finished_at is None else _minutes(found.finished_at),
    }


def _settings() -> PublicReportSettings:
    return PublicReportSettings()


def _outlines(state: State) -> dict[str, Any]:
    """The township outlines as compact GeoJSON for the form's offline map (the template
    writes it with ``tojson``, which escapes ``<``, ``>``, ``&`` and quotes)."""
    townships = state.store.read("townships", columns=["code", "name", "geometry"])
    features = []
    for code, name, shape in zip(
        townships["code"], townships["name"], townships.geometry, strict=True
    ):
        simple = shapely.set_precision(shape.simplify(OUTLINE_TOLERANCE), 1e-5)
        features.append(
            {
                "type": "Feature",
                "properties": {"code": str(code), "name": str(name)},
                "geometry": shapely.geometry.mapping(simple),
            }
        )
    return {"type": "FeatureCollection", "features": features}


@router.get("/report", responses=HTML_PAGE, summary="Report to the grid 群众上报 (phone page)")
def report_page(state: State) -> Response:
    from gisgrid.cartography.assets import ASSETS

    settings = _settings()
    html = render(
        "report.html",
        title="群众上报",
        kinds=[(k, kinds.INCIDENT_KINDS[k].zh) for k in public_kinds(settings)],
        outlines=_outlines(state),
        scripts=[ASSETS_PREFIX + ASSETS[name].url for name in REPORT_JS],
        styles=[ASSETS_PREFIX + ASSETS[name].url for name in REPORT_CSS],
    )
    return html_page(html)


#: the progress page of a code that is no report's: a page saying so, with a 404
NOT_FOUND_PAGE: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "no report has this code: an HTML page saying so",
        "content": {"text/html": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/report/{code}",
    responses=HTML_PAGE | NOT_FOUND_PAGE,
    summary="A report's progress 上报进度",
)
def tracking_page(state: State, code: Code) -> Response:
    from gisgrid.cartography.assets import ASSETS

    try:
        found: dict[str, Any] | None = _status(track(state.store, code))
    except NotFoundError:
        found = None
    html = render(
        "report_status.html",
        title="上报进度",
        found=found,
        scripts=[],
        styles=[ASSETS_PREFIX + ASSETS["report_css"].url],
    )
    return html_page(html, status_code=200 if found else 404)


@router.post(
    "/api/public/reports",
    status_code=201,
    summary="A resident reports an incident (no sign-in) 群众上报",
    response_model=PublicReportCreated,
    responses=documented(422, 429),
)
def create_report(state: State, request: Request, body: PublicReportRequest) -> dict[str, Any]:
    settings = _settings()
    try:
        where = state.locator.locate(body.lon, body.lat)
    except LocateError as exc:
        if exc.code == "outside_county":
            raise LocateError(OUTSIDE, code=exc.code) from None
        raise LocateError(f"位置无效 / invalid position: {exc}", code=exc.code) from None
    phone = None
    if body.contact_phone is not None:
        try:
            phone = normalise_phone(body.contact_phone)
        except ConfigError:
            why = "电话号码无效 / no phone number (7-15 digits)"
            problem = Problem(0, None, "contact_phone", why)
            raise ValidationError("public_reports", [problem]) from None
    report = PublicReport(
        lon=where.wgs84_lon,
        lat=where.wgs84_lat,
        kind=body.kind,
        description=body.description,
        contact_phone=phone,
    )
    grid = where.level3.code if where.in_grid and where.level3 is not None else None
    with state.write_lock:
        stored = submit_report(
            state.store, report, grid_code=grid, address=address_of(request), settings=settings
        )
        state.changed()
    return {
        "code": stored.code,
        "reported_at": _minutes(stored.reported_at),
        "kind": body.kind,
        "kind_zh": kinds.INCIDENT_KINDS[body.kind].zh,
        "stage": "registered",
        "stage_zh": kinds.CASE_STATUSES["registered"].zh,
        "track_url": f"/report/{stored.code}",
    }


@router.get(
    "/api/public/reports/{code}",
    summary="A report's progress by its tracking code (no sign-in) 上报进度",
    response_model=PublicReportStatus,
)
def report_status(state: State, code: Code) -> dict[str, Any]:
    return _status(track(state.store, code))
