"""OGC API – Features (Parts 1, 2 and 3) under ``/ogc``: every layer a collection, for QGIS,
GDAL (``ogrinfo OAPIF:…``) and any other client of the standard.

Written here on FastAPI over the stores' own reads, not with tipg or pygeoapi (the reasons:
docs/http-api.md, "OGC API – Features"): every read goes through the caller's
:class:`~gisgrid.analysis.scope.ScopedReader` (households and the other records of the
caller's area only, personal fields masked as the role needs, reads of residents' records
recorded), which a library that reads the database itself would bypass, and the
GeoPackage store is served as PostGIS is.

Paging (``limit``, ``offset``; ``next`` and ``prev`` links) and the filters (``bbox``,
``datetime``, ``?field=value``) go down into the store as for ``/api/layers/{layer}``:
a page is read, never the whole layer (the grids of a day, a few thousand, are read and
then paged, as there).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from gisgrid.analysis.versions import net_on
from gisgrid.api import geojson, ogc, policy
from gisgrid.api.deps import Scoped
from gisgrid.api.errors import COMMON_ERRORS
from gisgrid.api.routes.layers import DEFAULT_MAX_LIMIT, MAX_LIMIT, MAX_OFFSET
from gisgrid.errors import ConfigError, NotFoundError
from gisgrid.layers import LAYERS, get_layer
from gisgrid.layers.schema import Layer, iso_dates
from gisgrid.stores.base import Window

router = APIRouter(prefix="/ogc", tags=["OGC API – Features"], responses=COMMON_ERRORS)

#: the features of a page when ``limit`` is not given
DEFAULT_LIMIT = 100
#: the route of a collection's items (its access rule decides who may read which layer)
ITEMS_ROUTE = "/ogc/collections/{layer}/items"


def _answers(media_type: str, what: str) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI description of an answer of another JSON media type than the default."""
    return {200: {"description": what, "content": {media_type: {"schema": {"type": "object"}}}}}


FormatQuery = Annotated[str | None, Query(description="json (the only format)")]
#: a layer's name in a path (its collection's id)
LayerPath = Annotated[str, Path(json_schema_extra={"enum": list(LAYERS)})]
CrsQuery = Annotated[str | None, Query(description="the CRS of the answer (default CRS84)")]


def _json(body: dict[str, Any], *, media_type: str = "application/json", **headers: str) -> Any:
    return JSONResponse(body, media_type=media_type, headers=headers or None)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/") + "/ogc"


