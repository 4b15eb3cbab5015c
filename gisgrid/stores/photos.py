"""Case photos: the pictures taken on a case's steps, kept with the case, never changed.

A photo belongs to one incident and is named by the SHA-256 of its bytes (content-addressed):
storing the same bytes again for the same incident stores nothing new and answers the same
:class:`PhotoRef`. Photos are uploaded first and then named by a step of the case (the layer
``case_steps``, field ``photos``); the store only keeps and hands back the bytes, the checks
(type by magic bytes, size, who may) are :mod:`gisgrid.services.photos`'.

Every store keeps its photos beside its layers, never in them: the GeoPackage in
``NAME.photos.sqlite`` (the ``.gpkg`` is rewritten on every write and handed to QGIS users),
PostGIS in the table ``case_photos`` (migration 0011). Both refuse to change or delete a
stored photo (triggers): photos are only ever added.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from typing import Literal, Protocol

from gisgrid.errors import StoreConstraintError

#: the image types a photo may have
MediaType = Literal["image/jpeg", "image/png", "image/webp"]
MEDIA_TYPES: tuple[MediaType, ...] = ("image/jpeg", "image/png", "image/webp")
#: a photo's name: the SHA-256 of its bytes, lower-case hex
SHA256_PATTERN = r"[0-9a-f]{64}"
_SHA256 = re.compile(SHA256_PATTERN)


def sha256_of(data: bytes) -> str:
    """The name of a photo of ``data``: its SHA-256, lower-case hex."""
    return hashlib.sha256(data).hexdigest()


def is_sha256(text: str) -> bool:
    """Whether ``text`` is a photo's name (64 lower-case hex digits)."""
    return _SHA256.fullmatch(text) is not None


@dataclass(frozen=True)
class PhotoRef:
    """A stored photo, without its bytes.

    Attributes
    ----------
    incident_id
        The incident it belongs to.
    sha256
        The SHA-256 of its bytes (lower-case hex): its name.
    media_type
        ``image/jpeg``, ``image/png`` or ``image/webp``.
    size
        Its length in bytes.
    uploaded_by
        The username of whoever stored it first.
    uploaded_at
        When it was first stored (UTC, naive).
    """

    incident_id: str
    sha256: str
    media_type: MediaType
    size: int
    uploaded_by: str
    uploaded_at: dt.datetime


@dataclass(frozen=True)
class Photo:
    """A stored photo with its bytes."""

    ref: PhotoRef
    data: bytes


class CasePhotos(Protocol):
    """The photos of the cases of a store (:attr:`gisgrid.stores.base.Store.case_photos`).

    Every method is one transaction. A store without a current schema (PostGIS before
    ``gisgrid init``) reads as holding no photos and refuses to store one.
    """

    def put(
        self, incident_id: str, *, media_type: MediaType, data: bytes, uploaded_by: str
    ) -> PhotoRef:
        """Store ``data`` as a photo of ``incident_id`` (checked by the caller).

        Idempotent: the same bytes for the same incident are stored once; a second ``put``
        answers the stored photo's reference (its first uploader and time).

        Raises
        ------
        StoreConstraintError
            An unknown media type, an empty photo.
        StoreError
            The store cannot be written.
        """
        ...

    def get(self, incident_id: str, sha256: str) -> Photo:
        """The photo named ``sha256`` of ``incident_id``.

        Raises
        ------
        NotFoundError
            No such photo of this incident (a photo of another incident is not found).
        """
        ...

    def list(self, incident_id: str) -> list[PhotoRef]:
        """The photos of ``incident_id``, in the order they were stored (no bytes)."""
        ...


def check_photo(media_type: str, data: bytes) -> None:
    """What every store refuses to keep, whatever its caller checked.

    Raises
    ------
    StoreConstraintError
        An unknown media type or no bytes.
    """
    if media_type not in MEDIA_TYPES:
        raise StoreConstraintError(f"a photo is one of {', '.join(MEDIA_TYPES)}, not {media_type}")
    if not data:
        raise StoreConstraintError("a photo has bytes: an empty one is not stored")
