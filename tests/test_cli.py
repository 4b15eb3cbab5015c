"""The real ``gisgrid`` command, run as a subprocess: help, import, export, layers, bad input."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import assert_same, sha256

from gisgrid import crs as crsmod
from gisgrid.cli import app
from gisgrid.errors import (
    ConfigError,
    InputFileError,
    StoreError,
    UnknownLayerError,
    ValidationError,
)
from gisgrid.layers import LAYERS
from gisgrid.layers.docs import exchange_format_markdown
from gisgrid.stores.geopackage import GeoPackageStore

Run = Callable[..., subprocess.CompletedProcess[str]]
Frames = Callable[[str], Any]  # DataFrame, GeoDataFrame for spatial layers
WriteInput = Callable[..., Path]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def refused(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    """stderr of a run that failed cleanly: the error's exit code, a message, no traceback."""
    assert result.returncode == exit_code, f"{result.returncode}\n{result.stdout}{result.stderr}"
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return " ".join(result.stderr.split())  # undo any line wrapping


# --- help --------------------------------------------------------------------------------------


COMMANDS = sorted(c.name or "" for c in app.registered_commands)


def test_every_issue_command_exists() -> None:
    assert {"demo", "import", "export", "layers"} <= set(COMMANDS)


def test_help(run_gisgrid: Run) -> None:
    text = ok(run_gisgrid("--help"))
    for command in COMMANDS:
        assert command in text


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_every_command(command: str, run_gisgrid: Run) -> None:
    text = ok(run_gisgrid(command, "--help"))
    assert "Usage:" in text and command in text


# --- import and export -------------------------------------------------------------------------


def test_import_with_store_from_the_environment(
    run_gisgrid: Run, write_input: WriteInput, tmp_path: Path, canonical: Frames
) -> None:
    store = tmp_path / "env.gpkg"
    # the little county draws level-2 grids in its first village only: to the boundary
    # checks the other villages are gaps (refusals are tests/test_import_checks.py's)
    text = ok(run_gisgrid("import", "grids", write_input("grids"), "--allow-findings", store=store))
    assert f"imported {len(canonical('grids'))} grids" in text
    assert_same(canonical("grids"), GeoPackageStore(store).read("grids"))


def test_store_option_beats_the_environment(
    run_gisgrid: Run, write_input: WriteInput, tmp_path: Path, canonical: Frames
) -> None:
    option, env = tmp_path / "option.gpkg", tmp_path / "env.gpkg"
    path = write_input("households", ".gpkg")
    ok(run_gisgrid("import", "households", path, "--store", option, store=env))
    assert not env.exists()
    assert_same(canonical("households"), GeoPackageStore(option).read("households"))


def test_default_store_is_in_the_working_directory(
    run_gisgrid: Run, write_input: WriteInput, tmp_path: Path
) -> None:
    ok(run_gisgrid("import", "townships", write_input("townships")))
    assert GeoPackageStore(tmp_path / "gisgrid.gpkg").count("townships") == 3


@pytest.mark.parametrize(
    ("name", "suffix"),
    [("grids", ".geojson"), ("grids", ".gpkg"), ("incidents", ".geojson")],
)
def test_export_and_reimport(
    name: str,
    suffix: str,
    run_gisgrid: Run,
    filled_store: GeoPackageStore,
    tmp_path: Path,
    canonical: Frames,
) -> None:
    out = tmp_path / f"out{suffix}"
    text = ok(run_gisgrid("export", name, out, "--store", filled_store.path))
    assert f"exported {len(canonical(name))} {name}" in text
    fresh = tmp_path / "fresh.gpkg"
    # the little county draws level-2 grids in its first village only: to the boundary
    # checks the other villages are gaps (refusals are tests/test_import_checks.py's)
    ok(run_gisgrid("import", name, out, "--store", fresh, "--allow-findings"))
    assert_same(canonical(name), GeoPackageStore(fresh).read(name))


