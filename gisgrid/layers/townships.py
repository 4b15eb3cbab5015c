"""乡镇 townships: the county's 9-digit administrative divisions."""

from __future__ import annotations

from gisgrid.layers.schema import Field, Layer

LAYER = Layer(
    name="townships",
    label_zh="乡镇",
    description="Townships (乡/镇/街道) of the county, with their 9-digit division codes.",
    fields=(
        Field(
            "code",
            "str",
            required=True,
            label_zh="乡镇代码",
            pattern=r"\d{9}",
            description="9-digit division code (county code + 3 digits)",
        ),
        Field("name", "str", required=True, label_zh="名称", description="official name"),
    ),
    key=("code",),
    geometry_type="MultiPolygon",
)
