"""A fixed piece of geometry work timed in the same run as a benchmark.

This machine is shared and noisy: a figure alone says little, its ratio to a yardstick
measured seconds earlier on the same machine says more. The yardstick is typical GEOS and
numpy work: a Voronoi diagram of 20,000 seeded random points and a union of its cells in
groups, taking the best of three runs.
"""

from __future__ import annotations

import time

import numpy as np
import shapely


def yardstick_seconds(repeats: int = 3) -> float:
    """Best-of-``repeats`` seconds for the fixed workload."""
    best = float("inf")
    for _ in range(repeats):
        rng = np.random.default_rng(0)
        pts = rng.uniform(0, 10_000, size=(20_000, 2))
        started = time.perf_counter()
        cells = shapely.get_parts(
            shapely.voronoi_polygons(
                shapely.multipoints(pts), extend_to=shapely.box(0, 0, 1e4, 1e4)
            )
        )
        labels = np.arange(len(cells)) % 500
        for k in range(500):
            shapely.coverage_union_all(cells[labels == k])
        best = min(best, time.perf_counter() - started)
    return best
