"""Shared fixtures: small REAL input files for every layer, and a store in a temporary folder.

The little county drawn here lies around Huarong (lon 112.40-112.85, lat 29.30-29.70): three
townships side by side, four villages (one of them an urban community), each village its own
level-1 grid, and inside the first village two level-2 grids of two level-3 grids each. All
polygons are axis-parallel boxes on a shared lattice, so they tile exactly. Households, service
points, incidents and the organisation tables are a handful of rows each; every person is
synthetic.

Tests get:

* :func:`input_frames` — fresh raw input frames per layer, as a planner would type them (codes
  as text, dates as ``YYYY-MM-DD`` text, booleans as ``true``/``false``, any mix of it);
* :func:`canonical` — those frames validated into canonical form;
* :func:`write_input` — writes a frame to a real GeoJSON or GeoPackage file with pyogrio;
* :func:`bad_input` — a real file with exactly one kind of bad input, and what the error
  must say about it;
* :func:`tmp_store` — an empty :class:`~gisgrid.stores.geopackage.GeoPackageStore` in
  ``tmp_path``; :func:`filled_store` — the same holding every layer (a copy of
  :func:`filled_store_file`, written once per session);
* :func:`run_gisgrid` — the real ``gisgrid`` command as a subprocess.

When the environment says ``CI=true``, a skipped test fails the run (see
:func:`pytest_sessionfinish`).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
from geopandas.testing import assert_geodataframe_equal
from pandas.testing import assert_frame_equal
from shapely.geometry import LineString, Point, Polygon, box

from gisgrid.layers import LAYERS
from gisgrid.stores.geopackage import GeoPackageStore

# --- the little county ---------------------------------------------------------------------

TOWNSHIP_CODES = ("430623901", "430623902", "430623903")
#: (code, name, township, kind, credit_village, (x0, y0, x1, y1))
VILLAGE_ROWS = (
    ("430623901001", "测试一村", "430623901", "village", "true", (112.40, 29.50, 112.55, 29.70)),
    ("430623901002", "测试社区", "430623901", "community", "false", (112.40, 29.30, 112.55, 29.50)),
    ("430623902001", "测试二村", "430623902", "village", "是", (112.55, 29.30, 112.70, 29.70)),
    ("430623903001", "测试三村", "430623903", "village", None, (112.70, 29.30, 112.85, 29.70)),
)
TOWNSHIP_BOXES = {
    "430623901": (112.40, 29.30, 112.55, 29.70),
    "430623902": (112.55, 29.30, 112.70, 29.70),
    "430623903": (112.70, 29.30, 112.85, 29.70),
}
V1 = "430623901001"
#: level-2 grids of the first village: west and east halves
LEVEL2_BOXES = {
    V1 + "001": (112.40, 29.50, 112.475, 29.70),
    V1 + "002": (112.475, 29.50, 112.55, 29.70),
}
#: level-3 grids: each level-2 grid cut into a north and a south half (numbered north first)
LEVEL3_BOXES = {
    V1 + "001001": (112.40, 29.60, 112.475, 29.70),
    V1 + "001002": (112.40, 29.50, 112.475, 29.60),
    V1 + "002001": (112.475, 29.60, 112.55, 29.70),
    V1 + "002002": (112.475, 29.50, 112.55, 29.60),
}


def _townships() -> gpd.GeoDataFrame:
    names = ("测试一镇", "测试二镇", "测试三镇")
    return gpd.GeoDataFrame(
        {"code": list(TOWNSHIP_CODES), "name": list(names)},
        geometry=[box(*TOWNSHIP_BOXES[c]) for c in TOWNSHIP_CODES],
        crs="EPSG:4326",
    )


def _villages() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in VILLAGE_ROWS],
            "name": [r[1] for r in VILLAGE_ROWS],
            "township_code": [r[2] for r in VILLAGE_ROWS],
            "kind": [r[3] for r in VILLAGE_ROWS],
            "credit_village": [r[4] for r in VILLAGE_ROWS],
        },
        geometry=[box(*r[5]) for r in VILLAGE_ROWS],
        crs="EPSG:4326",
    )


def _grids() -> gpd.GeoDataFrame:
    rows: list[dict[str, Any]] = []
    for code, name, _township, _kind, _credit, bounds in VILLAGE_ROWS:
        rows.append(
            {"code": code, "level": 1, "parent_code": None, "village_code": code,
             "name": f"{name}一级网格", "responsible_name": "赵测试",
             "responsible_phone": "13800000001", "responsible_role": "网格长",
             "valid_from": "2023-01-01", "valid_to": None, "geometry": box(*bounds)}
        )  # fmt: skip
    for n, (code, bounds) in enumerate(LEVEL2_BOXES.items()):
        rows.append(
            {"code": code, "level": 2, "parent_code": V1, "village_code": V1,
             "name": f"第{n + 1}自然村", "responsible_name": "钱测试" if n == 0 else None,
             "responsible_phone": "0730-4201234" if n == 0 else None,
             "responsible_role": "网格员", "valid_from": "2023-01-01",
             "valid_to": "2099-12-31" if n == 1 else None, "geometry": box(*bounds)}
        )  # fmt: skip
        # a planned end, far ahead: the grid is in force today (a valid_to passed would
        # retire it and leave its children without a parent: tests/test_in_force.py)
    for n, (code, bounds) in enumerate(LEVEL3_BOXES.items()):
        rows.append(
            {"code": code, "level": 3, "parent_code": code[:15], "village_code": V1,
             "name": f"第{n + 1}村民小组", "responsible_name": f"孙测试{n + 1}",
             "responsible_phone": f"1390000000{n}", "responsible_role": "网格员",
             "valid_from": "2024-03-01", "valid_to": None, "geometry": box(*bounds)}
        )  # fmt: skip
    # the first level-3 grid is in its second version: the first is in grid_versions
    rows[-len(LEVEL3_BOXES)]["version"] = 2
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def _grid_versions() -> gpd.GeoDataFrame:
    # the first version of the first level-3 grid: reaching 2 km further south, with another
    # responsible person, until an import replaced it on 2024-03-01
    code = V1 + "001001"
    x0, _y0, x1, y1 = LEVEL3_BOXES[code]
    row = {
        "code": code, "level": 3, "parent_code": code[:15], "village_code": V1,
        "name": "第1村民小组", "responsible_name": "周测试", "responsible_phone": "13900000009",
        "responsible_role": "网格员", "valid_from": "2023-01-01", "valid_to": "2024-03-01",
        "version": 1, "superseded_at": "2024-03-01 09:30:00", "superseded_by": None,
        "geometry": box(x0, 29.58, x1, y1),
    }  # fmt: skip
    return gpd.GeoDataFrame([row], geometry="geometry", crs="EPSG:4326")


def _households() -> gpd.GeoDataFrame:
    # H001 and H007 are backbone households; H002-H006 are linked to H001, H008 to H007;
    # H009 is linked to no one. All in the first village.
    rows: list[dict[str, Any]] = []
    spots = [
        (112.430, 29.650), (112.432, 29.652), (112.428, 29.648), (112.435, 29.655),
        (112.425, 29.645), (112.440, 29.640), (112.500, 29.550), (112.505, 29.555),
        (112.520, 29.680),
    ]  # fmt: skip
    for n, (x, y) in enumerate(spots):
        hid = f"H{n + 1:03d}"
        backbone = hid in ("H001", "H007")
        link = {"H008": "H007", "H009": None}.get(hid, None if backbone else "H001")
        rows.append(
            {
                "id": hid,
                "head_name": f"测试户主{n + 1}",
                "house_number": f"测试村{n + 1}号",
                "village_code": V1,
                "members": n % 5 + 2,
                "elderly": n % 3,
                "party_member": "true" if backbone or hid == "H003" else "false",
                "backbone": "true" if backbone else "false",
                "backbone_id": link,
                "credit_rating": ("AAA", "AA", "A", None)[n % 4],
                "geometry": Point(x, y),
            }
        )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326")


def _service_points() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["SP001", "SP002", "SP003"],
            "kind": ["village_centre", "elder_care", "township_centre"],
            "name": ["测试一村便民服务站", "岁月港湾测试点", "测试一镇便民服务中心"],
            "village_code": [V1, V1, None],
            "watcher": [None, "李守望", "周测试"],
        },
        geometry=[Point(112.47, 29.60), Point(112.44, 29.66), Point(112.45, 29.40)],
        crs="EPSG:4326",
    )


def _incidents() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["E001", "E002", "E003"],
            "kind": ["dispute", "petition", "illegal_construction"],
            "reported_at": ["2024-03-01T09:30:00", "2024-05-12 14:05:00", "2024-07-20T08:00:00"],
            "status": ["registered", "closed", "handling"],
            "description": ["邻里纠纷（测试）", None, "违建（测试）"],
        },
        geometry=[Point(112.45, 29.62), Point(112.60, 29.40), Point(112.50, 29.52)],
        crs="EPSG:4326",
    )


def _case_steps() -> pd.DataFrame:
    # E001 was reported by its grid worker and dispatched to them; the others have no steps
    # (imported in their stage)
    return pd.DataFrame(
        {
            "incident_id": ["E001", "E001"],
            "seq": [1, 2],
            "action": ["report", "dispatch"],
            "actor": ["grid-wang", "village-li"],
            "at": ["2024-03-01T09:30:00", "2024-03-01 11:00:00"],
            "note": [None, "请尽快调解（测试）"],
            "assignee": [None, "grid-wang"],
        }
    )


def _public_reports() -> pd.DataFrame:
    # a resident reported E003 through the public form and left a phone
    return pd.DataFrame(
        {
            "incident_id": ["E003"],
            "code_hash": ["0" * 63 + "1"],
            "contact_phone": ["13900001234"],
        }
    )


def _visits() -> pd.DataFrame:
    # the grid worker looked in on H002 and settled a quarrel at H005 (recorded on the spot)
    return pd.DataFrame(
        {
            "id": ["V001", "V002"],
            "household_id": ["H002", "H005"],
            "visitor": ["grid-wang", "grid-wang"],
            "at": ["2024-03-05 10:00:00", "2024-04-02T15:30:00"],
            "kind": ["look_in", "mediation"],
            "note": ["身体尚好（测试）", None],
            "lon": [None, 112.425],
            "lat": [None, 29.645],
        }
    )


def _county_leaders() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": ["L01", "L02"], "name": ["吴测试", "郑测试"], "post": ["县委书记", "副县长"]}
    )


def _leader_townships() -> pd.DataFrame:
    return pd.DataFrame({"leader_id": ["L01", "L01", "L02"], "township_code": list(TOWNSHIP_CODES)})


def _pairings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit_name": ["县测试局", "测试公司"],
            "unit_kind": ["agency", "enterprise"],
            "village_code": [V1, "430623901002"],
            "kind": ["weak_village", "urban_community"],
        }
    )


def _first_secretaries() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["FS01", "FS02"],
            "name": ["冯测试", "陈测试"],
            "unit": ["县测试局", "县测试办"],
            "village_code": [V1, "430623902001"],
            "start_on": ["2023-05-01", None],
        }
    )


def _volunteer_teams() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["VT01", "VT02"],
            "name": ["长工精神志愿服务队（测试一）", "长工精神志愿服务队（测试二）"],
            "village_code": [V1, "430623902001"],
            "leader_name": ["褚测试", None],
            "members": [20, 12],
        },
        geometry=[Point(112.46, 29.61), Point(112.62, 29.50)],
        crs="EPSG:4326",
    )


def _volunteer_activities() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["VA01", "VA02", "VA03"],
            "team_id": ["VT01", "VT01", "VT02"],
            "kind": ["environment", "drowning_prevention", "practical_help"],
            "held_on": ["2024-04-01", "2024-06-15", "2024-09-09"],
            "participants": [12, None, 8],
        },
        geometry=[Point(112.46, 29.62), Point(112.47, 29.58), Point(112.63, 29.45)],
        crs="EPSG:4326",
    )


def _volunteer_hours() -> pd.DataFrame:
    # three volunteers at the first activity, two of them again at the third
    return pd.DataFrame(
        {
            "activity_id": ["VA01", "VA01", "VA01", "VA03", "VA03"],
            "volunteer_id": ["P001", "P002", "P003", "P001", "P002"],
            "volunteer_name": ["钱测试", "孙测试", "李测试", "钱测试", "孙测试"],
            "hours": [2.5, 2.5, 1.0, 4.0, 3.5],
        }
    )


_BUILDERS: dict[str, Callable[[], pd.DataFrame]] = {
    "townships": _townships,
    "villages": _villages,
    "grids": _grids,
    "grid_versions": _grid_versions,
    "households": _households,
    "service_points": _service_points,
    "incidents": _incidents,
    "case_steps": _case_steps,
    "public_reports": _public_reports,
    "visits": _visits,
    "county_leaders": _county_leaders,
    "leader_townships": _leader_townships,
    "pairings": _pairings,
    "first_secretaries": _first_secretaries,
    "volunteer_teams": _volunteer_teams,
    "volunteer_activities": _volunteer_activities,
    "volunteer_hours": _volunteer_hours,
}


def assert_same(expected: pd.DataFrame, got: pd.DataFrame) -> None:
    """Two layer frames are equal, of the same kind (GeoDataFrame or not), CRS included."""
    if isinstance(expected, gpd.GeoDataFrame):
        assert isinstance(got, gpd.GeoDataFrame)
        assert_geodataframe_equal(expected, got, check_crs=True)
    else:
        assert not isinstance(got, gpd.GeoDataFrame)
        assert_frame_equal(expected, got)


def sha256(path: Path) -> str:
    """The file's content as a digest: a store left byte for byte as it was."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw_frame(layer: str) -> Any:
    """A fresh raw input frame for ``layer`` (a new object on every call: mutate freely).

    A GeoDataFrame for spatial layers, a DataFrame for tables.
    """
    return _BUILDERS[layer]()


