"""``kill -9`` at random moments of ``gisgrid import`` (replace, append) and ``gisgrid assign``.

On both stores, a handful of kills per kind of write (the seconds a small county allows;
``scripts/crash_soak.py --runs N`` runs as many as wanted): after each kill the store opens,
reads exactly as before the write or exactly as after it (compared by digest with a run of
the same write to its end), holds no key twice, keeps no copy or journal of the killed
writer once opened again, and takes the next write.

``GISGRID_TEST_CRASH_KILLS`` sets the kills per kind and store (default 4).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from writer_processes import CRASH_KINDS, CrashCase, Target, base_frames, each_store

KILLS = int(os.environ.get("GISGRID_TEST_CRASH_KILLS", "4"))


@pytest.fixture(scope="module", params=["geopackage", "postgis"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    frames = base_frames()
    yield from each_store(
        request.param, tmp_path_factory.mktemp("crash"), frames, request.getfixturevalue
    )


@pytest.mark.parametrize("kind", CRASH_KINDS)
def test_a_killed_writer_leaves_old_or_new_and_nothing_behind(
    target: Target, kind: str, tmp_path: Path
) -> None:
    case = CrashCase(target, kind, tmp_path)
    case.prepare()
    rng = random.Random(f"crash-{target.name}-{kind}")
    outcomes: list[Any] = []
    for run in range(KILLS):
        # from the start of the write to a little past its usual end
        outcomes.append(case.kill_once(rng.uniform(0.0, case.seconds * 1.1), run))
    ended = [o.ended for o in outcomes]
    found = sum(bool(o.leftovers) for o in outcomes)
    print(
        f"{target.name} {kind}: {KILLS} kills, write {case.seconds:.2f} s, {ended}, "
        f"leftovers found (then removed) after {found}"
    )
