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
lock, like the GeoPackage store's lock file); readers never wait.

**Assignment** (:meth:`PostGISStore.assign_in_database`) fills ``grid_code`` of a point layer
inside one transaction: the points (as one binary value) and the level-3 grids come out, the
rule of :mod:`gisgrid.assign` decides with GEOS (:func:`assign_covering`), and the answer goes
back by binary COPY and one set-based ``UPDATE`` of the rows that change.

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
from gisgrid.errors import ConfigError, StoreError
from gisgrid.layers import LAYERS, get_layer
from gisgrid.layers.schema import Field, FieldType, Layer
from gisgrid.stores.base import BBox, Where, WriteMode

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

_SQL_DIR = resources.files("gisgrid.stores") / "sql"
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


class StoreConstraintError(StoreError):
    """The database refused the data: a rule of its schema (key, reference, validity)."""

    exit_code = 4


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


def _copy_rows(decl: Layer, frame: pd.DataFrame) -> tuple[list[str], list[str], Iterable[Any]]:
    """Columns, binary COPY types and rows of a canonical frame."""
    columns = list(decl.columns)
    types = [COPY_TYPES[f.type] for f in decl.fields]
    values = [_column_values(frame[f.name], f) for f in decl.fields]
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
    [("fid", ">i8"), ("code", ">i8"), ("order", "u1"), ("type", "<u4"), ("x", "<f8"),
     ("y", "<f8")]
)  # fmt: skip
#: a (fid bigint, code bigint) row of binary COPY input
_ASSIGN_ROW = np.dtype(
    [("n", ">i2"), ("l1", ">i4"), ("fid", ">i8"), ("l2", ">i4"), ("code", ">i8")]
)


@dataclass(frozen=True)
class _Points:
    """A point layer as ``points_out`` sends it: fid, current grid code (-1: none), x, y."""

    fid: np.ndarray
    code: np.ndarray
    x: np.ndarray
    y: np.ndarray


def _parse_points(count: int, data: bytes | None) -> _Points:
    """The ``points_out`` query's answer (``count`` records) as arrays."""
    size = _POINT_RECORD.itemsize
    data = data or b""
    if len(data) != count * size:
        raise StoreError(f"unexpected answer from the database: {len(data)} bytes for {count}")
    rows = np.frombuffer(data, dtype=_POINT_RECORD)
    if count and not ((rows["order"] == 1).all() and (rows["type"] == 1).all()):
        raise StoreError("unexpected answer from the database: not 2D points")
    return _Points(
        rows["fid"].astype(np.int64),
        rows["code"].astype(np.int64),
        rows["x"].astype(np.float64),
        rows["y"].astype(np.float64),
    )


def _assignment_payload(fid: np.ndarray, code: np.ndarray) -> bytes:
    """Binary COPY input of (fid, code) rows; code -1 stands for no grid."""
    rows = np.empty(len(fid), dtype=_ASSIGN_ROW)
    rows["n"] = 2
    rows["l1"] = 8
    rows["fid"] = fid
    rows["l2"] = 8
    rows["code"] = code
    header = _COPY_SIGNATURE + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    return header + rows.tobytes() + b"\xff\xff"


def _codes_as_numbers(codes: Sequence[str]) -> np.ndarray:
    """18-digit level-3 codes as int64 (they fit: below 2**63), checked to round-trip."""
    if any(len(c) != 18 or not c.isdigit() for c in codes):
        raise StoreError("a level-3 grid code is not 18 digits: run `gisgrid init`")
    return np.asarray([int(c) for c in codes], dtype=np.int64)


