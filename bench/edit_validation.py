"""How long the server takes to validate a change set (issue #13, point 7; goal: well under 1 s).

Builds the sample county (or reads it from a store), picks the village whose number of
level-3 grids is nearest ``--grids`` (20), and makes a change set of two edits there, each
on the grids as the one before left them: a split of one level-3 grid by a line through it,
then a reshape of the level-3 grid whose growth by 30 m (clipped to its parent) moves the
most siblings (level-2 grids hold two or three, so usually one). It times
:func:`gisgrid.analysis.edits.validate_change` on the combined set (best of ``--repeat``;
the set is clean, so every rule runs to the end and reports nothing), and the two edits
themselves, and prints each with its ratio to a yardstick measured in the same run.

    .venv/bin/python bench/edit_validation.py [--households N] [--store PATH] [--grids 20]
        [--repeat 20]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import shapely
from _yardstick import yardstick_seconds

from gisgrid import codes
from gisgrid import crs as crsmod
from gisgrid.analysis import edits
from gisgrid.sample import build_sample_county
from gisgrid.stores import open_store

GOAL_SECONDS = 1.0
#: the sample county's grids do not depend on the number of households: build a small one
BENCH_HOUSEHOLDS = 5_000


def to_metric(geom: shapely.Geometry) -> shapely.Geometry:
    out: shapely.Geometry = crsmod.transform_geometry_array(
        geom, source=crsmod.STORAGE_CRS, target=crsmod.METRIC_CRS
    )
    return out


def to_lonlat(geom: shapely.Geometry) -> shapely.Geometry:
    out: shapely.Geometry = crsmod.transform_geometry_array(
        geom, source=crsmod.METRIC_CRS, target=crsmod.STORAGE_CRS
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=BENCH_HOUSEHOLDS)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--store", help="read the grids from this store instead of building")
    parser.add_argument("--grids", type=int, default=20, help="level-3 grids in the village")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    if args.store:
        grids = open_store(args.store).read("grids")
    else:
        print(f"building the sample county ({args.households:,} households) …")
        grids = build_sample_county(seed=args.seed, households=args.households).frames["grids"]
    level3 = grids[grids["level"] == 3]
    per_village = level3.groupby(list(codes.villages_of(level3["code"]))).size()
    village = str((per_village - args.grids).abs().idxmin())
    mine = level3[[codes.lies_in(c, village) for c in level3["code"]]]
    print(f"village {village}: {len(mine)} level-3 grids, {int(per_village.sum()):,} in the county")

    # the split: the first grid a vertical line through its inner point cuts in two
    started = time.perf_counter()
    for _, row in mine.iterrows():
        m = to_metric(row.geometry)
        x = shapely.point_on_surface(m).x
        _, miny, _, maxy = shapely.bounds(m)
        cut = to_lonlat(shapely.LineString([(x, miny - 50), (x, maxy + 50)]))
        try:
            split = edits.split_grid(grids, row["code"], cut)
        except edits.GridEditError:
            continue
        break
    else:
        raise SystemExit("no grid of the village can be cut by a vertical line")
    split_s = time.perf_counter() - started
    middle = edits.apply_change(grids, split)
    # the reshape: the grid (of another level-2 grid if there is one) whose growth by 30 m
    # moves the most siblings
    other = mine[(mine["parent_code"] != row["parent_code"]) & (mine["code"] != row["code"])]
    if not len(other):
        other = mine[mine["code"] != row["code"]]
    best_reshape = None
    for _, candidate in other.iterrows():
        grown = to_lonlat(shapely.buffer(to_metric(candidate.geometry), 30.0))
        started = time.perf_counter()
        attempt = edits.reshape_grid(middle, candidate["code"], grown)
        took = time.perf_counter() - started
        if best_reshape is None or len(attempt) > len(best_reshape[0]):
            best_reshape = (attempt, took, candidate)
    assert best_reshape is not None
    reshape, reshape_s, target = best_reshape
    change_set = edits.combine_changes([split, reshape])
    print(
        f"change set: split {row['code']} (2 pieces), reshape {target['code']} "
        f"({len(reshape) - 1} neighbours follow): {len(change_set)} rows"
    )

    base = yardstick_seconds()
    runs = []
    problems: list[edits.EditProblem] = []
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        problems = edits.validate_change(grids, change_set)
        runs.append(time.perf_counter() - started)
    after = yardstick_seconds()
    yard = min(base, after)
    best, median = min(runs), float(np.median(runs))
    print(f"problems found: {len(problems)} (a clean change set: 0 expected)")
    print(f"edits: split {split_s * 1000:.1f} ms, reshape {reshape_s * 1000:.1f} ms")
    print(
        f"validate_change: {best * 1000:.1f} ms best, {median * 1000:.1f} ms median of {len(runs)}"
    )
    print(f"yardstick (same run): {yard:.3f} s; ratio validation/yardstick: {best / yard:.2f}x")
    print(
        f"goal: well under {GOAL_SECONDS:.0f} s here: "
        f"{'met' if median < GOAL_SECONDS / 4 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
