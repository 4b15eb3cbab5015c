"""The PostGIS store: a PostgreSQL database with PostGIS, one table per layer.

The layers live in the schema ``gisgrid`` (``gisgrid.townships``, ``gisgrid.grids``, …), next
to whatever else the database holds. Columns follow the layer declarations; boundaries are
``geometry(MultiPolygon, 4326)``, places ``geometry(Point, 4326)``, each with a GiST index.
The database enforces what it can: valid boundaries (``ST_IsValid``), unique keys, grid
levels 1 to 3, well-formed codes, and the references between layers as foreign keys checked
at commit (so one write may replace several layers in any order).

**Schema.** Created and upgraded by the numbered migrations in ``sql/migrations/``
(:meth:`PostGISStore.init`, the ``gisgrid init`` command), recorded in
``gisgrid.schema_version``. A store that is not initialised reads as empty and refuses writes
with a message saying to run ``gisgrid init``; so does one whose schema is older than this
gisgrid (``gisgrid init`` upgrades it and keeps the data).

**Writes** are one transaction each: every layer of the call (``DELETE`` then ``COPY`` for
``replace``, ``COPY`` for ``append``) and the metadata, all or nothing. Rows go in by binary
``COPY`` (geometries as EWKB), never row by row. One gisgrid writer at a time (an advisory
lock, like the GeoPackage store's lock file); readers never wait, except while an
assignment refills a layer's grid codes (a second or two for a million points).

**Grid codes** of the point layers (households, service points, incidents) are kept apart,
in ``<layer>_grid`` tables (fid, grid_code); reads go through the views ``<layer>_with_grid``
that join them in, so the layer reads exactly as the exchange format has it.
:meth:`PostGISStore.assign_in_database` fills them inside one transaction: the points (as
one binary value) and the level-3 grids come out,
:class:`~gisgrid.analysis.assign.GridIndex` decides by the rule of
:mod:`gisgrid.analysis.assign`, and only what changes goes back by binary COPY (or, for a few
rows, one DELETE and one INSERT). The points' own rows are never rewritten.

All SQL is in ``sql/queries.sql`` and ``sql/migrations/``; values are bound as parameters and
identifiers quoted by :func:`ident`, the one helper that does it.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolTimeout

from gisgrid import __version__
from gisgrid import crs as crsmod
from gisgrid.analysis.assign import GridIndex
from gisgrid.errors import ConfigError, StoreConstraintError, StoreError
from gisgrid.layers import LAYERS, get_layer
from gisgrid.layers.schema import Field, FieldType, Layer
from gisgrid.stores.base import BBox, Where, WriteMode, layers_to_write

#: the PostgreSQL schema holding gisgrid's tables (the SQL files name it too)
SCHEMA = "gisgrid"
#: the column holding a spatial layer's geometry
GEOMETRY_COLUMN = "geom"
SRID = 4326
#: binary COPY type of each declared field type (the migrations create these column types)
COPY_TYPES: dict[FieldType, str] = {
    "str": "text",
    "int": "int4",
    "float": "float8",
    "bool": "bool",
    "date": "date",
    "datetime": "timestamp",
}
#: the point layers that carry a ``grid_code`` filled by assignment
ASSIGNABLE_LAYERS = tuple(
    name
    for name, decl in LAYERS.items()
    if decl.geometry_type == "Point" and "grid_code" in decl.columns
)
#: advisory lock keys ("gisgrid" in ASCII, plus 1 for migrations, 2 for writes)
_LOCK_MIGRATIONS = 0x67697367726964_01
_LOCK_WRITES = 0x67697367726964_02

_SQL_DIR = resources.files("gisgrid.stores.postgis") / "sql"
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


# --- SQL: the one identifier helper, the named queries, the migrations ----------------------


def ident(*names: str) -> sql.Identifier:
    """The one place identifiers are quoted: ``ident("gisgrid", "grids")`` → ``"gisgrid"."grids"``.

    Names come from the layer declarations, never from user input.
    """
    return sql.Identifier(*names)


def table(layer: str) -> sql.Identifier:
    """The schema-qualified table of a declared layer."""
    get_layer(layer)
    return ident(SCHEMA, layer)


def grid_table(layer: str) -> sql.Identifier:
    """The table of a point layer's grid codes, ``<layer>_grid`` (fid, grid_code)."""
    if layer not in ASSIGNABLE_LAYERS:
        raise ConfigError(f"{layer} has no grid codes")
    return ident(SCHEMA, f"{layer}_grid")


