"""Numbering of child grids within their parent: north to south in rows, west to east in a row.

Local grid standards number grids "from west to east, from north to south". We read that as
a page is read: the parent's extent is cut into horizontal bands, ``ceil(sqrt(n))`` of
them for ``n`` children; bands are taken from north to south and, within a band, children
from west to east, each child placed by its representative point.
"""

from __future__ import annotations

import math

import numpy as np

from gisgrid.codes import child_code


def reading_order(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Order of children (positions into ``x``/``y``) by the rule above.

    Parameters
    ----------
    x, y
        Representative point of each child (any CRS with y pointing north).
    """
    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    bands = max(1, math.ceil(math.sqrt(n)))
    top, bottom = float(np.max(y)), float(np.min(y))
    height = (top - bottom) or 1.0
    band = np.minimum(((top - np.asarray(y)) / height * bands).astype(int), bands - 1)
    return np.lexsort((np.asarray(x), band))


def child_codes(parent_code: str, count: int) -> list[str]:
    """Codes of ``count`` children: the parent's code and a 3-digit sequence from 001."""
    if count > 999:
        raise ValueError("at most 999 children per grid")
    return [child_code(parent_code, i) for i in range(1, count + 1)]
