"""服务点 service points: one-stop centres (一门式), elder-care points (岁月港湾) and others."""

from __future__ import annotations

from gisgrid.layers.schema import Field, Layer

SERVICE_KINDS = (
    "township_centre",  # 乡镇一门式服务中心
    "village_centre",  # 村（社区）一门式服务站
    "elder_care",  # 岁月港湾 elder-care grid point
    "volunteer_base",  # 志愿服务站
    "clinic",  # 村卫生室
    "other",
)
SERVICE_LABELS_ZH = {
    "township_centre": "乡镇便民服务中心",
    "village_centre": "村（社区）便民服务站",
    "elder_care": "岁月港湾网格点",
    "volunteer_base": "志愿服务站",
    "clinic": "卫生室",
    "other": "其他",
}

LAYER = Layer(
    name="service_points",
    label_zh="服务点",
    description="Service points: one-stop centres, elder-care points, volunteer bases, clinics.",
    fields=(
        Field(
            "id",
            "str",
            required=True,
            label_zh="编号",
            pattern=r"[A-Za-z0-9_-]{1,40}",
            hint="letters, digits, _ or -, at most 40",
            description="service point id",
        ),
        Field(
            "kind",
            "str",
            required=True,
            label_zh="类型",
            choices=SERVICE_KINDS,
            description="kind of service point",
        ),
        Field("name", "str", required=True, label_zh="名称", description="name"),
        Field(
            "village_code",
            "str",
            label_zh="所在村（社区）",
            pattern=r"\d{12}",
            description="village it serves",
        ),
        Field(
            "watcher",
            "str",
            label_zh="负责人（守望者）",
            description="responsible person, e.g. the 党员守望者 of an elder-care point",
        ),
        Field(
            "grid_code",
            "str",
            label_zh="三级网格",
            pattern=r"\d{18}",
            assigned=True,
            description="level-3 grid, filled by assignment",
        ),
    ),
    key=("id",),
    geometry_type="Point",
)
