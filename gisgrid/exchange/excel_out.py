"""A layer as an Excel workbook, the way a county keeps its registers (花名册).

Sheet 1, named after the layer (``农户``), is the table: one row per feature under one
header row of Chinese labels (:attr:`Field.label_zh`), bold and frozen, with a filter;
columns as wide as their content; dates and times as Excel dates; coded kinds as their
Chinese words (:data:`gisgrid.layers.kinds.FIELD_KINDS`); true/false as 是/否; codes as
text (an 18-digit code is no number). Points add 经度 and 纬度 (WGS84, degrees); the shapes
of polygons are not in a workbook (the 说明 sheet says where to get them). A file of these
columns imports again (Chinese headers are understood).

Sheet 2, 说明, says what the file is (layer, area, when, how many), and lists every column:
its Chinese header, its field name in the exchange format (docs/exchange-format.md), type
and description.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from gisgrid.errors import ConfigError
from gisgrid.exchange.export import Extract
from gisgrid.layers.kinds import FIELD_KINDS
from gisgrid.layers.schema import Field
from gisgrid.reports.workbook import style_header

#: what a true/false value reads as
YES_NO = {True: "是", False: "否"}
#: number formats of dates, times and coordinates
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
DEGREE_FORMAT = "0.000000"
#: the number format of a field's cells, by its type (text: none, an 18-digit code stays
#: text because it is written as text)
NUMBER_FORMATS = {"date": DATE_FORMAT, "datetime": DATETIME_FORMAT}
#: the coordinate columns of a point layer
LON, LAT = "经度", "纬度"
#: the type of each field as the 说明 sheet names it
TYPE_ZH = {
    "str": "文本",
    "int": "整数",
    "float": "数值",
    "bool": "是/否",
    "date": "日期",
    "datetime": "日期时间",
}
#: the rows of a sheet of Excel, the header's among them
MAX_ROWS = 1_048_576
#: the widest a column is made (characters), and how many rows set its width
MAX_WIDTH = 60
WIDTH_SAMPLE = 2000


def header_of(f: Field) -> str:
    """A field's header: its Chinese label (its name where it has none)."""
    return f.label_zh or f.name


def display_width(text: str) -> int:
    """How many columns ``text`` takes in a sheet: a Chinese character two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def cell_values(layer: str, f: Field, values: pd.Series) -> list[object]:
    """The cells of one field's column."""
    present = values.notna().to_numpy(dtype=bool)
    out: list[object] = [None] * len(values)
    labels = FIELD_KINDS.get((layer, f.name))
    for i, v in enumerate(values.tolist()):
        if not present[i]:
            continue
        if f.type == "date":
            out[i] = pd.Timestamp(v).date()
        elif f.type == "datetime":
            out[i] = pd.Timestamp(v).to_pydatetime()
        elif f.type == "bool":
            out[i] = YES_NO[bool(v)]
        elif labels is not None:
            kind = labels.get(str(v))
            out[i] = kind.zh if kind is not None else str(v)
        elif f.type == "int":
            out[i] = int(v)
        elif f.type == "float":
            out[i] = float(v)
        else:
            out[i] = str(v)
    return out


def _shown(value: object) -> str:
    if isinstance(value, dt.datetime):
        return "0000-00-00 00:00:00"
    if isinstance(value, dt.date):
        return "0000-00-00"
    if isinstance(value, float):
        return f"{value:.6f}"
    return "" if value is None else str(value)


