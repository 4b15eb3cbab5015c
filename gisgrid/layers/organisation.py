"""组织 the county's organisation: leaders ↔ townships (联乡), unit pairings (结对),
first secretaries (第一书记), volunteer teams and their activities (志愿服务)."""

from __future__ import annotations

from gisgrid.layers import kinds
from gisgrid.layers.fields import id_field, township_code_field, village_code_field
from gisgrid.layers.schema import Field, Layer

UNIT_KINDS = tuple(kinds.UNIT_KINDS)
PAIRING_KINDS = tuple(kinds.PAIRING_KINDS)
ACTIVITY_KINDS = tuple(kinds.ACTIVITY_KINDS)


COUNTY_LEADERS = Layer(
    name="county_leaders",
    label_zh="县级领导",
    description="County leaders; each is responsible for one or more townships (联乡).",
    fields=(
        id_field("编号", "leader id"),
        Field(
            "name",
            "str",
            required=True,
            label_zh="姓名",
            description="name",
            personal="staff",
            masked_as="name",
        ),
        Field("post", "str", required=True, label_zh="职务", description="post"),
    ),
    key=("id",),
)

LEADER_TOWNSHIPS = Layer(
    name="leader_townships",
    label_zh="县级领导联乡",
    description="Which county leader is responsible for which township.",
    fields=(
        id_field("领导编号", "county leader id", name="leader_id"),
        township_code_field("乡镇代码", "township code"),
    ),
    key=("leader_id", "township_code"),
)

PAIRINGS = Layer(
    name="pairings",
    label_zh="结对联创",
    description="Agencies and enterprises paired with weak villages and urban communities.",
    fields=(
        Field("unit_name", "str", required=True, label_zh="结对单位", description="unit name"),
        Field(
            "unit_kind",
            "str",
            required=True,
            label_zh="单位类型",
            choices=UNIT_KINDS,
            description="agency, institution or enterprise",
        ),
        village_code_field("村（社区）代码", "paired village or community"),
        Field(
            "kind",
            "str",
            required=True,
            label_zh="结对类型",
            choices=PAIRING_KINDS,
            description="weak_village (集体经济薄弱村) or urban_community (城市社区)",
        ),
    ),
    key=("unit_name", "village_code"),
)

FIRST_SECRETARIES = Layer(
    name="first_secretaries",
    label_zh="驻村第一书记",
    description="First secretaries sent to villages.",
    fields=(
        id_field("编号", "id"),
        Field(
            "name",
            "str",
            required=True,
            label_zh="姓名",
            description="name",
            personal="staff",
            masked_as="name",
        ),
        Field("unit", "str", required=True, label_zh="派出单位", description="sending unit"),
        village_code_field("任职村", "village served"),
        Field("start_on", "date", label_zh="任职日期", description="start date"),
    ),
    key=("id",),
)

VOLUNTEER_TEAMS = Layer(
    name="volunteer_teams",
    label_zh="志愿服务队",
    description="Party-member volunteer teams (长工精神志愿服务队), placed at their base.",
    fields=(
        id_field("编号", "team id"),
        Field("name", "str", required=True, label_zh="队名", description="team name"),
        village_code_field("所在村（社区）", "village of the team's base"),
        Field(
            "leader_name",
            "str",
            label_zh="队长",
            description="team leader",
            personal="staff",
            masked_as="name",
        ),
        Field(
            "members",
            "int",
            required=True,
            label_zh="队员人数",
            minimum=1,
            maximum=1000,
            description="number of volunteers",
        ),
    ),
    key=("id",),
    geometry_type="Point",
)

VOLUNTEER_ACTIVITIES = Layer(
    name="volunteer_activities",
    label_zh="志愿服务活动",
    description="Volunteer activities: team, place, date and kind.",
    fields=(
        id_field("编号", "activity id"),
        id_field("服务队", "team that held it", name="team_id"),
        Field(
            "kind",
            "str",
            required=True,
            label_zh="类型",
            choices=ACTIVITY_KINDS,
            description="kind of activity",
        ),
        Field("held_on", "date", required=True, label_zh="日期", description="date held"),
        Field(
            "participants",
            "int",
            label_zh="参与人数",
            minimum=0,
            maximum=100000,
            description="volunteers taking part",
        ),
    ),
    key=("id",),
    geometry_type="Point",
)

VOLUNTEER_HOURS = Layer(
    name="volunteer_hours",
    label_zh="志愿服务时长",
    description="Who took part in a volunteer activity and for how many hours (the time bank).",
    fields=(
        id_field("活动编号", "the activity", name="activity_id"),
        id_field(
            "志愿者编号", "the volunteer (their number in the county's roll)", name="volunteer_id"
        ),
        Field(
            "volunteer_name",
            "str",
            required=True,
            label_zh="志愿者",
            description="the volunteer's name",
            personal="resident",
            masked_as="name",
        ),
        Field(
            "hours",
            "float",
            required=True,
            label_zh="服务时长（小时）",
            minimum=0.25,
            maximum=24,
            description="hours served at the activity",
        ),
    ),
    key=("activity_id", "volunteer_id"),
)
