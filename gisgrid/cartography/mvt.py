"""Encoding tiles as Mapbox Vector Tiles (MVT 2.1, ``application/vnd.mapbox-vector-tile``).

The protocol buffer is the one PyPI ``mapbox-vector-tile`` ships (its ``vector_tile_pb2``,
the specification's ``vector_tile.proto``, serialised by protobuf's C library); what is
done here is the quantisation and the geometry commands, with numpy over whole rings:
that package's own ``encode`` walks every coordinate in Python, 6 ms a thousand points, a
third of the time a dense tile may take (``bench/mvt.py``). Its ``decode`` is what the
tests read the tiles back with.

Geometry (:func:`geometry_commands`): points as one ``MoveTo``; polygons rounded to whole
tile units by GEOS (``set_precision``, which keeps them valid: a sliver narrower than a
unit vanishes), exterior rings with a positive area in tile coordinates (y down) and holes
negative, as the specification asks. A feature carries no MVT id (the layers' keys are text:
``id`` or ``code`` is an attribute); a masked (``None``) attribute is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from mapbox_vector_tile.Mapbox import vector_tile_pb2

from gisgrid.cartography.tiles import EXTENT

#: the media type of an MVT tile
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"

_MOVE_TO, _LINE_TO, _CLOSE = 1, 2, 7
_POINT, _POLYGON = 1, 3


def _command(command: int, count: int) -> int:
    return (count << 3) | command


def _zigzag(values: np.ndarray) -> np.ndarray:
    return (values << 1) ^ (values >> 63)


def point_commands(xy: np.ndarray) -> np.ndarray:
    """``(n, 3)`` commands of ``n`` points at integer tile coordinates ``xy``."""
    out = np.empty((len(xy), 3), dtype=np.int64)
    out[:, 0] = _command(_MOVE_TO, 1)
    out[:, 1:] = _zigzag(xy.astype(np.int64))
    return out


def polygon_commands(polygon: shapely.Geometry) -> list[int]:
    """The commands of a (multi)polygon already rounded and oriented (integer coordinates)."""
    out: list[int] = []
    cursor = np.zeros(2, dtype=np.int64)
    parts = shapely.get_parts(polygon)
    for part in parts:
        rings = [part.exterior, *part.interiors]
        for ring in rings:
            xy = shapely.get_coordinates(ring).astype(np.int64)[:-1]  # without the closing one
            if len(xy) < 3:
                continue
            deltas = np.diff(xy, axis=0, prepend=cursor[None, :])
            cursor = xy[-1]
            zz = _zigzag(deltas)
            out.append(_command(_MOVE_TO, 1))
            out.extend(zz[0].tolist())
            out.append(_command(_LINE_TO, len(xy) - 1))
            out.extend(zz[1:].ravel().tolist())
            out.append(_command(_CLOSE, 1))
    return out


def _value(value: object) -> tuple[str, object] | None:
    """The MVT value of an attribute: (its field in ``Value``, the value); ``None`` if absent."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return "bool_value", bool(value)
    if isinstance(value, int | np.integer):
        return "sint_value", int(value)
    if isinstance(value, float | np.floating):
        return None if value != value else ("double_value", float(value))
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        return "string_value", value.isoformat()
    return "string_value", str(value)


def encode_layer(tile: vector_tile_pb2.tile, name: str, frame: gpd.GeoDataFrame) -> None:
    """Add the layer ``name`` of ``frame`` (:func:`gisgrid.cartography.tiles.read_tile`: tile
    units, unrounded) to ``tile``; nothing when no feature is left after rounding."""
    if not len(frame):
        return
    geometry = np.asarray(frame.geometry.array)
    points = bool(shapely.get_type_id(geometry[0]) in (0, 4))
    if points:
        xy = np.rint(shapely.get_coordinates(geometry))
        commands: list[list[int]] = point_commands(xy).tolist()
        kinds = _POINT
    else:
        rounded = shapely.orient_polygons(shapely.set_precision(geometry, 1.0), exterior_cw=False)
        commands = [polygon_commands(g) if not shapely.is_empty(g) else [] for g in rounded]
        kinds = _POLYGON
    layer = tile.layers.add()
    layer.version = 2
    layer.name = name
    layer.extent = EXTENT
    keys: dict[str, int] = {}
    values: dict[tuple[str, object], int] = {}
    columns = [c for c in frame.columns if c != frame.geometry.name]
    for column in columns:
        keys[column] = len(keys)
    records: Iterable[tuple[object, ...]] = zip(
        *(frame[c].astype(object).to_numpy() for c in columns), strict=True
    )
    for geom, record in zip(commands, records, strict=True):
        if not geom:
            continue
        tags: list[int] = []
        for column, raw in zip(columns, record, strict=True):
            value = _value(raw)
            if value is None:
                continue
            index = values.get(value)
            if index is None:
                index = values[value] = len(values)
            tags.append(keys[column])
            tags.append(index)
        feature = layer.features.add()
        feature.type = kinds
        feature.tags.extend(tags)
        feature.geometry.extend(geom)
    layer.keys.extend(keys)
    for field, raw in values:
        setattr(layer.values.add(), field, raw)


def encode(layers: dict[str, gpd.GeoDataFrame]) -> bytes:
    """One tile of ``layers`` (name → :func:`~gisgrid.cartography.tiles.read_tile`'s frame);
    ``b""`` when no layer holds a feature."""
    tile = vector_tile_pb2.tile()
    for name, frame in layers.items():
        encode_layer(tile, name, frame)
    if not any(len(layer.features) for layer in tile.layers):
        return b""
    out: bytes = tile.SerializeToString()
    return out


__all__ = ["MEDIA_TYPE", "encode", "encode_layer", "point_commands", "polygon_commands"]
