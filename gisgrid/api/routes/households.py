"""Households: search for field staff, and one household with its grid and backbone link.

Households are personal information: responses carry only what the finder needs, and no
endpoint returns more than one page of them.
"""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Path, Query

from gisgrid.api.deps import State
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.api.geojson import _plain
from gisgrid.errors import NotFoundError

router = APIRouter(prefix="/api/households", tags=["households 农户"], responses=COMMON_ERRORS)

ID_PATTERN = r"^[A-Za-z0-9_-]{1,40}$"
PUBLIC = (
    "id",
    "head_name",
    "house_number",
    "village_code",
    "members",
    "elderly",
    "party_member",
    "backbone",
    "backbone_id",
    "grid_code",
)


def _summary(row: Any) -> dict[str, Any]:
    out = {k: _plain(row[k]) for k in PUBLIC}
    out["lon"] = round(float(row.geometry.x), 7)
    out["lat"] = round(float(row.geometry.y), 7)
    return out


@router.get("/search", summary="Find households by name, pinyin initials, house number or id")
def search(
    state: State,
    q: Annotated[
        str, Query(min_length=1, max_length=40, description="张三, zs, zhangsan, 3组15号, H0000001")
    ],
    village: Annotated[
        str | None, Query(pattern=r"^\d{9}(\d{3})?$", description="village or township code")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> dict[str, Any]:
    hits = state.search.search(q, village=village, limit=limit)
    if not hits:
        return {"query": q, "results": []}
    frame = state.store.read("households", where={"id": [h.id for h in hits]})
    rows = {r["id"]: r for _, r in frame.iterrows()}
    return {
        "query": q,
        "results": [_summary(rows[h.id]) | {"score": h.score} for h in hits if h.id in rows],
    }


@router.get("/{household_id}", summary="One household: its grid, responsible person, backbone link")
def household(
    state: State, household_id: Annotated[str, Path(pattern=ID_PATTERN)]
) -> dict[str, Any]:
    frame = state.store.read("households", where={"id": household_id})
    if len(frame) == 0:
        raise NotFoundError(f"no household {household_id}")
    row = frame.iloc[0]
    here = _summary(row)
    code = row["grid_code"]
    if code is None:
        code = state.locator.level3_codes(np.array([row.geometry.x]), np.array([row.geometry.y]))[0]
    grid = state.locator.by_code.loc[code] if code in state.locator.by_code.index else None
    backbone = None
    if row["backbone_id"] is not None:
        b = state.store.read("households", where={"id": row["backbone_id"]})
        backbone = _summary(b.iloc[0]) if len(b) else None
    linked = []
    if bool(row["backbone"]):
        linked = [
            _summary(r)
            for _, r in state.store.read(
                "households", where={"backbone_id": household_id}
            ).iterrows()
        ]
    return {
        "household": here,
        "grid": None
        if grid is None
        else {
            k: _plain(grid[k])
            for k in (
                "code",
                "name",
                "level",
                "parent_code",
                "village_code",
                "responsible_name",
                "responsible_phone",
                "responsible_role",
            )
        },
        "backbone": backbone,
        "linked_households": linked,
        "nearest_service_points": state.locator.nearest_services(here["lon"], here["lat"]),
    }
