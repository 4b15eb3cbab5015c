"""Imports of grids go through the boundary checks of ``gisgrid check`` (issue #13, point 2).

The little county of ``conftest`` is stored (townships, villages, grids), then a planner's
file of grids comes back from QGIS with one bad edit, made here with shapely in metres
(:data:`gisgrid.crs.METRIC_CRS`): a level-3 grid stretched 80 m into its neighbour, a
level-3 grid moved 2 km outside its level-2 parent, a level-2 grid deleted under its level-3
grids. Each is refused by the real command with exit 4 and nothing written, on a GeoPackage
and on PostGIS, and imported with ``--allow-findings``, its findings listed. A store that
already holds a finding takes an import that adds none; a clean redraw passes.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from conftest import LEVEL2_BOXES, V1, assert_same, raw_frame, sha256, write_frame

from gisgrid import crs as crsmod
from gisgrid.errors import ValidationError
from gisgrid.exchange import import_file
from gisgrid.layers import LAYERS
from gisgrid.settings import CheckSettings
from gisgrid.stores.base import Store, WriteCheck, WriteMode
from gisgrid.stores.geopackage import GeoPackageStore

Run = Callable[..., subprocess.CompletedProcess[str]]

POLYGONS = ("townships", "villages", "grids")
#: level-3 grids of the first village (north and south halves of each level-2 grid)
WEST_NORTH, WEST_SOUTH = V1 + "001001", V1 + "001002"
EAST_NORTH, EAST_SOUTH = V1 + "002001", V1 + "002002"
EAST = V1 + "002"
assert EAST in LEVEL2_BOXES


# --- making the planner's file --------------------------------------------------------------


def to_metric(geom: shapely.Geometry) -> shapely.Geometry:
    return gpd.GeoSeries([geom], crs=crsmod.STORAGE_CRS).to_crs(crsmod.METRIC_CRS).iloc[0]


def from_metric(geom: shapely.Geometry) -> shapely.Geometry:
    return gpd.GeoSeries([geom], crs=crsmod.METRIC_CRS).to_crs(crsmod.STORAGE_CRS).iloc[0]


def area_m2(geom: shapely.Geometry) -> float:
    return float(to_metric(geom).area)


def grids_with(**changes: Callable[[shapely.Geometry], shapely.Geometry | None]) -> Any:
    """The fixture grids with the geometry of each named grid changed (``None``: deleted)."""
    frame = raw_frame("grids")
    for code, change in changes.items():
        row = frame.index[frame["code"] == code][0]
        geom = change(frame.geometry[row])
        if geom is None:
            frame = frame.drop(index=row)
        else:
            frame.loc[row, "geometry"] = geom
    return frame.reset_index(drop=True)


def degrees(geom: shapely.Geometry, east_m: float, north_m: float) -> tuple[float, float]:
    """A shift of ``east_m`` and ``north_m`` metres at the grid's centre, in degrees.

    Measured in the metric CRS from the centre and taken along the parallel and the
    meridian, so that the grid's edges stay on the lattice of its neighbours.
    """
    centre = geom.centroid
    moved = shapely.affinity.translate(to_metric(centre), east_m, 0)
    dlon = from_metric(moved).x - centre.x
    moved = shapely.affinity.translate(to_metric(centre), 0, north_m)
    dlat = from_metric(moved).y - centre.y
    return (dlon if east_m else 0.0), (dlat if north_m else 0.0)


def stretched_south(metres: float) -> Callable[[shapely.Geometry], shapely.Geometry]:
    """The grid with its south edge moved ``metres`` south."""

    def change(geom: shapely.Geometry) -> shapely.Geometry:
        _, dlat = degrees(geom, 0, -metres)
        return shapely.union(geom, shapely.affinity.translate(geom, 0, dlat))

    return change


def moved_east(metres: float) -> Callable[[shapely.Geometry], shapely.Geometry]:
    def change(geom: shapely.Geometry) -> shapely.Geometry:
        dlon, _ = degrees(geom, metres, 0)
        return shapely.affinity.translate(geom, dlon, 0)

    return change


def overlap_80m() -> Any:
    return grids_with(**{WEST_NORTH: stretched_south(80)})


def outside_2km() -> Any:
    return grids_with(**{EAST_NORTH: moved_east(2000)})


def parent_deleted() -> Any:
    return grids_with(**{EAST: lambda _: None})


BAD = {"overlap_80m": overlap_80m, "outside_2km": outside_2km, "parent_deleted": parent_deleted}


# --- the stores -----------------------------------------------------------------------------


class County:
    """A store holding the little county's townships, villages and grids."""

    def __init__(self, store: Store, arg: str) -> None:
        self.store = store
        #: what ``--store`` takes
        self.arg = arg

    def snapshot(self) -> tuple[Any, ...]:
        """What must not change when an import is refused: every row, and the file's bytes."""
        rows = tuple(self.store.read(name) for name in POLYGONS)
        path = self.store.path
        return (sha256(path) if path is not None else None, *rows)

    def assert_unchanged(self, before: tuple[Any, ...]) -> None:
        after = self.snapshot()
        assert after[0] == before[0], "the GeoPackage changed"
        for old, new in zip(before[1:], after[1:], strict=True):
            assert_same(old, new)


