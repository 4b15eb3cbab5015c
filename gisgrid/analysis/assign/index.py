"""The fast engine: :class:`GridIndex` answers by the rule of :mod:`.rule`, point by point.

:class:`GridIndex` is built once from the grids and answers by the same rule, point by point,
without a polygon test for almost every point. It lays a raster of square cells (side ``c``,
in degrees) over the grids' extent; rows of the raster are *strips*.

1. **Marking.** Every ring segment of every valid grid is cut at the strip lines into
   pieces; each piece marks the cells of its strip from ``floor((xmin - ε - x0) / c)`` to
   ``floor((xmax + ε - x0) / c)``, with ``ε = 1e-9°`` far above the rounding of this
   arithmetic (about ``1e-13°``). So every closed cell that a boundary touches is marked
   (*edge*); an unmarked cell is *settled*: no boundary touches the closed cell, so each
   grid holds all of it or none of it, and every point in it has the same answer.
2. **Labels of settled cells** come from one exact argument, not from a polygon test per
   cell: the rings are oriented (shells counter-clockwise, holes clockwise; the orientation
   is checked with GEOS's robust ``is_ccw``), so crossing a ring eastwards adds +1 for a
   downward segment and -1 for an upward one, and the sum over the segments crossed by a
   strip's centre line left of a point is the number of grids holding the point (each valid
   grid winds 0 or 1 times around a point off its boundary), while the same sum weighted by
   the grids' ranks names the grid when the number is one. A segment crosses a line when
   one end is on or below it and the other above (half-open: a vertex on the line counts
   once). A crossing lies inside the piece it belongs to, and so in a marked cell: a running
   sum along each strip, packed with the marks into one integer per cell
   (``marks * 2**40 + count * 2**20 + rank sum``), is exact for every settled cell. One
   count means that grid, zero means no grid, two or more (an overlap) sends the cell's
   points to GEOS.
3. **Edge cells** are grouped into *runs*: maximal stretches of marked cells in a strip.
   The cell left of a run is settled, so the state there is known; a point ``p`` in the run
   is reached from it by a horizontal path at ``p``'s height, which can only cross segments
   whose pieces lie in the run. Each such segment is tested with a filtered orientation
   test: ``p`` is on its left or right when the floating-point determinant exceeds a proven
   error bound (Shewchuk's ``(3 + 16u)u`` bound for ``orient2d``, taken 2.6 times larger);
   otherwise ``p`` is on or next to the segment and GEOS decides. The state at ``p`` is the
   anchor state plus the crossings on the path (half-open again). For coordinates within a
   factor of two of each other, as in any county, the differences are exact and rounding
   is monotone, so the plain determinant already has the right sign or is zero; the bound
   keeps the argument true for any coordinates.
4. **GEOS decides** (an STRtree query with ``covered_by``, as in the reference) for points
   within a ten-millionth of a cell of a raster line, points on or within rounding of a
   segment, points in overlaps, points in runs of more than 48 pieces, and points near
   grids that are invalid (no cell of their bounding box is settled) or whose ring
   orientation cannot be confirmed.

The engine never guesses: every answer is either proven by the argument above or computed
by GEOS. ``tests/test_assign.py`` checks it against :func:`assign_points_exact` on random and
adversarial points (vertices, edge midpoints, points 1e-9° either side of edges, holes,
overlaps, points on the raster's own lines) and checks that every settled cell's box is
touched by no boundary.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from gisgrid.analysis.assign.compiled import run_states
from gisgrid.analysis.assign.rule import check_crs, check_grids, check_point_types
from gisgrid.errors import AssignmentInputError

#: cell value: settled, in no grid
NONE = -1
#: cell value: every point in the cell is decided by GEOS
EXACT = -2
#: cell values ``<= RUN0`` are edge cells, numbered ``RUN0 - value`` in flat raster order
RUN0 = -3

#: how a point was decided (:attr:`Lookup.path`)
PATH_OUTSIDE = 0  # missing, empty, or outside the grids' bounding box: no grid
PATH_SETTLED = 1  # settled cell
PATH_RUN = 2  # edge cell, proven by the filtered orientation test
PATH_GEOS = 3  # GEOS covered_by

_EPS = 1e-9  # degrees added around each piece: far above rounding (~1e-13 degrees)
_MARGIN = 1e-7  # in cells: a point this close to a raster line goes to GEOS
_ORIENT_ERR = 8.0 * 2.0**-53  # > (3 + 16u)u, u = 2**-53: Shewchuk's orient2d bound
_MARK = 1 << 40  # packed cell sums: marks * 2**40 + (count * 2**20 + rank sum) + bias
_BIAS = 1 << 39
_ONE = 1 << 20
_MAX_GRIDS = _ONE - 1
_MIN_CELL = 1e-7  # degrees (1 cm): ε must stay far below a cell
_MAX_CELLS = 1 << 26
_CELLS_PER_SEGMENT = 17  # default raster: about this many cells per ring segment ...
_DEFAULT_CELLS = (4096, 1 << 22)  # ... within these bounds
_MAX_RUN_PIECES = 48  # runs with more pieces send their points to GEOS
#: from this many points on, :meth:`GridIndex.lookup` uses two threads
PARALLEL_POINTS = 100_000
_SLICE = 1 << 16  # points looked up at a time


@dataclass(frozen=True)
class Lookup:
    """What :meth:`GridIndex.lookup` found for each point.

    Attributes
    ----------
    rank
        Position of the point's grid in :attr:`GridIndex.codes` (``-1``: no grid).
    shared
        The point is covered by more than one grid (a shared edge or vertex, or an overlap);
        it went to the smallest code.
    path
        How the answer was decided: ``PATH_OUTSIDE``, ``PATH_SETTLED``, ``PATH_RUN`` or
        ``PATH_GEOS``.
    """

    rank: np.ndarray
    shared: np.ndarray
    path: np.ndarray


@dataclass(frozen=True)
class RasterFrame:
    """Where the raster of a :class:`GridIndex` lies: known before its cells are, so that
    the points' cells can be found meanwhile (:func:`assign_points`).

    Attributes
    ----------
    origin
        Longitude and latitude of the raster's lower left corner.
    cell_size
        Side of a cell in degrees.
    shape
        ``(rows, columns)``.
    bounds
        The grids' bounding box ``(xmin, ymin, xmax, ymax)``.
    """

    origin: tuple[float, float]
    cell_size: float
    shape: tuple[int, int]
    bounds: tuple[float, float, float, float]

    def flat_cells(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each point's cell as a flat index into the raster, or one of the two slots after
        it: ``rows * columns`` for a point within a ten-millionth of a cell of a raster
        line (GEOS decides it), ``rows * columns + 1`` for one outside the grids' bounding
        box (no grid; NaN too)."""
        rows, cols = self.shape
        c = self.cell_size
        with np.errstate(invalid="ignore"):  # NaN and inf fail every test below: outside
            fx = (x - self.origin[0]) / c
            fy = (y - self.origin[1]) / c
            col = np.floor(fx)
            row = np.floor(fy)
            fx -= col
            fy -= row
            # the raster holds the grids' bounding box: a point in the box is in the raster
            x0, y0, x1, y1 = self.bounds
            within = (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)
            clear = (fx >= _MARGIN) & (fx <= 1 - _MARGIN) & (fy >= _MARGIN) & (fy <= 1 - _MARGIN)
            row *= cols
            row += col
            flat = row.astype(np.intp)  # NaN (missing points) cast to anything: set below
        flat[~clear] = rows * cols
        flat[~within] = rows * cols + 1
        return flat


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.flags.writeable = False
    return arr