def write_frame(frame: pd.DataFrame, path: Path, *, layer: str | None = None) -> Path:
    """Write ``frame`` to a real GeoJSON or GeoPackage file (chosen by the suffix) with pyogrio."""
    driver = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}[path.suffix]
    kwargs: dict[str, Any] = {"driver": driver}
    if driver == "GPKG" and layer is not None:
        kwargs["layer"] = layer
    pyogrio.write_dataframe(frame, path, **kwargs)
    return path


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def input_frames() -> Callable[[str], Any]:
    """``input_frames(layer)``: a fresh raw input frame as a planner would type it."""
    return raw_frame


@pytest.fixture
def canonical() -> Callable[[str], Any]:
    """``canonical(layer)``: the fixture input for ``layer`` validated into canonical form."""

    def make(layer: str) -> Any:
        return LAYERS[layer].validate(raw_frame(layer))

    return make


@pytest.fixture
def write_input(tmp_path: Path) -> Callable[..., Path]:
    """``write_input(layer, suffix=".geojson", frame=None, name=None)``: a real input file.

    Writes ``frame`` (default: the fixture input of ``layer``) to ``tmp_path`` as GeoJSON or
    GeoPackage (layer named like the gisgrid layer) and returns its path.
    """

    def make(
        layer: str,
        suffix: str = ".geojson",
        frame: pd.DataFrame | None = None,
        name: str | None = None,
    ) -> Path:
        data = raw_frame(layer) if frame is None else frame
        path = tmp_path / f"{name or layer}{suffix}"
        return write_frame(data, path, layer=layer)

    return make


