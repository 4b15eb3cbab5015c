"""The embedded store: one GeoPackage file, one table per layer, readable by QGIS and ogrinfo.

Writes are transactions by copy-on-write: the new state is written into a copy of the file
beside it, which then atomically replaces the original (``os.replace``). A failed write
removes the copy and leaves the original untouched, byte for byte. A lock file serialises
writers; readers never block.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio

from gisgrid import crs as crsmod
from gisgrid.errors import StoreError
from gisgrid.layers import get_layer
from gisgrid.stores.base import BBox, Where, WriteMode, layers_to_write

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

    def __repr__(self) -> str:
        return f"GeoPackageStore({self.url!r})"

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
    ) -> pd.DataFrame:
        decl = get_layer(layer)
        if layer not in self.layer_names():
            return decl.empty()
        try:
            frame = pyogrio.read_dataframe(
                self.path,
                layer=layer,
                bbox=bbox if decl.spatial else None,
                where=where_clause(layer, where),
                columns=list(columns) if columns is not None else None,
                read_geometry=decl.spatial,
            )
        except Exception as exc:
            raise StoreError(f"cannot read {layer} from {self.path}: {exc}") from exc
        if decl.spatial and frame.crs is None:
            frame = frame.set_crs(crsmod.STORAGE_CRS)
        out = decl.conform(frame)
        if columns is not None:
            keep = [c for c in out.columns if c in set(columns) or c == "geometry"]
            out = out[keep]
        return out

    def count(self, layer: str, *, where: Where | None = None) -> int:
        get_layer(layer)
        if layer not in self.layer_names():
            return 0
        if where:
            return len(self.read(layer, where=where, columns=[next(iter(where))]))
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
    ) -> None:
        decls = layers_to_write(frames, mode)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._writer_lock():
            tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp.gpkg")
            try:
                if self.path.exists():
                    shutil.copy2(self.path, tmp)
                existing = set(self._names_in(tmp)) if tmp.exists() else set()
                for name, frame in frames.items():
                    decl = decls[name]
                    out = decl.conform(frame)
                    append = mode == "append" and name in existing
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
                os.replace(tmp, self.path)
            except Exception as exc:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
                if isinstance(exc, StoreError):
                    raise
                raise StoreError(
                    f"writing to {self.path} failed, nothing was changed: {exc}"
                ) from exc

    def close(self) -> None:
        """Nothing to release: every call opens and closes the file itself."""

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

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        lock_path = self.path.with_name(f".{self.path.name}.lock")
        with open(lock_path, "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StoreError(f"another gisgrid process is writing to {self.path}") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
