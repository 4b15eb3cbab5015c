"""The sample county's boundaries: townships → villages → level-2 → level-3 grids.

All in the metric CRS, all unions of the same mesh cells (see :mod:`gisgrid.sample.mesh`),
so every level tiles its parent exactly. Real names and codes for townships and villages
(:mod:`gisgrid.sample.boundaries`); positions and all grids below are synthetic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gisgrid import crs as crsmod
from gisgrid.sample.boundaries import CountyBoundaries
from gisgrid.sample.codes import child_codes, reading_order
from gisgrid.sample.mesh import Mesh, build_mesh, choose_seeds, grow_regions
from gisgrid.sample.names import chinese_number, hamlet_names


@dataclass
class Unit:
    """Units of one level: a table and, per unit, its cells and metric geometry."""

    table: pd.DataFrame
    cells: list[np.ndarray]
    geoms: np.ndarray  # metric, Polygon or MultiPolygon


@dataclass
class Hierarchy:
    """The whole nest of boundaries in the metric CRS."""

    mesh: Mesh
    outline: shapely.MultiPolygon
    seat_xy: np.ndarray
    towns_xy: np.ndarray
    townships: Unit
    villages: Unit
    level2: Unit
    level3: Unit
    density: np.ndarray  # cell density, for placing people


def to_metric_transformer() -> Transformer:
    return crsmod.transformer(crsmod.STORAGE_CRS, crsmod.METRIC_CRS)


def to_lonlat_transformer() -> Transformer:
    return crsmod.transformer(crsmod.METRIC_CRS, crsmod.STORAGE_CRS)


def geoms_to_lonlat(geoms: np.ndarray) -> np.ndarray:
    """Metric geometries to EPSG:4326, vertex by vertex (shared vertices stay identical)."""
    tr = to_lonlat_transformer()

    def fn(xy: np.ndarray) -> np.ndarray:
        lon, lat = tr.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([lon, lat])

    return np.asarray(shapely.transform(geoms, fn))


def allocate(total: int, weights: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` within ``lo``..``hi``.

    Largest-remainder apportionment: each share above ``lo`` is the weight's part of what
    is left; shares that would pass ``hi`` are held at ``hi`` and the rest re-shared
    (water-filling); the floors are then topped up by the largest fractional parts.
    """
    weights = np.asarray(weights, dtype=float)
    lo = np.asarray(lo, dtype=np.int64)
    hi = np.maximum(np.asarray(hi, dtype=np.int64), lo)
    if not lo.sum() <= total <= hi.sum():
        raise ValueError(f"cannot split {total} within bounds {lo.sum()}..{hi.sum()}")
    out = lo.copy()
    rest = total - int(out.sum())
    capped = np.zeros(len(out), dtype=bool)
    while True:
        room = hi - out
        active = ~capped & (room > 0)
        ideal = np.zeros(len(out))
        if rest > 0 and active.any():
            w = np.where(active, weights, 0.0)
            ideal = w / w.sum() * rest if w.sum() > 0 else active / active.sum() * rest
        over = active & (ideal > room)
        if not over.any():
            break
        out[over] = hi[over]
        rest -= int(room[over].sum())
        capped |= over
    base = np.floor(ideal).astype(np.int64)
    out += base
    rest -= int(base.sum())
    if rest > 0:
        order = np.argsort(-(ideal - base), kind="stable")
        out[order[:rest]] += 1
    return out


def _union_by_label(
    mesh: Mesh, cells: np.ndarray, labels: np.ndarray, k: int
) -> tuple[list[np.ndarray], np.ndarray]:
    groups = [cells[labels == r] for r in range(k)]
    geoms = np.empty(k, dtype=object)
    geoms[:] = [shapely.coverage_union_all(mesh.cells[g]) for g in groups]
    return groups, geoms


