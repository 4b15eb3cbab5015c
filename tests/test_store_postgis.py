"""The PostGIS store against a real PostgreSQL + PostGIS server (see tests/postgis_server.py).

Round trips, queries (the same answers as the GeoPackage store), all-or-nothing writes,
the constraints the database enforces, migrations (init, upgrade with data in it),
privileges, assignment inside the database (equal to the reference, household by household),
and the real ``gisgrid`` command against PostGIS.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from conftest import BOWTIE, LEVEL3_BOXES, V1, assert_same, raw_frame
from postgis_server import PostGISServer
from psycopg import sql
from psycopg.types.json import Jsonb
from shapely.geometry import MultiPolygon, Polygon, box
from test_store_geopackage import households_geojson

from gisgrid.analysis.assign import assign_points_exact, assign_store
from gisgrid.errors import (
    ConfigError,
    NotFoundError,
    StoreConstraintError,
    StoreError,
    ValidationError,
)
from gisgrid.exchange import import_file
from gisgrid.layers import ASSIGNED_LAYERS, LAYERS
from gisgrid.layers.grids import VERSION_FIELDS
from gisgrid.settings import PostGISSettings
from gisgrid.stores import open_store
from gisgrid.stores.base import LayerPoints
from gisgrid.stores.geopackage import GeoPackageStore
from gisgrid.stores.postgis import (
    COPY_TYPES,
    SCHEMA,
    PostGISStore,
    codecs,
    ident,
    latest_version,
    migrations,
    queries,
    redact,
    schema,
)

Run = Callable[..., subprocess.CompletedProcess[str]]


def canonical_frames() -> dict[str, pd.DataFrame]:
    return {name: decl.validate(raw_frame(name)) for name, decl in LAYERS.items()}


def table_digest(url: str) -> dict[str, str]:
    """Every gisgrid table's full content (rows in fid order) as one md5 each."""
    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", (SCHEMA,)
            )
        ]
        with_fid = {
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = %s AND column_name = 'fid'",
                (SCHEMA,),
            )
        }
        digest = {}
        for name in names:
            order = sql.SQL("ORDER BY t.fid") if name in with_fid else sql.SQL("")
            statement = sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' {}), '')) FROM {} t"
            ).format(order, ident(SCHEMA, name))
            row = conn.execute(statement).fetchone()
            assert row is not None
            digest[name] = f"{row[0]}:{row[1]}"
    return digest


# --- fixtures ------------------------------------------------------------------------------------


def _template(pg_server: PostGISServer, frames: Any, **write: Any) -> str:
    """A new initialised database holding ``frames``, to copy from (never to write to)."""
    url = pg_server.fresh_database()
    store = PostGISStore(url)
    store.init()
    store.write(frames, **write)
    store.close()
    return pg_server.name_of(url)


def _copy_of(pg_server: PostGISServer, template: str, *, drop: bool) -> Iterator[PostGISStore]:
    """A store on a new database copied from ``template``; closed (and dropped) afterwards."""
    url = pg_server.create_database(template=template)
    store = PostGISStore(url)
    yield store
    store.close()
    if drop:
        pg_server.drop_database(url)


@pytest.fixture(scope="module")
def filled_template(pg_server: PostGISServer) -> str:
    """A database holding every layer of the little county and metadata: copy, never write."""
    meta = {"county": "测试县", "built": "2024-01-01"}
    return _template(pg_server, canonical_frames(), meta=meta)


@pytest.fixture
def filled(pg_server: PostGISServer, filled_template: str) -> Iterator[PostGISStore]:
    """A private copy of the little county in PostGIS."""
    yield from _copy_of(pg_server, filled_template, drop=True)


@pytest.fixture(scope="module")
def readonly(pg_server: PostGISServer, filled_template: str) -> Iterator[PostGISStore]:
    """The little county in PostGIS, shared by the tests that only read."""
    yield from _copy_of(pg_server, filled_template, drop=False)


@pytest.fixture(scope="module")
def gpkg_filled(tmp_path_factory: pytest.TempPathFactory) -> GeoPackageStore:
    """The little county in a GeoPackage, to compare answers with."""
    store = GeoPackageStore(tmp_path_factory.mktemp("compare") / "county.gpkg")
    store.write(canonical_frames(), meta={"county": "测试县"})
    return store


# --- round trips and queries ---------------------------------------------------------------------


@pytest.mark.parametrize("layer", list(LAYERS))
def test_every_layer_reads_back_as_written(readonly: PostGISStore, layer: str) -> None:
    assert_same(LAYERS[layer].validate(raw_frame(layer)), readonly.read(layer))


def test_layer_names_counts_and_meta(readonly: PostGISStore) -> None:
    assert readonly.layer_names() == list(LAYERS)
    for name in LAYERS:
        assert readonly.count(name) == len(raw_frame(name))
    assert readonly.get_meta("county") == "测试县"
    assert readonly.get_meta("built") == "2024-01-01"
    assert readonly.get_meta("absent") is None
    assert readonly.schema_version() == latest_version()


QUERIES: list[tuple[str, dict[str, Any]]] = [
    ("households", {"bbox": (112.42, 29.64, 112.44, 29.66)}),
    ("households", {"bbox": (112.43, 29.65, 112.43, 29.65)}),  # a box that is one point
    ("villages", {"bbox": (112.50, 29.45, 112.60, 29.52)}),  # polygons it crosses
    ("villages", {"bbox": (112.55, 29.70, 112.60, 29.80)}),  # touches an edge only
    ("townships", {"bbox": (100.0, 20.0, 100.1, 20.1)}),  # nothing there
    ("grids", {"where": {"level": 3}}),
    ("grids", {"where": {"level": [1, 2]}, "columns": ["code", "level"]}),
    ("grids", {"where": {"parent_code": None}}),
    ("grids", {"where": {"responsible_name": None, "level": 2}}),
    ("households", {"where": {"backbone": True}, "columns": ["id"]}),
    ("households", {"where": {"id": ["H001", "H009", "nope"]}}),
    ("households", {"where": {"id": []}}),
    ("households", {"where": {"credit_rating": "AAA"}, "bbox": (112.40, 29.60, 112.45, 29.70)}),
    ("incidents", {"where": {"status": ("closed", "handling")}}),
    ("villages", {"where": {"credit_village": False}}),
    ("pairings", {"where": {"village_code": V1}}),
    ("leader_townships", {"bbox": (0, 0, 1, 1)}),  # no geometry: the box does not apply
    ("county_leaders", {"columns": ["name"]}),
    ("volunteer_activities", {"where": {"participants": 12}}),
]


@pytest.mark.parametrize(("layer", "kwargs"), QUERIES)
def test_queries_answer_as_the_geopackage_store_does(
    readonly: PostGISStore, gpkg_filled: GeoPackageStore, layer: str, kwargs: dict[str, Any]
) -> None:
    expected = gpkg_filled.read(layer, **kwargs)
    got = readonly.read(layer, **kwargs)
    assert_same(expected, got)
    if "where" in kwargs and "bbox" not in kwargs:
        assert readonly.count(layer, where=kwargs["where"]) == len(expected)


def test_queries_find_what_they_should(readonly: PostGISStore) -> None:
    """Not only equal to the GeoPackage store: the expected features, by key."""
    near = readonly.read("households", bbox=(112.42, 29.64, 112.44, 29.66))
    assert sorted(near["id"]) == ["H001", "H002", "H003", "H004", "H005", "H006"]
    crossed = readonly.read("villages", bbox=(112.50, 29.45, 112.60, 29.52))
    assert sorted(crossed["code"]) == ["430623901001", "430623901002", "430623902001"]
    assert list(readonly.read("grids", where={"level": 3})["code"]) == list(LEVEL3_BOXES)
    assert list(readonly.read("first_secretaries", where={"start_on": "2023-05-01"})["id"]) == [
        "FS01"
    ]
    assert readonly.count("incidents", where={"reported_at": "2024-05-12 14:05:00"}) == 1


