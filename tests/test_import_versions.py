"""An import of the grids never overwrites history, on both stores: the stored versions of the
grids it changes or removes are archived in grid_versions in the same write, and the changed
grids are numbered as their next versions (:func:`gisgrid.exchange.version_grids`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely
from conftest import LEVEL3_BOXES, V1, assert_same, raw_frame, write_frame
from shapely.geometry import box

from gisgrid.analysis.assign import today
from gisgrid.errors import ConflictError
from gisgrid.exchange import import_file, version_grids
from gisgrid.layers import LAYERS
from gisgrid.stores import Store
from gisgrid.stores.base import WriteCheck, WriteMode
from gisgrid.stores.geopackage import GeoPackageStore

GRIDS, VERSIONS = LAYERS["grids"], LAYERS["grid_versions"]
RESHAPED = V1 + "001001"  # in its second version: the fixture's history holds the first
RENAMED = V1 + "002001"
TODAY = today()
DAY = pd.Timestamp(TODAY)


@pytest.fixture(params=["gpkg", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "gpkg":
        made: Store = GeoPackageStore(tmp_path / "county.gpkg")
    else:
        made = request.getfixturevalue("pg_store")
    made.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    yield made


def edited() -> Any:
    """The fixture's grids as a planner returns them from QGIS: 001001 a little narrower on
    its east side (its neighbour 002001 takes the strip), 002001 renamed, the rest as they
    were; the file carries no version columns."""
    frame = raw_frame("grids").drop(columns=["version"], errors="ignore")
    x0, y0, x1, y1 = LEVEL3_BOXES[RESHAPED]
    a0, b0, a1, b1 = LEVEL3_BOXES[RENAMED]
    cut = x1 - 0.005
    geoms = list(frame.geometry)
    codes = list(frame["code"])
    geoms[codes.index(RESHAPED)] = box(x0, y0, cut, y1)
    geoms[codes.index(RENAMED)] = box(cut, b0, a1, b1).union(box(a0, b0, a1, b1))
    frame = frame.set_geometry(geoms)
    frame.loc[frame["code"] == RENAMED, "name"] = "改名的村民小组"
    return frame


def test_an_import_archives_what_it_changes(store: Store, tmp_path: Path) -> None:
    before = store.read("grids").set_index("code")
    path = write_frame(edited(), tmp_path / "grids.geojson")
    result = import_file(store, "grids", path, mode="replace", allow_findings=True)
    assert any("grid_versions" in note for note in result.notes), result.notes
    grids = store.read("grids").set_index("code")
    history = store.read("grid_versions")
    assert len(history) == 3  # the fixture's first version of 001001, and the two replaced
    added = history.iloc[1:].set_index("code")
    assert sorted(added.index) == [RESHAPED, RENAMED]
    # archived as they were, ending the day their successors begin (the import day)
    for code, version in ((RESHAPED, 2), (RENAMED, 1)):
        old = before.loc[code]
        row = added.loc[code]
        assert row["version"] == version and pd.isna(row["superseded_by"])
        assert row.geometry.equals(old.geometry) and row["name"] == old["name"]
        assert row["valid_from"] == old["valid_from"] and row["valid_to"] == DAY
        assert grids.loc[code, "version"] == version + 1
        assert grids.loc[code, "valid_from"] == DAY
        assert pd.isna(grids.loc[code, "change_set"])
    assert grids.loc[RENAMED, "name"] == "改名的村民小组"
    # the unchanged grids keep their versions and dates
    same = [c for c in before.index if c not in (RESHAPED, RENAMED)]
    assert_same(before.loc[same].reset_index(), grids.loc[same].reset_index())


def test_the_same_file_again_archives_nothing(store: Store, tmp_path: Path) -> None:
    path = write_frame(edited(), tmp_path / "grids.geojson")
    import_file(store, "grids", path, mode="replace", allow_findings=True)
    once = {name: store.read(name) for name in ("grids", "grid_versions")}
    import_file(store, "grids", path, mode="replace", allow_findings=True)
    for name, frame in once.items():
        assert_same(frame, store.read(name))


def test_a_removed_grid_is_archived_and_a_later_start_kept(store: Store, tmp_path: Path) -> None:
    frame = edited()
    later = TODAY + dt.timedelta(days=10)
    frame.loc[frame["code"] == RENAMED, "valid_from"] = later.isoformat()
    gone = V1 + "002002"
    frame = frame[frame["code"] != gone].reset_index(drop=True)
    path = write_frame(frame, tmp_path / "grids.gpkg", layer="grids")
    import_file(store, "grids", path, mode="replace", allow_findings=True)
    history = store.read("grid_versions").set_index("code")
    assert gone in history.index and history.loc[gone, "valid_to"] == DAY
    assert gone not in set(store.read("grids")["code"])
    renamed = store.read("grids").set_index("code").loc[RENAMED]
    assert renamed["valid_from"] == pd.Timestamp(later)  # the file said when
    assert history.loc[RENAMED, "valid_to"] == pd.Timestamp(later)


def test_an_append_archives_nothing(store: Store, tmp_path: Path) -> None:
    frame = raw_frame("grids")
    new = frame[frame["code"] == RESHAPED].copy()
    new["code"] = V1 + "001009"
    new["version"] = None
    path = write_frame(new, tmp_path / "new.geojson")
    import_file(store, "grids", path, mode="append", allow_findings=True)
    assert store.count("grid_versions") == 1


class _ChangedMeanwhile(GeoPackageStore):
    """Another writer changes the grids between the import's reading and its writer lock."""

    def write(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        mode: WriteMode = "replace",
        meta: Mapping[str, Any] | None = None,
        check: WriteCheck | None = None,
    ) -> None:
        if check is not None:
            grids = GRIDS.validate(raw_frame("grids"))
            grids.loc[0, "name"] = "别人改的"
            GeoPackageStore(self.path).write({"grids": grids})
        super().write(frames, mode=mode, meta=meta, check=check)


