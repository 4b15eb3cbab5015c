"""The check report for the county, a township or a village."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gisgrid.analysis.checks.report import report_of_area
from gisgrid.api.deps import State
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.errors import ConfigError, NotFoundError

router = APIRouter(prefix="/api", tags=["checks 检查"], responses=COMMON_ERRORS)


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
    return report_of_area(report, area)
