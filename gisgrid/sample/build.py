"""Build the sample county in named steps: grids, households, services, incidents, organisation.

:func:`build_sample_county` runs the steps in a fixed order on one random generator, so the
same seed and household count give the same county; each step draws from the generator in
turn, and changing the order (or adding a draw) changes every step after it.

1. :func:`_draw_grids`: the real outline split into townships, villages, level-2 and level-3
   grids (exact tiling), smoothed, numbered, with the planted boundary defects.
2. :func:`_staff_grids`: every grid's responsible person (格上定人), some left unstaffed.
3. :func:`_place_households` and :func:`_link_households`: households in hamlets, linked to
   party-member backbone households; :func:`_plant_household_defects` breaks a few links and
   registrations on purpose; :func:`_choose_credit_households` rates some.
4. :func:`_place_service_points`: village, clinic, township, volunteer and elder-care points.
5. :func:`_report_incidents`: a year of incidents, sparing the six-no villages.
6. :func:`_organise`: county leaders, pairings, first secretaries, volunteer teams.
7. :func:`_manifest`: what was planted and chosen, for the tests and the checks.
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
from pyproj import Transformer
from scipy.spatial import cKDTree

from gisgrid import __version__
from gisgrid import codes as gridcodes
from gisgrid import crs as crsmod
from gisgrid.analysis.assign import assign_points
from gisgrid.errors import ConfigError
from gisgrid.layers import LAYERS
from gisgrid.sample import extras
from gisgrid.sample.boundaries import (
    CountyBoundaries,
    load_boundaries,
    load_county_boundaries,
)
from gisgrid.sample.county import (
    Hierarchy,
    allocate,
    build_hierarchy,
    geoms_to_lonlat,
    number_and_name,
    to_lonlat_transformer,
    to_metric_transformer,
)
from gisgrid.sample.defects import BoundaryDefects, plant_boundary_defects
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
CREDIT_HOUSEHOLDS_PER_150K = 15_828
SMOOTHING_M = 25.0  # coverage simplification of level-3 edges, shared edges kept
#: households planted in the boundary gaps, outside every level-3 grid
HOUSEHOLDS_OUTSIDE = 8

Progress = Callable[[str], None]


@dataclass
class SampleCounty:
    """The generated layers (canonical frames) and the manifest of planted defects."""

    frames: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    #: the level-3 grid each household was generated in (None for planted outside ones)
    intended_grid: pd.Series


@dataclass
class _Grids:
    """Step 1's boundaries in EPSG:4326, and what the later steps read of them."""

    county: CountyBoundaries
    #: put before every generated id (households, incidents, points…): "" in one county
    ids: str
    hierarchy: Hierarchy
    townships_ll: np.ndarray
    villages_ll: np.ndarray
    level2_ll: np.ndarray
    level2: pd.DataFrame
    #: level-3 grids with the planted defects
    level3_ll: np.ndarray
    level3: pd.DataFrame
    defects: BoundaryDefects
    gaps_ll: np.ndarray
    #: where no generated point may fall (around the planted defects)
    forbidden: shapely.Geometry
    to_lonlat: Transformer
    to_metric: Transformer

    @property
    def villages(self) -> pd.DataFrame:
        """``code, name, township_code, kind, urban`` of the selected villages."""
        return self.hierarchy.villages.table

    @property
    def village_codes(self) -> list[str]:
        return self.villages["code"].tolist()

    @property
    def township_codes(self) -> list[str]:
        return self.hierarchy.townships.table["code"].tolist()

    @property
    def level3_codes(self) -> np.ndarray:
        return self.level3["code"].to_numpy()

    @property
    def kind_of_village(self) -> dict[str, str]:
        return dict(zip(self.villages["code"], self.villages["kind"], strict=True))

    @property
    def village_names(self) -> dict[str, str]:
        return dict(zip(self.villages["code"], self.villages["name"], strict=True))

    @property
    def rural_villages(self) -> list[str]:
        kind = self.kind_of_village
        return [c for c in self.village_codes if kind[c] == "village"]


@dataclass
class _Households:
    """Step 3's households, in id order (ids follow the grids, so neighbours are near)."""

    table: pd.DataFrame
    lonlat: np.ndarray
    xy: np.ndarray
    #: the level-3 grid each was generated in, None for the planted outside ones
    intended: np.ndarray
    #: the village each stands in (the registered one may differ: planted mismatches)
    village_of: np.ndarray
    #: the grid each stands in or beside (for linking the outside ones)
    near: np.ndarray

    @property
    def inside(self) -> np.ndarray:
        return np.asarray([c is not None for c in self.intended])


