"""The volunteers' time bank: hours per volunteer or per team (:mod:`gisgrid.analysis.volunteers`).

Volunteers' names are residents' personal data: masked for roles without household records
by the caller's reader, like every other read.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from gisgrid.analysis.volunteers import hours_by_team, hours_by_volunteer
from gisgrid.api import geojson
from gisgrid.api.deps import Scoped
from gisgrid.api.errors import COMMON_ERRORS

router = APIRouter(tags=["volunteers 志愿服务"], responses=COMMON_ERRORS)


@router.get("/api/volunteers/hours", summary="Volunteer hours per volunteer or team 时间银行")
def volunteer_hours(
    access: Scoped,
    by: Annotated[Literal["volunteer", "team"], Query()] = "volunteer",
    since: Annotated[dt.date | None, Query(description="activities held on or after")] = None,
) -> dict[str, Any]:
    activities = access.reader.read("volunteer_activities")
    hours = access.reader.read("volunteer_hours")
    if by == "team":
        table = hours_by_team(activities, hours, access.reader.read("volunteer_teams"), since=since)
    else:
        table = hours_by_volunteer(activities, hours, since=since)
    return {
        "by": by,
        "since": None if since is None else since.isoformat(),
        "total_hours": float(table["hours"].sum()) if len(table) else 0.0,
        "rows": [geojson.plain_record(r) for r in table.to_dict("records")],
    }
