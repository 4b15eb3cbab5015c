"""The change-set contract (gisgrid.stores.changesets) on both stores: create, read, find,
edits with their compare-and-set, moves with theirs, one change set under review per village,
the append-only record, ids never reused, and concurrent writers.

Each test runs on a GeoPackage store in ``tmp_path`` (the change sets in
``NAME.changes.sqlite`` beside it) and on a PostGIS store of its own (a fresh database).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import sqlite3
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import V1, raw_frame

from gisgrid.errors import ConflictError, NotFoundError, StoreConstraintError
from gisgrid.layers import LAYERS
from gisgrid.stores import Store
from gisgrid.stores.changesets import ChangeSet
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.postgis import PostGISStore
from gisgrid.stores.sqlite_changesets import changes_path

V2 = "430623902001"
SPLIT = {"op": "split", "code": V1 + "001001", "line": {"type": "LineString", "coordinates": []}}


@pytest.fixture(params=["gpkg", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An empty store of each kind, of its own."""
    if request.param == "gpkg":
        yield GeoPackageStore(tmp_path / "county.gpkg")
    else:
        yield request.getfixturevalue("pg_store")


def draft(store: Store, village: str = V1, *, author: str = "planner1", title: str = "拆分") -> Any:
    return store.change_sets.create(
        village_code=village, title=title, note="说明", author=author, base="sha-base"
    )


def direct(store: Store, statement: str) -> None:
    """Run ``statement`` on the store's change sets with a plain connection, outside gisgrid."""
    if isinstance(store, PostGISStore):
        with psycopg.connect(store._conninfo) as conn:
            conn.execute(statement.encode())
    else:
        assert store.path is not None
        with contextlib.closing(sqlite3.connect(changes_path(store.path))) as con, con:
            con.execute(statement)


def table(store: Store, name: str) -> str:
    return name if store.path is not None else f"gisgrid.{name}"


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads started together; each one's result or exception."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = calls[i]()
        except Exception as exc:  # the outcome under test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


# --- create, get, find -------------------------------------------------------------------------


def test_a_change_set_is_created_and_read(store: Store) -> None:
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    made = draft(store)
    assert made.id >= 1 and made.village_code == V1
    assert (made.title, made.note, made.author) == ("拆分", "说明", "planner1")
    assert (made.status, made.base, made.edits) == ("draft", "sha-base", 0)
    assert made.reviewer is None and made.comment is None and made.published_on is None
    assert made.created_at.tzinfo is None  # UTC, naive
    assert before - dt.timedelta(seconds=5) <= made.created_at <= before + dt.timedelta(minutes=1)
    assert made.updated_at == made.created_at
    assert store.change_sets.get(made.id) == made
    assert store.change_sets.get(made.id + 1000) is None
    assert store.change_sets.edits(made.id) == []
    events = store.change_sets.events(made.id)
    assert [(e.action, e.actor, e.change_set) for e in events] == [("created", "planner1", made.id)]


def test_a_malformed_village_is_refused(store: Store) -> None:
    with pytest.raises(StoreConstraintError):
        draft(store, "43062390100A")
    assert store.change_sets.find() == []


def test_find_filters_by_village_and_status_newest_first(store: Store) -> None:
    first = draft(store)
    second = draft(store, V2)
    third = draft(store, title="合并")
    sets = store.change_sets
    sets.move(
        third.id, from_statuses=["draft"], to="withdrawn", actor="planner1", action="withdrawn"
    )
    assert [c.id for c in sets.find()] == [third.id, second.id, first.id]
    assert [c.id for c in sets.find(villages=[V1])] == [third.id, first.id]
    assert [c.id for c in sets.find(villages=[V1, V2], statuses=["draft"])] == [second.id, first.id]
    assert [c.id for c in sets.find(statuses=["withdrawn"])] == [third.id]
    assert sets.find(villages=[]) == [] and sets.find(statuses=[]) == []
    assert [c.id for c in sets.find(limit=1)] == [third.id]
    with pytest.raises(ValueError, match="unknown change set status"):
        sets.find(statuses=["drafted"])  # type: ignore[list-item]


