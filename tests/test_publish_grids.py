"""Store.publish_grids on both stores: one transaction that replaces, adds and archives grid
versions, reassigns the points on the new grids and publishes the change set; or, on any
refusal, changes nothing at all. And the decision of every assignment sees the superseded
versions too (``gisgrid assign --as-of`` a past date takes a grid's old outline).

The publication used: the first village's grid 001001 (in its second version) is split into
001003 (west half) and 001004 (east half) and retired; 002001 gets a new name. Published
today, by change set N.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from conftest import LEVEL3_BOXES, V1, assert_same, raw_frame
from shapely.geometry import box

from gisgrid.analysis.assign import assign_store, in_force, today
from gisgrid.errors import ConflictError, NotFoundError, StoreConstraintError, StoreError
from gisgrid.layers import ASSIGNED_LAYERS, LAYERS
from gisgrid.stores import Store
from gisgrid.stores.base import GridPublication, LayerPoints
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.postgis import PostGISStore

GRIDS, VERSIONS = LAYERS["grids"], LAYERS["grid_versions"]
SPLIT = V1 + "001001"
WEST, EAST = V1 + "001003", V1 + "001004"
RENAMED = V1 + "002001"
TODAY = today()
x0, y0, x1, y1 = LEVEL3_BOXES[SPLIT]
MID = (x0 + x1) / 2


@pytest.fixture(params=["gpkg", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The little county (with its history) in a store of each kind, assigned."""
    if request.param == "gpkg":
        made: Store = GeoPackageStore(tmp_path / "county.gpkg")
    else:
        made = request.getfixturevalue("pg_store")
    made.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    assign_store(made)
    yield made


def decide(as_of: dt.date = TODAY) -> Any:
    """A plain decision: the grid in force on ``as_of`` covering the point, smallest code."""

    def run(grids: gpd.GeoDataFrame, points: Mapping[str, LayerPoints]) -> dict[str, np.ndarray]:
        live = in_force(grids.reset_index(drop=True), as_of=as_of).sort_values("code")
        out = {}
        for name, found in points.items():
            position = np.full(len(found.fid), -1, dtype=np.int64)
            for i, (x, y) in enumerate(zip(found.x, found.y, strict=True)):
                covering = live.index[shapely.covers(live.geometry.values, shapely.Point(x, y))]
                if len(covering):
                    position[i] = covering[0]
            out[name] = position
        return out

    return run


def submitted(store: Store) -> int:
    sets = store.change_sets
    made = sets.create(village_code=V1, title="拆分一组", note="", author="planner", base="b")
    sets.move(made.id, from_statuses=["draft"], to="submitted", actor="planner", action="submitted")
    return made.id


def publication(store: Store, change_set: int | None) -> GridPublication:
    """Split SPLIT into WEST and EAST, rename RENAMED; what they supersede archived."""
    stored = store.read("grids").set_index("code", drop=False)
    old = stored.loc[[SPLIT, RENAMED]].reset_index(drop=True)
    now = pd.Timestamp(dt.datetime.now().replace(microsecond=0))
    day = pd.Timestamp(TODAY)
    archive = old.copy()  # as they were, ending the day their successors begin
    archive["version"] = archive["version"].fillna(1)
    archive["valid_to"] = day
    archive["superseded_at"] = now
    archive["superseded_by"] = change_set
    retired = old.iloc[[0]].copy()
    retired["version"] = 3
    retired["valid_to"] = day
    retired["change_set"] = change_set
    renamed = old.iloc[[1]].copy()
    renamed["version"] = 2
    renamed["name"] = "新名字"
    renamed["valid_from"] = day
    renamed["change_set"] = change_set
    pieces = pd.concat([old.iloc[[0]]] * 2, ignore_index=True)
    pieces["code"] = [WEST, EAST]
    pieces["name"] = ["西片", "东片"]
    pieces["version"] = 1
    pieces["valid_from"] = day
    pieces["valid_to"] = pd.NaT
    pieces["derived_from"] = SPLIT
    pieces["change_set"] = change_set
    pieces = gpd.GeoDataFrame(
        pieces,
        geometry=[
            shapely.MultiPolygon([box(x0, y0, MID, y1)]),
            shapely.MultiPolygon([box(MID, y0, x1, y1)]),
        ],
        crs="EPSG:4326",
    )
    grids = pd.concat([retired, renamed, pieces], ignore_index=True)
    return GridPublication(
        grids=GRIDS.conform(gpd.GeoDataFrame(grids, geometry="geometry", crs="EPSG:4326")),
        archive=VERSIONS.conform(gpd.GeoDataFrame(archive, geometry="geometry", crs="EPSG:4326")),
        change_set=change_set,
        actor="reviewer",
        published_on=TODAY,
    )


