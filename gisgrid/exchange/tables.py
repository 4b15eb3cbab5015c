"""Registers as tables: Excel workbooks (.xlsx) and CSV files, read as the user sees them.

A county's households live in Excel registers (花名册): a title row or two, then a header
row, then one row per household. :func:`read_table` finds the header row (the first of the
first :data:`HEADER_SEARCH_ROWS` rows whose cells name at least two columns of the layer,
see :mod:`.headers`) and keeps each data row's number as Excel shows it (the header in row
1: the first data row is row 2), so that every problem can be reported by row and column.

Excel is read with python-calamine (a Rust reader, streamed row by row, values typed as the
cells hold them): openpyxl's read-only mode reads a 150,000-row register 11 to 19 times
slower (see ``bench/import_register.py``). CSV is decoded by :mod:`.encodings` (UTF-8,
UTF-8 with BOM, GBK, GB18030) and read with the standard :mod:`csv` module.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from python_calamine import CalamineError, CalamineWorkbook

from gisgrid.errors import InputFileError
from gisgrid.exchange.encodings import decode_text
from gisgrid.exchange.headers import HeaderMap, map_headers
from gisgrid.layers.schema import Layer

#: file endings read as tables
TABLE_SUFFIXES = (".xlsx", ".xlsm", ".csv")
#: how many rows at the top of a sheet may hold titles before the header row
HEADER_SEARCH_ROWS = 20

#: a cell as read: text, a number, a boolean, a date or time, ``None`` (CSV: always text)
Cell = object


@dataclass(frozen=True)
class Table:
    """A register's rows under its header.

    Attributes
    ----------
    headers
        What the header row says for the layer.
    rows
        The data rows (cells in header order; blank rows left out).
    numbers
        Each data row's number as the user sees it (Excel's row number; a CSV's record
        number, the header being record 1 when it is the first).
    sheet
        The worksheet read (Excel only).
    encoding
        The encoding detected (CSV only: ``UTF-8``, ``UTF-8 (BOM)``, ``GBK``, ``GB18030``).
    """

    headers: HeaderMap
    rows: list[list[Cell]]
    numbers: list[int]
    sheet: str | None = None
    encoding: str | None = None

    def column(self, at: int) -> list[Cell]:
        """The cells of one column, ``None`` for blank ones."""
        return [_blank_as_none(row[at]) if at < len(row) else None for row in self.rows]


def _blank_as_none(cell: Cell) -> Cell:
    if isinstance(cell, str) and not cell.strip():
        return None
    return cell


def read_table(path: Path, *, decl: Layer, sheet: str | None = None) -> Table:
    """Read an .xlsx or .csv register for ``decl``, without checking its values.

    Parameters
    ----------
    path
        The file.
    decl
        The layer it is meant for: its columns decide which row is the header.
    sheet
        The worksheet (Excel); default: the first one whose header names the layer's columns.

    Raises
    ------
    InputFileError
        Unreadable file, unknown encoding, no header row naming the layer's columns.
    """
    if path.suffix.lower() == ".csv":
        decoded = decode_text(path.read_bytes(), name=path.name)
        records = csv.reader(io.StringIO(decoded.text, newline=""))
        table = _under_header(path, decl, ((n + 1, list(r)) for n, r in enumerate(records)))
        return Table(table.headers, table.rows, table.numbers, encoding=decoded.label)
    try:
        workbook = CalamineWorkbook.from_path(str(path))
    except (CalamineError, OSError, ValueError) as exc:
        raise InputFileError(
            f"{path}: 不是可读的 Excel 文件 (not a readable .xlsx: {exc})"
        ) from exc
    with workbook:
        names = list(workbook.sheet_names)
        if sheet is not None and sheet not in names:
            raise InputFileError(
                f"{path}: 没有工作表「{sheet}」(no sheet {sheet!r}; it has: {', '.join(names)})"
            )
        tried: list[str] = []
        for name in [sheet] if sheet is not None else names:
            data = workbook.get_sheet_by_name(name)
            # iter_rows starts at the sheet's first row (blank rows above the data included):
            # the n-th row it gives is Excel's row n + 1
            rows = ((n + 1, list[Cell](r)) for n, r in enumerate(data.iter_rows()))
            try:
                table = _under_header(path, decl, rows)
            except InputFileError:
                tried.append(name)
                continue
            return Table(table.headers, table.rows, table.numbers, sheet=name)
    raise InputFileError(
        f"{path}: 找不到表头行（工作表 {', '.join(tried)}）; no header row naming the columns of "
        f"{decl.name} in the first {HEADER_SEARCH_ROWS} rows (e.g. {_examples(decl)})"
    )


def _under_header(path: Path, decl: Layer, rows: Iterator[tuple[int, list[Cell]]]) -> Table:
    """The rows under the first row that names at least two of the layer's columns."""
    for number, cells in rows:
        headers = map_headers(decl, cells)
        if headers.known >= 2:
            body: list[list[Cell]] = []
            numbers: list[int] = []
            for n, row in rows:
                if any(c is not None and not (isinstance(c, str) and not c.strip()) for c in row):
                    body.append(row)
                    numbers.append(n)
            return Table(headers, body, numbers)
        if number >= HEADER_SEARCH_ROWS:
            break
    raise InputFileError(
        f"{path}: 找不到表头行; no header row naming the columns of {decl.name} in the first "
        f"{HEADER_SEARCH_ROWS} rows (e.g. {_examples(decl)})"
    )


def _examples(decl: Layer) -> str:
    return ", ".join(f"{f.label_zh or f.name}/{f.name}" for f in decl.fields[:3])