@pytest.fixture(params=["geopackage", "postgis"])
def county(request: pytest.FixtureRequest, tmp_path: Path) -> County:
    store: Store
    if request.param == "geopackage":
        store = GeoPackageStore(tmp_path / "store" / "county.gpkg")
        arg = str(store.path)
    else:
        store = request.getfixturevalue("pg_store")
        arg = request.getfixturevalue("pg_url")
    store.write({name: LAYERS[name].validate(raw_frame(name)) for name in POLYGONS})
    return County(store, arg)


def grids_file(tmp_path: Path, frame: pd.DataFrame, name: str = "grids") -> Path:
    return write_frame(frame, tmp_path / f"{name}.gpkg", layer="grids")


def import_grids(run: Run, county: County, path: Path, *options: str) -> Any:
    return run("import", "grids", path, "--mode", "replace", "--store", county.arg, *options)


def words(text: str) -> str:
    return " ".join(text.split())


def m2_said(message: str, before: str) -> float:
    """The area (``12,345 m²``) a message gives right after ``before``."""
    match = re.search(re.escape(before) + r" ([\d,]+) m²", message)
    assert match, message
    return float(match.group(1).replace(",", ""))


# --- refused, nothing written ---------------------------------------------------------------


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_edit_is_refused_with_exit_4_and_nothing_written(
    case: str, county: County, run_gisgrid: Run, tmp_path: Path
) -> None:
    path = grids_file(tmp_path, BAD[case]())
    before = county.snapshot()
    result = import_grids(run_gisgrid, county, path)
    assert result.returncode == ValidationError.exit_code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    county.assert_unchanged(before)
    said = words(result.stderr)
    assert "nothing was written" in said
    if case == "overlap_80m":
        assert f"{WEST_NORTH} and {WEST_SOUTH}" in said and "overlap by" in said
    elif case == "outside_2km":
        assert f"{EAST_NORTH} lies outside its parent {EAST} by" in said
    else:
        for code in (EAST_NORTH, EAST_SOUTH):
            assert f"{code}: its parent {EAST} does not exist (missing parent)" in said


