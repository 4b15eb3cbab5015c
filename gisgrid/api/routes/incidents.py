"""Incidents: report one (validated, routed to its grid and responsible person, stored) and
list them with filters."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

import geopandas as gpd
import pandas as pd
import shapely
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from gisgrid import crs as crsmod
from gisgrid.api import geojson
from gisgrid.api.deps import State
from gisgrid.api.errors import COMMON_ERRORS, documented
from gisgrid.api.routes.layers import BBOX_PATTERN, BBOX_TEXT, parse_bbox
from gisgrid.api.schemas import LocateResponse
from gisgrid.errors import ConfigError, ConflictError
from gisgrid.layers import get_layer
from gisgrid.layers.incidents import INCIDENT_KINDS, STATUSES

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
    feature: IncidentFeature,
    crs: Annotated[Literal["wgs84", "cgcs2000", "gcj02", "bd09"], Query()] = "wgs84",
) -> dict[str, Any]:
    lon, lat = feature.geometry.coordinates
    routing = LocateResponse.of(state.locator.locate(lon, lat, crs=crs)).model_dump()
    props = feature.properties
    reported = props.reported_at or dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    frame = gpd.GeoDataFrame(
        {
            "id": [props.id or f"W{dt.datetime.now():%Y%m%d%H%M%S}{uuid.uuid4().hex[:6]}"],
            "kind": [props.kind],
            "reported_at": [pd.Timestamp(reported).isoformat()],
            "status": [props.status],
            "description": [props.description],
            "grid_code": [routing["grids"]["level3"]["code"] if routing["in_grid"] else None],
        },
        geometry=[shapely.Point(routing["wgs84"]["lon"], routing["wgs84"]["lat"])],
        crs=crsmod.STORAGE_CRS,
    )
    clean = LAYER.validate(frame)
    new_id = str(clean["id"].iat[0])
    with state.write_lock:
        if state.store.count("incidents", where={"id": new_id}):
            raise ConflictError(f"incident {new_id} already exists")
        state.store.write({"incidents": clean}, mode="append")
        state.changed()
    out = geojson.feature_collection(clean, matched=1, offset=0, key=LAYER.key)["features"][0]
    return {"incident": out, "routing": routing}


@router.get("", summary="Incidents with filters, as GeoJSON")
def list_incidents(
    state: State,
    kind: Annotated[str | None, Query(json_schema_extra={"enum": list(INCIDENT_KINDS)})] = None,
    status: Annotated[str | None, Query(json_schema_extra={"enum": list(STATUSES)})] = None,
    since: Annotated[dt.date | None, Query(description="reported on or after")] = None,
    until: Annotated[dt.date | None, Query(description="reported on or before")] = None,
    village: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    bbox: Annotated[str | None, Query(pattern=BBOX_PATTERN, description=BBOX_TEXT)] = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    where: dict[str, object] = {}
    for column, value, allowed in (("kind", kind, INCIDENT_KINDS), ("status", status, STATUSES)):
        if value is not None:
            if value not in allowed:
                raise ConfigError(f"{column} must be one of {', '.join(allowed)}")
            where[column] = value
    frame = state.store.read("incidents", bbox=parse_bbox(bbox), where=where or None)
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