def write_xlsx(extract: Extract, path: Path) -> None:
    """Write ``extract`` as an Excel workbook (see the module's docstring) to ``path``.

    Streamed (openpyxl's write-only mode): rows go to the file as they are made, a register
    of a county's households in seconds."""
    decl, frame = extract.layer, extract.frame
    if len(frame) >= MAX_ROWS:
        raise ConfigError(
            f"{len(frame):,} {decl.name} do not fit a sheet of Excel ({MAX_ROWS - 1:,} rows at "
            "most): export one area (--area) or to .gpkg, .zip or .geojson"
        )
    headers: list[str] = []
    columns: list[list[object]] = []
    formats: list[str | None] = []
    for f in decl.fields:
        headers.append(header_of(f))
        columns.append(cell_values(decl.name, f, frame[f.name]))
        formats.append(NUMBER_FORMATS.get(f.type))
    points = decl.geometry_type == "Point"
    if points:
        geometry = frame.geometry
        empty = (geometry.isna() | geometry.is_empty).to_numpy(dtype=bool)
        xs = [None if e else float(g.x) for g, e in zip(geometry, empty, strict=True)]
        ys = [None if e else float(g.y) for g, e in zip(geometry, empty, strict=True)]
        headers += [LON, LAT]
        columns += [list(xs), list(ys)]
        formats += [DEGREE_FORMAT, DEGREE_FORMAT]
    book = Workbook(write_only=True)
    ws = book.create_sheet(decl.label_zh[:31])
    for j, (header, values) in enumerate(zip(headers, columns, strict=True), start=1):
        shown = max(
            [display_width(header), *(display_width(_shown(v)) for v in values[:WIDTH_SAMPLE])]
        )
        ws.column_dimensions[get_column_letter(j)].width = min(MAX_WIDTH, shown + 2)
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = f"A1:{get_column_letter(max(1, len(headers)))}{max(1, len(frame) + 1)}"
    ws.append(_header_cells(ws, headers))
    formatted = [j for j, fmt in enumerate(formats) if fmt is not None]
    for row in zip(*columns, strict=True) if columns else ():
        cells: list[object] = list(row)
        for j in formatted:
            if cells[j] is not None:
                cell = WriteOnlyCell(ws, value=cells[j])
                cell.number_format = str(formats[j])
                cells[j] = cell
        ws.append(cells)
    _notes(book, extract, points=points)
    book.save(path)


def _header_cells(ws: WriteOnlyWorksheet, headers: list[str]) -> list[WriteOnlyCell]:
    cells = []
    for text in headers:
        cell = WriteOnlyCell(ws, value=text)
        style_header(cell)
        cells.append(cell)
    return cells


def _notes(book: Workbook, extract: Extract, *, points: bool) -> None:
    """The 说明 sheet: what the file is and what each column holds."""
    decl = extract.layer
    ws = book.create_sheet("说明")
    if points:
        where = "经度、纬度：WGS84 经纬度（与 CGCS2000 相差约 1 米以内），单位度。"
    elif decl.spatial:
        where = (
            "本表不含边界形状。要形状请导出 Shapefile（.zip）、GeoPackage（.gpkg）或 KML："
            f"gisgrid export {decl.name} {decl.name}.gpkg"
            + (f" --area {extract.area}" if extract.area else "")
            + "，或网页上的“导出”。"
        )
    else:
        where = "此图层没有几何（不是空间数据）。"
    rows: list[tuple[str, str]] = [
        ("图层 layer", f"{decl.label_zh}（{decl.name}）"),
        ("范围 area", _area_text(extract)),
        ("导出时间 exported", extract.made.strftime("%Y-%m-%d %H:%M:%S")),
        ("要素数 features", str(len(extract.frame))),
        ("坐标 coordinates", where),
    ]
    for width, letter in zip((18, 22, 10, 70), "ABCD", strict=True):
        ws.column_dimensions[letter].width = width
    for label, text in rows:
        bold = WriteOnlyCell(ws, value=label)
        bold.font = Font(bold=True)
        ws.append([bold, text])
    ws.append([])
    ws.append(_header_cells(ws, ["列名", "字段名 field", "类型", "说明 description"]))
    for f in decl.fields:
        ws.append([header_of(f), f.name, TYPE_ZH[f.type], _described(decl.name, f)])
    if points:
        ws.append([LON, "lon", "数值", "longitude, WGS84"])
        ws.append([LAT, "lat", "数值", "latitude, WGS84"])


def _area_text(extract: Extract) -> str:
    if extract.area is None:
        return extract.county or "全部"
    return f"{extract.area_name}（{extract.area}）" if extract.area_name else extract.area


def _described(layer: str, f: Field) -> str:
    text = f.description
    labels = FIELD_KINDS.get((layer, f.name))
    if labels is not None:
        text += "；" + "，".join(f"{k.zh}={code}" for code, k in labels.items())
    return text