def test_the_findings_say_what_and_how_much(county: County, tmp_path: Path) -> None:
    """The areas are the ones of ``gisgrid check``, measured in m² in the metric CRS."""
    frame = overlap_80m()
    fixture = raw_frame("grids").set_index("code").geometry
    south = fixture[WEST_SOUTH]
    overlap = area_m2(shapely.intersection(frame.set_index("code").geometry[WEST_NORTH], south))
    assert 80 * 7000 < overlap < 80 * 7500  # 80 m along a south edge of about 7.3 km
    with pytest.raises(ValidationError) as caught:
        import_file(county.store, "grids", grids_file(tmp_path, frame), mode="replace")
    [problem] = caught.value.problems
    assert problem.feature == WEST_NORTH and problem.field == "geometry"
    assert problem.index == list(frame["code"]).index(WEST_NORTH)
    assert m2_said(problem.message, "overlap by") == pytest.approx(overlap, rel=1e-3)

    moved = outside_2km()
    outside = area_m2(
        shapely.difference(moved.set_index("code").geometry[EAST_NORTH], fixture[EAST])
    )
    assert 2000 * 11_000 < outside < 2000 * 11_200  # 2 km along an east edge of about 11.1 km
    with pytest.raises(ValidationError) as caught:
        import_file(county.store, "grids", grids_file(tmp_path, moved, "moved"), mode="replace")
    found = {(p.feature, p.message.split(":")[0]) for p in caught.value.problems}
    # the grid sticks out of its parent, and leaves a gap in it where it stood
    assert found == {(EAST_NORTH, "nesting"), (EAST, "gaps")}
    [nesting] = [p for p in caught.value.problems if p.message.startswith("nesting")]
    assert m2_said(nesting.message, f"parent {EAST} by") == pytest.approx(outside, rel=1e-3)

    orphaned = parent_deleted()
    with pytest.raises(ValidationError) as caught:
        path = grids_file(tmp_path, orphaned, "orphaned")
        import_file(county.store, "grids", path, mode="replace")
    found = {(p.feature, p.field) for p in caught.value.problems}
    # both level-3 grids lost their parent, and the village a level-2 grid
    assert found == {(EAST_NORTH, "parent_code"), (EAST_SOUTH, "parent_code"), (V1, "geometry")}


def test_an_append_is_judged_with_the_stored_grids(county: County, tmp_path: Path) -> None:
    """An appended grid overlapping a stored one is refused: the stored grids take part."""
    stored = raw_frame("grids")
    extra = stored[stored["code"] == WEST_NORTH].copy()
    extra["code"] = V1 + "001003"
    extra["name"] = "第九村民小组"
    before = county.snapshot()
    with pytest.raises(ValidationError, match="overlap by"):
        import_file(county.store, "grids", grids_file(tmp_path, extra.reset_index(drop=True)))
    county.assert_unchanged(before)


# --- written with --allow-findings ----------------------------------------------------------


@pytest.mark.parametrize("case", list(BAD))
def test_allow_findings_imports_and_lists_them(
    case: str, county: County, run_gisgrid: Run, tmp_path: Path
) -> None:
    frame = BAD[case]()
    before = county.snapshot()
    result = import_grids(run_gisgrid, county, grids_file(tmp_path, frame), "--allow-findings")
    if case == "parent_deleted" and county.store.path is None:
        # PostGIS's schema refers a grid to its parent: that reference stands, whatever the
        # import allows (a GeoPackage has no such reference of its own)
        assert result.returncode == 4, result.stdout + result.stderr
        assert "is not in the store" in words(result.stderr)
        county.assert_unchanged(before)
        return
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"imported {len(frame)} grids" in result.stdout
    said = words(result.stderr)
    assert "finding(s) of the boundary checks (--allow-findings)" in said
    code = {"overlap_80m": WEST_NORTH, "outside_2km": EAST_NORTH, "parent_deleted": EAST_NORTH}
    assert code[case] in said
    assert set(county.store.read("grids")["code"]) == set(frame["code"])


def test_allow_findings_returns_the_findings(county: County, tmp_path: Path) -> None:
    moved = outside_2km()
    path = grids_file(tmp_path, moved)
    result = import_file(county.store, "grids", path, mode="replace", allow_findings=True)
    found = [(p.feature, p.message.split(":")[0]) for p in result.findings]
    assert found == [(EAST_NORTH, "nesting"), (EAST, "gaps")]
    stored = county.store.read("grids").set_index("code").geometry
    assert stored[EAST_NORTH].equals(moved.set_index("code").geometry[EAST_NORTH])


# --- what does not count ----------------------------------------------------------------------


