"""How a layer is declared, once, and how any input is checked against that declaration.

Each module in :mod:`gisgrid.layers` declares one :class:`Layer`: its columns, their types,
required fields, allowed values, key, and geometry type. Stores, importers, exporters and the
API all read that one declaration; nothing else lists a layer's columns.

Validation never stops at the first problem: it collects every :class:`~gisgrid.errors.Problem`
so a planner can fix a whole file in one go, and raises one
:class:`~gisgrid.errors.ValidationError`. Nothing is written when it raises.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import crs as crsmod
from gisgrid.errors import Problem, ValidationError
from gisgrid.settings import GeometrySettings

FieldType = Literal["str", "int", "float", "bool", "date", "datetime"]
GeometryType = Literal["MultiPolygon", "Point"]

#: a generous box around the People's Republic (lon, lat); used to catch wrong CRS and swaps
CHINA_BOUNDS = (73.0, 3.0, 136.0, 54.0)

#: how far outside the county (the townships in the store) a point may lie, in metres: GPS
#: error, a house on the border; checked on import (:func:`gisgrid.exchange.outside_county`)
OUTLINE_MARGIN_M = 2000.0

PANDAS_DTYPES: dict[FieldType, str] = {
    "str": "object",
    "int": "Int64",
    "float": "float64",
    "bool": "boolean",
    "date": "datetime64[ms]",
    "datetime": "datetime64[ms]",
}

#: times without an offset are local times of the county
LOCAL_TZ = "Asia/Shanghai"

#: most characters of a text value unless its field says otherwise: a name, not a note
TEXT_MAX_LENGTH = 200

#: integer columns are 64-bit in every store; a value at or beyond this magnitude does not fit
INT64_LIMIT = 2.0**63

#: control characters (C0, DEL, C1), refused in text; multiline fields allow tab and line breaks
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CHARACTER_NAMES = {
    "\x00": "a NUL character",
    "\t": "a tab",
    "\n": "a line break",
    "\r": "a line break",
}

#: how a value of each type is called in messages
_TYPE_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "true/false",
    "date": "a date",
    "datetime": "a date and time",
}

_TRUE = {"true", "1", "yes", "y", "t", "是", "真"}
_FALSE = {"false", "0", "no", "n", "f", "否", "假"}


#: whose personal information a field holds (see :attr:`Field.personal`)
Personal = Literal["resident", "staff"]
#: how a masked value is shown
MaskStyle = Literal["name", "phone", "hidden"]


@dataclass(frozen=True)
class Field:
    """One attribute column of a layer.

    Parameters
    ----------
    name
        Column name in frames, stores and exchange files.
    type
        One of ``str``, ``int``, ``float``, ``bool``, ``date``, ``datetime``.
    required
        A value must be present in every feature.
    label_zh
        Chinese label for user interfaces.
    description
        English description for the exchange-format docs and the API schema.
    pattern
        Regular expression a ``str`` value must match in full.
    choices
        Allowed values of a ``str`` field.
    minimum, maximum
        Inclusive range of a numeric field.
    assigned
        Filled by gisgrid (assignment), never required on import.
    default
        Value used when the column is absent from an input (only for optional or bool fields).
    hint
        How a well-formed value looks, for error messages (derived for digit codes).
    max_length
        Most characters a ``str`` value may hold after stripping (default
        :data:`TEXT_MAX_LENGTH`, enough for a name; a note declares more).
    multiline
        A ``str`` value may hold tabs and line breaks. Other control characters (NUL among
        them, which GDAL and PostgreSQL cannot keep) are refused in every text field.
    personal
        Personal information, and whose: ``resident`` (a household's: shown only to roles
        that read household records) or ``staff`` (a responsible person's contact: hidden
        from roles that see figures only). :mod:`gisgrid.analysis.scope` masks by it.
    masked_as
        How a masked value is shown: ``name`` (张**), ``phone`` (138****5678) or ``hidden``.
    """

    name: str
    type: FieldType
    required: bool = False
    label_zh: str = ""
    description: str = ""
    pattern: str | None = None
    choices: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    assigned: bool = False
    default: object = None
    hint: str = ""
    max_length: int | None = TEXT_MAX_LENGTH
    multiline: bool = False
    personal: Personal | None = None
    masked_as: MaskStyle = "hidden"

    @property
    def dtype(self) -> str:
        return PANDAS_DTYPES[self.type]


RowCheck = Callable[[pd.DataFrame], Iterable[tuple[int, str | None, str]]]
"""A layer-specific check over the coerced frame: yields (row position, field, message)."""


@dataclass(frozen=True)
class Layer:
    """The declaration of one data layer.

    Parameters
    ----------
    name
        Table name in every store and the layer name on the command line.
    label_zh
        Chinese name for user interfaces.
    description
        One line on what the layer holds.
    fields
        The attribute columns, in order.
    key
        The column(s) whose values identify a feature; unique within the layer.
    geometry_type
        ``MultiPolygon`` or ``Point``; ``None`` for a table without geometry.
    checks
        Further checks that involve several columns of a row or several rows.
    """

    name: str
    label_zh: str
    description: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    geometry_type: GeometryType | None = None
    checks: tuple[RowCheck, ...] = field(default_factory=tuple)

    @property
    def columns(self) -> list[str]:
        """Attribute column names in declared order (without geometry)."""
        return [f.name for f in self.fields]

    @property
    def spatial(self) -> bool:
        return self.geometry_type is not None

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    def empty(self) -> pd.DataFrame:
        """An empty frame with the declared columns, dtypes and geometry."""
        data = {f.name: pd.Series([], dtype=f.dtype) for f in self.fields}
        if self.spatial:
            return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries([], crs=crsmod.STORAGE_CRS))
        return pd.DataFrame(data)

    def conform(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Cast a frame read back from a store to the declared columns and dtypes.

        Stores lose some dtype detail (GeoPackage has no nullable integer or boolean); this
        puts it back, so that what is read equals what was written. Use :meth:`validate` for
        untrusted input: this method assumes the values are already valid.
        """
        out = {}
        n = len(frame)
        for f in self.fields:
            col = frame[f.name] if f.name in frame.columns else pd.Series([None] * n)
            out[f.name] = _cast(col.reset_index(drop=True), f)
        if self.spatial:
            geoms = frame.geometry.values if n else gpd.GeoSeries([]).values
            return gpd.GeoDataFrame(
                out, geometry=gpd.GeoSeries(geoms, crs=crsmod.STORAGE_CRS).reset_index(drop=True)
            )
        return pd.DataFrame(out)

    def validate(self, frame: pd.DataFrame, *, crs: str | None = None) -> pd.DataFrame:
        """Check an input frame against the declaration and return it in canonical form.

        Canonical form: exactly the declared columns in order, declared dtypes, geometry in
        EPSG:4326 (polygons promoted to MultiPolygon), index 0..n-1. Columns not declared are
        dropped.

        Values are what their column says or refused: no JSON object or array in any column,
        no true/false as a number or as text, integers within the declared range (and always
        within 64 bits), text without control characters and at most
        :attr:`Field.max_length` characters. Geometry is two-dimensional in every store: a Z
        (height) or M coordinate is dropped here, before any store sees it. A NaN or infinite
        coordinate is refused as such, and so is a polygon of more vertices than
        ``GISGRID_GEOMETRY_MAX_VERTICES`` (:class:`~gisgrid.settings.GeometrySettings`).

        Parameters
        ----------
        frame
            The input, a GeoDataFrame for spatial layers.
        crs
            CRS of the coordinates when the input does not say (or to override what it says):
            any EPSG code, ``cgcs2000``, ``gcj02`` or ``bd09``. EPSG:4490 (CGCS2000) is taken as
            equal to EPSG:4326: the two agree within about a metre.

        Raises
        ------
        ValidationError
            With every problem found, naming the feature and the field.
        """
        problems: list[Problem] = []
        frame = frame.reset_index(drop=True)
        n = len(frame)
        keys = self._feature_keys(frame)

        def add(i: int | None, fld: str | None, msg: str) -> None:
            problems.append(Problem(i, keys[i] if i is not None else None, fld, msg))

        out: dict[str, pd.Series] = {}
        for f in self.fields:
            if f.name not in frame.columns:
                if f.required and not f.assigned and f.type != "bool":
                    add(None, f.name, "required column is missing")
                    continue
                out[f.name] = _cast(pd.Series([f.default] * n), f)
                continue
            out[f.name] = _coerce_field(frame[f.name], f, add)

        if problems and any(p.index is None for p in problems):
            raise ValidationError(self.name, problems)

        result = pd.DataFrame(out)
        key_cols = [k for k in self.key if k in result.columns]
        if key_cols and n:
            dup = result.duplicated(subset=key_cols, keep=False)
            has_key = result[key_cols].notna().all(axis=1)
            for i in _positions(dup & has_key):
                add(int(i), ",".join(key_cols), "duplicate key: another feature has the same")
        for check in self.checks:
            for i, fld, msg in check(result):
                add(i, fld, msg)

        if self.spatial:
            geoms = _validate_geometry(frame, self.geometry_type, crs, add)  # type: ignore[arg-type]
            result = gpd.GeoDataFrame(result, geometry=geoms)
        if problems:
            problems.sort(key=lambda p: -1 if p.index is None else p.index)
            raise ValidationError(self.name, problems)
        return result

    def _feature_keys(self, frame: pd.DataFrame) -> list[str | None]:
        if not self.key or any(k not in frame.columns for k in self.key):
            return [None] * len(frame)
        parts = [frame[k].astype("object").where(frame[k].notna(), "") for k in self.key]
        joined = parts[0].astype(str)
        for p in parts[1:]:
            joined = joined + "/" + p.astype(str)
        return [_quoted(s) if s.strip("/") else None for s in joined.tolist()]


