"""Assignment: the fast engine gives the reference's answer point by point, and the store and
command use it.

The reference is :func:`gisgrid.analysis.assign.assign_points_exact` (GEOS ``covered_by``, smallest
code wins). The engine (:class:`gisgrid.analysis.assign.GridIndex`) is compared with it on random
points and on points chosen to break it: vertices, edge midpoints, points 1e-9° either side
of edges, points at random places along edges, holes and their rings, overlaps, points on the
raster's own lines, missing and empty points; on a synthetic coverage with a multipolygon
grid, a grid with a hole (an island grid in half of it), overlapping grids, a lattice with
four grids at a vertex, a grid drawn clockwise and an invalid grid; and on the sample
county. Settled cells are checked directly: no boundary comes near their box.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import sha256
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal, assert_series_equal
from shapely.geometry import LineString, Point, Polygon, box

from gisgrid.analysis.assign import (
    GridIndex,
    assign_points,
    assign_points_exact,
    assign_store,
    compiled,
)
from gisgrid.analysis.assign.compiled import run_states
from gisgrid.analysis.assign.index import (
    _ORIENT_ERR as ORIENT_ERR,
)
from gisgrid.analysis.assign.index import (
    EXACT,
    NONE,
    PARALLEL_POINTS,
    PATH_GEOS,
    PATH_OUTSIDE,
    PATH_RUN,
    PATH_SETTLED,
    RUN0,
)
from gisgrid.errors import AssignmentInputError, ConfigError, NotFoundError, StoreError
from gisgrid.layers import ASSIGNED_LAYERS, LAYERS
from gisgrid.sample import write_sample_county
from gisgrid.stores.geopackage import GeoPackageStore

Run = Callable[..., subprocess.CompletedProcess[str]]
CRS = "EPSG:4326"
AREA = (112.40, 29.40, 112.60, 29.56)  # the Voronoi part of the synthetic coverage
LATTICE = (112.60, 29.40, 112.66, 29.56)  # 3 x 4 squares east of it


# --- synthetic coverage -------------------------------------------------------------------------


def _codes(rng: np.random.Generator, n: int) -> list[str]:
    """Distinct 18-digit codes in an order unrelated to position (the tie rule must matter)."""
    numbers = rng.choice(10**6, size=n, replace=False)
    return [f"430623101{int(k):09d}" for k in numbers]


def synthetic_coverage(seed: int = 7) -> gpd.GeoDataFrame:
    """~170 grids: Voronoi cells, a lattice, and every awkward case the rule names."""
    rng = np.random.default_rng(seed)
    area = box(*AREA)
    seeds = rng.uniform(AREA[:2], AREA[2:], size=(150, 2))
    cells = list(
        shapely.intersection(
            shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area)),
            area,
        )
    )
    order = np.argsort(shapely.area(np.asarray(cells)))
    big = [cells[int(i)] for i in order[-6:]]
    kinds: list[str] = []
    geoms: list[Any] = []
    for c in cells:
        if any(c.equals(b) for b in big[:2]):
            continue
        geoms.append(c)
        kinds.append("voronoi")
    # a multipolygon: two cells far apart under one code
    a, b = big[0], big[1]
    geoms.append(shapely.MultiPolygon([a, b]))
    kinds.append("multipolygon")
    # a grid with a square hole; an island grid fills the hole's west half, the east half
    # stays a gap; the hole's ring and the island's edges are shared exactly
    host_i = next(i for i, g in enumerate(geoms) if g.equals(big[2]))
    host = geoms[host_i]
    cx, cy = host.representative_point().coords[0]
    half = 0.002
    while not host.contains(box(cx - half, cy - half, cx + half, cy + half)):
        half /= 2
    hole = box(cx - half, cy - half, cx + half, cy + half)
    geoms[host_i] = Polygon(host.exterior.coords, [hole.exterior.coords])
    kinds[host_i] = "with_hole"
    geoms.append(box(cx - half, cy - half, cx, cy + half))
    kinds.append("island")
    # two overlapping grids: a disc around a vertex where three cells meet
    vertex = shapely.get_coordinates(big[3])[0]
    geoms.append(Point(vertex).buffer(0.004, quad_segs=6))
    kinds.append("overlap_disc")
    # a grid drawn clockwise (orientation must not matter)
    cw_i = next(i for i, g in enumerate(geoms) if g.equals(big[4]))
    geoms[cw_i] = shapely.reverse(geoms[cw_i])
    kinds[cw_i] = "clockwise"
    # a lattice of squares: four grids at each inner vertex, exact horizontal edges
    xs = np.linspace(LATTICE[0], LATTICE[2], 4)
    ys = np.linspace(LATTICE[1], LATTICE[3], 5)
    for i in range(3):
        for j in range(4):
            geoms.append(box(xs[i], ys[j], xs[i + 1], ys[j + 1]))
            kinds.append("lattice")
    return gpd.GeoDataFrame(
        {"code": _codes(rng, len(geoms)), "kind": kinds}, geometry=geoms, crs=CRS
    )


def with_invalid(grids: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The coverage plus an invalid bowtie grid over a corner of it."""
    x, y = 112.45, 29.45
    bowtie = Polygon([(x, y), (x + 0.01, y + 0.01), (x + 0.01, y), (x, y + 0.01)])
    assert not bowtie.is_valid
    extra = gpd.GeoDataFrame(
        {"code": ["430623101999999999"], "kind": ["invalid"]}, geometry=[bowtie], crs=CRS
    )
    return pd.concat([grids, extra], ignore_index=True)


