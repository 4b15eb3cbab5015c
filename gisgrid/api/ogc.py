"""The parts of OGC API – Features that are rules, not routes: conformance classes, the
coordinate reference systems offered (Part 2), the ``bbox`` and ``datetime`` parameters,
queryables and property filters (Part 3), the feature ids of a layer.

The routes (``/ogc``…) are :mod:`gisgrid.api.routes.ogc`; what a layer's ``datetime``
means is :data:`TEMPORAL` (and, for ``grids``, the net as it stood on a day).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid.errors import ConfigError
from gisgrid.layers import ASSIGNED_LAYERS, get_layer
from gisgrid.layers.schema import LOCAL_TZ, Field, Layer
from gisgrid.stores.base import BBox, Span, Where

_CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf"
#: what the service conforms to (``/ogc/conformance``)
CONFORMANCE = (
    f"{_CORE}/core",
    f"{_CORE}/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
)

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"
EPSG_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
#: the CRSs offered, each → whether its first axis is latitude (EPSG:4490 and EPSG:4326
#: are latitude, longitude by their definitions; CRS84 is longitude, latitude). The values
#: are the same numbers in all three: gisgrid takes CGCS2000 as WGS84 without a shift
#: (:data:`gisgrid.crs.CGCS2000`), so a CRS here only orders the axes.
CRS_LAT_FIRST: dict[str, bool] = {CRS84: False, EPSG_4490: True, EPSG_4326: True}
#: the CRS features are stored in (WGS84 longitude, latitude)
STORAGE_CRS = CRS84

#: a layer's date or time that ``datetime`` filters on (grids: the net on a day, see
#: :func:`grid_day`; grid versions: their time in force, see :func:`where_in_time`)
TEMPORAL: dict[str, str] = {
    "incidents": "reported_at",
    "case_steps": "at",
    "visits": "at",
    "volunteer_activities": "held_on",
    "first_secretaries": "start_on",
}
#: layers whose ``datetime`` is about the days a grid was in force
VERSIONED = ("grids", "grid_versions")

#: the query parameters of ``/items`` that are not property filters
ITEM_PARAMETERS = frozenset(
    {"f", "limit", "offset", "bbox", "bbox-crs", "crs", "datetime", "reason"}
)
#: what ``f`` may say (JSON only: no HTML pages here)
FORMATS = frozenset({"json", "geojson", "application/json", "application/geo+json"})

GEOJSON = "application/geo+json"


def check_format(f: str | None) -> None:
    """Refuse a format other than JSON.

    Raises
    ------
    ConfigError
        ``f`` names another format.
    """
    if f is not None and f.lower() not in FORMATS:
        raise ConfigError(f"f={f!r}: only JSON is served here (f=json)")


def crs_named(uri: str | None, *, parameter: str) -> str:
    """The CRS a ``crs`` or ``bbox-crs`` parameter names (default CRS84).

    Raises
    ------
    ConfigError
        A CRS not offered: the message lists those that are.
    """
    if uri is None:
        return CRS84
    text = uri.strip().strip("[]<>")
    if text in CRS_LAT_FIRST:
        return text
    offered = ", ".join(CRS_LAT_FIRST)
    raise ConfigError(f"{parameter}={uri!r} is not offered: one of {offered}")


def bbox_of(text: str | None, *, crs: str) -> BBox | None:
    """The ``bbox`` parameter (four numbers, or six with heights, in ``crs``'s axis order)
    as longitude, latitude (WGS84): what the stores read.

    Raises
    ------
    ConfigError
        Not four or six numbers, out of range, or its minimum above its maximum.
    """
    if text is None:
        return None
    try:
        values = [float(p) for p in text.split(",")]
    except ValueError:
        raise ConfigError(f"bbox must be 4 numbers: {text!r}") from None
    if len(values) == 6:  # heights: nothing here has any
        values = [values[0], values[1], values[3], values[4]]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"bbox must be 4 numbers: {text!r}")
    if CRS_LAT_FIRST[crs]:
        values = [values[1], values[0], values[3], values[2]]
    x0, y0, x1, y1 = values
    if not (-180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90):
        raise ConfigError(
            f"bbox out of range or min > max: {text!r} (in {crs}: "
            + ("lat,lon" if CRS_LAT_FIRST[crs] else "lon,lat")
            + " order)"
        )
    return x0, y0, x1, y1


def in_crs(frame: pd.DataFrame, crs: str) -> pd.DataFrame:
    """``frame`` (WGS84 longitude, latitude) with its coordinates in ``crs``'s axis order."""
    if not CRS_LAT_FIRST[crs] or not isinstance(frame, gpd.GeoDataFrame) or not len(frame):
        return frame
    swapped = shapely.transform(np.asarray(frame.geometry.values), lambda xy: xy[:, ::-1])
    return frame.set_geometry(swapped, crs=frame.crs)


@dataclass(frozen=True)
class Interval:
    """A ``datetime`` parameter in the county's local time (naive, as the layers keep
    times): both ends included, ``None`` for an open end.

    Attributes
    ----------
    instant
        One instant or one day was given, not an interval.
    """

    start: dt.datetime | None
    end: dt.datetime | None
    instant: bool

    def days(self) -> tuple[dt.date | None, dt.date | None]:
        """The first and last day the interval touches."""
        return (
            None if self.start is None else self.start.date(),
            None if self.end is None else self.end.date(),
        )


_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _moment(text: str, *, end: bool) -> dt.datetime | None:
    """One end of a ``datetime``: an RFC 3339 date or date-time, ``..`` or empty (open).

    A date stands for its whole day (its first moment as a start, its last as an end); a
    date-time with an offset (``Z``, ``+08:00``) is turned into local time; one without is
    taken as local time.
    """
    text = text.strip()
    if text in ("", ".."):
        return None
    try:
        if _DATE.match(text):
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day, dt.time.max if end else dt.time.min)
        moment = dt.datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise ConfigError(
            f"datetime {text!r} is not an RFC 3339 date or date-time "
            "(2024-03-01, 2024-03-01T09:30:00Z, or an interval a/b, ../b, a/..)"
        ) from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(LOCAL_TZ)).replace(tzinfo=None)
    return moment