def test_a_finding_already_stored_does_not_block_an_unrelated_import(
    county: County, run_gisgrid: Run, tmp_path: Path
) -> None:
    bad = overlap_80m()
    # a store written before imports were checked, holding the overlap
    county.store.write({"grids": LAYERS["grids"].validate(bad)})
    renamed = bad.copy()
    renamed.loc[renamed["code"] == EAST_SOUTH, "name"] = "改了名的村民小组"
    result = import_grids(run_gisgrid, county, grids_file(tmp_path, renamed))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "finding" not in result.stderr
    assert "改了名的村民小组" in set(county.store.read("grids")["name"])


def test_a_stored_finding_made_worse_is_refused(
    county: County, run_gisgrid: Run, tmp_path: Path
) -> None:
    county.store.write({"grids": LAYERS["grids"].validate(overlap_80m())})
    worse = grids_with(**{WEST_NORTH: stretched_south(500)})
    before = county.snapshot()
    result = import_grids(run_gisgrid, county, grids_file(tmp_path, worse))
    assert result.returncode == ValidationError.exit_code, result.stdout + result.stderr
    assert "(was " in words(result.stderr)
    county.assert_unchanged(before)


def test_a_clean_redraw_passes(county: County, run_gisgrid: Run, tmp_path: Path) -> None:
    """The shared edge of two neighbours moved 80 m south on both sides: no finding."""
    grids = raw_frame("grids")
    north = stretched_south(80)(grids.set_index("code").geometry[WEST_NORTH])
    redrawn = grids_with(
        **{WEST_NORTH: lambda _: north, WEST_SOUTH: lambda g: shapely.difference(g, north)}
    )
    result = import_grids(run_gisgrid, county, grids_file(tmp_path, redrawn))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "finding" not in result.stderr
    stored = county.store.read("grids").set_index("code").geometry
    assert area_m2(stored[WEST_SOUTH]) < area_m2(
        raw_frame("grids").set_index("code").geometry[WEST_SOUTH]
    )


def test_the_same_grids_again_pass(county: County, tmp_path: Path) -> None:
    result = import_file(
        county.store, "grids", grids_file(tmp_path, raw_frame("grids")), mode="replace"
    )
    assert result.findings == ()


def test_the_thresholds_are_the_checks(county: County, tmp_path: Path) -> None:
    """``sliver_m2`` decides as in ``gisgrid check``: a 1 m overlap is noise under 10,000 m²."""
    frame = grids_with(**{WEST_NORTH: stretched_south(1)})
    path = grids_file(tmp_path, frame)
    with pytest.raises(ValidationError):
        import_file(county.store, "grids", path, mode="replace")
    lenient = CheckSettings(sliver_m2=10_000)
    result = import_file(county.store, "grids", path, mode="replace", check_settings=lenient)
    assert result.findings == ()


class _FixedMeanwhile(GeoPackageStore):
    """A store another writer changes between the import's reading and its writer lock."""

    meanwhile: pd.DataFrame

    def write(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        mode: WriteMode = "replace",
        meta: Mapping[str, Any] | None = None,
        check: WriteCheck | None = None,
    ) -> None:
        if check is not None:  # the import's write: the other writer comes first
            GeoPackageStore(self.path).write({"grids": self.meanwhile})
        super().write(frames, mode=mode, meta=meta, check=check)


def test_the_store_under_the_writer_lock_decides(tmp_path: Path) -> None:
    """The overlap was there when the import started, fixed by someone else before its lock:
    under the lock the import would add it again, and is refused."""
    store = _FixedMeanwhile(tmp_path / "county.gpkg")
    bad = overlap_80m()
    store.write({name: LAYERS[name].validate(raw_frame(name)) for name in POLYGONS[:2]})
    store.write({"grids": LAYERS["grids"].validate(bad)})
    path = grids_file(tmp_path, bad)
    # with the overlap still stored, the same grids add nothing
    store.meanwhile = LAYERS["grids"].validate(bad)
    assert import_file(store, "grids", path, mode="replace").findings == ()
    # fixed meanwhile: the import would bring the overlap back
    store.meanwhile = LAYERS["grids"].validate(raw_frame("grids"))
    with pytest.raises(ValidationError, match="overlap by"):
        import_file(store, "grids", path, mode="replace")
    assert_same(store.meanwhile, store.read("grids"))
