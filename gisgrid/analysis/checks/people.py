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

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import shapely

from gisgrid.analysis import assign as assignmod
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


def unvisited_households(
    households: pd.DataFrame,
    visits: pd.DataFrame,
    *,
    as_of: dt.date,
    visit_days: Mapping[str, int],
) -> pd.DataFrame:
    """The one rule of check 12: households not visited within their interval, up to ``as_of``.

    A household's interval is ``visit_days`` of its category (:func:`visit_category`:
    ``elderly_only`` or ``elderly``; other households are not reported). It is overdue when
    its last visit up to the end of ``as_of`` is more than that many days before the end of
    ``as_of``, or when it was never visited. Visits after ``as_of`` do not count (a report
    for a past date answers as things stood then). The check, the maps' layer and the
    figures all read this function.

    Parameters
    ----------
    households
        ``id``, ``members``, ``elderly`` (any other columns are kept).
    visits
        ``household_id``, ``at`` (of these households or more).
    as_of
        The day the answer is for.
    visit_days
        Days per category (:attr:`gisgrid.settings.CheckSettings.visit_days`).

    Returns
    -------
    pandas.DataFrame
        The overdue households' rows of ``households`` (their index kept) with
        ``category``, ``last_visit`` (a timestamp or NaT) and ``days_since`` (whole days
        since it, ``None``: never visited).
    """
    category = visit_category(households["members"].to_numpy(), households["elderly"].to_numpy())
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    at = pd.to_datetime(visits["at"], errors="coerce")
    kept = visits[(at < end).to_numpy()]
    last = pd.to_datetime(kept["at"]).groupby(kept["household_id"].astype(str)).max()
    seen = last.reindex(pd.Index(households["id"].astype(str))).to_numpy()
    limit = np.full(len(category), -1.0)
    for name, days in visit_days.items():
        limit[category == name] = days
    counted = np.isin(category, list(visit_days))
    gone = np.full(len(households), np.nan)
    visited = ~pd.isna(seen)
    if visited.any():
        gone[visited] = ((end - pd.DatetimeIndex(seen[visited])).days).to_numpy(dtype=float)
    due = counted & (~visited | (gone > limit))
    out = households[due].copy()
    out["category"] = category[due]
    out["last_visit"] = pd.DatetimeIndex(seen[due])
    out["days_since"] = pd.Series(
        [None if np.isnan(g) else int(g) for g in gone[due]], index=out.index, dtype=object
    )
    return out


