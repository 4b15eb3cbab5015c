"""Shared field builders: the fields many layers declare alike (ids, codes, grid_code).

A layer declares ``id_field("户编号", "household id")`` instead of spelling out the id's
pattern and hint again; the patterns come from :mod:`gisgrid.codes`, so a code column checks
exactly what the code hierarchy says.
"""

from __future__ import annotations

from gisgrid import codes
from gisgrid.layers.schema import Field

#: ids of people, points and records: letters, digits, _ or -
ID_PATTERN = r"[A-Za-z0-9_-]{1,40}"
ID_HINT = "letters, digits, _ or -, at most 40"


def id_field(label_zh: str, description: str, *, name: str = "id", required: bool = True) -> Field:
    """A text id (``id``, or a reference to another layer's id such as ``team_id``)."""
    return Field(
        name,
        "str",
        required=required,
        label_zh=label_zh,
        pattern=ID_PATTERN,
        hint=ID_HINT,
        description=description,
    )


def _code_field(name: str, pattern: str, label_zh: str, description: str, required: bool) -> Field:
    return Field(
        name, "str", required=required, label_zh=label_zh, pattern=pattern, description=description
    )


def township_code_field(
    label_zh: str, description: str, *, name: str = "township_code", required: bool = True
) -> Field:
    """A 9-digit township code."""
    return _code_field(name, codes.TOWNSHIP_PATTERN, label_zh, description, required)


def village_code_field(
    label_zh: str, description: str, *, name: str = "village_code", required: bool = True
) -> Field:
    """A 12-digit village (community) code."""
    return _code_field(name, codes.VILLAGE_PATTERN, label_zh, description, required)


def grid_code_field() -> Field:
    """The level-3 grid of a point, filled by assignment (never required in an input)."""
    return Field(
        "grid_code",
        "str",
        label_zh="三级网格",
        pattern=codes.LEVEL3_PATTERN,
        assigned=True,
        description="level-3 grid, filled by assignment",
    )