def test_grids_changed_meanwhile_are_a_conflict(tmp_path: Path) -> None:
    store = _ChangedMeanwhile(tmp_path / "county.gpkg")
    GeoPackageStore(store.path).write(
        {name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()}
    )
    path = write_frame(edited(), tmp_path / "grids.geojson")
    with pytest.raises(ConflictError, match="changed while"):
        import_file(store, "grids", path, mode="replace", allow_findings=True)
    assert store.count("grid_versions") == 1
    assert "别人改的" in set(store.read("grids")["name"])


def test_version_grids_numbers_after_every_archived_version() -> None:
    stored = GRIDS.validate(raw_frame("grids"))
    incoming = stored.copy()
    row = stored.index[stored["code"] == RESHAPED][0]
    incoming.loc[row, "name"] = "新名字"
    archived = pd.DataFrame({"code": [RESHAPED, RESHAPED], "version": [1, 4]})
    at = dt.datetime(2026, 12, 1, 9, 0)
    done = version_grids(stored, archived, incoming, on=TODAY, at=at)
    assert done.changed == (RESHAPED,) and done.removed == ()
    assert done.archive["version"].tolist() == [5]  # the stored number (2) was already taken
    assert done.archive["superseded_at"].tolist() == [pd.Timestamp(at)]
    assert done.grids.loc[row, "version"] == 6
    assert shapely.equals(done.archive.geometry.iloc[0], stored.geometry.iloc[row])


def test_the_command_reassigns_the_points_after_an_import_of_grids(
    filled_store: GeoPackageStore, run_gisgrid: Any, tmp_path: Path
) -> None:
    """The boundary between 001001 and 001002 moves north past H001–H006: after the import,
    the stored grid codes say 001002 without a separate ``gisgrid assign``."""
    assert run_gisgrid("assign", store=filled_store.path).returncode == 0
    before = filled_store.read("households").set_index("id")["grid_code"]
    assert (before.loc[["H001", "H006"]] == RESHAPED).all()
    grids = filled_store.read("grids")
    x0, _y0, x1, y1 = LEVEL3_BOXES[RESHAPED]
    south = V1 + "001002"
    sx0, sy0, sx1, _sy1 = LEVEL3_BOXES[south]
    moved = {
        RESHAPED: shapely.MultiPolygon([box(x0, 29.66, x1, y1)]),
        south: shapely.MultiPolygon([box(sx0, sy0, sx1, 29.66)]),
    }
    pairs = zip(grids["code"], grids["geometry"], strict=True)
    grids["geometry"] = [moved.get(code, shape) for code, shape in pairs]
    path = write_frame(grids, tmp_path / "grids.gpkg", layer="grids")
    done = run_gisgrid("import", "grids", path, "--mode", "replace", store=filled_store.path)
    assert done.returncode == 0, done.stderr
    assert "reassigned" in done.stdout
    after = filled_store.read("households").set_index("id")["grid_code"]
    assert (after.loc[["H001", "H002", "H003", "H004", "H005", "H006"]] == south).all()
    assert after.loc["H009"] == before.loc["H009"]
