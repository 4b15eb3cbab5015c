"""The embedded store: one GeoPackage file, one table per layer, readable by QGIS and ogrinfo.

Writes are transactions by copy-on-write: the new state is written into a copy of the file
beside it (``.NAME.PID.tmp.gpkg``), flushed to disk, and then atomically replaces the
original (``os.replace``, the folder flushed after it): when a write returns, it is on disk.
A failed write removes the copy and leaves the original untouched, byte for byte. A lock file
(``.NAME.gpkg.lock``, ``flock``) serialises writers; a second writer is refused at once,
readers never block. Everything a write decides on is read under that lock: an append's
keys, the caller's :class:`~gisgrid.stores.base.WriteCheck`, an assignment's points.

A writer killed mid-write leaves its copy (and SQLite's ``-journal`` of it) behind; only a
lock holder makes copies, so whoever holds the lock next removes every copy it finds: each
write does, and opening the store does when no writer is busy.

Accounts, sessions, API tokens and the audit log (:attr:`GeoPackageStore.ledger`) are not in
the GeoPackage but in ``NAME.access.sqlite`` beside it (:mod:`gisgrid.stores.sqlite_ledger`);
the change sets (:attr:`GeoPackageStore.change_sets`) in ``NAME.changes.sqlite``
(:mod:`gisgrid.stores.sqlite_changesets`); the photos of cases
(:attr:`GeoPackageStore.case_photos`) in ``NAME.photos.sqlite``
(:mod:`gisgrid.stores.sqlite_photos`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import re
import shutil
import sqlite3
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gisgrid import crs as crsmod
from gisgrid.errors import NotFoundError, StoreError
from gisgrid.layers import ASSIGNED_LAYERS, get_layer
from gisgrid.layers.schema import Layer
from gisgrid.stores.base import (
    APPEND_ONLY_LAYERS,
    GRID_DECISION_COLUMNS,
    BBox,
    GridCodesWritten,
    GridDecision,
    GridPublication,
    InitResult,
    LayerCodes,
    LayerPoints,
    Span,
    Where,
    Window,
    WriteCheck,
    WriteMode,
    asked_columns,
    history_to_add,
    layers_to_assign,
    layers_to_write,
    refuse_stored_keys,
    unassigned_keys,
)
from gisgrid.stores.changeset_records import UNDER_REVIEW, moved_meanwhile
from gisgrid.stores.sqlite_changesets import SQLiteChangeSets, changes_path
from gisgrid.stores.sqlite_ledger import SQLiteLedger, ledger_path
from gisgrid.stores.sqlite_photos import SQLitePhotos, photos_path

META_TABLE = "gisgrid_meta"


def sql_literal(value: object) -> str:
    """An OGR SQL literal for a value; strings have their quotes doubled."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def where_clause(layer_name: str, where: Where | None) -> str | None:
    """An OGR SQL filter from column → value(s); columns must be declared by the layer."""
    if not where:
        return None
    layer = get_layer(layer_name)
    parts = []
    for column, value in where.items():
        f = layer.field(column)  # KeyError for undeclared columns: never a name from outside
        name = '"' + column + '"'
        literal = sql_literal
        # dates and times are text in a GeoPackage ('2024-03-01T09:30:00.000' as GDAL writes
        # them, '2024-03-01' as other tools may): compared as SQLite dates and times, not text
        if f.type == "date":
            name, literal = f"date({name})", _date_literal
        elif f.type == "datetime":
            name, literal = f"julianday({name})", _datetime_literal
        if value is None:
            parts.append(f"{name} IS NULL")
        elif isinstance(value, Span):
            parts.append(f"{name} IS NOT NULL")
            if value.start is not None:
                parts.append(f"{name} >= {literal(value.start)}")
            if value.end is not None:
                parts.append(f"{name} <= {literal(value.end)}")
        elif isinstance(value, list | tuple | set | frozenset):
            if not value:
                parts.append("0 = 1")
            else:
                parts.append(f"{name} IN ({', '.join(literal(v) for v in value)})")
        else:
            parts.append(f"{name} = {literal(value)}")
    return " AND ".join(parts)


def _date_literal(value: object) -> str:
    return sql_literal(pd.Timestamp(value).strftime("%Y-%m-%d"))  # type: ignore[arg-type]


