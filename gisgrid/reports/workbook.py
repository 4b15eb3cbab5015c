"""The dashboard's figures as an Excel workbook: one sheet per level of the area.

Every figure is a cell of :func:`gisgrid.analysis.indicators.area_table`, written as it is
(counts as numbers with thousands separators, shares as percentages): nothing is counted
again here. A workbook of the county has the sheets 乡镇 (every township), 村（社区）(every
village) and 网格 (every level-2 and level-3 grid); of a township, its own row, its villages
and their grids; of a village, its own row and its grids; of a grid worker, their grids.
Each sheet opens with a title row (area and date), then a bold, frozen header row with
Chinese headers and units.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import Cell, WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from gisgrid import codes as gridcodes
from gisgrid.analysis import indicators
from gisgrid.reports.figures import Inputs

#: the sheets, by the level of their rows
SHEET_TITLES = {
    "county": "县（市、区）",
    "township": "乡镇",
    "village": "村（社区）",
    "grid": "网格",
}
#: the unit shown after each figure's header (a figure not listed has none)
UNITS = {
    "grids": "个",
    "households": "户",
    "linkage_share": "%",
    "unlinked": "户",
    "unstaffed_grids": "个",
    "gaps": "处",
    "beyond_service": "户",
    "incidents": "件",
    "open_cases": "件",
    "overdue_cases": "件",
    "escalated_cases": "件",
    "unvisited": "户",
    "watched_unvisited": "人",
}
#: number formats: counts with thousands separators, shares as percentages to a tenth
COUNT_FORMAT = "#,##0"
SHARE_FORMAT = "0.0%"
#: the columns that are shares (floored by :func:`gisgrid.analysis.indicators.floor_share`)
SHARE_COLUMNS = frozenset({"linkage_share"})
#: the grid level's label in the 网格 sheet
GRID_LEVELS = {2: "二级网格", 3: "三级网格"}
#: what a six-no status reads as (a village's; a grid has none)
SIX_NO_TEXT = {True: "达标", False: "未达标"}
HEADER_FILL = PatternFill("solid", fgColor="DDE6F0")


@dataclass(frozen=True)
class Column:
    """One column of a sheet: its key in the table, its header and how its cells look."""

    key: str
    header: str
    number_format: str | None = None
    width: float = 12


@dataclass(frozen=True)
class Sheet:
    """One sheet: its level, title and the rows of :func:`indicators.area_table` it shows."""

    level: str
    title: str
    table: pd.DataFrame


def header_of(column: str) -> str:
    """A figure's Chinese header with its unit: ``户数（户）``."""
    label = indicators.LABELS_ZH.get(column, column)
    unit = UNITS.get(column)
    return f"{label}（{unit}）" if unit else label