def source(layer: str) -> sql.Identifier:
    """What reads of a layer select from: the table, or for a point layer with grid codes
    the view ``<layer>_with_grid`` that joins them in."""
    get_layer(layer)
    return ident(SCHEMA, f"{layer}_with_grid" if layer in ASSIGNABLE_LAYERS else layer)


@functools.cache
def _queries() -> dict[str, str]:
    text = (_SQL_DIR / "queries.sql").read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = re.fullmatch(r"--\s*name:\s*(\w+)\s*", line)
        if match:
            current = found.setdefault(match.group(1), [])
            continue
        if current is not None and not line.startswith("--"):
            current.append(line)
    return {name: "\n".join(lines).strip().rstrip(";") for name, lines in found.items()}


def query(name: str, **parts: sql.Composable) -> sql.SQL | sql.Composed:
    """The query ``name`` of ``sql/queries.sql`` with its ``{placeholders}`` filled by ``parts``."""
    template = sql.SQL(_queries()[name])
    return template.format(**parts) if parts else template


@dataclass(frozen=True)
class Migration:
    """One file of ``sql/migrations/``: ``NNNN_name.sql`` brings the schema to version NNNN."""

    version: int
    name: str
    text: str


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """The migrations shipped with this gisgrid, in order (versions 1, 2, … without gaps)."""
    found = []
    for entry in (_SQL_DIR / "migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            text = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), text))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"gisgrid's migrations are not numbered 1, 2, …: {found}")
    return tuple(found)


def latest_version() -> int:
    """The schema version this gisgrid works with: its newest migration."""
    return migrations()[-1].version


@dataclass(frozen=True)
class InitResult:
    """What :meth:`PostGISStore.init` did: the versions before and after, migrations applied."""

    before: int
    after: int
    applied: tuple[str, ...]


# --- values in and out -----------------------------------------------------------------------


def redact(url: str) -> str:
    """The URL with its password replaced by ``***`` (for messages and ``Store.url``)."""
    parts = urlsplit(url)
    query_items = parse_qsl(parts.query, keep_blank_values=True)
    in_query = any(k == "password" for k, _ in query_items)
    if parts.password is None and not in_query:
        return url
    netloc = parts.netloc
    if parts.password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = parts.query
    if in_query:
        items = [(k, "***" if k == "password" else v) for k, v in query_items]
        query = urlencode(items, safe="*")
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def _column_values(values: pd.Series, f: Field) -> list[Any]:
    """A canonical column as Python values for COPY (``None`` for missing)."""
    if f.type == "str":
        return [None if v is None or v is pd.NA else str(v) for v in values.tolist()]
    if f.type in ("int", "bool"):
        return list(values.astype(object).where(values.notna(), None))
    if f.type == "float":
        return values.astype(object).where(values.notna(), None).tolist()
    present = values.notna().to_numpy()
    items = values.dt.date.tolist() if f.type == "date" else list(values.dt.to_pydatetime())
    return [v if ok else None for v, ok in zip(items, present, strict=True)]


#: a 2D point as EWKB, little endian, with SRID: the bytes PostGIS' binary input takes
_EWKB_POINT = np.dtype(
    [("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")]
)


def _ewkb(geoms: Any) -> list[bytes | None]:
    """Geometries as 2D EWKB with SRID 4326 (``None`` stays ``None``)."""
    arr = np.asarray(geoms, dtype=object)
    n = len(arr)
    if n and not shapely.is_missing(arr).any():
        types = shapely.get_type_id(arr)
        if (types == 0).all() and not shapely.is_empty(arr).any():
            # points: build the 25 bytes of each directly, far faster than to_wkb
            xy = shapely.get_coordinates(arr)
            rec = np.empty(n, dtype=_EWKB_POINT)
            rec["order"] = 1
            rec["type"] = 0x20000001  # Point with the SRID flag
            rec["srid"] = SRID
            rec["x"] = xy[:, 0]
            rec["y"] = xy[:, 1]
            raw = rec.tobytes()
            size = _EWKB_POINT.itemsize
            return [raw[i : i + size] for i in range(0, len(raw), size)]
    flat = shapely.set_srid(shapely.force_2d(arr), SRID)
    return list(shapely.to_wkb(flat, include_srid=True))


def _copy_rows(
    decl: Layer, frame: pd.DataFrame, *, omit: Sequence[str] = ()
) -> tuple[list[str], list[str], Iterable[Any]]:
    """Columns, binary COPY types and rows of a canonical frame (without the ``omit`` ones)."""
    fields = [f for f in decl.fields if f.name not in omit]
    columns = [f.name for f in fields]
    types = [COPY_TYPES[f.type] for f in fields]
    values = [_column_values(frame[f.name], f) for f in fields]
    if decl.spatial:
        columns.append(GEOMETRY_COLUMN)
        types.append("bytea")  # EWKB bytes, read by geometry's binary input
        values.append(_ewkb(frame.geometry.values))
    return columns, types, zip(*values, strict=True)


def _param(f: Field, value: Any) -> Any:
    """A ``where`` value as the Python type of its column."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return None
    if f.type == "str":
        return str(value)
    if f.type == "int":
        return int(value)
    if f.type == "float":
        return float(value)
    if f.type == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes", "y", "t", "是", "真")
        return bool(value)
    ts = pd.Timestamp(value)
    return ts.date() if f.type == "date" else ts.to_pydatetime()


def _condition(
    decl: Layer, where: Where | None, bbox: BBox | None
) -> tuple[sql.SQL | sql.Composed, list[Any]]:
    """A WHERE condition and its parameters from column → value(s) and a bounding box."""
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for column, value in (where or {}).items():
        f = decl.field(column)  # KeyError for undeclared columns: never a name from outside
        name = ident(column)
        if value is None:
            parts.append(query("is_null", column=name))
        elif isinstance(value, list | tuple | set | frozenset):
            if not value:
                parts.append(query("never"))
            else:
                parts.append(query("equals_any", column=name))
                params.append([_param(f, v) for v in value])
        else:
            parts.append(query("equals", column=name))
            params.append(_param(f, value))
    if bbox is not None and decl.spatial:
        parts.append(query("in_bbox"))
        params.extend(float(v) for v in bbox)
    if not parts:
        return query("always"), params
    return sql.SQL(" AND ").join(parts), params


_EXPLANATIONS = (
    ("_geom_valid", "a geometry is invalid or empty (ST_IsValid)"),
    ("_fkey", "it refers to a feature that is not in the store"),
    ("_level_range", "a grid level must be 1, 2 or 3"),
    ("_code_format", "a code is malformed or does not extend its parent's"),
    ("_members", "members must be 1 to 50 and elderly at most members"),
    ("_valid_dates", "valid_to is before valid_from"),
    ("_key", "a key is already taken (keys are unique)"),
)


def _refusal(exc: psycopg.errors.IntegrityError) -> str:
    """A plain message for a constraint the data broke."""
    diag = exc.diag
    name = diag.constraint_name or ""
    why = next((text for suffix, text in _EXPLANATIONS if name.endswith(suffix)), "")
    if isinstance(exc, psycopg.errors.NotNullViolation):
        why = f"a required value is missing ({diag.column_name})"
    detail = (diag.message_detail or "").strip()
    if len(detail) > 200:
        detail = detail[:200] + " …"
    where = f"{diag.table_name}: " if diag.table_name else ""
    text = f"{where}{why or diag.message_primary}"
    if name:
        text += f" [constraint {name}]"
    if detail:
        text += f"; {detail}"
    return text


# --- points out, answers back: fixed-width binary data built and parsed with numpy -------------

#: one point as ``points_out`` sends it (int8send is big endian, ST_AsBinary NDR little)
_POINT_RECORD = np.dtype(
    [("fid", ">i8"), ("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")]
)
#: one grid code as ``grid_codes_out`` sends it
_CODE_RECORD = np.dtype([("fid", ">i8"), ("code", ">i8")])
#: a (fid bigint, grid_code text of 18 digits) row of binary COPY input
_GRID_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("fid", ">i8"), ("l2", ">i4"), ("code", "S18")])


def _records(count: int, data: bytes | None, dtype: np.dtype) -> np.ndarray:
    """``count`` fixed-width records sent as one value."""
    data = data or b""
    if len(data) != count * dtype.itemsize:
        raise StoreError(f"unexpected answer from the database: {len(data)} bytes for {count}")
    return np.frombuffer(data, dtype=dtype)


@dataclass(frozen=True)
class _Points:
    """A point layer as ``points_out`` sends it: fid, x, y."""

    fid: np.ndarray
    x: np.ndarray
    y: np.ndarray


def _parse_points(count: int, data: bytes | None) -> _Points:
    """The ``points_out`` query's answer (``count`` records) as arrays."""
    rows = _records(count, data, _POINT_RECORD)
    if count and not ((rows["order"] == 1).all() and (rows["type"] == 1).all()):
        raise StoreError("unexpected answer from the database: not 2D points")
    return _Points(
        rows["fid"].astype(np.int64), rows["x"].astype(np.float64), rows["y"].astype(np.float64)
    )


def _current_codes(
    fid: np.ndarray, count: int, data: bytes | None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``grid_codes_out`` answer aligned with the points ``fid``: each point's current
    code as a number (-1: none), and the fids of codes whose point is gone."""
    rows = _records(count, data, _CODE_RECORD)
    code_fid, code = rows["fid"].astype(np.int64), rows["code"].astype(np.int64)
    current = np.full(len(fid), -1, dtype=np.int64)
    order = np.argsort(fid, kind="stable")
    at = np.minimum(np.searchsorted(fid[order], code_fid), max(len(fid) - 1, 0))
    found = fid[order][at] == code_fid if len(fid) else np.zeros(len(code_fid), dtype=bool)
    current[order[at[found]]] = code[found]
    return current, code_fid[~found]


def _codes_as_numbers(codes: Sequence[str]) -> np.ndarray:
    """18-digit level-3 codes as int64 (they fit: below 2**63), checked to round-trip."""
    if any(len(c) != 18 or not c.isdigit() for c in codes):
        raise StoreError("a level-3 grid code is not 18 digits: run `gisgrid init`")
    return np.asarray([int(c) for c in codes], dtype=np.int64)


def _grid_rows_payload(fid: np.ndarray, code: np.ndarray) -> bytes:
    """Binary COPY input of ``<layer>_grid`` rows: fids and their codes.

    ``code`` holds 18-byte strings (``S18``), checked by :func:`_codes_as_numbers` before.
    """
    rows = np.empty(len(fid), dtype=_GRID_ROW)
    rows["n"] = 2
    rows["l1"] = 8
    rows["fid"] = fid
    rows["l2"] = 18
    rows["code"] = code
    header = _COPY_SIGNATURE + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    return header + rows.tobytes() + b"\xff\xff"


# --- the store ---------------------------------------------------------------------------------


class PostGISStore:
    """A PostgreSQL + PostGIS database as a :class:`~gisgrid.stores.base.Store`.

    Parameters
    ----------
    url
        A libpq URL, ``postgresql://user:password@host:port/database`` (any libpq parameter
        may follow as ``?sslmode=require`` and so on). :attr:`url` shows it without password.
    max_connections
        Size limit of the connection pool (psycopg_pool), opened on first use.
    """

    def __init__(self, url: str, *, max_connections: int = 4) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"a PostGIS store URL starts with postgresql://, not {url!r}")
        self._conninfo = url
        self.url = redact(url)
        self._max_connections = max_connections
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._ready = False  # the schema was found at the current version
        self._finalizer: weakref.finalize | None = None

    def __repr__(self) -> str:
        return f"PostGISStore({self.url!r})"

    # connections ------------------------------------------------------------------------------
    def _open_pool(self) -> ConnectionPool:
        with self._pool_lock:  # threads of the web app may ask at once
            if self._pool is None:
                self._pool = self._new_pool()
            return self._pool

    def _new_pool(self) -> ConnectionPool:
        try:  # one direct connection first: a clear error at once instead of a pool timeout
            psycopg.connect(self._conninfo, connect_timeout=10).close()
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise StoreError(f"cannot connect to the PostGIS store {self.url}: {reason}") from exc
        pool = ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=self._max_connections,
            kwargs={"application_name": "gisgrid", "connect_timeout": 10},
            check=ConnectionPool.check_connection,
            name="gisgrid",
            open=False,
        )
        pool.open(wait=True, timeout=30)
        self._finalizer = weakref.finalize(self, pool.close)
        return pool

    @contextlib.contextmanager
    def _connection(self, doing: str) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; database errors become :class:`StoreError` saying ``doing``."""
        pool = self._open_pool()
        try:
            with pool.connection() as conn:
                yield conn
        except StoreError:
            raise
        except psycopg.errors.IntegrityError as exc:
            raise StoreConstraintError(
                f"the store {self.url} refused the data, nothing was written: {_refusal(exc)}"
            ) from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(
                f"{doing} {self.url}: the database role lacks a privilege: "
                f"{exc.diag.message_primary} (see the README, section PostGIS)"
            ) from exc
        except (psycopg.Error, PoolTimeout) as exc:
            reason = " ".join(str(exc).split())
            raise StoreError(f"{doing} {self.url} failed: {reason}") from exc

    def close(self) -> None:
        """Close the connection pool (a later call opens a new one)."""
        with self._pool_lock:
            if self._finalizer is not None:
                self._finalizer()
                self._finalizer = None
            self._pool = None

    # schema -------------------------------------------------------------------------------
    @staticmethod
    def _version_of(conn: psycopg.Connection[Any]) -> int | None:
        row = conn.execute(query("version_table_exists")).fetchone()
        if row is None or not row[0]:
            return None
        found = conn.execute(query("schema_version")).fetchone()
        return int(found[0]) if found else 0

    def schema_version(self) -> int | None:
        """The version of the store's schema; ``None`` when it is not initialised."""
        with self._connection("reading the schema version of") as conn:
            return self._version_of(conn)

    def _usable(self, conn: psycopg.Connection[Any], *, writing: bool) -> bool:
        """Whether the schema is there (and current); raises when it is outdated or newer."""
        if self._ready:
            return True
        version = self._version_of(conn)
        latest = latest_version()
        if version is None or version == 0:
            if writing:
                raise StoreError(
                    f"the store {self.url} has no gisgrid schema yet: "
                    f"run `gisgrid init --store URL` first"
                )
            return False
        if version < latest:
            raise StoreError(
                f"the store {self.url} has schema version {version}; this gisgrid needs "
                f"{latest}: run `gisgrid init --store URL` to upgrade it (the data are kept)"
            )
        if version > latest:
            raise StoreError(
                f"the store {self.url} has schema version {version}, newer than this gisgrid "
                f"knows ({latest}): upgrade gisgrid"
            )
        self._ready = True
        return True

    def init(self, *, target: int | None = None) -> InitResult:
        """Create or upgrade the schema: apply the migrations not applied yet, in order.

        Idempotent: on a current schema it changes nothing. All migrations of one call run in
        one transaction (PostgreSQL's DDL is transactional): a failure leaves the schema as
        it was. Creates the ``postgis`` extension when it is missing and the role may.

        Parameters
        ----------
        target
            Stop at this version (default: the newest this gisgrid ships; for tests).

        Raises
        ------
        StoreError
            Without PostGIS (and the right to create it), without the privilege to create
            the schema or its tables, or when the schema is newer than this gisgrid.
        """
        goal = latest_version() if target is None else target
        if not 0 <= goal <= latest_version():
            raise ConfigError(
                f"no schema version {goal}: this gisgrid knows 1 to {latest_version()}"
            )
        with self._connection("initialising") as conn, conn.transaction():
            conn.execute(query("lock_migrations"), (_LOCK_MIGRATIONS,))
            self._ensure_postgis(conn)
            schema_row = conn.execute(query("schema_exists")).fetchone()
            if not (schema_row and schema_row[0]):
                conn.execute(query("create_schema"))
            before = self._version_of(conn)
            if before is None:
                conn.execute(query("create_version_table"))
                before = 0
            if before > latest_version():
                raise StoreError(
                    f"the store {self.url} has schema version {before}, newer than this "
                    f"gisgrid knows ({latest_version()}): upgrade gisgrid"
                )
            applied = []
            for migration in migrations():
                if before < migration.version <= goal:
                    try:
                        conn.execute(migration.text.encode("utf-8"))
                    except psycopg.errors.IntegrityError as exc:
                        raise StoreError(
                            f"upgrading {self.url} to schema version {migration.version} "
                            f"stopped, nothing was changed: data already in the store break "
                            f"one of its rules: {_refusal(exc)}"
                        ) from exc
                    conn.execute(
                        query("record_migration"),
                        (migration.version, migration.name, __version__),
                    )
                    applied.append(f"{migration.version:04d}_{migration.name}")
            after = max(before, goal) if applied else before
        self._ready = False
        return InitResult(before=before, after=after, applied=tuple(applied))

    def _ensure_postgis(self, conn: psycopg.Connection[Any]) -> None:
        if conn.execute(query("postgis_version")).fetchone():
            return
        try:
            with conn.transaction():
                conn.execute(query("create_postgis"))
        except psycopg.Error as exc:
            database = conn.info.dbname
            raise StoreError(
                f"the database {database!r} has no PostGIS and this role cannot add it "
                f"({exc.diag.message_primary}): a superuser must run "
                f"`CREATE EXTENSION postgis;` in it (Debian: install postgresql-15-postgis-3)"
            ) from exc

    # reading --------------------------------------------------------------------------------
    def layer_names(self) -> list[str]:
        """The layers whose tables exist (all of them once the store is initialised)."""
        with self._connection("reading") as conn:
            if not self._usable(conn, writing=False):
                return []
            present = {str(r[0]) for r in conn.execute(query("layer_tables")).fetchall()}
        return [name for name in LAYERS if name in present]

    def read(
        self,
        layer: str,
        *,
        bbox: BBox | None = None,
        where: Where | None = None,
        columns: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        decl = get_layer(layer)
        wanted = decl.columns if columns is None else [c for c in decl.columns if c in columns]
        condition, params = _condition(decl, where, bbox)
        selected: list[sql.Composable] = [ident(c) for c in wanted]
        if decl.spatial:
            selected.append(query("geometry_wkb"))
        if not selected:
            selected.append(ident("fid"))
        statement = query(
            "select_layer",
            columns=sql.SQL(", ").join(selected),
            table=source(layer),
            condition=condition,
        )
        with self._connection(f"reading {layer} from") as conn:
            if not self._usable(conn, writing=False):
                rows: list[tuple[Any, ...]] = []
            else:
                rows = conn.execute(statement, params).fetchall()
        data: dict[str, Any] = {name: [r[i] for r in rows] for i, name in enumerate(wanted)}
        if decl.spatial:
            wkb = np.asarray([r[len(wanted)] for r in rows], dtype=object)
            geoms = shapely.from_wkb(wkb) if len(wkb) else np.empty(0, dtype=object)
            frame: pd.DataFrame = gpd.GeoDataFrame(
                data, geometry=gpd.GeoSeries(geoms, crs=crsmod.STORAGE_CRS)
            )
        else:
            frame = pd.DataFrame(data, index=pd.RangeIndex(len(rows)))
        out = decl.conform(frame)
        if columns is not None:
            keep = [c for c in out.columns if c in set(columns) or c == "geometry"]
            out = out[keep]
        return out

    def count(self, layer: str, *, where: Where | None = None) -> int:
        decl = get_layer(layer)
        condition, params = _condition(decl, where, None)
        statement = query("count_layer", table=source(layer), condition=condition)
        with self._connection(f"counting {layer} in") as conn:
            if not self._usable(conn, writing=False):
                return 0
            row = conn.execute(statement, params).fetchone()
        return int(row[0]) if row else 0

    def get_meta(self, key: str) -> Any:
        with self._connection("reading metadata from") as conn:
            if not self._usable(conn, writing=False):
                return None
            row = conn.execute(query("get_meta"), (key,)).fetchone()
        return None if row is None else row[0]

    # writing --------------------------------------------------------------------------------
    def write(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        mode: WriteMode = "replace",
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        decls = layers_to_write(frames, mode)
        try:
            with self._connection("writing to") as conn, conn.transaction():
                self._usable(conn, writing=True)
                self._lock_writes(conn)
                for name in LAYERS:  # load order: a layer only refers to layers before it
                    if name not in frames:
                        continue
                    decl = decls[name]
                    frame = decl.conform(frames[name])
                    with_grid = name in ASSIGNABLE_LAYERS
                    omit = ("grid_code",) if with_grid else ()
                    columns, types, rows = _copy_rows(decl, frame, omit=omit)
                    if mode == "replace":
                        if with_grid:
                            conn.execute(query("delete_layer", table=grid_table(name)))
                        conn.execute(query("delete_layer", table=table(name)))
                    statement = query(
                        "copy_layer",
                        table=table(name),
                        columns=sql.SQL(", ").join(ident(c) for c in columns),
                    )
                    with conn.cursor() as cur, cur.copy(statement) as copy:
                        copy.set_types(types)
                        for row in rows:
                            copy.write_row(row)
                    if with_grid:
                        self._write_grid_codes(conn, decl, frame)
                for key, value in (meta or {}).items():
                    conn.execute(query("put_meta"), (key, Jsonb(value)))
        except (StoreError, StoreConstraintError):
            raise
        except Exception as exc:  # a value that cannot be sent (encoding, type): nothing written
            raise StoreError(f"writing to {self.url} failed, nothing was changed: {exc}") from exc

    def _lock_writes(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(query("try_lock_writes"), (_LOCK_WRITES,)).fetchone()
        if not (row and row[0]):
            raise StoreError(f"another gisgrid process is writing to {self.url}")

    # assignment ------------------------------------------------------------------------------
    @staticmethod
    def _write_grid_codes(conn: psycopg.Connection[Any], decl: Layer, frame: pd.DataFrame) -> None:
        """The grid codes a written frame brings (an import that has them), by its key."""
        have = frame["grid_code"].notna().to_numpy()
        if not have.any():
            return
        (key,) = decl.key
        grid, rows = grid_table(decl.name), table(decl.name)
        conn.execute(
            query("insert_grid_codes", grid=grid, table=rows, key=ident(key)),
            (
                [str(v) for v in frame[key].to_numpy()[have]],
                [str(v) for v in frame["grid_code"].to_numpy()[have]],
            ),
        )

    def assign_in_database(self, layer: str) -> int:
        """Fill ``grid_code`` of every feature of ``layer`` from the level-3 grids.

        The rule of :mod:`gisgrid.analysis.assign`, exactly: a grid covers a point inside it or
        on its boundary; of several, the smallest code wins; none gives NULL. One transaction
        (repeatable read, holding the writer lock): the points (fid, x, y, all in one binary
        value), their current codes (the same way) and the level-3 grids come out;
        :class:`~gisgrid.analysis.assign.GridIndex`
        decides, the engine proven equal to the reference (PostGIS' own point-in-polygon
        shortcut for ``ST_Covers`` is not robust and decides a few points on edges
        differently); only what changes goes back, to the layer's ``<layer>_grid`` table.
        When a sixteenth of the points or more change (a first assignment, new grids in
        many villages) that table is emptied and refilled by one binary COPY; otherwise the
        changed rows are deleted and inserted anew. The points' own rows are never written.

        Parameters
        ----------
        layer
            ``households``, ``incidents`` or ``service_points``.

        Returns
        -------
        int
            How many features got a grid (the others got NULL).
        """
        if layer not in ASSIGNABLE_LAYERS:
            get_layer(layer)
            raise ConfigError(
                f"only {', '.join(ASSIGNABLE_LAYERS)} are assigned to grids, not {layer}"
            )
        grid = grid_table(layer)
        with self._connection(f"assigning {layer} in") as conn, conn.transaction():
            conn.execute(query("repeatable_read"))
            self._usable(conn, writing=True)
            self._lock_writes(conn)
            index = self._grid_index(conn)
            with conn.cursor() as cur:
                row = cur.execute(query("points_out", table=table(layer)), binary=True).fetchone()
                points = _parse_points(*(row or (0, None)))
                row = cur.execute(query("grid_codes_out", grid=grid), binary=True).fetchone()
                current, stray = _current_codes(points.fid, *(row or (0, None)))
            rank = index.lookup(points.x, points.y).rank
            numbers = np.r_[_codes_as_numbers(index.codes.tolist()), -1]
            text = np.r_[np.asarray(index.codes, dtype="S18"), np.array([b""], dtype="S18")]
            new = numbers[rank]  # rank -1: the last entry, no grid
            changed = np.flatnonzero(new != current)
            # measured on a million: a refill costs about 1 µs a point, changing rows one by
            # one about 17-20 µs a changed row; refill from a sixteenth of the points on
            if len(changed) * 16 >= len(new) and len(changed):
                self._refill_grid_codes(
                    conn, layer, _grid_rows_payload(points.fid[rank >= 0], text[rank[rank >= 0]])
                )
            elif len(changed) or len(stray):
                gone = np.r_[points.fid[changed], stray]
                conn.execute(query("delete_grid_codes", grid=grid), (gone.tolist(),))
                has = changed[rank[changed] >= 0]
                conn.execute(
                    query("insert_grid_rows", grid=grid),
                    (points.fid[has].tolist(), [c.decode() for c in text[rank[has]].tolist()]),
                )
        return int((rank >= 0).sum())

    @staticmethod
    def _refill_grid_codes(conn: psycopg.Connection[Any], layer: str, payload: bytes) -> None:
        """Replace all grid codes of ``layer`` by the binary COPY ``payload``.

        TRUNCATE, not DELETE: no dead rows left in the table and its index. A role that owns
        the table also drops its primary key during the COPY and builds it anew, twice as
        fast as keeping it up to date row by row (PostgreSQL's advice for bulk loads).
        """
        grid = grid_table(layer)
        pkey = ident(f"{layer}_grid_pkey")
        found = conn.execute(query("owns"), (f"{SCHEMA}.{layer}_grid",)).fetchone()
        owner = bool(found and found[0])
        conn.execute(query("truncate_grid", grid=grid))
        if owner:
            conn.execute(query("drop_primary_key", grid=grid, constraint=pkey))
        with conn.cursor() as cur, cur.copy(query("copy_grid", grid=grid)) as copy:
            copy.write(payload)
        if owner:
            conn.execute(query("add_primary_key", grid=grid, constraint=pkey))

    @staticmethod
    def _grid_index(conn: psycopg.Connection[Any]) -> GridIndex:
        """The level-3 grids of the store as a :class:`~gisgrid.analysis.assign.GridIndex`."""
        rows = conn.execute(query("level3_grids")).fetchall()
        grids = gpd.GeoDataFrame(
            {"code": [str(r[0]) for r in rows]},
            geometry=gpd.GeoSeries(
                shapely.from_wkb(np.asarray([r[1] for r in rows], dtype=object))
                if rows
                else np.empty(0, dtype=object),
                crs=crsmod.STORAGE_CRS,
            ),
        )
        return GridIndex.from_grids(grids)
