"""Checks 5–8 and 10 on people (人): where households stand, who looks after them, who staffs grids.

* **households_outside**: households the assignment engine puts in no level-3 grid, with
  the nearest level-3 grid and the distance to it (metric CRS, STRtree nearest; of equally
  near grids the smallest code).
* **village_mismatch**: households whose registered ``village_code`` differs from the village
  polygon they stand in (assigned by the same engine and rule). A household standing in no
  village is not listed here (it is outside the county's villages; check 5 finds it when it
  is outside every level-3 grid too).
* **linkage** (党员联户): a backbone household (党员骨干户) looking after fewer than
  ``min_links`` or more than ``max_links`` households (``under``, ``over``); an ordinary
  household linked to nobody (``unlinked``); a link longer than ``max_link_m`` between the
  two households (``long_link``); a link to a household that does not exist, to one that is
  not a backbone household, or from a backbone household (``bad_link``). Only links from
  ordinary households to backbone households are counted.
* **unstaffed_grids**: grids of any level whose responsible person's name is empty (格上定人).
* **workload**: level-3 grids holding fewer than ``min_households`` households (``too_few``:
  candidates to merge) or more than ``max_households`` (``too_many``: candidates to split).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely

from gisgrid.analysis.checks.context import CheckContext, metres, point_geojson, texts

LINK_PROBLEMS = ("under", "over", "unlinked", "long_link", "bad_link")


def households_outside(ctx: CheckContext) -> list[dict[str, Any]]:
    """Households in no level-3 grid, with the nearest grid and its distance in metres."""
    outside = np.flatnonzero(pd.isna(ctx.household_grid))
    if not len(outside):
        return []
    ids = ctx.household_ids
    registered = ctx.household_registered[outside]
    xy = ctx.household_xy[outside]
    lonlat = ctx.household_lonlat[outside]
    nearest: list[str | None] = [None] * len(outside)
    distance: list[float | None] = [None] * len(outside)
    l3 = ctx.level3
    tree_idx = np.flatnonzero(l3.ok)
    located = np.isfinite(xy).all(axis=1)
    if len(tree_idx) and located.any():
        tree = shapely.STRtree(l3.metric[tree_idx])
        which = np.flatnonzero(located)
        (pt, hit), dist = tree.query_nearest(
            shapely.points(xy[which]), return_distance=True, all_matches=True
        )
        best: dict[int, tuple[str, float]] = {}
        for p, h, d in zip(pt, hit, dist, strict=True):
            code = str(l3.codes[tree_idx[h]])
            k = int(which[p])
            if k not in best or code < best[k][0]:
                best[k] = (code, float(d))
        for k, (code, d) in best.items():
            nearest[k] = code
            distance[k] = metres(d)
    items = [
        {
            "id": ids[i],
            "village_code": registered[k],
            "nearest_grid_code": nearest[k],
            "distance_m": distance[k],
            "geometry": point_geojson(*lonlat[k]) if located[k] else None,
        }
        for k, i in enumerate(outside)
    ]
    items.sort(key=lambda d: d["id"] or "")
    return items


def village_mismatch(ctx: CheckContext) -> list[dict[str, Any]]:
    """Households registered in one village and standing in another."""
    located = ctx.household_village
    registered = ctx.household_registered
    differ = ~pd.isna(located) & (located != registered)
    ids = ctx.household_ids
    lonlat = ctx.household_lonlat
    items = [
        {
            "id": ids[i],
            "registered": registered[i],
            "located": located[i],
            "geometry": point_geojson(*lonlat[i]),
        }
        for i in np.flatnonzero(differ)
    ]
    items.sort(key=lambda d: d["id"] or "")
    return items


def linkage(ctx: CheckContext) -> list[dict[str, Any]]:
    """Problems of the 党员联户 links (see the module docstring for the five kinds)."""
    s = ctx.settings
    hh = ctx.households
    ids = ctx.household_ids
    n = len(ids)
    backbone = hh["backbone"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    target = texts(hh["backbone_id"])
    linked = ~pd.isna(target)
    # position of each link's target household (-1: no such household)
    position = pd.Series(np.arange(n), index=pd.Index(ids, dtype=object))
    position = position[~position.index.duplicated(keep="first")]
    pos = np.full(n, -1)
    if linked.any():
        pos[linked] = position.reindex(target[linked]).fillna(-1).to_numpy(dtype=int)
    exists = pos >= 0
    to_backbone = exists & backbone[np.maximum(pos, 0)]
    counts = np.bincount(pos[linked & ~backbone & to_backbone], minlength=n)
    items: list[dict[str, Any]] = []
    for i in np.flatnonzero(backbone & (counts < s.min_links)):
        items.append({"problem": "under", "id": ids[i], "linked": int(counts[i])})
    for i in np.flatnonzero(backbone & (counts > s.max_links)):
        items.append({"problem": "over", "id": ids[i], "linked": int(counts[i])})
    registered = ctx.household_registered
    for i in np.flatnonzero(~backbone & ~linked):
        items.append({"problem": "unlinked", "id": ids[i], "village_code": registered[i]})
    bad = (
        ("missing", linked & ~exists),
        ("not_backbone", exists & ~to_backbone),
        ("from_backbone", to_backbone & backbone),
    )
    for reason, mask in bad:
        for i in np.flatnonzero(mask):
            items.append(
                {"problem": "bad_link", "id": ids[i], "backbone_id": target[i], "reason": reason}
            )
    xy = ctx.household_xy
    both = np.flatnonzero(exists)
    dist = np.hypot(*(xy[both] - xy[pos[both]]).T)
    far = np.nan_to_num(dist, nan=0.0) > s.max_link_m  # no location: never too long
    for i, d in zip(both[far], dist[far], strict=True):
        items.append(
            {
                "problem": "long_link",
                "id": ids[i],
                "backbone_id": target[i],
                "distance_m": metres(d),
            }
        )
    rank = {p: k for k, p in enumerate(LINK_PROBLEMS)}
    items.sort(key=lambda d: (rank[d["problem"]], d["id"] or "", d.get("backbone_id") or ""))
    return items


def unstaffed_grids(ctx: CheckContext) -> list[dict[str, Any]]:
    """Grids with no responsible person (an empty ``responsible_name``)."""
    g = ctx.frames["grids"]
    names = texts(g["responsible_name"])
    codes = ctx.grids.codes
    levels = ctx.grid_levels
    village = texts(g["village_code"])
    grid_names = texts(g["name"])
    items = [
        {
            "code": codes[i],
            "level": int(levels[i]),
            "name": grid_names[i],
            "village_code": village[i],
        }
        for i in np.flatnonzero(np.asarray([n is None for n in names], dtype=bool))
    ]
    items.sort(key=lambda d: d["code"] or "")
    return items


def workload(ctx: CheckContext) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Level-3 grids whose household count is outside the band; and the band's figures."""
    s = ctx.settings
    l3 = ctx.level3
    grid_of = pd.Series(ctx.household_grid, dtype=object).dropna()
    per_grid = grid_of.value_counts()
    counts = per_grid.reindex(pd.Index(l3.codes, dtype=object)).fillna(0).to_numpy(dtype=int)
    village = texts(ctx.frames["grids"]["village_code"].to_numpy()[ctx.grid_levels == 3])
    items: list[dict[str, Any]] = []
    for i, n in enumerate(counts):
        if s.min_households <= n <= s.max_households:
            continue
        items.append(
            {
                "problem": "too_few" if n < s.min_households else "too_many",
                "code": l3.codes[i],
                "village_code": village[i],
                "households": int(n),
            }
        )
    items.sort(key=lambda d: (d["problem"] != "too_few", d["code"] or ""))
    extra = {
        "band": [s.min_households, s.max_households],
        "grids": len(counts),
        "median_households": float(np.median(counts)) if len(counts) else None,
    }
    return items, extra