def cell_value(column: str, value: object) -> object:
    """What a cell of the table holds in the workbook (the same figure; NaN left empty)."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if column == "six_no" and isinstance(value, bool):
        return SIX_NO_TEXT[value]
    if hasattr(value, "item"):  # numpy scalars as Python numbers
        return value.item()
    return value


def sheets_for(
    inputs: Inputs,
    *,
    area: str | None = None,
    grids: Sequence[str] | None = None,
    mask: Callable[[dict[str, object]], dict[str, object]] | None = None,
) -> list[Sheet]:
    """The sheets of a workbook of ``area`` (county, township or village), or of ``grids``.

    Parameters
    ----------
    inputs
        The dashboard's inputs (:class:`gisgrid.reports.figures.Inputs`).
    area
        A township or village code; ``None``: the county (unless ``grids`` is given).
    grids
        Grid codes (a grid worker's): one 网格 sheet of these grids and the grids in them.
    mask
        Applied to each grid row (the responsible person as the caller may see them).
    """
    frames, report, cases = inputs.frames, inputs.report, inputs.cases

    def table(level: str, within: str | None) -> pd.DataFrame:
        return indicators.area_table(frames, report, level=level, within=within, cases=cases)

    def only(frame: pd.DataFrame, keep: Callable[[str], bool]) -> pd.DataFrame:
        return frame[[keep(str(c)) for c in frame["code"]]].reset_index(drop=True)

    out: list[tuple[str, pd.DataFrame]] = []
    if grids is not None:
        villages = sorted({gridcodes.village_of(g) for g in grids})
        parts = [table("grid", v) for v in villages]
        rows = pd.concat(parts, ignore_index=True) if parts else table("grid", None).iloc[0:0]
        out.append(("grid", only(rows, lambda c: any(gridcodes.lies_in(c, g) for g in grids))))
    elif area is None:
        counties = {gridcodes.county_of(str(c)) for c in frames["townships"]["code"]}
        if len(counties) > 1:  # a prefecture's store: its counties first
            out.append(("county", table("county", None)))
        out += [("township", table("township", None)), ("village", table("village", None))]
        out.append(("grid", table("grid", None)))
    elif gridcodes.kind_of(area) == "county":
        out += [("township", table("township", area)), ("village", table("village", area))]
        out.append(("grid", table("grid", area)))
    elif gridcodes.kind_of(area) == "township":
        out.append(("township", only(table("township", None), lambda c: c == area)))
        out += [("village", table("village", area)), ("grid", table("grid", area))]
    else:
        township = gridcodes.township_of(area)
        out.append(("village", only(table("village", township), lambda c: c == area)))
        out.append(("grid", table("grid", area)))
    sheets = []
    for level, frame in out:
        if level == "grid" and mask is not None and len(frame):
            records = [mask({str(k): v for k, v in r.items()}) for r in frame.to_dict("records")]
            frame = pd.DataFrame(records, columns=frame.columns)
        sheets.append(Sheet(level, SHEET_TITLES[level], frame))
    return sheets


def prefecture_sheets(
    counties: Iterable[Inputs],
    *,
    county_names: Mapping[str, str] | None = None,
    mask: Callable[[dict[str, object]], dict[str, object]] | None = None,
) -> list[Sheet]:
    """The sheets of a prefecture's workbook, built county by county: its counties, then
    the townships, villages and grids of every county (in code order).

    ``counties`` gives each county's inputs in turn (its layers alone: the prefecture's are
    never gathered); only its rows are kept.
    """
    rows: dict[str, list[pd.DataFrame]] = {level: [] for level in SHEET_TITLES}
    for inputs in counties:
        rows["county"].append(
            indicators.area_table(
                inputs.frames,
                inputs.report,
                level="county",
                cases=inputs.cases,
                county_names=county_names,
            )
        )
        county = gridcodes.county_of(str(inputs.frames["townships"]["code"].iloc[0]))
        for sheet in sheets_for(inputs, area=county, mask=mask):
            rows[sheet.level].append(sheet.table)
    return [
        Sheet(level, title, pd.concat(rows[level], ignore_index=True))
        for level, title in SHEET_TITLES.items()
        if rows[level]
    ]


def columns_of(level: str) -> list[Column]:
    """The columns of a sheet of ``level``: names and places first, then every figure."""
    cols = [Column("code", "代码", width=20), Column("name", "名称", width=18)]
    if level == "village":
        cols.append(Column("township_name", "所属乡镇", width=14))
    if level == "grid":
        cols += [
            Column("village_name", "所属村（社区）", width=16),
            Column("level_name", "网格层级", width=10),
            Column("responsible_name", "负责人", width=10),
            Column("responsible_phone", "联系电话", width=15),
        ]
    for key in indicators.COLUMNS:
        if key in ("code", "name") or (level == "grid" and key == "six_no"):
            continue
        fmt = SHARE_FORMAT if key in SHARE_COLUMNS else None
        if key != "six_no" and fmt is None:
            fmt = COUNT_FORMAT
        cols.append(Column(key, header_of(key), fmt, width=max(10, len(header_of(key)) * 2 + 2)))
    return cols


def _place_names(sheet: Sheet, names: Mapping[str, str]) -> pd.DataFrame:
    """The sheet's table with the names of the places its rows lie in."""
    frame = sheet.table.copy()
    if sheet.level == "village":
        frame["township_name"] = [names.get(gridcodes.township_of(str(c))) for c in frame["code"]]
    if sheet.level == "grid":
        frame["village_name"] = [names.get(gridcodes.village_of(str(c))) for c in frame["code"]]
        frame["level_name"] = [GRID_LEVELS.get(int(v), str(v)) for v in frame["level"]]
    return frame