def iso_dates(frame: pd.DataFrame, decl: Layer) -> pd.DataFrame:
    """``frame`` with its date fields as ISO dates (``2024-03-01``, ``None`` where missing):
    what a file or an answer shows of a date, not the midnight of a date-time."""
    dated = [f.name for f in decl.fields if f.type == "date" and f.name in frame.columns]
    if not dated or not len(frame):
        return frame
    frame = frame.copy()
    for name in dated:
        days = pd.to_datetime(frame[name])
        frame[name] = days.dt.strftime("%Y-%m-%d").astype(object).where(days.notna(), None)
    return frame


def _positions(mask: object) -> list[int]:
    """Positions where a boolean mask (array or Series) is true, as Python ints."""
    return [int(i) for i in np.flatnonzero(np.asarray(mask, dtype=bool))]


def _show(value: object, limit: int = 40) -> str:
    """A value as a message may quote it: control characters escaped, long text cut."""
    if isinstance(value, dict | list | tuple):
        text = json.dumps(value, ensure_ascii=False, default=str)
    else:
        text = str(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


#: Python types a value of any column may have (the rest are looked at one by one)
_PLAIN_TYPES = {str, int, float, type(None), np.float64, np.int64}


def _quoted(text: str) -> str:
    """:func:`_show` for text, at no cost for the usual short printable text."""
    return text if len(text) <= 40 and text.isprintable() else _show(text)


def _wrong_kind(value: object, f: Field) -> str | None:
    """Why a value can never be of the field's type (None when it may be)."""
    what = _TYPE_WORDS[f.type]
    if isinstance(value, dict):
        return f"an object ({_show(value)}) is not {what}"
    if isinstance(value, list | tuple | set | np.ndarray):
        return f"a list ({_show(list(value))}) is not {what}"
    if isinstance(value, bool | np.bool_) and f.type != "bool":
        return f"{str(bool(value)).lower()} is a true/false value, not {what}"
    return None


def _refuse_wrong_kinds(
    raw: pd.Series, f: Field, add: Callable[[int | None, str | None, str], None]
) -> tuple[pd.Series, np.ndarray]:
    """Refuse values whose kind is never of the field's type, and blank them.

    GeoJSON gives objects, arrays and booleans; left to pandas, ``true`` would become 1 and an
    object its repr. Blanked values are neither coerced nor reported again as missing.
    """
    n = len(raw)
    if raw.dtype == bool or str(raw.dtype) == "boolean":
        if f.type == "bool":
            return raw, np.zeros(n, dtype=bool)
        reasons = [_wrong_kind(bool(v), f) if v is not pd.NA else None for v in raw.tolist()]
    elif raw.dtype == object:
        values = raw.tolist()
        plain = _PLAIN_TYPES | ({bool, np.bool_} if f.type == "bool" else set())
        if set(map(type, values)) <= plain:  # the usual case, at a fraction of the cost
            return raw, np.zeros(n, dtype=bool)
        reasons = [_wrong_kind(v, f) for v in values]
    else:
        return raw, np.zeros(n, dtype=bool)
    refused = np.array([r is not None for r in reasons], dtype=bool)
    if not refused.any():
        return raw, refused
    for i in _positions(refused):
        add(i, f.name, str(reasons[i]))
    blanked = pd.Series([None if r else v for v, r in zip(raw.tolist(), refused, strict=True)])
    return blanked.astype("object"), refused


def _to_numbers(values: pd.Series) -> np.ndarray:
    """Values as float64: NaN where a value is no number, ±inf for integers beyond floats."""
    try:
        num = pd.to_numeric(values, errors="coerce")
    except OverflowError:  # JSON allows integers of any size
        num = pd.to_numeric(values.map(_huge_as_infinite), errors="coerce")
    return np.asarray(num, dtype="float64")


def _huge_as_infinite(value: object) -> object:
    if isinstance(value, int) and abs(value) >= 2**1023:
        return np.inf if value > 0 else -np.inf
    return value


def _is_missing(values: pd.Series) -> np.ndarray:
    missing = values.isna().to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        blank = values.astype("object").map(lambda v: isinstance(v, str) and v.strip() == "")
        missing = missing | blank.to_numpy(dtype=bool)
    return missing


def _cast(values: pd.Series, f: Field) -> pd.Series:
    """Cast values already known to be valid; used on store reads and defaults."""
    if f.type == "str":
        return _strings(values, values.isna().to_numpy())
    if f.type == "int":
        return pd.to_numeric(values, errors="coerce").round().astype("Int64")
    if f.type == "float":
        return pd.to_numeric(values, errors="coerce").astype("float64")
    if f.type == "bool":
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            mapped = values.astype("object").map(_parse_bool)
            return mapped.astype("boolean")
        return values.astype("float64").astype("boolean")
    ts = pd.to_datetime(values, errors="coerce")
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    if f.type == "date":
        ts = ts.dt.normalize()
    return ts.astype("datetime64[ms]")


def _parse_bool(v: object) -> object:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return pd.NA
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | float | np.integer | np.floating) and v in (0, 1):
        # 1/0, also as 1.0/0.0: how GDAL reads a true/false column that has nulls
        return bool(v)
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    if s == "":
        return pd.NA
    return "invalid"


