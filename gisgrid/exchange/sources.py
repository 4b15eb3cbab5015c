"""Any exchange file read into a frame of the layer's columns, with what the user must know:
rows and headers as written, encodings, CRS, addresses matched.

:func:`read_source` reads registers (.xlsx, .csv: :mod:`.tables`), zipped Shapefiles
(:mod:`.shapefiles`), KML/KMZ (:mod:`.kml`), GeoJSON and GeoPackage
(:func:`.imports.read_exchange_file`), renames the headers to the layer's columns
(:mod:`.headers`), and for a register makes the points from its longitude/latitude columns
(in the CRS given, converted to WGS84) or from its ``村组门牌`` column (the stored
household's point, :mod:`.addresses`). Nothing is checked here but what only the reader can
say (a coordinate that is not a number, an address that matches no household).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gisgrid import crs as crsmod
from gisgrid.errors import InputFileError, Problem
from gisgrid.exchange.addresses import match_addresses
from gisgrid.exchange.coordinates import LABELS, key_strings
from gisgrid.exchange.headers import map_headers
from gisgrid.exchange.kml import KML_SUFFIXES, read_kml
from gisgrid.exchange.shapefiles import read_zipped_shapefile
from gisgrid.exchange.tables import TABLE_SUFFIXES, Table, read_table
from gisgrid.layers import get_layer
from gisgrid.layers.schema import Layer
from gisgrid.stores.base import Store

#: every file ending an import reads, and what it is
FORMATS = {
    ".xlsx": "Excel",
    ".xlsm": "Excel",
    ".csv": "CSV",
    ".zip": "Shapefile (zip)",
    ".kml": "KML",
    ".kmz": "KMZ",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".gpkg": "GeoPackage",
}


NO_POINTS = (
    "没有经纬度列（经度/纬度、lon/lat、x/y）也没有「村组门牌」列 "
    "(no longitude/latitude columns and no 村组门牌 address column)"
)


@dataclass(frozen=True)
class Source:
    """A file read for a layer, before validation.

    Attributes
    ----------
    frame
        The layer's columns as the file gives them (a GeoDataFrame when it has points or
        shapes), index 0..n-1.
    rows
        Each row's number as the user sees it: the Excel/CSV row, or the feature's number.
    tabular
        A register (rows and columns) or a vector file (features and fields).
    headers
        Layer column (and ``geometry``) → the header as written in the file.
    notes
        What the user should know of the reading (encoding detected, CRS, address matches).
    problems
        What only the reader can tell (by frame position): a coordinate that is not a
        number, an address that matches no household.
    crs
        The CRS to validate the frame's geometry with (``None``: the frame's own).
    crs_stated
        The user gave ``--crs``.
    raw_xy
        The points' coordinates as given, in the declared CRS (``None``: no points from
        coordinates, e.g. all from addresses).
    declared
        The CRS the coordinates were declared in.
    """

    frame: pd.DataFrame
    rows: list[int]
    tabular: bool
    headers: dict[str, str]
    notes: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    crs: str | None = None
    crs_stated: bool = False
    raw_xy: tuple[np.ndarray, np.ndarray] | None = None
    declared: str | None = None
    format: str = ""
    geometry_rows: frozenset[int] = field(default_factory=frozenset)

    def header_of(self, column: str) -> str:
        return self.headers.get(column, column)


def read_source(
    path: str | Path,
    *,
    layer: str,
    store: Store,
    crs: str | None = None,
    source_layer: str | None = None,
) -> Source:
    """Read any exchange file for ``layer`` (see the module's docstring).

    Parameters
    ----------
    path
        The file: .xlsx, .csv, .zip (Shapefile), .kml, .kmz, .geojson, .json, .gpkg.
    layer
        The layer imported into.
    store
        The store (its households match a register's addresses).
    crs
        The CRS the user gave (``--crs``), if any.
    source_layer
        The worksheet, the Shapefile in a zip, the KML folder, the GeoPackage layer.
    """
    from gisgrid.exchange.imports import read_exchange_file

    path = Path(path)
    decl = get_layer(layer)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise InputFileError(
            f"{path}: 不支持的文件类型 (unknown file type); use one of {', '.join(FORMATS)}"
        )
    if not path.is_file():
        raise InputFileError(f"{path}: 文件不存在 (no such file)")
    if suffix in TABLE_SUFFIXES:
        table = read_table(path, decl=decl, sheet=source_layer)
        return _from_table(decl, table, store=store, crs=crs, kind=FORMATS[suffix])
    notes: list[str] = []
    if suffix == ".zip":
        shp = read_zipped_shapefile(path, source_layer=source_layer)
        frame: pd.DataFrame = shp.frame
        notes += shp.notes
        if not shp.has_prj and crs is None and decl.spatial:
            raise InputFileError(
                f"{path}: Shapefile 缺少 .prj，不知道坐标系；请用 --crs 指明（如 EPSG:4546）"
                f" (the Shapefile has no .prj: name its CRS with --crs, e.g. EPSG:4546)"
            )
    elif suffix in KML_SUFFIXES:
        frame = read_kml(path, source_layer=source_layer)
    else:
        frame = read_exchange_file(path, layer=layer, source_layer=source_layer)
    return _from_vector(decl, frame, crs=crs, notes=notes, kind=FORMATS[suffix])


def _from_vector(
    decl: Layer, frame: pd.DataFrame, *, crs: str | None, notes: list[str], kind: str
) -> Source:
    """A vector file's features with their fields renamed to the layer's columns."""
    geometry = frame.geometry.name if isinstance(frame, gpd.GeoDataFrame) else None
    fields = [c for c in frame.columns if c != geometry]
    headers = map_headers(decl, _with_dbf_names(decl, fields))
    rename = {fields[at]: column for column, at in headers.columns.items()}
    out = frame[[*rename, *([geometry] if geometry else [])]].rename(columns=rename)
    if geometry is not None and decl.spatial:
        out = gpd.GeoDataFrame(out, geometry=geometry, crs=frame.crs)
    elif geometry is not None:
        out = pd.DataFrame(out.drop(columns=geometry))
    out = out.reset_index(drop=True)
    shown = {column: fields[at] for column, at in headers.columns.items()}
    unknown = [h for h in headers.unknown if h not in ("folder", "Name", "description", "fid")]
    if unknown:
        notes.append(
            f"未识别的字段（已忽略）: {', '.join(unknown)}; "
            f"fields ignored (no column of {decl.name})"
        )
    raw_xy = None
    declared = crs
    if isinstance(out, gpd.GeoDataFrame) and decl.geometry_type == "Point" and len(out):
        geoms = np.asarray(out.geometry.values, dtype=object)
        points = shapely.get_type_id(geoms) == 0
        if points.all():
            raw_xy = (shapely.get_x(geoms), shapely.get_y(geoms))
        declared = crs if crs is not None else (str(out.crs) if out.crs is not None else None)
    return Source(
        frame=out,
        rows=list(range(1, len(out) + 1)),
        tabular=False,
        headers=shown,
        notes=tuple(notes),
        problems=headers.problems,
        crs=crs,
        crs_stated=crs is not None,
        raw_xy=raw_xy,
        declared=declared,
        format=kind,
        geometry_rows=frozenset(range(len(out))) if raw_xy is not None else frozenset(),
    )


def _with_dbf_names(decl: Layer, fields: list[str]) -> list[str]:
    """Field names, each DBF-truncated one (10 characters) as the one column it begins."""
    out = []
    for name in fields:
        if len(name) == 10:
            whole = [c for c in decl.columns if len(c) > 10 and c.startswith(name)]
            if len(whole) == 1:
                out.append(whole[0])
                continue
        out.append(name)
    return out


def _from_table(decl: Layer, table: Table, *, store: Store, crs: str | None, kind: str) -> Source:
    """A register's rows as the layer's columns, its points made from coordinates or addresses."""
    h = table.headers
    n = len(table.rows)
    data: dict[str, object] = {c: table.column(at) for c, at in h.columns.items()}
    frame = pd.DataFrame(data, index=pd.RangeIndex(n))
    headers = {c: h.headers[at] for c, at in h.columns.items()}
    notes: list[str] = []
    if table.encoding:
        notes.append(
            f"文本编码：{table.encoding}（自动识别）; text encoding detected: {table.encoding}"
        )
    if table.sheet:
        notes.append(f"读取工作表「{table.sheet}」; sheet read: {table.sheet}")
    if h.unknown:
        notes.append(
            f"未识别的列（已忽略）: {', '.join(h.unknown)}; "
            f"columns ignored (no column of {decl.name})"
        )
    problems: list[Problem] = list(h.problems)
    declared = crsmod.normalize_crs(crs) if crs is not None else crsmod.STORAGE_CRS
    keys = _keys(decl, frame)
    has_xy = h.lon is not None and h.lat is not None
    if (h.lon is None) != (h.lat is None):
        present = h.headers[h.lon if h.lon is not None else h.lat]  # type: ignore[index]
        problems.append(
            Problem(
                None,
                None,
                present,
                "经度、纬度两列须同时给出 (longitude and latitude come as a pair)",
            )
        )
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    bad_xy = np.zeros(n, dtype=bool)
    if h.lon is not None and h.lat is not None:
        lon_header, lat_header = h.headers[h.lon], h.headers[h.lat]
        headers["geometry"] = f"{lon_header}/{lat_header}"
        for values, out, header in (
            (table.column(h.lon), x, lon_header),
            (table.column(h.lat), y, lat_header),
        ):
            numbers = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").to_numpy(
                dtype=float
            )
            given = np.asarray([v is not None for v in values])
            for i in np.flatnonzero(given & np.isnan(numbers)).tolist():
                problems.append(Problem(i, keys[i], header, f"'{values[i]}' is not a number"))
                headers.setdefault(header, header)
            bad_xy |= given & np.isnan(numbers)
            out[:] = numbers
        if declared not in (crsmod.STORAGE_CRS, crsmod.CGCS2000):
            ok = np.isfinite(x) & np.isfinite(y)
            lon, lat = crsmod.convert_points(x[ok], y[ok], source=declared)
            wx, wy = x.copy(), y.copy()
            wx[ok], wy[ok] = lon, lat
        else:
            wx, wy = x, y
        notes.append(
            f"坐标取自「{lon_header}」「{lat_header}」两列，按 {LABELS.get(declared, declared)}"
            f"{'（--crs 指定）' if crs else '（未指定 --crs，按 WGS84 读）'}; coordinates from "
            f"{lon_header}/{lat_header} as {declared}{'' if crs else ' (no --crs: read as WGS84)'}"
        )
    else:
        wx, wy = x.copy(), y.copy()
    from_address = np.zeros(n, dtype=bool)
    if h.address is not None:
        address_header = h.headers[h.address]
        addresses = table.column(h.address)
        want = np.asarray([a is not None for a in addresses])
        if decl.spatial:
            want &= ~(np.isfinite(x) & np.isfinite(y)) & ~bad_xy
        elif "household_id" in frame.columns:
            want &= frame["household_id"].isna().to_numpy()
        elif "household_id" in decl.columns:
            frame["household_id"] = None
            headers["household_id"] = address_header
        if want.any():
            stored = store.read("households", columns=["id", "house_number", "village_code"])
            villages = store.read("villages", columns=["code", "name"])
            names = dict(
                zip(villages["code"].astype(str), villages["name"].astype(str), strict=True)
            )
            rows_at = np.flatnonzero(want)
            codes = (
                frame["village_code"].to_numpy(dtype=object)[rows_at]
                if "village_code" in frame.columns
                else None
            )
            match = match_addresses(
                [addresses[i] for i in rows_at], stored, village_names=names,
                village_codes=None if codes is None else list(codes),
            )  # fmt: skip
            hit = match.positions >= 0
            for j, reason in sorted(match.reasons.items()):
                i = int(rows_at[j])
                problems.append(Problem(i, keys[i], address_header, reason))
            if decl.spatial and hit.any():
                geoms = np.asarray(stored.geometry.values, dtype=object)[match.positions[hit]]
                wx[rows_at[hit]] = shapely.get_x(geoms)
                wy[rows_at[hit]] = shapely.get_y(geoms)
                from_address[rows_at[hit]] = True
                headers.setdefault("geometry", address_header)
            elif "household_id" in decl.columns and hit.any():
                ids = stored["id"].to_numpy(dtype=object)[match.positions[hit]]
                column = frame["household_id"].to_numpy(dtype=object).copy()
                column[rows_at[hit]] = ids
                frame["household_id"] = column
                headers.setdefault("household_id", address_header)
            unmatched = [table.numbers[int(rows_at[j])] for j in match.reasons]
            shown = "、".join(str(r) for r in unmatched[:30]) + ("…" if len(unmatched) > 30 else "")
            notes.append(
                f"「{address_header}」匹配到库中农户 {match.matched} 行，未匹配 {len(unmatched)} 行"
                f"{'（第 ' + shown + ' 行）' if unmatched else ''}; {address_header}: "
                f"{match.matched} row(s) matched a stored household, {len(unmatched)} did not"
            )
    if decl.spatial:
        if not has_xy and h.address is None:
            problems.append(Problem(None, None, "geometry", NO_POINTS))
        ok = np.isfinite(wx) & np.isfinite(wy)
        geoms = np.full(n, None, dtype=object)
        geoms[ok] = shapely.points(wx[ok], wy[ok])
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crsmod.STORAGE_CRS))
    elif has_xy and {"lon", "lat"} <= set(decl.columns):  # visits: where it was recorded
        frame["lon"] = pd.Series(wx).where(np.isfinite(wx), None)
        frame["lat"] = pd.Series(wy).where(np.isfinite(wy), None)
        headers["lon"], headers["lat"] = h.headers[h.lon], h.headers[h.lat]  # type: ignore[index]
    from_xy = has_xy & np.isfinite(x) & np.isfinite(y) & ~from_address
    raw = (x[from_xy], y[from_xy]) if from_xy.any() and decl.geometry_type == "Point" else None
    return Source(
        frame=frame,
        rows=table.numbers,
        tabular=True,
        headers=headers,
        notes=tuple(notes),
        problems=tuple(problems),
        crs=None,
        crs_stated=crs is not None,
        raw_xy=raw,
        declared=declared,
        format=kind,
        geometry_rows=frozenset(np.flatnonzero(from_xy).tolist()),
    )


def _keys(decl: Layer, frame: pd.DataFrame) -> list[str | None]:
    """Each row's key as the problems name it (``None`` where a part is blank)."""
    if not decl.key or any(k not in frame.columns for k in decl.key):
        return [None] * len(frame)
    blank = frame[list(decl.key)].isna().any(axis=1).to_numpy()
    keys = key_strings(frame, decl.key)
    return [None if b else k for k, b in zip(keys, blank, strict=True)]
