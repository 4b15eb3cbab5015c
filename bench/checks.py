"""How long the full check of the sample county takes (goal: under 10 s here).

Builds the sample county (150,000 households by default) or reads it from a store, times
``run_checks`` on its frames (best of ``--repeat`` runs), and prints the time of each check,
the total, a yardstick measured in the same run and their ratio. With ``--store`` it also
times ``check_store`` end to end (reading the layers included).

    .venv/bin/python bench/checks.py [--households N] [--seed K] [--store PATH] [--repeat R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yardstick import yardstick_seconds

from gisgrid.analysis.checks import CHECKS, check_store, run_checks
from gisgrid.analysis.checks.context import LAYER_COLUMNS
from gisgrid.sample import DEFAULT_HOUSEHOLDS, build_sample_county
from gisgrid.settings import CheckSettings
from gisgrid.stores import open_store

GOAL_SECONDS = 10.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=DEFAULT_HOUSEHOLDS)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--store", help="read the county from this store instead of building it")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = CheckSettings()
    store = None
    if args.store:
        store = open_store(args.store)
        started = time.perf_counter()
        frames = {name: store.read(name, columns=cols) for name, cols in LAYER_COLUMNS.items()}
        read = time.perf_counter() - started
        manifest = store.get_meta("sample_manifest") or {}
        as_of = dt.date.fromisoformat(manifest["as_of"]) if "as_of" in manifest else None
        print(f"read {len(frames['households']):,} households and the rest in {read:.2f} s")
    else:
        print(f"building the sample county ({args.households:,} households) …")
        county = build_sample_county(seed=args.seed, households=args.households)
        frames, as_of = county.frames, dt.date.fromisoformat(county.manifest["as_of"])
    base = yardstick_seconds()
    runs = []
    for _ in range(max(1, args.repeat)):
        runs.append(run_checks(frames, settings=settings, as_of=as_of))
    after = yardstick_seconds()
    best = min(runs, key=lambda r: r.meta["seconds"]["total"])
    seconds = best.meta["seconds"]
    print(f"assignment engine: {best.meta['assignment']}")
    for name in ("prepare", *CHECKS):
        found = "" if name == "prepare" else f"  ({best[name].count} found)"
        print(f"  {seconds[name]:6.3f} s  {name}{found}")
    total = seconds["total"]
    yard = min(base, after)
    print(
        f"run_checks, {len(frames['households']):,} households, "
        f"{len(frames['grids']):,} grids: {total:.2f} s (best of {len(runs)})"
    )
    print(f"yardstick (same run): {yard:.3f} s; ratio checks/yardstick: {total / yard:.1f}x")
    if store is not None:
        started = time.perf_counter()
        check_store(store, settings=settings)
        whole = time.perf_counter() - started
        print(f"check_store end to end (reading included): {whole:.2f} s")
    print(f"goal: under {GOAL_SECONDS:.0f} s here: {'met' if total < GOAL_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