def _partition(
    mesh: Mesh,
    cells: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    roughness: float,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Split ``cells`` into ``k`` regions; returns cell groups, geometries and seed cells."""
    if k == 1:
        geom = shapely.coverage_union_all(mesh.cells[cells])
        g = np.empty(1, dtype=object)
        g[0] = geom
        return [cells], g, cells[:1]
    seeds = cells[choose_seeds(mesh.centroids[cells], np.ones(len(cells)), k, rng=rng)]
    labels = grow_regions(mesh, cells, seeds, np.ones(k), rng=rng, roughness=roughness)
    groups, geoms = _union_by_label(mesh, cells, labels, k)
    return groups, geoms, seeds


def number_and_name(
    villages: pd.DataFrame,
    level2: pd.DataFrame,
    level3: pd.DataFrame,
    level2_lonlat: np.ndarray,
    level3_lonlat: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Final codes and names of level-2 and level-3 grids, numbered on the stored polygons.

    Children are numbered in reading order (:func:`gisgrid.sample.codes.reading_order`) of
    the representative points of their EPSG:4326 polygons, the geometry users see. Level-3
    names count villager groups through the village: 一组, 二组, …; community grids are
    第一网格, ….

    Returns
    -------
    tuple of pandas.DataFrame
        New level-2 and level-3 tables, row for row as given.
    """
    kind = dict(zip(villages["code"], villages["kind"], strict=True))
    vname = dict(zip(villages["code"], villages["name"], strict=True))

    def renumber(table: pd.DataFrame, geoms: np.ndarray, parent: str) -> dict[str, str]:
        pts = shapely.get_coordinates(shapely.point_on_surface(geoms))
        mapping: dict[str, str] = {}
        for p, idx in table.groupby(parent).indices.items():
            order = reading_order(pts[idx, 0], pts[idx, 1])
            for new, j in zip(child_codes(str(p), len(idx)), order, strict=True):
                mapping[str(table["code"].iat[idx[j]])] = new
        return mapping

    l2 = level2.copy()
    l2["code"] = l2["code"].map(renumber(level2, level2_lonlat, "village_code"))
    l3 = level3.copy()
    l3["parent_code"] = l3["parent_code"].map(dict(zip(level2["code"], l2["code"], strict=True)))
    l3["code"] = l3["code"].map(renumber(l3, level3_lonlat, "parent_code"))
    seq2 = l2["code"].str[-3:].astype(int)
    l2["name"] = [
        h if kind[v] == "village" else f"{vname[v]}第{n}片区"
        for h, v, n in zip(l2["hamlet"], l2["village_code"], seq2, strict=True)
    ]
    order = l3["code"].argsort(kind="stable")
    group_no = np.empty(len(l3), dtype=np.int64)
    group_no[order.to_numpy()] = (
        l3["village_code"].iloc[order].groupby(l3["village_code"].iloc[order]).cumcount().to_numpy()
        + 1
    )
    l3["group_no"] = group_no
    l3["name"] = [
        f"{vname[v]}{chinese_number(int(n))}组"
        if kind[v] == "village"
        else f"{vname[v]}第{chinese_number(int(n))}网格"
        for v, n in zip(l3["village_code"], group_no, strict=True)
    ]
    return l2.drop(columns="hamlet"), l3


def build_hierarchy(
    boundaries: CountyBoundaries, *, rng: np.random.Generator, n_cells: int | None = None
) -> Hierarchy:
    """Build all four levels of boundaries inside the real outline.

    Parameters
    ----------
    boundaries
        Outline and the real townships and villages.
    rng
        Random generator; the same state gives the same county.
    n_cells
        Mesh size: more cells, finer boundaries, slower (default: the county's size,
        30,000 for Huarong).
    """
    size = boundaries.size
    level2_total, level3_total = size.level2, size.level3
    tr = to_metric_transformer()
    outline = shapely.transform(
        boundaries.outline, lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1]))
    )
    seat_xy = np.asarray(tr.transform(*boundaries.seat_lonlat))
    shapely.prepare(outline)
    x0, y0, x1, y1 = outline.bounds
    towns: list[np.ndarray] = []
    while len(towns) < size.market_towns:
        p = rng.uniform([x0, y0], [x1, y1])
        if outline.contains(shapely.Point(p)) and np.hypot(*(p - seat_xy)) > 6000:
            towns.append(p)
    towns_xy = np.asarray(towns)

    def density(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = 1.0 + 9.0 * np.exp(-((x - seat_xy[0]) ** 2 + (y - seat_xy[1]) ** 2) / (2 * 2200.0**2))
        for tx, ty in towns_xy:
            d += 2.0 * np.exp(-((x - tx) ** 2 + (y - ty) ** 2) / (2 * 900.0**2))
        return d

    mesh = build_mesh(outline, n_cells=n_cells or size.cells, density=density, rng=rng)
    cell_density = density(mesh.centroids[:, 0], mesh.centroids[:, 1])

    # townships: the region nearest the real seat is 章华镇; the rest by code in reading order
    tship = boundaries.townships.sort_values("code").reset_index(drop=True)
    per_township = boundaries.villages.groupby("township_code").size()
    all_cells = np.arange(len(mesh.cells))
    seeds = all_cells[choose_seeds(mesh.centroids, np.ones(len(all_cells)), len(tship), rng=rng)]
    seat_seed = int(np.argmin(np.hypot(*(mesh.centroids[seeds] - seat_xy).T)))
    others = [i for i in range(len(seeds)) if i != seat_seed]
    others_sorted = [others[i] for i in reading_order(*mesh.centroids[seeds[others]].T)]
    codes = tship["code"].tolist()
    seat_pos = codes.index(boundaries.seat_township)
    order = [*others_sorted[:seat_pos], seat_seed, *others_sorted[seat_pos:]]
    seeds = seeds[order]
    targets = per_township.reindex(codes).to_numpy(dtype=float)
    labels = grow_regions(mesh, all_cells, seeds, targets, rng=rng, roughness=0.8)
    t_cells, t_geoms = _union_by_label(mesh, all_cells, labels, len(codes))
    townships = Unit(tship.assign(centre_cell=-1), t_cells, t_geoms)

    # villages: communities nearest the township's centre (its densest cell)
    v_rows, v_cells, v_geoms = [], [], []
    for ti, t_code in enumerate(codes):
        cells = t_cells[ti]
        if t_code == boundaries.seat_township:
            centre = seat_xy
        else:
            centre = mesh.centroids[cells[int(np.argmax(cell_density[cells]))]]
        townships.table.loc[ti, "centre_cell"] = int(
            cells[int(np.argmin(np.hypot(*(mesh.centroids[cells] - centre).T)))]
        )
        vs = boundaries.villages[boundaries.villages["township_code"] == t_code]
        vs = pd.concat([vs[vs["kind"] == "community"], vs[vs["kind"] != "community"]])
        groups, geoms, vseeds = _partition(mesh, cells, len(vs), rng, roughness=0.5)
        by_distance = np.argsort(np.hypot(*(mesh.centroids[vseeds] - centre).T), kind="stable")
        for row, region in zip(vs.itertuples(index=False), by_distance, strict=True):
            v_rows.append(row._asdict())
            v_cells.append(groups[region])
            v_geoms.append(geoms[region])
    villages = Unit(pd.DataFrame(v_rows), v_cells, np.asarray(v_geoms, dtype=object))

    # level 2: natural villages (自然村) / community blocks (片区)
    n_v = len(villages.cells)
    sizes = np.array([len(c) for c in villages.cells])
    k2 = allocate(
        level2_total,
        sizes * rng.lognormal(0, 0.3, n_v),
        np.full(n_v, 2),
        np.maximum(sizes // 8, 2),
    )
    l2_rows, l2_cells, l2_geoms = [], [], []
    hamlets = iter(hamlet_names(rng, level2_total))
    for vi, vrow in enumerate(villages.table.to_dict("records")):
        groups, geoms, _ = _partition(mesh, villages.cells[vi], int(k2[vi]), rng, roughness=0.3)
        for code, region in zip(
            child_codes(vrow["code"], len(groups)), range(len(groups)), strict=True
        ):
            l2_rows.append({"code": code, "village_code": vrow["code"], "hamlet": next(hamlets)})
            l2_cells.append(groups[region])
            l2_geoms.append(geoms[region])
    level2 = Unit(pd.DataFrame(l2_rows), l2_cells, np.asarray(l2_geoms, dtype=object))

    # level 3: villager groups (村民小组) / community grids
    n2 = len(level2.cells)
    sizes2 = np.array([len(c) for c in level2.cells])
    k3 = allocate(
        level3_total,
        sizes2 * rng.lognormal(0, 0.3, n2),
        np.ones(n2, dtype=np.int64),
        np.maximum(sizes2 // 3, 1),
    )
    l3_rows, l3_cells, l3_geoms = [], [], []
    for pi, prow in enumerate(level2.table.to_dict("records")):
        groups, geoms, _ = _partition(mesh, level2.cells[pi], int(k3[pi]), rng, roughness=0.2)
        for code, region in zip(
            child_codes(prow["code"], len(groups)), range(len(groups)), strict=True
        ):
            l3_rows.append(
                {"code": code, "parent_code": prow["code"], "village_code": prow["village_code"]}
            )
            l3_cells.append(groups[region])
            l3_geoms.append(geoms[region])
    level3 = Unit(pd.DataFrame(l3_rows), l3_cells, np.asarray(l3_geoms, dtype=object))
    return Hierarchy(
        mesh, outline, seat_xy, towns_xy, townships, villages, level2, level3, cell_density
    )