def _datetime_literal(value: object) -> str:
    stamp = pd.Timestamp(value).isoformat(sep=" ")  # type: ignore[arg-type]
    return f"julianday({sql_literal(stamp)})"


class GeoPackageStore:
    """A GeoPackage file as a :class:`~gisgrid.stores.base.Store`.

    Parameters
    ----------
    path
        The ``.gpkg`` file; created on first write.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.url = str(self.path)
        if self.path.exists() and not self.path.is_file():
            raise StoreError(f"{self.path} is not a file")
        self._ledger = SQLiteLedger(ledger_path(self.path))
        self._change_sets = SQLiteChangeSets(
            changes_path(self.path), published=self._published_change_sets
        )
        self._photos = SQLitePhotos(photos_path(self.path))
        if self._leftovers():  # a killed writer's copy of personal data: remove it if no one writes
            with contextlib.suppress(StoreError, OSError), self._writer_lock():
                pass

    def __repr__(self) -> str:
        return f"GeoPackageStore({self.url!r})"

    @property
    def ledger(self) -> SQLiteLedger:
        """Accounts, sessions, API tokens and the audit log: in ``NAME.access.sqlite`` beside
        the GeoPackage, never in it (see :mod:`gisgrid.stores.sqlite_ledger`)."""
        return self._ledger

    @property
    def change_sets(self) -> SQLiteChangeSets:
        """The change sets: in ``NAME.changes.sqlite`` beside the GeoPackage (see
        :mod:`gisgrid.stores.sqlite_changesets`, which says why a change set still
        ``submitted`` whose id is on a grids row counts as published)."""
        return self._change_sets

    @property
    def case_photos(self) -> SQLitePhotos:
        """The photos of the cases' steps: in ``NAME.photos.sqlite`` beside the GeoPackage,
        never in it (see :mod:`gisgrid.stores.sqlite_photos`)."""
        return self._photos

    def _published_change_sets(self, change_sets: Collection[int]) -> dict[int, dt.date | None]:
        """Which of ``change_sets`` published grid rows here, and the day they took effect
        (the latest ``valid_from`` of their rows: a retired grid keeps its older one)."""
        if not change_sets or "grids" not in self.layer_names():
            return {}
        rows = self.read(
            "grids", where={"change_set": sorted(change_sets)}, columns=["change_set", "valid_from"]
        )
        out: dict[int, dt.date | None] = {}
        for number, days in rows.groupby("change_set")["valid_from"]:
            latest = days.max()
            out[int(str(number))] = None if pd.isna(latest) else latest.date()
        return out

    def init(self) -> InitResult:
        """Nothing to create or migrate: the file is made on first write.

        An existing file is checked to be a GeoPackage gisgrid can read.

        Raises
        ------
        StoreError
            The file exists but cannot be read as a GeoPackage.
        """
        self.layer_names()
        return InitResult(versioned=False, before=0, after=0, applied=())

    def data_version(self) -> str:
        """The file's identity and state: inode, modification time, size, SQLite's change counter.

        gisgrid's copy-on-write gives every write a new file (a new inode); a tool writing in
        place (QGIS) changes the modification time, and SQLite counts each of its committed
        transactions in the file header; in write-ahead mode the main file may stay as it is
        until a checkpoint, so the ``-wal`` file's time, size and header (its salts change
        whenever it starts afresh) count too. Read from one open file (no mix of two files).
        """
        try:
            with open(self.path, "rb") as fh:
                stat = os.fstat(fh.fileno())
                header = fh.read(100)
        except FileNotFoundError:
            return "none"
        except OSError as exc:
            raise StoreError(f"cannot read the store {self.path}: {exc}") from exc
        # bytes 24-27: the file change counter, 92-95: the version it is valid for
        counters = header[24:28] + header[92:96]
        parts: list[object] = [stat.st_ino, stat.st_mtime_ns, stat.st_size, counters.hex()]
        wal = self.path.with_name(self.path.name + "-wal")
        # no write-ahead file is the usual case (gisgrid writes none; QGIS may)
        with contextlib.suppress(OSError), open(wal, "rb") as fh:
            stat = os.fstat(fh.fileno())
            parts += [stat.st_ino, stat.st_mtime_ns, stat.st_size, fh.read(32)[12:24].hex()]
        return ":".join(str(p) for p in parts)

    @contextlib.contextmanager
    def writers_turn(self) -> Iterator[None]:
        """The kernel's lock (``flock``, waiting) on ``.NAME.gpkg.serve.lock`` beside the
        file: the processes of ``gisgrid serve --workers N`` on this file write one after
        the other. A folder where the lock file cannot be made takes no turn (the write
        itself then fails there)."""
        lock_path = self.path.with_name(f".{self.path.name}.serve.lock")
        try:
            fh = open(lock_path, "w")  # noqa: SIM115  (closed below)
        except OSError:
            yield
            return
        with fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def wait_for_change(self, timeout: float) -> bool:
        """A file announces nothing: waits ``timeout`` seconds, ``False`` (the processes of
        a server on one machine compare :meth:`data_version` every ``fresh_seconds``)."""
        time.sleep(timeout)
        return False

    # reading --------------------------------------------------------------------------
    def layer_names(self) -> list[str]:
        if not self.path.exists():
            return []
        try:
            names = [str(row[0]) for row in pyogrio.list_layers(self.path)]
        except Exception as exc:  # GDAL raises its own errors on a broken file
            raise StoreError(f"cannot read the store {self.path}: {exc}") from exc
        return [n for n in names if n != META_TABLE]

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
        if layer not in self.layer_names():
            return decl.empty()
        paged: dict[str, int] = {}
        if window is not None:  # GDAL skips and stops after the filters: only the page is read
            if window.limit < 1:
                return decl.empty()
            paged = {"skip_features": window.offset, "max_features": window.limit}
        try:
            frame = pyogrio.read_dataframe(
                self.path,
                layer=layer,
                bbox=bbox if decl.spatial else None,
                where=where_clause(layer, where),
                columns=list(columns) if columns is not None else None,
                read_geometry=decl.spatial,
                **paged,
            )
        except Exception as exc:
            raise StoreError(f"cannot read {layer} from {self.path}: {exc}") from exc
        if decl.spatial and frame.crs is None:
            frame = frame.set_crs(crsmod.STORAGE_CRS)
        out = decl.conform(frame)
        return asked_columns(out, columns)

    def count(self, layer: str, *, where: Where | None = None, bbox: BBox | None = None) -> int:
        decl = get_layer(layer)
        if layer not in self.layer_names():
            return 0
        if where or (bbox is not None and decl.spatial):  # the matching features' ids only
            try:
                ids = pyogrio.read_dataframe(
                    self.path,
                    layer=layer,
                    bbox=bbox if decl.spatial else None,
                    where=where_clause(layer, where),
                    columns=[],
                    read_geometry=False,
                    fid_as_index=True,
                )
            except Exception as exc:
                raise StoreError(f"cannot count {layer} in {self.path}: {exc}") from exc
            return len(ids)
        return int(pyogrio.read_info(self.path, layer=layer)["features"])

    def get_meta(self, key: str) -> Any:
        if not self.path.exists():
            return None
        with contextlib.closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as con:
            try:
                row = con.execute(
                    f'SELECT value FROM "{META_TABLE}" WHERE key = ?', (key,)
                ).fetchone()
            except sqlite3.OperationalError:
                return None
        return None if row is None else json.loads(row[0])

    # writing --------------------------------------------------------------------------
    def write(
        self,
        frames: Mapping[str, pd.DataFrame],
        *,
        mode: WriteMode = "replace",
        meta: Mapping[str, Any] | None = None,
        check: WriteCheck | None = None,
    ) -> None:
        decls = layers_to_write(frames, mode)
        with self._writer_lock():
            if check is not None:
                check(self)
            if mode == "append":  # the keys as stored now, no other writer can add one
                for name, frame in frames.items():
                    decl = decls[name]
                    if decl.key:
                        stored = self.read(name, columns=list(decl.key))
                        refuse_stored_keys(decl, decl.conform(frame), stored, store=self.url)
            else:
                frames = self._keeping_history(frames, decls)
            self._write_locked(frames, decls, mode=mode, meta=meta)

    def _keeping_history(
        self, frames: Mapping[str, pd.DataFrame], decls: Mapping[str, Layer]
    ) -> dict[str, pd.DataFrame]:
        """``frames`` to replace with, an append-only layer's stored rows kept in front of
        its new ones (:data:`~gisgrid.stores.base.APPEND_ONLY_LAYERS`); under the lock."""
        out = dict(frames)
        for name in APPEND_ONLY_LAYERS:
            if name in out and name in self.layer_names():
                decl = decls[name]
                stored = self.read(name)
                added = history_to_add(decl, decl.conform(out[name]), stored)
                out[name] = pd.concat([stored, added], ignore_index=True)
        return out

    def assign_grid_codes(
        self, decide: GridDecision, *, layers: Sequence[str] = ASSIGNED_LAYERS
    ) -> GridCodesWritten:
        """Set ``grid_code`` as ``decide`` says: read, decide and write under the writer lock.

        The decision sees every version of the level-3 grids (``grids`` and
        ``grid_versions``). The layers whose codes change are written back whole by
        copy-on-write (a GeoPackage rewrites its file anyway); when none change, the file is
        not touched.
        """
        wanted = layers_to_assign(layers)
        with self._writer_lock():
            started = time.perf_counter()
            columns = list(GRID_DECISION_COLUMNS)
            grids = _decision_grids(
                self.read("grids", where={"level": 3}, columns=columns),
                self.read("grid_versions", where={"level": 3}, columns=columns),
            )
            return self._reassign(decide, grids, wanted, started=started)

    def publish_grids(
        self,
        publication: GridPublication,
        decide: GridDecision,
        *,
        check: WriteCheck | None = None,
        layers: Sequence[str] = ASSIGNED_LAYERS,
    ) -> GridCodesWritten:
        """Publish new grid versions and reassign the points in one copy-on-write.

        Holding the writer lock: ``check`` runs; the change set must be ``submitted``; the
        grids as they will be (the publication's rows in place of the stored rows of their
        codes, new codes after them), ``grid_versions`` with the archive appended (a version
        already archived is refused: the layer is only appended to, by gisgrid) and the
        points' new codes, decided on those grids, are written by one copy-on-write: all of
        it or, on any error, none. The change set moves to ``published`` in
        ``NAME.changes.sqlite`` in a transaction held open across that write and committed
        right after it (:meth:`.SQLiteChangeSets.publishing`; should the process die in
        between, the change set counts as published all the same: its id is on the grids).
        """
        wanted = layers_to_assign(layers)
        grids_decl, versions_decl = get_layer("grids"), get_layer("grid_versions")
        new = grids_decl.conform(publication.grids)
        archive = versions_decl.conform(publication.archive)
        refuse_stored_keys(grids_decl, new, new.iloc[:0], store=self.url)  # a code twice
        with self._writer_lock():
            if check is not None:
                check(self)
            started = time.perf_counter()
            if publication.change_set is not None:  # refused early; the move itself below
                self._require_submitted(publication.change_set)
            grids = _replaced(self.read("grids"), new)
            versions = self.read("grid_versions")
            refuse_stored_keys(versions_decl, archive, versions, store=self.url)
            written: dict[str, pd.DataFrame] = {"grids": grids}
            if len(archive) or "grid_versions" in self.layer_names():
                versions = pd.concat([versions, archive], ignore_index=True)
                written["grid_versions"] = versions
            decision = _decision_grids(grids[grids["level"] == 3], versions[versions["level"] == 3])
            moving: contextlib.AbstractContextManager[object] = contextlib.nullcontext()
            if publication.change_set is not None:
                moving = self._change_sets.publishing(
                    publication.change_set,
                    actor=publication.actor,
                    published_on=publication.published_on,
                )
            return self._reassign(
                decide, decision, wanted, started=started, also=written, moving=moving
            )

    def _require_submitted(self, change_set: int) -> None:
        found = self._change_sets.get(change_set)
        if found is None:
            raise NotFoundError(f"no change set {change_set}")
        if found.status not in UNDER_REVIEW:
            raise moved_meanwhile(found, UNDER_REVIEW)

    def _reassign(
        self,
        decide: GridDecision,
        grids: gpd.GeoDataFrame,
        wanted: Sequence[str],
        *,
        started: float,
        also: Mapping[str, pd.DataFrame] | None = None,
        moving: contextlib.AbstractContextManager[object] | None = None,
    ) -> GridCodesWritten:
        """Decide the points of ``wanted`` on ``grids`` and write the layers whose codes
        change, with the layers ``also`` given, in one copy-on-write inside ``moving``
        (a transaction of the change sets); the caller holds the writer lock. Nothing is
        written when nothing changes."""
        present = set(self.layer_names())
        frames = {name: self.read(name) for name in wanted if name in present}
        points = {name: _points_of(frame) for name, frame in frames.items()}
        read_seconds = time.perf_counter() - started
        t = time.perf_counter()
        chosen = decide(grids, points)
        decide_seconds = time.perf_counter() - t
        t = time.perf_counter()
        codes = np.r_[grids["code"].to_numpy(dtype=object), np.array([None], dtype=object)]
        results, changed_frames = [], {}
        for name, frame in frames.items():
            position = np.asarray(chosen[name], dtype=np.int64)
            new = codes[position]  # -1: the last entry, no grid
            old = frame["grid_code"].to_numpy(dtype=object)
            changed = int(sum(a != b for a, b in zip(_text(old), _text(new), strict=True)))
            if changed:
                frame["grid_code"] = new
                changed_frames[name] = frame
            results.append(
                LayerCodes(
                    layer=name,
                    features=len(frame),
                    assigned=int((position >= 0).sum()),
                    unassigned=unassigned_keys(_keys(frame, get_layer(name))[position < 0]),
                    changed=changed,
                )
            )
        to_write = {**(also or {}), **changed_frames}
        if to_write:
            decls = layers_to_write(to_write, "replace")
            with moving or contextlib.nullcontext():
                self._write_locked(to_write, decls, mode="replace", meta=None)
        write_seconds = time.perf_counter() - t
        return GridCodesWritten(
            grids=len(grids),
            layers=tuple(results),
            read_seconds=read_seconds,
            decide_seconds=decide_seconds,
            write_seconds=write_seconds,
        )

    def _write_locked(
        self,
        frames: Mapping[str, pd.DataFrame],
        decls: Mapping[str, Layer],
        *,
        mode: WriteMode,
        meta: Mapping[str, Any] | None,
    ) -> None:
        """Write by copy-on-write; the caller holds the writer lock."""
        tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.gpkg")
        tmp_journal = tmp.with_name(tmp.name + "-journal")
        try:
            if self.path.exists():
                shutil.copy2(self.path, tmp)
            existing = set(self._names_in(tmp)) if tmp.exists() else set()
            for name, frame in frames.items():
                decl = decls[name]
                out = decl.conform(frame)
                append = mode == "append" and name in existing
                if append and _lacks_fields(tmp, name, decl):
                    # a layer stored before it had a field (case_steps.photos): appending
                    # cannot add a column, so the layer is written whole, its rows kept
                    stored = decl.conform(
                        pyogrio.read_dataframe(tmp, layer=name, read_geometry=decl.spatial)
                    )
                    out = decl.conform(pd.concat([stored, out], ignore_index=True))
                    append = False
                kwargs: dict[str, Any] = {"layer": name, "driver": "GPKG", "append": append}
                if decl.spatial:
                    kwargs["geometry_type"] = decl.geometry_type
                    kwargs["promote_to_multi"] = decl.geometry_type == "MultiPolygon"
                if not tmp.exists():
                    # GeoPackage 1.2 opens without warnings in the GDAL of older QGIS
                    kwargs["dataset_options"] = {"VERSION": "1.2"}
                pyogrio.write_dataframe(out, tmp, **kwargs)
            if meta:
                self._write_meta(tmp, meta)
            _fsync(tmp)  # the new content on disk before it takes the name
            os.replace(tmp, self.path)
            _fsync(self.path.parent)  # and the new name too, before we say done
        except Exception as exc:
            for path in (tmp, tmp_journal):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"writing to {self.path} failed, nothing was changed: {exc}") from exc

    def close(self) -> None:
        """Close the ledger's connection kept open for reads; every other call opens and
        closes the file itself."""
        self._ledger.close()

    # helpers --------------------------------------------------------------------------
    @staticmethod
    def _names_in(path: Path) -> list[str]:
        return [str(row[0]) for row in pyogrio.list_layers(path)]

    @staticmethod
    def _write_meta(path: Path, meta: Mapping[str, Any]) -> None:
        with contextlib.closing(sqlite3.connect(path)) as con, con:
            con.execute(
                f'CREATE TABLE IF NOT EXISTS "{META_TABLE}" '
                "(key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            con.executemany(
                f'INSERT OR REPLACE INTO "{META_TABLE}" (key, value) VALUES (?, ?)',
                [(k, json.dumps(v, ensure_ascii=False)) for k, v in meta.items()],
            )

    def _leftovers(self) -> list[Path]:
        """Copies (and their SQLite journals) that writers of this store left in its folder."""
        pattern = re.compile(
            rf"\.{re.escape(self.path.stem)}\.[0-9]+\.tmp\.gpkg(-journal|-wal|-shm)?"
        )
        try:
            candidates = list(self.path.parent.glob(f".{glob_escape(self.path.stem)}.*.tmp.gpkg*"))
        except OSError:
            return []
        return [p for p in candidates if pattern.fullmatch(p.name)]

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """Hold the store's writer lock; refuse at once when another process holds it.

        Holding the lock, no other writer is busy: any copy still lying around belongs to
        a writer that died (killed mid-write) and is removed first. The lock is the
        kernel's (``flock``): it goes with the process, however that ends.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with open(lock_path, "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(f"another gisgrid process is writing to {self.path}") from None
            try:
                for path in self._leftovers():
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _lacks_fields(path: Path, layer: str, decl: Layer) -> bool:
    """Whether the stored ``layer`` of ``path`` misses a field its declaration has."""
    stored = {str(f) for f in pyogrio.read_info(path, layer=layer)["fields"]}
    return any(f.name not in stored for f in decl.fields)