# --- edits -------------------------------------------------------------------------------------


def test_edits_follow_each_other(store: Store) -> None:
    sets = store.change_sets
    made = draft(store)
    one = sets.add_edit(made.id, after=0, op="split", params=SPLIT, result='{"a": 1}', actor="p1")
    assert (one.change_set, one.seq, one.op, one.result, one.actor) == (
        made.id, 1, "split", '{"a": 1}', "p1",
    )  # fmt: skip
    assert one.params == SPLIT and one.at.tzinfo is None
    two = sets.add_edit(made.id, after=1, op="undo", params={"op": "undo"}, result="", actor="p1")
    assert two.seq == 2
    assert sets.edits(made.id) == [one, two]
    now = sets.get(made.id)
    assert now is not None and now.edits == 2 and now.updated_at >= made.updated_at
    assert [e.action for e in sets.events(made.id)] == ["created", "edited", "undone"]


def test_an_edit_following_an_older_one_is_a_conflict(store: Store) -> None:
    sets = store.change_sets
    made = draft(store)
    sets.add_edit(made.id, after=0, op="split", params=SPLIT, result="", actor="p1")
    with pytest.raises(ConflictError, match=r"has 1 edit\(s\), not 0"):
        sets.add_edit(made.id, after=0, op="merge", params={}, result="", actor="p1")
    with pytest.raises(ConflictError, match="not 5"):
        sets.add_edit(made.id, after=5, op="merge", params={}, result="", actor="p1")
    with pytest.raises(NotFoundError, match="no change set"):
        sets.add_edit(made.id + 99, after=0, op="merge", params={}, result="", actor="p1")
    assert len(sets.edits(made.id)) == 1


def test_only_a_draft_or_a_returned_change_set_takes_edits(store: Store) -> None:
    sets = store.change_sets
    made = draft(store)
    sets.move(made.id, from_statuses=["draft"], to="submitted", actor="p1", action="submitted")
    with pytest.raises(ConflictError, match="is submitted"):
        sets.add_edit(made.id, after=0, op="split", params=SPLIT, result="", actor="p1")
    sets.move(
        made.id, from_statuses=["submitted"], to="returned", actor="rev", action="returned",
        comment="再改改",
    )  # fmt: skip
    edit = sets.add_edit(made.id, after=0, op="split", params=SPLIT, result="", actor="p1")
    assert edit.seq == 1


def test_two_writers_with_the_same_after_one_wins(store: Store) -> None:
    sets = store.change_sets
    made = draft(store)
    for _round in range(3):
        after = sets.get(made.id).edits  # type: ignore[union-attr]
        edit = functools.partial(sets.add_edit, made.id, after=after, op="reshape", result="")
        results = race(*(functools.partial(edit, params={"n": n}, actor=f"p{n}") for n in range(2)))
        won = [r for r in results if not isinstance(r, Exception)]
        lost = [r for r in results if isinstance(r, Exception)]
        assert len(won) == 1 and len(lost) == 1, results
        assert isinstance(lost[0], ConflictError)
        assert won[0].seq == after + 1
    assert [e.seq for e in sets.edits(made.id)] == [1, 2, 3]


# --- moves -------------------------------------------------------------------------------------


