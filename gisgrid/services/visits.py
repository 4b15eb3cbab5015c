"""Record a visit to a household (走访) and list a household's visits.

The household is found through the caller's reader: one outside the caller's area is not
found, so no visit can be recorded there. A visit is appended in one transaction; its id is
new (a clash, from a client that sent its own, is a conflict).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pandas as pd

from gisgrid.analysis.assign import GridIndex, current_grid_codes, grid_index, local_now
from gisgrid.errors import ConflictError, NotFoundError, Problem, ValidationError
from gisgrid.layers import get_layer
from gisgrid.layers.schema import LOCAL_TZ
from gisgrid.services.cases import CLOCK_SKEW
from gisgrid.services.incidents import NewIncident, incident_frames
from gisgrid.stores.base import Reader, Store

VISITS = get_layer("visits")


def visits_of(reader: Reader, household_id: str) -> pd.DataFrame:
    """The visits to a household the caller may see, newest first.

    Raises
    ------
    NotFoundError
        No such household for this caller.
    """
    if not reader.count("households", where={"id": household_id}):
        raise NotFoundError(f"no household {household_id}")
    found = reader.read("visits", where={"household_id": household_id})
    return found.sort_values(["at", "id"], ascending=False, kind="stable").reset_index(drop=True)


def record_visit(
    store: Store,
    reader: Reader,
    household_id: str,
    *,
    visitor: str,
    kind: str,
    note: str = "",
    at: dt.datetime | None = None,
    lon: float | None = None,
    lat: float | None = None,
    visit_id: str | None = None,
    request: str | None = None,
    index: GridIndex | None = None,
) -> RecordedVisit:
    """Append a visit to a household the caller may see; what was stored.

    With ``request`` (what the household asked for), a service request (帮代办) is opened in
    the same transaction: an incident of kind ``service_request`` at the household, routed
    to the level-3 grid covering it now (``index``: today's grids, built from ``reader``
    when not given), with its report step by the visitor; it then follows the case flow.

    Raises
    ------
    NotFoundError
        No such household for this caller.
    ValidationError
        A value the visits layer refuses (an unknown kind, a position outside China, only
        one of ``lon`` and ``lat``), or a time in the future.
    ConflictError
        A visit with this id is stored already.
    """
    home = reader.read("households", where={"id": household_id}, columns=["id"])
    if not len(home):
        raise NotFoundError(f"no household {household_id}")
    if at is not None and at.tzinfo is not None:  # a phone's time with its offset: county time
        at = at.astimezone(ZoneInfo(LOCAL_TZ)).replace(tzinfo=None)
    when = at or local_now()
    new_id = visit_id or f"V{when:%Y%m%d%H%M%S}{uuid.uuid4().hex[:6]}"
    problems = []
    if when > local_now() + CLOCK_SKEW:
        problems.append(Problem(0, new_id, "at", f"{when} lies in the future"))
    if (lon is None) != (lat is None):
        problems.append(Problem(0, new_id, "lon", "give both lon and lat, or neither"))
    if problems:
        raise ValidationError("visits", problems)
    row = pd.DataFrame(
        [{"id": new_id, "household_id": household_id, "visitor": visitor, "at": when,
          "kind": kind, "note": note or None, "lon": lon, "lat": lat}]
    )  # fmt: skip
    clean = VISITS.validate(row)
    frames: dict[str, pd.DataFrame] = {"visits": clean}
    request_id: str | None = None
    if request:
        place = home.geometry.iloc[0]
        if index is None:
            index = grid_index(reader.read("grids", where={"level": 3}))
        grid = current_grid_codes(home.geometry, index)[0]
        opened = incident_frames(
            NewIncident(
                lon=float(place.x),
                lat=float(place.y),
                kind="service_request",
                grid_code=grid,
                reported_at=when.replace(tzinfo=ZoneInfo(LOCAL_TZ)),
                description=f"走访 {new_id}：{request}",
            ),
            reporter=visitor,
        )
        request_id = str(opened["incidents"]["id"].iat[0])
        frames.update(opened)

    def ids_are_new(current: Store) -> None:
        if current.count("visits", where={"id": new_id}):
            raise ConflictError(f"visit {new_id} is stored already")
        if request_id is not None and current.count("incidents", where={"id": request_id}):
            raise ConflictError(f"incident {request_id} already exists")

    ids_are_new(store)
    store.write(frames, mode="append", check=ids_are_new)
    return RecordedVisit(visit=clean, request_id=request_id)


@dataclass(frozen=True)
class RecordedVisit:
    """What :func:`record_visit` stored: the visit's row, and the service request it opened."""

    visit: pd.DataFrame
    request_id: str | None