def interval_of(text: str | None) -> Interval | None:
    """The ``datetime`` parameter: an instant, a day or an interval (``a/b``, ``../b``,
    ``a/..``).

    Raises
    ------
    ConfigError
        Not a date, date-time or interval of them, or an interval that ends before it
        starts, or open at both ends.
    """
    if text is None:
        return None
    if "/" not in text:
        if text.strip() in ("", ".."):
            raise ConfigError("datetime must name a date or a date-time")
        start = _moment(text, end=False)
        end = _moment(text, end=True)
        return Interval(start, end, instant=True)
    if text.count("/") != 1:
        raise ConfigError(f"datetime {text!r}: an interval is start/end")
    first, last = text.split("/")
    start, end = _moment(first, end=False), _moment(last, end=True)
    if start is None and end is None:
        raise ConfigError("datetime ../..: an interval needs a start or an end")
    if start is not None and end is not None and end < start:
        raise ConfigError(f"datetime {text!r} ends before it starts")
    return Interval(start, end, instant=False)


def where_in_time(layer: str, interval: Interval) -> Where:
    """The ``where`` of ``datetime`` on a layer with dates (not ``grids``: :func:`grid_day`).

    The features whose date or time (:data:`TEMPORAL`) lies in the interval, ends
    included, a date when any moment of its day does; grid versions whose days in force
    (``valid_from`` to the day before ``valid_to``) meet the interval's days. Rows without
    the date never match.

    Raises
    ------
    ConfigError
        The layer has no dates.
    """
    if layer == "grid_versions":
        first, last = interval.days()
        ended_after = None if first is None else first + dt.timedelta(days=1)
        return {"valid_from": Span(None, last), "valid_to": Span(ended_after, None)}
    column = TEMPORAL.get(layer)
    if column is None:
        raise ConfigError(f"{layer} has no dates: datetime is for {', '.join(temporal_layers())}")
    if get_layer(layer).field(column).type == "date":
        first, last = interval.days()
        return {column: Span(first, last)}
    return {column: Span(interval.start, interval.end)}