def _coerce_field(
    raw: pd.Series, f: Field, add: Callable[[int | None, str | None, str], None]
) -> pd.Series:
    """Coerce one column to its declared type, reporting every value that does not fit."""
    raw, refused = _refuse_wrong_kinds(raw, f, add)
    missing = _is_missing(raw)
    if f.required and not f.assigned:
        for i in _positions(missing & ~refused):
            add(int(i), f.name, "required value is missing")

    if f.type == "str":
        out = raw.astype("object").map(lambda v: v.strip() if isinstance(v, str) else v)
        out = out.map(
            lambda v: (
                str(int(v)) if isinstance(v, float) and v.is_integer() else v
            )  # codes read from spreadsheets as numbers
        )
        out = _strings(out, missing)
        present = ~missing
        _check_text(out, f, add)
        if f.pattern is not None:
            rx = re.compile(f.pattern)
            bad = present & ~out.map(lambda v: v is not None and rx.fullmatch(v) is not None)
            for i in _positions(bad):
                add(int(i), f.name, f"'{_show(out.iat[i])}' is not well-formed ({pattern_text(f)})")
        if f.choices is not None:
            bad = present & ~out.isin(f.choices)
            for i in _positions(bad):
                allowed = ", ".join(f.choices)
                add(int(i), f.name, f"'{_show(out.iat[i])}' is not one of: {allowed}")
        return out

    if f.type in ("int", "float"):
        arr = _to_numbers(raw.astype("object").where(~missing, None))
        bad = ~missing & np.isnan(arr)
        for i in _positions(bad):
            add(int(i), f.name, f"'{_show(raw.iat[i])}' is not a number")
        below = arr < f.minimum if f.minimum is not None else np.zeros(len(arr), dtype=bool)
        above = arr > f.maximum if f.maximum is not None else np.zeros(len(arr), dtype=bool)
        for i in _positions(below):
            add(int(i), f.name, f"{_show(raw.iat[i])} is below the minimum {f.minimum:g}")
        for i in _positions(above):
            add(int(i), f.name, f"{_show(raw.iat[i])} is above the maximum {f.maximum:g}")
        if f.type == "int":
            # beyond 64 bits no store can hold it (and casting would raise)
            unfit = ~bad & ~below & ~above & (np.abs(arr) >= INT64_LIMIT)
            for i in _positions(unfit):
                add(int(i), f.name, f"{_show(raw.iat[i])} is out of range for a 64-bit integer")
            whole = np.mod(np.where(np.isfinite(arr), arr, 0), 1) == 0
            frac = ~bad & ~whole
            for i in _positions(frac):
                add(int(i), f.name, f"'{_show(raw.iat[i])}' is not a whole number")
            unfit |= below | above | frac | (np.abs(arr) >= INT64_LIMIT)
        else:
            unfit = ~bad & ~below & ~above & np.isinf(arr)
            for i in _positions(unfit):
                add(int(i), f.name, f"{_show(raw.iat[i])} is not a finite number")
            unfit |= below | above
        # refused values are blanked: the frame is thrown away, but casting must not fail
        arr = np.where(unfit, np.nan, arr)
        if f.type == "int":
            return pd.Series(arr).round().astype("Int64")
        return pd.Series(arr, dtype="float64")

    if f.type == "bool":
        if raw.dtype == bool or str(raw.dtype) == "boolean":
            out = raw.astype("boolean")
        else:
            parsed = raw.astype("object").map(_parse_bool)
            bad = ~missing & parsed.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
            for i in _positions(bad):
                add(int(i), f.name, f"'{_show(raw.iat[i])}' is not true/false")
            out = parsed.where(~bad, pd.NA).astype("boolean")
        if f.default is not None:
            out = out.fillna(bool(f.default))
        return out

    # date / datetime
    obj = raw.astype("object").where(~missing, None)
    try:
        ts = pd.to_datetime(obj, errors="coerce", format="mixed")
        if getattr(ts.dt, "tz", None) is not None:
            ts = ts.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)
    except ValueError:  # local times mixed with times that carry an offset
        ts = pd.Series([_local_time(v) for v in obj], dtype="datetime64[ms]")
    bad = ~missing & ts.isna().to_numpy()
    for i in _positions(bad):
        add(int(i), f.name, f"'{_show(raw.iat[i])}' is not a date (use YYYY-MM-DD)")
    if f.type == "date":
        ts = ts.dt.normalize()
    return ts.astype("datetime64[ms]")


