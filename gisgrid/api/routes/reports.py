"""The check report for the county, a township or a village."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from gisgrid.analysis.checks.report import report_of_area
from gisgrid.api.deps import Scoped, State
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.errors import ConfigError, NotFoundError

router = APIRouter(prefix="/api", tags=["checks 检查"], responses=COMMON_ERRORS)


@router.get("/check", summary="The check report: where the net fails 网格检查报告")
def check_report(
    state: State,
    access: Scoped,
    township: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
    village: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
) -> dict[str, Any]:
    if township and village:
        raise ConfigError("give township or village, not both")
    report = state.report()
    area = village or township
    scope = access.scope
    if area is None:
        if scope.whole_county:
            return report
        if scope.home is None:  # several grids: each one's findings, once
            return _merged([report_of_area(report, a) for a in scope.areas], report)
        return report_of_area(report, scope.home)
    scope.require(area)
    known = set(state.frames()["villages"]["code"]) | set(state.frames()["townships"]["code"])
    if area not in known:
        raise NotFoundError(f"no township or village {area}")
    return report_of_area(report, area)


def _merged(parts: list[dict[str, Any]], report: dict[str, Any]) -> dict[str, Any]:
    """The findings of several areas as one report (a finding in two of them once)."""
    out: dict[str, Any] = {"meta": report["meta"] | {"area": None}}
    for part in parts:
        for name, result in part.items():
            if name == "meta":
                continue
            items = out.setdefault(name, {"count": 0, "items": []})["items"]
            items += [i for i in result["items"] if i not in items]
    for name, result in out.items():
        if name != "meta":
            result["count"] = len(result["items"])
    return out
