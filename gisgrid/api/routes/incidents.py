"""Incidents: report one (routed to its grid, then validated and stored by
:func:`gisgrid.services.incidents.report_incident`) and list them with filters."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from gisgrid.analysis.cases import with_stages_now
from gisgrid.api import geojson
from gisgrid.api.deps import BBoxQuery, Scoped, State, Township, Village
from gisgrid.api.errors import COMMON_ERRORS, documented
from gisgrid.api.schemas import LocateResponse
from gisgrid.errors import ConfigError, ForbiddenError
from gisgrid.layers import get_layer
from gisgrid.layers.incidents import INCIDENT_KINDS, STATUSES
from gisgrid.services.accounts import record_access
from gisgrid.services.incidents import NewIncident, report_incident

router = APIRouter(prefix="/api/incidents", tags=["incidents 事件"], responses=COMMON_ERRORS)
LAYER = get_layer("incidents")


class PointGeometry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["Point"]
    coordinates: tuple[float, float] = Field(description="[lon, lat]: longitude FIRST")


class IncidentProperties(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,40}$", description="default: new id")
    kind: str = Field(json_schema_extra={"enum": list(INCIDENT_KINDS)})
    reported_at: dt.datetime | None = Field(None, description="local time; default: now")
    status: str = Field("registered", json_schema_extra={"enum": list(STATUSES)})
    description: str | None = Field(None, max_length=2000)


class IncidentFeature(BaseModel):
    """A GeoJSON Feature with a Point geometry."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["Feature"]
    geometry: PointGeometry
    properties: IncidentProperties


@router.post(
    "",
    status_code=201,
    summary="Report an incident: validated, routed and stored",
    responses=documented(409),
)
def report(
    state: State,
    access: Scoped,
    feature: IncidentFeature,
    crs: Annotated[Literal["wgs84", "cgcs2000", "gcj02", "bd09"], Query()] = "wgs84",
) -> dict[str, Any]:
    lon, lat = feature.geometry.coordinates
    routing = LocateResponse.of(state.locator.locate(lon, lat, crs=crs)).model_dump()
    # only in one's own area: its level-3 grid, or its village when it lies in no grid
    place = routing["grids"]["level3"] if routing["in_grid"] else routing["village"]
    if place is None:
        if not access.scope.whole_county:
            raise ForbiddenError("该位置不在任何村（社区）内 (the point is in no village)")
    else:
        access.scope.require(place["code"])
    props = feature.properties
    incident = NewIncident(
        lon=routing["wgs84"]["lon"],
        lat=routing["wgs84"]["lat"],
        kind=props.kind,
        grid_code=routing["grids"]["level3"]["code"] if routing["in_grid"] else None,
        status=props.status,
        id=props.id,
        reported_at=props.reported_at,
        description=props.description,
    )
    with state.write_lock:
        stored = report_incident(state.store, incident, reporter=access.caller.account.username)
        state.changed()
    out = geojson.feature_collection(stored, matched=1, offset=0, key=LAYER.key)["features"][0]
    record_access(
        state.store.ledger,
        access.caller,
        "incident_report",
        target=str(out["id"]),
        detail={"kind": props.kind, "grid_code": incident.grid_code},
    )
    return {"incident": out, "routing": routing}


@router.get("", summary="Incidents with filters, as GeoJSON")
def list_incidents(
    access: Scoped,
    bbox: BBoxQuery,
    kind: Annotated[str | None, Query(json_schema_extra={"enum": list(INCIDENT_KINDS)})] = None,
    status: Annotated[str | None, Query(json_schema_extra={"enum": list(STATUSES)})] = None,
    since: Annotated[dt.date | None, Query(description="reported on or after")] = None,
    until: Annotated[dt.date | None, Query(description="reported on or before")] = None,
    village: Village = None,
    township: Township = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    where: dict[str, object] = {}
    for column, value, allowed in (("kind", kind, INCIDENT_KINDS), ("status", status, STATUSES)):
        if value is not None and value not in allowed:
            raise ConfigError(f"{column} must be one of {', '.join(allowed)}")
    if kind is not None:
        where["kind"] = kind
    frame = access.reader.read("incidents", bbox=bbox, where=where or None)
    # the stage now, from each case's steps: the stored status is the stage it was imported in
    frame = with_stages_now(frame, access.reader.read("case_steps"))
    if status is not None:
        frame = frame[frame["status"] == status]
    if since is not None:
        frame = frame[frame["reported_at"] >= pd.Timestamp(since)]
    if until is not None:
        frame = frame[frame["reported_at"] < pd.Timestamp(until) + pd.Timedelta(days=1)]
    area = village or township
    if area is not None:
        frame = frame[frame["grid_code"].astype("string").str.startswith(area).fillna(False)]
    frame = frame.sort_values(["reported_at", "id"])
    page = frame.iloc[offset : offset + limit]
    return geojson.feature_collection(page, matched=len(frame), offset=offset, key=LAYER.key)