def _check_text(
    values: pd.Series, f: Field, add: Callable[[int | None, str | None, str], None]
) -> None:
    """Refuse text with control characters or longer than the field allows."""
    text = values.astype("string")
    rx = _CONTROL_MULTILINE if f.multiline else _CONTROL
    for i in _positions(text.str.contains(rx, na=False)):
        char = str(rx.search(str(values.iat[i])).group())  # type: ignore[union-attr]
        name = _CHARACTER_NAMES.get(char, "a control character")
        if f.multiline or char not in "\t\n\r":
            why = "text may not hold control characters"
        else:
            why = "this column holds one line"
        add(i, f.name, f"contains {name} (U+{ord(char):04X}): {why}")
    if f.max_length is not None:
        lengths = text.str.len().to_numpy(dtype="float64", na_value=0)
        for i in _positions(lengths > f.max_length):
            add(
                i,
                f.name,
                f"is {int(lengths[i]):,} characters long, at most {f.max_length:,} are allowed",
            )


def _local_time(value: object) -> pd.Timestamp | None:
    """One value as a local (Asia/Shanghai) time without offset; None when it is no time."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return None
    if ts is pd.NaT:
        return None
    if ts.tzinfo is not None:
        ts = ts.tz_convert(LOCAL_TZ).tz_localize(None)
    return ts


def _strings(values: pd.Series, missing: np.ndarray) -> pd.Series:
    """An object series of str or None (``Series.where(..., None)`` would bring NaN back)."""
    items = [None if m else str(v) for v, m in zip(values.tolist(), missing, strict=True)]
    return pd.Series(items, dtype="object")


def pattern_text(f: Field) -> str:
    if f.hint:
        return f.hint
    digits = re.fullmatch(r"\\d\{(\d+)\}", f.pattern or "")
    if digits:
        return f"must be {digits.group(1)} digits"
    return f"must match the pattern {f.pattern}"


def too_many_vertices(vertices: int, most: int) -> str:
    """The problem of a polygon of more than ``most`` vertices, in Chinese and English."""
    return (
        f"顶点过多：{vertices:,} 个顶点，超过上限 {most:,}，请简化边界后再导入 "
        f"(too many vertices: {vertices:,}, at most {most:,} per feature; simplify the "
        "boundary, or raise GISGRID_GEOMETRY_MAX_VERTICES)"
    )


def _validate_geometry(
    frame: pd.DataFrame,
    geometry_type: GeometryType,
    crs: str | None,
    add: Callable[[int | None, str | None, str], None],
) -> gpd.GeoSeries:
    """Check and normalise geometries: CRS to EPSG:4326, 2-D, type, emptiness, validity, place."""
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry.name not in frame.columns:
        add(None, "geometry", f"the input has no geometry; this layer needs {geometry_type}")
        return gpd.GeoSeries([None] * len(frame), crs=crsmod.STORAGE_CRS)
    geoms = frame.geometry.values.copy()
    source = crs if crs is not None else frame.crs
    if source is None:
        add(
            None,
            "geometry",
            "the input has no CRS: give one with --crs (EPSG:4326, EPSG:4490, gcj02, bd09 …)",
        )
        return gpd.GeoSeries(geoms, crs=crsmod.STORAGE_CRS)
    try:
        name = crsmod.normalize_crs(source)
    except ValueError as exc:
        add(None, "geometry", str(exc))
        return gpd.GeoSeries(geoms, crs=crsmod.STORAGE_CRS)
    arr = np.asarray(geoms, dtype=object)
    # the stores are 2-D: a height (GPS) or measure is dropped here, the same way for both
    if shapely.has_z(arr).any() or shapely.has_m(arr).any():
        arr = np.asarray(shapely.force_2d(arr), dtype=object)
    # a boundary of more vertices than any real one is refused before anything else is
    # computed on it (checks, maps and pages would be slow on it for ever after)
    too_many = np.zeros(len(arr), dtype=bool)
    if geometry_type == "MultiPolygon":
        most = GeometrySettings().max_vertices
        vertices = shapely.get_num_coordinates(arr)
        too_many = vertices > most
        for i in _positions(too_many):
            add(int(i), "geometry", too_many_vertices(int(vertices[i]), most))
    not_finite = _not_finite(arr)
    for i, xy in not_finite.items():
        what = "NaN (not a number)" if np.isnan(xy).any() else "infinite"
        add(i, "geometry", f"a coordinate is {what}: ({xy[0]}, {xy[1]})")
    if name in ("gcj02", "bd09"):
        fn = crsmod.gcj02_to_wgs84 if name == "gcj02" else crsmod.bd09_to_wgs84
        arr = crsmod.transform_geometry_array(arr, fn)
    elif name not in (crsmod.STORAGE_CRS, crsmod.CGCS2000):
        # CGCS2000 (EPSG:4490) is kept as is: it agrees with WGS84 within about a metre.
        arr = np.asarray(
            gpd.GeoSeries(arr, crs=name).to_crs(crsmod.STORAGE_CRS).values, dtype=object
        )

    is_none = shapely.is_missing(arr)
    is_empty = ~is_none & shapely.is_empty(arr)
    for i in _positions(is_none):
        add(int(i), "geometry", "geometry is missing")
    for i in _positions(is_empty):
        add(int(i), "geometry", "geometry is empty")
    ok = ~is_none & ~is_empty & ~too_many
    ok[list(not_finite)] = False
    converted = arr.copy()
    converted[~ok] = None
    for i, xy in _not_finite(converted).items():
        add(i, "geometry", f"({xy[0]}, {xy[1]}) cannot be converted from {name}")
        ok[i] = False

    types = shapely.get_type_id(arr)
    if geometry_type == "MultiPolygon":
        wrong = ok & ~np.isin(types, [3, 6])
        promote = ok & (types == 3)
        if promote.any():
            promoted = np.empty(int(promote.sum()), dtype=object)
            promoted[:] = [shapely.MultiPolygon([g]) for g in arr[promote]]
            arr[promote] = promoted
    else:
        single_multipoint = ok & (types == 4) & (shapely.get_num_geometries(arr) == 1)
        if single_multipoint.any():
            arr[single_multipoint] = shapely.get_geometry(arr[single_multipoint], 0)
        types = shapely.get_type_id(arr)
        wrong = ok & (types != 0)
    for i in _positions(wrong):
        got = shapely.get_type_id(arr[i])
        add(
            int(i),
            "geometry",
            f"wrong geometry type {_TYPE_NAMES.get(got, got)}, need {geometry_type}",
        )
    ok &= ~wrong

    invalid = ok & ~shapely.is_valid(arr)
    for i in _positions(invalid):
        add(int(i), "geometry", f"invalid geometry: {shapely.is_valid_reason(arr[i])}")
    ok &= ~invalid

    if ok.any():
        bounds = shapely.bounds(arr[ok])
        idx = np.flatnonzero(ok)
        x0, y0, x1, y1 = CHINA_BOUNDS
        inside = (
            (bounds[:, 0] >= x0)
            & (bounds[:, 2] <= x1)
            & (bounds[:, 1] >= y0)
            & (bounds[:, 3] <= y1)
        )
        swapped = (
            (bounds[:, 1] >= x0)
            & (bounds[:, 3] <= x1)
            & (bounds[:, 0] >= y0)
            & (bounds[:, 2] <= y1)
        )
        for j in _positions(~inside):
            i = int(idx[j])
            b = bounds[j]
            if swapped[j]:
                msg = (
                    f"coordinates ({b[0]:.5f}, {b[1]:.5f}) look like (lat, lon): "
                    "longitude and latitude are swapped"
                )
            else:
                msg = (
                    f"coordinates ({b[0]:.5f}, {b[1]:.5f}) are outside China: "
                    "wrong CRS? (give the right one with --crs)"
                )
            add(i, "geometry", msg)
    return gpd.GeoSeries(arr, crs=crsmod.STORAGE_CRS)


def _not_finite(arr: np.ndarray) -> dict[int, np.ndarray]:
    """The first NaN or infinite coordinate of each geometry that has one, by position."""
    coords, index = shapely.get_coordinates(arr, return_index=True)
    bad = ~np.isfinite(coords).all(axis=1)
    found: dict[int, np.ndarray] = {}
    for i, xy in zip(index[bad].tolist(), coords[bad], strict=True):
        found.setdefault(int(i), xy)
    return found


_TYPE_NAMES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
    7: "GeometryCollection",
}
