"""How long deriving the cases takes: every work list, case figure and incident map starts
from it (issue #14; goal: a county's several years of cases well under 1 s).

Builds the sample county (a year: 3,000 cases with their steps), then repeats its cases
``--years`` times (new ids, the same histories shifted back a year each) to stand for a
county that has run the platform for years, and times
:func:`gisgrid.analysis.cases.summarise_cases` (stage, deadline and escalation of every
case from its history, on a set clock) and :func:`gisgrid.services.cases.case_statistics`
on the whole, best of ``--repeat``, each with its ratio to a yardstick measured in the
same run.

    .venv/bin/python bench/cases.py [--households N] [--years 5] [--repeat 5]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pandas as pd
from _yardstick import yardstick_seconds

from gisgrid.analysis.cases import summarise_cases
from gisgrid.sample import build_sample_county
from gisgrid.services.cases import case_statistics

GOAL_SECONDS = 1.0
#: the number of cases does not depend on the number of households: build a small county
BENCH_HOUSEHOLDS = 5_000


def years_of(
    incidents: pd.DataFrame, steps: pd.DataFrame, years: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cases repeated ``years`` times, each copy a year earlier under new ids."""
    cases, histories = [], []
    for k in range(years):
        back = pd.Timedelta(days=365 * k)
        copy = incidents.copy()
        copy["id"] = [f"Y{k}-{i}" for i in incidents["id"]]
        copy["reported_at"] = incidents["reported_at"] - back
        history = steps.copy()
        history["incident_id"] = [f"Y{k}-{i}" for i in steps["incident_id"]]
        history["at"] = steps["at"] - back
        cases.append(copy)
        histories.append(history)
    return pd.concat(cases, ignore_index=True), pd.concat(histories, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=BENCH_HOUSEHOLDS)
    parser.add_argument("--seed", type=int, default=2023)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"building the sample county ({args.households:,} households) …")
    frames = build_sample_county(seed=args.seed, households=args.households).frames
    incidents, steps = years_of(frames["incidents"], frames["case_steps"], args.years)
    incidents["grid_code"] = None  # the one rule's grids are not what is timed here
    now = dt.datetime.combine(frames["incidents"]["reported_at"].max().date(), dt.time(18))
    print(f"{len(incidents):,} cases, {len(steps):,} steps ({args.years} years), clock {now}")

    base = yardstick_seconds()
    summarise, figures = [], []
    summaries = []
    for _ in range(max(1, args.repeat)):
        started = time.perf_counter()
        summaries = summarise_cases(incidents, steps, now=now)
        summarise.append(time.perf_counter() - started)
        started = time.perf_counter()
        stats = case_statistics(summaries)
        figures.append(time.perf_counter() - started)
    after = yardstick_seconds()
    yard = min(base, after)
    print(f"open {stats.open:,}, overdue {stats.overdue:,}, closed {stats.closed:,}")
    print(f"yardstick: {yard:.3f} s (best of 3, before and after)")
    for name, runs in (("summarise_cases", summarise), ("case_statistics", figures)):
        best = min(runs)
        print(
            f"{name}: {best * 1000:.0f} ms best of {len(runs)} "
            f"({best / yard:.2f}× yardstick; {len(incidents) / best:,.0f} cases/s)"
        )
    total = min(summarise) + min(figures)
    verdict = "within" if total < GOAL_SECONDS else "OVER"
    print(f"both: {total * 1000:.0f} ms, {verdict} the goal of {GOAL_SECONDS:.0f} s")


if __name__ == "__main__":
    main()