def test_a_value_with_quotes_is_only_a_value(filled: PostGISStore) -> None:
    leaders = LAYERS["county_leaders"].validate(
        pd.DataFrame(
            {
                "id": ["L03", "L04"],
                "name": ["O'Brien", "x' OR '1'='1"],
                "post": ['"; DROP TABLE gisgrid.townships; --', "顾问"],
            }
        )
    )
    filled.write({"county_leaders": leaders}, mode="append")
    assert list(filled.read("county_leaders", where={"name": "O'Brien"})["id"]) == ["L03"]
    assert list(filled.read("county_leaders", where={"name": "x' OR '1'='1"})["id"]) == ["L04"]
    assert len(filled.read("county_leaders", where={"name": "' OR '1'='1"})) == 0
    assert filled.count("county_leaders", where={"name": ["O'Brien", "nobody"]}) == 1
    post = filled.read("county_leaders", where={"id": "L03"})["post"].iloc[0]
    assert post == '"; DROP TABLE gisgrid.townships; --'
    assert filled.count("townships") == 3


def test_only_declared_columns_can_be_named(readonly: PostGISStore) -> None:
    with pytest.raises(KeyError):
        readonly.read("households", where={"id = id OR 1": 1})
    with pytest.raises(KeyError):
        readonly.count("households", where={"fid": 1})
    assert ident('we"ird').as_string() == '"we""ird"'


def test_an_uninitialised_database_reads_as_empty(pg_url: str) -> None:
    store = PostGISStore(pg_url)
    try:
        assert store.schema_version() is None
        assert store.layer_names() == []
        assert_same(LAYERS["grids"].empty(), store.read("grids"))
        assert store.count("households") == 0
        assert store.get_meta("county") is None
        with pytest.raises(StoreError, match="gisgrid init"):
            store.write({"townships": LAYERS["townships"].validate(raw_frame("townships"))})
    finally:
        store.close()


def test_an_initialised_store_is_empty(pg_store: PostGISStore) -> None:
    assert pg_store.layer_names() == list(LAYERS)
    for name, decl in LAYERS.items():
        assert_same(decl.empty(), pg_store.read(name))
        assert pg_store.count(name) == 0


def test_replace_and_append(filled: PostGISStore) -> None:
    townships = LAYERS["townships"].validate(raw_frame("townships"))
    households = LAYERS["households"].validate(raw_frame("households"))
    more = households.copy()
    more["id"] = [f"X{i}" for i in range(len(more))]
    more["backbone_id"] = [None if v is None else "X0" for v in more["backbone_id"]]
    more = LAYERS["households"].conform(more)
    filled.write({"households": more}, mode="append")
    both = filled.read("households")
    assert_same(pd.concat([households, more], ignore_index=True), both)
    filled.write({"households": more}, mode="replace")
    assert_same(more, filled.read("households"))
    # a layer replaced by nothing (one nothing refers to)
    filled.write({"pairings": LAYERS["pairings"].empty()}, mode="replace")
    assert filled.count("pairings") == 0
    # incidents whose cases have steps cannot go: their history refers to them
    with pytest.raises(StoreConstraintError, match="case_steps"):
        filled.write({"incidents": LAYERS["incidents"].empty()}, mode="replace")
    assert filled.count("incidents") == len(raw_frame("incidents"))
    assert_same(townships, filled.read("townships"))
    with pytest.raises(StoreError, match="unknown write mode"):
        filled.write({"townships": townships}, mode="merge")  # type: ignore[arg-type]


def test_the_whole_sample_county_round_trips(sample_county: Any, pg_store: PostGISStore) -> None:
    from gisgrid.sample import write_sample_county

    assert write_sample_county(pg_store, sample_county) is None
    for name, frame in sample_county.frames.items():
        assert_same(frame, pg_store.read(name))
    assert pg_store.get_meta("sample_manifest") == sample_county.manifest


# --- writes are transactions -----------------------------------------------------------------


def test_import_with_a_bad_1000th_feature_changes_nothing(
    filled: PostGISStore, tmp_path: Path
) -> None:
    url = filled._conninfo
    path = households_geojson(tmp_path / "households.geojson", 1500, bad=1000)
    before = table_digest(url)
    households_before = filled.read("households")
    with pytest.raises(ValidationError) as exc:
        import_file(filled, "households", path)
    assert [p.index for p in exc.value.problems] == [999]
    assert "feature #1000 (N01000) field 'village_code'" in str(exc.value)
    assert table_digest(url) == before
    assert_same(households_before, filled.read("households"))
    good = households_geojson(tmp_path / "good.geojson", 1500, bad=0)
    import_file(filled, "households", good)
    assert filled.count("households") == len(households_before) + 1500
    assert table_digest(url) != before


def test_a_failure_in_the_middle_of_a_write_changes_nothing(filled: PostGISStore) -> None:
    url = filled._conninfo
    before = table_digest(url)
    townships = LAYERS["townships"].validate(raw_frame("townships")).iloc[:1]
    villages = LAYERS["villages"].validate(raw_frame("villages"))
    villages.loc[2, "name"] = "坏\udcff名"  # a lone surrogate cannot be sent as UTF-8
    with pytest.raises(StoreError, match="nothing was changed"):
        filled.write({"townships": townships, "villages": villages}, meta={"county": "x"})
    assert table_digest(url) == before
    assert filled.get_meta("county") == "测试县"


def test_a_broken_reference_found_at_commit_changes_nothing(filled: PostGISStore) -> None:
    """Townships replaced by one of three: the other villages' references break at commit."""
    url = filled._conninfo
    before = table_digest(url)
    townships = LAYERS["townships"].validate(raw_frame("townships")).iloc[:1]
    with pytest.raises(StoreConstraintError, match="township_code_fkey") as exc:
        filled.write({"townships": townships}, meta={"county": "x"})
    assert exc.value.exit_code == 4
    assert "nothing was written" in str(exc.value)
    assert table_digest(url) == before


def test_several_layers_replace_in_any_order(filled: PostGISStore) -> None:
    """Villages, grids and townships replaced together: references hold again at commit."""
    frames = canonical_frames()
    for name in ("villages", "grids", "townships"):
        frames[name] = frames[name].iloc[::-1].reset_index(drop=True)
    picked = {k: frames[k] for k in ("grids", "villages", "townships")}
    filled.write(picked, mode="replace")
    for name, frame in picked.items():
        assert_same(frame, filled.read(name))


def test_a_second_writer_is_refused_and_readers_go_on(filled: PostGISStore) -> None:
    townships = LAYERS["townships"].validate(raw_frame("townships"))
    with psycopg.connect(filled._conninfo) as other:
        locked = other.execute(
            "SELECT pg_try_advisory_xact_lock(%s)", (queries.LOCK_WRITES,)
        ).fetchone()
        assert locked == (True,)
        with pytest.raises(StoreError, match="another gisgrid process is writing"):
            filled.write({"townships": townships})
        with pytest.raises(StoreError, match="another gisgrid process is writing"):
            _assign(filled, "households")
        assert filled.count("townships") == 3
        other.rollback()
    filled.write({"townships": townships})


# --- constraints ---------------------------------------------------------------------------------