def test_exported_geojson_dates(
    run_gisgrid: Run, filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    out = tmp_path / "grids.geojson"
    ok(run_gisgrid("export", "grids", out, store=filled_store.path))
    doc = json.loads(out.read_text(encoding="utf-8"))
    dates = {f["properties"]["code"]: f["properties"]["valid_from"] for f in doc["features"]}
    assert dates["430623901001"] == "2023-01-01"
    assert dates["430623901001001001"] == "2024-03-01"


def test_crs_option_converts_gcj02(
    run_gisgrid: Run, write_input: WriteInput, input_frames: Frames, tmp_path: Path
) -> None:
    frame = input_frames("service_points")
    wgs = shapely.get_coordinates(frame.geometry)
    gcj_lon, gcj_lat = crsmod.wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    frame.geometry = gpd.GeoSeries(shapely.points(gcj_lon, gcj_lat), crs="EPSG:4326")
    store = tmp_path / "s.gpkg"
    path = write_input("service_points", frame=frame)
    ok(run_gisgrid("import", "service_points", path, "--crs", "gcj02", store=store))
    got = shapely.get_coordinates(GeoPackageStore(store).read("service_points").geometry)
    expected = np.column_stack(crsmod.gcj02_to_wgs84(gcj_lon, gcj_lat))
    assert np.allclose(got, expected, rtol=0, atol=1e-9)


def test_cgcs2000_is_noted(
    run_gisgrid: Run, write_input: WriteInput, input_frames: Frames, tmp_path: Path
) -> None:
    frame = input_frames("townships").set_crs("EPSG:4490", allow_override=True)
    path = write_input("townships", ".gpkg", frame=frame)
    text = ok(run_gisgrid("import", "townships", path, store=tmp_path / "s.gpkg"))
    assert "CGCS2000" in text


def test_append_with_a_key_in_the_store_is_refused(
    run_gisgrid: Run, filled_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames
) -> None:
    frame = input_frames("villages").iloc[[3]].reset_index(drop=True)
    before = sha256(filled_store.path)
    result = run_gisgrid(
        "import", "villages", write_input("villages", frame=frame), store=filled_store.path
    )
    message = refused(result, ValidationError.exit_code)
    assert "feature #1 (430623903001) field 'code': already in the store" in message
    assert sha256(filled_store.path) == before


def test_replace(
    run_gisgrid: Run, filled_store: GeoPackageStore, write_input: WriteInput, input_frames: Frames
) -> None:
    frame = input_frames("villages").iloc[[3]].reset_index(drop=True)
    path = write_input("villages", frame=frame)
    text = ok(run_gisgrid("import", "villages", path, "--mode", "replace", store=filled_store.path))
    assert "replace" in text
    assert filled_store.read("villages")["code"].tolist() == ["430623903001"]


def test_bad_mode_is_refused(
    run_gisgrid: Run, filled_store: GeoPackageStore, write_input: WriteInput
) -> None:
    before = sha256(filled_store.path)
    result = run_gisgrid(
        "import", "villages", write_input("villages"), "--mode", "merge", store=filled_store.path
    )
    assert result.returncode != 0 and "merge" in result.stderr
    assert sha256(filled_store.path) == before


# --- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        "missing_column",
        "bad_code",
        "no_crs",
        "invalid_geometry",
        "wrong_geometry_type",
        "outside_china",
        "swapped",
    ],
)
def test_bad_file(
    case: str, run_gisgrid: Run, filled_store: GeoPackageStore, bad_input: Callable[[str], Any]
) -> None:
    layer, path, (index, key, field, words) = bad_input(case)
    before = sha256(filled_store.path)
    result = run_gisgrid("import", layer, path, "--mode", "replace", store=filled_store.path)
    message = refused(result, ValidationError.exit_code)
    if index is None:
        assert f"field '{field}'" in message
    else:
        assert f"feature #{index + 1} ({key}) field '{field}'" in message
    assert words in message
    assert "nothing was written" in message
    assert sha256(filled_store.path) == before


def test_unknown_layer(run_gisgrid: Run, filled_store: GeoPackageStore, write_input: WriteInput):
    before = sha256(filled_store.path)
    result = run_gisgrid("import", "farms", write_input("townships"), store=filled_store.path)
    message = refused(result, UnknownLayerError.exit_code)
    assert "unknown layer 'farms'" in message and "townships" in message
    assert sha256(filled_store.path) == before


@pytest.mark.parametrize(
    ("name", "content", "words"),
    [
        ("garbage.geojson", bytes(range(256)) * 8, "not a readable"),
        ("townships.txt", "code,name\n430623901,一镇\n".encode(), "unknown file type"),
        ("missing.geojson", None, "no such file"),
        ("empty.geojson", b'{"type": "FeatureCollection", "features": []}', "no features"),
    ],
)
def test_unreadable_file(
    name: str,
    content: bytes | None,
    words: str,
    run_gisgrid: Run,
    filled_store: GeoPackageStore,
    tmp_path: Path,
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    before = sha256(filled_store.path)
    result = run_gisgrid("import", "townships", path, store=filled_store.path)
    message = refused(result, InputFileError.exit_code)
    assert name in message and words in message
    assert sha256(filled_store.path) == before


def test_bad_file_into_a_new_store_creates_nothing(
    run_gisgrid: Run, bad_input: Callable[[str], Any], tmp_path: Path
) -> None:
    layer, path, _ = bad_input("bad_code")
    store = tmp_path / "new" / "store.gpkg"
    refused(run_gisgrid("import", layer, path, store=store), ValidationError.exit_code)
    assert not store.exists()


def test_export_to_an_unknown_file_type(
    run_gisgrid: Run, filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    result = run_gisgrid("export", "grids", tmp_path / "grids.dwg", store=filled_store.path)
    assert "unknown file type" in refused(result, ConfigError.exit_code)
    assert list(tmp_path.glob("grids*")) == []


def test_store_that_is_not_a_geopackage(run_gisgrid: Run, write_input: WriteInput) -> None:
    result = run_gisgrid("import", "townships", write_input("townships"), "--store", "x.sqlite")
    assert ".gpkg" in refused(result, 2)


def test_init_on_a_geopackage_checks_the_file(
    run_gisgrid: Run, filled_store: GeoPackageStore, tmp_path: Path
) -> None:
    before = sha256(filled_store.path)
    assert "needs no set-up" in ok(run_gisgrid("init", store=filled_store.path))
    assert sha256(filled_store.path) == before
    broken = tmp_path / "broken.gpkg"
    broken.write_bytes(b"\x00garbage" * 100)
    assert "broken.gpkg" in refused(run_gisgrid("init", store=broken), StoreError.exit_code)


# --- layers ------------------------------------------------------------------------------------


def test_layers_lists_every_layer_with_counts(
    run_gisgrid: Run, filled_store: GeoPackageStore
) -> None:
    result = run_gisgrid("layers", store=filled_store.path)
    text = ok(result)
    for name, decl in LAYERS.items():
        assert name in text and decl.label_zh in text
    row = next(line for line in text.splitlines() if " grids " in line)
    assert f" {filled_store.count('grids')} " in row


def test_layers_markdown_prints_the_exchange_format(run_gisgrid: Run) -> None:
    assert ok(run_gisgrid("layers", "--markdown")) == exchange_format_markdown()
