"""``pip install .`` (not editable) into a fresh venv, then ``gisgrid demo`` from an empty folder.

Proves the wheel carries everything the library reads at run time (package data such as the
real county outline, SQL, templates, map scripts) and that nothing reads the repository.

No network: the wheel is built with the running (development) interpreter's setuptools and
wheel (the dev extras) without build isolation, the new venv gets its dependencies from the
development venv's site-packages by a ``.pth`` file, and gisgrid itself only from the wheel.
A ``.pth`` file in a folder that a ``.pth`` file added is not processed, so the development
venv's editable gisgrid stays out of reach; the test checks that the gisgrid it ran is the
new venv's.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: the smallest county the sample builds (gisgrid.sample.MIN_HOUSEHOLDS): a fast demo
HOUSEHOLDS = 5_000

pytestmark = pytest.mark.slow


def _clean_env() -> dict[str, str]:
    """This process's environment without what would point a child at the repository."""
    return {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
        and not k.startswith("GISGRID_")
    }


def _run(
    cmd: list[str | Path], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=_clean_env() if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {done.returncode}\n"
        f"--- stdout\n{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}"
    )
    return done


def _source_copy(dest: Path) -> Path:
    """The files a wheel is built from, copied so the build leaves the work tree alone."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    shutil.copytree(
        REPO / "gisgrid",
        dest / "gisgrid",
        # generated beside the sources, never part of a release
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_assets", "*.egg-info"),
    )
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """gisgrid's wheel, built offline by the running interpreter."""
    try:
        setuptools_major = int(importlib.metadata.version("setuptools").split(".")[0])
        importlib.metadata.version("wheel")
    except importlib.metadata.PackageNotFoundError:
        setuptools_major = 0
    if setuptools_major < 77:  # pyproject.toml's [build-system] requires
        pytest.skip("building offline needs setuptools>=77 and wheel: pip install -e '.[dev]'")
    tmp = tmp_path_factory.mktemp("wheel")
    source = _source_copy(tmp / "source")
    out = tmp / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            out,
            source,
        ],
        cwd=tmp,
        timeout=300,
        # the build tools are the running interpreter's, wherever its path finds them
        env=dict(os.environ),
    )
    (found,) = out.glob("gisgrid-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A fresh venv with the wheel installed; dependencies from the development venv."""
    prefix = tmp_path_factory.mktemp("venv") / "venv"
    venv.EnvBuilder(with_pip=True, symlinks=True).create(prefix)
    python = prefix / "bin" / "python"
    purelib = _run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=prefix,
        timeout=60,
    ).stdout.strip()
    dev = sysconfig.get_paths()  # the running interpreter's, i.e. the development venv's
    dev_dirs = dict.fromkeys([dev["purelib"], dev["platlib"]])
    (Path(purelib) / "gisgrid-test-dependencies.pth").write_text(
        "".join(f"{d}\n" for d in dev_dirs), encoding="utf-8"
    )
    _run(
        [prefix / "bin" / "pip", "install", "--no-deps", "--no-index", wheel],
        cwd=prefix,
        timeout=300,
    )
    return prefix


def test_the_wheel_ships_the_package_data(wheel: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in (
        "gisgrid/data/huarong_outline.geojson",
        "gisgrid/data/huarong_divisions.csv",
        "gisgrid/stores/postgis/sql/queries.sql",
        "gisgrid/api/templates/dashboard.html",
        "gisgrid/cartography/static/gisgrid-map.js",
    ):
        assert needed in names, f"{needed} is not in {wheel.name}"
    assert not [n for n in names if n.startswith(("data/", "tests/", "gisgrid/_assets/"))]


def test_gisgrid_comes_from_the_new_venv(installed: Path, tmp_path: Path) -> None:
    done = _run(
        [
            installed / "bin" / "python",
            "-c",
            "import json, sys, gisgrid, gisgrid.data as d; "
            "print(json.dumps([gisgrid.__file__, str(d.resource(d.OUTLINE)), sys.prefix]))",
        ],
        cwd=tmp_path,
        timeout=120,
    )
    package, outline, prefix = json.loads(done.stdout)
    assert Path(prefix).resolve() == installed.resolve()
    assert Path(package).resolve().is_relative_to(installed.resolve()), package
    assert Path(outline).resolve().is_relative_to(installed.resolve()), outline
    assert not Path(package).resolve().is_relative_to(REPO), package


def test_demo_runs_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    here = tmp_path / "empty"
    here.mkdir()
    done = _run(
        [installed / "bin" / "gisgrid", "demo", "--households", str(HOUSEHOLDS)],
        cwd=here,
        timeout=900,
    )
    assert "sample county written to" in done.stdout

    store = here / "gisgrid.gpkg"
    assert store.is_file()
    with sqlite3.connect(store) as db:
        layers = {row[0] for row in db.execute("SELECT table_name FROM gpkg_contents")}
        assert {"townships", "villages", "grids", "households", "incidents"} <= layers
        assert db.execute("SELECT count(*) FROM households").fetchone()[0] == HOUSEHOLDS
        assert db.execute("SELECT count(*) FROM townships").fetchone()[0] == 14
    manifest = json.loads((here / "gisgrid.manifest.json").read_text(encoding="utf-8"))
    assert manifest["households"] == HOUSEHOLDS
    assert manifest["county"]["code"] == "430623"

    maps = here / "maps"
    report = json.loads((maps / "check-report.json").read_text(encoding="utf-8"))
    assert report
    for kind in ("coverage", "incidents", "finder"):
        page = maps / f"{kind}.html"
        assert page.stat().st_size > 10_000, page
        assert "gisgrid-assets/" in page.read_text(encoding="utf-8")
    assert (maps / "gisgrid-assets").is_dir()
    # the demo accounts' passwords, for the user only, one line per role
    accounts = here / "gisgrid.demo-accounts.txt"
    assert stat.S_IMODE(accounts.stat().st_mode) == 0o600
    lines = accounts.read_text(encoding="utf-8").splitlines()
    assert len([line for line in lines if not line.startswith("#")]) == 7
    assert "demo accounts (one per role)" in done.stdout
    # nothing but the store, its manifest, its ledger, the accounts and the maps: the demo
    # writes nowhere else here
    assert {p.name for p in here.iterdir()} <= {
        "gisgrid.gpkg",
        "gisgrid.manifest.json",
        "gisgrid.demo-accounts.txt",
        "gisgrid.access.sqlite",
        "gisgrid.access.sqlite-wal",
        "gisgrid.access.sqlite-shm",
        "maps",
        # the store's writer lock (GeoPackageStore) and SQLite's side files
        ".gisgrid.gpkg.lock",
        "gisgrid.gpkg-wal",
        "gisgrid.gpkg-shm",
    }