def state(store: Store, change_set: int | None = None) -> dict[str, Any]:
    """What a publication changes: grids, their history, the points' codes, the change set."""
    out: dict[str, Any] = {
        "grids": store.read("grids"),
        "grid_versions": store.read("grid_versions"),
        **{name: store.read(name)["grid_code"].tolist() for name in ASSIGNED_LAYERS},
    }
    if change_set is not None:
        out["change_set"] = store.change_sets.get(change_set)
        out["events"] = store.change_sets.events(change_set)
    return out


def assert_unchanged(before: dict[str, Any], after: dict[str, Any]) -> None:
    for key, value in before.items():
        if isinstance(value, pd.DataFrame):
            assert_same(value, after[key])
        else:
            assert value == after[key], key


# --- a publication -------------------------------------------------------------------------


def test_a_publication_replaces_adds_archives_and_reassigns(store: Store) -> None:
    number = submitted(store)
    before = state(store)
    pub = publication(store, number)
    written = store.publish_grids(pub, decide())
    grids = store.read("grids").set_index("code")
    # replaced, added, nothing else touched
    assert sorted(grids.index) == sorted([*before["grids"]["code"], WEST, EAST])
    assert (grids.loc[SPLIT, "version"], grids.loc[SPLIT, "valid_to"]) == (3, pd.Timestamp(TODAY))
    assert (grids.loc[RENAMED, "name"], grids.loc[RENAMED, "version"]) == ("新名字", 2)
    assert grids.loc[WEST, "derived_from"] == SPLIT and grids.loc[EAST, "change_set"] == number
    others = before["grids"].set_index("code").drop(index=[SPLIT, RENAMED])
    untouched = grids.drop(index=[SPLIT, RENAMED, WEST, EAST]).loc[others.index]
    assert_same(others.reset_index(), untouched.reset_index())
    # archived, after the history there was
    history = store.read("grid_versions")
    assert_same(before["grid_versions"], history.iloc[:1].reset_index(drop=True))
    assert_same(pub.archive, history.iloc[1:].reset_index(drop=True))
    # reassigned on the new grids: 001001's households now in its halves
    households = store.read("households").set_index("id")["grid_code"]
    old = before["households"]
    moved = {h: c for h, c in households.items() if c in (WEST, EAST)}
    assert len(moved) == sum(1 for c in old if c == SPLIT) > 0
    assert SPLIT not in set(households)
    east = [h for h, c in moved.items() if c == EAST]
    assert east == ["H006"]  # the one east of the middle
    item = next(i for i in written.layers if i.layer == "households")
    assert item.changed == len(moved)
    # every level-3 version: 4 stored (001001 retired), 2 new, 1 + 2 superseded
    assert written.grids == 9
    # the change set is published, by the reviewer, the same day
    done = store.change_sets.get(number)
    assert done is not None
    assert (done.status, done.reviewer, done.published_on) == ("published", "reviewer", TODAY)
    assert store.change_sets.events(number)[-1].action == "published"


def test_a_publication_without_a_change_set(store: Store) -> None:
    store.publish_grids(publication(store, None), decide())
    assert store.count("grids") == len(raw_frame("grids")) + 2
    assert store.count("grid_versions") == 3


def test_a_check_that_refuses_leaves_everything_as_it_was(store: Store) -> None:
    number = submitted(store)
    before = state(store, number)
    seen: list[Any] = []

    def check(current: Store) -> None:
        seen.append(current)
        raise ConflictError("the village changed meanwhile")

    with pytest.raises(ConflictError, match="changed meanwhile"):
        store.publish_grids(publication(store, number), decide(), check=check)
    assert seen == [store]
    assert_unchanged(before, state(store, number))


