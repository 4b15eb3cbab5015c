"""Leaders' figures per township, village and grid: the dashboard's tables.

One row per area with: grids, households, linkage share (households that are backbone
households or linked to one), unstaffed grids, gaps, households beyond service distance,
incidents in the last 12 months, and six-no status. Computed from the layers and the check
report, so the dashboard and ``gisgrid check`` never disagree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

COLUMNS = (
    "code",
    "name",
    "grids",
    "households",
    "linkage_share",
    "unstaffed_grids",
    "gaps",
    "beyond_service",
    "incidents",
    "six_no",
)
LABELS_ZH = {
    "code": "代码",
    "name": "名称",
    "grids": "网格数",
    "households": "户数",
    "linkage_share": "联户覆盖率",
    "unstaffed_grids": "无负责人网格",
    "gaps": "网格缝隙",
    "beyond_service": "超出服务半径户数",
    "incidents": "近12个月事件",
    "six_no": "六无达标",
}


def _prefix_count(codes: pd.Series, areas: pd.Series, width: int) -> pd.Series:
    counts = codes.dropna().astype(str).str[:width].value_counts()
    return areas.map(counts).fillna(0).astype(int)


def area_table(
    frames: dict[str, pd.DataFrame],
    report: dict[str, Any],
    *,
    level: str,
    within: str | None = None,
) -> pd.DataFrame:
    """Figures per area of ``level`` (``township``, ``village`` or ``grid``) inside ``within``.

    Parameters
    ----------
    frames
        ``townships``, ``villages``, ``grids``, ``households``, ``incidents`` (canonical).
    report
        The check report as a dict (:meth:`gisgrid.analysis.checks.CheckReport.to_dict`).
    level
        Rows are townships (county view), villages (of a township) or level-2/3 grids (of a
        village).
    within
        A township code (for villages) or village code (for grids).
    """
    if level == "township":
        areas = frames["townships"][["code", "name"]]
        width = 9
    elif level == "village":
        v = frames["villages"]
        areas = v.loc[v["code"].str.startswith(within or ""), ["code", "name"]]
        width = 12
    elif level == "grid":
        g = frames["grids"]
        areas = g.loc[
            (g["level"] > 1) & (g["village_code"] == within),
            ["code", "name", "level", "responsible_name", "responsible_phone"],
        ]
        width = 0
    else:
        raise ValueError(f"level must be township, village or grid, not {level!r}")
    areas = areas.sort_values("code").reset_index(drop=True)
    codes = areas["code"]
    hh = frames["households"]
    g = frames["grids"]
    out = areas.copy()
    if width:
        l3 = g[g["level"] == 3]
        out["grids"] = _prefix_count(l3["code"], codes, width)
        unstaffed = g.loc[g["responsible_name"].isna(), "code"]
        out["unstaffed_grids"] = _prefix_count(unstaffed, codes, width)
        key = hh["grid_code"].where(hh["grid_code"].notna(), hh["village_code"])
        out["households"] = _prefix_count(key, codes, width)
        linked = hh["backbone"].fillna(False).astype(bool) | hh["backbone_id"].notna()
        out["linkage_share"] = (
            _prefix_count(key[linked.to_numpy()], codes, width) / out["households"].clip(lower=1)
        ).round(3)
    else:
        # grid rows: level-3 households by grid code, level-2 by prefix
        out["grids"] = 1
        out["unstaffed_grids"] = out["responsible_name"].isna().astype(int)
        gc = hh["grid_code"].dropna().astype(str)
        per3 = gc.value_counts()
        per2 = gc.str[:15].value_counts()
        out["households"] = [int(per3.get(c, 0) if len(c) == 18 else per2.get(c, 0)) for c in codes]
        linked = hh["backbone"].fillna(False).astype(bool) | hh["backbone_id"].notna()
        lc = hh.loc[linked.to_numpy(), "grid_code"].dropna().astype(str)
        l3c, l2c = lc.value_counts(), lc.str[:15].value_counts()
        got = [int(l3c.get(c, 0) if len(c) == 18 else l2c.get(c, 0)) for c in codes]
        out["linkage_share"] = (pd.Series(got) / out["households"].clip(lower=1)).round(3)
    gap_parents = pd.Series(
        [str(i.get("parent_code") or "") for i in report.get("gaps", {}).get("items", [])]
    )
    out["gaps"] = [int(gap_parents.str.startswith(c).sum()) for c in codes]
    beyond: dict[str, int] = {}
    for item in report.get("service_coverage", {}).get("items", []):
        if item.get("problem") == "too_far":
            vcode = str(item.get("village_code") or "")
            beyond[vcode] = beyond.get(vcode, 0) + int(item.get("households") or 0)
    out["beyond_service"] = [
        sum(n for v, n in beyond.items() if v.startswith(c[:12])) if len(c) <= 12 else 0
        for c in codes
    ]
    inc = frames["incidents"]
    as_of = pd.Timestamp(report.get("meta", {}).get("as_of") or dt.date.today())
    recent = inc.loc[inc["reported_at"] > as_of - pd.DateOffset(months=12), "grid_code"]
    recent = recent.dropna().astype(str)
    out["incidents"] = [int(recent.str.startswith(c).sum()) for c in codes]
    six = report.get("six_no", {})
    ok = set(six.get("six_no_villages", []))
    if level == "village":
        out["six_no"] = [c in ok for c in codes]
    elif level == "township":
        villages = frames["villages"]["code"]
        out["six_no"] = [
            f"{sum(1 for v in villages if v.startswith(c) and v in ok)}/"
            f"{int(villages.str.startswith(c).sum())}"
            for c in codes
        ]
    else:
        out["six_no"] = within in ok
    return out


def totals(frames: dict[str, pd.DataFrame], report: dict[str, Any]) -> dict[str, Any]:
    """County totals for the dashboard's header."""
    g = frames["grids"]
    hh = frames["households"]
    linked = hh["backbone"].fillna(False).astype(bool) | hh["backbone_id"].notna()
    return {
        "townships": len(frames["townships"]),
        "villages": len(frames["villages"]),
        "grids": {lv: int((g["level"] == lv).sum()) for lv in (1, 2, 3)},
        "households": len(hh),
        "linkage_share": round(float(linked.mean()) if len(hh) else 0.0, 3),
        "findings": {
            name: int(value.get("count", 0))
            for name, value in report.items()
            if isinstance(value, dict) and "count" in value
        },
    }
