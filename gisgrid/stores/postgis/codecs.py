"""Values in and out of PostgreSQL: COPY rows and parameters, EWKB, fixed-width binary data.

Rows go in by binary ``COPY`` (geometries as EWKB). An assignment's points come out as one
binary value of fixed-width records, and its grid codes go back as a binary ``COPY`` payload,
both built and parsed with numpy: a million points move in a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import crs as crsmod
from gisgrid.errors import StoreError
from gisgrid.layers.schema import Field, FieldType, Layer
from gisgrid.stores.base import LayerPoints

#: the column holding a spatial layer's geometry
GEOMETRY_COLUMN = "geom"
SRID = 4326
#: binary COPY type of each declared field type (the migrations create these column types)
COPY_TYPES: dict[FieldType, str] = {
    "str": "text",
    "int": "int4",
    "float": "float8",
    "bool": "bool",
    "date": "date",
    "datetime": "timestamp",
}
COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


# --- rows and parameters -----------------------------------------------------------------------


def column_values(values: pd.Series, f: Field) -> list[Any]:
    """A canonical column as Python values for COPY (``None`` for missing)."""
    if f.type == "str":
        return [None if v is None or v is pd.NA else str(v) for v in values.tolist()]
    if f.type in ("int", "bool"):
        return list(values.astype(object).where(values.notna(), None))
    if f.type == "float":
        return values.astype(object).where(values.notna(), None).tolist()
    present = values.notna().to_numpy()
    items = values.dt.date.tolist() if f.type == "date" else list(values.dt.to_pydatetime())
    return [v if ok else None for v, ok in zip(items, present, strict=True)]


#: a 2D point as EWKB, little endian, with SRID: the bytes PostGIS' binary input takes
_EWKB_POINT = np.dtype(
    [("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"), ("y", "<f8")]
)


def _point_records(geoms: Any) -> np.ndarray | None:
    """Points (none missing or empty) as EWKB records, built directly, far faster than
    ``to_wkb``; ``None`` for anything else."""
    arr = np.asarray(geoms, dtype=object)
    n = len(arr)
    if not n or shapely.is_missing(arr).any():
        return None
    if not (shapely.get_type_id(arr) == 0).all() or shapely.is_empty(arr).any():
        return None
    xy = shapely.get_coordinates(arr)
    rec = np.empty(n, dtype=_EWKB_POINT)
    rec["order"] = 1
    rec["type"] = 0x20000001  # Point with the SRID flag
    rec["srid"] = SRID
    rec["x"] = xy[:, 0]
    rec["y"] = xy[:, 1]
    return rec


def ewkb(geoms: Any) -> list[bytes | None]:
    """Geometries as 2D EWKB with SRID 4326 (``None`` stays ``None``)."""
    arr = np.asarray(geoms, dtype=object)
    rec = _point_records(arr)
    if rec is not None:
        raw = rec.tobytes()
        size = _EWKB_POINT.itemsize
        return [raw[i : i + size] for i in range(0, len(raw), size)]
    flat = shapely.set_srid(shapely.force_2d(arr), SRID)
    return list(shapely.to_wkb(flat, include_srid=True))


def copy_rows(
    decl: Layer, frame: pd.DataFrame, *, omit: Sequence[str] = ()
) -> tuple[list[str], list[str], Iterable[Any]]:
    """Columns, binary COPY types and rows of a canonical frame (without the ``omit`` ones)."""
    fields = [f for f in decl.fields if f.name not in omit]
    columns = [f.name for f in fields]
    types = [COPY_TYPES[f.type] for f in fields]
    values = [column_values(frame[f.name], f) for f in fields]
    if decl.spatial:
        columns.append(GEOMETRY_COLUMN)
        types.append("bytea")  # EWKB bytes, read by geometry's binary input
        values.append(ewkb(frame.geometry.values))
    return columns, types, zip(*values, strict=True)


#: COPY types :func:`copy_payload` encodes with numpy, and their widths (None: variable)
_PACKED: dict[str, np.dtype | None] = {
    "text": None,
    "bytea": None,
    "int4": np.dtype(">i4"),
    "float8": np.dtype(">f8"),
    "bool": np.dtype("u1"),
}
#: rows encoded at a time (bounds the index arrays of variable-width values)
PAYLOAD_ROWS = 65_536


def _text_column(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """UTF-8 bytes of a text column, joined, and each value's length (-1: NULL); ``None``
    when a value holds a NUL character (PostgreSQL refuses it: the row by row path says so)."""
    missing = values.isna().to_numpy()
    items = values.to_numpy(dtype=object).copy()
    items[missing] = ""
    try:
        joined = "\x00".join(items.tolist())
    except TypeError:  # not all str: as column_values writes them
        joined = "\x00".join(str(v) for v in items.tolist())
    raw = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    ends = np.flatnonzero(raw == 0)
    if len(ends) != max(len(items) - 1, 0):
        return None
    lengths = np.diff(np.r_[-1, ends, len(raw)]) - 1
    return np.delete(raw, ends), np.where(missing, -1, lengths)


def _bytes_column(items: list[bytes | None]) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((-1 if b is None else len(b) for b in items), np.int64, len(items))
    data = np.frombuffer(b"".join(b for b in items if b is not None), dtype=np.uint8)
    return data, lengths


def copy_payload(
    decl: Layer,
    frame: pd.DataFrame,
    *,
    omit: Sequence[str] = (),
    rows_per_chunk: int = PAYLOAD_ROWS,
) -> tuple[list[str], Iterable[bytes]] | None:
    """Columns and binary COPY data of a canonical frame, built with numpy (``None`` when a
    column's type is not one of text, int4, float8 and bool, or a text holds a NUL: then
    :func:`copy_rows` row by row). The same bytes psycopg writes for :func:`copy_rows`: a
    header, each row as its field count and each field's length (-1: NULL) and value (big
    endian; geometries as EWKB), the trailer."""
    fields = [f for f in decl.fields if f.name not in omit]
    columns = [f.name for f in fields]
    encoded: list[tuple[np.ndarray, np.ndarray, int | None]] = []
    for f in fields:
        kind = COPY_TYPES[f.type]
        if kind not in _PACKED:
            return None
        values = frame[f.name]
        width = _PACKED[kind]
        if width is None:
            text = _text_column(values)
            if text is None:
                return None
            encoded.append((*text, None))
            continue
        present = values.notna().to_numpy()
        fixed = values.to_numpy(dtype=object)
        fixed[~present] = 0
        data = np.asarray(fixed.astype(np.float64 if kind == "float8" else np.int64))
        if kind == "int4" and len(data) and not (-(2**31) <= data.min() <= data.max() < 2**31):
            return None  # out of range: the row by row path has the database say so
        packed = data.astype(width).view(np.uint8)
        encoded.append((packed, np.where(present, width.itemsize, -1), width.itemsize))
    if decl.spatial:
        columns.append(GEOMETRY_COLUMN)
        points = _point_records(frame.geometry.values)
        if points is not None:  # 25 bytes each
            size = _EWKB_POINT.itemsize
            lengths = np.full(len(points), size, dtype=np.int64)
            encoded.append((points.view(np.uint8), lengths, size))
        else:
            encoded.append((*_bytes_column(ewkb(frame.geometry.values)), None))
    return columns, _payload_chunks(encoded, len(frame), rows_per_chunk)


def _payload_chunks(
    encoded: list[tuple[np.ndarray, np.ndarray, int | None]], n: int, rows_per_chunk: int
) -> Iterable[bytes]:
    yield COPY_SIGNATURE + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    starts = [np.r_[0, np.cumsum(np.maximum(lengths, 0))] for _, lengths, _ in encoded]
    field_count = np.array([len(encoded)], dtype=">i2").view(np.uint8)
    four = np.arange(4)
    for lo in range(0, n, rows_per_chunk):
        hi = min(lo + rows_per_chunk, n)
        sizes = [np.maximum(lengths[lo:hi], 0) for _, lengths, _ in encoded]
        row_size = 2 + sum(4 + size for size in sizes)
        row_start = np.r_[0, np.cumsum(row_size)].astype(np.int64)
        out = np.empty(int(row_start[-1]), dtype=np.uint8)
        at = row_start[:-1]
        out[at[:, None] + np.arange(2)] = field_count
        at = at + 2
        for (data, lengths, width), start, size in zip(encoded, starts, sizes, strict=True):
            out[at[:, None] + four] = lengths[lo:hi].astype(">i4").view(np.uint8).reshape(-1, 4)
            at = at + 4
            if width is not None:  # fixed width: every value (NULLs too) is width bytes in data
                keep = lengths[lo:hi] >= 0
                rows = data.reshape(-1, width)[lo:hi][keep]
                out[at[keep][:, None] + np.arange(width)] = rows
            else:
                first, last = int(start[lo]), int(start[hi])
                offsets = start[lo:hi] - first
                total = last - first
                if total:
                    where = np.repeat(at - offsets, size) + np.arange(total)
                    out[where] = data[first:last]
            at = at + size
        yield out.tobytes()
    yield b"\xff\xff"


def param(f: Field, value: Any) -> Any:
    """A ``where`` value as the Python type of its column."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return None
    if f.type == "str":
        return str(value)
    if f.type == "int":
        return int(value)
    if f.type == "float":
        return float(value)
    if f.type == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("true", "1", "yes", "y", "t", "是", "真")
        return bool(value)
    ts = pd.Timestamp(value)
    return ts.date() if f.type == "date" else ts.to_pydatetime()