#: bowtie: two triangles crossing at (112.625, 29.5): self-intersecting, invalid
BOWTIE = Polygon([(112.55, 29.30), (112.70, 29.70), (112.70, 29.30), (112.55, 29.70)])


def _bad_input(case: str) -> tuple[str, pd.DataFrame, str, tuple[int | None, str | None, str, str]]:
    """(layer, frame, suffix, (feature index, feature key, field, words)) of a bad input."""
    if case == "missing_column":
        frame = raw_frame("villages").drop(columns="kind")
        return "villages", frame, ".geojson", (None, None, "kind", "required column is missing")
    if case == "bad_code":
        frame = raw_frame("villages")
        frame.loc[2, "code"] = "43062390200A"
        return "villages", frame, ".geojson", (2, "43062390200A", "code", "12 digits")
    if case == "no_crs":
        frame = raw_frame("villages").set_crs(None, allow_override=True)
        return "villages", frame, ".gpkg", (None, None, "geometry", "give one with --crs")
    replace: dict[str, tuple[str, int, Any, str, str]] = {
        # case: (layer, feature index, geometry, suffix, words)
        "invalid_geometry": ("townships", 1, BOWTIE, ".gpkg", "Self-intersection"),
        "wrong_geometry_type": (
            "grids", 4, LineString([(112.40, 29.50), (112.475, 29.70)]), ".geojson",
            "wrong geometry type LineString",
        ),
        "outside_china": ("households", 5, Point(-122.42, 37.77), ".geojson", "outside China"),
        "swapped": ("service_points", 1, Point(29.66, 112.44), ".gpkg", "swapped"),
    }  # fmt: skip
    layer, index, geometry, suffix, words = replace[case]
    frame = raw_frame(layer)
    geoms = list(frame.geometry)
    geoms[index] = geometry
    frame.geometry = gpd.GeoSeries(geoms, crs="EPSG:4326")
    key = str(frame.at[index, LAYERS[layer].key[0]])
    return layer, frame, suffix, (index, key, "geometry", words)


