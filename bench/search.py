"""Household search on the sample county: time per query, against pandas string methods.

The index (:class:`gisgrid.analysis.search.HouseholdSearch`) answers each query with vectorised
passes over numpy strings. The baseline measured in the same run makes the same passes with
pandas' ``.str`` methods over object columns (how gisgrid searched before), and both must
give the same answers. Queries: names, name prefixes, house numbers, ids, pinyin initials
and full pinyin, some within a village, as field staff type them.

    .venv/bin/python bench/search.py [--households N] [--queries N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _yardstick import yardstick_seconds

from gisgrid.analysis.search import Hit, HouseholdSearch
from gisgrid.sample import build_sample_county


def pandas_search(index: HouseholdSearch, query: str, village: str | None) -> list[Hit]:
    """The same rules with pandas string methods (the fuzzy pass is the index's own)."""
    q = query.strip()
    names, numbers = pd.Series(index.names), pd.Series(index.numbers)
    score = np.zeros(len(index.ids), dtype=np.int64)

    def better(mask: np.ndarray, value: int) -> None:
        np.maximum(score, np.where(mask, value, 0), out=score)

    better(index.ids == q, 100)
    better((index.names == q) | (index.numbers == q), 95)
    better(names.str.startswith(q, na=False).to_numpy(), 85)
    better(numbers.str.contains(q, regex=False, na=False).to_numpy(), 80)
    better(names.str.contains(q, regex=False, na=False).to_numpy(), 75)
    lowered = q.lower().replace(" ", "")
    if lowered.isascii() and lowered.isalpha():
        better(pd.Series(index.initials).str.startswith(lowered).to_numpy(), 70)
        better(pd.Series(index.pinyin).str.startswith(lowered).to_numpy(), 65)
    elif len(q) >= 2 and not q.isascii():
        np.maximum(score, index._fuzzy(q), out=score)
    if village:
        score[~pd.Series(index.villages).str.startswith(village).to_numpy()] = 0
    hits = np.flatnonzero(score > 0)
    order = np.lexsort((index.ids[hits], -score[hits]))[:20]
    return [Hit(str(index.ids[hits[i]]), int(score[hits[i]])) for i in order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=150_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    yard_before = yardstick_seconds()
    print(f"building the sample county ({args.households:,} households) …", flush=True)
    county = build_sample_county(households=args.households)
    households = county.frames["households"]
    started = time.perf_counter()
    index = HouseholdSearch(households)
    build = time.perf_counter() - started

    rng = np.random.default_rng(7)
    rows = households.iloc[rng.choice(len(households), args.queries, replace=False)]
    queries: list[tuple[str, str | None]] = []
    for k, (_, r) in enumerate(rows.iterrows()):
        i = int(rng.integers(len(index.ids)))
        kind = k % 5
        if kind == 0:
            queries.append((str(r["head_name"]), None))
        elif kind == 1:
            queries.append((str(r["head_name"])[:1], str(r["village_code"])))
        elif kind == 2:
            queries.append((str(index.initials[i]), None))
        elif kind == 3:
            queries.append((str(index.pinyin[i])[:4], str(r["village_code"])[:9]))
        else:
            queries.append((str(r["house_number"] or r["id"]), None))

    ours, baseline = [], []
    for query, village in queries:
        t = time.perf_counter()
        got = index.search(query, village=village)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        expected = pandas_search(index, query, village)
        baseline.append(time.perf_counter() - t)
        if got != expected:
            raise SystemExit(f"answers differ for {query!r} in {village}")
    yard = min(yard_before, yardstick_seconds())
    ours_ms, base_ms = np.array(ours) * 1000, np.array(baseline) * 1000
    print(f"index of {len(index):,} households built in {build:.1f} s")
    print(f"{len(queries)} queries, the same answers from both:")
    for title, ms in (("HouseholdSearch (numpy strings)", ours_ms), ("pandas .str", base_ms)):
        print(
            f"  {title:32s} p50 {np.percentile(ms, 50):6.1f} ms  "
            f"p90 {np.percentile(ms, 90):6.1f} ms  max {ms.max():6.1f} ms"
        )
    ratio = np.percentile(base_ms, 50) / np.percentile(ours_ms, 50)
    print(f"ratio p50 pandas / ours: {ratio:.1f}x")
    print(
        f"yardstick (same run): {yard:.3f} s; p50 query / yardstick: "
        f"{np.percentile(ours_ms, 50) / 1000 / yard:.3f}"
    )


if __name__ == "__main__":
    main()
