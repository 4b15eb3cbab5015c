"""Layers as GeoJSON: filters by bbox, level, village and township, paging, simplification.

Paging (``limit``, ``offset``; ``next`` names the next page while there is one) and the
filters of a record layer (households, incidents …) go down into the store: a request
reads its page, never the whole layer (:meth:`ScopedReader.read_page`).

A layer's answer has an entity tag (:func:`layer_tag`): ``If-None-Match`` with it is answered
``304`` until the store changes (by anyone), the day changes or the caller's view does.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Path, Query, Request, Response

from gisgrid import codes as gridcodes
from gisgrid.analysis.assign import local_now
from gisgrid.analysis.scope import ScopedReader
from gisgrid.analysis.versions import net_on
from gisgrid.api import geojson, http
from gisgrid.api.deps import BBoxQuery, Scoped, SignedIn, State, Township, Village
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.api.state import AppState
from gisgrid.errors import ConfigError
from gisgrid.layers import LAYERS, get_layer
from gisgrid.stores.base import Window

router = APIRouter(prefix="/api/layers", tags=["layers 图层"], responses=COMMON_ERRORS)

#: the most features one page may hold; households are personal data: smaller pages
MAX_LIMIT = {"households": 1000}
DEFAULT_MAX_LIMIT = 5000
#: the furthest a page may start (the stores count rows in 64 bits; no layer nears it)
MAX_OFFSET = 2**31 - 1


@router.get("", summary="The layers and their feature counts 图层列表")
def list_layers(access: Scoped) -> list[dict[str, Any]]:
    reader = access.reader
    present = set(reader.layer_names())
    return [
        {
            "name": name,
            "label_zh": decl.label_zh,
            "description": decl.description,
            "geometry_type": decl.geometry_type,
            "key": list(decl.key),
            "features": reader.count(name) if name in present else 0,
        }
        for name, decl in LAYERS.items()
    ]


#: the conditional answer of a layer, as the API documents it
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "not modified: the ETag given in If-None-Match is still the answer's"}
}


@router.get(
    "/{layer}",
    summary="A layer as a GeoJSON FeatureCollection 图层要素",
    response_model=dict[str, Any],
    responses=NOT_MODIFIED,
)
def read_layer(
    request: Request,
    state: State,
    access: Scoped,
    layer: Annotated[str, Path(json_schema_extra={"enum": list(LAYERS)})],
    bbox: BBoxQuery,
    level: Annotated[int | None, Query(ge=1, le=3, description="grid level (grids only)")] = None,
    village: Village = None,
    township: Township = None,
    limit: Annotated[int, Query(ge=1, le=DEFAULT_MAX_LIMIT)] = 500,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    simplify: Annotated[float, Query(ge=0, le=500, description="metres (polygons)")] = 0.0,
    as_of: Annotated[
        dt.date | None,
        Query(
            description="grids only: the grids in force on this date, YYYY-MM-DD (default today)"
        ),
    ] = None,
) -> Response:
    tag = layer_tag(state, access, request)  # before the data: a write in between shows next time
    held = http.matches(request, tag)
    if held and not access.reader.records_read(layer):
        return http.not_modified(tag)
    decl = get_layer(layer)
    most = MAX_LIMIT.get(layer, DEFAULT_MAX_LIMIT)
    if limit > most:
        raise ConfigError(f"limit for {layer} is at most {most}")
    columns = set(decl.columns)
    where: dict[str, object] = {}
    if level is not None:
        if "level" not in columns:
            raise ConfigError(f"{layer} has no level")
        where["level"] = level
    if as_of is not None and layer != "grids":
        raise ConfigError(f"{layer} has no versions: as_of is for grids")
    area = _area_where(access.reader, layer, village=village, township=township)
    if layer == "grids" or area is None:
        # the grids (the net on a date: a few thousand) and the boundaries: read, then paged
        if layer == "grids":  # the net as it stood on the date: no retired or future grids
            frame = net_on(access.reader, as_of, bbox=bbox, where=where or None)
        else:
            frame = access.reader.read(layer, bbox=bbox, where=where or None)
        frame = _filter_area(frame, layer, village=village, township=township)
        matched = len(frame)
        page = frame.iloc[offset : offset + limit]
    else:  # the records (households …): the filters and the page go down into the store
        page, matched = access.reader.read_page(
            layer, bbox=bbox, where={**where, **area} or None, window=Window(offset, limit)
        )
    if simplify and decl.spatial:
        page = geojson.simplify(page, simplify)
    if held:  # residents' records: read (and recorded) as for a 200, but not sent again
        return http.not_modified(tag)
    out = geojson.feature_collection(page, matched=matched, offset=offset, key=decl.key)
    if offset + len(page) < matched:  # the next page: the same query, further on
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
        out["next"] = f"{request.url.path}?{urlencode([*query, ('offset', offset + len(page))])}"
    answer = http.json_answer(out)
    http.revalidate(answer, tag)
    return answer


def layer_tag(state: AppState, access: SignedIn, request: Request) -> str:
    """The entity tag of a layer's answer: what the answer is made of.

    The store's data version now (asked each time: a write by anyone, this server, the CLI,
    QGIS, changes it at once) and the version of the grids in memory that place the points
    and make the caller's area (they follow the store within about a second: until then the
    answer is of the old grids, and its tag changes again when they are replaced), the
    caller's role and view (area, residents' and staff fields shown or masked: two callers
    who see differently never share a tag), the layer and the query (filters, paging, a
    reason), and the day (grids in force "today").
    """
    return http.entity_tag(
        "layer",
        state.store.data_version(),
        access.grids_version,
        access.caller.info.role.value,
        access.scope.key,
        request.url.path,
        sorted(request.query_params.multi_items()),
        local_now().date(),
    )


def _area_where(
    reader: ScopedReader, layer: str, *, village: str | None, township: str | None
) -> dict[str, object] | None:
    """The village and township filters as conditions on the layer's stored village code
    (what :func:`_filter_area` keeps, said so the store can read it), or ``None`` when they
    cannot be (boundaries and grids, filtered by their own codes after the read)."""
    columns = set(get_layer(layer).columns)
    if layer in ("townships", "villages", "grids"):
        return None
    if village is None and township is None:
        return {}
    if "village_code" not in columns:
        return None
    wanted: set[str] | None = None if village is None else {village}
    if township is not None:
        villages = reader.read("villages", columns=["code"])["code"].astype(str)
        inside = {c for c in villages if c.startswith(township)}
        wanted = inside if wanted is None else wanted & inside
    return {"village_code": sorted(wanted or ())}


def _filter_area(
    frame: pd.DataFrame, layer: str, *, village: str | None, township: str | None
) -> pd.DataFrame:
    """Keep features of one village or township, by their codes."""
    if village is None and township is None:
        return frame
    if layer == "villages" or layer == "townships":
        column = "code"
    elif "village_code" in frame.columns:
        column = "village_code"
    elif "township_code" in frame.columns:
        column = "township_code"
    else:
        raise ConfigError(f"{layer} cannot be filtered by village or township")
    codes = frame[column].astype("string")
    keep = pd.Series(True, index=frame.index)
    if village is not None:
        if layer == "townships":
            keep &= codes == gridcodes.township_of(village)
        else:
            keep &= codes.str.startswith(village).fillna(False)
    if township is not None:
        keep &= codes.str.startswith(township).fillna(False)
    return frame[keep.to_numpy(dtype=bool)]