def style_header(cell: Cell | WriteOnlyCell) -> None:
    """A header cell as every workbook of gisgrid has it: bold, filled, centred, wrapped."""
    cell.font = Font(bold=True)
    cell.fill = HEADER_FILL
    cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)


def write_header(ws: Worksheet, row: int, cols: Sequence[Column]) -> None:
    """The header row of a sheet (:func:`style_header`), each column as wide as its
    :attr:`Column.width`."""
    for j, col in enumerate(cols, start=1):
        style_header(ws.cell(row, j, col.header))
        ws.column_dimensions[get_column_letter(j)].width = col.width


def write_workbook(
    sheets: Sequence[Sheet],
    *,
    title: str,
    as_of: dt.date,
    names: Mapping[str, str],
) -> bytes:
    """The workbook of ``sheets`` as the bytes of an ``.xlsx`` file.

    Parameters
    ----------
    sheets
        From :func:`sheets_for`.
    title
        The area's name (e.g. ``华容县 · 章华镇``), written in each sheet's title row.
    as_of
        The day the figures describe, in the title row.
    names
        Township and village code → name (the places the rows lie in).
    """
    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        ws = book.create_sheet(sheet.title)
        cols = columns_of(sheet.level)
        frame = _place_names(sheet, names)
        ws.cell(1, 1, f"{title} 网格化基层治理统计表 · {sheet.title} · {as_of.isoformat()}")
        ws.cell(1, 1).font = Font(bold=True, size=14)
        ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(cols))
        write_header(ws, 2, cols)
        for i, record in enumerate(frame.to_dict("records"), start=3):
            for j, col in enumerate(cols, start=1):
                c = ws.cell(i, j, cell_value(col.key, record.get(col.key)))
                if col.number_format is not None:
                    c.number_format = col.number_format
        ws.freeze_panes = "C3"  # the title, the header and the names stay in view
        ws.auto_filter.ref = f"A2:{get_column_letter(len(cols))}{max(2, len(frame) + 2)}"
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def area_names(frames: Mapping[str, pd.DataFrame]) -> dict[str, str]:
    """Township and village code → name."""
    names: dict[str, str] = {}
    for layer in ("townships", "villages"):
        f = frames[layer]
        names |= {str(c): str(n) for c, n in zip(f["code"], f["name"], strict=True)}
    return names


def workbook_title(county: str | None, area: str | None, names: Mapping[str, str]) -> str:
    """The title of a workbook: the county, then the township and village shown."""
    parts = [county or "全县"]
    if area is not None and gridcodes.kind_of(area) == "county":
        parts.append(names.get(area, area))
    elif area is not None:
        township = gridcodes.township_of(area)
        parts.append(names.get(township, township))
        if gridcodes.kind_of(area) == "village":
            parts.append(names.get(area, area))
    return " · ".join(parts)


def build_workbook(
    inputs: Inputs,
    *,
    county: str | None,
    area: str | None = None,
    grids: Sequence[str] | None = None,
    mask: Callable[[dict[str, object]], dict[str, object]] | None = None,
) -> tuple[bytes, list[Sheet]]:
    """The workbook of an area (:func:`sheets_for`) as ``.xlsx`` bytes, and its sheets."""
    names = area_names(inputs.frames)
    sheets = sheets_for(inputs, area=area, grids=grids, mask=mask)
    title = workbook_title(county, area, names)
    return write_workbook(sheets, title=title, as_of=inputs.as_of, names=names), sheets


__all__ = [
    "SHEET_TITLES",
    "UNITS",
    "Column",
    "Sheet",
    "build_workbook",
    "cell_value",
    "columns_of",
    "header_of",
    "prefecture_sheets",
    "sheets_for",
    "style_header",
    "write_header",
    "write_workbook",
]
