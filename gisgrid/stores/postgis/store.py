"""The PostGIS store: a PostgreSQL database with PostGIS, one table per layer.

The layers live in the schema ``gisgrid`` (``gisgrid.townships``, ``gisgrid.grids``, …), next
to whatever else the database holds. Columns follow the layer declarations; boundaries are
``geometry(MultiPolygon, 4326)``, places ``geometry(Point, 4326)``, each with a GiST index.
The database enforces what it can: valid boundaries (``ST_IsValid``), unique keys, grid
levels 1 to 3, well-formed codes, and the references between layers as foreign keys checked
at commit (so one write may replace several layers in any order).

**Schema**: :mod:`.schema` (numbered migrations, ``gisgrid init``).

**Writes** are one transaction each: every layer of the call (``DELETE`` then ``COPY`` for
``replace``, ``COPY`` for ``append``) and the metadata, all or nothing. Rows go in by binary
``COPY`` (geometries as EWKB, the data built with numpy, :mod:`.codecs`), never row by row.
A replace of many rows (``GISGRID_PG_BULK_ROWS``) of a layer no other table refers to goes
in bulk: ``TRUNCATE``, the table's keys, references and indexes dropped, ``COPY``, then
built anew from the database's own definitions and checked over all rows, ``ANALYZE``
(:meth:`PostGISStore._replace_in_bulk`). One gisgrid writer at a time (an advisory lock,
like the GeoPackage store's lock file); readers never wait, except while an assignment
refills a layer's grid codes (a second or two for a million points) or a bulk replace
loads the layer they read.

**Grid codes** of the point layers (households, service points, incidents) are kept apart,
in ``<layer>_grid`` tables (fid, grid_code); reads go through the views ``<layer>_with_grid``
that join them in, so the layer reads exactly as the exchange format has it.
:meth:`PostGISStore.assign_grid_codes` fills them in one transaction: the level-3 grids and
the points (one binary value a layer) come out, the decision passed in by the analysis
answers, and only what changes goes back by binary COPY (or, for a few rows, one DELETE and
one INSERT). The points' own rows are never rewritten.

**Accounts, sessions, API tokens and the audit log**: :attr:`PostGISStore.ledger`
(:mod:`.ledger`), in the tables of migration 0004; the audit log is append-only.

**Change sets**: :attr:`PostGISStore.change_sets` (:mod:`.changesets`), in the tables of
migration 0007; their edits and events are append-only.

**Case photos**: :attr:`PostGISStore.case_photos` (:mod:`.photos`), in the table of
migration 0011; append-only.

All SQL is in ``sql/queries.sql`` and ``sql/migrations/`` (:mod:`.queries`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool, PoolClosed, PoolTimeout

from gisgrid import crs as crsmod
from gisgrid.errors import ConfigError, GisgridError, StoreConstraintError, StoreError
from gisgrid.layers import ASSIGNED_LAYERS, LAYERS, get_layer
from gisgrid.layers.schema import Layer
from gisgrid.settings import PostGISSettings
from gisgrid.stores.base import (
    APPEND_ONLY_LAYERS,
    BBox,
    GridCodesWritten,
    GridDecision,
    GridPublication,
    InitResult,
    LayerCodes,
    LayerPoints,
    Where,
    Window,
    WriteCheck,
    WriteMode,
    asked_columns,
    history_to_add,
    layers_to_assign,
    layers_to_write,
    unassigned_keys,
)
from gisgrid.stores.changeset_records import UNDER_REVIEW
from gisgrid.stores.postgis.changesets import PostGISChangeSets, move_change_set
from gisgrid.stores.postgis.codecs import (
    codes_as_numbers,
    copy_payload,
    copy_rows,
    current_codes,
    grid_rows_payload,
    grids_frame,
    parse_points,
)
from gisgrid.stores.postgis.ledger import PostGISLedger
from gisgrid.stores.postgis.photos import PostGISPhotos
from gisgrid.stores.postgis.queries import (
    LOCK_SERVER_WRITES,
    LOCK_WRITES,
    SCHEMA,
    catalog_definition,
    condition,
    grid_table,
    ident,
    query,
    refusal,
    source,
    table,
)
from gisgrid.stores.postgis.schema import check_usable, init_schema, version_of

log = logging.getLogger(__name__)


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


#: seconds after a failed connection during which other uses fail at once with its error
RETRY_AFTER = 1.0


class PostGISStore:
    """A PostgreSQL + PostGIS database as a :class:`~gisgrid.stores.base.Store`.

    Parameters
    ----------
    url
        A libpq URL, ``postgresql://user:password@host:port/database`` (any libpq parameter
        may follow as ``?sslmode=require`` and so on). :attr:`url` shows it without password.
    max_connections
        Size limit of the connection pool (psycopg_pool), opened on first use.
    settings
        Connection timeouts (default: from ``GISGRID_PG_*``, :class:`PostGISSettings`).

    Notes
    -----
    While the server is down, every use fails within seconds with :class:`StoreError` (one
    connection attempt, ``connect_timeout``); pooled connections are tested before use, and
    a pool whose connections broke is retired, so the first use after the server is back
    connects afresh: nothing needs restarting.
    """

    def __init__(
        self, url: str, *, max_connections: int = 4, settings: PostGISSettings | None = None
    ) -> None:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(f"a PostGIS store URL starts with postgresql://, not {url!r}")
        self._conninfo = url
        self.url = redact(url)
        self._max_connections = max_connections
        self._settings = settings or PostGISSettings()
        self._pool: ConnectionPool | None = None
        self._pool_lock = threading.Lock()
        self._ready = False  # the schema was found at the current version
        self._finalizer: weakref.finalize | None = None
        self._last_failure: tuple[float, str] | None = None  # when opening a pool failed, why
        #: the connection that listens for announced writes (:meth:`wait_for_change`)
        self._listener: psycopg.Connection[Any] | None = None
        self._ledger = PostGISLedger(self)
        self._change_sets = PostGISChangeSets(self)
        self._photos = PostGISPhotos(self)

    def __repr__(self) -> str:
        return f"PostGISStore({self.url!r})"

    # connections ------------------------------------------------------------------------------
    def _connect_options(self) -> dict[str, Any]:
        """libpq parameters of every connection; those the URL names are left to it."""
        given = conninfo_to_dict(self._conninfo)
        options: dict[str, Any] = {
            "application_name": "gisgrid",
            "connect_timeout": self._settings.connect_timeout,
            "tcp_user_timeout": int(self._settings.tcp_user_timeout * 1000),
        }
        return {k: v for k, v in options.items() if k not in given}

    def _open_pool(self, *, probe: bool = False) -> ConnectionPool:
        """The pool, opened if need be. A failed attempt makes the requests of the next
        moment fail at once with its message; a ``probe`` (the web app's background look at
        the data version) does not: it must not fail a request made just after the server
        came back."""
        with self._pool_lock:  # threads of the web app may ask at once
            if self._pool is None:
                # threads that queued here behind a failed attempt fail with it, instead of
                # each waiting out its own connect timeout (a host that drops packets)
                if self._last_failure is not None:
                    failed_at, message = self._last_failure
                    if time.monotonic() - failed_at < RETRY_AFTER:
                        raise StoreError(message)
                try:
                    self._pool = self._new_pool()
                except StoreError as exc:
                    if not probe:
                        self._last_failure = (time.monotonic(), str(exc))
                    raise
                self._last_failure = None
            return self._pool

    def _new_pool(self) -> ConnectionPool:
        options = self._connect_options()
        try:  # one direct connection first: a clear error at once instead of a pool timeout
            psycopg.connect(self._conninfo, **options).close()
        except psycopg.Error as exc:
            reason = " ".join(str(exc).split())
            raise StoreError(f"cannot connect to the PostGIS store {self.url}: {reason}") from exc
        pool = ConnectionPool(
            self._conninfo,
            min_size=1,
            max_size=self._max_connections,
            kwargs=options,
            # no check= here: _live_connection tests a connection itself, so that a dead
            # server fails the request at once instead of the pool retrying until timeout
            timeout=self._settings.pool_timeout,
            name="gisgrid",
            open=False,
        )
        try:
            pool.open(wait=True, timeout=self._settings.pool_timeout)
        except PoolTimeout as exc:
            raise StoreError(
                f"cannot connect to the PostGIS store {self.url}: no connection within "
                f"{self._settings.pool_timeout:g} s"
            ) from exc
        self._finalizer = weakref.finalize(self, pool.close)
        return pool

    def _retire(self, pool: ConnectionPool) -> None:
        """Stop using ``pool`` (its connections broke): the next use opens a new one."""
        with self._pool_lock:
            if self._pool is not pool:
                return  # another thread retired it already
            self._pool = None
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
        # closing waits for the pool's workers (a reconnection attempt may be under way):
        # not on the request's time; connections in use close when they are given back
        threading.Thread(target=pool.close, name="gisgrid-pool-close", daemon=True).start()

    def _live_connection(
        self, *, probe: bool = False
    ) -> tuple[ConnectionPool, psycopg.Connection[Any]]:
        """A pooled connection that answers, or :class:`StoreError` within seconds.

        A connection that fails the test means the server went away (or came back since):
        the pool is retired and a new one tried once, which connects directly first.
        """
        for _attempt in range(2):
            pool = self._open_pool(probe=probe)
            try:
                conn = pool.getconn()
            except PoolClosed:
                continue  # retired by another thread while this one waited: take the new one
            except PoolTimeout as exc:
                raise StoreError(
                    f"the PostGIS store {self.url} is busy: no free connection within "
                    f"{self._settings.pool_timeout:g} s"
                ) from exc
            try:
                ConnectionPool.check_connection(conn)
            except psycopg.Error:
                pool.putconn(conn)  # broken: the pool discards it
                self._retire(pool)
                continue
            return pool, conn
        raise StoreError(
            f"cannot connect to the PostGIS store {self.url}: connections keep breaking"
        )

    @contextlib.contextmanager
    def _connection(self, doing: str, *, probe: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """A pooled connection; database errors become :class:`StoreError` saying ``doing``."""
        pool, conn = self._live_connection(probe=probe)
        try:
            try:
                with conn:  # commit on success, roll back on error, as pool.connection() does
                    yield conn
            finally:
                pool.putconn(conn)
        except StoreError:
            raise
        except psycopg.errors.IntegrityError as exc:
            raise StoreConstraintError(
                f"the store {self.url} refused the data, nothing was written: {refusal(exc)}"
            ) from exc
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(
                f"{doing} {self.url}: the database role lacks a privilege: "
                f"{exc.diag.message_primary} (see docs/county-it.md, section PostGIS)"
            ) from exc
        except psycopg.Error as exc:
            if conn.broken:  # the server went away mid-request: start afresh next time
                self._retire(pool)
            reason = " ".join(str(exc).split())
            raise StoreError(f"{doing} {self.url} failed: {reason}") from exc

    def close(self) -> None:
        """Close the connection pool and the listening connection (a later call opens new
        ones)."""
        with self._pool_lock:
            if self._finalizer is not None:
                self._finalizer()
                self._finalizer = None
            self._pool = None
        self._stop_listening()

    @property
    def ledger(self) -> PostGISLedger:
        """Accounts, sessions, API tokens and the audit log, in this database (migration
        0004; :mod:`.ledger`)."""
        return self._ledger

    @property
    def change_sets(self) -> PostGISChangeSets:
        """The change sets, in this database (migration 0007; :mod:`.changesets`)."""
        return self._change_sets

    @property
    def case_photos(self) -> PostGISPhotos:
        """The photos of the cases' steps, in this database (migration 0011; :mod:`.photos`)."""
        return self._photos

    @property
    def path(self) -> None:
        """A database lives in no file of its own."""
        return None

    # schema -------------------------------------------------------------------------------
    def schema_version(self) -> int | None:
        """The version of the store's schema; ``None`` when it is not initialised."""
        with self._connection("reading the schema version of") as conn:
            return version_of(conn)

    def _usable(self, conn: psycopg.Connection[Any], *, writing: bool) -> bool:
        """Whether the schema is there (and current); raises when it is outdated or newer."""
        if self._ready:
            return True
        self._ready = check_usable(conn, self.url, writing=writing)
        return self._ready

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
        with self._connection("initialising") as conn, conn.transaction():
            result = init_schema(conn, self.url, target=target)
        self._ready = False
        return result

    def data_version(self) -> str:
        """The counter bumped by the triggers of migration 0005 on every write of the layers
        (gisgrid, QGIS or SQL alike), with its row's transaction id; ``"none"`` without a
        schema. One tiny query (``SELECT gisgrid.data_version()``)."""
        with self._connection("reading the data version of", probe=True) as conn:
            if not self._usable(conn, writing=False):
                return "none"
            row = conn.execute(query("data_version")).fetchone()
        return str(row[0]) if row else "none"

    @contextlib.contextmanager
    def writers_turn(self) -> Iterator[None]:
        """A session advisory lock, waited for on a pooled connection held meanwhile: the
        processes of ``gisgrid serve`` (workers, machines) write one after the other; the
        write itself takes its own connection and the writers' lock as ever."""
        with self._connection("waiting for the turn to write to") as conn:
            conn.execute(query("wait_server_writes"), (LOCK_SERVER_WRITES,))
            conn.commit()  # the lock is the session's: no transaction held open meanwhile
            try:
                yield
            finally:
                if not conn.broken:
                    conn.execute(query("end_server_writes"), (LOCK_SERVER_WRITES,))

    def wait_for_change(self, timeout: float) -> bool:
        """Wait at most ``timeout`` seconds for ``NOTIFY gisgrid_data``: the triggers of
        migration 0013 send it when a transaction that wrote the layers or metadata commits
        (one per transaction, whoever wrote: gisgrid, QGIS, psql).

        Listens on a connection of its own, outside the pool, opened at the first call and
        again after it broke (PostgreSQL restarted): having just (re)opened it answers
        ``True`` at once, since a write meanwhile was not announced. While the server is
        down, waits ``timeout`` and answers ``False`` (nothing logged above debug: the
        requests say it). TCP keepalives find a server gone from the network within a
        minute. One thread calls it (the web app's watcher).
        """
        conn = self._listener
        if conn is None or conn.closed or conn.broken:
            self._stop_listening()
            options = {
                **self._connect_options(),
                "application_name": "gisgrid-listen",
                "keepalives_idle": 20,
                "keepalives_interval": 5,
                "keepalives_count": 4,
            }
            given = conninfo_to_dict(self._conninfo)
            started = time.monotonic()
            try:
                conn = psycopg.connect(
                    self._conninfo,
                    autocommit=True,
                    **{k: v for k, v in options.items() if k not in given},
                )
                conn.execute(query("listen_data"))
            except psycopg.Error as exc:
                log.debug("gisgrid: cannot listen for writes to %s: %s", self.url, exc)
                time.sleep(max(0.0, timeout - (time.monotonic() - started)))
                return False
            self._listener = conn
            return True
        try:
            for _ in conn.notifies(timeout=timeout, stop_after=1):
                return True
        except psycopg.Error as exc:  # the server went away: listen again next time
            log.debug("gisgrid: listening for writes to %s stopped: %s", self.url, exc)
            self._stop_listening()
            return True
        return False

    def _stop_listening(self) -> None:
        conn, self._listener = self._listener, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

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
        window: Window | None = None,
    ) -> pd.DataFrame:
        decl = get_layer(layer)
        wanted = decl.columns if columns is None else [c for c in decl.columns if c in columns]
        where_sql, params = condition(decl, where, bbox)
        selected: list[sql.Composable] = [ident(c) for c in wanted]
        if decl.spatial:
            selected.append(query("geometry_wkb"))
        if not selected:
            selected.append(ident("fid"))
        statement = query(
            # with a window, only its page, in the order of a whole read (fid)
            "select_layer" if window is None else "select_layer_page",
            columns=sql.SQL(", ").join(selected),
            table=source(layer),
            condition=where_sql,
        )
        with self._connection(f"reading {layer} from") as conn:
            if not self._usable(conn, writing=False):
                rows: list[tuple[Any, ...]] = []
            else:
                if window is not None:
                    params = [*params, max(window.limit, 0), window.offset]
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
        return asked_columns(out, columns)

    def count(self, layer: str, *, where: Where | None = None, bbox: BBox | None = None) -> int:
        decl = get_layer(layer)
        where_sql, params = condition(decl, where, bbox)
        statement = query("count_layer", table=source(layer), condition=where_sql)
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
        check: WriteCheck | None = None,
    ) -> None:
        """Write as one transaction, holding the writer lock (see the module's docstring).

        With the lock held (so every other gisgrid write has committed or rolled back),
        ``check`` runs. An append of a stored key breaks the layer's unique key in this
        transaction: a :class:`~gisgrid.errors.StoreConstraintError` naming the key.
        """
        decls = layers_to_write(frames, mode)
        try:
            with self._connection("writing to") as conn, conn.transaction():
                self._usable(conn, writing=True)
                self._lock_writes(conn)
                if check is not None:
                    check(self)  # reads on other connections: they see what is committed
                for name in LAYERS:  # load order: a layer only refers to layers before it
                    if name not in frames:
                        continue
                    decl = decls[name]
                    frame = decl.conform(frames[name])
                    history = name in APPEND_ONLY_LAYERS
                    if history and mode == "replace":  # the stored versions stand, never deleted
                        frame = history_to_add(decl, frame, self._stored_keys(conn, decl, frame))
                    if mode == "replace" and not history:
                        if self._in_bulk(conn, name, len(frame)):
                            self._replace_in_bulk(conn, decl, frame)
                            continue
                        if name in ASSIGNED_LAYERS:
                            conn.execute(query("delete_layer", table=grid_table(name)))
                        conn.execute(query("delete_layer", table=table(name)))
                    self._copy_in(conn, decl, frame)
                for key, value in (meta or {}).items():
                    conn.execute(query("put_meta"), (key, Jsonb(value)))
        except GisgridError:  # already says what went wrong (a refusal is not a StoreError)
            raise
        except Exception as exc:  # a value that cannot be sent (encoding, type): nothing written
            raise StoreError(f"writing to {self.url} failed, nothing was changed: {exc}") from exc

    def _in_bulk(self, conn: psycopg.Connection[Any], layer: str, rows: int) -> bool:
        """Whether a replace of ``layer`` by ``rows`` rows goes in bulk: many rows
        (``GISGRID_PG_BULK_ROWS``), a table this role may alter and no other table's
        foreign key refers to (it is truncated)."""
        if rows < self._settings.bulk_rows:
            return False
        name = f"{SCHEMA}.{layer}"
        owns = conn.execute(query("owns"), (name,)).fetchone()
        if not (owns and owns[0]):
            return False
        referenced = conn.execute(query("referenced_by"), (name,)).fetchone()
        return not (referenced and referenced[0])

    def _replace_in_bulk(
        self, conn: psycopg.Connection[Any], decl: Layer, frame: pd.DataFrame
    ) -> None:
        """Replace every row of a layer as PostgreSQL advises for bulk loads, in the write's
        transaction: empty the table (and its grid codes) by TRUNCATE, drop its keys,
        references and indexes, COPY the rows in (frozen), build the keys, indexes and
        references anew from the database's own definitions (each checked over all rows
        at once: a broken one refuses the whole write), then ANALYZE. Check and not-null
        constraints stay in place. The table is locked (ACCESS EXCLUSIVE) until the
        write commits: readers of this layer wait for it, a few seconds for a million rows.
        """
        name = f"{SCHEMA}.{decl.name}"
        target = table(decl.name)
        rebuilds = conn.execute(query("bulk_rebuilds"), (name, name)).fetchall()
        emptied = [grid_table(decl.name), target] if decl.name in ASSIGNED_LAYERS else [target]
        conn.execute(query("truncate_tables", tables=sql.SQL(", ").join(emptied)))
        checks = conn.execute(query("checks_on_referenced"), (name,)).fetchall()
        if checks:
            # rows of the tables referred to, written earlier in this write, are checked
            # now; a check that fails now might still pass at commit (a later layer of the
            # write mends it): then this layer goes in row by row, as ever
            pending = sql.SQL(", ").join(ident(schema, c) for schema, c, _ in checks)
            try:
                with conn.transaction():  # a savepoint
                    conn.execute(query("checks_now", constraints=pending))
            except psycopg.errors.IntegrityError:
                self._copy_in(conn, decl, frame)
                return
        for kind, obj, _ in reversed(rebuilds):
            if kind == "constraint":
                conn.execute(query("drop_constraint", table=target, constraint=ident(obj)))
            else:
                conn.execute(query("drop_index", index=ident(SCHEMA, obj)))
        self._copy_in(conn, decl, frame, frozen=True)
        for kind, obj, definition in rebuilds:
            text = catalog_definition(definition)
            if kind == "constraint":
                conn.execute(
                    query("add_constraint", table=target, constraint=ident(obj), definition=text)
                )
            else:
                conn.execute(text)
        deferred = [(schema, c) for schema, c, at_commit in checks if at_commit]
        if deferred:
            restore = sql.SQL(", ").join(ident(schema, c) for schema, c in deferred)
            conn.execute(query("checks_at_commit", constraints=restore))
        conn.execute(query("analyze", table=target))

    def _copy_in(
        self,
        conn: psycopg.Connection[Any],
        decl: Layer,
        frame: pd.DataFrame,
        *,
        frozen: bool = False,
    ) -> None:
        """Add the rows of ``frame`` (canonical) to the table of ``decl`` by binary COPY, and
        the grid codes they bring to the layer's ``<layer>_grid``; ``frozen`` when the table
        was emptied by TRUNCATE in this transaction."""
        with_grid = decl.name in ASSIGNED_LAYERS
        omit = ("grid_code",) if with_grid else ()
        packed = copy_payload(decl, frame, omit=omit)
        if packed is not None:
            columns, chunks = packed
        else:
            columns, types, rows = copy_rows(decl, frame, omit=omit)
        statement = query(
            "copy_layer_frozen" if frozen else "copy_layer",
            table=table(decl.name),
            columns=sql.SQL(", ").join(ident(c) for c in columns),
        )
        with conn.cursor() as cur, cur.copy(statement) as copy:
            if packed is not None:
                for chunk in chunks:
                    copy.write(chunk)
            else:
                copy.set_types(types)
                for row in rows:
                    copy.write_row(row)
        if with_grid:
            self._write_grid_codes(conn, decl, frame)

    @staticmethod
    def _stored_keys(
        conn: psycopg.Connection[Any], decl: Layer, like: pd.DataFrame
    ) -> pd.DataFrame:
        """The key columns of the stored rows of ``decl``, typed like those of ``like``."""
        keys = list(decl.key)
        statement = query(
            "select_columns",
            columns=sql.SQL(", ").join(ident(k) for k in keys),
            table=table(decl.name),
        )
        rows = conn.execute(statement).fetchall()
        stored = pd.DataFrame(rows, columns=keys) if rows else pd.DataFrame(columns=keys)
        return stored.astype({k: like[k].dtype for k in keys})

    def _lock_writes(self, conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(query("try_lock_writes"), (LOCK_WRITES,)).fetchone()
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

    def assign_grid_codes(
        self, decide: GridDecision, *, layers: Sequence[str] = ASSIGNED_LAYERS
    ) -> GridCodesWritten:
        """Set ``grid_code`` of every point of ``layers`` as ``decide`` says, in one transaction.

        Repeatable read, holding the writer lock: the level-3 grids, and each layer's points
        (fid, x, y, all in one binary value) and current codes (the same way) come out;
        ``decide`` answers; only what changes goes back, to the layer's ``<layer>_grid``
        table. When a sixteenth of a layer's points or more change (a first assignment, new
        grids in many villages) that table is emptied and refilled by one binary COPY;
        otherwise the changed rows are deleted and inserted anew. Codes whose point is gone
        are dropped. The points' own rows are never written.
        """
        wanted = layers_to_assign(layers)
        with self._connection("assigning grid codes in") as conn, conn.transaction():
            started = time.perf_counter()
            conn.execute(query("repeatable_read"))
            self._usable(conn, writing=True)
            self._lock_writes(conn)
            return self._reassign(conn, decide, wanted, started=started)

    def publish_grids(
        self,
        publication: GridPublication,
        decide: GridDecision,
        *,
        check: WriteCheck | None = None,
        layers: Sequence[str] = ASSIGNED_LAYERS,
    ) -> GridCodesWritten:
        """Publish new grid versions and reassign the points in one database transaction.

        Holding the writer lock: ``check`` runs (on other connections: it sees what is
        committed); the change set (when given) moves from ``submitted`` to ``published``,
        its row locked until the end; the stored rows of the publication's codes are
        deleted and its rows copied in; the archive is copied into ``grid_versions``
        (append-only: a version already archived breaks its unique key); then the points
        are reassigned as :meth:`assign_grid_codes` does, on the grids as this transaction
        now has them. Any error (a refusal of the database, an exception of ``check`` or
        ``decide``) rolls all of it back.
        """
        wanted = layers_to_assign(layers)
        grids_decl, versions_decl = get_layer("grids"), get_layer("grid_versions")
        new = grids_decl.conform(publication.grids)
        archive = versions_decl.conform(publication.archive)
        with self._connection("publishing grids in") as conn, conn.transaction():
            started = time.perf_counter()
            self._usable(conn, writing=True)
            self._lock_writes(conn)
            if check is not None:
                check(self)
            if publication.change_set is not None:
                move_change_set(
                    conn,
                    publication.change_set,
                    from_statuses=UNDER_REVIEW,
                    to="published",
                    actor=publication.actor,
                    action="published",
                    published_on=publication.published_on,
                )
            codes = [str(c) for c in new["code"]]
            conn.execute(query("delete_grids_by_code"), (codes,))
            try:
                self._copy_in(conn, grids_decl, new)
                self._copy_in(conn, versions_decl, archive)
            except (TypeError, ValueError) as exc:  # a value that cannot be sent
                raise StoreError(
                    f"publishing to {self.url} failed, nothing was changed: {exc}"
                ) from exc
            return self._reassign(conn, decide, wanted, started=started)

    def _reassign(
        self,
        conn: psycopg.Connection[Any],
        decide: GridDecision,
        wanted: Sequence[str],
        *,
        started: float,
    ) -> GridCodesWritten:
        """Decide the points of ``wanted`` on the level-3 grids as ``conn``'s transaction has
        them (every version: grids and grid_versions) and write the codes that change."""
        grids = grids_frame(conn.execute(query("level3_grids")).fetchall())
        codes = grids["code"].tolist()
        numbers = np.r_[codes_as_numbers(codes), -1]  # -1, the last entry: no grid
        text = np.r_[np.asarray(codes, dtype="S18"), np.array([b""], dtype="S18")]
        points: dict[str, LayerPoints] = {}
        current: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        with conn.cursor() as cur:
            for layer in wanted:
                grid = grid_table(layer)
                row = cur.execute(query("points_out", table=table(layer)), binary=True)
                found = parse_points(*(row.fetchone() or (0, None)))
                row = cur.execute(query("grid_codes_out", grid=grid), binary=True)
                current[layer] = current_codes(found.fid, *(row.fetchone() or (0, None)))
                points[layer] = found
        read_seconds = time.perf_counter() - started
        t = time.perf_counter()
        chosen = decide(grids, points)
        decide_seconds = time.perf_counter() - t
        t = time.perf_counter()
        results = []
        for layer in wanted:
            fid = points[layer].fid
            position = np.asarray(chosen[layer], dtype=np.int64)
            if position.shape != fid.shape:
                raise StoreError(f"the decision answered {len(position)} of {len(fid)} {layer}")
            changed = self._write_changed_codes(
                conn, layer, fid, position, numbers, text, *current[layer]
            )
            missing = fid[position < 0]
            results.append(
                LayerCodes(
                    layer=layer,
                    features=len(fid),
                    assigned=len(fid) - len(missing),
                    unassigned=self._keys_of(conn, layer, missing),
                    changed=changed,
                )
            )
        write_seconds = time.perf_counter() - t
        return GridCodesWritten(
            grids=len(grids),
            layers=tuple(results),
            read_seconds=read_seconds,
            decide_seconds=decide_seconds,
            write_seconds=write_seconds,
        )

    def _write_changed_codes(
        self,
        conn: psycopg.Connection[Any],
        layer: str,
        fid: np.ndarray,
        position: np.ndarray,
        numbers: np.ndarray,
        text: np.ndarray,
        current: np.ndarray,
        stray: np.ndarray,
    ) -> int:
        """Write the codes of ``layer`` that differ from ``current``; how many changed."""
        grid = grid_table(layer)
        new = numbers[position]
        changed = np.flatnonzero(new != current)
        # measured on a million: a refill costs about 1 µs a point, changing rows one by
        # one about 17-20 µs a changed row; refill from a sixteenth of the points on
        if len(changed) * 16 >= len(new) and len(changed):
            some = position >= 0
            payload = grid_rows_payload(fid[some], text[position[some]])
            self._refill_grid_codes(conn, layer, payload)
        elif len(changed) or len(stray):
            gone = np.r_[fid[changed], stray]
            conn.execute(query("delete_grid_codes", grid=grid), (gone.tolist(),))
            has = changed[position[changed] >= 0]
            conn.execute(
                query("insert_grid_rows", grid=grid),
                (fid[has].tolist(), [c.decode() for c in text[position[has]].tolist()]),
            )
        return len(changed)

    @staticmethod
    def _keys_of(conn: psycopg.Connection[Any], layer: str, fid: np.ndarray) -> tuple[str, ...]:
        """The keys of the features ``fid`` of ``layer``, sorted."""
        if not len(fid):
            return ()
        (key,) = get_layer(layer).key
        statement = query("keys_of", key=ident(key), table=table(layer))
        return unassigned_keys([r[0] for r in conn.execute(statement, (fid.tolist(),))])

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