@dataclass
class _Links:
    """Households linked to backbone households: one group per backbone household."""

    #: per household its group (-1: planted unlinked)
    group: np.ndarray
    #: per group the index of its backbone household
    backbone_of_group: np.ndarray
    is_backbone: np.ndarray
    #: per household its backbone household's id (None for backbones and the unlinked)
    backbone_id: np.ndarray
    party_member: np.ndarray


@dataclass
class _HouseholdDefects:
    """The planted linkage and registration defects, as the manifest lists them."""

    under: list[dict[str, Any]]
    over: list[dict[str, Any]]
    unlinked: list[str]
    mismatch: list[dict[str, str]]


@dataclass
class _ServicePoints:
    frame: gpd.GeoDataFrame
    #: per village, the level-3 grid (index) of its service centre
    village_centre_grid: dict[str, int]
    elder_care_village: str


@dataclass
class _Incidents:
    frame: gpd.GeoDataFrame
    hotspot_villages: set[str]
    clean_villages: set[str]
    #: the level-3 grid each incident was placed in
    grids: np.ndarray


@dataclass
class _Organisation:
    frames: dict[str, pd.DataFrame]
    weak_villages: list[str]
    urban_communities: list[str]


def build_sample_county(
    *,
    seed: int = 2023,
    households: int = DEFAULT_HOUSEHOLDS,
    progress: Progress | None = None,
    boundaries_dir: Path | None = None,
    county: str | None = None,
    ids: str = "",
) -> SampleCounty:
    """Generate the sample county.

    Parameters
    ----------
    seed
        Random seed; the same seed and household count give the same county.
    households
        Number of households (at least 5,000 in Huarong, as many per village elsewhere, so
        that every village can be linked).
    progress
        Called with a short message at each step.
    boundaries_dir
        Folder of the real boundary files (default: the package data, :mod:`gisgrid.data`).
    county
        A county of the sample prefecture (:func:`~gisgrid.sample.boundaries.
        load_county_boundaries`); default Huarong, from its own files.
    ids
        Put before every generated id, so that several counties' rows can share a store
        (the prefecture uses ``"<county code>-"``); empty by default.
    """
    say = progress or (lambda _msg: None)
    say("reading the real outline and division names")
    if county is None:
        boundaries = load_boundaries(boundaries_dir)
    else:
        boundaries = load_county_boundaries(county, directory=boundaries_dir)
    least = boundaries.size.min_households
    if households < least:
        raise ConfigError(
            f"the sample county {boundaries.name} needs at least {least} households, "
            f"not {households}"
        )
    rng = np.random.default_rng(seed)
    grids = _draw_grids(boundaries, rng=rng, say=say, ids=ids)
    say("staffing the grids")
    grid_frame, unstaffed = _staff_grids(grids, rng=rng)
    say(f"placing {households:,} households in hamlets")
    homes = _place_households(grids, households=households, rng=rng)
    say("linking households to party-member backbone households")
    links = _link_households(homes, rng=rng)
    say("planting linkage and registration defects")
    planted = _plant_household_defects(grids, homes, links, rng=rng)
    credit_villages, rating = _choose_credit_households(
        grids, homes, households=households, rng=rng
    )
    say("placing service points, incidents and volunteer teams")
    services = _place_service_points(grids, homes, rng=rng)
    incidents = _report_incidents(grids, homes, households=households, rng=rng)
    organisation = _organise(grids, homes, services, credit_villages=credit_villages, rng=rng)

    raw = {
        "townships": gpd.GeoDataFrame(
            grids.hierarchy.townships.table[["code", "name"]],
            geometry=list(grids.townships_ll),
            crs=crsmod.STORAGE_CRS,
        ),
        "villages": _villages_frame(grids, credit_villages),
        "grids": grid_frame,
        "households": _households_frame(homes, links, rating),
        "service_points": services.frame,
        "incidents": incidents.frame,
        **organisation.frames,
    }
    say("recording a year of case steps, visits and volunteer hours")
    # a stream of its own: the layers above stay as they were before cases and visits
    later = np.random.default_rng([seed, 14])
    raw["case_steps"] = extras.case_histories(later, incidents.frame, incidents.grids, SAMPLE_AS_OF)
    raw["visits"] = extras.household_visits(
        later, raw["households"], np.asarray(homes.intended), SAMPLE_AS_OF, ids=ids
    )
    raw["volunteer_hours"] = extras.volunteer_hours(
        later, organisation.frames["volunteer_teams"], organisation.frames["volunteer_activities"]
    )
    # the 岁月港湾 watchers' visits of the week: a stream of its own again, appended after the
    # year's visits (whose rows stay as they were)
    watchers = np.random.default_rng([seed, 15])
    points = services.frame
    care = (points["kind"] == "elder_care").to_numpy()
    care_grids = dict(
        zip(
            points.loc[care, "id"],
            assign_points(points.geometry[care], grid_frame[grid_frame["level"] == 3]),
            strict=True,
        )
    )
    week = extras.watcher_visits(
        watchers,
        raw["households"],
        np.asarray(homes.intended),
        {str(p): str(g) for p, g in care_grids.items() if isinstance(g, str)},
        SAMPLE_AS_OF,
        first=len(raw["visits"]) + 1,
        ids=ids,
    )
    raw["visits"] = pd.concat([raw["visits"], week], ignore_index=True)
    say("checking every layer against its declaration")
    frames = {name: LAYERS[name].validate(frame) for name, frame in raw.items()}
    manifest = _manifest(
        frames,
        grids=grids,
        homes=homes,
        planted=planted,
        unstaffed=unstaffed,
        credit_villages=credit_villages,
        services=services,
        incidents=incidents,
        organisation=organisation,
        seed=seed,
        households=households,
    )
    return SampleCounty(
        frames, _jsonable(manifest), pd.Series(homes.intended, index=homes.table["id"])
    )


