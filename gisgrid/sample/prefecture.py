"""The sample prefecture: Yueyang (岳阳市, 430600), each county built as the sample county is.

``build_sample_prefecture(seed=…)`` builds every county of the prefecture with
:func:`~gisgrid.sample.build.build_sample_county`, each from its own real outline and
division table (:func:`~gisgrid.sample.boundaries.load_county_boundaries`), and puts them in
one set of layers. The counties' outlines are a clean coverage (``data/boundaries``), so
their grids meet without gap or overlap at county borders.

* **Households** are split in proportion to each county's villages and communities (the
  sample's net has the same households per village everywhere; the packages carry no
  population), by largest remainders, the code order breaking ties; each county gets at
  least its minimum (:attr:`CountySize.min_households`).
* **Ids** start with the county's code and a dash (``430611-H0000001``), so rows of several
  counties share a store; codes are the counties' own.
* **Seeds**: county ``c`` draws from ``seed * 1_000_000 + int(c)``, so a county is the same
  whatever else is built beside it (for the same household count).
* The counties are independent: with ``workers > 1`` they are built in that many processes
  (``spawn``), the largest first; the result does not depend on ``workers``.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gisgrid import __version__
from gisgrid.errors import ConfigError
from gisgrid.sample.boundaries import (
    PREFECTURE_CODE,
    PREFECTURE_NAME,
    load_county_boundaries,
    prefecture_counties,
)
from gisgrid.sample.build import SAMPLE_AS_OF, SampleCounty, build_sample_county, layer_counts

#: households in the sample prefecture by default (about ten Huarong-sized counties)
DEFAULT_PREFECTURE_HOUSEHOLDS = 1_500_000

Progress = Callable[[str], None]


def split_households(total: int, villages: dict[str, int], least: dict[str, int]) -> dict[str, int]:
    """``total`` households split in proportion to ``villages`` (largest remainders).

    Raises
    ------
    ConfigError
        ``total`` cannot give every county its least.
    """
    codes = sorted(villages)
    weights = np.asarray([villages[c] for c in codes], dtype=float)
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    rest = total - int(counts.sum())
    order = np.lexsort((np.arange(len(codes)), -(exact - counts)))
    counts[order[:rest]] += 1
    out = {c: int(n) for c, n in zip(codes, counts, strict=True)}
    short = {c: (out[c], least[c]) for c in codes if out[c] < least[c]}
    if short:
        need = max(least[c] * weights.sum() / villages[c] for c in codes)
        raise ConfigError(
            f"{total:,} households leave counties below their least (households, least): "
            f"{short}; give at least {int(need):,} or fewer counties"
        )
    return out


def build_sample_prefecture(
    prefecture: str = PREFECTURE_CODE,
    *,
    seed: int = 2023,
    households: int = DEFAULT_PREFECTURE_HOUSEHOLDS,
    counties: list[str] | None = None,
    workers: int = 1,
    progress: Progress | None = None,
    boundaries_dir: Path | None = None,
) -> SampleCounty:
    """Generate the sample prefecture (or some of its counties) as one set of layers.

    Parameters
    ----------
    prefecture
        The prefecture's code; only Yueyang (430600) has real data in the package.
    seed
        Random seed; the same seed, household count and counties give the same layers.
    households
        Households in all, split between the counties by their villages.
    counties
        Build only these counties of the prefecture (default: all nine), e.g. a small
        two-county sample for tests.
    workers
        Processes building counties at once (1: in this process).
    progress
        Called with a short message as each county starts and ends.
    boundaries_dir
        Folder of the real boundary files (default: the package data).

    Raises
    ------
    ConfigError
        Not the sample prefecture, a county not in it, or too few households.
    """
    if prefecture != PREFECTURE_CODE:
        raise ConfigError(
            f"the sample has real data for {PREFECTURE_NAME} ({PREFECTURE_CODE}) only, "
            f"not {prefecture}"
        )
    say = progress or (lambda _msg: None)
    table = prefecture_counties(directory=boundaries_dir)
    names = dict(zip(table["code"], table["name"], strict=True))
    chosen = sorted(counties or names)
    unknown = [c for c in chosen if c not in names]
    if unknown:
        raise ConfigError(f"not counties of {PREFECTURE_NAME}: {', '.join(unknown)}")
    sizes = {c: load_county_boundaries(c, directory=boundaries_dir).size for c in chosen}
    split = split_households(
        households,
        {c: s.villages for c, s in sizes.items()},
        {c: s.min_households for c, s in sizes.items()},
    )
    jobs = {
        code: {
            "seed": seed * 1_000_000 + int(code),
            "households": split[code],
            "boundaries_dir": boundaries_dir,
            "county": code,
            "ids": f"{code}-",
        }
        for code in chosen
    }
    built: dict[str, SampleCounty] = {}
    if workers <= 1:
        for code in chosen:
            say(f"{names[code]} ({code}): {split[code]:,} households")
            built[code] = build_sample_county(**jobs[code])
    else:
        largest_first = sorted(chosen, key=lambda c: (-sizes[c].villages, c))
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            futures = {pool.submit(_build_one, jobs[c]): c for c in largest_first}
            for future in concurrent.futures.as_completed(futures):
                code = futures[future]
                built[code] = future.result()
                say(f"{names[code]} ({code}) built: {split[code]:,} households")
    return _merge(built, names=names, seed=seed, households=households)


def _build_one(job: dict[str, Any]) -> SampleCounty:
    return build_sample_county(**job)


def _merge(
    built: dict[str, SampleCounty], *, names: dict[str, str], seed: int, households: int
) -> SampleCounty:
    """One set of layers from the counties (in code order) and the prefecture's manifest."""
    codes = sorted(built)
    layers = list(built[codes[0]].frames)
    frames = {
        name: pd.concat([built[c].frames[name] for c in codes], ignore_index=True)
        for name in layers
    }
    manifest: dict[str, Any] = {
        "about": f"{PREFECTURE_NAME} sample prefecture: real county outlines and division "
        "names; everything inside is synthetic, people are fake.",
        "prefecture": {"code": PREFECTURE_CODE, "name": PREFECTURE_NAME},
        "generator": f"gisgrid {__version__}",
        "seed": seed,
        "households": households,
        "as_of": SAMPLE_AS_OF.isoformat(),
        "counts": layer_counts(frames),
        "counties": {c: built[c].manifest | {"name": names[c]} for c in codes},
    }
    intended = pd.concat([built[c].intended_grid for c in codes])
    return SampleCounty(frames, manifest, intended)
