"""A layer of one's area as a file to download: Excel, zipped Shapefile, KML/KMZ, GeoJSON
or GeoPackage (:mod:`gisgrid.exchange.export`).

What the file holds is what the caller sees (:class:`gisgrid.analysis.scope.ScopedReader`:
their area, personal fields masked as their role needs), cut to ``area`` when given; the
export is recorded in the audit log, and the household records it holds are recorded as
read, as every read of them is.
"""

from __future__ import annotations

import urllib.parse
from typing import Annotated, Any, cast

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from gisgrid.api.deps import Scoped, State
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.exchange.export import (
    MEDIA_TYPES,
    SUFFIXES,
    ExportFormat,
    Extract,
    download_name,
    export_bytes,
    read_extract,
    refuse_shapeless,
)
from gisgrid.layers import LAYERS, get_layer
from gisgrid.services.accounts import record_access

router = APIRouter(prefix="/api/export", tags=["export 导出"], responses=COMMON_ERRORS)

#: the formats by the name ``?format=`` takes
FORMAT_PATTERN = "^(" + "|".join(SUFFIXES) + ")$"
#: an area: a prefecture or county (6 digits), township (9), village (12) or grid (15, 18)
AREA_PATTERN = r"^\d{6}(\d{3}){0,4}$"


def content_disposition(filename: str, fallback: str) -> str:
    """``attachment`` with the file's name: ASCII for old clients, UTF-8 (RFC 5987/6266)
    for the rest (a Chinese name)."""
    quoted = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quoted}"


def _ascii_name(extract: Extract, fmt: ExportFormat) -> str:
    where = extract.area or "all"
    return f"{extract.layer.name}-{where}-{extract.made:%Y%m%d}{SUFFIXES[fmt]}"


def _binary() -> dict[int | str, dict[str, Any]]:
    binary = {"schema": {"type": "string", "format": "binary"}}
    # GeoJSON is JSON (a FeatureCollection object), which clients parse as such
    content = {m: {"schema": {"type": "object"}} if f == "geojson" else binary
               for f, m in MEDIA_TYPES.items()}  # fmt: skip
    return {200: {"description": "the file", "content": content}}


@router.get(
    "/{layer}",
    summary="A layer of one's area as a file 导出图层",
    response_class=Response,
    responses=_binary(),
)
def export_layer_file(
    state: State,
    access: Scoped,
    layer: Annotated[str, Path(json_schema_extra={"enum": list(LAYERS)})],
    format: Annotated[
        str,
        Query(pattern=FORMAT_PATTERN, description="xlsx, shp (zipped), kml, kmz, geojson, gpkg"),
    ] = "xlsx",
    area: Annotated[
        str | None,
        Query(pattern=AREA_PATTERN, description="a county, township, village or grid code"),
    ] = None,
) -> Response:
    """The layer as the caller sees it (their area; personal fields masked as their role
    needs), or the part of it in ``area``; a grid worker asking for their village gets
    their grids of it. Recorded in the audit log."""
    fmt = cast(ExportFormat, format)  # the pattern lets no other through
    decl = get_layer(layer)
    refuse_shapeless(decl, fmt)
    from gisgrid.cartography import county_name

    extract = read_extract(
        state.store,
        layer,
        area=area,
        scope=access.scope,
        index=state.locator.grid_index,
        on_records_read=access.record_reads,
        county=county_name(state.store),
    )
    data = export_bytes(extract, fmt)
    record_access(
        state.store.ledger,
        access.caller,
        "export",
        target=f"GET /api/export/{layer}?format={fmt}&area={area or 'all'}",
        reason=access.reason,
        detail={"format": fmt, "features": len(extract.frame), "area": area},
    )
    return Response(
        content=data,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": content_disposition(
                download_name(extract, fmt), _ascii_name(extract, fmt)
            )
        },
    )