@pytest.fixture
def bad_input(tmp_path: Path) -> Callable[[str], tuple[str, Path, tuple[Any, ...]]]:
    """``bad_input(case)``: ``(layer, real file, (index, key, field, words))`` of a bad input.

    Cases: missing_column, bad_code, no_crs, invalid_geometry, wrong_geometry_type,
    outside_china, swapped. Exactly one feature (or the whole file, index None) is bad.
    """

    def make(case: str) -> tuple[str, Path, tuple[Any, ...]]:
        layer, frame, suffix, expected = _bad_input(case)
        path = tmp_path / "bad" / f"{case}{suffix}"
        path.parent.mkdir(exist_ok=True)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "'crs' was not provided", UserWarning)
            write_frame(frame, path, layer=layer)
        return layer, path, expected

    return make


@pytest.fixture
def tmp_store(tmp_path: Path) -> GeoPackageStore:
    """An empty GeoPackage store at ``tmp_path/store/test.gpkg`` (the file does not exist yet)."""
    return GeoPackageStore(tmp_path / "store" / "test.gpkg")


@pytest.fixture(scope="session")
def filled_store_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeoPackage holding every layer of the little county, written once per session.

    Never write to it: use :func:`filled_store`, which works on a copy.
    """
    store = GeoPackageStore(tmp_path_factory.mktemp("template") / "filled.gpkg")
    store.write(
        {name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()},
        meta={"county": "测试县", "built": str(date(2024, 1, 1))},
    )
    return store.path


@pytest.fixture
def filled_store(tmp_store: GeoPackageStore, filled_store_file: Path) -> GeoPackageStore:
    """The temporary store holding every layer of the little county (a private copy)."""
    tmp_store.path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(filled_store_file, tmp_store.path)
    return tmp_store


@pytest.fixture
def run_gisgrid(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_gisgrid(*args, store=None)``: the real command as ``python -m gisgrid``.

    Runs in ``tmp_path`` with ``GISGRID_STORE`` set to ``store`` when given (else unset), a
    wide terminal so messages are not wrapped, and returns the completed process (text).
    """

    def run(*args: str | os.PathLike[str], store: Path | None = None) -> Any:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GISGRID_")}
        env.update({"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"})
        if store is not None:
            env["GISGRID_STORE"] = str(store)
        return subprocess.run(
            [sys.executable, "-m", "gisgrid", *map(str, args)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    return run


# --- CI: a skipped test is a failure -----------------------------------------------------------


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


_CI_REASONS = pytest.StashKey[list[str]]()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ``CI=true``, a skipped test, or a run where no test passed, fails the run.

    Under pytest-xdist the controller judges: every worker's reports reach its terminal
    reporter, while a worker sees only its own share (and has no reporter)."""
    if not _ci() or hasattr(session.config, "workerinput"):
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    stats: dict[str, list[Any]] = getattr(reporter, "stats", {})
    reasons: list[str] = []
    for report in stats.get("skipped", []):
        longrepr = report.longrepr
        why = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reasons.append(f"SKIPPED {report.nodeid}: {why}")
    if not stats.get("passed"):
        reasons.append("no test passed")
    if reasons:
        session.config.stash[_CI_REASONS] = reasons
        if session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say why CI failed a run that pytest alone would have passed."""
    reasons = config.stash.get(_CI_REASONS, [])
    if reasons:
        terminalreporter.write_sep("=", "CI=true: skips are failures", red=True)
        for line in reasons:
            terminalreporter.write_line(line)


# --- the generated sample county ------------------------------------------------------------

#: households in the test county: enough that every level-3 grid links its own (6 x 2,860)
SAMPLE_HOUSEHOLDS = 30_000


@pytest.fixture(scope="session")
def sample_county(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The Huarong sample county (seed 2023, 30,000 households), generated once per run.

    Under pytest-xdist the first worker to ask builds it and leaves a pickle in the run's
    shared temporary folder; the others (waiting on a lock) load that instead of building
    it again: the suite is bound by the processor.
    """
    from gisgrid.sample import build_sample_county

    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # the run's folder, above each worker's own
    kept = shared / f"sample-county-{SAMPLE_HOUSEHOLDS}.pickle"
    with open(shared / "sample-county.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if kept.exists():
            return pickle.loads(kept.read_bytes())
        county = build_sample_county(seed=2023, households=SAMPLE_HOUSEHOLDS)
        kept.write_bytes(pickle.dumps(county))
        return county


@pytest.fixture(scope="session")
def sample_gpkg(sample_county: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The test sample county in a GeoPackage store, written once per session: read it only."""
    from gisgrid.sample import write_sample_county
    from gisgrid.stores.geopackage import GeoPackageStore

    store = GeoPackageStore(tmp_path_factory.mktemp("sample_gpkg") / "county.gpkg")
    write_sample_county(store, sample_county)
    return store


@pytest.fixture(scope="session")
def sample_report(sample_gpkg: Any) -> Any:
    """The check report of :func:`sample_gpkg`, computed once per session."""
    from gisgrid.analysis.checks import check_store

    return check_store(sample_gpkg)


#: the small two-county sample: Huarong and its neighbour 君山区, few households (5,619 and
#: 2,381: each county's least), so several counties share one store cheaply
TWO_COUNTIES = ("430611", "430623")
TWO_COUNTY_HOUSEHOLDS = 8_000


@pytest.fixture(scope="session")
def two_county_sample() -> Any:
    """Two counties of the sample prefecture in one set of layers, generated once per session."""
    from gisgrid.sample.prefecture import build_sample_prefecture

    return build_sample_prefecture(
        seed=2023, households=TWO_COUNTY_HOUSEHOLDS, counties=list(TWO_COUNTIES)
    )


@pytest.fixture(scope="session")
def two_county_gpkg(two_county_sample: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """:func:`two_county_sample` in a GeoPackage store, assigned, written once: read it only."""
    from gisgrid.analysis.assign import assign_store
    from gisgrid.sample import write_sample_county
    from gisgrid.stores.geopackage import GeoPackageStore

    store = GeoPackageStore(tmp_path_factory.mktemp("two_counties") / "prefecture.gpkg")
    write_sample_county(store, two_county_sample)
    assign_store(store)
    return store


# --- PostGIS ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[Any]:
    """A real PostGIS server for the session (see ``tests/postgis_server.py``).

    ``GISGRID_TEST_DATABASE_URL`` when set, else a throwaway cluster started here and removed
    afterwards. Without either the PostGIS tests are skipped, which fails a run with CI=true.
    """
    from postgis_server import PostGISServer, ServerUnavailable

    try:
        server = PostGISServer.from_environment()
    except ServerUnavailable as exc:
        pytest.skip(f"no PostGIS server: {exc}")
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server: Any) -> Iterator[str]:
    """URL of a fresh database of its own with PostGIS, not initialised; dropped afterwards."""
    url = pg_server.fresh_database()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(scope="module")
def sample_gpkg_copy(sample_gpkg: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A copy of the sample county's GeoPackage for the test module's own (it may write)."""
    path = tmp_path_factory.mktemp("sample_copy") / "county.gpkg"
    shutil.copy(sample_gpkg.path, path)
    return str(path)


@pytest.fixture
def sample_pg_url(pg_server: Any, sample_county: Any) -> Iterator[str]:
    """URL of a fresh PostGIS database holding the sample county; dropped afterwards."""
    from gisgrid.sample import write_sample_county
    from gisgrid.stores.postgis import PostGISStore

    url = pg_server.fresh_database()
    store = PostGISStore(url)
    store.init()
    write_sample_county(store, sample_county)
    store.close()
    yield url
    pg_server.drop_database(url)


@pytest.fixture(params=["gpkg", "postgis"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """An empty store of each kind: a GeoPackage in ``tmp_path``, then a PostGIS database of
    its own (:func:`pg_store`)."""
    if request.param == "gpkg":
        return GeoPackageStore(tmp_path / "county.gpkg")
    return request.getfixturevalue("pg_store")


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Any]:
    """An empty, initialised :class:`~gisgrid.stores.postgis.PostGISStore` of its own."""
    from gisgrid.stores.postgis import PostGISStore

    store = PostGISStore(pg_url)
    store.init()
    yield store
    store.close()
