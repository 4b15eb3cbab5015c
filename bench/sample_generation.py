"""How long the full sample county takes to generate (goal: under a minute here).

Prints the generation time, the yardstick time measured in the same run, and their ratio.

    .venv/bin/python bench/sample_generation.py [--households N] [--seed K]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yardstick import yardstick_seconds

from gisgrid.sample import DEFAULT_HOUSEHOLDS, build_sample_county


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=DEFAULT_HOUSEHOLDS)
    parser.add_argument("--seed", type=int, default=2023)
    args = parser.parse_args()
    base = yardstick_seconds()
    steps: list[tuple[float, str]] = []
    started = time.perf_counter()
    county = build_sample_county(
        seed=args.seed,
        households=args.households,
        progress=lambda m: steps.append((time.perf_counter() - started, m)),
    )
    total = time.perf_counter() - started
    after = yardstick_seconds()
    for (t, msg), nxt in zip(steps, [*steps[1:], (total, "")], strict=True):
        print(f"  {nxt[0] - t:6.2f} s  {msg}")
    yard = min(base, after)
    print(
        f"sample county, {args.households:,} households: {total:.1f} s "
        f"({len(county.frames['grids'])} grids)"
    )
    print(f"yardstick (same run): {yard:.3f} s; ratio generation/yardstick: {total / yard:.0f}x")
    print(f"goal: under 60 s here: {'met' if total < 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