def _bad_frames(case: str) -> tuple[dict[str, pd.DataFrame], str, str]:
    """Frames that pass no validation (written straight to the store) and what is refused."""
    frames = canonical_frames()
    if case == "invalid boundary":
        grids = frames["grids"]
        grids.loc[5, "geometry"] = MultiPolygon([BOWTIE])
        return {"grids": grids}, "replace", "grids_geom_valid"
    if case == "grid level 4":
        grids = frames["grids"].iloc[[-1]].reset_index(drop=True)
        code = str(grids.loc[0, "code"])
        grids.loc[0, ["code", "parent_code"]] = [code + "001", code]  # a well-formed code
        grids.loc[0, "level"] = 4
        return {"grids": grids}, "append", "grids_level_range"
    if case == "unknown village":
        grids = frames["grids"].iloc[[0]].reset_index(drop=True)
        grids.loc[0, ["code", "village_code"]] = "430623909999"
        return {"grids": grids}, "append", "grids_village_code_fkey"
    if case == "unknown parent":
        grids = frames["grids"].iloc[[-1]].reset_index(drop=True)
        grids.loc[0, ["code", "parent_code"]] = [V1 + "009001", V1 + "009"]
        return {"grids": grids}, "append", "grids_parent_code_fkey"
    if case == "duplicate household id":
        households = frames["households"].iloc[[0]].reset_index(drop=True)
        return {"households": households}, "append", "households_id_key"
    if case == "duplicate code":
        villages = frames["villages"]
        villages.loc[1, "code"] = villages.loc[0, "code"]
        return {"villages": villages}, "replace", "villages_code_key"
    if case == "malformed code":
        townships = frames["townships"]
        townships.loc[0, "code"] = "43062390A"
        return {"townships": townships}, "replace", "townships_code_format"
    if case == "code outside its parent":
        grids = frames["grids"]
        grids.loc[grids["level"] == 3, "parent_code"] = V1 + "002"
        return {"grids": grids}, "replace", "grids_code_format"
    if case == "elderly above members":
        households = frames["households"]
        households.loc[0, "elderly"] = 40
        return {"households": households}, "replace", "households_members"
    if case == "missing required value":
        incidents = frames["incidents"]
        incidents.loc[1, "status"] = None
        return {"incidents": incidents}, "replace", "status"
    if case == "unknown team":
        activities = frames["volunteer_activities"]
        activities.loc[0, "team_id"] = "VT99"
        return {"volunteer_activities": activities}, "replace", "team_id_fkey"
    raise AssertionError(case)


BAD_CASES = [
    "invalid boundary",
    "grid level 4",
    "unknown village",
    "unknown parent",
    "duplicate household id",
    "duplicate code",
    "malformed code",
    "code outside its parent",
    "elderly above members",
    "missing required value",
    "unknown team",
]


@pytest.mark.parametrize("bulk", [False, True], ids=["row by row", "bulk"])
@pytest.mark.parametrize("case", BAD_CASES)
def test_the_database_refuses_bad_data(filled: PostGISStore, case: str, bulk: bool) -> None:
    """Refused whole, nothing written; a bulk replace (keys, references and indexes built
    after its COPY) as well, its dropped constraints and indexes back as they were."""
    url = filled._conninfo
    before, objects = table_digest(url), schema_objects(url)
    frames, mode, words = _bad_frames(case)
    store = bulk_store(filled) if bulk else filled
    with pytest.raises(StoreConstraintError, match=words) as exc:
        store.write(frames, mode=mode)  # type: ignore[arg-type]
    assert "nothing was written" in str(exc.value)
    assert table_digest(url) == before
    assert schema_objects(url) == objects
    store.close()


# --- bulk replace ---------------------------------------------------------------------------------


def bulk_store(store: PostGISStore) -> PostGISStore:
    """The same database through a store that replaces in bulk from one row on."""
    return PostGISStore(store._conninfo, settings=PostGISSettings(bulk_rows=1))


def schema_objects(url: str) -> list[tuple[str, str, str, str, bool]]:
    """Every constraint and index of the gisgrid tables as the database defines them, and
    whether each is valid (a constraint checked on every row, an index ready and valid)."""
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT 'constraint', conrelid::regclass::text, conname::text, "
            "pg_get_constraintdef(oid), convalidated FROM pg_constraint "
            "WHERE connamespace = 'gisgrid'::regnamespace "
            "UNION ALL SELECT 'index', i.indrelid::regclass::text, c.relname::text, "
            "pg_get_indexdef(i.indexrelid), i.indisvalid AND i.indisready "
            "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "WHERE c.relnamespace = 'gisgrid'::regnamespace ORDER BY 1, 2, 3"
        ).fetchall()


def _filenode(url: str, relation: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_relation_filenode(%s::regclass)", (relation,)).fetchone()
    assert row is not None
    return int(row[0])


#: rows that break each constraint of the households' table after a bulk replace: a
#: statement (its values bound from the first household) and the constraint refusing it
VIOLATIONS = {
    "households_pkey": "INSERT INTO gisgrid.households (fid, id, head_name, village_code, "
    "members, elderly, geom) OVERRIDING SYSTEM VALUE "
    "SELECT fid, 'X1', head_name, village_code, 1, 0, geom FROM gisgrid.households LIMIT 1",
    "households_id_key": "INSERT INTO gisgrid.households (id, head_name, village_code, "
    "members, elderly, geom) SELECT id, head_name, village_code, 1, 0, geom "
    "FROM gisgrid.households LIMIT 1",
    "households_village_code_fkey": "INSERT INTO gisgrid.households (id, head_name, "
    "village_code, members, elderly, geom) SELECT 'X2', head_name, '430623999999', 1, 0, geom "
    "FROM gisgrid.households LIMIT 1",
    "households_members": "INSERT INTO gisgrid.households (id, head_name, village_code, "
    "members, elderly, geom) SELECT 'X3', head_name, village_code, 2, 3, geom "
    "FROM gisgrid.households LIMIT 1",
    "households_geom_valid": "INSERT INTO gisgrid.households (id, head_name, village_code, "
    "members, elderly, geom) SELECT 'X4', head_name, village_code, 1, 0, "
    "'SRID=4326;POINT EMPTY'::geometry FROM gisgrid.households LIMIT 1",
    "households_grid_pkey": "INSERT INTO gisgrid.households_grid (fid, grid_code) "
    "SELECT fid, grid_code FROM gisgrid.households_grid LIMIT 1",
}


def test_a_bulk_replace_keeps_every_constraint(filled: PostGISStore) -> None:
    """A replace in bulk: the table emptied and loaded anew (a new file), its keys,
    references and indexes built after the COPY exactly as the migrations made them, the
    write recorded (data version); then each constraint still refuses a row that breaks
    it, and the grid codes the frame brings are kept."""
    url = filled._conninfo
    objects = schema_objects(url)
    node = _filenode(url, "gisgrid.households")
    version = filled.data_version()
    households = canonical_frames()["households"].iloc[::-1].reset_index(drop=True)
    households["grid_code"] = None
    households.loc[0, "grid_code"] = next(iter(LEVEL3_BOXES))
    households = LAYERS["households"].conform(households)
    bulk = bulk_store(filled)
    bulk.write({"households": households}, mode="replace")
    assert _filenode(url, "gisgrid.households") != node, "the bulk path was not taken"
    assert_same(households, bulk.read("households"))
    assert schema_objects(url) == objects
    assert all(valid for *_, valid in objects)
    assert bulk.data_version() != version
    with psycopg.connect(url) as conn:
        analysed = conn.execute(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables "
            "WHERE relid = 'gisgrid.households'::regclass"
        ).fetchone()
    assert analysed == (True,)
    digest = table_digest(url)
    for constraint, statement in VIOLATIONS.items():
        with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.IntegrityError) as exc:
            conn.execute(statement)
            conn.commit()  # the reference is checked at commit (deferred)
        assert exc.value.diag.constraint_name == constraint
    assert table_digest(url) == digest
    bulk.close()


def test_a_bulk_replace_with_bad_rows_is_refused_whole(filled: PostGISStore) -> None:
    """Rows that break a key or a reference are found when the bulk replace builds them
    after its COPY: the write is refused, the table, its grid codes, constraints and indexes
    as they were."""
    url = filled._conninfo
    before, objects = table_digest(url), schema_objects(url)
    bulk = bulk_store(filled)
    households = canonical_frames()["households"]
    twice = pd.concat([households, households.iloc[[2]]], ignore_index=True)
    stranger = households.copy()
    stranger.loc[len(stranger) - 1, "village_code"] = "430623999999"
    for frame, constraint in (
        (twice, "households_id_key"),
        (stranger, "households_village_code_fkey"),
    ):
        with pytest.raises(StoreConstraintError, match=constraint) as exc:
            bulk.write({"households": LAYERS["households"].conform(frame)}, mode="replace")
        assert "nothing was written" in str(exc.value)
        assert table_digest(url) == before
        assert schema_objects(url) == objects
    bulk.close()


