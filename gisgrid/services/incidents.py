"""Report an incident: build its row, validate it against the layer, store it."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import shapely

from gisgrid import crs as crsmod
from gisgrid.analysis.assign import local_now
from gisgrid.errors import ConflictError, Problem, ValidationError
from gisgrid.layers import get_layer
from gisgrid.services.cases import CLOCK_SKEW
from gisgrid.stores.base import Store

#: incidents are reported in the county's local time
LOCAL_TIME = dt.timezone(dt.timedelta(hours=8))


@dataclass(frozen=True)
class NewIncident:
    """An incident as reported, before it is stored.

    Parameters
    ----------
    lon, lat
        Where it happened, WGS84 degrees.
    kind
        One of :data:`gisgrid.layers.incidents.INCIDENT_KINDS`.
    grid_code
        The level-3 grid it is routed to (``None``: outside every grid).
    status
        One of :data:`gisgrid.layers.incidents.STATUSES`.
    id
        Its id (default: a new one).
    reported_at
        When it was reported (default: now, local time).
    description
        Free text.
    """

    lon: float
    lat: float
    kind: str
    grid_code: str | None = None
    status: str = "registered"
    id: str | None = None
    reported_at: dt.datetime | None = None
    description: str | None = None


def new_incident_id(now: dt.datetime) -> str:
    """A fresh incident id: ``W`` and the time, then six random hex digits."""
    return f"W{now:%Y%m%d%H%M%S}{uuid.uuid4().hex[:6]}"


def report_incident(
    store: Store, incident: NewIncident, *, reporter: str | None = None
) -> gpd.GeoDataFrame:
    """Validate an incident and append it to the store's incidents in one transaction.

    With ``reporter`` (the username reporting it) and the status ``registered``, the
    case's first step (``report``, :mod:`gisgrid.layers.case_steps`) is written in the same
    transaction: the case's history begins with its report. An incident recorded in another
    stage (a past case entered afterwards) has no steps; its status is its stage.

    A stored id is looked for first (a clear answer at once) and again under the store's
    writer lock (the ``check`` of :meth:`~gisgrid.stores.base.Store.write`): the answer that
    counts, whichever other process writes meanwhile.

    Returns
    -------
    geopandas.GeoDataFrame
        The stored incident: one row in the layer's canonical form.

    Raises
    ------
    ValidationError
        The incident breaks a rule of the incidents layer (an unknown kind or status, …),
        or its ``reported_at`` lies in the future.
    ConflictError
        An incident with the same id is already stored.
    """
    frames = incident_frames(incident, reporter=reporter)
    clean = frames["incidents"]
    new_id = str(clean["id"].iat[0])

    def id_is_new(current: Store) -> None:
        if current.count("incidents", where={"id": new_id}):
            raise ConflictError(f"incident {new_id} already exists")

    id_is_new(store)
    store.write(frames, mode="append", check=id_is_new)
    return clean


def incident_frames(
    incident: NewIncident, *, reporter: str | None = None
) -> dict[str, gpd.GeoDataFrame | pd.DataFrame]:
    """The rows a report writes, validated, nothing written: the incident and (with
    ``reporter`` and the status ``registered``) its case's report step.

    Raises
    ------
    ValidationError
        As :func:`report_incident`.
    """
    # to the second, as the layers keep times and as every step is dated (local_now): a
    # step taken in the second of the report is not "before" it
    reported = (incident.reported_at or local_now()).replace(microsecond=0)
    frame = gpd.GeoDataFrame(
        {
            "id": [incident.id or new_incident_id(dt.datetime.now())],
            "kind": [incident.kind],
            "reported_at": [pd.Timestamp(reported).isoformat()],
            "status": [incident.status],
            "description": [incident.description],
            "grid_code": [incident.grid_code],
        },
        geometry=[shapely.Point(incident.lon, incident.lat)],
        crs=crsmod.STORAGE_CRS,
    )
    clean = get_layer("incidents").validate(frame)
    new_id = str(clean["id"].iat[0])
    reported_local = pd.Timestamp(clean["reported_at"].to_numpy()[0])
    now_local = pd.Timestamp(local_now())
    if reported_local > now_local + CLOCK_SKEW:
        raise ValidationError(
            "incidents",
            [Problem(0, new_id, "reported_at", f"{reported_local} lies in the future")],
        )
    frames: dict[str, gpd.GeoDataFrame | pd.DataFrame] = {"incidents": clean}
    if reporter is not None and incident.status == "registered":
        step = pd.DataFrame(
            [{"incident_id": new_id, "seq": 1, "action": "report", "actor": reporter,
              "at": reported_local, "note": None, "assignee": None}]
        )  # fmt: skip
        frames["case_steps"] = get_layer("case_steps").validate(step)
    return frames


__all__ = ["NewIncident", "incident_frames", "new_incident_id", "report_incident"]