# --- 1. grids -----------------------------------------------------------------------------


def _draw_grids(
    boundaries: CountyBoundaries, *, rng: np.random.Generator, say: Progress, ids: str = ""
) -> _Grids:
    """Townships, villages and grids in EPSG:4326, numbered, with the planted defects."""
    say("drawing townships, villages and grids (exact tiling)")
    h = build_hierarchy(boundaries, rng=rng)

    # smooth level-3 edges, keeping shared edges and the outline; rebuild the levels above
    l3_m = shapely.coverage_simplify(h.level3.geoms, SMOOTHING_M, simplify_boundary=False)
    l2_m = _union_children(
        h.level2.table["code"].tolist(), h.level3.table["parent_code"].to_numpy(), l3_m
    )
    v_m = _union_children(
        h.villages.table["code"].tolist(), h.level2.table["village_code"].to_numpy(), l2_m
    )
    t_m = _union_children(
        h.townships.table["code"].tolist(), h.villages.table["township_code"].to_numpy(), v_m
    )

    say("converting to EPSG:4326")
    to_ll = to_lonlat_transformer()
    tr_m = to_metric_transformer()
    l3_clean_ll = geoms_to_lonlat(l3_m)
    l2_ll = _multi(geoms_to_lonlat(l2_m))
    l2_table, l3_table = number_and_name(
        h.villages.table, h.level2.table, h.level3.table, l2_ll, l3_clean_ll
    )

    say("planting boundary defects")
    kind_of_village = dict(zip(h.villages.table["code"], h.villages.table["kind"], strict=True))
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
    discs_ll = np.asarray(defects.discs, dtype=object)
    return _Grids(
        county=boundaries,
        ids=ids,
        hierarchy=h,
        townships_ll=_multi(geoms_to_lonlat(t_m)),
        villages_ll=_multi(geoms_to_lonlat(v_m)),
        level2_ll=l2_ll,
        level2=l2_table,
        level3_ll=_multi(l3_planted),
        level3=l3_table,
        defects=defects,
        gaps_ll=np.asarray(defects.gap_polygons, dtype=object),
        forbidden=shapely.union_all(shapely.buffer(discs_ll, 0.00002)),
        to_lonlat=to_ll,
        to_metric=tr_m,
    )


# --- 2. grids with their responsible persons (格上定人) --------------------------------------