def grids_frame(rows: Sequence[tuple[Any, ...]]) -> gpd.GeoDataFrame:
    """``(code, WKB, valid_from, valid_to)`` rows as a frame of grids: ``code``, the dates
    (``datetime64``, ``NaT`` when missing) and geometry in EPSG:4326."""
    return gpd.GeoDataFrame(
        {
            "code": [str(r[0]) for r in rows],
            "valid_from": pd.to_datetime([r[2] for r in rows]).astype("datetime64[ms]"),
            "valid_to": pd.to_datetime([r[3] for r in rows]).astype("datetime64[ms]"),
        },
        geometry=gpd.GeoSeries(
            shapely.from_wkb(np.asarray([r[1] for r in rows], dtype=object))
            if rows
            else np.empty(0, dtype=object),
            crs=crsmod.STORAGE_CRS,
        ),
    )


# --- points out, codes back: fixed-width binary data built and parsed with numpy --------------

#: one point as ``points_out`` sends it (int8send is big endian, ST_AsBinary NDR little)
_POINT_RECORD = np.dtype(
    [("fid", ">i8"), ("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")]
)
#: one grid code as ``grid_codes_out`` sends it
_CODE_RECORD = np.dtype([("fid", ">i8"), ("code", ">i8")])
#: a (fid bigint, grid_code text of 18 digits) row of binary COPY input
_GRID_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("fid", ">i8"), ("l2", ">i4"), ("code", "S18")])