def _link(href: str, rel: str, kind: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": kind}
    if title:
        link["title"] = title
    return link


@router.get("", summary="The landing page 服务首页")
def landing(request: Request, access: Scoped, f: FormatQuery = None) -> Any:
    ogc.check_format(f)
    base = _base(request)
    root = str(request.base_url).rstrip("/")
    return _json(
        {
            "title": "gisgrid 网格化基层治理 · OGC API – Features",
            "description": "The layers of the grid net, each a collection (你的管辖范围内).",
            "links": [
                _link(base, "self", "application/json", "this document"),
                _link(f"{root}/openapi.json", "service-desc", "application/vnd.oai.openapi+json"),
                _link(f"{base}/conformance", "conformance", "application/json"),
                _link(f"{base}/collections", "data", "application/json", "the collections"),
            ],
        }
    )


@router.get("/conformance", summary="The conformance classes 符合的标准")
def conformance(access: Scoped, f: FormatQuery = None) -> Any:
    ogc.check_format(f)
    return _json({"conformsTo": list(ogc.CONFORMANCE)})


def _readable(access: Scoped) -> list[str]:
    """The layers the caller's role may read (households and visits: household records)."""
    rule = policy.rule_for("GET", ITEMS_ROUTE)
    mine = access.caller.info.permissions
    return [name for name in LAYERS if rule.permission_for({"layer": name}) in mine]


def _collection(base: str, decl: Layer, extent: list[float] | None) -> dict[str, Any]:
    here = f"{base}/collections/{decl.name}"
    out: dict[str, Any] = {
        "id": decl.name,
        "title": decl.label_zh,
        "description": decl.description,
        "itemType": "feature",
        "links": [
            _link(here, "self", "application/json"),
            _link(f"{here}/items", "items", ogc.GEOJSON, "the features"),
            _link(
                f"{here}/queryables",
                "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                "application/schema+json",
                "what ?field=value filters on",
            ),
        ],
    }
    if decl.spatial:
        out["crs"] = list(ogc.CRS_LAT_FIRST)
        out["storageCrs"] = ogc.STORAGE_CRS
        if extent is not None:
            out["extent"] = {"spatial": {"bbox": [extent], "crs": ogc.CRS84}}
    return out


def _extent(access: Scoped) -> list[float] | None:
    """The caller's townships' bounds (CRS84): the extent every collection states."""
    townships = access.reader.read("townships", columns=["code"])
    if not len(townships):
        return None
    return [round(float(v), 7) for v in townships.total_bounds]


@router.get("/collections", summary="The collections: every layer 图层集合")
def collections(request: Request, access: Scoped, f: FormatQuery = None) -> Any:
    ogc.check_format(f)
    base = _base(request)
    extent = _extent(access)
    return _json(
        {
            "links": [_link(f"{base}/collections", "self", "application/json")],
            "collections": [
                _collection(base, get_layer(name), extent) for name in _readable(access)
            ],
            "crs": list(ogc.CRS_LAT_FIRST),
        }
    )


@router.get("/collections/{layer}", summary="One collection 图层")
def collection(request: Request, access: Scoped, layer: LayerPath, f: FormatQuery = None) -> Any:
    ogc.check_format(f)
    decl = get_layer(layer)
    return _json(_collection(_base(request), decl, _extent(access)))


@router.get(
    "/collections/{layer}/queryables",
    summary="What ?field=value filters on 可筛选字段",
    responses=_answers("application/schema+json", "a JSON Schema"),
)
def queryables(request: Request, access: Scoped, layer: LayerPath, f: FormatQuery = None) -> Any:
    ogc.check_format(f)
    decl = get_layer(layer)
    url = f"{_base(request)}/collections/{layer}/queryables"
    return _json(ogc.queryables(decl, url=url), media_type="application/schema+json")


@router.get(
    "/collections/{layer}/items",
    summary="Features of a collection, a page at a time 要素",
    responses=_answers(ogc.GEOJSON, "a GeoJSON FeatureCollection"),
    description=(
        "bbox (bbox-crs: its CRS), datetime (an RFC 3339 date, date-time or interval; "
        "grids: the net on that day), crs (of the answer), ?field=value on the queryables, "
        f"limit (default {DEFAULT_LIMIT}; at most {DEFAULT_MAX_LIMIT}, households "
        f"{MAX_LIMIT['households']}) and offset."
    ),
)
def items(
    request: Request,
    access: Scoped,
    layer: LayerPath,
    limit: Annotated[int, Query(ge=1, description="features per page (larger: the most)")] = (
        DEFAULT_LIMIT
    ),
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs")] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs")] = None,
    datetime: Annotated[str | None, Query(description="RFC 3339 instant or interval")] = None,
    crs: CrsQuery = None,
    f: FormatQuery = None,
) -> Any:
    decl, out_crs = _asked(layer, crs=crs, f=f)
    box = ogc.bbox_of(bbox, crs=ogc.crs_named(bbox_crs, parameter="bbox-crs"))
    if box is not None and not decl.spatial:
        raise ConfigError(f"{layer} has no geometry: bbox does not apply")
    interval = ogc.interval_of(datetime)
    where = dict(ogc.property_filters(layer, request.query_params.multi_items()))
    limit = min(limit, MAX_LIMIT.get(layer, DEFAULT_MAX_LIMIT))  # larger: the most (Part 1)
    reader = access.reader
    if layer == "grids":  # the net of a day (today by default): read, then paged
        net = net_on(reader, ogc.grid_day(interval), bbox=box, where=where or None)
        matched = len(net)
        page = net.iloc[offset : offset + limit]
    else:
        if interval is not None:
            where |= ogc.where_in_time(layer, interval)
        page, matched = reader.read_page(
            layer, bbox=box, where=where or None, window=Window(offset, limit)
        )
    body = _features(page, decl, crs=out_crs)
    body["numberMatched"] = matched
    here = f"{_base(request)}/collections/{layer}/items"
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
    body["links"] = [
        _link(f"{here}?{urlencode(request.query_params.multi_items())}", "self", ogc.GEOJSON),
        _link(f"{_base(request)}/collections/{layer}", "collection", "application/json"),
    ]
    if offset + len(page) < matched:
        after = urlencode([*query, ("offset", offset + len(page))])
        body["links"].append(_link(f"{here}?{after}", "next", ogc.GEOJSON, "next page"))
    if offset > 0:
        before = urlencode([*query, ("offset", max(offset - limit, 0))])
        body["links"].append(_link(f"{here}?{before}", "prev", ogc.GEOJSON, "previous page"))
    return _json(body, media_type=ogc.GEOJSON, **{"Content-Crs": f"<{out_crs}>"})


def _asked(layer: str, *, crs: str | None, f: str | None) -> tuple[Layer, str]:
    """The layer and the answer's CRS a request of features asks for (checked)."""
    ogc.check_format(f)
    return get_layer(layer), ogc.crs_named(crs, parameter="crs")


def _features(page: Any, decl: Layer, *, crs: str) -> dict[str, Any]:
    """A page as a FeatureCollection in ``crs``, ids by :func:`gisgrid.api.ogc.feature_ids`."""
    body = geojson.feature_collection(
        ogc.in_crs(iso_dates(page, decl), crs), matched=len(page), offset=0, key=decl.key
    )
    del body["offset"]
    for feature, fid in zip(body["features"], ogc.feature_ids(page, decl.key), strict=True):
        feature["id"] = fid
    return body


@router.get(
    "/collections/{layer}/items/{feature_id}",
    summary="One feature 单个要素",
    responses=_answers(ogc.GEOJSON, "a GeoJSON Feature"),
)
def item(
    request: Request,
    access: Scoped,
    layer: LayerPath,
    feature_id: str,
    crs: CrsQuery = None,
    f: FormatQuery = None,
) -> Any:
    decl, out_crs = _asked(layer, crs=crs, f=f)
    where = ogc.where_id(decl, feature_id)
    if layer == "grids":  # a grid's current version (its history: grid_versions)
        found = access.reader.read(layer, where=where)
    else:
        found, _count = access.reader.read_page(layer, where=where, window=Window(0, 1))
    if not len(found):
        raise NotFoundError(f"{layer} has no feature {feature_id!r} (in this account's area)")
    feature = _features(found.iloc[:1], decl, crs=out_crs)["features"][0]
    here = f"{_base(request)}/collections/{layer}"
    feature["links"] = [
        _link(f"{here}/items/{feature_id}", "self", ogc.GEOJSON),
        _link(here, "collection", "application/json"),
    ]
    return _json(feature, media_type=ogc.GEOJSON, **{"Content-Crs": f"<{out_crs}>"})
