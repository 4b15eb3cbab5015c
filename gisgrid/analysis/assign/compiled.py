"""The filtered orientation test over the pieces of a run (step 3 of :mod:`.index`), compiled.

For each point in an edge cell, the crossings of the horizontal path from its run's anchor
to the point, and whether any piece passes too close to the point to tell (GEOS decides
those). The arithmetic is that of :meth:`GridIndex._locate <.index.GridIndex._locate>`, the
same operations in the same order on IEEE doubles: numba compiles it without ``fastmath``,
so LLVM neither reorders nor fuses them (no FMA contraction), and the proven error bound of
the determinant holds as it does in plain Python.

Why compiled: in numpy the test costs a dozen passes over every (point, piece) pair (about
1.3 million pairs for a million households), and it was a third of the time of assigning a
prefecture's households; one loop over the pairs costs a fifth of that. numba is imported on
first use (a quarter of a second, so never at a server's start) and keeps the machine code
on disk (``cache=True``: in the package's ``__pycache__``, or the user's cache folder when
that is not writable), so only the first run on a machine compiles (about a second).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

#: x, y, first piece, piece count, segment table (8 rows), deltas, error factor →
#: crossings (count * 2**20 + rank sum) and "too close to tell" per point
RunStates = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, float],
    tuple[np.ndarray, np.ndarray],
]

_lock = threading.Lock()
_compiled: list[RunStates] = []


def run_states(
    x: np.ndarray,
    y: np.ndarray,
    start: np.ndarray,
    k: np.ndarray,
    seg: np.ndarray,
    delta: np.ndarray,
    orient_err: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Crossings on the path from the anchor to each point over its ``k`` pieces from
    ``start``, and the points GEOS must decide (compiled on first use; releases the GIL).

    Parameters
    ----------
    x, y
        The points (float64).
    start, k
        Each point's first piece and number of pieces (int64).
    seg
        Per piece ``ax, ay, bx, by, xmin, xmax, ymin, ymax`` (shape ``(8, pieces)``).
    delta
        Per piece, the packed toggle when crossed eastwards (float64, whole numbers).
    orient_err
        The determinant's relative error bound.

    Returns
    -------
    tuple of numpy.ndarray
        The summed toggles (int64) and the "too close to tell" flags (bool).
    """
    if not _compiled:
        with _lock:
            if not _compiled:
                import numba  # (imported here: a quarter of a second, only when needed)

                try:
                    compiled = numba.njit(cache=True, nogil=True)(_run_states)
                except RuntimeError:  # no writable folder for the machine code: keep it
                    compiled = numba.njit(nogil=True)(_run_states)  # in memory only
                _compiled.append(compiled)
    return _compiled[0](x, y, start, k, seg, delta, orient_err)


def _run_states(
    x: np.ndarray,
    y: np.ndarray,
    start: np.ndarray,
    k: np.ndarray,
    seg: np.ndarray,
    delta: np.ndarray,
    orient_err: float,
) -> tuple[np.ndarray, np.ndarray]:
    n = len(x)
    state = np.zeros(n, dtype=np.int64)
    unsure = np.zeros(n, dtype=np.bool_)
    for i in range(n):
        px = x[i]
        py = y[i]
        toggles = 0.0  # whole numbers below 2**53: exact
        for p in range(start[i], start[i] + k[i]):
            # only segments whose box reaches the point's height, not wholly east of it
            if not (py >= seg[6, p] and py <= seg[7, p] and px >= seg[4, p]):
                continue
            ax = seg[0, p]
            ay = seg[1, p]
            bx = seg[2, p]
            by = seg[3, p]
            # orient2d with the point as pivot; its sign is certain beyond the error bound
            left_term = (ax - px) * (by - py)
            right_term = (ay - py) * (bx - px)
            det = left_term - right_term
            within_x = px <= seg[5, p]
            if within_x and abs(det) <= orient_err * (abs(left_term) + abs(right_term)):
                unsure[i] = True  # on the segment, or too close to tell
            upward = ay <= py and py < by
            downward = by <= py and py < ay
            # the segment meets the point's horizontal line west of the point
            if (upward or downward) and (not within_x or (det < 0) == upward):
                toggles += delta[p]
        state[i] = np.int64(toggles)
    return state, unsure