def glob_escape(text: str) -> str:
    """``text`` matched literally by :meth:`pathlib.Path.glob` (``[``, ``*``, ``?`` escaped)."""
    return re.sub(r"([\[\]*?])", r"[\1]", text)


def _fsync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _decision_grids(grids: pd.DataFrame, versions: pd.DataFrame) -> gpd.GeoDataFrame:
    """The level-3 rows a decision sees (:data:`GRID_DECISION_COLUMNS` and geometry) of the
    latest versions and of the superseded ones, the latest first."""
    columns = [*GRID_DECISION_COLUMNS, "geometry"]
    parts = [f[columns] for f in (grids, versions) if len(f)] or [grids[columns]]
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0].reset_index(drop=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crsmod.STORAGE_CRS)


def _replaced(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``stored`` grids with the rows of ``new`` in place of those of their codes, and the
    rows of new codes after them."""
    at = {code: i for i, code in enumerate(stored["code"])}
    order = [at.get(code, len(stored) + i) for i, code in enumerate(new["code"])]
    kept = ~stored["code"].isin(set(new["code"]))
    keys = [*np.flatnonzero(kept.to_numpy()).tolist(), *order]
    parts = [f for f in (stored[kept], new) if len(f)] or [new]
    out = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    out = out.reset_index(drop=True).iloc[np.argsort(np.asarray(keys), kind="stable")]
    return gpd.GeoDataFrame(out.reset_index(drop=True), geometry="geometry", crs=crsmod.STORAGE_CRS)


def _points_of(frame: pd.DataFrame) -> LayerPoints:
    """A point layer's coordinates (NaN for missing and empty points); fids are row numbers."""
    values = np.asarray(frame["geometry"].values, dtype=object)
    x = np.full(len(values), np.nan)
    y = np.full(len(values), np.nan)
    xy, which = shapely.get_coordinates(values, return_index=True)
    x[which], y[which] = xy[:, 0], xy[:, 1]
    return LayerPoints(fid=np.arange(len(values), dtype=np.int64), x=x, y=y)


def _text(codes: np.ndarray) -> list[str | None]:
    """Codes as text or ``None`` (a missing value may read as ``None`` or NaN)."""
    return [c if isinstance(c, str) else None for c in codes.tolist()]


def _keys(frame: pd.DataFrame, decl: Layer) -> np.ndarray:
    """Each feature's key as text (a composite key joined by ``+``)."""
    if len(decl.key) == 1:
        return frame[decl.key[0]].astype(str).to_numpy(dtype=object)
    return frame[list(decl.key)].astype(str).agg("+".join, axis=1).to_numpy(dtype=object)
