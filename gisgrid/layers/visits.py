"""走访记录 visits: a grid worker, a backbone household or an elder-care watcher calls on a
household (探望, 帮办代办, 政策宣传, 矛盾调处, …).

A visit is a record about a household (its ``note`` about the residents): it is seen where
the household is, by roles that read household records. Rows are appended, never changed
(:data:`gisgrid.stores.base.APPEND_ONLY_LAYERS`); a mistaken visit is answered by another.
Where the visitor stood when recording it (``lon``, ``lat``) is optional: a phone without a
position fix still records the visit.
"""

from __future__ import annotations

from gisgrid.layers import kinds
from gisgrid.layers.fields import id_field
from gisgrid.layers.schema import Field, Layer

LAYER = Layer(
    name="visits",
    label_zh="走访记录",
    description="Visits to households (appended, never changed); local times.",
    fields=(
        id_field("走访编号", "visit id"),
        id_field("户编号", "the household visited", name="household_id"),
        Field("visitor", "str", required=True, label_zh="走访人", description="account (username)"),
        Field("at", "datetime", required=True, label_zh="走访时间", description="when, local time"),
        Field(
            "kind",
            "str",
            required=True,
            label_zh="走访类型",
            choices=tuple(kinds.VISIT_KINDS),
            description="what the visit was for",
        ),
        Field(
            "note",
            "str",
            label_zh="走访情况",
            max_length=2000,
            multiline=True,
            description="what was found or done",
            personal="resident",
        ),
        Field(
            "lon",
            "float",
            label_zh="记录位置经度",
            minimum=73.0,
            maximum=136.0,
            description="where the visit was recorded: longitude (WGS84), optional",
        ),
        Field(
            "lat",
            "float",
            label_zh="记录位置纬度",
            minimum=3.0,
            maximum=54.0,
            description="where the visit was recorded: latitude (WGS84), optional",
        ),
    ),
    key=("id",),
)
