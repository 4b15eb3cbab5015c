"""Encoding tiles as Mapbox Vector Tiles (MVT 2.1, ``application/vnd.mapbox-vector-tile``).

A tile is a protocol buffer of the specification's ``vector_tile.proto``: layers of
features, each feature a list of tags (key and value indexes into its layer's tables) and
of geometry commands, all of them varints. Encoded here with numpy over every feature of a
layer at once (:func:`varints`), because the maintained encoders cost too much per feature
for the densest tiles (2,900 households and 120 grids): PyPI ``mapbox-vector-tile``'s
``encode`` walks every coordinate in Python (30 ms for 5,000 points), and even its
``vector_tile_pb2`` messages filled by protobuf's C library take 2 µs a feature and 3 µs a
value, 20 ms for that tile, the whole budget (``bench/mvt.py``). The tests decode every tile
with that package's ``decode`` (the maintained decoder), QGIS and protomaps-leaflet read them.

Geometry: points as one ``MoveTo``; polygons rounded to whole tile units by GEOS
(``set_precision``, which keeps them valid: a sliver narrower than a unit vanishes), exterior
rings with a positive area in tile coordinates (y down) and holes negative, as the
specification asks. A feature carries no MVT id (the layers' keys are text: ``id`` or
``code`` is an attribute); a masked (``None``) attribute is left out.
"""

from __future__ import annotations

import datetime as dt
import struct

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid.cartography.tiles import EXTENT

#: the media type of an MVT tile
MEDIA_TYPE = "application/vnd.mapbox-vector-tile"

_MOVE_TO, _LINE_TO, _CLOSE = 1, 2, 7
_POINT, _POLYGON = 1, 3


def _key(field: int, wire: int) -> int:
    """A protocol buffer field's key: its number and wire type (0 varint, 1 fixed 64-bit,
    2 length-delimited)."""
    return (field << 3) | wire


# the fields used (vector_tile.proto): Tile.layers 3; Layer.version 15, name 1, features 2,
# keys 3, values 4, extent 5; Feature.tags 2, type 3, geometry 4; Value.string 1, double 3,
# sint 6, bool 7
_TILE_LAYER = _key(3, 2)
_LAYER_VERSION, _LAYER_NAME, _LAYER_FEATURE = _key(15, 0), _key(1, 2), _key(2, 2)
_LAYER_KEY, _LAYER_VALUE, _LAYER_EXTENT = _key(3, 2), _key(4, 2), _key(5, 0)
_FEATURE_TAGS, _FEATURE_TYPE, _FEATURE_GEOMETRY = _key(2, 2), _key(3, 0), _key(4, 2)
_VALUE_STRING, _VALUE_DOUBLE, _VALUE_SINT, _VALUE_BOOL = (
    _key(1, 2),
    _key(3, 1),
    _key(6, 0),
    _key(7, 0),
)


#: the smallest value of each varint size from 2 bytes on (7 bits a byte)
_SIZE_STEPS = np.array([1 << (7 * k) for k in range(1, 10)], dtype=np.uint64)


def varint_sizes(values: np.ndarray) -> np.ndarray:
    """The bytes each unsigned value takes as a varint (1–10)."""
    steps = np.searchsorted(_SIZE_STEPS, values.astype(np.uint64), side="right")
    return steps.astype(np.int64) + 1


def varints(values: np.ndarray) -> bytes:
    """Unsigned ``values`` as consecutive varints."""
    v = values.astype(np.uint64)
    size = varint_sizes(v)
    ends = np.cumsum(size)
    out = np.empty(int(ends[-1]) if len(ends) else 0, dtype=np.uint8)
    starts = ends - size
    for k in range(int(size.max()) if len(size) else 0):
        here = size > k
        byte = (v[here] >> np.uint64(7 * k)) & np.uint64(0x7F)
        more = (size[here] > k + 1).astype(np.uint64) << np.uint64(7)
        out[starts[here] + k] = (byte | more).astype(np.uint8)
    return out.tobytes()


#: the varints of 0–127 (most keys and lengths)
_SMALL = [bytes((v,)) for v in range(128)]


