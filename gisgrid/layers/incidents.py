"""事件 incidents and cases, with the case flow 立案→派遣→处置→核查→结案."""

from __future__ import annotations

from gisgrid.layers import kinds
from gisgrid.layers.fields import grid_code_field, id_field
from gisgrid.layers.schema import Field, Layer

#: incident kinds and case flow stages: codes here, labels and colours in :mod:`.kinds`
INCIDENT_KINDS = tuple(kinds.INCIDENT_KINDS)
#: the kinds that decide a village's 六无 ("six-no") status
SIX_NO_KINDS = tuple(k for ks in kinds.SIX_NO_KINDS_OF.values() for k in ks)
STATUSES = tuple(kinds.CASE_STATUSES)

LAYER = Layer(
    name="incidents",
    label_zh="事件",
    description="Incidents and cases placed on the map; times are local (Asia/Shanghai).",
    fields=(
        id_field("事件编号", "incident id"),
        Field(
            "kind",
            "str",
            required=True,
            label_zh="类型",
            choices=INCIDENT_KINDS,
            description="kind of incident",
        ),
        Field(
            "reported_at",
            "datetime",
            required=True,
            label_zh="上报时间",
            description="when it was reported, local time",
        ),
        Field(
            "status",
            "str",
            required=True,
            label_zh="状态",
            choices=STATUSES,
            description="case flow stage",
        ),
        Field(
            "description",
            "str",
            label_zh="描述",
            description="what happened",
            max_length=2000,
            multiline=True,
            # free text about residents: names, addresses, disputes
            personal="resident",
        ),
        grid_code_field(),
    ),
    key=("id",),
    geometry_type="Point",
)
