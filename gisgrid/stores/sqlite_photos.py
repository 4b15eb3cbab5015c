"""The GeoPackage store's case photos: in a SQLite file beside the GeoPackage (for
``county.gpkg``, ``county.photos.sqlite``), never in it.

The GeoPackage is rewritten by copy-on-write on every layer write and handed to QGIS users:
megabytes of residents' photos must neither be copied at every step nor travel with it. A
file of its own, made and kept like the ledger and the change sets (:mod:`.sqlite_file`:
mode 0600, WAL, a busy timeout, ``BEGIN IMMEDIATE`` for a write).

The database holds its rules itself: a photo is keyed by its incident and the SHA-256 of its
bytes (a second upload of the same bytes stores nothing), the hash, type and size are checked
by ``CHECK`` constraints, and triggers refuse any ``UPDATE`` or ``DELETE``: photos are only
ever added. Times are ISO 8601 text in UTC without zone.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from gisgrid.errors import NotFoundError, StoreConstraintError
from gisgrid.stores.photos import (
    MEDIA_TYPES,
    MediaType,
    Photo,
    PhotoRef,
    check_photo,
    sha256_of,
)
from gisgrid.stores.sqlite_file import BUSY_SECONDS, SideFile

#: the schema version this gisgrid writes (``PRAGMA user_version``)
SCHEMA_VERSION = 1

_TYPES = ", ".join(f"'{t}'" for t in MEDIA_TYPES)
_COLUMNS = "incident_id, sha256, media_type, size, uploaded_by, uploaded_at"

_SCHEMA: tuple[str, ...] = (
    f"""CREATE TABLE IF NOT EXISTS case_photos (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        incident_id TEXT NOT NULL CHECK (length(incident_id) BETWEEN 1 AND 40),
        sha256 TEXT NOT NULL CHECK (
            length(sha256) = 64 AND NOT sha256 GLOB '*[^0-9a-f]*'
        ),
        media_type TEXT NOT NULL CHECK (media_type IN ({_TYPES})),
        size INTEGER NOT NULL CHECK (size > 0 AND size = length(data)),
        data BLOB NOT NULL,
        uploaded_by TEXT NOT NULL,
        uploaded_at TEXT NOT NULL,
        UNIQUE (incident_id, sha256)
    )""",
    """CREATE TRIGGER IF NOT EXISTS case_photos_no_update BEFORE UPDATE ON case_photos
    BEGIN
        SELECT RAISE(ABORT, 'case photos are append-only: a photo cannot be changed');
    END""",
    """CREATE TRIGGER IF NOT EXISTS case_photos_no_delete BEFORE DELETE ON case_photos
    BEGIN
        SELECT RAISE(ABORT, 'case photos are append-only: a photo cannot be deleted');
    END""",
)


def photos_path(gpkg: Path) -> Path:
    """The photo file of a GeoPackage: ``county.gpkg`` → ``county.photos.sqlite``."""
    return gpkg.with_name(f"{gpkg.stem}.photos.sqlite")


class SQLitePhotos:
    """A :class:`~gisgrid.stores.photos.CasePhotos` in a SQLite file.

    Parameters
    ----------
    path
        The file; it and its folder are made on first use.
    busy_seconds
        How long a call waits while another process writes before it fails.
    """

    def __init__(self, path: str | os.PathLike[str], *, busy_seconds: float = BUSY_SECONDS) -> None:
        self.path = Path(path)
        self._file = SideFile(
            self.path,
            what="the case photos",
            schema=_SCHEMA,
            version=SCHEMA_VERSION,
            busy_seconds=busy_seconds,
        )

    def __repr__(self) -> str:
        return f"SQLitePhotos({str(self.path)!r})"

    def put(
        self, incident_id: str, *, media_type: MediaType, data: bytes, uploaded_by: str
    ) -> PhotoRef:
        check_photo(media_type, data)
        digest = sha256_of(data)
        at = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="microseconds")
        with self._file.transaction("storing a photo in", write=True) as con:
            try:
                # the same bytes again: nothing new (no UPDATE: the triggers would refuse it)
                con.execute(
                    "INSERT INTO case_photos (incident_id, sha256, media_type, size, data, "
                    "uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (incident_id, sha256) DO NOTHING",
                    (incident_id, digest, media_type, len(data), data, uploaded_by, at),
                )
            except sqlite3.IntegrityError as exc:
                raise StoreConstraintError(
                    f"the case photos {self.path} refused the photo, nothing was written: {exc}"
                ) from exc
            row = con.execute(
                f"SELECT {_COLUMNS} FROM case_photos WHERE incident_id = ? AND sha256 = ?",
                (incident_id, digest),
            ).fetchone()
        return _ref(row)

    def get(self, incident_id: str, sha256: str) -> Photo:
        if not self.path.exists():
            raise NotFoundError(f"no photo {sha256} of incident {incident_id}")
        with self._file.transaction("reading a photo from", write=False) as con:
            row = con.execute(
                f"SELECT {_COLUMNS}, data FROM case_photos WHERE incident_id = ? AND sha256 = ?",
                (incident_id, sha256),
            ).fetchone()
        if row is None:
            raise NotFoundError(f"no photo {sha256} of incident {incident_id}")
        return Photo(ref=_ref(row[:6]), data=bytes(row[6]))

    def list(self, incident_id: str) -> list[PhotoRef]:
        if not self.path.exists():  # no photo stored yet: no file made for reading
            return []
        with self._file.transaction("reading the photos from", write=False) as con:
            rows = con.execute(
                f"SELECT {_COLUMNS} FROM case_photos WHERE incident_id = ? ORDER BY id",
                (incident_id,),
            ).fetchall()
        return [_ref(r) for r in rows]


def _ref(row: Sequence[Any]) -> PhotoRef:
    return PhotoRef(
        incident_id=str(row[0]),
        sha256=str(row[1]),
        media_type=cast(MediaType, str(row[2])),
        size=int(row[3]),
        uploaded_by=str(row[4]),
        uploaded_at=dt.datetime.fromisoformat(str(row[5])),
    )