def test_a_move_compares_and_sets_the_status(store: Store) -> None:
    sets = store.change_sets
    made = draft(store)
    moved = sets.move(
        made.id, from_statuses=["draft", "returned"], to="submitted", actor="p1",
        action="submitted", base="sha-new",
    )  # fmt: skip
    assert (moved.status, moved.base, moved.reviewer) == ("submitted", "sha-new", None)
    with pytest.raises(ConflictError, match=r"is submitted, not draft or returned"):
        sets.move(
            made.id, from_statuses=["draft", "returned"], to="withdrawn", actor="p1",
            action="withdrawn",
        )  # fmt: skip
    returned = sets.move(
        made.id, from_statuses=["submitted"], to="returned", actor="rev", action="returned",
        comment="边界不对",
    )  # fmt: skip
    assert (returned.status, returned.reviewer, returned.comment) == ("returned", "rev", "边界不对")
    assert returned.base == "sha-new"  # kept when not given
    sets.move(made.id, from_statuses=["returned"], to="submitted", actor="p1", action="submitted")
    day = dt.date(2026, 12, 1)
    published = sets.move(
        made.id, from_statuses=["submitted"], to="published", actor="rev2", action="published",
        published_on=day,
    )  # fmt: skip
    assert (published.status, published.reviewer, published.published_on) == (
        "published", "rev2", day,
    )  # fmt: skip
    assert sets.get(made.id) == published
    events = sets.events(made.id)
    assert [(e.action, e.actor, e.comment) for e in events] == [
        ("created", "planner1", None),
        ("submitted", "p1", None),
        ("returned", "rev", "边界不对"),
        ("submitted", "p1", None),
        ("published", "rev2", None),
    ]
    with pytest.raises(NotFoundError):
        sets.move(
            made.id + 50, from_statuses=["draft"], to="withdrawn", actor="x", action="withdrawn"
        )


def test_one_change_set_under_review_per_village(store: Store) -> None:
    sets = store.change_sets
    first = draft(store, author="wang", title="一组拆分")
    second = draft(store, author="li")
    other_village = draft(store, V2)
    sets.move(first.id, from_statuses=["draft"], to="submitted", actor="wang", action="submitted")
    with pytest.raises(ConflictError) as refused:
        sets.move(
            second.id, from_statuses=["draft"], to="submitted", actor="li", action="submitted"
        )
    message = str(refused.value)
    assert f"change set {first.id}" in message and "wang" in message and "一组拆分" in message
    assert sets.get(second.id).status == "draft"  # type: ignore[union-attr]
    assert [e.action for e in sets.events(second.id)] == ["created"]
    # another village is reviewed at the same time
    sets.move(
        other_village.id, from_statuses=["draft"], to="submitted", actor="x", action="submitted"
    )
    # once the first is decided, the second may go
    sets.move(first.id, from_statuses=["submitted"], to="returned", actor="rev", action="returned")
    sets.move(second.id, from_statuses=["draft"], to="submitted", actor="li", action="submitted")


def test_two_submits_in_one_village_at_once_one_wins(store: Store) -> None:
    sets = store.change_sets
    pair = [draft(store, author=f"p{n}") for n in range(2)]
    results = race(
        *(
            (lambda c=c: sets.move(
                c.id, from_statuses=["draft"], to="submitted", actor=c.author, action="submitted"
            ))
            for c in pair
        )
    )  # fmt: skip
    won = [r for r in results if isinstance(r, ChangeSet)]
    lost = [r for r in results if isinstance(r, Exception)]
    assert len(won) == 1 and len(lost) == 1, results
    assert isinstance(lost[0], ConflictError) and f"change set {won[0].id}" in str(lost[0])
    assert len(sets.find(villages=[V1], statuses=["submitted"])) == 1


def test_the_database_itself_holds_one_under_review_per_village(store: Store) -> None:
    sets = store.change_sets
    first, second = draft(store), draft(store)
    sets.move(first.id, from_statuses=["draft"], to="submitted", actor="a", action="submitted")
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.UniqueViolation)):
        direct(
            store,
            f"UPDATE {table(store, 'change_sets')} SET status = 'submitted' WHERE id = {second.id}",
        )


