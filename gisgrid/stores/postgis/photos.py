"""The PostGIS store's case photos, in the table of migration 0011 (``gisgrid.case_photos``).

Every method of :class:`PostGISPhotos` is one transaction on a pooled connection of the
store. The rules are the database's: the key (incident, SHA-256) makes a second upload of the
same bytes a no-op, ``CHECK`` constraints hold the hash, type and size, and a trigger refuses
UPDATE, DELETE and TRUNCATE (see the migration). All SQL is in ``sql/queries.sql`` (the
``photos_`` queries).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, cast

import psycopg

from gisgrid.errors import NotFoundError, StoreConstraintError
from gisgrid.stores.photos import MediaType, Photo, PhotoRef, check_photo, sha256_of
from gisgrid.stores.postgis.queries import query as named

if TYPE_CHECKING:
    from gisgrid.stores.postgis.store import PostGISStore


class PostGISPhotos:
    """A :class:`~gisgrid.stores.photos.CasePhotos` in the database of a PostGIS store.

    Parameters
    ----------
    store
        The store whose connections it uses (:attr:`PostGISStore.case_photos` makes it).
    """

    def __init__(self, store: PostGISStore) -> None:
        self._store = store

    def __repr__(self) -> str:
        return f"PostGISPhotos({self._store.url!r})"

    def put(
        self, incident_id: str, *, media_type: MediaType, data: bytes, uploaded_by: str
    ) -> PhotoRef:
        check_photo(media_type, data)
        digest = sha256_of(data)
        at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        with self._store._connection("storing a photo in") as conn, conn.transaction():
            self._store._usable(conn, writing=True)
            try:
                with conn.transaction():
                    conn.execute(
                        named("photos_insert"),
                        (incident_id, digest, media_type, len(data), data, uploaded_by, at),
                    )
            except psycopg.errors.IntegrityError as exc:
                raise StoreConstraintError(
                    f"the store {self._store.url} refused the photo, nothing was written: "
                    f"{exc.diag.message_primary}"
                ) from exc
            row = conn.execute(named("photos_ref"), (incident_id, digest)).fetchone()
        if row is None:  # inserted or already there: always found
            raise RuntimeError("the database returned no photo")
        return _ref(row)

    def get(self, incident_id: str, sha256: str) -> Photo:
        with self._reading("reading a photo from") as conn:
            found = conn.execute(named("photos_get"), (incident_id, sha256)) if conn else None
            row = found.fetchone() if found is not None else None
        if row is None:
            raise NotFoundError(f"no photo {sha256} of incident {incident_id}")
        return Photo(ref=_ref(row[:6]), data=bytes(row[6]))

    def list(self, incident_id: str) -> list[PhotoRef]:
        with self._reading("reading the photos from") as conn:
            rows = conn.execute(named("photos_list"), (incident_id,)).fetchall() if conn else []
        return [_ref(r) for r in rows]

    @contextlib.contextmanager
    def _reading(self, doing: str) -> Iterator[psycopg.Connection[Any] | None]:
        """One transaction that reads; ``None`` when the store has no schema yet."""
        with self._store._connection(doing) as conn, conn.transaction():
            yield conn if self._store._usable(conn, writing=False) else None


def _ref(row: Sequence[Any]) -> PhotoRef:
    return PhotoRef(
        incident_id=str(row[0]),
        sha256=str(row[1]),
        media_type=cast(MediaType, str(row[2])),
        size=int(row[3]),
        uploaded_by=str(row[4]),
        uploaded_at=row[5],
    )