def test_a_bulk_replace_among_layers_whose_references_hold_only_at_commit(
    filled: PostGISStore,
) -> None:
    """Villages, grids, households (in bulk) and service points replaced in one write: a
    village goes that a stored service point still names until the write's service points
    replace it. Its check, pending when the households' references are built, fails then,
    so the households go in row by row, and the whole write commits as one; and a write of
    villages and households whose checks pass goes in bulk."""
    url = filled._conninfo
    frames = canonical_frames()
    gone = "430623903001"
    points = frames["service_points"].copy()
    points.loc[0, "village_code"] = gone
    filled.write({"service_points": points}, mode="replace")
    bulk = bulk_store(filled)
    changed = {
        "villages": frames["villages"][frames["villages"]["code"] != gone],
        "grids": frames["grids"][frames["grids"]["code"] != gone],
        "households": frames["households"].iloc[::-1].reset_index(drop=True),
        "service_points": frames["service_points"],
    }
    changed = {k: v.reset_index(drop=True) for k, v in changed.items()}
    bulk.write(changed, mode="replace")
    for name, frame in changed.items():
        assert_same(frame, bulk.read(name))
    assert schema_objects(url) == schema_objects(filled._conninfo)
    with psycopg.connect(url, autocommit=True) as conn:  # a county's own table naming villages
        conn.execute(
            "CREATE TABLE public.own_notes (village_code text REFERENCES gisgrid.villages (code) "
            "DEFERRABLE INITIALLY DEFERRED)"
        )
    node = _filenode(url, "gisgrid.households")
    objects = schema_objects(url)
    both = {"villages": frames["villages"], "households": frames["households"]}
    bulk.write(both, mode="replace")
    assert _filenode(url, "gisgrid.households") != node
    assert schema_objects(url) == objects
    for name, frame in both.items():
        assert_same(frame, bulk.read(name))
    bulk.close()


def test_a_layer_others_refer_to_is_not_replaced_in_bulk(filled: PostGISStore) -> None:
    """Villages are referred to by households: never truncated; their replace deletes."""
    url = filled._conninfo
    node = _filenode(url, "gisgrid.villages")
    bulk = bulk_store(filled)
    villages = canonical_frames()["villages"]
    bulk.write({"villages": villages}, mode="replace")
    assert _filenode(url, "gisgrid.villages") == node
    assert_same(villages, bulk.read("villages"))
    bulk.close()


def test_the_payload_is_what_psycopg_writes_row_by_row(pg_store: PostGISStore) -> None:
    """codecs.copy_payload, built with numpy, loads the same rows as copy_rows through
    psycopg's own binary dumpers: text with NULLs and non-ASCII, integers, booleans with
    NULLs, points."""
    decl = LAYERS["households"]
    frame = canonical_frames()["households"]
    frame = pd.concat([frame] * 50, ignore_index=True)
    frame["id"] = [f"P{i}" for i in range(len(frame))]
    frame.loc[3, "house_number"] = "３号 ☃"
    frame.loc[5, "party_member"] = None
    frame.loc[7, "head_name"] = ""
    frame = decl.conform(frame)
    packed = codecs.copy_payload(decl, frame, omit=("grid_code",), rows_per_chunk=17)
    assert packed is not None
    columns, chunks = packed
    _, types, rows = codecs.copy_rows(decl, frame, omit=("grid_code",))
    names = sql.SQL(", ").join(ident(c) for c in columns)
    with psycopg.connect(pg_store._conninfo, autocommit=True) as conn:
        for name in ("by_rows", "by_payload"):
            conn.execute(
                sql.SQL("CREATE TEMP TABLE {} (LIKE gisgrid.households INCLUDING IDENTITY)").format(
                    ident(name)
                )
            )
        with conn.cursor() as cur:
            statement = sql.SQL("COPY by_rows ({}) FROM STDIN (FORMAT BINARY)")
            with cur.copy(statement.format(names)) as c:
                c.set_types(types)
                for row in rows:
                    c.write_row(row)
            with cur.copy(
                sql.SQL("COPY by_payload ({}) FROM STDIN (FORMAT BINARY)").format(names)
            ) as c:
                for chunk in chunks:
                    c.write(chunk)
        select = sql.SQL("SELECT {}, ST_AsEWKB(geom) FROM {} ORDER BY id")
        plain = sql.SQL(", ").join(ident(c) for c in columns[:-1])
        by_rows = conn.execute(select.format(plain, ident("by_rows"))).fetchall()
        by_payload = conn.execute(select.format(plain, ident("by_payload"))).fetchall()
    assert len(by_rows) == len(frame)
    assert by_payload == by_rows
    assert "３号 ☃" in {r[2] for r in by_payload} and None in {r[6] for r in by_payload}


def test_the_schema_follows_the_layer_declarations(readonly: PostGISStore) -> None:
    udt = {"text": "text", "int4": "int4", "float8": "float8", "bool": "bool"}
    udt |= {"date": "date", "timestamp": "timestamp"}
    with psycopg.connect(readonly._conninfo) as conn:
        rows = conn.execute(queries.query("table_columns")).fetchall()
        geometry = {
            r[0]: (r[1], r[2])
            for r in conn.execute(
                "SELECT f_table_name, type, srid FROM geometry_columns WHERE f_table_schema = %s",
                (SCHEMA,),
            )
        }
    columns: dict[str, dict[str, tuple[str, bool]]] = {}
    for table_name, column, udt_name, nullable in rows:
        columns.setdefault(table_name, {})[column] = (udt_name, nullable)
    for name, decl in LAYERS.items():
        expected = {"fid"} | set(decl.columns) | ({"geom"} if decl.spatial else set())
        have = columns[name]
        if name in ASSIGNED_LAYERS:
            # the grid codes apart; the view reads as the layer (nullability: the tables')
            view, grid = columns[f"{name}_with_grid"], columns[f"{name}_grid"]
            assert set(view) == expected, name
            assert set(have) == expected - {"grid_code"}, name
            assert grid == {"fid": ("int8", False), "grid_code": ("text", False)}
            assert geometry[f"{name}_with_grid"] == ("POINT", 4326)
            have = have | {"grid_code": ("text", True)}
        assert set(have) == expected, name
        for f in decl.fields:
            assert have[f.name][0] == udt[COPY_TYPES[f.type]], (name, f.name)
            assert have[f.name][1] == (not f.required or f.assigned), (name, f.name)
        if decl.spatial:
            assert geometry[name] == (decl.geometry_type.upper(), 4326)  # type: ignore[union-attr]
            assert have["geom"][1] is False


# --- migrations ----------------------------------------------------------------------------------


def test_migrations_are_numbered_and_shipped() -> None:
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    assert len(found) >= 2
    for m in found:
        assert "gisgrid." in m.text


def test_init_is_idempotent(pg_url: str, run_gisgrid: Run) -> None:
    store = PostGISStore(pg_url)
    try:
        first = store.init()
        assert (first.before, first.after) == (0, latest_version())
        assert len(first.applied) == latest_version()
        store.write({"townships": LAYERS["townships"].validate(raw_frame("townships"))})
        before = table_digest(pg_url)
        again = store.init()
        assert (again.before, again.after, again.applied) == (latest_version(),) * 2 + ((),)
        assert table_digest(pg_url) == before
    finally:
        store.close()
    text = ok(run_gisgrid("init", "--store", pg_url))
    assert "up to date" in text and "***" in text
    assert table_digest(pg_url) == before


def test_init_makes_postgis_when_it_may(pg_server: PostGISServer) -> None:
    url = pg_server.create_database(postgis=False)
    store = PostGISStore(url)
    try:
        assert store.init().after == latest_version()
        with psycopg.connect(url) as conn:
            assert conn.execute(queries.query("postgis_version")).fetchone() is not None
    finally:
        store.close()
        pg_server.drop_database(url)


