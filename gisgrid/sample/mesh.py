"""A fine mesh of cells over the county and balanced region growing on it.

Every boundary in the sample county is a union of mesh cells, so boundaries at all levels
share their edges exactly (they are the same cell edges) and no slivers can arise. The mesh
is the polygonised union of Voronoi edges and the county outline: one noding of all the
lines, so neighbouring cells share identical vertices, including along the outline.

Regions grow from seeds across the cell adjacency graph, each taking its cheapest frontier
cell in turn while the least-filled region goes first: regions stay connected, reach about
their target size, and their boundaries wander along cell edges like real ones do.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class Mesh:
    """Cells (metric CRS polygons), their centroids and adjacency."""

    cells: np.ndarray  # shapely Polygons
    centroids: np.ndarray  # (n, 2)
    areas: np.ndarray  # m²
    neighbours: list[np.ndarray]  # cell → adjacent cells
    noise: np.ndarray  # a smooth random field sampled at each cell, about 0..1


def build_mesh(
    outline: shapely.MultiPolygon,
    *,
    n_cells: int,
    density: Callable[[np.ndarray, np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> Mesh:
    """Cells over ``outline`` (metric CRS), denser where ``density(x, y)`` is higher.

    Parameters
    ----------
    outline
        County outline in a metric CRS.
    n_cells
        About how many cells to make.
    density
        Relative density of cells at points, vectorised.
    rng
        Random generator: the same state gives the same mesh.
    """
    x0, y0, x1, y1 = outline.bounds
    area_box = (x1 - x0) * (y1 - y0)
    fill = outline.area / area_box
    seeds = np.empty((0, 2))
    shapely.prepare(outline)
    # rejection sampling against the density inside the outline
    while len(seeds) < n_cells:
        m = int((n_cells - len(seeds)) / fill * 3) + 100
        xy = rng.uniform([x0, y0], [x1, y1], size=(m, 2))
        inside = shapely.contains_xy(outline, xy[:, 0], xy[:, 1])
        xy = xy[inside]
        d = density(xy[:, 0], xy[:, 1])
        keep = rng.uniform(0, d.max(), size=len(xy)) < d
        seeds = np.vstack([seeds, xy[keep]])
    seeds = seeds[:n_cells]
    envelope = shapely.box(x0 - 1000, y0 - 1000, x1 + 1000, y1 + 1000)
    # two Lloyd steps make cells rounder (straighter boundaries) but keep most of the
    # density pattern; seeds that drift out of the outline stay where they were
    for _ in range(2):
        cells = shapely.voronoi_polygons(
            shapely.multipoints(seeds), extend_to=envelope, ordered=True
        )
        moved = shapely.get_coordinates(shapely.centroid(shapely.get_parts(cells)))
        ok = shapely.contains_xy(outline, moved[:, 0], moved[:, 1])
        seeds = np.where(ok[:, None], moved, seeds)
    edges = shapely.voronoi_polygons(
        shapely.multipoints(seeds), extend_to=envelope, only_edges=True
    )
    lines = shapely.union_all([edges, outline.boundary])
    faces = np.asarray(shapely.get_parts(shapely.polygonize(shapely.get_parts(lines))))
    reps = shapely.point_on_surface(faces)
    inside = shapely.contains(outline, reps)
    faces = faces[inside]
    neighbours = _shared_edge_neighbours(faces)
    centroids = shapely.get_coordinates(shapely.centroid(faces))
    noise = smooth_noise(centroids, rng=rng, scale=6000.0)
    return Mesh(faces, centroids, shapely.area(faces), neighbours, noise)


def _shared_edge_neighbours(faces: np.ndarray) -> list[np.ndarray]:
    """Faces that share an edge (not just a corner).

    The faces are polygonised from one noding of all the lines, so two faces that touch
    along a line hold the very same segments there (same vertices, bit for bit): faces
    sharing a segment are neighbours, faces meeting at a vertex only share no segment.
    """
    rings, face_of_ring = shapely.get_rings(faces, return_index=True)
    xy, ring_of_vertex = shapely.get_coordinates(rings, return_index=True)
    # a segment joins a vertex to the next one of the same ring
    first = np.flatnonzero(ring_of_vertex[:-1] == ring_of_vertex[1:])
    a, b = xy[first], xy[first + 1]
    # the same segment whichever way a face walks it: its lower end first
    swap = (a[:, 0] > b[:, 0]) | ((a[:, 0] == b[:, 0]) & (a[:, 1] > b[:, 1]))
    lo = np.where(swap[:, None], b, a)
    hi = np.where(swap[:, None], a, b)
    _, segment = np.unique(np.hstack([lo, hi]), axis=0, return_inverse=True)
    face = face_of_ring[ring_of_vertex[first]]
    order = np.lexsort((face, segment.ravel()))
    seg, face = segment.ravel()[order], face[order]
    same = (seg[:-1] == seg[1:]) & (face[:-1] != face[1:])
    pairs = np.column_stack([face[:-1][same], face[1:][same]])
    # each pair both ways, once, sorted by face then neighbour (np.unique sorts the rows)
    both = np.unique(np.vstack([pairs, pairs[:, ::-1]]), axis=0)
    starts = np.searchsorted(both[:, 0], np.arange(len(faces) + 1))
    return [both[starts[i] : starts[i + 1], 1].astype(np.int64) for i in range(len(faces))]


def smooth_noise(xy: np.ndarray, *, rng: np.random.Generator, scale: float) -> np.ndarray:
    """A smooth random field in 0..1 at points: a sum of random plane waves."""
    value = np.zeros(len(xy))
    for octave in (1.0, 2.3, 5.1):
        for _ in range(4):
            angle = rng.uniform(0, 2 * np.pi)
            k = 2 * np.pi * octave / scale
            phase = rng.uniform(0, 2 * np.pi)
            value += (
                np.sin(k * (xy[:, 0] * np.cos(angle) + xy[:, 1] * np.sin(angle)) + phase) / octave
            )
    lo, hi = value.min(), value.max()
    return (value - lo) / (hi - lo) if hi > lo else value


def choose_seeds(
    xy: np.ndarray, weights: np.ndarray, k: int, *, rng: np.random.Generator, steps: int = 8
) -> np.ndarray:
    """Indices of ``k`` well-spread cells: weighted k-means on cell centroids."""
    n = len(xy)
    if k >= n:
        return np.arange(n)
    p = weights / weights.sum()
    centres = xy[rng.choice(n, size=k, replace=False, p=p)]
    for _ in range(steps):
        _, lab = cKDTree(centres).query(xy)
        total = np.bincount(lab, weights=weights, minlength=k)
        sx = np.bincount(lab, weights=weights * xy[:, 0], minlength=k)
        sy = np.bincount(lab, weights=weights * xy[:, 1], minlength=k)
        has = total > 0
        centres[has] = np.column_stack([sx[has] / total[has], sy[has] / total[has]])
    cell_tree = cKDTree(xy)
    _, nearest = cell_tree.query(centres)
    nearest = np.asarray(nearest)
    # distinct cells even when two centres snap to the same one
    taken: set[int] = set()
    out = []
    order = np.argsort(cKDTree(centres).query(xy[nearest], k=1)[0])
    for j in order:
        c = int(nearest[j])
        if c in taken:
            _, cand = cell_tree.query(centres[j], k=min(n, 32))
            c = next(int(i) for i in np.atleast_1d(cand) if int(i) not in taken)
        taken.add(c)
        out.append(c)
    return np.asarray(out)


def grow_regions(
    mesh: Mesh,
    cells: np.ndarray,
    seeds: np.ndarray,
    targets: np.ndarray,
    *,
    rng: np.random.Generator,
    roughness: float = 0.6,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Partition ``cells`` into connected regions grown from ``seeds``.

    Parameters
    ----------
    mesh
        The mesh.
    cells
        Cell indices to partition (the parent region).
    seeds
        One cell per region (each in ``cells``).
    targets
        Relative target size (in cell weight) per region.
    rng
        Random generator.
    roughness
        How much the smooth noise bends boundaries (0 = compact discs).
    weights
        What a cell counts towards its region's size (all cells, by global index);
        default 1 per cell, so regions are smaller where cells are denser.

    Returns
    -------
    numpy.ndarray
        Region number (0..k-1) for each of ``cells``, in the order of ``cells``.
    """
    k = len(seeds)
    local = {int(c): i for i, c in enumerate(cells)}
    label = np.full(len(cells), -1, dtype=np.int64)
    weight = np.ones(len(cells)) if weights is None else weights[cells]
    targets = np.asarray(targets, dtype=float)
    targets = targets / targets.sum() * weight.sum()
    filled = np.zeros(k)
    frontiers: list[list[tuple[float, int]]] = [[] for _ in range(k)]
    jitter = rng.uniform(0.97, 1.03, size=len(cells))
    cost_factor = (1 + roughness * mesh.noise[cells]) * jitter
    queue: list[tuple[float, int]] = []
    for r, s in enumerate(seeds):
        li = local[int(s)]
        label[li] = r
        filled[r] += weight[li]
        _push_neighbours(mesh, li, cells, local, label, frontiers[r], r, seeds, cost_factor)
        heapq.heappush(queue, (filled[r] / targets[r], r))
    while queue:
        _, r = heapq.heappop(queue)
        front = frontiers[r]
        while front and label[front[0][1]] != -1:
            heapq.heappop(front)
        if not front:
            continue  # boxed in: other regions take the rest
        _, li = heapq.heappop(front)
        label[li] = r
        filled[r] += weight[li]
        _push_neighbours(mesh, li, cells, local, label, front, r, seeds, cost_factor)
        heapq.heappush(queue, (filled[r] / targets[r], r))
    if (label == -1).any():
        # cells cut off from every seed (islands): join the region of the nearest labelled cell
        done = np.flatnonzero(label != -1)
        todo = np.flatnonzero(label == -1)
        _, nearest = cKDTree(mesh.centroids[cells[done]]).query(mesh.centroids[cells[todo]])
        label[todo] = label[done[nearest]]
    return label


def _push_neighbours(
    mesh: Mesh,
    li: int,
    cells: np.ndarray,
    local: dict[int, int],
    label: np.ndarray,
    front: list[tuple[float, int]],
    region: int,
    seeds: np.ndarray,
    cost_factor: np.ndarray,
) -> None:
    seed_xy = mesh.centroids[int(seeds[region])]
    nbs = mesh.neighbours[int(cells[li])]
    # one vectorised hypot (the same libm call per element as a scalar one: same values)
    gap = mesh.centroids[nbs] - seed_xy
    dist = np.hypot(gap[:, 0], gap[:, 1]).tolist()
    for nb, d in zip(nbs.tolist(), dist, strict=True):
        lj = local.get(nb)
        if lj is None or label[lj] != -1:
            continue
        heapq.heappush(front, (d * cost_factor[lj], lj))
