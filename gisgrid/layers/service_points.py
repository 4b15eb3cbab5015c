"""服务点 service points: one-stop centres (一门式), elder-care points (岁月港湾) and others."""

from __future__ import annotations

from gisgrid.layers import kinds
from gisgrid.layers.fields import grid_code_field, id_field, village_code_field
from gisgrid.layers.schema import Field, Layer

#: service point kinds: codes here, labels, colours and icons in :mod:`.kinds`
SERVICE_KINDS = tuple(kinds.SERVICE_POINT_KINDS)

LAYER = Layer(
    name="service_points",
    label_zh="服务点",
    description="Service points: one-stop centres, elder-care points, volunteer bases, clinics.",
    fields=(
        id_field("编号", "service point id"),
        Field(
            "kind",
            "str",
            required=True,
            label_zh="类型",
            choices=SERVICE_KINDS,
            description="kind of service point",
        ),
        Field("name", "str", required=True, label_zh="名称", description="name"),
        village_code_field("所在村（社区）", "village it serves", required=False),
        Field(
            "watcher",
            "str",
            label_zh="负责人（守望者）",
            description="responsible person, e.g. the 党员守望者 of an elder-care point",
            personal="staff",
            masked_as="name",
        ),
        grid_code_field(),
    ),
    key=("id",),
    geometry_type="Point",
)
