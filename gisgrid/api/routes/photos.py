"""Photos of a case's steps: upload one (the raw image as the body), read one back.

Thin: the checks are :mod:`gisgrid.services.photos`. Upload first, then name the photo in
the step (``POST /api/incidents/{id}/steps`` with ``photos``). The incident is found through
the caller's reader: outside the caller's area it answers 404, and so does a photo of another
incident. Uploading needs what taking a step needs, reading needs household records
(:mod:`gisgrid.api.policy`); every serving is recorded in the audit log.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response

from gisgrid.api.deps import Scoped, State
from gisgrid.api.errors import COMMON_ERRORS, documented
from gisgrid.api.schemas import PhotoOut
from gisgrid.services.accounts import record_access
from gisgrid.services.photos import photo_url, read_photo, upload_photo
from gisgrid.settings import CaseSettings
from gisgrid.stores.photos import MEDIA_TYPES, SHA256_PATTERN

router = APIRouter(tags=["cases 案件办理"], responses=COMMON_ERRORS)

IncidentId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$", description="incident id")]
Sha256 = Annotated[
    str, Path(pattern=rf"^{SHA256_PATTERN}$", description="the photo's SHA-256 (hex)")
]

#: the upload's body in the API's description: one image, its type in Content-Type
_IMAGE_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "the image's bytes (no multipart), its type in Content-Type",
        "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES},
    }
}


async def _body(request: Request) -> bytes:
    """The request body (the body limit has counted it: at most the photo limit)."""
    return await request.body()


@router.post(
    "/api/incidents/{incident_id}/photos",
    status_code=201,
    summary="Upload a photo for a case's step 上传案件照片",
    response_model=PhotoOut,
    responses=documented(413, 415),
    openapi_extra=_IMAGE_BODY,
)
def upload(
    request: Request,
    state: State,
    access: Scoped,
    incident_id: IncidentId,
    data: Annotated[bytes, Depends(_body)],
) -> dict[str, Any]:
    ref = upload_photo(
        state.store,
        access.reader,
        incident_id,
        content_type=request.headers.get("content-type", ""),
        data=data,
        uploaded_by=access.caller.account.username,
        max_bytes=CaseSettings().photo_max_bytes,
    )
    record_access(
        state.store.ledger,
        access.caller,
        "case_photo_upload",
        target=incident_id,
        detail={"sha256": ref.sha256, "media_type": ref.media_type, "size": ref.size},
    )
    return {
        "sha256": ref.sha256,
        "media_type": ref.media_type,
        "size": ref.size,
        "url": photo_url(incident_id, ref.sha256),
    }


@router.get(
    "/api/incidents/{incident_id}/photos/{sha256}",
    summary="A photo of a case 案件照片",
    response_class=Response,
    responses={
        200: {
            "description": "the image",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in MEDIA_TYPES},
        }
    },
)
def read(state: State, access: Scoped, incident_id: IncidentId, sha256: Sha256) -> Response:
    photo = read_photo(state.store, access.reader, incident_id, sha256)
    record_access(
        state.store.ledger,
        access.caller,
        "case_photo_read",
        target=incident_id,
        reason=access.reason,
        detail={"sha256": sha256},
    )
    return Response(
        content=photo.data,
        media_type=photo.ref.media_type,
        headers={
            # personal: never kept by a shared cache, nor by the browser's
            "Cache-Control": "private, no-store",
            "Content-Disposition": "inline",
            # an image, never a document: nothing in it may run or load
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
