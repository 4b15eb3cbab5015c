"""Synthetic households: clustered in hamlets inside their level-3 grid, linked to backbones.

Each level-3 grid gets a number of households around the county mean; they sit in one to
four Gaussian clusters (hamlets, 屋场) around cells of the grid, never in a planted defect.
Within each village, households are ordered along a space-filling curve and cut into runs of
6–11: in each run the household nearest its middle is the party-member backbone household
(党员骨干户) and the others are linked to it (群众联系户), 5–10 each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from scipy.spatial import cKDTree

from gisgrid.sample.names import person_names

PARTY_MEMBER_SHARE = 0.06  # of ordinary households, besides the backbones
GROUP_MIN, GROUP_MAX = 6, 11  # a backbone and its 5..10 linked households
HAMLET_REACH_M = 700.0  # hamlets of one villager group lie within this of each other


@dataclass
class Placed:
    """Household positions: metric and lon/lat coordinates and the level-3 grid index."""

    xy: np.ndarray
    lonlat: np.ndarray
    grid: np.ndarray


def _morton(xy: np.ndarray, cell: float = 10.0) -> np.ndarray:
    q = ((xy - xy.min(axis=0)) / cell).astype(np.uint64)

    def spread(v: np.ndarray) -> np.ndarray:
        v = v & np.uint64(0xFFFFFFFF)
        v = (v | (v << np.uint64(16))) & np.uint64(0x0000FFFF0000FFFF)
        v = (v | (v << np.uint64(8))) & np.uint64(0x00FF00FF00FF00FF)
        v = (v | (v << np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
        v = (v | (v << np.uint64(2))) & np.uint64(0x3333333333333333)
        v = (v | (v << np.uint64(1))) & np.uint64(0x5555555555555555)
        return v

    return spread(q[:, 0]) | (spread(q[:, 1]) << np.uint64(1))


def place_in_grids(
    counts: np.ndarray,
    grids_lonlat: np.ndarray,
    centres: list[np.ndarray],
    sigma: np.ndarray,
    forbidden_lonlat: shapely.Geometry,
    to_lonlat: Transformer,
    rng: np.random.Generator,
) -> Placed:
    """Scatter ``counts[i]`` points in clusters inside grid ``i``, outside ``forbidden``.

    Containment is tested on the EPSG:4326 polygons that will be stored, so every point is
    exactly inside the grid it was made for.

    Parameters
    ----------
    counts
        Points wanted per grid.
    grids_lonlat
        Grid polygons in EPSG:4326.
    centres
        Per grid, candidate cluster centres (metric xy, shape (m, 2)).
    sigma
        Per grid, cluster spread in metres.
    forbidden_lonlat
        Areas where no point may fall (planted defects), EPSG:4326.
    to_lonlat
        Metric → EPSG:4326 transformer.
    rng
        Random generator.
    """
    shapely.prepare(forbidden_lonlat)
    out_xy: list[np.ndarray] = []
    out_ll: list[np.ndarray] = []
    out_g: list[np.ndarray] = []
    for i, n in enumerate(counts):
        n = int(n)
        if n == 0:
            continue
        poly = grids_lonlat[i]
        shapely.prepare(poly)
        c = centres[i]
        first = c[int(rng.integers(len(c)))]
        # a villager group is one hamlet or a few close together
        near = c[np.hypot(*(c - first).T) < HAMLET_REACH_M]
        k = min(len(near), 1 + int(rng.poisson(1.0)), 4)
        hub = near[rng.choice(len(near), size=k, replace=False)]
        weights = rng.dirichlet(np.ones(k) * 2.0)
        got_xy = np.empty((0, 2))
        got_ll = np.empty((0, 2))
        spread = float(sigma[i])
        for attempt in range(40):
            need = n - len(got_xy)
            if need <= 0:
                break
            m = need * 2 + 8
            which = rng.choice(k, size=m, p=weights)
            cand = hub[which] + rng.normal(0, spread, size=(m, 2))
            lon, lat = to_lonlat.transform(cand[:, 0], cand[:, 1])
            ok = shapely.contains_xy(poly, lon, lat) & ~shapely.contains_xy(
                forbidden_lonlat, lon, lat
            )
            got_xy = np.vstack([got_xy, cand[ok][:need]])
            got_ll = np.vstack([got_ll, np.column_stack([lon, lat])[ok][:need]])
            if attempt > 10:
                spread *= 1.3  # thin or odd-shaped grid: widen the search
        if len(got_xy) < n:
            raise RuntimeError(f"could not place {n} points in grid #{i}")
        out_xy.append(got_xy)
        out_ll.append(got_ll)
        out_g.append(np.full(n, i))
    return Placed(np.vstack(out_xy), np.vstack(out_ll), np.concatenate(out_g))


def _groups_in_pool(pool: np.ndarray, xy: np.ndarray) -> list[np.ndarray]:
    """Cut a pool into compact groups of 6–11 by recursive coordinate bisection."""
    n = len(pool)
    g = min(max(round(n / 8.5), -(-n // GROUP_MAX)), n // GROUP_MIN)
    if g <= 1:
        return [pool]
    g_left = g // 2
    g_right = g - g_left
    lower = max(GROUP_MIN * g_left, n - GROUP_MAX * g_right)
    upper = min(GROUP_MAX * g_left, n - GROUP_MIN * g_right)
    n_left = min(max(round(n * g_left / g), lower), upper)
    pts = xy[pool]
    axis = int(np.argmax(np.ptp(pts, axis=0)))
    ordered = pool[np.argsort(pts[:, axis], kind="stable")]
    return _groups_in_pool(ordered[:n_left], xy) + _groups_in_pool(ordered[n_left:], xy)


def link_groups(village_idx: np.ndarray, grid_idx: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Group number per household: compact groups of 6–11 within a grid where possible.

    In each village every grid with at least six households is a pool; the households of a
    smaller grid join the pool of the nearest such grid. Each pool is cut into compact
    groups by recursive coordinate bisection, so a backbone household and the households
    linked to it are neighbours.

    Raises
    ------
    ValueError
        When a village has fewer households than one group needs.
    """
    group = np.full(len(xy), -1, dtype=np.int64)
    next_group = 0
    for v in np.unique(village_idx):
        members = np.flatnonzero(village_idx == v)
        if len(members) < GROUP_MIN:
            raise ValueError(f"a village has only {len(members)} households: too few to link")
        grids, inverse, sizes = np.unique(
            grid_idx[members], return_inverse=True, return_counts=True
        )
        centres = np.column_stack(
            [np.bincount(inverse, weights=xy[members, k]) / sizes for k in (0, 1)]
        )
        big = np.flatnonzero(sizes >= GROUP_MIN)
        if len(big) == 0:
            target = np.zeros(len(grids), dtype=np.int64)
            big = np.array([0])
        else:
            _, nearest = cKDTree(centres[big]).query(centres)
            target = big[np.asarray(nearest)]
        pool_of = target[inverse]
        for b in big:
            for members_group in _groups_in_pool(members[pool_of == b], xy):
                group[members_group] = next_group
                next_group += 1
    return group


def choose_backbones(group: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Index of the backbone household of each group: the one nearest the group's centre."""
    n_groups = int(group.max()) + 1
    sx = np.bincount(group, weights=xy[:, 0], minlength=n_groups)
    sy = np.bincount(group, weights=xy[:, 1], minlength=n_groups)
    cnt = np.bincount(group, minlength=n_groups)
    cx, cy = sx / cnt, sy / cnt
    d = np.hypot(xy[:, 0] - cx[group], xy[:, 1] - cy[group])
    order = np.lexsort((d, group))
    first = np.ones(len(order), dtype=bool)
    first[1:] = group[order][1:] != group[order][:-1]
    backbone = np.empty(n_groups, dtype=np.int64)
    backbone[group[order][first]] = order[first]
    return backbone


def household_attributes(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Members, elderly members and head names for ``n`` households (fake people)."""
    members = np.clip(1 + rng.poisson(2.2, size=n), 1, 9)
    has_elderly = rng.random(n) < 0.45  # an ageing rural county
    elderly = np.where(has_elderly, np.minimum(members, 1 + (rng.random(n) < 0.55)), 0)
    return pd.DataFrame({"head_name": person_names(rng, n), "members": members, "elderly": elderly})