@pytest.fixture
def older_gisgrid(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """While active, this gisgrid knows only the first migration (an older release)."""
    first = migrations()[:1]
    monkeypatch.setattr(schema, "migrations", lambda: first)
    yield
    monkeypatch.undo()


def _write_as_version_1(url: str, frames: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write as gisgrid did with schema version 1: every declared column (grid_code too) in
    the layer's own table, by COPY, in one transaction."""
    with psycopg.connect(url) as conn, conn.transaction():
        for name, decl in LAYERS.items():
            if name not in frames:
                continue
            # the grids' version columns came with version 6
            omit = [f.name for f in VERSION_FIELDS] if name == "grids" else []
            columns, types, rows = codecs.copy_rows(decl, decl.conform(frames[name]), omit=omit)
            statement = queries.query(
                "copy_layer",
                table=queries.table(name),
                columns=sql.SQL(", ").join(ident(c) for c in columns),
            )
            with conn.cursor() as cur, cur.copy(statement) as copy:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
        for key, value in meta.items():
            conn.execute(queries.query("put_meta"), (key, Jsonb(value)))


def test_a_newer_gisgrid_upgrades_an_older_schema_keeping_the_data(
    pg_url: str, older_gisgrid: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = PostGISStore(pg_url)
    assert old.init().after == 1
    old.close()
    frames = canonical_frames()
    del frames["grid_versions"]  # no history of the grids before version 6
    del frames["case_steps"]  # nor of the cases before version 8
    del frames["visits"]  # nor visits before version 9
    del frames["public_reports"]  # nor public reports before version 12
    del frames["volunteer_hours"]  # nor volunteer hours before version 10
    for f in VERSION_FIELDS:
        frames["grids"][f.name] = None
    frames["grids"] = LAYERS["grids"].conform(frames["grids"])
    level3 = frames["grids"][frames["grids"]["level"] == 3]
    for name in set(ASSIGNED_LAYERS) & set(frames):  # as the old assignment left them
        frames[name]["grid_code"] = assign_points_exact(frames[name].geometry, level3)
        frames[name] = LAYERS[name].conform(frames[name])
    assert frames["households"]["grid_code"].notna().sum() >= 5
    _write_as_version_1(pg_url, frames, {"county": "测试县"})
    before = table_digest(pg_url)

    monkeypatch.undo()  # now the current gisgrid
    new = PostGISStore(pg_url)
    try:
        with pytest.raises(StoreError, match="schema version 1; this gisgrid needs"):
            new.read("townships")
        with pytest.raises(StoreError, match="gisgrid init"):
            new.write({"townships": frames["townships"]})
        result = new.init()
        assert (result.before, result.after) == (1, latest_version())
        assert result.applied[0].startswith("0002_")
        after = table_digest(pg_url)
        # version 3 moved grid_code out, version 6 gave the grids their version columns
        moved = {"schema_version", "grids", *ASSIGNED_LAYERS}
        assert {k: v for k, v in after.items() if k not in moved and k in before} == {
            k: v for k, v in before.items() if k not in moved
        }
        for name, frame in frames.items():
            assert_same(frame, new.read(name))
        assert new.get_meta("county") == "测试县"
        # the second migration's rules hold from now on
        bad = frames["townships"].copy()
        bad.loc[0, "code"] = "43062390A"
        with pytest.raises(StoreConstraintError, match="townships_code_format"):
            new.write({"townships": bad})
        with psycopg.connect(pg_url) as conn:
            versions = conn.execute(queries.query("applied_migrations")).fetchall()
            options = conn.execute(
                "SELECT reloptions FROM pg_class WHERE oid = 'gisgrid.households'::regclass"
            ).fetchone()
        assert [v[0] for v in versions] == list(range(1, latest_version() + 1))
        assert options == (None,)  # the room version 2 kept for updates in place is given back
    finally:
        new.close()


def test_an_upgrade_that_fails_changes_nothing(
    pg_url: str, older_gisgrid: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Data an old gisgrid let in that break a new rule: the upgrade stops, all of it."""
    old = PostGISStore(pg_url)
    old.init()
    frames = canonical_frames()
    frames["townships"].loc[0, "code"] = "4306239O1"  # a letter O: version 1 did not check
    frames["villages"].loc[frames["villages"]["township_code"] == "430623901", "township_code"] = (
        "4306239O1"
    )
    old.write({k: frames[k] for k in ("townships", "villages")})
    old.close()
    before = table_digest(pg_url)
    monkeypatch.undo()
    new = PostGISStore(pg_url)
    try:
        with pytest.raises(StoreError, match="townships_code_format"):
            new.init()
        assert new.schema_version() == 1
        assert table_digest(pg_url) == before
    finally:
        new.close()


def test_a_schema_newer_than_gisgrid_is_refused(pg_store: PostGISStore) -> None:
    with psycopg.connect(pg_store._conninfo) as conn:
        conn.execute(queries.query("record_migration"), (latest_version() + 1, "future", "9.9"))
    fresh = PostGISStore(pg_store._conninfo)
    try:
        with pytest.raises(StoreError, match="newer than this gisgrid"):
            fresh.read("townships")
        with pytest.raises(StoreError, match="upgrade gisgrid"):
            fresh.init()
    finally:
        fresh.close()


def test_init_to_an_unknown_version_is_refused(pg_url: str) -> None:
    store = PostGISStore(pg_url)
    try:
        with pytest.raises(ConfigError):
            store.init(target=latest_version() + 1)
    finally:
        store.close()


# --- privileges ----------------------------------------------------------------------------------


def _role_url(url: str, role: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{password}@{host}"))


def test_a_role_with_only_data_privileges_can_use_an_initialised_store(
    filled: PostGISStore, tmp_path: Path
) -> None:
    """docs/county-it.md's minimum: USAGE on the schema, SELECT/INSERT/UPDATE/DELETE/TRUNCATE."""
    url = filled._conninfo
    role = f"clerk_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'clerk-pw'").format(ident(role)))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA gisgrid TO {}").format(ident(role)))
        conn.execute(
            sql.SQL(
                "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA gisgrid "
                "TO {}"
            ).format(ident(role))
        )
    clerk = PostGISStore(_role_url(url, role, "clerk-pw"))
    try:
        assert clerk.count("households") == 9
        import_file(clerk, "households", households_geojson(tmp_path / "h.geojson", 20, bad=0))
        assert clerk.count("households") == 29
        assert _assign(clerk, "households") == 29  # a refill, by a non-owner
        assert "households_grid_pkey" in _primary_keys(url)
        # no bulk replace for a role that does not own the table: row by row, as ever
        settings = PostGISSettings(bulk_rows=1)
        bulk = PostGISStore(_role_url(url, role, "clerk-pw"), settings=settings)
        node = _filenode(url, "gisgrid.households")
        households = clerk.read("households")
        bulk.write({"households": households}, mode="replace")
        bulk.close()
        assert _filenode(url, "gisgrid.households") == node
        assert_same(households, clerk.read("households"))
        clerk.write({"incidents": LAYERS["incidents"].validate(raw_frame("incidents"))})
        assert clerk.init().applied == ()  # nothing to do: no privilege needed
    finally:
        clerk.close()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(ident(role)))
            conn.execute(sql.SQL("DROP ROLE {}").format(ident(role)))


def test_a_role_without_postgis_or_create_gets_told_what_to_do(pg_server: PostGISServer) -> None:
    url = pg_server.create_database(postgis=False)
    role = f"visitor_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'v-pw'").format(ident(role)))
    visitor = PostGISStore(_role_url(url, role, "v-pw"))
    try:
        with pytest.raises(StoreError, match="a superuser must run `CREATE EXTENSION postgis;`"):
            visitor.init()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        with pytest.raises(StoreError, match="lacks a privilege"):
            visitor.init()
    finally:
        visitor.close()
        pg_server.drop_database(url)
        with psycopg.connect(pg_server.admin_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(ident(role)))