@pytest.fixture(scope="module")
def coverage() -> gpd.GeoDataFrame:
    return synthetic_coverage()


def points(xy: np.ndarray) -> gpd.GeoSeries:
    return gpd.GeoSeries(shapely.points(xy), crs=CRS)


def random_points(bounds: Any, n: int, seed: int) -> np.ndarray:
    x0, y0, x1, y1 = bounds
    dx, dy = (x1 - x0) * 0.05, (y1 - y0) * 0.05
    return np.random.default_rng(seed).uniform([x0 - dx, y0 - dy], [x1 + dx, y1 + dy], (n, 2))


def adversarial_points(grids: gpd.GeoDataFrame, seed: int = 1) -> np.ndarray:
    """Points on and right next to every boundary of ``grids``, and inside their holes."""
    rng = np.random.default_rng(seed)
    rings = shapely.get_rings(shapely.get_parts(grids.geometry.values))
    xy, ring = shapely.get_coordinates(rings, return_index=True)
    same = ring[1:] == ring[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    d, a, b = d[length > 0], a[length > 0], b[length > 0]
    normal = np.column_stack([-d[:, 1], d[:, 0]]) / np.hypot(d[:, 0], d[:, 1])[:, None]
    mid = (a + b) / 2
    t = rng.uniform(0, 1, size=(len(a), 1))
    along = a + t * d  # within rounding of the segment, on either side or on it
    out = [
        xy,  # every vertex
        mid,  # every edge midpoint
        mid + 1e-9 * normal,  # just either side of every edge
        mid - 1e-9 * normal,
        along,
        along + 1e-12 * normal,
        along - 1e-12 * normal,
        a + 1e-9 * normal,  # next to the vertices, off the edge
        a - 1e-9 * d / np.hypot(d[:, 0], d[:, 1])[:, None],  # just beyond a vertex
    ]
    for delta in (1e-9, 1e-7, 1e-5):  # level with a vertex, or straight above it
        for step in ((delta, 0), (-delta, 0), (0, delta), (0, -delta)):
            out.append(xy + np.array(step))
    holes = shapely.get_parts(shapely.get_rings(shapely.get_parts(grids.geometry.values)))
    interiors = [r for r in holes if not shapely.is_ccw(r)]
    if interiors:
        out.append(shapely.get_coordinates(shapely.point_on_surface(shapely.polygons(interiors))))
    return np.vstack(out)


def raster_line_points(index: GridIndex, n: int, seed: int = 2) -> np.ndarray:
    """Points exactly on the raster's column lines, row lines and strip centre lines."""
    rng = np.random.default_rng(seed)
    ox, oy = index.origin
    c = index.cell_size
    rows, cols = index.cells.shape
    col = rng.integers(0, cols, n)
    row = rng.integers(0, rows, n)
    x0, y0, x1, y1 = index.bounds or (0, 0, 1, 1)
    rx = rng.uniform(x0, x1, n)
    ry = rng.uniform(y0, y1, n)
    bottom = oy + row * c
    return np.vstack(
        [
            np.column_stack([ox + col * c, ry]),
            np.column_stack([rx, bottom]),
            np.column_stack([rx, bottom + 0.5 * c]),  # the line the labels are counted on
            np.column_stack([ox + col * c, bottom + 0.5 * c]),
            np.column_stack([ox + col * c, bottom]),
        ]
    )


def assert_same_answers(grids: gpd.GeoDataFrame, xy: np.ndarray, **kwargs: Any) -> Any:
    pts = points(xy)
    expected = assign_points_exact(pts, grids)
    index = GridIndex.from_grids(grids, **kwargs)
    got = index.assign(pts)
    differ = np.flatnonzero(got != expected)
    assert len(differ) == 0, (
        f"{len(differ)} of {len(xy)} differ, e.g. {xy[differ[:3]].tolist()}: "
        f"{got[differ[:3]].tolist()} vs {expected[differ[:3]].tolist()}"
    )
    assert (assign_points(pts, grids, **kwargs) == expected).all()
    return index, index.lookup_points(pts)


# --- the engine equals the reference -------------------------------------------------------------

CELL_SIZES = [None, 0.004, 0.0011, 0.0002]  # default, runs too long (GEOS), coarse, fine


@pytest.mark.parametrize("cell_size", CELL_SIZES)
def test_random_points_on_the_synthetic_coverage(coverage, cell_size):
    xy = random_points(coverage.total_bounds, 100_000, seed=11)
    _, found = assert_same_answers(coverage, xy, cell_size=cell_size)
    if cell_size != 0.004:
        # the point of the index: almost no point needs a polygon test
        assert (found.path == PATH_GEOS).mean() < 0.005
        assert (found.path == PATH_SETTLED).mean() > 0.5
        assert (found.path == PATH_RUN).any()


@pytest.mark.parametrize("cell_size", CELL_SIZES)
def test_adversarial_points_on_the_synthetic_coverage(coverage, cell_size):
    xy = adversarial_points(coverage)
    index, found = assert_same_answers(coverage, xy, cell_size=cell_size)
    lines = raster_line_points(index, 20_000)
    assert_same_answers(coverage, lines, cell_size=cell_size)
    # a vertex is on a boundary: never proven by the raster, always decided by GEOS
    vertices = shapely.get_coordinates(coverage.geometry.values)
    found = index.lookup(vertices[:, 0], vertices[:, 1])
    assert (found.path == PATH_GEOS).all()
    if cell_size != 0.004:
        # points off a boundary by 1e-7 degrees (1 cm) are proven, not left to GEOS: level
        # with a vertex (where a half-open rule must count a crossing once) or beside an edge
        for step in ((1e-7, 0), (-1e-7, 0), (0, 1e-7), (0, -1e-7)):
            near = vertices + np.array(step)
            assert (index.lookup(near[:, 0], near[:, 1]).path == PATH_GEOS).mean() < 0.25


def test_invalid_grids_are_left_to_geos(coverage):
    grids = with_invalid(coverage)
    xy = np.vstack([random_points(grids.total_bounds, 50_000, seed=3), adversarial_points(grids)])
    index, _ = assert_same_answers(grids, xy)
    x0, y0, x1, y1 = grids.geometry.iloc[-1].bounds
    ox, oy = index.origin
    c = index.cell_size
    rows = slice(int((y0 - oy) // c), int((y1 - oy) // c) + 1)
    cols = slice(int((x0 - ox) // c), int((x1 - ox) // c) + 1)
    assert (index.cells[rows, cols] == EXACT).all(), "no cell near an invalid grid is settled"


def test_overlaps_holes_and_islands(coverage):
    disc = coverage.loc[coverage["kind"] == "overlap_disc"].geometry.iloc[0]
    host = coverage.loc[coverage["kind"] == "with_hole"].geometry.iloc[0]
    island = coverage.loc[coverage["kind"] == "island"].geometry.iloc[0]
    hole = Polygon(host.interiors[0])
    gap = shapely.difference(hole, island)
    rng = np.random.default_rng(5)
    inside_disc = rng.uniform(disc.bounds[:2], disc.bounds[2:], (2000, 2))
    inside_hole = rng.uniform(hole.bounds[:2], hole.bounds[2:], (2000, 2))
    xy = np.vstack(
        [
            inside_disc,
            inside_hole,
            shapely.get_coordinates(hole.exterior),
            shapely.get_coordinates(shapely.point_on_surface(gap)),
        ]
    )
    _, found = assert_same_answers(coverage, xy)
    index = GridIndex.from_grids(coverage)
    got = index.assign(points(xy))
    in_gap = shapely.contains_xy(gap, xy[:, 0], xy[:, 1])
    assert in_gap.any() and all(g is None for g in got[in_gap])
    in_overlap = shapely.contains_xy(disc, xy[:, 0], xy[:, 1]) & shapely.contains_xy(
        shapely.union_all(coverage.loc[coverage["kind"] != "overlap_disc"].geometry.values),
        xy[:, 0],
        xy[:, 1],
    )
    assert in_overlap.any() and found.shared[in_overlap].all()


def test_grids_aligned_with_the_raster(coverage):
    """Vertices on strip centre lines, horizontal edges along them, vertical edges on column
    lines: the cases where a half-open rule or a rounding slip would show."""
    c = 0.001
    x0, y0 = 112.40, 29.40
    ox, oy = x0 - 2 * c, y0 - 2 * c
    cols = [x0] + [ox + k * c for k in (5, 9, 14)] + [ox + 20 * c]
    rows = [y0] + [oy + r * c + 0.5 * c for r in (4, 8, 11)] + [oy + 18 * c]
    geoms = [
        box(cols[i], rows[j], cols[i + 1], rows[j + 1])
        for i in range(len(cols) - 1)
        for j in range(len(rows) - 1)
    ]
    # and a diamond whose vertices sit on centre lines and column lines
    geoms.append(
        Polygon(
            [
                (ox + 25 * c, oy + 6 * c + 0.5 * c),
                (ox + 28 * c, oy + 9 * c + 0.5 * c),
                (ox + 25 * c, oy + 12 * c + 0.5 * c),
                (ox + 22 * c, oy + 9 * c + 0.5 * c),
            ]
        )
    )
    grids = gpd.GeoDataFrame(
        {"code": _codes(np.random.default_rng(9), len(geoms))}, geometry=geoms, crs=CRS
    )
    index = GridIndex.from_grids(grids, cell_size=c)
    assert index.origin == (ox, oy)
    xy = np.vstack(
        [
            adversarial_points(grids),
            raster_line_points(index, 20_000),
            random_points(grids.total_bounds, 20_000, seed=4),
        ]
    )
    assert_same_answers(grids, xy, cell_size=c)


def nearly_collinear_pairs(n: int) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """Pairs of grids sharing an edge, each with a point off the edge by about 1e-27°.

    The edge's ends are ``p + (F(k), F(k-1))`` and ``p - (F(k+1), F(k))`` in units of the
    coordinates' last bits (F the Fibonacci numbers), so the exact orientation of ``p`` is
    one unit squared while each floating-point product rounds away some 2**16 units: plain
    floating point finds the point on the edge. Only an exact predicate places it.
    """
    fib = [1, 1]
    while len(fib) < 60:
        fib.append(fib[-1] + fib[-2])
    ux, uy = 2.0**-46, 2.0**-48  # the last bit of a longitude in [64, 128), latitude in [16, 32)
    geoms, xy = [], []
    for i in range(n):
        k = 50 + i % 8
        px, py = 112.40 + 0.03 * (i % 6), 29.42 + 0.03 * (i // 6)
        a = (px + fib[k] * ux, py + fib[k - 1] * uy)
        b = (px - fib[k + 1] * ux, py - fib[k] * uy)
        w = 0.02
        geoms.append(Polygon([b, a, (a[0] - w, a[1]), (b[0] - w, b[1])]))
        geoms.append(Polygon([a, b, (b[0] + w, b[1]), (a[0] + w, a[1])]))
        xy.append((px, py))
    grids = gpd.GeoDataFrame(
        {"code": _codes(np.random.default_rng(13), len(geoms))}, geometry=geoms, crs=CRS
    )
    return grids, np.asarray(xy)


def test_points_floating_point_puts_on_an_edge():
    grids, xy = nearly_collinear_pairs(36)
    assert grids.geometry.is_valid.all()
    a = shapely.get_coordinates(grids.geometry.values[::2])[1::5]  # the edges' ends
    b = shapely.get_coordinates(grids.geometry.values[::2])[0::5]
    plain = (a[:, 0] - xy[:, 0]) * (b[:, 1] - xy[:, 1]) - (a[:, 1] - xy[:, 1]) * (
        b[:, 0] - xy[:, 0]
    )
    exact = [
        (Fraction(ax) - Fraction(x)) * (Fraction(by) - Fraction(y))
        - (Fraction(ay) - Fraction(y)) * (Fraction(bx) - Fraction(x))
        for (ax, ay), (bx, by), (x, y) in zip(a, b, xy, strict=True)
    ]
    assert all(e != 0 for e in exact)
    assert (plain == 0).sum() >= 5, "plain floating point should see points on the edge"
    for cell_size in (None, 0.002):
        _, found = assert_same_answers(grids, xy, cell_size=cell_size)
        assert (found.path == PATH_GEOS).all()


def test_missing_and_empty_points(coverage):
    inside = coverage.geometry.iloc[0].representative_point()
    pts = gpd.GeoSeries([None, Point(), inside, None, Point()], crs=CRS)
    got = GridIndex.from_grids(coverage).assign(pts)
    assert got.tolist() == assign_points_exact(pts, coverage).tolist()
    assert got[[0, 1, 3, 4]].tolist() == [None] * 4
    assert got[2] == coverage["code"].iloc[0]
    found = GridIndex.from_grids(coverage).lookup_points(pts)
    assert (found.path[[0, 1, 3, 4]] == PATH_OUTSIDE).all()


def test_no_points_and_no_grids(coverage):
    empty_points = gpd.GeoSeries([], crs=CRS)
    assert len(assign_points(empty_points, coverage)) == 0
    pts = points(random_points(coverage.total_bounds, 100, seed=1))
    no_grids = coverage.iloc[0:0]
    assert assign_points(pts, no_grids).tolist() == [None] * 100
    blank = gpd.GeoDataFrame(
        {"code": ["430623101000000001", "430623101000000002"]},
        geometry=[Polygon(), shapely.MultiPolygon()],
        crs=CRS,
    )
    assert assign_points(pts, blank).tolist() == [None] * 100
    missing = gpd.GeoDataFrame({"code": ["430623101000000001"]}, geometry=[None], crs=CRS)
    with pytest.raises(AssignmentInputError, match="polygons or multipolygons"):
        assign_points(pts, missing)


def test_the_tie_rule_does_not_depend_on_input_order(coverage):
    xy = np.vstack(
        [adversarial_points(coverage), random_points(coverage.total_bounds, 20_000, seed=8)]
    )
    expected = assign_points(points(xy), coverage)
    rng = np.random.default_rng(3)
    for _ in range(3):
        g = coverage.iloc[rng.permutation(len(coverage))].reset_index(drop=True)
        p = rng.permutation(len(xy))
        back = np.empty(len(xy), dtype=object)
        back[p] = assign_points(points(xy[p]), g)
        assert back.tolist() == expected.tolist()
    # where four lattice squares meet, the smallest of their four codes wins
    lattice = coverage[coverage["kind"] == "lattice"]
    vertex = Point(
        np.linspace(LATTICE[0], LATTICE[2], 4)[1], np.linspace(LATTICE[1], LATTICE[3], 5)[1]
    )
    touching = lattice[lattice.geometry.covers(vertex)]
    assert len(touching) == 4
    assert assign_points(gpd.GeoSeries([vertex], crs=CRS), coverage)[0] == min(touching["code"])


def test_locate_one_point(coverage):
    """``locate`` decides one point in plain Python: the same answers as the reference."""
    index = GridIndex.from_grids(coverage)
    xy = np.vstack(
        [
            adversarial_points(coverage)[::3],
            raster_line_points(index, 500),
            random_points(coverage.total_bounds, 3000, seed=6),
            [[0.0, 0.0], [np.nan, 29.5], [np.inf, 29.5]],
        ]
    )
    expected = assign_points_exact(points(xy), coverage)
    assert [index.locate(x, y) for x, y in xy] == expected.tolist()
    # and it takes the very decisions the vectorised lookup takes, point by point
    paths = index.lookup(xy[:, 0], xy[:, 1]).path
    assert [index._locate(x, y)[1] for x, y in xy] == paths.tolist()
    assert {PATH_SETTLED, PATH_RUN, PATH_GEOS} <= set(paths.tolist())
    grids, near = nearly_collinear_pairs(12)
    index = GridIndex.from_grids(grids)
    expected = assign_points_exact(points(near), grids)
    assert [index.locate(x, y) for x, y in near] == expected.tolist()


def test_one_index_serves_several_threads(coverage):
    index = GridIndex.from_grids(coverage)
    xy = np.vstack(
        [adversarial_points(coverage), random_points(coverage.total_bounds, 30_000, seed=12)]
    )
    expected = assign_points_exact(points(xy), coverage)
    chunks = np.array_split(np.arange(len(xy)), 8)
    results: dict[int, Any] = {}

    def work(k: int) -> None:
        part = chunks[k]
        batch = index.assign(points(xy[part]))
        single = [index.locate(x, y) for x, y in xy[part][::50]]
        results[k] = (batch, single)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(chunks))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, part in enumerate(chunks):
        batch, single = results[k]
        assert (batch == expected[part]).all()
        assert single == expected[part][::50].tolist()


def test_two_threads_give_the_one_threads_answers(coverage):
    """Many points are looked up in slices by two threads, and assign_points builds the
    index in a second thread: the answers, shared flags and paths are those of one thread,
    and the reference's, on points made to break the engine (on and next to every edge and
    vertex, in holes, overlaps and boundary cells, on the raster's lines, empty ones), with
    an invalid grid among the grids."""
    grids = with_invalid(coverage)
    index = GridIndex.from_grids(grids)
    hard = np.vstack([adversarial_points(grids), raster_line_points(index, 20_000)])
    xy = np.vstack([hard, hard[::-1], random_points(grids.total_bounds, 60_000, seed=13)])
    assert len(xy) >= 2 * PARALLEL_POINTS
    x, y = xy[:, 0].copy(), xy[:, 1].copy()
    x[::997] = np.nan  # missing points, in both slices
    y[::997] = np.nan
    one = index.lookup(x, y, threads=1)
    two = index.lookup(x, y, threads=2)
    for field in ("rank", "shared", "path"):
        assert np.array_equal(getattr(one, field), getattr(two, field)), field
    assert (one.path == PATH_RUN).any() and (one.path == PATH_GEOS).any()
    pts = gpd.GeoSeries(shapely.points(x, y), crs=CRS)
    pts[np.isnan(x)] = Point()
    expected = assign_points_exact(pts, grids)
    assert (index.codes_of(two.rank) == expected).all()
    assert (assign_points(pts, grids) == expected).all()


def test_a_bad_point_in_any_slice_is_refused(coverage):
    """assign_points takes the points' coordinates a slice at a time in two threads: a
    non-point in any slice (the first, a middle one, the last) is refused with the same
    words, and before the grids' own errors."""
    xy = random_points(coverage.total_bounds, 3 * PARALLEL_POINTS, seed=17)
    good = shapely.points(xy)
    good[::1001] = Point()  # empty points in every slice take GEOS's slow way
    bad_grids = coverage.drop(columns="code")
    for where in (0, len(good) // 2, len(good) - 1):
        geoms = good.copy()
        geoms[where] = LineString([(0, 0), (1, 1)])
        pts = gpd.GeoSeries(geoms, crs=CRS)
        for grids in (coverage, bad_grids):
            with pytest.raises(AssignmentInputError, match="only points"):
                assign_points(pts, grids)
    got = assign_points(gpd.GeoSeries(good, crs=CRS), coverage)
    assert got[::1001].tolist() == [None] * len(got[::1001])
    assert (got == GridIndex.from_grids(coverage).assign(gpd.GeoSeries(good, crs=CRS))).all()


RunInputs = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _run_inputs(index: GridIndex, xy: np.ndarray) -> RunInputs:
    """The arguments of the run test for the points of ``xy`` in edge cells, as
    :meth:`GridIndex._through_runs` gives them."""
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    assert index._frame is not None
    v = index._cells_and_slots[index._frame.flat_cells(x, y)]
    in_run = np.flatnonzero(v <= RUN0)
    cell = RUN0 - v[in_run].astype(np.int64)
    run = index._cell_run[cell]
    start = index._run_ptr[run]
    k = index._cell_end[cell] - start
    return x[in_run], y[in_run], start, k, index._seg, index._delta


def test_the_compiled_run_test_is_the_python_one(coverage):
    """The run test compiled by numba gives, bit for bit, what its own Python source gives
    run by the interpreter (no reordering or fused multiply-add changes a determinant's
    sign or its error bound), on the points made to break it: on and next to every edge and
    vertex, on the raster's lines, with an invalid grid among the grids."""
    grids = with_invalid(coverage)
    index = GridIndex.from_grids(grids)
    xy = np.vstack([adversarial_points(grids), raster_line_points(index, 2_000)])
    args = _run_inputs(index, xy)
    assert len(args[0]) > 1_000
    state, unsure = run_states(*args, ORIENT_ERR)
    python_state, python_unsure = compiled._run_states(*args, ORIENT_ERR)  # not compiled
    assert np.array_equal(state, python_state)
    assert np.array_equal(unsure, python_unsure)
    assert unsure.any() and (~unsure).any()  # both kinds of answer were put to it


def test_the_run_test_compiles_without_a_folder_for_its_cache(coverage, tmp_path):
    """Where numba finds no folder to keep the machine code in (a read-only install, no
    home), the loop is compiled in memory and answers the same."""
    index = GridIndex.from_grids(coverage)
    args = _run_inputs(index, random_points(coverage.total_bounds, 20_000, seed=23))
    np.savez(tmp_path / "args.npz", *args)
    script = (
        "import sys, numpy as np\n"
        "import numba.core.caching as caching\n"
        "caching.CacheImpl._locator_classes = []  # no folder anywhere\n"
        "from gisgrid.analysis.assign.compiled import run_states\n"
        "a = np.load(sys.argv[1])\n"
        "state, unsure = run_states(*(a[f'arr_{i}'] for i in range(6)), float(sys.argv[2]))\n"
        "np.savez(sys.argv[3], state=state, unsure=unsure)\n"
    )
    out = tmp_path / "out.npz"
    done = subprocess.run(
        [sys.executable, "-W", "error", "-c", script, str(tmp_path / "args.npz"),
         repr(ORIENT_ERR), str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    got = np.load(out)
    state, unsure = run_states(*args, ORIENT_ERR)
    assert np.array_equal(got["state"], state) and np.array_equal(got["unsure"], unsure)


def test_settled_cells_touch_no_boundary(coverage):
    for grids in (coverage, with_invalid(coverage)):
        index = GridIndex.from_grids(grids)
        check_settled_cells(index, grids, limit=None)


def check_settled_cells(index: GridIndex, grids: gpd.GeoDataFrame, *, limit: int | None) -> None:
    """Every settled cell: no boundary within 1e-10° of its box, and its label is the
    reference's answer at its centre and its four corners."""
    rows, cols = np.nonzero(index.cells >= NONE)
    if limit is not None and len(rows) > limit:
        pick = np.random.default_rng(0).choice(len(rows), limit, replace=False)
        rows, cols = rows[pick], cols[pick]
    assert len(rows) > 0
    ox, oy = index.origin
    c = index.cell_size
    x0, y0 = ox + cols * c, oy + rows * c
    boxes = shapely.box(x0 - 1e-10, y0 - 1e-10, x0 + c + 1e-10, y0 + c + 1e-10)
    edges = shapely.STRtree(shapely.boundary(grids.geometry.values))
    hit, _ = edges.query(boxes, predicate="intersects")
    assert len(hit) == 0, f"{len(np.unique(hit))} settled cells touch a boundary"
    labels = index.codes_of(np.maximum(index.cells[rows, cols].astype(np.int64), -1))
    for fx, fy in ((0.5, 0.5), (0, 0), (1, 0), (0, 1), (1, 1)):
        xy = np.column_stack([x0 + fx * c, y0 + fy * c])
        assert (assign_points_exact(points(xy), grids) == labels).all()


# --- input errors -------------------------------------------------------------------------------


def test_crs_and_geometry_types_are_checked(coverage):
    pts = points(random_points(coverage.total_bounds, 10, seed=1))
    cases: list[tuple[Any, Any, str]] = [
        (pts.set_crs(None, allow_override=True), coverage, "points have no CRS"),
        (pts.to_crs("EPSG:3857"), coverage, "points are in EPSG:3857"),
        (pts, coverage.set_crs(None, allow_override=True), "grids have no CRS"),
        (pts, coverage.to_crs("EPSG:32649"), "grids are in EPSG:32649"),
        (gpd.GeoSeries([box(0, 0, 1, 1)], crs=CRS), coverage, "only points"),
        # among points, with or without an empty one (GEOS takes no coordinate of those)
        (gpd.GeoSeries([*pts, LineString([(0, 0), (1, 1)])], crs=CRS), coverage, "only points"),
        (gpd.GeoSeries([Point(), *pts, box(0, 0, 1, 1)], crs=CRS), coverage, "only points"),
        (gpd.GeoSeries([*pts, shapely.MultiPoint([(0, 0)])], crs=CRS), coverage, "only points"),
        (
            pts,
            gpd.GeoDataFrame({"code": ["1"]}, geometry=[LineString([(0, 0), (1, 1)])], crs=CRS),
            "polygons or multipolygons",
        ),
        (pts, coverage.drop(columns="code"), "'code' column"),
    ]
    for p, g, words in cases:
        with pytest.raises(AssignmentInputError, match=words):
            assign_points(p, g)
        with pytest.raises(AssignmentInputError, match=words):
            assign_points_exact(p, g)
        with pytest.raises(AssignmentInputError, match=words):
            GridIndex.from_grids(g).assign(p)
    # CGCS2000 is taken as WGS84, on either side
    cgcs = pts.set_crs("EPSG:4490", allow_override=True)
    assert (
        assign_points(cgcs, coverage.set_crs("EPSG:4490", allow_override=True))
        == assign_points_exact(pts, coverage)
    ).all()
    with pytest.raises(AssignmentInputError, match="cell size"):
        GridIndex.from_grids(coverage, cell_size=0.0)
    with pytest.raises(AssignmentInputError, match="raster of"):
        GridIndex.from_grids(coverage, cell_size=1e-6)


# --- the sample county --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def level3(sample_county) -> gpd.GeoDataFrame:
    grids = sample_county.frames["grids"]
    return grids[grids["level"] == 3].reset_index(drop=True)


@pytest.mark.slow
def test_every_household_lands_in_its_intended_grid(sample_county, level3):
    households = sample_county.frames["households"]
    got = pd.Series(assign_points(households.geometry, level3), index=households["id"])
    intended = sample_county.intended_grid.reindex(got.index)
    outside = sorted(got.index[got.isna()])
    assert outside == sample_county.manifest["defects"]["households_outside"]
    assert intended[outside].isna().all()
    assert (got.dropna() == intended.dropna()).all()
    assert got.notna().sum() == intended.notna().sum()


@pytest.mark.slow
def test_random_and_adversarial_points_in_the_sample_county(sample_county, level3):
    households = shapely.get_coordinates(sample_county.frames["households"].geometry.values)
    rng = np.random.default_rng(21)
    near_homes = households[rng.integers(0, len(households), 100_000)] + rng.normal(
        0, 0.001, (100_000, 2)
    )
    adversarial = adversarial_points(level3)[::4]  # a quarter of each family is plenty
    xy = np.vstack([random_points(level3.total_bounds, 100_000, seed=22), near_homes, adversarial])
    index, found = assert_same_answers(level3, xy)
    assert_same_answers(level3, raster_line_points(index, 30_000))
    assert (found.path == PATH_GEOS)[:200_000].mean() < 0.002
    # the planted overlaps: points inside them are flagged as shared
    overlaps = sample_county.manifest["defects"]["overlaps"]
    assert overlaps
    for item in overlaps:
        a, b = (level3.geometry[level3["code"] == code].iloc[0] for code in item["grid_codes"])
        p = shapely.point_on_surface(shapely.intersection(a, b))
        one = index.lookup(np.array([p.x]), np.array([p.y]))
        assert one.shared[0] and index.codes[one.rank[0]] == min(item["grid_codes"])


@pytest.mark.slow
def test_settled_cells_of_the_sample_county(level3):
    index = GridIndex.from_grids(level3)
    check_settled_cells(index, level3, limit=60_000)


# --- the store ----------------------------------------------------------------------------------


def _frames(store: GeoPackageStore) -> dict[str, pd.DataFrame]:
    return {name: store.read(name) for name in store.layer_names()}


def assert_frames_equal(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    if isinstance(expected, gpd.GeoDataFrame):
        assert_geodataframe_equal(expected, got, check_crs=True)
    else:
        assert_frame_equal(expected, got)


def test_assign_store_writes_grid_code_and_nothing_else(filled_store: GeoPackageStore):
    before = _frames(filled_store)
    report = assign_store(filled_store)
    after = _frames(filled_store)
    assert set(after) == set(before)
    level3 = before["grids"][before["grids"]["level"] == 3]
    assert report.engine == "GridIndex" and report.grids == len(level3) == 4
    for name, frame in before.items():
        if name not in ASSIGNED_LAYERS:
            assert_frames_equal(frame, after[name])
            continue
        expected = assign_points_exact(frame.geometry, level3)
        assert after[name]["grid_code"].tolist() == expected.tolist()
        assert_frames_equal(frame.drop(columns="grid_code"), after[name].drop(columns="grid_code"))
        item = report.layer(name)
        missing = [k for k, code in zip(frame["id"], expected, strict=True) if code is None]
        assert (item.features, item.assigned) == (len(frame), len(frame) - len(missing))
        assert list(item.unassigned) == sorted(missing)
    # the little county: a service point on the edge between two level-3 grids takes the
    # smaller code; one in the community (no level-3 grid there) gets none
    sp = after["service_points"].set_index("id")["grid_code"]
    assert sp["SP001"] == "430623901001001001"
    assert sp["SP003"] is None
    assert report.layer("service_points").shared == 1
    assert report.layer("households").unassigned == ()
    assert report.layer("incidents").unassigned == ("E002",)


def test_assign_store_twice_gives_the_same_store(filled_store: GeoPackageStore):
    assign_store(filled_store)
    once = _frames(filled_store)
    assign_store(filled_store)
    for name, frame in _frames(filled_store).items():
        assert_frames_equal(once[name], frame)


def test_assign_store_only_some_layers(filled_store: GeoPackageStore):
    before = _frames(filled_store)
    report = assign_store(filled_store, layers=("incidents",))
    assert [item.layer for item in report.layers] == ["incidents"]
    after = _frames(filled_store)
    assert_series_equal(before["households"]["grid_code"], after["households"]["grid_code"])
    assert after["incidents"]["grid_code"].notna().sum() == 2
    with pytest.raises(AssignmentInputError, match="no grid_code"):
        assign_store(filled_store, layers=("villages",))


def test_assign_store_needs_level3_grids(tmp_store: GeoPackageStore, canonical):
    with pytest.raises(NotFoundError, match="no level-3 grids"):
        assign_store(tmp_store)
    grids = canonical("grids")
    tmp_store.write({"grids": grids[grids["level"] < 3], "households": canonical("households")})
    with pytest.raises(NotFoundError, match="no level-3 grids"):
        assign_store(tmp_store)


def test_assign_store_reads_and_writes_in_one_store_transaction(filled_store: GeoPackageStore):
    """The points are read under the writer lock: another writer between the read and the
    write is refused, not lost (the decision runs while the store holds the lock)."""
    seen: list[str] = []

    def decide(grids, points):
        seen.extend(points)
        with pytest.raises(StoreError, match="another gisgrid process is writing"):
            filled_store.write({"incidents": filled_store.read("incidents")}, mode="replace")
        return {name: np.full(len(p.fid), -1, dtype=np.int64) for name, p in points.items()}

    had = filled_store.read("households")["grid_code"].notna().sum()
    written = filled_store.assign_grid_codes(decide)
    assert seen == list(ASSIGNED_LAYERS)  # every point layer with a grid code, by default
    assert [item.layer for item in written.layers] == list(ASSIGNED_LAYERS)
    assert written.grids == 5  # every version: the four and the first of 001001 (superseded)
    households = written.layers[0]
    assert (households.features, households.assigned, households.changed) == (9, 0, had)
    assert households.unassigned == tuple(sorted(filled_store.read("households")["id"]))
    assert filled_store.read("households")["grid_code"].isna().all()


def test_a_failing_decision_leaves_the_store_as_it_was(filled_store: GeoPackageStore):
    before = sha256(filled_store.path)

    def decide(grids, points):
        raise NotFoundError("no answer")

    with pytest.raises(NotFoundError, match="no answer"):
        filled_store.assign_grid_codes(decide)
    assert sha256(filled_store.path) == before


def test_assign_store_writes_only_changed_layers(filled_store: GeoPackageStore):
    assign_store(filled_store)
    before = sha256(filled_store.path)
    again = filled_store.assign_grid_codes(_positions_as_assign_store_decides)
    assert [item.changed for item in again.layers] == [0, 0, 0]
    assert sha256(filled_store.path) == before  # nothing changed: the file is not rewritten


def _positions_as_assign_store_decides(grids, points):
    codes = list(grids["code"])
    out = {}
    for name, p in points.items():
        found = assign_points_exact(gpd.GeoSeries(shapely.points(p.x, p.y), crs=4326), grids)
        out[name] = np.asarray([codes.index(c) if c else -1 for c in found], dtype=np.int64)
    return out


def test_assigning_a_layer_without_grid_codes_is_refused_by_the_store(
    filled_store: GeoPackageStore,
):
    with pytest.raises(ConfigError, match="only households"):
        filled_store.assign_grid_codes(_positions_as_assign_store_decides, layers=("grids",))


# --- the command --------------------------------------------------------------------------------


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _row(text: str, layer: str) -> list[str]:
    line = next(ln for ln in text.splitlines() if ln.strip("│┃ ").startswith(layer + " "))
    return [cell.strip() for cell in line.strip().strip("│┃").split("│")]


def test_command_on_the_little_county(run_gisgrid: Run, filled_store: GeoPackageStore):
    text = _ok(run_gisgrid("assign", "--store", filled_store.path))
    assert _row(text, "households")[1:5] == ["农户", "9", "9", "0"]
    assert _row(text, "incidents")[1:5] == ["事件", "3", "2", "1"]
    assert _row(text, "service_points")[1:6] == ["服务点", "3", "2", "1", "1"]
    assert "incidents in no grid 不在任何三级网格: E002" in text
    assert "smallest code" in text and "编码最小" in text
    codes = filled_store.read("incidents").set_index("id")["grid_code"]
    assert codes.to_dict() == {
        "E001": "430623901001001001",
        "E002": None,
        "E003": "430623901001002002",
    }


def test_command_errors(run_gisgrid: Run, tmp_path: Path):
    empty = run_gisgrid("assign", "--store", tmp_path / "none.gpkg")
    assert empty.returncode == NotFoundError.exit_code, empty.stderr
    assert "no level-3 grids" in " ".join(empty.stderr.split())
    assert "Traceback" not in empty.stderr
    bad = run_gisgrid("assign", "--store", tmp_path / "store.txt")
    assert bad.returncode == 2 and "error:" in bad.stderr


@pytest.mark.slow
def test_command_on_the_sample_county(run_gisgrid: Run, sample_county, tmp_path: Path):
    store = GeoPackageStore(tmp_path / "county.gpkg")
    write_sample_county(store, sample_county)
    text = _ok(run_gisgrid("assign", store=store.path))
    outside = sample_county.manifest["defects"]["households_outside"]
    n = len(sample_county.frames["households"])
    assert _row(text, "households")[2:5] == [str(n), str(n - len(outside)), str(len(outside))]
    listed = text.split("households in no grid 不在任何三级网格: ")[1].splitlines()[0]
    assert listed.split(" … ")[0].split(", ") == outside[:10]
    households = store.read("households").set_index("id")
    intended = sample_county.intended_grid
    assert households["grid_code"].to_dict() == {
        k: (v if isinstance(v, str) else None) for k, v in intended.items()
    }
    incidents = store.read("incidents")
    assert incidents["grid_code"].notna().all()


def test_layers_that_assignment_fills_are_declared():
    for name in ASSIGNED_LAYERS:
        field = LAYERS[name].field("grid_code")
        assert field.assigned and field.pattern == r"\d{18}"


def test_a_grid_index_is_kept_by_the_content_of_its_grids() -> None:
    """The same grids (another frame, other levels around them) share one index; a grid moved
    (a write) gives another index, which answers with the new shape."""
    from gisgrid.analysis.assign.current import grid_index

    def net(shift: float) -> gpd.GeoDataFrame:
        return gpd.GeoDataFrame(
            {
                "code": ["430623101001001", "430623101001002", "430623101001"],
                "level": [3, 3, 2],
                "geometry": [box(0, 0, 1, 1), box(1 + shift, 0, 2 + shift, 1), box(0, 0, 3, 1)],
            },
            crs="EPSG:4326",
        )

    first = grid_index(net(0.0))
    assert grid_index(net(0.0).iloc[::-1].copy()) is first
    moved = grid_index(net(0.5))
    assert moved is not first
    at = gpd.GeoSeries([Point(1.2, 0.5)], crs="EPSG:4326")
    assert list(first.assign(at)) == ["430623101001002"]
    assert list(moved.assign(at)) == [None]
