"""村（社区）villages and communities. Each is also its own level-1 grid."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd

from gisgrid.layers import kinds
from gisgrid.layers.fields import township_code_field
from gisgrid.layers.schema import Field, Layer

VILLAGE_KINDS = tuple(kinds.VILLAGE_KINDS)


def _code_in_township(frame: pd.DataFrame) -> Iterator[tuple[int, str | None, str]]:
    both = frame["code"].notna() & frame["township_code"].notna()
    for i in frame.index[both]:
        code: Any = frame.at[i, "code"]
        township: Any = frame.at[i, "township_code"]
        if not str(code).startswith(str(township)):
            yield int(i), "township_code", f"code {code} does not lie in township {township}"


LAYER = Layer(
    name="villages",
    label_zh="村（社区）",
    description="Villages (村) and urban communities (社区); each is its level-1 grid.",
    fields=(
        Field(
            "code",
            "str",
            required=True,
            label_zh="村（社区）代码",
            pattern=r"\d{12}",
            description="12-digit division code (township code + 3 digits)",
        ),
        Field("name", "str", required=True, label_zh="名称", description="official name"),
        township_code_field("所属乡镇", "9-digit code of its township"),
        Field(
            "kind",
            "str",
            required=True,
            label_zh="类型",
            choices=VILLAGE_KINDS,
            description="village (村) or community (社区)",
        ),
        Field(
            "credit_village",
            "bool",
            label_zh="信用村",
            default=False,
            description="rated a credit village (信用村)",
        ),
    ),
    key=("code",),
    geometry_type="MultiPolygon",
    checks=(_code_in_township,),
)