# --- connections and URLs ----------------------------------------------------------------------


def test_passwords_never_show() -> None:
    url = "postgresql://clerk:s3cret@db.example:5432/county?sslmode=require"
    assert redact(url) == "postgresql://clerk:***@db.example:5432/county?sslmode=require"
    assert "s3cret" not in repr(PostGISStore(url))
    assert redact("postgresql://h/db?password=s3cret&user=x") == (
        "postgresql://h/db?password=***&user=x"
    )
    assert redact("postgresql:///county") == "postgresql:///county"


def test_an_unreachable_server_is_a_clear_store_error() -> None:
    store = open_store("postgresql://nobody:s3cret@127.0.0.1:1/x")
    assert isinstance(store, PostGISStore)
    with pytest.raises(StoreError, match="cannot connect to the PostGIS store") as exc:
        store.layer_names()
    assert "s3cret" not in str(exc.value)
    assert exc.value.exit_code == 5


def test_the_harness_also_works_with_a_given_server(pg_server: PostGISServer) -> None:
    """The GISGRID_TEST_DATABASE_URL path: databases made on a server it did not start."""
    given = PostGISServer(pg_server.admin_url)
    try:
        assert not given.throwaway
        url = given.fresh_database()
        with psycopg.connect(url) as conn:
            assert conn.execute(queries.query("postgis_version")).fetchone() is not None
        name = given.name_of(url)
    finally:
        given.close()
    with psycopg.connect(pg_server.admin_url) as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
        assert left.fetchone() == (0,)


# --- assignment: the analysis decides, inside the store's one transaction ---------------------


def _assign(store: PostGISStore, layer: str) -> int:
    """Assign one layer by :func:`assign_store`; how many of its features got a grid."""
    return assign_store(store, layers=(layer,)).layer(layer).assigned


def _no_grid(grids: gpd.GeoDataFrame, points: dict[str, LayerPoints]) -> dict[str, np.ndarray]:
    """A decision that puts every point in no grid."""
    return {name: np.full(len(p.fid), -1, dtype=np.int64) for name, p in points.items()}


def _reference(store: PostGISStore, layer: str) -> np.ndarray:
    grids = store.read("grids", where={"level": 3})
    points = store.read(layer)
    return assign_points_exact(points.geometry, grids)


def _assert_as_reference(store: PostGISStore, layer: str) -> np.ndarray:
    expected = _reference(store, layer)
    assigned = _assign(store, layer)
    got = store.read(layer)["grid_code"].to_numpy(dtype=object)
    differ = [(i, e, g) for i, (e, g) in enumerate(zip(expected, got, strict=True)) if e != g]
    assert differ == [], f"{len(differ)} differ from the reference, e.g. {differ[:5]}"
    assert assigned == sum(c is not None for c in expected)
    return got


@pytest.fixture(scope="module")
def sample_template(pg_server: PostGISServer, sample_county: Any) -> str:
    return _template(pg_server, sample_county.frames, mode="replace")


@pytest.fixture
def sample_store(pg_server: PostGISServer, sample_template: str) -> Iterator[PostGISStore]:
    yield from _copy_of(pg_server, sample_template, drop=True)


def test_assignment_equals_the_reference_on_the_sample_county(
    sample_store: PostGISStore, sample_county: Any
) -> None:
    got = _assert_as_reference(sample_store, "households")
    outside = set(sample_county.manifest["defects"]["households_outside"])
    ids = sample_store.read("households", columns=["id"])["id"]
    assert {i for i, c in zip(ids, got, strict=True) if c is None} == outside
    # a household leaves the grid it was generated in only for a smaller code covering it
    intended = [None if pd.isna(v) else v for v in sample_county.intended_grid.reindex(ids)]
    grids = sample_store.read("grids", where={"level": 3}).set_index("code").geometry
    points = sample_store.read("households").geometry.to_numpy()
    moved = [i for i, (a, b) in enumerate(zip(intended, got, strict=True)) if a != b]
    for i in moved:
        assert got[i] < intended[i]
        assert grids[intended[i]].covers(points[i]) and grids[got[i]].covers(points[i])
    for layer in ("incidents", "service_points"):
        _assert_as_reference(sample_store, layer)