def grid_day(interval: Interval | None) -> dt.date | None:
    """The day whose net the ``grids`` collection shows (``None``: today).

    Raises
    ------
    ConfigError
        An interval: a net is of one day (its versions over a period: ``grid_versions``).
    """
    if interval is None:
        return None
    if not interval.instant or interval.start is None:
        raise ConfigError(
            "grids: datetime is one day, the net as it stood then "
            "(versions over a period: the grid_versions collection)"
        )
    return interval.start.date()


def temporal_layers() -> list[str]:
    """The layers ``datetime`` filters."""
    return [*VERSIONED, *TEMPORAL]


def queryable_fields(layer: str) -> list[Field]:
    """The fields ``?field=value`` filters on: every declared field but personal ones (a
    filter on a masked name would tell it) and, on points placed in grids, ``grid_code``
    (the grid a point lies in is found from the grids now when it is read: ask by ``bbox``
    or ``village_code``)."""
    decl = get_layer(layer)
    return [
        f
        for f in decl.fields
        if f.personal is None and not (layer in ASSIGNED_LAYERS and f.name == "grid_code")
    ]


_JSON_TYPES = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
}


def queryables(decl: Layer, *, url: str) -> dict[str, Any]:
    """The queryables of a layer as a JSON Schema (OGC API – Features Part 3)."""
    properties: dict[str, Any] = {}
    for f in queryable_fields(decl.name):
        spec: dict[str, Any] = {"title": f.label_zh or f.name, **_JSON_TYPES[f.type]}
        if f.description:
            spec["description"] = f.description
        if f.choices:
            spec["enum"] = list(f.choices)
        properties[f.name] = spec
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": url,
        "type": "object",
        "title": decl.label_zh,
        "description": decl.description,
        "properties": properties,
        "additionalProperties": False,
    }


def _value(f: Field, text: str) -> object:
    """A filter's text as the value of its field."""
    try:
        if f.type == "int":
            return int(text)
        if f.type == "float":
            return float(text)
        if f.type == "bool":
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0"):
                raise ValueError(text)
            return lowered in ("true", "1")
        if f.type == "date":
            return dt.date.fromisoformat(text)
        if f.type == "datetime":
            return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{f.name}={text!r} is not a {f.type}") from None
    return text


def property_filters(layer: str, params: Sequence[tuple[str, str]]) -> Where:
    """``?field=value`` filters (a field given twice: either value) as a ``where``.

    Raises
    ------
    ConfigError
        A parameter that is neither one of :data:`ITEM_PARAMETERS` nor a queryable of the
        layer, or a value that is not of its field's type.
    """
    fields = {f.name: f for f in queryable_fields(layer)}
    values: dict[str, list[object]] = {}
    for name, text in params:
        if name in ITEM_PARAMETERS:
            continue
        f = fields.get(name)
        if f is None:
            raise ConfigError(
                f"unknown parameter {name!r}: the queryables of {layer} are "
                f"{', '.join(fields) or 'none'}"
            )
        values.setdefault(name, []).append(_value(f, text))
    return {k: v[0] if len(v) == 1 else v for k, v in values.items()}


#: between the parts of a feature id of a layer whose key has several columns
ID_JOIN = "~"


def feature_ids(frame: pd.DataFrame, key: Sequence[str]) -> list[str]:
    """The feature ids of ``frame``'s rows: the key, its parts joined by ``~``."""
    columns = [frame[k].astype("string").fillna("").tolist() for k in key]
    return [ID_JOIN.join(parts) for parts in zip(*columns, strict=True)]


def where_id(decl: Layer, feature_id: str) -> Mapping[str, object]:
    """The ``where`` that reads one feature by its id.

    Raises
    ------
    ConfigError
        An id that is not of the layer's key (a part missing, or not of its type).
    """
    parts = feature_id.rsplit(ID_JOIN, len(decl.key) - 1) if decl.key else []
    if len(parts) != len(decl.key) or not all(parts):
        raise ConfigError(f"{feature_id!r} is no id of {decl.name} ({ID_JOIN.join(decl.key)})")
    return {k: _value(decl.field(k), p) for k, p in zip(decl.key, parts, strict=True)}