def visit_category(members: np.ndarray, elderly: np.ndarray) -> np.ndarray:
    """``elderly_only`` (every member aged 60+), ``elderly`` (some), or ``""`` per household."""
    members = np.asarray(members, dtype=float)
    elderly = np.asarray(elderly, dtype=float)
    some = np.nan_to_num(elderly) > 0
    only = some & (np.nan_to_num(elderly) >= np.nan_to_num(members))
    return np.where(only, "elderly_only", np.where(some, "elderly", ""))


def unvisited(ctx: CheckContext) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Households with members aged 60+ not visited within their interval, up to ``as_of``.

    The interval is ``visit_days`` of their category (:func:`visit_category`); a household
    never visited counts from no date at all. Visits after ``as_of`` do not count (a report
    for a past date answers as things stood then).
    """
    days = ctx.settings.visit_days
    hh = ctx.frames["households"]
    category = visit_category(hh["members"].to_numpy(), hh["elderly"].to_numpy())
    end = pd.Timestamp(ctx.as_of) + pd.Timedelta(days=1)
    visits = ctx.frames["visits"]
    at = pd.to_datetime(visits["at"], errors="coerce")
    kept = visits[(at < end).to_numpy()]
    last = pd.to_datetime(kept["at"]).groupby(kept["household_id"].astype(str)).max()
    ids = hh["id"].astype(str).to_numpy()
    seen = last.reindex(pd.Index(ids)).to_numpy()
    grid = ctx.household_grid
    village = texts(hh["village_code"].to_numpy())
    items: list[dict[str, Any]] = []
    counted = dict.fromkeys(days, 0)
    for i in np.flatnonzero(np.isin(category, list(days))):
        cat = str(category[i])
        counted[cat] += 1
        when = pd.Timestamp(seen[i]) if not pd.isna(seen[i]) else None
        gone = None if when is None else int((end - when).days)
        if gone is not None and gone <= days[cat]:
            continue
        items.append(
            {
                "id": ids[i],
                "category": cat,
                "village_code": village[i],
                "grid_code": grid[i],
                "last_visit": None if when is None else when.isoformat(sep=" "),
                "days_since": gone,
            }
        )
    items.sort(key=lambda d: (d["category"] != "elderly_only", d["grid_code"] or "", d["id"]))
    extra = {
        "visit_days": dict(days),
        "households": counted,
        "by_category": {c: sum(d["category"] == c for d in items) for c in days},
    }
    return items, extra