# --- the record --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE {edits} SET result = 'x'",
        "DELETE FROM {edits}",
        "UPDATE {events} SET actor = 'x'",
        "DELETE FROM {events}",
        "DELETE FROM {sets}",
    ],
)
def test_edits_events_and_change_sets_cannot_be_rewritten(store: Store, statement: str) -> None:
    sets = store.change_sets
    made = draft(store)
    sets.add_edit(made.id, after=0, op="split", params=SPLIT, result="r", actor="p1")
    names = {
        "edits": table(store, "change_set_edits"),
        "events": table(store, "change_set_events"),
        "sets": table(store, "change_sets"),
    }
    with pytest.raises(
        (sqlite3.IntegrityError, psycopg.errors.InsufficientPrivilege),
        match=r"append-only|is kept",
    ):
        direct(store, statement.format(**names))
    assert [e.result for e in sets.edits(made.id)] == ["r"]
    assert [e.actor for e in sets.events(made.id)] == ["planner1", "p1"]


def test_postgis_refuses_truncating_the_record(pg_store: PostGISStore) -> None:
    draft(pg_store)
    for name in ("change_set_edits", "change_set_events", "change_sets"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            direct(pg_store, f"TRUNCATE gisgrid.{name} CASCADE")
    assert len(pg_store.change_sets.find()) == 1


def test_ids_are_never_reused(store: Store) -> None:
    first = draft(store)
    with pytest.raises(StoreConstraintError):
        draft(store, "bad")  # refused: its number, if taken, is not given again
    second = draft(store)
    assert second.id > first.id
    # even a row removed behind gisgrid's back (its trigger dropped) leaves its number taken
    if isinstance(store, PostGISStore):
        for statement in (
            "ALTER TABLE gisgrid.change_set_events DISABLE TRIGGER change_set_events_append_only",
            f"DELETE FROM gisgrid.change_set_events WHERE change_set = {second.id}",
            "ALTER TABLE gisgrid.change_sets DISABLE TRIGGER change_sets_kept",
            f"DELETE FROM gisgrid.change_sets WHERE id = {second.id}",
        ):
            direct(store, statement)
    else:
        direct(store, "DROP TRIGGER change_sets_no_delete")
        direct(store, f"DELETE FROM change_sets WHERE id = {second.id}")
    third = draft(store)
    assert third.id > second.id


def test_the_geopackage_keeps_its_change_sets_beside_it_for_its_owner_only(
    tmp_path: Path,
) -> None:
    store = GeoPackageStore(tmp_path / "county.gpkg")
    draft(store)
    side = tmp_path / "county.changes.sqlite"
    assert side.is_file() and not (tmp_path / "county.gpkg").exists()
    assert stat.S_IMODE(side.stat().st_mode) == 0o600
    again = GeoPackageStore(tmp_path / "county.gpkg")  # another process, the same record
    assert [c.title for c in again.change_sets.find()] == ["拆分"]


def test_a_submitted_change_set_whose_grids_are_written_counts_as_published(
    tmp_path: Path,
) -> None:
    """The GeoPackage was written, the move in the side file was not (a crash between)."""
    store = GeoPackageStore(tmp_path / "county.gpkg")
    frames = {name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()}
    store.write(frames)
    made = draft(store)
    sets = store.change_sets
    sets.move(made.id, from_statuses=["draft"], to="submitted", actor="p", action="submitted")
    grids = frames["grids"].copy()
    row = grids.index[grids["code"] == V1 + "001002"][0]
    grids.loc[row, "change_set"] = made.id
    grids.loc[row, "version"] = 2
    grids.loc[row, "valid_from"] = dt.datetime(2026, 12, 1)
    store.write({"grids": grids})
    found = sets.get(made.id)
    assert found is not None
    assert (found.status, found.published_on) == ("published", dt.date(2026, 12, 1))
    assert sets.events(made.id)[-1].actor == "gisgrid"
    assert [c.id for c in sets.find(statuses=["submitted"])] == []
    # and the village is free for the next review
    other = draft(store)
    sets.move(other.id, from_statuses=["draft"], to="submitted", actor="p", action="submitted")
