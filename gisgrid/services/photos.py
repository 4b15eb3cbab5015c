"""Photos of a case's steps: upload one, check the ones a step names, read one back.

A photo is uploaded first (its bytes, their declared type) and then named by the step it goes
with (:func:`gisgrid.services.cases.take_step`, by its SHA-256). The incident is always found
through the caller's reader, so an incident outside the caller's area is not found (404), and
a photo is only ever read as a photo *of that incident*: a photo of another incident is not
found either. Who may upload or read is the route's rule (:mod:`gisgrid.api.policy`: uploading
is field work like a step, reading needs household records, for photos show residents).

What is accepted is checked here, once: the bytes must be a JPEG, PNG or WebP image by their
first bytes (magic numbers) *and* be of the type declared; no bigger than
:attr:`~gisgrid.settings.CaseSettings.photo_max_bytes`; not empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast
from urllib.parse import quote

from gisgrid.errors import (
    NotFoundError,
    PayloadTooLargeError,
    PhotoError,
    UnsupportedMediaTypeError,
)
from gisgrid.layers.case_steps import MAX_STEP_PHOTOS
from gisgrid.stores.base import Reader, Store
from gisgrid.stores.photos import MEDIA_TYPES, MediaType, Photo, PhotoRef, is_sha256


def media_type_of(data: bytes) -> MediaType | None:
    """The image type of ``data`` by its first bytes: JPEG, PNG, WebP, or ``None``."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def declared_type(content_type: str) -> str:
    """The media type of a ``Content-Type`` header, without parameters, lower case."""
    return content_type.split(";", 1)[0].strip().lower()


def photo_url(incident_id: str, sha256: str) -> str:
    """Where a photo is read: ``/api/incidents/{incident_id}/photos/{sha256}``."""
    return f"/api/incidents/{quote(incident_id, safe='')}/photos/{sha256}"


def _require_incident(reader: Reader, incident_id: str) -> None:
    if not reader.count("incidents", where={"id": incident_id}):
        raise NotFoundError(f"no incident {incident_id}")


def upload_photo(
    store: Store,
    reader: Reader,
    incident_id: str,
    *,
    content_type: str,
    data: bytes,
    uploaded_by: str,
    max_bytes: int,
) -> PhotoRef:
    """Check a photo and store it with the case of ``incident_id``.

    Parameters
    ----------
    store
        Where the photo is kept (:attr:`~gisgrid.stores.base.Store.case_photos`).
    reader
        The store as the caller sees it: the incident must be in it.
    incident_id
        The incident the photo goes with.
    content_type
        The type the uploader declared (a ``Content-Type`` header).
    data
        The bytes.
    uploaded_by
        The uploader's username.
    max_bytes
        The largest photo accepted.

    Returns
    -------
    PhotoRef
        The stored photo; the same bytes uploaded again answer the same one.

    Raises
    ------
    NotFoundError
        No such incident for this caller.
    PayloadTooLargeError
        More than ``max_bytes``.
    PhotoError
        No bytes.
    UnsupportedMediaTypeError
        A declared type that is not JPEG, PNG or WebP, or bytes that are not of it.
    """
    _require_incident(reader, incident_id)
    if len(data) > max_bytes:
        raise PayloadTooLargeError(
            f"照片超过 {max_bytes:,} 字节 (a photo is at most {max_bytes:,} bytes; "
            f"this one has {len(data):,})"
        )
    if not data:
        raise PhotoError("照片为空 (the photo has no bytes)")
    declared = declared_type(content_type)
    if declared not in MEDIA_TYPES:
        raise UnsupportedMediaTypeError(
            f"照片须为 JPEG、PNG 或 WebP (a photo is one of {', '.join(MEDIA_TYPES)}, "
            f"not {declared or 'untyped'})"
        )
    actual = media_type_of(data)
    if actual != declared:
        raise UnsupportedMediaTypeError(
            f"照片内容与声明的类型不符 (declared {declared}, but the bytes are "
            f"{actual or 'no image gisgrid accepts'})"
        )
    return store.case_photos.put(
        incident_id, media_type=cast(MediaType, actual), data=data, uploaded_by=uploaded_by
    )


def check_step_photos(store: Store, incident_id: str, photos: Sequence[str]) -> tuple[str, ...]:
    """The photos a step of ``incident_id`` names, checked: each uploaded for this incident.

    Photos are never deleted, so a photo found now is there when the step is written.

    Raises
    ------
    PhotoError
        More than :data:`~gisgrid.layers.case_steps.MAX_STEP_PHOTOS`, one named twice or not
        a SHA-256, or one not uploaded for this incident (of another incident, or none).
    """
    names = tuple(photos)
    if not names:
        return ()
    if len(names) > MAX_STEP_PHOTOS:
        raise PhotoError(f"一步最多 {MAX_STEP_PHOTOS} 张照片 (at most {MAX_STEP_PHOTOS} photos)")
    if len(set(names)) != len(names):
        raise PhotoError("同一照片重复 (a photo is named twice)")
    bad = [n for n in names if not is_sha256(n)]
    if bad:
        raise PhotoError(f"照片编号有误 (not a photo's SHA-256: {bad[0][:80]})")
    stored = {p.sha256 for p in store.case_photos.list(incident_id)}
    missing = [n for n in names if n not in stored]
    if missing:
        raise PhotoError(
            f"照片未上传到此案件 (photo {missing[0]} was not uploaded for incident "
            f"{incident_id}: upload it to /api/incidents/{incident_id}/photos first); "
            "nothing was written"
        )
    return names


def read_photo(store: Store, reader: Reader, incident_id: str, sha256: str) -> Photo:
    """The photo ``sha256`` of ``incident_id``, the incident found through ``reader``.

    Raises
    ------
    NotFoundError
        No such incident for this caller, or no such photo of it.
    """
    _require_incident(reader, incident_id)
    return store.case_photos.get(incident_id, sha256)
