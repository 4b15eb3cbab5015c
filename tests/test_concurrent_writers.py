"""Two and three writers of different kinds at once, on both stores: nothing lost, no key twice.

Each round starts two or three real processes on a fresh copy of the little county: an
append of households (``gisgrid import households … --mode append``), a replace of the
service points (``gisgrid import service_points … --mode replace``), an assignment
(``gisgrid assign``), an incident report (the web app's service). The kinds, the keys (two
appends or two reports may bring the same new key) and the start times are drawn from a
seeded generator. Afterwards:

* every writer exited 0, or 5 saying another process is writing, or 4 naming a key that
  a writer which exited 0 stored;
* the households and incidents are exactly those of the county and of the writers that
  exited 0, each key once; the service points those of one replace that exited 0 (the
  last one), or the county's when none did;
* every grid code is the right one or none, and all of the county's households have theirs
  when an assignment exited 0 (it runs after them whatever the order).

``GISGRID_TEST_WRITER_ROUNDS`` sets the rounds per store (default 6).
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from writer_processes import (
    Target,
    Writer,
    base_frames,
    each_store,
    grid_of,
    households_file,
    incident,
    keys_of,
    open_location,
    service_points_file,
)

from gisgrid.errors import StoreConstraintError

ROUNDS = int(os.environ.get("GISGRID_TEST_WRITER_ROUNDS", "6"))
KINDS = ("append", "replace", "assign", "report")
BUSY = "another gisgrid process is writing"


@pytest.fixture(scope="module")
def frames() -> Any:
    return base_frames()


@pytest.fixture(scope="module", params=["geopackage", "postgis"])
def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, frames: Any
) -> Iterator[Target]:
    yield from each_store(
        request.param, tmp_path_factory.mktemp("writers"), frames, request.getfixturevalue
    )


def plan_round(rng: random.Random, n: int, location: str, folder: Path) -> list[Writer]:
    """Two or three writers, their keys (some shared) and start delays."""
    writers = []
    kinds = rng.choices(KINDS, k=rng.choice((2, 3)))
    if rng.random() < 0.5:  # two of a kind, half the time: the pairs that may meet on a key
        kinds[1] = kinds[0]
    for i, kind in enumerate(kinds):
        delay = rng.uniform(0.0, 0.2)
        if kind == "append":
            ids = [f"A{n}x{i}"] + ([f"A{n}s"] if rng.random() < 0.8 else [])
            path = households_file(folder / f"h{i}.geojson", ids, [rng.randrange(40) for _ in ids])
            args = ["import", "households", str(path), "--mode", "append"]
            writers.append(Writer(kind, location, args=args, keys=tuple(ids), delay=delay))
        elif kind == "replace":
            ids = [f"S{n}x{i}a", f"S{n}x{i}b"]
            path = service_points_file(folder / f"s{i}.geojson", ids)
            args = ["import", "service_points", str(path), "--mode", "replace"]
            writers.append(Writer(kind, location, args=args, keys=tuple(ids), delay=delay))
        elif kind == "assign":
            writers.append(Writer(kind, location, args=["assign"], delay=delay))
        else:
            iid = f"E{n}s" if rng.random() < 0.8 else f"E{n}x{i}"
            report = incident(iid, rng.randrange(40))
            writers.append(Writer(kind, location, report=report, keys=(iid,), delay=delay))
    return writers


def run_round(writers: list[Writer], cwd: Path) -> None:
    for w in writers:
        w.start(cwd)
    for w in writers:
        w.ready()
    for w in writers:
        w.go()
    for w in writers:
        w.wait()


def check_round(writers: list[Writer], location: str, frames: Any) -> None:
    story = "\n".join(w.describe() for w in writers)
    ok = [w for w in writers if w.returncode == 0]
    stored_by_ok = {k for w in ok for k in w.keys}
    for w in writers:
        assert w.returncode in (0, 4, 5), story
        if w.returncode == 5:
            assert BUSY in w.stderr, story
        if w.returncode == 4:  # only a key a successful writer stored is refused
            assert "already" in w.stderr, story
            clashes = [k for k in w.keys if k in stored_by_ok]
            assert clashes and any(k in w.stderr for k in clashes), story

    store = open_location(location)
    try:
        households = keys_of(store, "households")
        assert len(households) == len(set(households)), f"a household twice\n{story}"
        expected = set(frames["households"]["id"])
        expected |= {k for w in ok if w.kind == "append" for k in w.keys}
        assert set(households) == expected, story

        incidents = keys_of(store, "incidents")
        assert len(incidents) == len(set(incidents)), f"an incident twice\n{story}"
        expected = set(frames["incidents"]["id"]) | {
            k for w in ok if w.kind == "report" for k in w.keys
        }
        assert set(incidents) == expected, story

        points = keys_of(store, "service_points")
        replaced = [set(w.keys) for w in ok if w.kind == "replace"]
        assert set(points) in (replaced or [set(frames["service_points"]["id"])]), story
        assert len(points) == len(set(points)), story

        read = store.read("households")
        assigned = any(w.kind == "assign" for w in ok)
        county = set(frames["households"]["id"])
        for hid, code, geom in zip(read["id"], read["grid_code"], read.geometry, strict=True):
            code = code if isinstance(code, str) else None
            right = grid_of(geom.x, geom.y)
            assert code in (None, right), f"{hid} in {code}, not {right}\n{story}"
            if assigned and hid in county:
                assert code == right, f"{hid} not assigned\n{story}"
    finally:
        store.close()


def test_writers_at_once_lose_nothing_and_duplicate_nothing(
    target: Target, frames: Any, tmp_path: Path
) -> None:
    rng = random.Random(f"writers-{target.name}-11")
    outcomes: dict[str, int] = {}
    for n in range(ROUNDS):
        folder = tmp_path / f"round{n}"
        folder.mkdir()
        location = target.fresh(folder / "store")
        writers = plan_round(rng, n, location, folder)
        run_round(writers, tmp_path)
        check_round(writers, location, frames)
        for w in writers:
            outcome = f"{w.kind} exit {w.returncode}"
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        target.drop(location)
    print(f"{target.name}: {ROUNDS} rounds: {dict(sorted(outcomes.items()))}")
    refused = sum(v for k, v in outcomes.items() if not k.endswith("exit 0"))
    assert refused < sum(outcomes.values()), "no writer ever succeeded"


def test_an_append_of_a_stored_key_is_refused_naming_it_on_both_stores(
    target: Target, frames: Any, tmp_path: Path
) -> None:
    location = target.fresh(tmp_path / "store")
    store = open_location(location)
    try:
        again = frames["households"].iloc[[2]].copy()  # H003, stored
        new = frames["households"].iloc[[0]].copy()
        new["id"] = "N001"
        both = pd.concat([new, again], ignore_index=True)
        with pytest.raises(StoreConstraintError, match="nothing was written") as refused:
            store.write({"households": both}, mode="append")
        assert "H003" in str(refused.value) and "N001" not in str(refused.value)
        assert keys_of(store, "households") == sorted(frames["households"]["id"])
        twice = pd.concat([new, new], ignore_index=True)
        with pytest.raises(StoreConstraintError, match="N001"):
            store.write({"households": twice}, mode="append")
        store.write({"households": new}, mode="append")
        assert keys_of(store, "households").count("N001") == 1
    finally:
        store.close()
        target.drop(location)
