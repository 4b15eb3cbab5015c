"""Grids: one grid's history (its versions and lineage), as the caller's scope shows it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path

from gisgrid.analysis.versions import grid_history
from gisgrid.api import geojson
from gisgrid.api.deps import GRID_CODE_PATH, Scoped
from gisgrid.api.errors import COMMON_ERRORS

router = APIRouter(prefix="/api/grids", tags=["grids 网格"], responses=COMMON_ERRORS)

GridCode = Annotated[str, Path(pattern=GRID_CODE_PATH, description="12, 15 or 18 digits")]


@router.get("/{code}/history", summary="A grid's versions (oldest first) and lineage")
def history(access: Scoped, code: GridCode) -> dict[str, Any]:
    found = grid_history(access.reader, code)
    versions = geojson.feature_collection(
        found.versions, matched=len(found.versions), offset=0, key=("code", "version")
    )
    return {
        "code": found.code,
        "status": found.status(),
        "came_from": list(found.came_from),
        "went_into": list(found.went_into),
        "versions": versions["features"],
    }