def _staff_grids(g: _Grids, *, rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, list[str]]:
    """The ``grids`` layer, all three levels, and the codes of the grids left unstaffed."""
    vt, l2_table, l3_table = g.villages, g.level2, g.level3
    n1, n2, n3 = len(vt), len(l2_table), len(l3_table)
    grid_frame = pd.DataFrame(
        {
            "code": vt["code"].tolist() + l2_table["code"].tolist() + l3_table["code"].tolist(),
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
    kinds = grid_frame["village_code"].map(g.kind_of_village)
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
    grid_geoms = np.concatenate([g.villages_ll, g.level2_ll, g.level3_ll])
    frame = gpd.GeoDataFrame(grid_frame, geometry=list(grid_geoms), crs=crsmod.STORAGE_CRS)
    return frame, grid_frame.loc[unstaffed, "code"].tolist()


# --- 3. households ------------------------------------------------------------------------


def _place_households(g: _Grids, *, households: int, rng: np.random.Generator) -> _Households:
    """Households in hamlets inside the level-3 grids, a few in the planted gaps."""
    n3 = len(g.level3)
    w = rng.lognormal(0.0, 0.3, n3)
    # every grid can link its own households when there are enough to go round
    least = min(GROUP_MIN, households // n3)
    counts = allocate(households, w, np.full(n3, least), np.full(n3, households))
    urban = (g.level3["village_code"].map(g.kind_of_village) == "community").to_numpy()
    sigma = np.where(urban, 45.0, 90.0)
    h = g.hierarchy
    centres = [h.mesh.centroids[c] for c in h.level3.cells]
    counts_inner = counts.copy()
    # the planted outside households come out of the total
    for _ in range(HOUSEHOLDS_OUTSIDE):
        counts_inner[int(np.argmax(counts_inner))] -= 1
    placed = place_in_grids(
        counts_inner, g.level3_ll, centres, sigma, g.forbidden, g.to_lonlat, rng
    )
    out_ll, out_village, out_near = _place_in_gaps(g, rng=rng)

    grid_idx = placed.grid
    lonlat = np.vstack([placed.lonlat, np.asarray(out_ll)])
    xy = np.column_stack(g.to_metric.transform(lonlat[:, 0], lonlat[:, 1]))
    n_hh = len(lonlat)
    l3_codes = g.level3_codes
    intended = np.concatenate([l3_codes[grid_idx], np.full(HOUSEHOLDS_OUTSIDE, None, dtype=object)])
    village_of = np.concatenate(
        [g.level3["village_code"].to_numpy()[grid_idx], np.asarray(out_village, dtype=object)]
    )
    near = np.concatenate([l3_codes[grid_idx], np.asarray(out_near, dtype=object)])
    # ids in grid order, so neighbours have neighbouring ids
    order = np.lexsort((xy[:, 0], np.asarray([c or "~" for c in intended], dtype=object)))
    lonlat, xy, intended, village_of = lonlat[order], xy[order], intended[order], village_of[order]
    grid_sort = np.asarray([c or "~" for c in intended])
    hh = household_attributes(rng, n_hh)
    hh.insert(0, "id", [f"{g.ids}H{i + 1:07d}" for i in range(n_hh)])
    hh["village_code"] = village_of
    group_no = dict(zip(g.level3["code"], g.level3["group_no"], strict=True))
    vname = g.village_names
    seq = pd.Series(grid_sort).groupby(grid_sort).cumcount().to_numpy() + 1
    hh["house_number"] = [
        f"{vname[v]}{group_no[c]}组{s}号" if c is not None else f"{vname[v]}{s}号"
        for v, c, s in zip(village_of, intended, seq, strict=True)
    ]
    return _Households(hh, lonlat, xy, intended, village_of, near[order])


def _place_in_gaps(
    g: _Grids, *, rng: np.random.Generator
) -> tuple[list[np.ndarray], list[str], list[str]]:
    """Points in the planted gaps, outside every level-3 grid: lon/lat, village, grid beside."""
    for gap in g.gaps_ll:
        shapely.prepare(gap)
    gap_grid = [str(d["grid_code"]) for d in g.defects.gaps]
    out_ll: list[np.ndarray] = []
    out_village: list[str] = []
    out_near: list[str] = []  # the grid each outside household sits beside, for linking
    l3_tree = shapely.STRtree(g.level3_ll)
    k = 0
    while len(out_ll) < HOUSEHOLDS_OUTSIDE:
        gi = k % len(g.gaps_ll)
        k += 1
        x0, y0, x1, y1 = g.gaps_ll[gi].bounds
        p = rng.uniform([x0, y0], [x1, y1])
        if not shapely.contains_xy(g.gaps_ll[gi], p[0], p[1]):
            continue
        if len(l3_tree.query(shapely.Point(p), predicate="intersects")):
            continue
        out_ll.append(p)
        out_village.append(gridcodes.village_of(gap_grid[gi]))
        out_near.append(gap_grid[gi])
    return out_ll, out_village, out_near


def _link_households(homes: _Households, *, rng: np.random.Generator) -> _Links:
    """Group neighbours around party-member backbone households (党员骨干户)."""
    group = link_groups(homes.village_of, homes.near, homes.xy)
    backbone_of_group = choose_backbones(group, homes.xy)
    n_hh = len(homes.table)
    is_backbone = np.zeros(n_hh, dtype=bool)
    is_backbone[backbone_of_group] = True
    backbone_id: np.ndarray = np.asarray(
        np.where(is_backbone, None, homes.table["id"].to_numpy()[backbone_of_group[group]]),
        dtype=object,
    )
    party = is_backbone | (rng.random(n_hh) < PARTY_MEMBER_SHARE)
    return _Links(group, backbone_of_group, is_backbone, backbone_id, party)


def _plant_household_defects(
    g: _Grids, homes: _Households, links: _Links, *, rng: np.random.Generator
) -> _HouseholdDefects:
    """Break a few links and registrations on purpose (changes ``homes`` and ``links``)."""
    # households linked per group, kept up to date as the defects move them
    linked_count = np.bincount(
        links.group[~links.is_backbone], minlength=len(links.backbone_of_group)
    )
    under, over, taken_groups = _plant_uneven_groups(g, homes, links, linked_count, rng=rng)
    unlinked = _plant_unlinked(homes, links, linked_count, taken_groups, rng=rng)
    mismatch = _plant_village_mismatch(g, homes, links, unlinked, rng=rng)
    return _HouseholdDefects(under, over, unlinked, mismatch)


def _plant_uneven_groups(
    g: _Grids,
    homes: _Households,
    links: _Links,
    linked_count: np.ndarray,
    *,
    rng: np.random.Generator,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[int]]:
    """Three backbones left with too few links and three near ones given too many.

    Members move from a group A to a near group B of the same village (backbones within
    600 m, so every moved link stays far below the checks' longest-link limit).
    """
    group, backbone_of_group = links.group, links.backbone_of_group
    ids = homes.table["id"]
    kind = g.kind_of_village
    rural_hh = np.asarray([kind[v] == "village" for v in homes.village_of])
    inside = homes.inside
    under: list[dict[str, Any]] = []
    over: list[dict[str, Any]] = []
    taken_groups: set[int] = set()
    taken_villages: set[str] = set()
    bb_xy = homes.xy[backbone_of_group]
    bb_village = homes.village_of[backbone_of_group]
    dist, nn = cKDTree(bb_xy).query(bb_xy, k=min(8, len(bb_xy)))
    cand_pairs: list[tuple[int, int]] = []
    for a in range(len(backbone_of_group)):
        if homes.intended[backbone_of_group[a]] is None or not rural_hh[backbone_of_group[a]]:
            continue
        for d, near_group in zip(dist[a, 1:], nn[a, 1:], strict=True):
            b = int(near_group)
            if d > 600:
                break
            if bb_village[b] == bb_village[a] and linked_count[a] + linked_count[b] >= 15:
                cand_pairs.append((a, b))
                break
    for idx in rng.permutation(len(cand_pairs)):
        a, b = cand_pairs[int(idx)]
        va = homes.village_of[backbone_of_group[a]]
        if va in taken_villages or {a, b} & taken_groups:
            continue
        members_a = np.flatnonzero((group == a) & ~links.is_backbone & inside)
        move = members_a[: linked_count[a] - 3]
        links.backbone_id[move] = str(ids.iat[int(backbone_of_group[b])])
        group[move] = b
        linked_count[a] -= len(move)
        linked_count[b] += len(move)
        under.append(
            {"backbone_id": ids.iat[int(backbone_of_group[a])], "linked": int(linked_count[a])}
        )
        over.append(
            {"backbone_id": str(ids.iat[int(backbone_of_group[b])]), "linked": int(linked_count[b])}
        )
        taken_groups.update((a, b))
        taken_villages.add(va)
        if len(under) == 3:
            break
    return under, over, taken_groups


def _plant_unlinked(
    homes: _Households,
    links: _Links,
    linked_count: np.ndarray,
    taken_groups: set[int],
    *,
    rng: np.random.Generator,
) -> list[str]:
    """Twelve households of well-linked groups left without a backbone household."""
    group = links.group
    inside = homes.inside
    unlinked: list[str] = []
    for gi in rng.permutation(len(links.backbone_of_group)):
        gi = int(gi)
        if gi in taken_groups or linked_count[gi] < 7:
            continue
        members = np.flatnonzero((group == gi) & ~links.is_backbone & inside)
        if not len(members):
            continue
        m = int(members[-1])
        links.backbone_id[m] = None
        group[m] = -1
        linked_count[gi] -= 1
        taken_groups.add(gi)
        unlinked.append(str(homes.table["id"].iat[m]))
        if len(unlinked) == 12:
            break
    return unlinked


def _plant_village_mismatch(
    g: _Grids, homes: _Households, links: _Links, unlinked: list[str], *, rng: np.random.Generator
) -> list[dict[str, str]]:
    """Ten households registered in a neighbouring village of the one they stand in."""
    hh = homes.table
    v_codes = g.village_codes
    v_ll = g.villages_ll
    mismatch: list[dict[str, str]] = []
    v_tree = shapely.STRtree(v_ll)
    v_index = {c: i for i, c in enumerate(v_codes)}
    for i in rng.permutation(np.flatnonzero(homes.inside & ~links.is_backbone)):
        i = int(i)
        here = homes.village_of[i]
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
    return mismatch


def _choose_credit_households(
    g: _Grids, homes: _Households, *, households: int, rng: np.random.Generator
) -> tuple[set[str], np.ndarray]:
    """Credit villages (信用村) and the households' credit rating (信用户), mostly in them."""
    size = g.county.size.credit_villages
    credit_villages = set(rng.choice(g.rural_villages, size=size, replace=False))
    n_hh = len(homes.table)
    n_credit = round(CREDIT_HOUSEHOLDS_PER_150K * households / DEFAULT_HOUSEHOLDS)
    in_cv = np.asarray([v in credit_villages for v in homes.village_of])
    p = np.where(in_cv, 6.0, 1.0)
    credit_idx = rng.choice(n_hh, size=n_credit, replace=False, p=p / p.sum())
    rating = np.full(n_hh, None, dtype=object)
    rating[credit_idx] = rng.choice(["AAA", "AA", "A"], size=n_credit, p=[0.2, 0.45, 0.35])
    return credit_villages, rating


def _households_frame(homes: _Households, links: _Links, rating: np.ndarray) -> gpd.GeoDataFrame:
    hh = homes.table
    hh["party_member"] = links.party_member
    hh["backbone"] = links.is_backbone
    hh["backbone_id"] = links.backbone_id
    hh["credit_rating"] = rating
    hh["grid_code"] = None
    return gpd.GeoDataFrame(
        hh,
        geometry=gpd.points_from_xy(homes.lonlat[:, 0], homes.lonlat[:, 1]),
        crs=crsmod.STORAGE_CRS,
    )


def _villages_frame(g: _Grids, credit_villages: set[str]) -> gpd.GeoDataFrame:
    vt = g.villages
    return gpd.GeoDataFrame(
        {
            "code": vt["code"],
            "name": vt["name"],
            "township_code": vt["township_code"],
            "kind": vt["kind"],
            "credit_village": vt["code"].isin(credit_villages),
        },
        geometry=list(g.villages_ll),
        crs=crsmod.STORAGE_CRS,
    )


# --- 4. service points --------------------------------------------------------------------


def _place_service_points(
    g: _Grids, homes: _Households, *, rng: np.random.Generator
) -> _ServicePoints:
    """Per village a service centre and a clinic, per township two points, four elder-care.

    Points go into level-3 grids the planted defects left alone; a village's centre into its
    most populous one.
    """
    l3_codes = g.level3_codes
    touched: set[str] = set()
    for d in g.defects.gaps + g.defects.nesting:
        touched.add(d["grid_code"])
    for d in g.defects.overlaps:
        touched.update(d["grid_codes"])
    for d in g.defects.gaps + g.defects.nesting:
        touched.add(str(d.get("neighbour_code") or d.get("into_code")))
    clean_l3 = ~np.isin(l3_codes, list(touched))
    hh_per_grid = pd.Series(homes.intended[homes.inside]).value_counts()
    l3_pop = pd.Series(l3_codes).map(hh_per_grid).fillna(0).to_numpy()
    l3_ll, forbidden, vname = g.level3_ll, g.forbidden, g.village_names
    rows: list[dict[str, Any]] = []
    points: list[shapely.Point] = []

    # each row's watcher is drawn before its point: the order of draws makes the county
    def add(point_id: str, kind: str, name: str, village: str) -> None:
        watcher = person_names(rng, 1)[0]
        rows.append(
            {
                "id": point_id,
                "kind": kind,
                "name": name,
                "village_code": village,
                "watcher": watcher,
            }
        )

    l3_village = g.level3["village_code"].to_numpy()
    village_centre_grid: dict[str, int] = {}
    for v in g.village_codes:
        idx = np.flatnonzero((l3_village == v) & clean_l3)
        top = idx[np.argsort(-l3_pop[idx], kind="stable")]
        village_centre_grid[v] = int(top[0])
        add(f"SPV{v}", "village_centre", f"{vname[v]}党群服务中心（一门式便民服务站）", v)
        points.append(shapely.point_on_surface(l3_ll[top[0]].geoms[0]))
        second = int(top[1]) if len(top) > 1 else int(top[0])
        add(f"SPC{v}", "clinic", f"{vname[v]}卫生室", v)
        points.append(_inner_point(l3_ll[second], rng, forbidden))
    tname = dict(zip(g.township_codes, g.hierarchy.townships.table["name"], strict=True))
    kind = g.kind_of_village
    for t in g.township_codes:
        tv = [v for v in g.village_codes if gridcodes.lies_in(v, t)]
        home = ([v for v in tv if kind[v] == "community"] or tv)[0]
        gi = village_centre_grid[home]
        add(f"SPT{t}", "township_centre", f"{tname[t]}便民服务中心（一门式）", home)
        points.append(_inner_point(l3_ll[gi], rng, forbidden))
        add(f"SPB{t}", "volunteer_base", f"{tname[t]}新时代文明实践所（志愿服务站）", home)
        points.append(_inner_point(l3_ll[gi], rng, forbidden))
    # the report's village with four 岁月港湾 elder-care points, each with a watcher
    rural = g.rural_villages
    elder_village = rural[int(rng.integers(len(rural)))]
    ev_grids = np.flatnonzero((l3_village == elder_village) & clean_l3)[:4]
    for j, gi in enumerate(ev_grids, start=1):
        add(
            f"{g.ids}SPE{j:02d}",
            "elder_care",
            f"{vname[elder_village]}岁月港湾网格点{j}",
            elder_village,
        )
        points.append(_inner_point(l3_ll[int(gi)], rng, forbidden))
    frame = gpd.GeoDataFrame(rows, geometry=points, crs=crsmod.STORAGE_CRS)
    frame["grid_code"] = None
    return _ServicePoints(frame, village_centre_grid, elder_village)


# --- 5. incidents -------------------------------------------------------------------------


def _report_incidents(
    g: _Grids, homes: _Households, *, households: int, rng: np.random.Generator
) -> _Incidents:
    """A year of incidents near households: more in six hotspots, no six-no kind in the
    clean villages.
    """
    v_codes = g.village_codes
    inside = homes.inside
    n_hh = len(homes.table)
    n_inc = round(households * 0.02)
    hotspots = set(rng.choice(v_codes, size=g.county.size.hotspots, replace=False))
    hot = np.asarray([v in hotspots for v in homes.village_of]) & inside
    p = np.where(hot, 8.0, 1.0) * inside
    src = rng.choice(n_hh, size=n_inc, p=p / p.sum())
    problem = g.county.size.problem_villages
    problem_villages = set(rng.choice(v_codes, size=problem, replace=False)) | hotspots
    clean_villages = set(v_codes) - problem_villages
    # where it happened, not where the household is registered
    inc_village = np.asarray([gridcodes.village_of(homes.intended[i]) for i in src])
    kinds = extras.incident_kinds(rng, n_inc, inc_village, clean_villages)
    times, status = extras.incident_times_and_status(rng, n_inc, SAMPLE_AS_OF)
    at = _jitter_within(
        src, homes.xy, homes.intended, g.level3_ll, g.level3_codes, g.forbidden, g.to_lonlat, rng
    )
    frame = gpd.GeoDataFrame(
        {
            "id": [f"{g.ids}E{i + 1:06d}" for i in range(n_inc)],
            "kind": kinds,
            "reported_at": times.to_numpy(),
            "status": status,
            "description": extras.incident_descriptions(rng, kinds),
            "grid_code": None,
        },
        geometry=gpd.points_from_xy(at[:, 0], at[:, 1]),
        crs=crsmod.STORAGE_CRS,
    )
    return _Incidents(frame, hotspots, clean_villages, np.asarray(homes.intended)[src])


# --- 6. organisation ----------------------------------------------------------------------


def _organise(
    g: _Grids,
    homes: _Households,
    services: _ServicePoints,
    *,
    credit_villages: set[str],
    rng: np.random.Generator,
) -> _Organisation:
    """County leaders and their townships, pairings, first secretaries, volunteer teams."""
    v_codes = g.village_codes
    size = g.county.size
    leaders, leader_townships = extras.county_leaders(rng, g.township_codes, ids=g.ids)
    weak = list(
        rng.choice(
            sorted(set(g.rural_villages) - credit_villages),
            size=size.weak_villages,
            replace=False,
        )
    )
    vt = g.villages
    urban_communities = vt.loc[vt["urban"], "code"].tolist()
    pairs = extras.pairings(rng, weak, urban_communities)
    secretaries = extras.first_secretaries(
        rng, weak, SAMPLE_AS_OF, n=size.first_secretaries, ids=g.ids
    )
    village_hh = pd.Series(homes.village_of[homes.inside]).value_counts().reindex(v_codes)
    teams_per_village = allocate(
        size.volunteer_teams,
        village_hh.fillna(0).to_numpy() + 1.0,
        np.ones(len(v_codes), dtype=np.int64),
        np.full(len(v_codes), 20),
    )
    vname = g.village_names
    team_rows: list[dict[str, Any]] = []
    team_pts: list[shapely.Point] = []
    for v, kv in zip(v_codes, teams_per_village, strict=True):
        for j in range(int(kv)):
            team_rows.append(
                {
                    "id": f"{g.ids}VT{len(team_rows) + 1:04d}",
                    "name": f"{vname[v]}长工精神党员志愿服务队"
                    + (f"第{j + 1}分队" if kv > 1 else ""),
                    "village_code": v,
                    "leader_name": person_names(rng, 1)[0],
                    "members": int(rng.integers(10, 22)),
                }
            )
            home_grid = g.level3_ll[services.village_centre_grid[v]]
            team_pts.append(_inner_point(home_grid, rng, g.forbidden))
    teams = gpd.GeoDataFrame(team_rows, geometry=team_pts, crs=crsmod.STORAGE_CRS)
    n_act = size.volunteer_activities
    act_team = rng.integers(0, len(teams), size=n_act)
    act_days = rng.uniform(0, 365, size=n_act)
    activities = gpd.GeoDataFrame(
        {
            "id": [f"{g.ids}VA{i + 1:05d}" for i in range(n_act)],
            "team_id": teams["id"].to_numpy()[act_team],
            "kind": rng.choice(extras.ACTIVITY_KINDS, size=n_act),
            "held_on": (pd.Timestamp(SAMPLE_AS_OF) - pd.to_timedelta(act_days, unit="D"))
            .normalize()
            .to_numpy(),
            "participants": rng.integers(5, 40, size=n_act),
        },
        geometry=teams.geometry.to_numpy()[act_team],
        crs=crsmod.STORAGE_CRS,
    )
    frames: dict[str, pd.DataFrame] = {
        "county_leaders": leaders,
        "leader_townships": leader_townships,
        "pairings": pairs,
        "first_secretaries": secretaries,
        "volunteer_teams": teams,
        "volunteer_activities": activities,
    }
    return _Organisation(frames, weak, urban_communities)


# --- 7. manifest --------------------------------------------------------------------------


def _manifest(
    frames: dict[str, pd.DataFrame],
    *,
    grids: _Grids,
    homes: _Households,
    planted: _HouseholdDefects,
    unstaffed: list[str],
    credit_villages: set[str],
    services: _ServicePoints,
    incidents: _Incidents,
    organisation: _Organisation,
    seed: int,
    households: int,
) -> dict[str, Any]:
    """What the county is and every defect planted in it (the tests and checks read it)."""
    defects = grids.defects

    def lonlat_of(geom: shapely.Geometry) -> list[float]:
        c = shapely.point_on_surface(geom)
        return [round(c.x, 6), round(c.y, 6)]

    gaps_out = [
        {**d, "area_m2": round(float(d["area_m2"]), 1), "point": lonlat_of(gap)}
        for d, gap in zip(defects.gaps, grids.gaps_ll, strict=True)
    ]
    county = grids.county
    return {
        "about": "Huarong County (华容县) sample: real outline and division names; "
        "everything inside is synthetic, people are fake."
        if county.code == "430623"
        else f"{county.name} ({county.code}) sample: real outline and division names; "
        "everything inside is synthetic, people are fake.",
        "county": {"code": county.code, "name": county.name, "seat_township": county.seat_township},
        "generator": f"gisgrid {__version__}",
        "seed": seed,
        "households": households,
        "as_of": SAMPLE_AS_OF.isoformat(),
        "counts": layer_counts(frames),
        "defects": {
            "gaps": gaps_out,
            "overlaps": [{**d, "area_m2": round(float(d["area_m2"]), 1)} for d in defects.overlaps],
            "nesting": [
                {**d, "outside_area_m2": round(float(d["outside_area_m2"]), 1)}
                for d in defects.nesting
            ],
            "households_outside": sorted(homes.table["id"].to_numpy()[~homes.inside].tolist()),
            "village_mismatch": sorted(planted.mismatch, key=lambda m: m["id"]),
            "linkage_under": sorted(planted.under, key=lambda m: m["backbone_id"]),
            "linkage_over": sorted(planted.over, key=lambda m: m["backbone_id"]),
            "unlinked": sorted(planted.unlinked),
            "unstaffed_grids": sorted(unstaffed),
        },
        "facts": {
            "urban_communities": sorted(organisation.urban_communities),
            "credit_villages": sorted(credit_villages),
            "weak_villages": sorted(organisation.weak_villages),
            "elder_care_village": services.elder_care_village,
            "incident_hotspot_villages": sorted(incidents.hotspot_villages),
            "six_no_clean_villages": sorted(incidents.clean_villages),
        },
    }


# --- helpers ------------------------------------------------------------------------------


def layer_counts(frames: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Rows per layer and grids per level, as a manifest gives them."""
    return {name: len(f) for name, f in frames.items()} | {
        f"grids_level_{lv}": int((frames["grids"]["level"] == lv).sum()) for lv in (1, 2, 3)
    }


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


def _apply(geom: Any, transformer: Transformer) -> Any:
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
    to_ll: Transformer,
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


# --- writing ------------------------------------------------------------------------------


def write_sample_county(store: Store, county: SampleCounty) -> Path | None:
    """Write every layer and the manifest to ``store`` in one transaction.

    The manifest also goes into a JSON file next to a GeoPackage store
    (``<store>.manifest.json``); its path is returned.
    """
    store.write(county.frames, mode="replace", meta={"sample_manifest": county.manifest})
    if store.path is None:  # a database: the manifest lives in the store only
        return None
    manifest_path = store.path.with_suffix(".manifest.json")
    manifest_path.write_text(
        json.dumps(county.manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    return manifest_path