class GridIndex:
    """Point → grid lookups by the assignment rule, built once, reused for many points.

    Build it with :meth:`from_grids`; :meth:`assign` answers for a series of points,
    :meth:`locate` for one longitude and latitude (the web app's ``/api/locate``). The index
    only reads its arrays after it is built, and its GEOS fallback prepares nothing shared
    (an STRtree query prepares the query point only), so one index may serve several
    threads at once.

    Attributes
    ----------
    codes
        Grid codes in code order; ranks index into it.
    origin
        Longitude and latitude of the raster's lower left corner.
    cell_size
        Side of a raster cell in degrees.
    cells
        The raster, shape ``(rows, columns)``, row 0 in the south: a rank (settled, in that
        grid), ``NONE`` (settled, in no grid), ``EXACT`` (GEOS decides) or ``<= RUN0`` (edge
        cell number ``RUN0 - value``).
    bounds
        The grids' bounding box ``(xmin, ymin, xmax, ymax)``; ``None`` without any geometry.
    """

    codes: np.ndarray
    origin: tuple[float, float]
    cell_size: float
    cells: np.ndarray
    bounds: tuple[float, float, float, float] | None

    def __init__(self) -> None:  # use from_grids
        self.codes = np.empty(0, dtype=object)
        self.origin = (0.0, 0.0)
        self.cell_size = 1.0
        self.cells = np.full((1, 1), NONE, dtype=np.int32)
        self._cells_and_slots = np.array([NONE, EXACT, NONE], dtype=np.int32)
        self._codes_or_none = np.array([None], dtype=object)
        self.bounds = None
        self._frame: RasterFrame | None = None
        self._geoms = np.empty(0, dtype=object)
        self._tree = shapely.STRtree(self._geoms)
        self._run_ptr = np.zeros(1, dtype=np.int64)
        self._anchor = np.empty(0, dtype=np.int64)
        self._cell_run = np.empty(0, dtype=np.int64)
        self._cell_end = np.empty(0, dtype=np.int64)
        self._seg = np.empty((8, 0), dtype=np.float64)
        self._delta = np.empty(0, dtype=np.float64)
        self.build_seconds = 0.0

    def __repr__(self) -> str:
        rows, cols = self.cells.shape
        return (
            f"GridIndex({len(self.codes)} grids, {rows}x{cols} cells of {self.cell_size:.3g}°, "
            f"{len(self._anchor)} runs)"
        )

    # building -----------------------------------------------------------------------------
    @classmethod
    def from_grids(
        cls,
        grids: gpd.GeoDataFrame,
        *,
        cell_size: float | None = None,
        on_frame: Callable[[RasterFrame], object] | None = None,
    ) -> GridIndex:
        """Build the index from level-3 grids.

        Parameters
        ----------
        grids
            A ``code`` column and (multi)polygon geometries in EPSG:4326. Invalid and empty
            geometries are allowed: GEOS decides near invalid ones, empty ones cover
            nothing.
        cell_size
            Side of a raster cell in degrees; by default about 17 cells per ring segment
            over the grids' extent (about 0.0006°, 60 m, for the sample county: a coarser
            raster is built sooner, and its points in edge cells are looked up by two
            threads).

        Raises
        ------
        AssignmentInputError
            Wrong CRS or geometry types, no ``code`` column, too many grids, or a cell
            size that is not positive or makes the raster too large.
        on_frame
            Called with the raster's :class:`RasterFrame` as soon as it is known, before
            the cells are computed (not at all when the grids have no geometry).
        """
        started = time.perf_counter()
        check_grids(grids)
        if len(grids) > _MAX_GRIDS:
            raise AssignmentInputError(f"at most {_MAX_GRIDS} grids can be indexed")
        self = cls()
        codes = grids["code"].to_numpy(dtype=object)
        order = np.argsort(codes.astype(str), kind="stable")
        self.codes = _readonly(codes[order])
        self._codes_or_none = _readonly(np.r_[self.codes, np.array([None], dtype=object)])
        geoms = np.asarray(grids.geometry.values, dtype=object)[order]
        self._geoms = _readonly(geoms)
        self._tree = shapely.STRtree(geoms)
        present = ~shapely.is_missing(geoms) & ~shapely.is_empty(geoms)
        if not present.any():
            self.build_seconds = time.perf_counter() - started
            return self
        x0, y0, x1, y1 = (float(v) for v in shapely.total_bounds(geoms[present]))
        self.bounds = (x0, y0, x1, y1)

        # GEOS checks validity in a second thread meanwhile (it releases the GIL); the
        # segments of the grids found invalid are dropped after, as if never taken
        with ThreadPoolExecutor(max_workers=1) as pool:
            validity = pool.submit(shapely.is_valid, geoms)
            a, b, seg_rank, bad_parts = _oriented_segments(geoms, np.flatnonzero(present))
            good = present & validity.result()
        good[bad_parts] = False
        keep = good[seg_rank]
        a, b, seg_rank = a[keep], b[keep], seg_rank[keep]
        forced = np.flatnonzero(present & ~good)

        c = _cell_size(cell_size, (x0, y0, x1, y1), len(a))
        ox, oy = x0 - 2 * c, y0 - 2 * c
        nx = int((x1 - ox) // c) + 3
        ny = int((y1 - oy) // c) + 3
        if nx * ny > _MAX_CELLS:
            raise AssignmentInputError(
                f"a cell size of {c:g}° makes a raster of {nx * ny:,} cells; take a larger one"
            )
        self.origin, self.cell_size = (ox, oy), c
        self._frame = RasterFrame((ox, oy), c, (ny, nx), (x0, y0, x1, y1))
        if on_frame is not None:
            on_frame(self._frame)

        pieces = _pieces(a, b, seg_rank, ox, oy, c)
        cells, sums = _raster(pieces, nx, ny, len(codes))
        marked = np.flatnonzero(sums >= _MARK - _BIAS - _ONE)
        forced_cells = np.empty(0, dtype=np.int64)
        if len(forced):
            forced_cells = _forced_cells(geoms[forced], nx, ox, oy, c)
            marked = np.union1d(marked, forced_cells)
        # number the runs: maximal stretches of marked cells in a row (never at column 0)
        start = np.ones(len(marked), dtype=bool)
        start[1:] = marked[1:] != marked[:-1] + 1
        run_id = np.cumsum(start) - 1
        run_first = marked[start]
        anchor_state = sums[run_first - 1] + _ONE
        del sums
        # the pieces of each run, contiguous and from west to east (by first column); a
        # point in a marked cell needs only those starting at or west of its column
        cells[marked] = RUN0 - np.arange(len(marked))
        piece_run = run_id[RUN0 - cells[pieces.row * nx + pieces.c0].astype(np.int64)]
        key = piece_run * nx + pieces.c0
        by_run = np.argsort(key)
        key = key[by_run]
        counts = np.bincount(piece_run, minlength=len(run_first))
        run_ptr = np.zeros(len(run_first) + 1, dtype=np.int64)
        np.cumsum(counts, out=run_ptr[1:])
        cell_end = np.searchsorted(key, run_id * nx + marked % nx, side="right")
        # valid oriented grids never give a negative count; GEOS decides near invalid grids
        flagged = (counts == 0) | (counts > _MAX_RUN_PIECES) | (anchor_state < 0)
        if len(forced_cells):
            near_invalid = np.isin(marked, forced_cells)
            flagged |= np.bincount(run_id[near_invalid], minlength=len(counts)) > 0
        cells[marked[flagged[run_id]]] = EXACT
        # per piece: its segment's ends and bounding box (ax, ay, bx, by, x/y min, max)
        ends = np.stack(
            [
                a[:, 0],
                a[:, 1],
                b[:, 0],
                b[:, 1],
                np.minimum(a[:, 0], b[:, 0]),
                np.maximum(a[:, 0], b[:, 0]),
                np.minimum(a[:, 1], b[:, 1]),
                np.maximum(a[:, 1], b[:, 1]),
            ]
        )
        self._seg = _readonly(np.take(ends, pieces.seg[by_run], axis=1))
        self._delta = _readonly(pieces.delta[by_run].astype(np.float64))
        self._run_ptr = _readonly(run_ptr)
        self._anchor = _readonly(anchor_state)
        self._cell_run = _readonly(run_id)
        self._cell_end = _readonly(cell_end)
        self._cells_and_slots = _readonly(cells)
        self.cells = cells[: nx * ny].reshape(ny, nx)
        self.build_seconds = time.perf_counter() - started
        return self

    # looking up ---------------------------------------------------------------------------
    def assign(self, points: gpd.GeoSeries) -> np.ndarray:
        """The grid code of each point by the rule (``None`` where no grid covers it).

        Parameters
        ----------
        points
            Point geometries in EPSG:4326 (missing or empty points get ``None``).

        Returns
        -------
        numpy.ndarray
            Object array of codes (str) or ``None``, aligned with ``points``.
        """
        return self.codes_of(self.lookup_points(points).rank)

    def lookup_points(self, points: gpd.GeoSeries) -> Lookup:
        """Like :meth:`assign`, with ranks, shared flags and how each point was decided."""
        return self.lookup(*_coordinates(points))

    def codes_of(self, rank: np.ndarray) -> np.ndarray:
        """Codes for ranks (``None`` for ``-1``), as an object array."""
        return self._codes_or_none[rank]

    def locate(self, lon: float, lat: float) -> str | None:
        """The code of the grid holding one point (``None`` when no grid covers it).

        The same decisions as :meth:`lookup`, in plain Python for one point: a settled
        cell answers at once, an edge cell by the filtered orientation test over its run,
        and GEOS decides the rest.
        """
        rank, _ = self._locate(float(lon), float(lat))
        return None if rank < 0 else str(self.codes[rank])

    def _locate(self, x: float, y: float) -> tuple[int, int]:
        """Rank (or -1) and path of one point, deciding exactly as :meth:`lookup` does."""
        bounds = self.bounds
        if bounds is None or not (bounds[0] <= x <= bounds[2] and bounds[1] <= y <= bounds[3]):
            return -1, PATH_OUTSIDE  # also NaN
        fx = (x - self.origin[0]) / self.cell_size
        fy = (y - self.origin[1]) / self.cell_size
        i, j = math.floor(fx), math.floor(fy)
        if not (_MARGIN <= fx - i <= 1 - _MARGIN and _MARGIN <= fy - j <= 1 - _MARGIN):
            return self._locate_by_geos(x, y), PATH_GEOS
        v = int(self.cells[j, i])
        if v >= NONE:
            return v, PATH_SETTLED
        if v == EXACT:
            return self._locate_by_geos(x, y), PATH_GEOS
        cell = RUN0 - v
        run = int(self._cell_run[cell])
        lo, hi = int(self._run_ptr[run]), int(self._cell_end[cell])
        state = int(self._anchor[run])
        pieces = zip(*self._seg[:, lo:hi].tolist(), self._delta[lo:hi].tolist(), strict=True)
        for ax, ay, bx, by, xmin, xmax, ymin, ymax, delta in pieces:
            if not (ymin <= y <= ymax and x >= xmin):
                continue
            left_term = (ax - x) * (by - y)
            right_term = (ay - y) * (bx - x)
            det = left_term - right_term
            within_x = x <= xmax
            if within_x and abs(det) <= _ORIENT_ERR * (abs(left_term) + abs(right_term)):
                return self._locate_by_geos(x, y), PATH_GEOS
            upward = ay <= y < by
            if (upward or by <= y < ay) and (not within_x or (det < 0) == upward):
                state += int(delta)
        if state == 0:
            return -1, PATH_RUN
        if _ONE <= state < _ONE + len(self.codes):
            return state - _ONE, PATH_RUN
        return self._locate_by_geos(x, y), PATH_GEOS

    def _locate_by_geos(self, x: float, y: float) -> int:
        hits = self._tree.query(shapely.Point(x, y), predicate="covered_by")
        return int(hits.min()) if len(hits) else -1

    def lookup(self, x: np.ndarray, y: np.ndarray, *, threads: int = 2) -> Lookup:
        """Look up longitudes ``x`` and latitudes ``y`` (NaN for a missing point).

        Parameters
        ----------
        x, y
            Coordinates in EPSG:4326, same length.
        threads
            Many points are looked up in slices of 65,536 by this many threads (numpy, the
            compiled run test and the STRtree query release the GIL; the index is only
            read). Each point's answer does not depend on the others, so the slices change
            nothing but the time.

        Returns
        -------
        Lookup
            Rank, shared flag and path of each point.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        n = len(x)
        if n <= _SLICE:
            return self._lookup(x, y, None)
        rank = np.empty(n, dtype=np.int64)
        shared = np.empty(n, dtype=bool)
        path = np.empty(n, dtype=np.int8)

        def work(lo: int, hi: int) -> None:
            part = self._lookup(x[lo:hi], y[lo:hi], None)
            rank[lo:hi], shared[lo:hi], path[lo:hi] = part.rank, part.shared, part.path

        _in_slices(n, threads, work)
        return Lookup(rank, shared, path)

    def _codes(
        self, x: np.ndarray, y: np.ndarray, flat: np.ndarray, known: np.ndarray
    ) -> np.ndarray:
        """:meth:`codes_of` the ranks of :meth:`lookup` (two threads), each slice's codes
        written in place (no ranks gathered first); ``flat`` holds the points' cells in the
        slices of :data:`_SLICE` that ``known`` flags."""
        codes = np.empty(len(x), dtype=object)

        def work(lo: int, hi: int) -> None:
            cells = flat[lo:hi] if known[lo // _SLICE] else None
            part = self._lookup(x[lo:hi], y[lo:hi], cells)
            # straight into place (no temporary: object copies hold the GIL); a rank is
            # -1 .. len(codes) - 1, so "wrap" sends -1 to the None at the end and no other
            np.take(self._codes_or_none, part.rank, out=codes[lo:hi], mode="wrap")

        _in_slices(len(x), 2, work)
        return codes

    def _lookup(self, x: np.ndarray, y: np.ndarray, flat: np.ndarray | None) -> Lookup:
        """:meth:`lookup` in the calling thread (``flat``: the points' cells, if known)."""
        n = len(x)
        shared = np.zeros(n, dtype=bool)
        if self._frame is None or n == 0:
            return Lookup(np.full(n, -1, dtype=np.int64), shared, np.zeros(n, dtype=np.int8))
        if flat is None:
            flat = self._frame.flat_cells(x, y)
        rows, cols = self.cells.shape
        v = self._cells_and_slots[flat]
        rank = v.astype(np.int64)
        np.maximum(rank, -1, out=rank)
        path = np.where(flat == rows * cols + 1, np.int8(PATH_OUTSIDE), np.int8(PATH_SETTLED))
        in_run = np.flatnonzero(v <= RUN0)
        geos = [np.flatnonzero(v == EXACT)]
        if len(in_run):
            cell = RUN0 - v[in_run].astype(np.int64)
            run_rank, proven = self._through_runs(x[in_run], y[in_run], cell)
            done = in_run[proven]
            rank[done] = run_rank[proven]
            path[done] = PATH_RUN
            geos.append(in_run[~proven])
        exact = np.concatenate(geos)
        if len(exact):
            rank[exact], shared[exact] = self._by_geos(x[exact], y[exact])
            path[exact] = PATH_GEOS
        return Lookup(rank, shared, path)

    def _through_runs(
        self, x: np.ndarray, y: np.ndarray, cell: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Ranks of points in edge cells and whether each is proven (else GEOS decides).

        ``cell`` numbers each point's marked cell; the point needs the pieces of the cell's
        run that start at or west of its column: those from ``_run_ptr[run]`` up to
        ``_cell_end[cell]`` (at least one: the piece that marked the cell). The test over
        them is compiled (:mod:`.compiled`).
        """
        run = self._cell_run[cell]
        start = self._run_ptr[run]
        k = self._cell_end[cell] - start
        state, unsure = run_states(x, y, start, k, self._seg, self._delta, _ORIENT_ERR)
        state += self._anchor[run]
        single = (state >= _ONE) & (state < _ONE + len(self.codes))
        return np.where(single, state - _ONE, -1), ~unsure & (single | (state == 0))

    def _by_geos(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Smallest covering rank (or -1) and shared flag, by GEOS ``covered_by``."""
        pt_idx, grid_idx = self._tree.query(shapely.points(x, y), predicate="covered_by")
        rank = np.full(len(x), _MAX_GRIDS, dtype=np.int64)
        np.minimum.at(rank, pt_idx, grid_idx)
        rank[rank == _MAX_GRIDS] = -1
        shared = np.bincount(pt_idx, minlength=len(x)) > 1
        return rank, shared

    def summary(self) -> dict[str, float]:
        """Figures of the index: cells, settled share, runs, pieces, build time."""
        cells = self.cells
        return {
            "grids": float(len(self.codes)),
            "cells": float(cells.size),
            "cell_size_deg": self.cell_size,
            "settled_share": float((cells >= NONE).mean()),
            "runs": float(len(self._anchor)),
            "pieces": float(len(self._delta)),
            "build_seconds": self.build_seconds,
        }


def _in_slices(n: int, threads: int, work: Callable[[int, int], None]) -> None:
    """``work(lo, hi)`` over slices of ``n`` points small enough for their temporaries to
    stay in the processor's cache (about a third faster than one pass over a million
    points), taken by ``threads`` threads in turn from :data:`PARALLEL_POINTS` points on."""
    cuts = [*range(0, n, _SLICE), n]
    if threads > 1 and n >= PARALLEL_POINTS:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            for _ in pool.map(work, cuts[:-1], cuts[1:]):
                pass  # (each raises here if it failed)
    else:
        for lo, hi in itertools.pairwise(cuts):
            work(lo, hi)


def _coordinates(points: gpd.GeoSeries) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of points, checked as :func:`check_points` checks them; NaN
    for missing and empty ones."""
    check_crs("points", points.crs)
    x, y = _xy(np.asarray(points.values, dtype=object))
    return np.ascontiguousarray(x), np.ascontiguousarray(y)


def _xy(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_coordinates` of an object array of geometries (its CRS checked already), as
    strided views.

    A point's bounds are its coordinates twice (NaN for missing and empty ones), and GEOS
    costs about as much per geometry for all four as for one (``get_x`` and ``get_y`` are
    two passes): so one pass for the types, one for the bounds.
    """
    check_point_types(values)
    bounds = shapely.bounds(values)
    return bounds[:, 0], bounds[:, 1]


@dataclass(frozen=True)
class _Pieces:
    """Ring segments cut at strip lines: one piece per (segment, strip)."""

    seg: np.ndarray  # segment of the piece
    row: np.ndarray  # strip (raster row)
    c0: np.ndarray  # first and last marked column
    c1: np.ndarray
    delta: np.ndarray  # packed toggle when crossed eastwards (0 for horizontal segments)
    cross_col: np.ndarray  # for pieces whose segment crosses the strip's centre line: column
    crossing: np.ndarray  # ... and which pieces those are


def _oriented_segments(
    geoms: np.ndarray, ranks: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Segments (a, b, rank) of the oriented rings, and ranks whose orientation failed."""
    if len(ranks) == 0:
        empty = np.empty((0, 2))
        return empty, empty, np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    oriented = shapely.orient_polygons(geoms[ranks])
    parts, part_of = shapely.get_parts(oriented, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    # the first ring of each part is its shell (counter-clockwise), the others holes
    shell = np.r_[True, ring_part[1:] != ring_part[:-1]]
    wrong = shapely.is_ccw(rings) != shell
    bad = np.unique(ranks[part_of[ring_part[wrong]]])
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    k = np.flatnonzero(ring_of[1:] == ring_of[:-1])
    seg_rank = ranks[part_of[ring_part[ring_of[k]]]].astype(np.int64)
    return xy[k], xy[k + 1], seg_rank, bad


def _cell_size(given: float | None, bounds: tuple[float, ...], segments: int) -> float:
    if given is not None:
        if not (math.isfinite(given) and given >= _MIN_CELL):
            raise AssignmentInputError(f"cell size must be at least {_MIN_CELL}°, not {given}")
        return float(given)
    x0, y0, x1, y1 = bounds
    width, height = max(x1 - x0, _MIN_CELL), max(y1 - y0, _MIN_CELL)
    lo, hi = _DEFAULT_CELLS
    target = min(max(_CELLS_PER_SEGMENT * segments, lo), hi)
    return max(math.sqrt(width * height / target), _MIN_CELL)


def _pieces(
    a: np.ndarray, b: np.ndarray, seg_rank: np.ndarray, ox: float, oy: float, c: float
) -> _Pieces:
    """Cut segments at strip lines; the columns each piece marks; centre-line crossings."""
    ay, by = a[:, 1], b[:, 1]
    r0 = np.floor((np.minimum(ay, by) - _EPS - oy) / c).astype(np.int64)
    r1 = np.floor((np.maximum(ay, by) + _EPS - oy) / c).astype(np.int64)
    n = r1 - r0 + 1
    seg = np.repeat(np.arange(len(a)), n)
    row = np.arange(len(seg)) - np.repeat(np.cumsum(n) - n, n) + r0[seg]
    sax, say, sbx, sby = a[seg, 0], a[seg, 1], b[seg, 0], b[seg, 1]
    dx, dy = sbx - sax, sby - say
    bottom = oy + row * c
    top = bottom + c
    flat = dy == 0
    safe_dy = np.where(flat, 1.0, dy)
    t0 = np.where(flat, 0.0, np.clip((bottom - say) / safe_dy, 0.0, 1.0))
    t1 = np.where(flat, 1.0, np.clip((top - say) / safe_dy, 0.0, 1.0))
    xa, xb = sax + t0 * dx, sax + t1 * dx
    c0 = np.floor((np.minimum(xa, xb) - _EPS - ox) / c).astype(np.int64)
    c1 = np.floor((np.maximum(xa, xb) + _EPS - ox) / c).astype(np.int64)
    # crossing a ring eastwards: +1 over a downward segment, -1 over an upward one
    delta = -np.sign(dy).astype(np.int64) * (_ONE + seg_rank[seg])
    centre = bottom + 0.5 * c
    crossing = np.flatnonzero(
        ((say <= centre) & (centre < sby)) | ((sby <= centre) & (centre < say))
    )
    xc = sax[crossing] + (centre[crossing] - say[crossing]) / dy[crossing] * dx[crossing]
    cross_col = np.clip(np.floor((xc - ox) / c).astype(np.int64), c0[crossing], c1[crossing])
    return _Pieces(seg, row, c0, c1, delta, cross_col, crossing)


def _raster(pieces: _Pieces, nx: int, ny: int, n_grids: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell values (a rank, ``NONE`` or ``EXACT``) and each cell's packed sum minus ``2**20``.

    One running sum along the flat raster carries both the marks (how many pieces cover a
    cell, times 2**40) and the state (count * 2**20 + rank sum, biased by 2**39 so that it
    never borrows from the marks): a piece adds its mark at its first column and takes it
    back after its last; a crossing of the centre line adds its toggle in its column. The
    first and last two columns of every row are never marked and hold no crossing (the
    raster has a margin of two cells), so a row starts from the state zero.
    """
    n = nx * ny
    base = pieces.row * nx
    cross = pieces.crossing
    packed = np.zeros(n + 1, dtype=np.int64)
    packed[0] = _BIAS
    np.add.at(
        packed,
        np.concatenate([base + pieces.c0, base + pieces.c1 + 1, base[cross] + pieces.cross_col]),
        np.concatenate(
            [
                np.full(len(base), _MARK, dtype=np.int64),
                np.full(len(base), -_MARK, dtype=np.int64),
                pieces.delta[cross],
            ]
        ),
    )
    np.cumsum(packed, out=packed)
    sums = packed[:n]
    sums -= _BIAS + _ONE  # now 0 .. n_grids - 1 is a settled cell in exactly that grid
    # two slots after the raster: EXACT for points near a raster line, NONE for outside
    cells = np.full(n + 2, EXACT, dtype=np.int32)
    cells[-1] = NONE
    # 0 <= sums < n_grids in one comparison: negative sums are huge as unsigned
    np.copyto(cells[:n], sums, casting="unsafe", where=sums.view(np.uint64) < n_grids)
    np.copyto(cells[:n], NONE, where=sums == -_ONE)
    return cells, sums


def _forced_cells(geoms: np.ndarray, nx: int, ox: float, oy: float, c: float) -> np.ndarray:
    """Flat indices of the cells within the bounding boxes of ``geoms`` (sorted, unique)."""
    bounds = shapely.bounds(geoms)
    c0 = np.floor((bounds[:, 0] - _EPS - ox) / c).astype(np.int64)
    c1 = np.floor((bounds[:, 2] + _EPS - ox) / c).astype(np.int64)
    r0 = np.floor((bounds[:, 1] - _EPS - oy) / c).astype(np.int64)
    r1 = np.floor((bounds[:, 3] + _EPS - oy) / c).astype(np.int64)
    rows = r1 - r0 + 1
    box = np.repeat(np.arange(len(bounds)), rows)
    row = np.arange(len(box)) - np.repeat(np.cumsum(rows) - rows, rows) + r0[box]
    width = (c1 - c0 + 1)[box]
    first = row * nx + c0[box]
    idx = np.repeat(first - (np.cumsum(width) - width), width) + np.arange(int(width.sum()))
    return np.unique(idx)


# --- assignment of whole layers ----------------------------------------------------------------


def assign_points(
    points: gpd.GeoSeries, grids: gpd.GeoDataFrame, *, cell_size: float | None = None
) -> np.ndarray:
    """The grid code of each point by the rule, fast (same answer as the reference).

    Builds a :class:`GridIndex` and looks every point up; keep an index yourself to look up
    many batches.

    Parameters
    ----------
    points
        Point geometries in EPSG:4326 (missing or empty points get ``None``).
    grids
        Level-3 grids: a ``code`` column and (multi)polygon geometries in EPSG:4326.
    cell_size
        Raster cell side in degrees (see :meth:`GridIndex.from_grids`).

    Returns
    -------
    numpy.ndarray
        Object array of codes (str) or ``None``, aligned with ``points``.
    """
    # Two threads share the work before the lookups: one builds the index and then helps
    # the other take the points' coordinates, a slice at a time, and (once the raster's
    # frame is known, early in the build) their cells; then both look the slices up. GEOS
    # and numpy release the GIL; each slice is written by the one thread that took it.
    check_crs("points", points.crs)
    values = np.asarray(points.values, dtype=object)
    n = len(values)
    x, y = np.empty(n), np.empty(n)
    flat = np.empty(n, dtype=np.intp)
    cuts = [*range(0, n, _SLICE), n]
    known = np.zeros(len(cuts) - 1, dtype=bool)  # the slices whose cells are in flat
    framed: Future[RasterFrame] = Future()
    turns = itertools.count()  # (next() on it is atomic: each slice is taken once)

    def take_coordinates() -> None:
        while (i := next(turns)) < len(known):
            lo, hi = cuts[i], cuts[i + 1]
            x[lo:hi], y[lo:hi] = _xy(values[lo:hi])
            if framed.done():
                flat[lo:hi] = framed.result().flat_cells(x[lo:hi], y[lo:hi])
                known[i] = True

    def build_then_help() -> GridIndex:
        index = GridIndex.from_grids(grids, cell_size=cell_size, on_frame=framed.set_result)
        take_coordinates()
        return index

    with ThreadPoolExecutor(max_workers=1) as pool:
        building = pool.submit(build_then_help)
        take_coordinates()  # (a point error raised here wins over the grids' errors)
        index = building.result()
    return index._codes(x, y, flat, known)
