"""网格 grids of levels 1–3, each with its responsible person (格上定人).

Versions: the layer holds the latest version of every grid (in force, retired with
``valid_to``, or taking effect later); the versions a publication superseded are kept, as
they were, in :mod:`gisgrid.layers.grid_versions`.

Codes: a level-1 grid's code is its village's 12-digit code; a level-2 grid appends a
3-digit sequence to it, a level-3 grid another 3 digits to its level-2 parent (18 digits).
Sequences are numbered within the parent from north to south in rows, west to east within a
row (see :func:`gisgrid.sample.codes.reading_order`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from gisgrid.codes import GRID_DIGITS, GRID_PATTERN
from gisgrid.layers.fields import village_code_field
from gisgrid.layers.schema import Field, Layer

#: the mobile (11 digits from 1) or landline (area code 0xxx, 7-8 digits) formats
PHONE_PATTERN = r"1\d{10}|0\d{2,3}-?\d{7,8}"


def _code_structure(frame: pd.DataFrame) -> Iterator[tuple[int, str | None, str]]:
    for i in frame.index:
        code: Any = frame.at[i, "code"]
        level: Any = frame.at[i, "level"]
        parent: Any = frame.at[i, "parent_code"]
        village: Any = frame.at[i, "village_code"]
        if code is None or pd.isna(level):
            continue
        level = int(level)
        if level in GRID_DIGITS and len(code) != GRID_DIGITS[level]:
            yield int(i), "code", f"a level-{level} grid code has {GRID_DIGITS[level]} digits"
            continue
        if village is not None and not code.startswith(village):
            yield int(i), "village_code", f"code {code} does not lie in village {village}"
        if level == 1:
            if parent is not None:
                yield int(i), "parent_code", "a level-1 grid has no parent (leave it empty)"
        elif parent is None:
            yield int(i), "parent_code", f"a level-{level} grid needs its parent's code"
        elif len(parent) != GRID_DIGITS[level - 1] or not code.startswith(parent):
            yield (
                int(i),
                "parent_code",
                f"{parent} is not a level-{level - 1} code that {code} extends",
            )
    dated = frame["valid_from"].notna() & frame["valid_to"].notna()
    for i in frame.index[dated & (frame["valid_to"] < frame["valid_from"])]:
        yield int(i), "valid_to", "valid_to is before valid_from"


#: what makes a row one version of a grid: its number and where it came from (lineage)
VERSION_FIELDS = (
    Field(
        "version",
        "int",
        label_zh="版本",
        minimum=1,
        description="version of the grid under its code (1 when empty); publishing adds one",
    ),
    Field(
        "derived_from",
        "str",
        label_zh="来源网格",
        pattern=r"\d{12}(\d{3}){0,2}(,\d{12}(\d{3}){0,2})*",
        hint="grid codes separated by commas",
        max_length=2000,
        description="codes of the grids this one came from (split, merge), comma-separated",
    ),
    Field(
        "change_set",
        "int",
        label_zh="变更单",
        minimum=1,
        description="number of the change set that published this version (empty: imported)",
    ),
)

LAYER = Layer(
    name="grids",
    label_zh="网格",
    description="Governance grids of levels 1-3 with their responsible persons.",
    fields=(
        Field(
            "code",
            "str",
            required=True,
            label_zh="网格编码",
            pattern=GRID_PATTERN,
            hint="12, 15 or 18 digits",
            description="12 digits (level 1), 15 (level 2) or 18 (level 3)",
        ),
        Field(
            "level",
            "int",
            required=True,
            label_zh="层级",
            minimum=1,
            maximum=3,
            description="1 village, 2 natural village, 3 villager group",
        ),
        Field(
            "parent_code",
            "str",
            label_zh="上级网格",
            pattern=r"\d{12}(\d{3})?",
            hint="12 or 15 digits",
            description="code of the parent grid, empty for level 1",
        ),
        village_code_field("所属村（社区）", "12-digit code of the village the grid lies in"),
        Field("name", "str", required=True, label_zh="网格名称", description="grid name"),
        Field(
            "responsible_name",
            "str",
            label_zh="网格负责人",
            description="name of the responsible person (empty = unstaffed)",
            personal="staff",
            masked_as="name",
        ),
        Field(
            "responsible_phone",
            "str",
            label_zh="联系电话",
            pattern=PHONE_PATTERN,
            hint="a mobile number of 11 digits or a landline with area code",
            description="mobile (11 digits) or landline with area code",
            personal="staff",
            masked_as="phone",
        ),
        Field(
            "responsible_role",
            "str",
            label_zh="职务",
            description="role of the responsible person, e.g. 网格长, 网格员",
        ),
        Field("valid_from", "date", label_zh="启用日期", description="date the grid took effect"),
        Field("valid_to", "date", label_zh="停用日期", description="date the grid ended, if any"),
        *VERSION_FIELDS,
    ),
    key=("code",),
    geometry_type="MultiPolygon",
    checks=(_code_structure,),
)