def _box_candidates(
    x: np.ndarray, y: np.ndarray, bounds: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (point, grid) pair whose point lies in the grid's closed bounding box.

    A raster of square cells over the boxes: each box lists the cells it touches, each point
    looks in its own cell. A point on a box's edge falls in a cell of that box: both cell
    numbers come from the same (monotonic) arithmetic on the same coordinate.
    """
    x0, y0, x1, y1 = bounds.T
    ox, oy = float(x0.min()), float(y0.min())
    side = max(float(np.median(y1 - y0)), float(np.median(x1 - x0)), 1e-6)
    nx = int((float(x1.max()) - ox) / side) + 1
    ny = int((float(y1.max()) - oy) / side) + 1

    def cell_x(v: np.ndarray) -> np.ndarray:
        return np.floor((v - ox) / side).astype(np.int64)

    def cell_y(v: np.ndarray) -> np.ndarray:
        return np.floor((v - oy) / side).astype(np.int64)

    # the cells of each box, grouped by cell
    ix0, ix1, iy0, iy1 = cell_x(x0), cell_x(x1), cell_y(y0), cell_y(y1)
    width = ix1 - ix0 + 1
    per_box = width * (iy1 - iy0 + 1)
    box = np.repeat(np.arange(len(bounds)), per_box)
    local = np.arange(len(box)) - np.repeat(np.cumsum(per_box) - per_box, per_box)
    cell = (np.repeat(iy0, per_box) + local // np.repeat(width, per_box)) * nx + (
        np.repeat(ix0, per_box) + local % np.repeat(width, per_box)
    )
    order = np.argsort(cell, kind="stable")
    box_of = box[order]
    start = np.searchsorted(cell[order], np.arange(nx * ny + 1))
    # each point against the boxes of its cell
    inside = (x >= ox) & (x <= x1.max()) & (y >= oy) & (y <= y1.max())
    pts = np.flatnonzero(inside)
    pcell = cell_y(y[pts]) * nx + cell_x(x[pts])
    first, count = start[pcell], start[pcell + 1] - start[pcell]
    pt = np.repeat(pts, count)
    offset = np.arange(len(pt)) - np.repeat(np.cumsum(count) - count, count)
    grid = box_of[np.repeat(first, count) + offset]
    keep = (x[pt] >= x0[grid]) & (x[pt] <= x1[grid]) & (y[pt] >= y0[grid]) & (y[pt] <= y1[grid])
    return pt[keep], grid[keep]


def assign_covering(x: np.ndarray, y: np.ndarray, grids: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Position in ``grids`` of the grid each point (x, y) goes to, -1 where none covers it.

    The rule of :mod:`gisgrid.assign`: a grid covers a point inside it or on its boundary;
    of several, the first in ``grids`` wins, so pass them sorted by code (smallest first).
    For a point, *covers* is *intersects*. Candidates are the points in each grid's closed
    bounding box (:func:`_box_candidates`); then each grid, prepared once, tests its
    candidates with GEOS (robust predicates: exact on edges and vertices).
    """
    geoms = np.asarray(grids, dtype=object)
    out = np.full(len(x), -1, dtype=np.int64)
    if len(x) == 0 or len(geoms) == 0:
        return out
    bounds = shapely.bounds(geoms)
    usable = np.flatnonzero(np.isfinite(bounds).all(axis=1))
    finite = np.isfinite(x) & np.isfinite(y)
    if len(usable) == 0 or not finite.any():
        return out
    pt, box = _box_candidates(
        np.where(finite, x, np.inf), np.where(finite, y, np.inf), bounds[usable]
    )
    grid = usable[box]
    order = np.argsort(grid, kind="stable")
    pt, grid = pt[order], grid[order]
    starts = np.flatnonzero(np.r_[True, grid[1:] != grid[:-1]])
    ends = np.r_[starts[1:], len(grid)]
    # largest position first: a smaller one (a smaller code) covering the point overwrites it
    for a, b in zip(starts[::-1].tolist(), ends[::-1].tolist(), strict=True):
        geom = geoms[grid[a]]
        shapely.prepare(geom)
        members = pt[a:b]
        hit = shapely.intersects_xy(geom, x[members], y[members])
        out[members[hit]] = grid[a]
    return out


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
            table=table(layer),
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
        statement = query("count_layer", table=table(layer), condition=condition)
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
        if mode not in ("replace", "append"):
            raise StoreError(f"unknown write mode {mode!r}")
        decls = {name: get_layer(name) for name in frames}
        try:
            with self._connection("writing to") as conn, conn.transaction():
                self._usable(conn, writing=True)
                self._lock_writes(conn)
                for name in LAYERS:  # load order: a layer only refers to layers before it
                    if name not in frames:
                        continue
                    decl = decls[name]
                    columns, types, rows = _copy_rows(decl, decl.conform(frames[name]))
                    if mode == "replace":
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
                for key, value in (meta or {}).items():
                    conn.execute(query("put_meta"), (key, Jsonb(value)))
        except StoreError:
            raise
        except Exception as exc:  # a value that cannot be sent (encoding, type): nothing written
            raise StoreError(f"writing to {self.url} failed, nothing was changed: {exc}") from exc

    def _lock_writes(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(query("try_lock_writes"), (_LOCK_WRITES,)).fetchone()
        if not (row and row[0]):
            raise StoreError(f"another gisgrid process is writing to {self.url}")

    # assignment ------------------------------------------------------------------------------
    def assign_in_database(self, layer: str) -> int:
        """Fill ``grid_code`` of every feature of ``layer`` from the level-3 grids.

        The rule of :mod:`gisgrid.assign`, exactly: a grid covers a point inside it or on its
        boundary; of several, the smallest code wins; none gives NULL. One transaction
        (repeatable read, holding the writer lock): the points (``fid``, x, y, all in one
        binary value) and the level-3 grids come out, the decision is :func:`assign_covering`
        (GEOS, robust on edges and vertices — PostGIS' own point-in-polygon shortcut for
        ``ST_Covers`` is not, and decides a few points on edges differently), the answer goes
        back by binary COPY into a temporary table and one ``UPDATE`` of the rows whose grid
        changes. The point layers keep room on their pages, so that update happens in place.

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
        target = table(layer)
        with self._connection(f"assigning {layer} in") as conn, conn.transaction():
            conn.execute(query("repeatable_read"))
            self._usable(conn, writing=True)
            self._lock_writes(conn)
            grid_rows = conn.execute(query("level3_grids")).fetchall()
            numbers = _codes_as_numbers([str(r[0]) for r in grid_rows])
            grids = shapely.from_wkb(np.asarray([r[1] for r in grid_rows], dtype=object))
            with conn.cursor() as cur:
                found = cur.execute(query("points_out", table=target), binary=True).fetchone()
                count, data = (int(found[0]), found[1]) if found else (0, None)
                points = _parse_points(count, data)
                k = assign_covering(points.x, points.y, grids)
                new = np.where(k >= 0, numbers[np.maximum(k, 0)], -1) if len(numbers) else k
                changed = new != points.code
                if changed.any():  # only the rows whose grid changes go back
                    conn.execute(query("create_assignment"))
                    with cur.copy(query("copy_assignment")) as copy:
                        copy.write(_assignment_payload(points.fid[changed], new[changed]))
                    conn.execute(query("analyze_assignment"))
                    conn.execute(query("apply_assignment", table=target))
        return int((k >= 0).sum())