def test_a_change_set_no_longer_submitted_is_a_conflict(store: Store) -> None:
    number = submitted(store)
    pub = publication(store, number)
    store.change_sets.move(
        number, from_statuses=["submitted"], to="returned", actor="other", action="returned"
    )
    before = state(store, number)
    with pytest.raises(ConflictError, match="is returned, not submitted"):
        store.publish_grids(pub, decide())
    assert_unchanged(before, state(store, number))
    with pytest.raises(NotFoundError):
        store.publish_grids(publication(store, number + 100), decide())


def test_a_failing_decision_leaves_nothing_half_written(store: Store) -> None:
    number = submitted(store)
    before = state(store, number)

    def failing(grids: gpd.GeoDataFrame, points: Mapping[str, LayerPoints]) -> Any:
        assert {WEST, EAST} <= set(grids["code"])  # it runs on the grids as published
        raise RuntimeError("the decision failed")

    with pytest.raises(RuntimeError, match="the decision failed"):
        store.publish_grids(publication(store, number), failing)
    assert_unchanged(before, state(store, number))


def test_an_archived_version_cannot_be_archived_again(store: Store) -> None:
    number = submitted(store)
    pub = publication(store, number)
    again = pd.concat(
        [pub.archive, VERSIONS.validate(raw_frame("grid_versions"))], ignore_index=True
    )
    before = state(store, number)
    with pytest.raises(StoreConstraintError):
        store.publish_grids(
            GridPublication(
                grids=pub.grids, archive=again, change_set=number, actor="r", published_on=TODAY
            ),
            decide(),
        )
    assert_unchanged(before, state(store, number))


def test_postgis_refuses_an_invalid_outline_and_writes_nothing(pg_store: PostGISStore) -> None:
    pg_store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    assign_store(pg_store)
    number = submitted(pg_store)
    pub = publication(pg_store, number)
    bowtie = shapely.Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    grids = pub.grids.copy()
    grids.loc[grids["code"] == EAST, "geometry"] = shapely.MultiPolygon([bowtie])
    before = state(pg_store, number)
    with pytest.raises(StoreConstraintError, match="grids_geom_valid"):
        pg_store.publish_grids(GridPublication(grids, pub.archive, number, "r", TODAY), decide())
    assert_unchanged(before, state(pg_store, number))


def test_postgis_keeps_the_archive_as_published(pg_store: PostGISStore) -> None:
    pg_store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    number = submitted(pg_store)
    pg_store.publish_grids(publication(pg_store, number), decide())
    with (
        psycopg.connect(pg_store._conninfo) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute(f"DELETE FROM gisgrid.grid_versions WHERE superseded_by = {number}".encode())
    assert pg_store.count("grid_versions", where={"superseded_by": number}) == 2


def test_a_second_writer_waits_for_no_one_and_is_refused(store: Store) -> None:
    """While a publication decides, the store's writer lock is held."""
    number = submitted(store)

    def blocking(grids: gpd.GeoDataFrame, points: Mapping[str, LayerPoints]) -> Any:
        with pytest.raises(StoreError, match="another gisgrid process is writing"):
            store.write({"incidents": store.read("incidents")})
        return decide()(grids, points)

    store.publish_grids(publication(store, number), blocking)
    assert store.change_sets.get(number).status == "published"  # type: ignore[union-attr]


# --- every version in the decision ------------------------------------------------------------


def test_an_assignment_of_a_past_date_takes_the_old_outline(store: Store) -> None:
    """The fixture's 001001 had a first version (2023-01-01 to 2024-03-01) reaching further
    south; the other level-3 grids began on 2024-03-01."""
    seen: list[gpd.GeoDataFrame] = []

    def watching(grids: gpd.GeoDataFrame, points: Mapping[str, LayerPoints]) -> Any:
        seen.append(grids)
        return decide()(grids, points)

    store.assign_grid_codes(watching)
    versions = seen[0][seen[0]["code"] == SPLIT]
    assert len(versions) == 2 and set(versions["valid_to"].dropna()) == {pd.Timestamp("2024-03-01")}
    report = assign_store(store, as_of=dt.date(2023, 6, 1))
    assert report.grids == 1
    households = store.read("households").set_index("id")["grid_code"]
    assert set(households.dropna()) == {SPLIT} and households.notna().sum() == 6
    assign_store(store)  # and today's net again
    assert len(set(store.read("households")["grid_code"].dropna())) > 1