def records(count: int, data: bytes | None, dtype: np.dtype) -> np.ndarray:
    """``count`` fixed-width records sent as one value."""
    data = data or b""
    if len(data) != count * dtype.itemsize:
        raise StoreError(f"unexpected answer from the database: {len(data)} bytes for {count}")
    return np.frombuffer(data, dtype=dtype)


def parse_points(count: int, data: bytes | None) -> LayerPoints:
    """The ``points_out`` query's answer (``count`` records) as arrays."""
    rows = records(count, data, _POINT_RECORD)
    if count and not ((rows["order"] == 1).all() and (rows["type"] == 1).all()):
        raise StoreError("unexpected answer from the database: not 2D points")
    return LayerPoints(
        rows["fid"].astype(np.int64), rows["x"].astype(np.float64), rows["y"].astype(np.float64)
    )


def current_codes(fid: np.ndarray, count: int, data: bytes | None) -> tuple[np.ndarray, np.ndarray]:
    """The ``grid_codes_out`` answer aligned with the points ``fid``: each point's current
    code as a number (-1: none), and the fids of codes whose point is gone."""
    rows = records(count, data, _CODE_RECORD)
    code_fid, code = rows["fid"].astype(np.int64), rows["code"].astype(np.int64)
    current = np.full(len(fid), -1, dtype=np.int64)
    order = np.argsort(fid, kind="stable")
    at = np.minimum(np.searchsorted(fid[order], code_fid), max(len(fid) - 1, 0))
    found = fid[order][at] == code_fid if len(fid) else np.zeros(len(code_fid), dtype=bool)
    current[order[at[found]]] = code[found]
    return current, code_fid[~found]


def codes_as_numbers(codes: Sequence[str]) -> np.ndarray:
    """18-digit level-3 codes as int64 (they fit: below 2**63), checked to round-trip."""
    if any(len(c) != 18 or not c.isdigit() for c in codes):
        raise StoreError("a level-3 grid code is not 18 digits: run `gisgrid init`")
    return np.asarray([int(c) for c in codes], dtype=np.int64)


def grid_rows_payload(fid: np.ndarray, code: np.ndarray) -> bytes:
    """Binary COPY input of ``<layer>_grid`` rows: fids and their codes.

    ``code`` holds 18-byte strings (``S18``), checked by :func:`codes_as_numbers` before.
    """
    rows = np.empty(len(fid), dtype=_GRID_ROW)
    rows["n"] = 2
    rows["l1"] = 8
    rows["fid"] = fid
    rows["l2"] = 18
    rows["code"] = code
    header = COPY_SIGNATURE + (0).to_bytes(4, "big") + (0).to_bytes(4, "big")
    return header + rows.tobytes() + b"\xff\xff"
