"""The Huarong sample county: real outline and division names, everything inside synthetic.

``build_sample_county(seed=…)`` makes the same county for the same seed: 14 townships,
203 villages and communities, 1,240 level-2 and 2,860 level-3 grids that tile exactly,
households in hamlets linked to party-member backbone households, service points, a year of
incidents, the county's organisation, and a small set of planted defects recorded in a
manifest. People are fake; see :mod:`gisgrid.sample.names`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.spatial import cKDTree

from gisgrid import __version__
from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.errors import ConfigError
from gisgrid.layers import LAYERS
from gisgrid.sample import extras
from gisgrid.sample.boundaries import (
    COUNTY_CODE,
    COUNTY_NAME,
    SEAT_TOWNSHIP,
    load_boundaries,
)
from gisgrid.sample.county import (
    allocate,
    build_hierarchy,
    geoms_to_lonlat,
    number_and_name,
    to_lonlat_transformer,
    to_metric_transformer,
)
from gisgrid.sample.defects import plant_boundary_defects
from gisgrid.sample.names import person_names, phone_numbers
from gisgrid.sample.people import (
    GROUP_MIN,
    PARTY_MEMBER_SHARE,
    choose_backbones,
    household_attributes,
    link_groups,
    place_in_grids,
)
from gisgrid.stores.base import Store

#: the date the sample's data describe; incidents cover the 12 months before it
SAMPLE_AS_OF = dt.date(2026, 11, 30)
DEFAULT_HOUSEHOLDS = 150_000
MIN_HOUSEHOLDS = 5_000
CREDIT_VILLAGES = 105
CREDIT_HOUSEHOLDS_PER_150K = 15_828
VOLUNTEER_TEAMS = 673
VOLUNTEER_ACTIVITIES = 824
WEAK_VILLAGES = 43
SMOOTHING_M = 25.0  # coverage simplification of level-3 edges, shared edges kept

Progress = Callable[[str], None]


@dataclass
class SampleCounty:
    """The generated layers (canonical frames) and the manifest of planted defects."""

    frames: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    #: the level-3 grid each household was generated in (None for planted outside ones)
    intended_grid: pd.Series


def _multi(geoms: np.ndarray) -> np.ndarray:
    out = np.empty(len(geoms), dtype=object)
    out[:] = [g if g.geom_type == "MultiPolygon" else shapely.MultiPolygon([g]) for g in geoms]
    return out


def _union_children(
    parent_codes: list[str], child_parent: np.ndarray, child_geoms: np.ndarray
) -> np.ndarray:
    out = np.empty(len(parent_codes), dtype=object)
    for i, code in enumerate(parent_codes):
        out[i] = shapely.coverage_union_all(child_geoms[child_parent == code])
    return out


def build_sample_county(
    *,
    seed: int = 2023,
    households: int = DEFAULT_HOUSEHOLDS,
    progress: Progress | None = None,
    boundaries_dir: Path | None = None,
) -> SampleCounty:
    """Generate the sample county.

    Parameters
    ----------
    seed
        Random seed; the same seed and household count give the same county.
    households
        Number of households (at least 5,000 so that every village can be linked).
    progress
        Called with a short message at each step.
    boundaries_dir
        Folder of the derived real boundary files (default ``data/boundaries``).
    """
    if households < MIN_HOUSEHOLDS:
        raise ConfigError(
            f"the sample county needs at least {MIN_HOUSEHOLDS} households, not {households}"
        )
    say = progress or (lambda _msg: None)
    rng = np.random.default_rng(seed)
    say("reading the real outline and division names")
    b = load_boundaries(boundaries_dir)
    say("drawing townships, villages and grids (exact tiling)")
    h = build_hierarchy(b, rng=rng)

    # smooth level-3 edges, keeping shared edges and the outline; rebuild the levels above
    l3_m = shapely.coverage_simplify(h.level3.geoms, SMOOTHING_M, simplify_boundary=False)
    l2_m = _union_children(
        h.level2.table["code"].tolist(), h.level3.table["parent_code"].to_numpy(), l3_m
    )
    v_codes = h.villages.table["code"].tolist()
    v_m = _union_children(v_codes, h.level2.table["village_code"].to_numpy(), l2_m)
    t_codes = h.townships.table["code"].tolist()
    t_m = _union_children(t_codes, h.villages.table["township_code"].to_numpy(), v_m)

    say("converting to EPSG:4326")
    to_ll = to_lonlat_transformer()
    tr_m = to_metric_transformer()
    t_ll = _multi(geoms_to_lonlat(t_m))
    v_ll = _multi(geoms_to_lonlat(v_m))
    l2_ll = _multi(geoms_to_lonlat(l2_m))
    l3_clean_ll = geoms_to_lonlat(l3_m)
    l2_table, l3_table = number_and_name(
        h.villages.table, h.level2.table, h.level3.table, l2_ll, l3_clean_ll
    )
    l2_codes = l2_table["code"].tolist()

    say("planting boundary defects")
    kind_of_village = dict(zip(v_codes, h.villages.table["kind"], strict=True))
    rural = (l3_table["village_code"].map(kind_of_village) == "village").to_numpy() & (
        shapely.area(l3_m) > 150_000
    )
    l3_planted, defects = plant_boundary_defects(
        l3_clean_ll,
        l3_table,
        rural=rural,
        rng=rng,
        to_m=lambda g: _apply(g, tr_m),
        to_ll=lambda g: _apply(g, to_ll),
    )
    l3_ll = _multi(l3_planted)
    discs_ll = np.asarray(defects.discs, dtype=object)
    forbidden = shapely.union_all(shapely.buffer(discs_ll, 0.00002))
    gaps_ll = np.asarray(defects.gap_polygons, dtype=object)

    # --- grids with their responsible persons (格上定人) -------------------------------
    say("staffing the grids")
    vt = h.villages.table
    n1, n2, n3 = len(vt), len(l2_table), len(l3_table)
    grid_frame = pd.DataFrame(
        {
            "code": vt["code"].tolist() + l2_codes + l3_table["code"].tolist(),
            "level": [1] * n1 + [2] * n2 + [3] * n3,
            "parent_code": [None] * n1 + [None] * n2 + l3_table["parent_code"].tolist(),
            "village_code": vt["code"].tolist()
            + l2_table["village_code"].tolist()
            + l3_table["village_code"].tolist(),
            "name": vt["name"].tolist() + l2_table["name"].tolist() + l3_table["name"].tolist(),
        }
    )
    grid_frame.loc[n1 : n1 + n2 - 1, "parent_code"] = l2_table["village_code"].to_numpy()
    n_grids = len(grid_frame)
    grid_frame["responsible_name"] = person_names(rng, n_grids)
    grid_frame["responsible_phone"] = phone_numbers(rng, n_grids)
    kinds = grid_frame["village_code"].map(kind_of_village)
    grid_frame["responsible_role"] = np.select(
        [grid_frame["level"] == 1, grid_frame["level"] == 2],
        [
            np.where(kinds == "community", "网格长（社区党组织书记）", "网格长（村党组织书记）"),
            "二级网格长（党支部书记）",
        ],
        "网格员（党小组长）",
    )
    grid_frame["valid_from"] = pd.Timestamp("2021-03-01")
    grid_frame["valid_to"] = pd.NaT
    unstaffed = list(rng.choice(np.arange(n1 + n2, n_grids), size=5, replace=False))
    unstaffed.append(int(rng.integers(n1, n1 + n2)))
    grid_frame.loc[unstaffed, ["responsible_name", "responsible_phone", "responsible_role"]] = None
    grid_geoms = np.concatenate([v_ll, l2_ll, l3_ll])
    grids = gpd.GeoDataFrame(grid_frame, geometry=list(grid_geoms), crs=crsmod.STORAGE_CRS)

    townships = gpd.GeoDataFrame(
        h.townships.table[["code", "name"]], geometry=list(t_ll), crs=crsmod.STORAGE_CRS
    )

    # --- households --------------------------------------------------------------------
    say(f"placing {households:,} households in hamlets")
    w = rng.lognormal(0.0, 0.3, n3)
    # every grid can link its own households when there are enough to go round
    least = min(GROUP_MIN, households // n3)
    counts = allocate(households, w, np.full(n3, least), np.full(n3, households))
    urban = (l3_table["village_code"].map(kind_of_village) == "community").to_numpy()
    sigma = np.where(urban, 45.0, 90.0)
    centres = [h.mesh.centroids[c] for c in h.level3.cells]
    n_outside = 8
    counts_inner = counts.copy()
    # the planted outside households come out of the total
    for _ in range(n_outside):
        counts_inner[int(np.argmax(counts_inner))] -= 1
    placed = place_in_grids(counts_inner, l3_ll, centres, sigma, forbidden, to_ll, rng)
    # households in the planted gaps: outside every level-3 grid
    out_ll: list[np.ndarray] = []
    for gap in gaps_ll:
        shapely.prepare(gap)
    gap_grid = [str(d["grid_code"]) for d in defects.gaps]
    out_village: list[str] = []
    out_near: list[str] = []  # the grid each outside household sits beside, for linking
    l3_tree = shapely.STRtree(l3_ll)
    k = 0
    while len(out_ll) < n_outside:
        gi = k % len(gaps_ll)
        k += 1
        x0, y0, x1, y1 = gaps_ll[gi].bounds
        p = rng.uniform([x0, y0], [x1, y1])
        if not shapely.contains_xy(gaps_ll[gi], p[0], p[1]):
            continue
        if len(l3_tree.query(shapely.Point(p), predicate="intersects")):
            continue
        out_ll.append(p)
        out_village.append(gridcodes.village_of(gap_grid[gi]))
        out_near.append(gap_grid[gi])
    grid_idx = placed.grid
    lonlat = np.vstack([placed.lonlat, np.asarray(out_ll)])
    xy = np.column_stack(tr_m.transform(lonlat[:, 0], lonlat[:, 1]))
    n_hh = len(lonlat)
    l3_codes = l3_table["code"].to_numpy()
    intended = np.concatenate([l3_codes[grid_idx], np.full(n_outside, None, dtype=object)])
    village_of = np.concatenate(
        [l3_table["village_code"].to_numpy()[grid_idx], np.asarray(out_village, dtype=object)]
    )
    # ids in grid order, so neighbours have neighbouring ids
    order = np.lexsort((xy[:, 0], np.asarray([c or "~" for c in intended], dtype=object)))
    lonlat, xy, intended, village_of = lonlat[order], xy[order], intended[order], village_of[order]
    grid_sort = np.asarray([c or "~" for c in intended])
    hh = household_attributes(rng, n_hh)
    hh.insert(0, "id", [f"H{i + 1:07d}" for i in range(n_hh)])
    hh["village_code"] = village_of
    group_no = dict(zip(l3_table["code"], l3_table["group_no"], strict=True))
    vname = dict(zip(vt["code"], vt["name"], strict=True))
    seq = pd.Series(grid_sort).groupby(grid_sort).cumcount().to_numpy() + 1
    hh["house_number"] = [
        f"{vname[v]}{group_no[g]}组{s}号" if g is not None else f"{vname[v]}{s}号"
        for v, g, s in zip(village_of, intended, seq, strict=True)
    ]

    say("linking households to party-member backbone households")
    near = np.concatenate([l3_codes[grid_idx], np.asarray(out_near, dtype=object)])[order]
    group = link_groups(village_of, near, xy)
    backbone_of_group = choose_backbones(group, xy)
    is_backbone = np.zeros(n_hh, dtype=bool)
    is_backbone[backbone_of_group] = True
    backbone_id: np.ndarray = np.asarray(
        np.where(is_backbone, None, hh["id"].to_numpy()[backbone_of_group[group]]), dtype=object
    )
    party = is_backbone | (rng.random(n_hh) < PARTY_MEMBER_SHARE)

    # --- planted household defects ----------------------------------------------------
    say("planting linkage and registration defects")
    linked_count = np.bincount(group[~is_backbone], minlength=len(backbone_of_group))
    rural_hh = np.asarray([kind_of_village[v] == "village" for v in village_of])
    inside = np.asarray([c is not None for c in intended])
    under: list[dict[str, Any]] = []
    over: list[dict[str, Any]] = []
    taken_groups: set[int] = set()
    taken_villages: set[str] = set()
    # move members from a group A to a near group B of the same village (backbones within
    # 600 m, so every moved link stays far below the checks' longest-link limit)
    bb_xy = xy[backbone_of_group]
    bb_village = village_of[backbone_of_group]
    dist, nn = cKDTree(bb_xy).query(bb_xy, k=min(8, len(bb_xy)))
    cand_pairs: list[tuple[int, int]] = []
    for a in range(len(backbone_of_group)):
        if intended[backbone_of_group[a]] is None or not rural_hh[backbone_of_group[a]]:
            continue
        for d, near_group in zip(dist[a, 1:], nn[a, 1:], strict=True):
            g = int(near_group)
            if d > 600:
                break
            if bb_village[g] == bb_village[a] and linked_count[a] + linked_count[g] >= 15:
                cand_pairs.append((a, g))
                break
    for idx in rng.permutation(len(cand_pairs)):
        a, b_ = cand_pairs[int(idx)]
        va = village_of[backbone_of_group[a]]
        if va in taken_villages or {a, b_} & taken_groups:
            continue
        members_a = np.flatnonzero((group == a) & ~is_backbone & inside)
        move = members_a[: linked_count[a] - 3]
        backbone_id[move] = str(hh["id"].iat[int(backbone_of_group[b_])])
        group[move] = b_
        linked_count[a] -= len(move)
        linked_count[b_] += len(move)
        under.append(
            {"backbone_id": hh["id"].iat[int(backbone_of_group[a])], "linked": int(linked_count[a])}
        )
        over.append(
            {
                "backbone_id": str(hh["id"].iat[int(backbone_of_group[b_])]),
                "linked": int(linked_count[b_]),
            }
        )
        taken_groups.update((a, b_))
        taken_villages.add(va)
        if len(under) == 3:
            break
    unlinked: list[str] = []
    for gi in rng.permutation(len(backbone_of_group)):
        gi = int(gi)
        if gi in taken_groups or linked_count[gi] < 7:
            continue
        members = np.flatnonzero((group == gi) & ~is_backbone & inside)
        if not len(members):
            continue
        m = int(members[-1])
        backbone_id[m] = None
        group[m] = -1
        linked_count[gi] -= 1
        taken_groups.add(gi)
        unlinked.append(str(hh["id"].iat[m]))
        if len(unlinked) == 12:
            break
    mismatch: list[dict[str, str]] = []
    v_tree = shapely.STRtree(v_ll)
    v_index = {c: i for i, c in enumerate(v_codes)}
    for i in rng.permutation(np.flatnonzero(inside & ~is_backbone)):
        i = int(i)
        here = village_of[i]
        neighbours = [
            v_codes[int(j)]
            for j in v_tree.query(v_ll[v_index[here]], predicate="touches")
            if v_codes[int(j)] != here
        ]
        if not neighbours or hh["id"].iat[i] in unlinked:
            continue
        registered = neighbours[int(rng.integers(len(neighbours)))]
        hh.loc[i, "village_code"] = registered
        mismatch.append({"id": str(hh["id"].iat[i]), "registered": registered, "located": here})
        if len(mismatch) == 10:
            break

    hh["party_member"] = party
    hh["backbone"] = is_backbone
    hh["backbone_id"] = backbone_id
    # credit households (信用户), mostly in credit villages (信用村)
    rural_villages = [c for c in v_codes if kind_of_village[c] == "village"]
    credit_villages = set(rng.choice(rural_villages, size=CREDIT_VILLAGES, replace=False))
    n_credit = round(CREDIT_HOUSEHOLDS_PER_150K * households / DEFAULT_HOUSEHOLDS)
    in_cv = np.asarray([v in credit_villages for v in village_of])
    p = np.where(in_cv, 6.0, 1.0)
    credit_idx = rng.choice(n_hh, size=n_credit, replace=False, p=p / p.sum())
    rating = np.full(n_hh, None, dtype=object)
    rating[credit_idx] = rng.choice(["AAA", "AA", "A"], size=n_credit, p=[0.2, 0.45, 0.35])
    hh["credit_rating"] = rating
    hh["grid_code"] = None
    households_gdf = gpd.GeoDataFrame(
        hh, geometry=gpd.points_from_xy(lonlat[:, 0], lonlat[:, 1]), crs=crsmod.STORAGE_CRS
    )

    villages = gpd.GeoDataFrame(
        {
            "code": vt["code"],
            "name": vt["name"],
            "township_code": vt["township_code"],
            "kind": vt["kind"],
            "credit_village": vt["code"].isin(credit_villages),
        },
        geometry=list(v_ll),
        crs=crsmod.STORAGE_CRS,
    )

    # --- service points ---------------------------------------------------------------
    say("placing service points, incidents and volunteer teams")
    clean_l3 = np.ones(n3, dtype=bool)
    touched: set[str] = set()
    for d in defects.gaps + defects.nesting:
        touched.add(d["grid_code"])
    for d in defects.overlaps:
        touched.update(d["grid_codes"])
    for d in defects.gaps + defects.nesting:
        touched.add(str(d.get("neighbour_code") or d.get("into_code")))
    clean_l3 &= ~np.isin(l3_codes, list(touched))
    hh_per_grid = pd.Series(intended[inside]).value_counts()
    l3_pop = pd.Series(l3_codes).map(hh_per_grid).fillna(0).to_numpy()
    sp_rows: list[dict[str, Any]] = []
    sp_pts: list[shapely.Point] = []
    l3_village = l3_table["village_code"].to_numpy()
    village_centre_grid: dict[str, int] = {}
    for v in v_codes:
        idx = np.flatnonzero((l3_village == v) & clean_l3)
        top = idx[np.argsort(-l3_pop[idx], kind="stable")]
        village_centre_grid[v] = int(top[0])
        sp_rows.append(
            {
                "id": f"SPV{v}",
                "kind": "village_centre",
                "name": f"{vname[v]}党群服务中心（一门式便民服务站）",
                "village_code": v,
                "watcher": person_names(rng, 1)[0],
            }
        )
        sp_pts.append(shapely.point_on_surface(l3_ll[top[0]].geoms[0]))
        second = int(top[1]) if len(top) > 1 else int(top[0])
        sp_rows.append(
            {
                "id": f"SPC{v}",
                "kind": "clinic",
                "name": f"{vname[v]}卫生室",
                "village_code": v,
                "watcher": person_names(rng, 1)[0],
            }
        )
        sp_pts.append(_inner_point(l3_ll[second], rng, forbidden))
    tname = dict(zip(t_codes, h.townships.table["name"], strict=True))
    for t in t_codes:
        tv = [v for v in v_codes if v.startswith(t)]
        tv_comm = [v for v in tv if kind_of_village[v] == "community"] or tv
        home = tv_comm[0]
        gi = village_centre_grid[home]
        sp_rows.append(
            {
                "id": f"SPT{t}",
                "kind": "township_centre",
                "name": f"{tname[t]}便民服务中心（一门式）",
                "village_code": home,
                "watcher": person_names(rng, 1)[0],
            }
        )
        sp_pts.append(_inner_point(l3_ll[gi], rng, forbidden))
        sp_rows.append(
            {
                "id": f"SPB{t}",
                "kind": "volunteer_base",
                "name": f"{tname[t]}新时代文明实践所（志愿服务站）",
                "village_code": home,
                "watcher": person_names(rng, 1)[0],
            }
        )
        sp_pts.append(_inner_point(l3_ll[gi], rng, forbidden))
    # the report's village with four 岁月港湾 elder-care points, each with a watcher
    elder_village = rural_villages[int(rng.integers(len(rural_villages)))]
    ev_grids = np.flatnonzero((l3_village == elder_village) & clean_l3)[:4]
    for j, gi in enumerate(ev_grids, start=1):
        sp_rows.append(
            {
                "id": f"SPE{j:02d}",
                "kind": "elder_care",
                "name": f"{vname[elder_village]}岁月港湾网格点{j}",
                "village_code": elder_village,
                "watcher": person_names(rng, 1)[0],
            }
        )
        sp_pts.append(_inner_point(l3_ll[int(gi)], rng, forbidden))
    service_points = gpd.GeoDataFrame(sp_rows, geometry=sp_pts, crs=crsmod.STORAGE_CRS)
    service_points["grid_code"] = None

    # --- incidents ---------------------------------------------------------------------
    n_inc = round(households * 0.02)
    hotspots = set(rng.choice(v_codes, size=6, replace=False))
    hot = np.asarray([v in hotspots for v in village_of]) & inside
    p = np.where(hot, 8.0, 1.0) * inside
    src = rng.choice(n_hh, size=n_inc, p=p / p.sum())
    problem_villages = set(rng.choice(v_codes, size=85, replace=False)) | hotspots
    clean_villages = set(v_codes) - problem_villages
    inc_village = np.asarray(
        [gridcodes.village_of(intended[i]) for i in src]  # where it happened, not where registered
    )
    kinds_inc = extras.incident_kinds(rng, n_inc, inc_village, clean_villages)
    times, status = extras.incident_times_and_status(rng, n_inc, SAMPLE_AS_OF)
    inc_pts = _jitter_within(src, xy, intended, l3_ll, l3_codes, forbidden, to_ll, rng)
    incidents = gpd.GeoDataFrame(
        {
            "id": [f"E{i + 1:06d}" for i in range(n_inc)],
            "kind": kinds_inc,
            "reported_at": times.to_numpy(),
            "status": status,
            "description": extras.incident_descriptions(rng, kinds_inc),
            "grid_code": None,
        },
        geometry=gpd.points_from_xy(inc_pts[:, 0], inc_pts[:, 1]),
        crs=crsmod.STORAGE_CRS,
    )

    # --- organisation ------------------------------------------------------------------
    leaders, leader_townships = extras.county_leaders(rng, t_codes)
    weak = list(
        rng.choice(sorted(set(rural_villages) - credit_villages), size=WEAK_VILLAGES, replace=False)
    )
    urban_communities = vt.loc[vt["urban"], "code"].tolist()
    pairs = extras.pairings(rng, weak, urban_communities)
    secretaries = extras.first_secretaries(rng, weak, SAMPLE_AS_OF)
    village_hh = pd.Series(village_of[inside]).value_counts().reindex(v_codes).fillna(0)
    teams_per_village = allocate(
        VOLUNTEER_TEAMS,
        village_hh.to_numpy() + 1.0,
        np.ones(len(v_codes), dtype=np.int64),
        np.full(len(v_codes), 20),
    )
    team_rows: list[dict[str, Any]] = []
    team_pts: list[shapely.Point] = []
    for v, kv in zip(v_codes, teams_per_village, strict=True):
        for j in range(int(kv)):
            team_rows.append(
                {
                    "id": f"VT{len(team_rows) + 1:04d}",
                    "name": f"{vname[v]}长工精神党员志愿服务队"
                    + (f"第{j + 1}分队" if kv > 1 else ""),
                    "village_code": v,
                    "leader_name": person_names(rng, 1)[0],
                    "members": int(rng.integers(10, 22)),
                }
            )
            team_pts.append(_inner_point(l3_ll[village_centre_grid[v]], rng, forbidden))
    teams = gpd.GeoDataFrame(team_rows, geometry=team_pts, crs=crsmod.STORAGE_CRS)
    act_team = rng.integers(0, len(teams), size=VOLUNTEER_ACTIVITIES)
    act_days = rng.uniform(0, 365, size=VOLUNTEER_ACTIVITIES)
    activities = gpd.GeoDataFrame(
        {
            "id": [f"VA{i + 1:05d}" for i in range(VOLUNTEER_ACTIVITIES)],
            "team_id": teams["id"].to_numpy()[act_team],
            "kind": rng.choice(extras.ACTIVITY_KINDS, size=VOLUNTEER_ACTIVITIES),
            "held_on": (pd.Timestamp(SAMPLE_AS_OF) - pd.to_timedelta(act_days, unit="D"))
            .normalize()
            .to_numpy(),
            "participants": rng.integers(5, 40, size=VOLUNTEER_ACTIVITIES),
        },
        geometry=teams.geometry.to_numpy()[act_team],
        crs=crsmod.STORAGE_CRS,
    )

    raw = {
        "townships": townships,
        "villages": villages,
        "grids": grids,
        "households": households_gdf,
        "service_points": service_points,
        "incidents": incidents,
        "county_leaders": leaders,
        "leader_townships": leader_townships,
        "pairings": pairs,
        "first_secretaries": secretaries,
        "volunteer_teams": teams,
        "volunteer_activities": activities,
    }
    say("checking every layer against its declaration")
    frames = {name: LAYERS[name].validate(frame) for name, frame in raw.items()}

    def lonlat_of(geom: shapely.Geometry) -> list[float]:
        c = shapely.point_on_surface(geom)
        return [round(c.x, 6), round(c.y, 6)]

    gaps_out = [
        {**d, "area_m2": round(float(d["area_m2"]), 1), "point": lonlat_of(g)}
        for d, g in zip(defects.gaps, gaps_ll, strict=True)
    ]
    manifest: dict[str, Any] = {
        "about": "Huarong County (华容县) sample: real outline and division names; "
        "everything inside is synthetic, people are fake.",
        "county": {"code": COUNTY_CODE, "name": COUNTY_NAME, "seat_township": SEAT_TOWNSHIP},
        "generator": f"gisgrid {__version__}",
        "seed": seed,
        "households": households,
        "as_of": SAMPLE_AS_OF.isoformat(),
        "counts": {name: len(f) for name, f in frames.items()}
        | {f"grids_level_{lv}": int((frames["grids"]["level"] == lv).sum()) for lv in (1, 2, 3)},
        "defects": {
            "gaps": gaps_out,
            "overlaps": [{**d, "area_m2": round(float(d["area_m2"]), 1)} for d in defects.overlaps],
            "nesting": [
                {**d, "outside_area_m2": round(float(d["outside_area_m2"]), 1)}
                for d in defects.nesting
            ],
            "households_outside": sorted(hh["id"].to_numpy()[~inside].tolist()),
            "village_mismatch": sorted(mismatch, key=lambda m: m["id"]),
            "linkage_under": sorted(under, key=lambda m: m["backbone_id"]),
            "linkage_over": sorted(over, key=lambda m: m["backbone_id"]),
            "unlinked": sorted(unlinked),
            "unstaffed_grids": sorted(grid_frame.loc[unstaffed, "code"].tolist()),
        },
        "facts": {
            "urban_communities": sorted(urban_communities),
            "credit_villages": sorted(credit_villages),
            "weak_villages": sorted(weak),
            "elder_care_village": elder_village,
            "incident_hotspot_villages": sorted(hotspots),
            "six_no_clean_villages": sorted(clean_villages),
        },
    }
    return SampleCounty(frames, _jsonable(manifest), pd.Series(intended, index=hh["id"]))


def _apply(geom: Any, transformer: Any) -> Any:
    return shapely.transform(
        geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def _inner_point(
    poly: shapely.Geometry, rng: np.random.Generator, forbidden: shapely.Geometry
) -> shapely.Point:
    """A random point well inside ``poly`` and outside ``forbidden``."""
    x0, y0, x1, y1 = poly.bounds
    for _ in range(500):
        p = rng.uniform([x0, y0], [x1, y1])
        if shapely.contains_xy(poly, *p) and not shapely.contains_xy(forbidden, *p):
            return shapely.Point(p)
    return shapely.point_on_surface(poly)


def _jitter_within(
    src: np.ndarray,
    xy: np.ndarray,
    intended: np.ndarray,
    l3_ll: np.ndarray,
    l3_codes: np.ndarray,
    forbidden: shapely.Geometry,
    to_ll: Any,
    rng: np.random.Generator,
) -> np.ndarray:
    """Points up to 40 m from the source households, inside the same grid."""
    pos = {c: i for i, c in enumerate(l3_codes)}
    cand = xy[src] + rng.uniform(-40, 40, size=(len(src), 2))
    lon, lat = to_ll.transform(cand[:, 0], cand[:, 1])
    out = np.column_stack([lon, lat])
    gx, gy = to_ll.transform(xy[src, 0], xy[src, 1])
    for k, i in enumerate(src):
        poly = l3_ll[pos[intended[i]]]
        if not shapely.contains_xy(poly, out[k, 0], out[k, 1]) or shapely.contains_xy(
            forbidden, out[k, 0], out[k, 1]
        ):
            out[k] = (gx[k], gy[k])  # at the household itself
    return out


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=_json_default, ensure_ascii=False))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def write_sample_county(store: Store, county: SampleCounty) -> Path | None:
    """Write every layer and the manifest to ``store`` in one transaction.

    The manifest also goes into a JSON file next to a GeoPackage store
    (``<store>.manifest.json``); its path is returned.
    """
    store.write(county.frames, mode="replace", meta={"sample_manifest": county.manifest})
    path = getattr(store, "path", None)
    if path is None:
        return None
    manifest_path = Path(path).with_suffix(".manifest.json")
    manifest_path.write_text(
        json.dumps(county.manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest_path


__all__ = ["SAMPLE_AS_OF", "SampleCounty", "build_sample_county", "write_sample_county"]
