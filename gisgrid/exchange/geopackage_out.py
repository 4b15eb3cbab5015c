"""A layer as a GeoPackage that older GDAL (and QGIS on it) opens without a warning, with
dates typed as dates.

GDAL writes GeoPackage 1.4 by default, which GDAL before 3.7 warns about on every open
(``may only be partially supported``); the file is written as GeoPackage 1.2 instead. GDAL
(through pyogrio) writes a date column only as text or as a date-time: the date fields are
written as ``YYYY-MM-DD`` text and their column then declared ``DATE`` in the table's
schema, which is how the GeoPackage standard types a date (GDAL reads it as ``Date``). The
values are left as they are: a declared type changes no stored value in SQLite. Date-times
are ``DATETIME`` columns as GDAL writes them (local time, Asia/Shanghai).
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path

import pyogrio

from gisgrid.exchange.export import Extract, plain_dates

#: the GeoPackage version written: read without a warning by GDAL 2.2 and later
GPKG_VERSION = "1.2"


def write_gpkg(extract: Extract, path: Path) -> None:
    """Write ``extract`` as a GeoPackage (one table named after the layer) to ``path``."""
    decl = extract.layer
    options: dict[str, object] = {
        "driver": "GPKG",
        "layer": decl.name,
        "dataset_options": {"VERSION": GPKG_VERSION},
    }
    if decl.spatial:
        options["geometry_type"] = decl.geometry_type
    pyogrio.write_dataframe(plain_dates(extract), path, **options)
    dates = [f.name for f in decl.fields if f.type == "date"]
    if dates:
        declare_dates(path, decl.name, dates)


def declare_dates(path: Path, table: str, columns: list[str]) -> None:
    """Declare the text ``columns`` of ``table`` as ``DATE`` in the file's schema.

    SQLite keeps a table's ``CREATE TABLE`` statement as text; this edits the declared
    types in it (``PRAGMA writable_schema``) and bumps the schema version, in one
    transaction, on a file no one else has open yet. The stored values do not change.

    Raises
    ------
    RuntimeError
        A column is not declared ``TEXT`` in the statement GDAL wrote.
    """
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        (sql,) = db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
        for column in columns:
            pattern = re.compile(rf'("{re.escape(column)}") TEXT\b')
            sql, n = pattern.subn(r"\1 DATE", sql)
            if n != 1:
                raise RuntimeError(f"{table}.{column} is not a TEXT column of {path.name}")
        db.execute("BEGIN IMMEDIATE")
        try:
            (version,) = db.execute("PRAGMA schema_version").fetchone()
            db.execute("PRAGMA writable_schema = ON")
            db.execute(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (sql, table)
            )
            db.execute(f"PRAGMA schema_version = {int(version) + 1}")
            db.execute("PRAGMA writable_schema = OFF")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        (check,) = db.execute("PRAGMA quick_check").fetchone()
        if check != "ok":
            raise RuntimeError(f"{path.name}: {check}")