def _edge_points(grids: gpd.GeoDataFrame, rng: np.random.Generator, n: int) -> np.ndarray:
    """Vertices, midpoints, thirds and random points of the grids' ring segments."""
    rings = shapely.get_rings(shapely.get_parts(grids.geometry.values))
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[1:] == ring_of[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    pick = rng.choice(len(a), size=n, replace=n > len(a))
    a, b = a[pick], b[pick]
    fifth = n // 5
    fixed = [np.zeros(fifth), np.full(fifth, 0.5), np.full(fifth, 1 / 3)]
    t = np.concatenate([*fixed, rng.random(n - 3 * fifth)])[:, None]
    on_edge = a + t * (b - a)
    # just outside and just inside: one float step away from vertices, in every direction
    step = np.nextafter(a[: n // 5], a[: n // 5] + np.sign(b[: n // 5] - a[: n // 5]))
    back = np.nextafter(a[: n // 5], a[: n // 5] - np.sign(b[: n // 5] - a[: n // 5]))
    return np.vstack([on_edge, step, back])


def _as_households(xy: np.ndarray, village_of: Callable[[np.ndarray], np.ndarray]) -> pd.DataFrame:
    n = len(xy)
    frame = gpd.GeoDataFrame(
        {
            "id": [f"ADV{i:06d}" for i in range(n)],
            "head_name": "测试户主",
            "village_code": village_of(xy),
            "members": 2,
            "elderly": 0,
        },
        geometry=shapely.points(xy),
        crs="EPSG:4326",
    )
    return LAYERS["households"].validate(frame)


def test_assignment_equals_the_reference_on_grid_edges_of_the_sample(
    sample_store: PostGISStore,
) -> None:
    grids = sample_store.read("grids", where={"level": 3})
    villages = sample_store.read("villages")
    rng = np.random.default_rng(7)
    xy = _edge_points(grids, rng, 20_000)
    tree = shapely.STRtree(villages.geometry.values)

    def village_of(pts: np.ndarray) -> np.ndarray:
        idx = tree.query_nearest(shapely.points(pts), all_matches=False)[1]
        return villages["code"].to_numpy()[idx]

    sample_store.write({"households": _as_households(xy, village_of)}, mode="append")
    got = _assert_as_reference(sample_store, "households")
    assert sum(c is None for c in got) > 8  # some edge points lie on the outline or in gaps


def _adversarial_grids() -> gpd.GeoDataFrame:
    """Level-3 grids under the first village's level-2 grids, made to be hard."""
    p = V1 + "001"
    q = V1 + "002"
    ring = [(112.40, 29.60), (112.47, 29.60), (112.47, 29.70), (112.40, 29.70)]
    hole = [(112.42, 29.62), (112.42, 29.66), (112.45, 29.66), (112.45, 29.62)]
    diagonal_a = Polygon([(112.47, 29.50), (112.5123456789, 29.5987654321), (112.47, 29.60)])
    diagonal_b = Polygon(
        [(112.47, 29.50), (112.55, 29.50), (112.55, 29.60), (112.5123456789, 29.5987654321)]
    )
    rows = [
        (p + "001", Polygon(ring, [hole])),  # a hole
        (p + "002", MultiPolygon([box(112.40, 29.50, 112.43, 29.55),
                                  box(112.44, 29.56, 112.46, 29.59)])),
        (q + "001", diagonal_b),  # shares the diagonal edge with q+"003"
        (q + "003", diagonal_a),
        (q + "002", box(112.50, 29.55, 112.53, 29.58)),  # overlaps both diagonal grids
        (p + "003", Polygon(hole)),  # fills the hole of p+"001": shares its ring
    ]  # fmt: skip
    codes = [r[0] for r in rows]
    return gpd.GeoDataFrame(
        {"code": codes, "level": 3, "parent_code": [c[:15] for c in codes], "village_code": V1,
         "name": [f"难{i}" for i in range(len(rows))]},
        geometry=[shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g for _, g in rows],
        crs="EPSG:4326",
    )  # fmt: skip


def test_assignment_equals_the_reference_on_adversarial_points(filled: PostGISStore) -> None:
    grids = filled.read("grids")
    hard = LAYERS["grids"].validate(_adversarial_grids())
    grids = pd.concat([grids[grids["level"] < 3], hard], ignore_index=True)
    filled.write({"grids": gpd.GeoDataFrame(grids, crs="EPSG:4326")}, mode="replace")
    rng = np.random.default_rng(3)
    xy = _edge_points(hard, rng, 150)
    named = {
        "in the hole (the hole's own grid)": (112.43, 29.64),
        "on the hole's ring": (112.42, 29.63),
        "shared vertex of the diagonal": (112.5123456789, 29.5987654321),
        "middle of the diagonal": ((112.47 + 112.5123456789) / 2, (29.50 + 29.5987654321) / 2),
        "overlap": (112.52, 29.57),
        "second part of a multipolygon": (112.45, 29.57),
        "between the parts": (112.435, 29.555),
        "far outside": (112.80, 29.40),
        "just outside a corner": (np.nextafter(112.40, 0), np.nextafter(29.50, 0)),
        "exactly on a corner": (112.40, 29.50),
    }
    xy = np.vstack([xy, np.asarray(list(named.values()))])
    households = _as_households(xy, lambda pts: np.full(len(pts), V1, dtype=object))
    filled.write({"households": households}, mode="replace")
    got = _assert_as_reference(filled, "households")
    answer = dict(zip(named, got[-len(named) :], strict=True))
    p, q = V1 + "001", V1 + "002"
    assert answer["in the hole (the hole's own grid)"] == p + "003"
    assert answer["on the hole's ring"] == p + "001"  # both cover it: the smaller code
    assert answer["overlap"] == q + "001"
    assert answer["second part of a multipolygon"] == p + "002"
    assert answer["between the parts"] is None
    assert answer["far outside"] is None
    assert answer["just outside a corner"] is None
    assert answer["exactly on a corner"] == p + "002"


def _row_versions(store: PostGISStore, name: str) -> dict[int, str]:
    with psycopg.connect(store._conninfo) as conn:
        rows = conn.execute(
            sql.SQL("SELECT fid, xmin::text FROM {}").format(ident(SCHEMA, name))
        ).fetchall()
    return {int(fid): str(xmin) for fid, xmin in rows}


def test_assignment_writes_only_what_changes(sample_store: PostGISStore) -> None:
    """Never the points' rows; all codes at first; none the second time; after an import of
    a few, only theirs (the row-by-row path), and the answer stays the reference's."""
    points = _row_versions(sample_store, "households")
    first = _assign(sample_store, "households")
    assert _row_versions(sample_store, "households") == points
    codes = _row_versions(sample_store, "households_grid")
    assert len(codes) == first > 0
    assert "households_grid_pkey" in _primary_keys(sample_store._conninfo)
    assert _assign(sample_store, "households") == first
    assert _row_versions(sample_store, "households_grid") == codes

    some = sample_store.read("households").iloc[:25].copy()
    some["id"] = [f"N{i:03d}" for i in range(len(some))]
    some["grid_code"] = None
    some.loc[some.index[:5], "grid_code"] = "430623000000000000"  # wrong: assignment mends it
    sample_store.write({"households": some}, mode="append")
    _assert_as_reference(sample_store, "households")
    after = _row_versions(sample_store, "households_grid")
    assert {f: v for f, v in after.items() if f in codes} == codes
    assert len(after) == len(codes) + 25

    # a grid taken away: its households lose their code, nobody else's row is touched
    grids = sample_store.read("grids")
    households = sample_store.read("households")
    gone = households["grid_code"].dropna().iloc[0]
    sample_store.write({"grids": grids[grids["code"] != gone]}, mode="replace")
    _assert_as_reference(sample_store, "households")
    lost = set(households.index[households["grid_code"] == gone])
    fids = sorted(_row_versions(sample_store, "households"))  # reads keep fid order
    last = _row_versions(sample_store, "households_grid")
    assert set(after) - set(last) == {fids[i] for i in lost} and len(lost) > 0
    assert last == {f: v for f, v in after.items() if f in last}


def test_assignment_follows_the_grids(filled: PostGISStore) -> None:
    _assign(filled, "households")
    assert filled.read("households", where={"id": "H001"})["grid_code"].iloc[0] == V1 + "001001"
    grids = filled.read("grids")
    filled.write({"grids": grids[grids["level"] < 3].reset_index(drop=True)}, mode="replace")
    with pytest.raises(NotFoundError, match="no level-3 grids"):
        _assign(filled, "households")  # the analysis refuses: nothing to assign to
    assert filled.read("households")["grid_code"].notna().all()
    seen: list[int] = []

    def decide(grids: gpd.GeoDataFrame, points: dict[str, LayerPoints]) -> dict[str, np.ndarray]:
        seen.append(len(grids))
        return _no_grid(grids, points)

    written = filled.assign_grid_codes(decide, layers=("households",))
    # the decision sees what is stored: no grid now, the superseded version of 001001 (history
    # survives the grids it was a version of)
    assert seen == [1] and written.layers[0].assigned == 0 and written.layers[0].changed == 9
    assert filled.read("households")["grid_code"].isna().all()


def _primary_keys(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT conname FROM pg_constraint WHERE contype = 'p' "
            "AND connamespace = 'gisgrid'::regnamespace"
        ).fetchall()
    return {str(r[0]) for r in rows}


def test_assignment_drops_codes_of_points_that_are_gone(filled: PostGISStore) -> None:
    """A code row whose household was deleted behind gisgrid's back (SQL, QGIS) goes away."""
    first = _assign(filled, "households")
    with psycopg.connect(filled._conninfo) as conn:
        conn.execute(
            "INSERT INTO gisgrid.households_grid (fid, grid_code) "
            "VALUES (999999, '430623101001001001')"
        )
    assert _assign(filled, "households") == first
    with psycopg.connect(filled._conninfo) as conn:
        left = conn.execute("SELECT fid FROM gisgrid.households_grid WHERE fid > 1000")
        assert left.fetchall() == []
    assert {"households_grid_pkey", "households_pkey"} <= _primary_keys(filled._conninfo)


def test_one_assignment_is_one_transaction_holding_the_writer_lock(filled: PostGISStore) -> None:
    """Every layer is read and written in one transaction: while the decision runs, no other
    writer gets the lock; a decision that fails leaves every table as it was."""
    _assign(filled, "households")
    before = table_digest(filled._conninfo)
    locked: list[Any] = []

    def failing(grids: gpd.GeoDataFrame, points: dict[str, LayerPoints]) -> dict[str, np.ndarray]:
        with psycopg.connect(filled._conninfo) as other:
            row = other.execute(queries.query("try_lock_writes"), (queries.LOCK_WRITES,))
            locked.append(row.fetchone())
        # every version of the level-3 grids: the four and the superseded first of 001001
        assert list(points) == list(ASSIGNED_LAYERS) and len(grids) == 5
        raise RuntimeError("the decision failed")

    with pytest.raises(RuntimeError, match="the decision failed"):
        filled.assign_grid_codes(failing)
    assert locked == [(False,)]
    assert table_digest(filled._conninfo) == before
    written = filled.assign_grid_codes(_no_grid)  # every code goes: all layers in one go
    assert [item.layer for item in written.layers] == list(ASSIGNED_LAYERS)
    assert all(item.assigned == 0 and item.changed > 0 for item in written.layers[:1])
    households = filled.read("households")
    assert households["grid_code"].isna().all()
    assert written.layers[0].unassigned == tuple(sorted(households["id"]))


def test_assign_store_reports_as_on_the_geopackage(filled: PostGISStore, tmp_path: Path) -> None:
    """The same little county in both stores: the same report and the same codes."""
    embedded = GeoPackageStore(tmp_path / "same.gpkg")
    embedded.write({name: filled.read(name) for name in LAYERS}, mode="replace")
    reports = [assign_store(filled), assign_store(embedded)]
    for a, b in zip(*(r.layers for r in reports), strict=True):
        assert (a.layer, a.features, a.assigned, a.unassigned, a.shared) == (
            b.layer, b.features, b.assigned, b.unassigned, b.shared,
        )  # fmt: skip
    assert reports[0].engine == reports[1].engine == "GridIndex"
    assert reports[0].layer("incidents").unassigned == ("E002",)
    assert reports[0].layer("service_points").shared == 1
    for name in ASSIGNED_LAYERS:
        assert_same(embedded.read(name), filled.read(name))


def test_assignment_of_a_layer_without_grid_code_is_refused(filled: PostGISStore) -> None:
    with pytest.raises(ConfigError, match="only households"):
        filled.assign_grid_codes(_no_grid, layers=("grids",))


def test_assignment_in_an_uninitialised_database_says_init(pg_url: str) -> None:
    store = PostGISStore(pg_url)
    try:
        with pytest.raises(StoreError, match="gisgrid init"):
            store.assign_grid_codes(_no_grid, layers=("households",))
    finally:
        store.close()


def test_the_fixed_width_helpers() -> None:
    fid = np.array([1, 2, 2**40], dtype=np.int64)
    codes = np.array([b"430623101001001001", b"012345678901234567", b"430623101001001002"])
    payload = codecs.grid_rows_payload(fid, codes.astype("S18"))
    assert payload.startswith(b"PGCOPY\n\xff\r\n\x00") and payload.endswith(b"\xff\xff")
    assert len(payload) == 19 + 3 * (2 + 4 + 8 + 4 + 18) + 2
    second = payload[19 + 36 : 19 + 72]
    assert second[:2] == (2).to_bytes(2, "big") and second[6:14] == (2).to_bytes(8, "big")
    assert second[14:18] == (18).to_bytes(4, "big") and second[18:] == b"012345678901234567"
    record = (7).to_bytes(8, "big") + shapely.to_wkb(shapely.Point(112.5, 29.5), byte_order=1)
    points = codecs.parse_points(1, record)
    assert (points.fid.tolist(), points.x.tolist(), points.y.tolist()) == ([7], [112.5], [29.5])
    with pytest.raises(StoreError):
        codecs.parse_points(2, record)  # fewer bytes than records
    with pytest.raises(StoreError):
        codecs.parse_points(1, record[:8] + b"\x00" + record[9:])  # big endian: not ours
    # current codes: aligned with the points by fid, in any order; codes of gone points apart
    codes = b"".join(
        f.to_bytes(8, "big") + c.to_bytes(8, "big")
        for f, c in ((9, 430623101001001002), (5, 430623101001001001), (4, 12))
    )
    current, stray = codecs.current_codes(np.array([5, 1, 9, 7]), 3, codes)
    assert current.tolist() == [430623101001001001, -1, 430623101001001002, -1]
    assert stray.tolist() == [4]
    current, stray = codecs.current_codes(np.array([], dtype=np.int64), 3, codes)
    assert (current.tolist(), sorted(stray.tolist())) == ([], [4, 5, 9])
    with pytest.raises(StoreError):
        codecs.current_codes(np.array([5]), 4, codes)
    with pytest.raises(StoreError, match="18 digits"):
        codecs.codes_as_numbers(["43062310100100100A"])
    assert codecs.codes_as_numbers(["012345678901234567"]).tolist() == [12345678901234567]


def test_every_named_query_parses() -> None:
    names = queries.named_queries()
    assert {"select_layer", "copy_layer", "points_out", "copy_grid"} <= set(names)
    for name, text in names.items():
        assert text and not text.startswith("--"), name
        assert queries.query(name).as_string() if "{" not in text else True


# --- the gisgrid command against PostGIS -----------------------------------------------------


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return " ".join(result.stdout.split())


def refused(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    assert result.returncode == exit_code, f"{result.returncode}\n{result.stdout}{result.stderr}"
    assert "error:" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    return " ".join(result.stderr.split())


def test_cli_init_import_export_layers(
    pg_url: str, run_gisgrid: Run, write_input: Callable[..., Path], tmp_path: Path
) -> None:
    early = run_gisgrid("import", "townships", write_input("townships"), "--store", pg_url)
    text = refused(early, 5)
    assert "gisgrid init" in text
    first = ok(run_gisgrid("init", "--store", pg_url))
    assert f"schema version 0 → {latest_version()}" in first
    assert "up to date" in ok(run_gisgrid("init", "--store", pg_url))
    for layer in ("townships", "villages", "grids", "households"):
        # the fixture's net is partial (level-2 grids in one village only): its gaps are
        # findings, let through as the planner would with --allow-findings
        extra = ("--allow-findings",) if layer == "grids" else ()
        ok(run_gisgrid("import", layer, write_input(layer), "--store", pg_url, *extra))
    listing = ok(run_gisgrid("layers", "--store", pg_url))
    assert re.search(r"households\W+农户\W+9\b", listing), listing
    exported = tmp_path / "out" / "grids.geojson"
    assert "exported 10 grids" in ok(run_gisgrid("export", "grids", exported, "--store", pg_url))
    store = PostGISStore(pg_url)
    try:
        back = LAYERS["grids"].validate(gpd.read_file(exported))
        assert_same(store.read("grids"), back)
        before = table_digest(pg_url)
        bad = households_geojson(tmp_path / "bad.geojson", 1500, bad=1000)
        assert "feature #1000" in refused(
            run_gisgrid("import", "households", bad, "--store", pg_url), 4
        )
        assert table_digest(pg_url) == before
        # GISGRID_STORE works as well as --store
        listing = ok(run_gisgrid("layers", store=pg_url))  # type: ignore[arg-type]
        assert re.search(r"households\W+农户\W+9\b", listing), listing
    finally:
        store.close()


def test_cli_on_an_unreachable_server(run_gisgrid: Run) -> None:
    text = refused(run_gisgrid("layers", "--store", "postgresql://nobody:pw@127.0.0.1:1/x"), 5)
    assert "cannot connect to the PostGIS store postgresql://nobody:***@127.0.0.1:1/x" in text


def test_cli_demo_into_postgis_equals_the_geopackage(
    pg_url: str, run_gisgrid: Run, tmp_path: Path
) -> None:
    """The same demo into PostGIS and into a GeoPackage: every layer (grid codes included)
    and the check report come out the same."""
    gpkg = tmp_path / "county.gpkg"
    for store_arg, out in ((pg_url, "pg"), (str(gpkg), "gpkg")):
        text = ok(run_gisgrid("demo", "--store", store_arg, "--households", "5000", "--out", out))
        assert "sample county written to" in text
    store = PostGISStore(pg_url)
    embedded = open_store(str(gpkg))
    try:
        assert store.count("households") == 5000
        assert store.count("grids", where={"level": 3}) == 2860
        manifest = store.get_meta("sample_manifest")
        assert manifest["households"] == 5000
        assert manifest == embedded.get_meta("sample_manifest")
        for name in LAYERS:
            assert_same(embedded.read(name), store.read(name))
        assert store.read("households")["grid_code"].notna().sum() > 4900
    finally:
        store.close()
    reports = []
    for store_arg in (pg_url, str(gpkg)):
        result = run_gisgrid("check", "--json", "--store", store_arg)
        ok(result)
        report = json.loads(result.stdout)
        del report["meta"]["seconds"]
        reports.append(report)
    assert reports[0] == reports[1]


def test_cli_init_on_a_geopackage_has_nothing_to_do(run_gisgrid: Run, tmp_path: Path) -> None:
    text = ok(run_gisgrid("init", "--store", tmp_path / "county.gpkg"))
    assert "needs no set-up" in text
    assert not (tmp_path / "county.gpkg").exists()
