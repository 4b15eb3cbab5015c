"""事件 incidents and cases, with the case flow 立案→派遣→处置→核查→结案."""

from __future__ import annotations

from gisgrid.layers.schema import Field, Layer

INCIDENT_KINDS = (
    "dispute",  # 矛盾纠纷
    "security",  # 治安
    "criminal",  # 刑事案件
    "safety",  # 安全事故
    "environment",  # 环保事故
    "petition",  # 非正常上访
    "lawsuit",  # 诉讼
    "illegal_construction",  # 违法建设
    "overdue_loan",  # 逾期贷款
    "other",
)
INCIDENT_LABELS_ZH = {
    "dispute": "矛盾纠纷",
    "security": "治安",
    "criminal": "刑事案件",
    "safety": "安全事故",
    "environment": "环保事故",
    "petition": "非正常上访",
    "lawsuit": "诉讼",
    "illegal_construction": "违法建设",
    "overdue_loan": "逾期贷款",
    "other": "其他",
}
#: the kinds that decide a village's 六无 ("six-no") status
SIX_NO_KINDS = (
    "petition",
    "criminal",
    "safety",
    "environment",
    "lawsuit",
    "illegal_construction",
    "overdue_loan",
)
STATUSES = ("registered", "dispatched", "handling", "verifying", "closed")
STATUS_LABELS_ZH = {
    "registered": "立案",
    "dispatched": "派遣",
    "handling": "处置",
    "verifying": "核查",
    "closed": "结案",
}

LAYER = Layer(
    name="incidents",
    label_zh="事件",
    description="Incidents and cases placed on the map; times are local (Asia/Shanghai).",
    fields=(
        Field(
            "id",
            "str",
            required=True,
            label_zh="事件编号",
            pattern=r"[A-Za-z0-9_-]{1,40}",
            hint="letters, digits, _ or -, at most 40",
            description="incident id",
        ),
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