def _varint(value: int) -> bytes:
    """One unsigned value as a varint (plain Python: one value, no array's overhead)."""
    if value < 128:
        return _SMALL[value]
    out = bytearray()
    while value >= 128:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(key: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(key) + _varint(len(payload)) + payload


def zigzag(values: np.ndarray) -> np.ndarray:
    """Signed integers as the unsigned ones of the geometry commands' parameters."""
    v = values.astype(np.int64)
    return ((v << 1) ^ (v >> 63)).astype(np.uint64)


def _command(command: int, count: int) -> int:
    return (count << 3) | command


def polygon_commands(geometry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The commands of (multi)polygons in tile units, in one pass over all their rings.

    Each vertex rounded to the nearest unit (the few polygons that leaves invalid, a ring
    touching itself, rounded again by GEOS's snap rounding, which keeps them valid), rings
    oriented (exterior positive), repeated vertices and the closing one dropped, rings of
    fewer than three vertices dropped. Returns the commands of all features one after
    another and how many each feature has (0: nothing left)."""
    rounded = shapely.transform(geometry, np.rint)
    broken = ~shapely.is_valid(rounded)
    if broken.any():
        rounded[broken] = shapely.set_precision(geometry[broken], 1.0)
    rounded = shapely.orient_polygons(rounded, exterior_cw=False)
    parts, feature_of_part = shapely.get_parts(rounded, return_index=True)
    rings, part_of_ring = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    if not len(coords):  # everything rounded to nothing
        return np.zeros(0, dtype=np.uint64), np.zeros(len(geometry), dtype=np.int64)
    same_ring = ring_of[1:] == ring_of[:-1]
    closing = np.append(~same_ring, True)
    repeated = np.insert(same_ring & (coords[1:] == coords[:-1]).all(axis=1), 0, False)
    keep = ~closing & ~repeated
    coords, ring_of = coords[keep].astype(np.int64), ring_of[keep]
    vertices = np.bincount(ring_of, minlength=len(rings))
    kept = vertices >= 3
    coords, ring_of = coords[kept[ring_of]], ring_of[kept[ring_of]]
    feature_of_ring = feature_of_part[part_of_ring]
    feature_of = feature_of_ring[ring_of]
    # each vertex from the one before it in its feature (the first from the origin)
    before = np.vstack([np.zeros((1, 2), dtype=np.int64), coords[:-1]])
    before[np.insert(feature_of[1:] != feature_of[:-1], 0, True)] = 0
    moves = zigzag(coords - before)
    # a ring of n vertices: MoveTo(1) x y, LineTo(n - 1) x y …, ClosePath: 2n + 3 values
    n = vertices[kept]
    per = 2 * n + 3
    starts = np.cumsum(per) - per
    out = np.empty(int(per.sum()), dtype=np.uint64)
    out[starts] = _command(_MOVE_TO, 1)
    out[starts + 3] = (n - 1) << 3 | _LINE_TO
    out[starts + per - 1] = _command(_CLOSE, 1)
    j = np.arange(len(coords)) - np.repeat(np.cumsum(n) - n, n)  # vertex within its ring
    at = np.repeat(starts, n) + np.where(j == 0, 1, 2 * j + 2)
    out[at] = moves[:, 0]
    out[at + 1] = moves[:, 1]
    counts = np.bincount(feature_of_ring[kept], weights=per, minlength=len(geometry))
    return out, counts.astype(np.int64)


def _geometries(frame: gpd.GeoDataFrame) -> tuple[int, np.ndarray, np.ndarray]:
    """The MVT type of the layer's features, their commands one after another, and how
    many each feature has (0: nothing left after rounding)."""
    geometry = np.asarray(frame.geometry.array)
    if shapely.get_type_id(geometry[0]) in (0, 4):  # points
        xy = np.rint(shapely.get_coordinates(geometry)).astype(np.int64)
        out = np.empty((len(xy), 3), dtype=np.uint64)
        out[:, 0] = _command(_MOVE_TO, 1)
        out[:, 1:] = zigzag(xy)
        return _POINT, out.ravel(), np.full(len(xy), 3, dtype=np.int64)
    return (_POLYGON, *polygon_commands(geometry))


def _value(value: object) -> bytes | None:
    """A ``Value`` message; ``None`` for an absent (masked) value."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bytes((_VALUE_BOOL, int(bool(value))))
    if isinstance(value, int | np.integer):
        number = int(value)
        return bytes((_VALUE_SINT,)) + _varint((number << 1) ^ (number >> 63))
    if isinstance(value, float | np.floating):
        if value != value:
            return None
        return bytes((_VALUE_DOUBLE,)) + struct.pack("<d", float(value))
    if isinstance(value, dt.datetime | dt.date | pd.Timestamp):
        value = value.isoformat()
    return _field(_VALUE_STRING, str(value).encode("utf-8"))


def _values(distinct: np.ndarray) -> tuple[np.ndarray, bytes]:
    """The ``values`` fields of a column's distinct values, and each value's index among
    them (``-1``: absent, no field). Text (most values: ids, names, codes) in one pass."""
    if not len(distinct):
        return np.zeros(0, dtype=np.int64), b""
    distinct = np.asarray(distinct, dtype=object)
    if pd.api.types.infer_dtype(distinct, skipna=False) == "string":
        encoded = [v.encode("utf-8") for v in distinct.tolist()]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        text = np.frombuffer(b"".join(encoded), dtype=np.uint8)
        inner = 1 + varint_sizes(lengths) + lengths  # Value: key, length, text
        heads = np.empty((len(encoded), 4), dtype=np.uint64)
        heads[:, 0], heads[:, 1] = _LAYER_VALUE, inner
        heads[:, 2], heads[:, 3] = _VALUE_STRING, lengths
        head_sizes = varint_sizes(heads.ravel()).reshape(-1, 4).sum(axis=1)
        per = head_sizes + lengths
        starts = np.cumsum(per) - per
        out = np.empty(int(per.sum()), dtype=np.uint8)
        out[_positions(starts, head_sizes)] = np.frombuffer(varints(heads.ravel()), np.uint8)
        out[_positions(starts + head_sizes, lengths)] = text
        return np.arange(len(encoded), dtype=np.int64), out.tobytes()
    messages = [_value(v) for v in distinct]
    table = np.array([-1 if m is None else i for i, m in enumerate(messages)], dtype=np.int64)
    table[table >= 0] = np.arange(int((table >= 0).sum()))
    return table, b"".join(_field(_LAYER_VALUE, m) for m in messages if m is not None)


def encode_layer(name: str, frame: gpd.GeoDataFrame) -> bytes:
    """The layer ``name`` of ``frame`` (:func:`gisgrid.cartography.tiles.read_tile`: tile
    units, unrounded) as a ``Layer`` message; ``b""`` when no feature is left."""
    if not len(frame):
        return b""
    kind, flat_geometry, counts = _geometries(frame)
    keep = counts > 0
    if not keep.any():
        return b""
    columns = [c for c in frame.columns if c != frame.geometry.name]
    # the values' table: each column's distinct values, in turn; a feature's tags: the pairs
    # (key, value) of its present values, in column order
    values: list[bytes] = []  # the layer's values fields, a column's at a time
    counted = 0
    codes = np.full((len(frame), len(columns)), -1, dtype=np.int64)
    for k, column in enumerate(columns):
        found, distinct = pd.factorize(frame[column].astype(object), use_na_sentinel=True)
        table, fields = _values(distinct)
        table[table >= 0] += counted
        counted += int((table >= 0).sum())
        values.append(fields)
        if len(table):
            codes[:, k] = np.where(found >= 0, table[np.maximum(found, 0)], -1)
    codes, counts = codes[keep], counts[keep]
    present = codes >= 0
    pairs = np.stack([np.broadcast_to(np.arange(len(columns)), codes.shape), codes], axis=2)
    flat_tags = pairs[present].ravel().astype(np.uint64)
    tag_counts = 2 * present.sum(axis=1)
    features = _features(kind, flat_tags, tag_counts, flat_geometry, counts)
    parts = [
        bytes((_LAYER_VERSION, 2)),
        _field(_LAYER_NAME, name.encode("utf-8")),
        features,
        *(_field(_LAYER_KEY, c.encode("utf-8")) for c in columns),
        *values,
        _varint(_LAYER_EXTENT) + _varint(EXTENT),
    ]
    return b"".join(parts)


def _features(
    kind: int,
    tags: np.ndarray,
    tag_counts: np.ndarray,
    geometry: np.ndarray,
    geometry_counts: np.ndarray,
) -> bytes:
    """Every feature of a layer as consecutive ``features`` fields, in one pass.

    Every byte of a feature is a varint (keys, lengths, tags, type, commands): the varints
    of all features are laid out in one array, the lengths computed from the sizes of the
    varints they cover, and encoded at once (:func:`varints`)."""
    n = len(tag_counts)
    tag_sizes = _sums(varint_sizes(tags), tag_counts)
    geometry_sizes = _sums(varint_sizes(geometry), geometry_counts)
    body = (
        1 + varint_sizes(tag_sizes) + tag_sizes  # tags: key, length, values
        + 2  # type: key, value
        + 1 + varint_sizes(geometry_sizes) + geometry_sizes  # geometry
    )  # fmt: skip
    # each feature: [feature key, body length, tags key, tags length, *tags, type key,
    # type, geometry key, geometry length, *geometry]
    per = 4 + tag_counts + 4 + geometry_counts
    ends = np.cumsum(per)
    starts = ends - per
    out = np.empty(int(ends[-1]), dtype=np.uint64)
    out[starts] = _LAYER_FEATURE
    out[starts + 1] = body
    out[starts + 2] = _FEATURE_TAGS
    out[starts + 3] = tag_sizes
    out[_positions(starts + 4, tag_counts)] = tags
    middle = starts + 4 + tag_counts
    out[middle] = _FEATURE_TYPE
    out[middle + 1] = kind
    out[middle + 2] = _FEATURE_GEOMETRY
    out[middle + 3] = geometry_sizes
    out[_positions(middle + 4, geometry_counts)] = geometry
    assert n == len(geometry_counts)
    return varints(out)


def _sums(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The sums of consecutive runs of ``values``, ``counts`` long each (zero for none)."""
    ends = np.cumsum(counts)
    total = np.concatenate([[0], np.cumsum(values)])
    return total[ends] - total[ends - counts]


def _positions(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Positions ``start, start + 1, …`` of runs ``counts`` long, one run after another."""
    offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts)
    return offsets + np.arange(int(counts.sum()))


def encode(layers: dict[str, gpd.GeoDataFrame]) -> bytes:
    """One tile of ``layers`` (name → :func:`~gisgrid.cartography.tiles.read_tile`'s frame);
    ``b""`` when no layer holds a feature."""
    encoded = (encode_layer(name, frame) for name, frame in layers.items())
    return b"".join(_field(_TILE_LAYER, layer) for layer in encoded if layer)


__all__ = ["MEDIA_TYPE", "encode", "encode_layer", "polygon_commands", "varints", "zigzag"]