def unvisited(ctx: CheckContext) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Households with members aged 60+ not visited within their interval, up to ``as_of``
    (:func:`unvisited_households`, the one rule)."""
    days = ctx.settings.visit_days
    hh = ctx.frames["households"]
    category = visit_category(hh["members"].to_numpy(), hh["elderly"].to_numpy())
    # only the columns it reports (not the rows whole: 55,000 late households of 150,000)
    late = unvisited_households(
        hh[["id", "members", "elderly"]], ctx.frames["visits"], as_of=ctx.as_of, visit_days=days
    )
    rows = hh.index.get_indexer(late.index)
    grid = ctx.household_grid
    village = texts(hh["village_code"].to_numpy())
    items: list[dict[str, Any]] = []
    for i, id_, cat, when, since in zip(
        rows,
        late["id"].tolist(),
        late["category"].tolist(),
        late["last_visit"].tolist(),
        late["days_since"].tolist(),
        strict=True,
    ):
        items.append(
            {
                "id": str(id_),
                "category": str(cat),
                "village_code": village[i],
                "grid_code": grid[i],
                "last_visit": None if pd.isna(when) else pd.Timestamp(when).isoformat(sep=" "),
                "days_since": since,
            }
        )
    items.sort(key=lambda d: (d["category"] != "elderly_only", d["grid_code"] or "", d["id"]))
    extra = {
        "visit_days": dict(days),
        "households": {c: int((category == c).sum()) for c in days},
        "by_category": {c: sum(d["category"] == c for d in items) for c in days},
    }
    return items, extra


#: the kind of service point whose watchers (党员守望者) look after the elders of its grid
CARE_POINT_KIND = "elder_care"


def week_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """The week holding ``day``: its Monday and its Sunday (county local dates)."""
    monday = day - dt.timedelta(days=day.weekday())
    return monday, monday + dt.timedelta(days=6)


def watched_elders(
    households: pd.DataFrame, grids: np.ndarray, points: pd.DataFrame, point_grids: np.ndarray
) -> pd.DataFrame:
    """The elders in the care of a 岁月港湾 watcher: households with a member aged 60+ in the
    level-3 grid of an elder-care point (岁月港湾网格点).

    The link between a watcher and the elders is the point's grid: a 岁月港湾 point is a
    网格点, its watcher looks after the elders of the grid it stands in (both placed by the
    one rule, :func:`gisgrid.analysis.assign.current_grid_codes`).

    Parameters
    ----------
    households
        ``id``, ``elderly`` (other columns kept).
    grids
        Each household's level-3 grid now (``None``: in none).
    points
        Service points (``id``, ``kind``, ``name``).
    point_grids
        Each service point's level-3 grid now.

    Returns
    -------
    pandas.DataFrame
        The rows of ``households`` watched, with ``grid`` and ``care_point_id`` (the
        smallest id of the grid's elder-care points) and ``care_point`` (its name).
    """
    care = points["kind"].astype(str).to_numpy() == CARE_POINT_KIND
    names = points["name"] if "name" in points.columns else points["id"]
    by_grid: dict[str, tuple[str, str]] = {}
    for pid, name, grid in sorted(
        zip(points["id"][care], names[care], np.asarray(point_grids)[care], strict=True),
        key=lambda p: str(p[0]),
    ):
        if isinstance(grid, str) and grid not in by_grid:
            by_grid[grid] = (str(pid), str(name))
    grid_of = np.asarray(grids, dtype=object)
    elderly = np.nan_to_num(np.asarray(households["elderly"], dtype=float)) > 0
    watched = elderly & np.array([g in by_grid for g in grid_of], dtype=bool)
    out = households[watched].copy()
    out["grid"] = grid_of[watched]
    out["care_point_id"] = [by_grid[g][0] for g in grid_of[watched]]
    out["care_point"] = [by_grid[g][1] for g in grid_of[watched]]
    return out


def not_visited_this_week(
    watched: pd.DataFrame, visits: pd.DataFrame, *, as_of: dt.date
) -> pd.DataFrame:
    """The watched elders with no visit recorded in the week of ``as_of`` up to its end.

    The week runs Monday 00:00 to Sunday 24:00, county local time (visits are stored in
    local time); on a Wednesday the visits of Monday to Wednesday count, and a visit dated
    after ``as_of`` does not (a report for a past day answers as things stood then).

    Returns
    -------
    pandas.DataFrame
        The rows of ``watched`` not visited, with ``last_visit`` (their last visit before,
        NaT: never).
    """
    monday, _ = week_of(as_of)
    start = pd.Timestamp(monday)
    end = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    at = pd.to_datetime(visits["at"], errors="coerce")
    ids = visits["household_id"].astype(str)
    kept = (at < end).to_numpy()
    this_week = set(ids[kept & (at >= start).to_numpy()])
    last = at[kept].groupby(ids[kept]).max()
    wid = watched["id"].astype(str)
    out = watched[~wid.isin(this_week).to_numpy()].copy()
    out["last_visit"] = pd.DatetimeIndex(last.reindex(pd.Index(out["id"].astype(str))).to_numpy())
    return out


def watched_unvisited(ctx: CheckContext) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Check 13: elders in the care of a 岁月港湾 watcher not visited in the week of ``as_of``."""
    hh = ctx.frames["households"]
    points = ctx.frames["service_points"]
    point_grids = assignmod.current_grid_codes(points.geometry, ctx.frames["grids"])
    watched = watched_elders(hh, ctx.household_grid, points, point_grids)
    late = not_visited_this_week(watched, ctx.frames["visits"], as_of=ctx.as_of)
    village = dict(zip(hh["id"].astype(str), texts(hh["village_code"].to_numpy()), strict=True))
    items = [
        {
            "id": str(rec["id"]),
            "care_point_id": rec["care_point_id"],
            "care_point": rec["care_point"],
            "village_code": village.get(str(rec["id"])),
            "grid_code": rec["grid"],
            "last_visit": None
            if pd.isna(rec["last_visit"])
            else pd.Timestamp(rec["last_visit"]).isoformat(sep=" "),
        }
        for rec in late.to_dict("records")
    ]
    items.sort(key=lambda d: (d["care_point_id"], d["id"]))
    monday, sunday = week_of(ctx.as_of)
    extra = {
        "week": [monday.isoformat(), sunday.isoformat()],
        "watched": len(watched),
        "by_point": {
            str(p): sum(d["care_point_id"] == p for d in items)
            for p in sorted(set(watched["care_point_id"]))
        },
    }
    return items, extra
