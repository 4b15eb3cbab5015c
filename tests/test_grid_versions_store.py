"""The grid_versions layer in both stores: written, read, exported and imported like any layer,
and never losing a stored version (a ``replace`` keeps them; PostGIS refuses UPDATE, DELETE and
TRUNCATE of the table whoever sends them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from conftest import V1, assert_same, raw_frame

from gisgrid.exchange import export_layer, import_file
from gisgrid.layers import LAYERS
from gisgrid.stores import Store
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.postgis import PostGISStore

VERSIONS = LAYERS["grid_versions"]


@pytest.fixture(params=["gpkg", "postgis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store of each kind holding the little county (its history: one version)."""
    if request.param == "gpkg":
        made: Store = GeoPackageStore(tmp_path / "county.gpkg")
    else:
        made = request.getfixturevalue("pg_store")
    made.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    yield made


def _later_version() -> pd.DataFrame:
    """The second version of the first level-3 grid, superseded by change set 3."""
    frame = VERSIONS.validate(raw_frame("grid_versions"))
    frame.loc[0, "version"] = 2
    frame.loc[0, "valid_from"] = pd.Timestamp("2024-03-01")
    frame.loc[0, "valid_to"] = pd.Timestamp("2025-01-01")
    frame.loc[0, "superseded_at"] = pd.Timestamp("2025-01-01 10:00:00")
    frame.loc[0, "superseded_by"] = 3
    return frame


def test_the_history_reads_as_written(store: Store) -> None:
    assert "grid_versions" in store.layer_names()
    assert_same(VERSIONS.validate(raw_frame("grid_versions")), store.read("grid_versions"))
    assert store.count("grid_versions", where={"code": V1 + "001001"}) == 1


def test_a_replace_keeps_every_stored_version(store: Store) -> None:
    first = VERSIONS.validate(raw_frame("grid_versions"))
    later = _later_version()
    changed = first.copy()
    changed.loc[0, "name"] = "改写的历史"  # a stored version cannot be rewritten
    store.write({"grid_versions": pd.concat([changed, later], ignore_index=True)})
    got = store.read("grid_versions")
    assert_same(pd.concat([first, later], ignore_index=True), got)
    store.write({"grid_versions": VERSIONS.empty()})  # nor removed
    assert_same(got, store.read("grid_versions"))


def test_an_append_of_a_stored_version_is_refused(store: Store) -> None:
    from gisgrid.errors import StoreConstraintError

    with pytest.raises(StoreConstraintError):
        store.write({"grid_versions": VERSIONS.validate(raw_frame("grid_versions"))}, mode="append")
    store.write({"grid_versions": _later_version()}, mode="append")
    assert store.count("grid_versions") == 2


def test_export_and_import_carry_the_history(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "out" / "grid_versions.geojson"
    assert export_layer(store, "grid_versions", path) == 1
    fresh = GeoPackageStore(tmp_path / "fresh.gpkg")
    fresh.write({name: store.read(name) for name in ("townships", "villages", "grids")})
    result = import_file(fresh, "grid_versions", path, mode="replace")
    assert result.features == 1
    assert_same(store.read("grid_versions"), fresh.read("grid_versions"))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE gisgrid.grid_versions SET name = 'x'",
        "DELETE FROM gisgrid.grid_versions",
        "DELETE FROM gisgrid.grid_versions WHERE false",
        "TRUNCATE gisgrid.grid_versions",
    ],
)
def test_postgis_refuses_to_change_the_history(pg_store: PostGISStore, statement: str) -> None:
    pg_store.write({name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()})
    conninfo: Any = pg_store._conninfo
    with (
        psycopg.connect(conninfo) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
    ):
        conn.execute(statement.encode())
    assert pg_store.count("grid_versions") == 1
