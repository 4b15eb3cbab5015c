"""The check report for the county, a township or a village."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gisgrid.api.deps import State
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.errors import ConfigError, NotFoundError

router = APIRouter(prefix="/api", tags=["checks 检查"], responses=COMMON_ERRORS)

#: item fields that name a place by code; an item belongs to an area when one starts with it
CODE_FIELDS = (
    "parent_code",
    "code",
    "grid_code",
    "village_code",
    "located",
    "registered",
    "township_code",
    "nearest_grid_code",
)
LIST_FIELDS = ("codes", "grid_codes", "adjacent_codes", "into_codes")


def _in_area(item: dict[str, Any], area: str) -> bool:
    for key in CODE_FIELDS:
        value = item.get(key)
        if isinstance(value, str) and value.startswith(area):
            return True
    for key in LIST_FIELDS:
        values = item.get(key)
        if isinstance(values, list) and any(str(v).startswith(area) for v in values):
            return True
    return False


@router.get("/check", summary="The check report: where the net fails 网格检查报告")
def check_report(
    state: State,
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    village: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
) -> dict[str, Any]:
    if township and village:
        raise ConfigError("give township or village, not both")
    report = state.report()
    area = village or township
    if area is None:
        return report
    known = set(state.frames()["villages"]["code"]) | set(state.frames()["townships"]["code"])
    if area not in known:
        raise NotFoundError(f"no township or village {area}")
    out: dict[str, Any] = {"meta": report["meta"] | {"area": area}}
    for name, result in report.items():
        if name == "meta" or not isinstance(result, dict):
            continue
        items = [i for i in result.get("items", []) if _in_area(i, area)]
        out[name] = {"count": len(items), "items": items}
    return out
