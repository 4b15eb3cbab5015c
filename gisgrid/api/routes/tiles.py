"""Vector tiles (MVT) of grids, households, service points and incidents, and the net's map.

``GET /tiles/{layer}/{z}/{x}/{y}.mvt`` answers one tile of one layer
(:mod:`gisgrid.cartography.tiles` says what it holds, :mod:`gisgrid.cartography.mvt` encodes
it), read through the caller's scope like every other read: a grid worker's household tile
holds their households only, a viewer's grids no responsible person's name. An empty tile
is ``204 No Content``. ``GET /tiles/{layer}.json`` describes a layer as TileJSON 3.0 (its
URL template, zooms, attributes). ``GET /tiles`` is the map of the net drawn from the tiles
(protomaps-leaflet), the map for areas too large for a page holding every grid (a
prefecture).

A tile has an entity tag (:func:`tile_tag`), as a layer's answer has: ``If-None-Match``
with it is answered ``304`` until the store changes (by anyone), the grids in memory do, the
day does or the caller's view does. A tile showing residents' fields is read (and its
reading recorded) before its ``304``, as a layer's is.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response

from gisgrid.analysis.assign import local_now
from gisgrid.analysis.scope import ScopedReader
from gisgrid.api import http
from gisgrid.api.deps import Scoped, SignedIn, State
from gisgrid.api.errors import COMMON_ERRORS, HTML_PAGE
from gisgrid.api.security import ASSETS_PREFIX, html_page
from gisgrid.api.templating import render
from gisgrid.cartography import mvt
from gisgrid.cartography.tiles import (
    BUFFER,
    EXTENT,
    MAX_ZOOM,
    TILE_LAYERS,
    TileAddress,
    read_tile,
    tile_layer,
)
from gisgrid.layers import get_layer
from gisgrid.roles import Permission

router = APIRouter(tags=["tiles 矢量瓦片"], responses=COMMON_ERRORS)

#: the map page's scripts and style sheets, in load order (Leaflet before its plugin)
NET_JS = ("leaflet", "protomaps", "net_js")
NET_CSS = ("leaflet_css", "net_css")

_LAYER = Annotated[str, Path(json_schema_extra={"enum": list(TILE_LAYERS)})]
_TILE: dict[int | str, dict[str, Any]] = {
    200: {"content": {mvt.MEDIA_TYPE: {}}, "description": "the tile (MVT 2.1)"},
    204: {"description": "an empty tile: no feature of the layer there, for this caller"},
    304: {"description": "not modified: the ETag given in If-None-Match is still the tile's"},
}


@router.get(
    "/tiles/{layer}/{z}/{x}/{y}.mvt",
    summary="A vector tile (MVT) of a layer 矢量瓦片",
    response_class=Response,
    responses=_TILE,
)
def tile(
    request: Request,
    state: State,
    access: Scoped,
    layer: _LAYER,
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM, description="zoom")],
    x: Annotated[int, Path(ge=0, description="column, from the west")],
    y: Annotated[int, Path(ge=0, description="row, from the north (XYZ)")],
) -> Response:
    decl = tile_layer(layer)
    at = TileAddress.checked(z, x, y)
    version = state.store.data_version()  # before the data: a write in between shows next
    tag = tile_tag(version, access, layer, at)
    held = http.matches(request, tag)
    if held and not access.reader.records_read(layer):
        return http.not_modified(tag)
    reader = access.reader
    kept = state.kept_reader_now() if version == access.grids_version else None
    if kept is not None:
        # the layers kept in memory (of this very data version), seen through the caller's
        # scope as ever; while the server has not yet caught up with a write (a second at
        # most) or is reading the layers again after it, the store itself: no tile is older
        # than the store, none waits for the whole layers
        reader = ScopedReader(
            kept, access.scope, index=access.reader.index, on_records_read=access.record_reads
        )
    body = mvt.encode({layer: read_tile(reader, decl, at)})
    if held:  # residents' fields: read (and recorded) as for a 200, not sent again
        return http.not_modified(tag)
    response = Response(body, media_type=mvt.MEDIA_TYPE) if body else Response(status_code=204)
    http.revalidate(response, tag)
    return response


@router.get(
    "/tiles/{layer}.json",
    summary="A tile layer described as TileJSON 3.0 瓦片图层说明",
    response_model=dict[str, Any],
)
def tilejson(request: Request, state: State, access: Scoped, layer: _LAYER) -> dict[str, Any]:
    decl = tile_layer(layer)
    fields = {f.name: f for f in get_layer(layer).fields}
    west, south, east, north = state.locator.county.bounds
    base = str(request.base_url).rstrip("/")
    return {
        "tilejson": "3.0.0",
        "name": layer,
        "description": get_layer(layer).label_zh,
        "scheme": "xyz",
        "tiles": [f"{base}/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"],
        "minzoom": decl.min_zoom,
        "maxzoom": MAX_ZOOM,
        "bounds": [west, south, east, north],
        "extent": EXTENT,
        "buffer": BUFFER,
        "vector_layers": [
            {
                "id": layer,
                "description": get_layer(layer).description,
                "minzoom": decl.min_zoom,
                "maxzoom": MAX_ZOOM,
                "fields": {c: fields[c].label_zh for c in decl.columns},
            }
        ],
    }


@router.get("/tiles", responses=HTML_PAGE, summary="The net drawn from vector tiles 网格瓦片地图")
def net_map(state: State, access: Scoped) -> Response:
    from gisgrid.cartography.assets import ASSETS  # (folium loads only when a page needs it)

    info = access.caller.info
    villages = access.reader.read("villages", columns=["code"])
    shown = villages if len(villages) else None
    west, south, east, north = (
        shown.total_bounds if shown is not None else state.locator.county.bounds
    )
    html = render(
        "net_map.html",
        access,
        title="网格网（矢量瓦片）",
        bounds=f"{south},{west},{north},{east}",
        grid_zoom=TILE_LAYERS["grids"].min_zoom,
        household_zoom=TILE_LAYERS["households"].min_zoom,
        # households for the roles that read them in full (a leader gives a reason per read)
        households=Permission.HOUSEHOLD_RECORDS in info.permissions and info.records == "full",
        scripts=[ASSETS_PREFIX + ASSETS[name].url for name in NET_JS],
        styles=[ASSETS_PREFIX + ASSETS[name].url for name in NET_CSS],
    )
    return html_page(html)


def tile_tag(version: str | None, access: SignedIn, layer: str, at: TileAddress) -> str:
    """The entity tag of a tile: what it is made of, as :func:`layers.layer_tag` says of a
    layer's answer (the store's data ``version`` now, the grids in memory, the caller's role
    and view, the day), and the tile."""
    return http.entity_tag(
        "tile",
        version,
        access.grids_version,
        access.caller.info.role.value,
        access.scope.key,
        layer,
        at.z,
        at.x,
        at.y,
        local_now().date(),
    )
