"""The code hierarchy of the net: which area or grid a code names, and what it lies in.

Codes nest by prefix (GB/T 2260 and the national statistics division codes, then the grid
sequences of the local standards)::

    430600              prefecture  6 digits   ending in 00 (地级市)
    430623              county      6 digits
    430623101           township    9 digits   county + 3
    430623101201        village    12 digits   township + 3   (= its level-1 grid)
    430623101201003     level-2    15 digits   village + 3
    430623101201003002  level-3    18 digits   level-2 + 3

A prefecture and its counties share the first four digits: GB/T 2260 gives a prefecture
``dddd00`` and its county-level divisions ``dddd01``-``dddd99``, so no county code ends in
00 and a 6-digit code ending in 00 is told as a prefecture. A prefecture's area is every
code starting with its four digits (:func:`area_prefix`).

Every slice of a code by hand belongs here: ask :func:`village_of` rather than ``code[:12]``.
The single forms raise :class:`ValueError` for a code too short to hold the part asked for.
The array forms (:func:`villages_of`, …) take any sequence of codes with ``None`` (or NaN)
for a missing one and give ``None`` back for it, or for a code too short to hold the part.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, overload

import numpy as np

COUNTY_DIGITS = 6
TOWNSHIP_DIGITS = 9
VILLAGE_DIGITS = 12
#: digits of a grid code at each grid level (a level-1 grid's code is its village's)
GRID_DIGITS: dict[int, int] = {1: 12, 2: 15, 3: 18}
#: the regular expression of each kind of code (layer declarations and API parameters use them)
COUNTY_PATTERN = r"\d{6}"
TOWNSHIP_PATTERN = r"\d{9}"
VILLAGE_PATTERN = r"\d{12}"
LEVEL2_PATTERN = r"\d{15}"
LEVEL3_PATTERN = r"\d{18}"
#: any grid code, levels 1-3
GRID_PATTERN = r"\d{12}(\d{3}){0,2}"
#: any area a page, map or report can be drawn for: township, village, level-2 or level-3 grid
AREA_PATTERN = r"\d{9}(\d{3}){0,3}"

Kind = Literal["prefecture", "county", "township", "village", "level2", "level3"]
_KIND_OF_LENGTH: dict[int, Kind] = {
    COUNTY_DIGITS: "county",
    TOWNSHIP_DIGITS: "township",
    VILLAGE_DIGITS: "village",
    15: "level2",
    18: "level3",
}


def kind_of(code: str) -> Kind:
    """What ``code`` names: ``prefecture`` (6 digits ending in 00), ``county``,
    ``township``, ``village``, ``level2`` or ``level3``.

    Raises
    ------
    ValueError
        ``code`` is not all digits or has no length of the hierarchy.
    """
    if not code.isdigit() or len(code) not in _KIND_OF_LENGTH:
        raise ValueError(f"{code!r} is not a county, township, village or grid code")
    if is_prefecture(code):
        return "prefecture"
    return _KIND_OF_LENGTH[len(code)]


def is_prefecture(code: str) -> bool:
    """Whether ``code`` is a prefecture's: six digits ending in 00 (no county's does)."""
    return len(code) == COUNTY_DIGITS and code.isdigit() and code.endswith("00")


def grid_level_of(code: str) -> int:
    """The grid level (1-3) of a grid code (a village's code is its level-1 grid's)."""
    for level, digits in GRID_DIGITS.items():
        if len(code) == digits and code.isdigit():
            return level
    raise ValueError(f"{code!r} is not a grid code of levels 1-3")


def parent_of(code: str) -> str | None:
    """The code one step up: level-3 → level-2 → village → township → county → ``None``
    (a county's prefecture is :func:`prefecture_of`)."""
    kind_of(code)
    return None if len(code) == COUNTY_DIGITS else code[:-3]


def prefecture_of(code: str) -> str:
    """The prefecture a code lies in (its first four digits and 00), a prefecture itself."""
    if len(code) < COUNTY_DIGITS or not code[:COUNTY_DIGITS].isdigit():
        raise ValueError(f"{code!r} holds no 6-digit area code")
    return code[:4] + "00"


def area_prefix(area: str) -> str:
    """What every code inside ``area`` starts with: the code itself, or a prefecture's four
    digits (its counties' codes do not start with ``dddd00``)."""
    if is_prefecture(area):
        return area[:4]
    return area


def _prefix(code: str | None, digits: int) -> str | None:
    if code is None:
        return None
    if len(code) < digits or not code[:digits].isdigit():
        raise ValueError(f"{code!r} holds no {digits}-digit area code")
    return code[:digits]


@overload
def county_of(code: str) -> str: ...
@overload
def county_of(code: str | None) -> str | None: ...
def county_of(code: str | None) -> str | None:
    """The county a code lies in (``None`` for ``None``)."""
    return _prefix(code, COUNTY_DIGITS)


@overload
def township_of(code: str) -> str: ...
@overload
def township_of(code: str | None) -> str | None: ...
def township_of(code: str | None) -> str | None:
    """The township a code lies in (``None`` for ``None``)."""
    return _prefix(code, TOWNSHIP_DIGITS)


@overload
def village_of(code: str) -> str: ...
@overload
def village_of(code: str | None) -> str | None: ...
def village_of(code: str | None) -> str | None:
    """The village (= level-1 grid) a code lies in (``None`` for ``None``)."""
    return _prefix(code, VILLAGE_DIGITS)


@overload
def level2_of(code: str) -> str: ...
@overload
def level2_of(code: str | None) -> str | None: ...
def level2_of(code: str | None) -> str | None:
    """The level-2 grid a level-3 code lies in (``None`` for ``None``)."""
    return _prefix(code, GRID_DIGITS[2])


def prefixes_of(codes: Iterable[object], digits: int) -> np.ndarray:
    """The first ``digits`` of each code as an object array (``None`` where there is none)."""
    return np.asarray(
        [c[:digits] if isinstance(c, str) and len(c) >= digits else None for c in codes],
        dtype=object,
    )


def counties_of(codes: Iterable[object]) -> np.ndarray:
    """:func:`county_of` of each code, as an object array."""
    return prefixes_of(codes, COUNTY_DIGITS)


def townships_of(codes: Iterable[object]) -> np.ndarray:
    """:func:`township_of` of each code, as an object array."""
    return prefixes_of(codes, TOWNSHIP_DIGITS)


def villages_of(codes: Iterable[object]) -> np.ndarray:
    """:func:`village_of` of each code, as an object array."""
    return prefixes_of(codes, VILLAGE_DIGITS)


def level2s_of(codes: Iterable[object]) -> np.ndarray:
    """:func:`level2_of` of each code, as an object array."""
    return prefixes_of(codes, GRID_DIGITS[2])


def child_code(parent_code: str, sequence: int) -> str:
    """The code of a parent's child number ``sequence`` (1-999): the parent's code + 3 digits."""
    if not 1 <= sequence <= 999:
        raise ValueError(f"a child's sequence is 1-999, not {sequence}")
    return f"{parent_code}{sequence:03d}"


def lies_in(code: str, area: str) -> bool:
    """Whether ``code`` is ``area`` or lies inside it (its code extends the area's, or, for
    a prefecture, its four digits)."""
    return code.startswith(area_prefix(area))
