"""Every coded kind the net speaks of, with its words and looks: the one home of those labels.

Each kind is a code (what the stores and the API hold) with its Simplified Chinese label, its
English label and, where a map draws it, a colour and a Font Awesome icon. The layer
declarations take their choices from here, and the check report, the dashboard, the maps and
their legends take their words from here, so one check or kind is called the same everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

Lang = Literal["zh", "en"]


@dataclass(frozen=True)
class Kind:
    """One coded kind: its code, Chinese and English labels, and how a map draws it."""

    code: str
    zh: str
    en: str
    colour: str | None = None
    icon: str | None = None

    def label(self, lang: Lang) -> str:
        """The label in ``lang`` (``zh`` or ``en``)."""
        return self.zh if lang == "zh" else self.en


def _table(*kinds: Kind) -> dict[str, Kind]:
    return {k.code: k for k in kinds}


#: 服务点 kinds, in the order the layer declares them
SERVICE_POINT_KINDS: dict[str, Kind] = _table(
    Kind(
        "township_centre", "乡镇便民服务中心", "Township service centre", "#7b3294", "landmark-flag"
    ),
    Kind(
        "village_centre", "村（社区）便民服务站", "Village service station", "#d6604d", "house-flag"
    ),
    Kind("elder_care", "岁月港湾网格点", "Elder-care point", "#e08214", "person-cane"),
    Kind("volunteer_base", "志愿服务站", "Volunteer station", "#1b7837", "handshake-angle"),
    Kind("clinic", "卫生室", "Clinic", "#2166ac", "house-medical"),
    Kind("other", "其他", "Other", "#666666", "location-dot"),
)

#: 事件 kinds, in the order the layer declares them
INCIDENT_KINDS: dict[str, Kind] = _table(
    Kind("dispute", "矛盾纠纷", "Dispute", "#1f78b4"),
    Kind("security", "治安", "Public security", "#17becf"),
    Kind("criminal", "刑事案件", "Criminal case", "#000000"),
    Kind("safety", "安全事故", "Safety accident", "#ffd92f"),
    Kind("environment", "环保事故", "Environmental accident", "#6a3d9a"),
    Kind("petition", "非正常上访", "Abnormal petition", "#8c510a"),
    Kind("lawsuit", "诉讼", "Lawsuit", "#bc80bd"),
    Kind("illegal_construction", "违法建设", "Illegal construction", "#e7298a"),
    Kind("overdue_loan", "逾期贷款", "Overdue loan", "#08306b"),
    Kind("service_request", "帮代办", "Service request", "#01665e"),
    Kind("other", "其他", "Other", "#969696"),
)

#: the case flow 立案→派遣→处置→核查→结案, in order
CASE_STATUSES: dict[str, Kind] = _table(
    Kind("registered", "立案", "registered"),
    Kind("dispatched", "派遣", "dispatched"),
    Kind("handling", "处置", "being handled"),
    Kind("verifying", "核查", "verifying"),
    Kind("closed", "结案", "closed"),
    Kind("rejected", "不予受理", "not accepted"),
)

#: what a visit to a household (走访) was for
VISIT_KINDS: dict[str, Kind] = _table(
    Kind("look_in", "探望", "looking in"),
    Kind("errand", "帮办代办", "errand done for them"),
    Kind("policy", "政策宣传", "explaining a policy"),
    Kind("mediation", "矛盾调处", "settling a dispute"),
    Kind("other", "其他", "other"),
)

#: the actions of the case flow (:mod:`gisgrid.analysis.cases` says which may follow which)
CASE_ACTIONS: dict[str, Kind] = _table(
    Kind("report", "上报", "report"),
    Kind("dispatch", "派遣", "dispatch"),
    Kind("reject", "不予受理", "reject"),
    Kind("accept", "签收处置", "accept"),
    Kind("decline", "退回", "send back"),
    Kind("redispatch", "重新派遣", "dispatch again"),
    Kind("handled", "处置完毕", "handled"),
    Kind("verify", "核查通过并结案", "verify and close"),
    Kind("reopen", "核查不通过", "verification failed"),
)

#: the kinds of level-1 area: a village or a (town) community
VILLAGE_KINDS: dict[str, Kind] = _table(
    Kind("village", "村", "village"),
    Kind("community", "社区", "community"),
)

#: the kinds of volunteers' activities (志愿服务活动)
ACTIVITY_KINDS: dict[str, Kind] = _table(
    Kind("epidemic_prevention", "疫情防控", "epidemic prevention"),
    Kind("dispute_mediation", "矛盾纠纷调解", "dispute mediation"),
    Kind("environment", "环境卫生整治", "cleaning up the environment"),
    Kind("drowning_prevention", "防溺水", "drowning prevention"),
    Kind("practical_help", "我为群众办实事", "practical help"),
    Kind("other", "其他", "other"),
)

#: the kinds of unit paired with a village (结对单位)
UNIT_KINDS: dict[str, Kind] = _table(
    Kind("agency", "机关", "agency"),
    Kind("institution", "事业单位", "institution"),
    Kind("enterprise", "企业", "enterprise"),
)

#: the kinds of pairing (结对类型)
PAIRING_KINDS: dict[str, Kind] = _table(
    Kind("weak_village", "集体经济薄弱村", "weak village"),
    Kind("urban_community", "城市社区", "urban community"),
)

#: the six 六无 categories (safety and environment accidents are one)
SIX_NO_CATEGORIES: dict[str, Kind] = _table(
    Kind("petition", "非正常上访", "Abnormal petitions"),
    Kind("criminal", "刑事案件", "Criminal cases"),
    Kind("accident", "安全环保事故", "Safety or environmental accidents"),
    Kind("lawsuit", "诉讼", "Lawsuits"),
    Kind("illegal_construction", "违法建设", "Illegal construction"),
    Kind("overdue_loan", "逾期贷款", "Overdue loans"),
)
#: the incident kinds each 六无 category holds
SIX_NO_KINDS_OF: dict[str, tuple[str, ...]] = {
    "petition": ("petition",),
    "criminal": ("criminal",),
    "accident": ("safety", "environment"),
    "lawsuit": ("lawsuit",),
    "illegal_construction": ("illegal_construction",),
    "overdue_loan": ("overdue_loan",),
}

#: the checks of ``gisgrid check``, in report order: one wording each, on every page and map
CHECKS: dict[str, Kind] = _table(
    Kind("invalid_geometries", "无效几何", "invalid geometries"),
    Kind("gaps", "覆盖空隙", "gaps in the coverage"),
    Kind("overlaps", "同级重叠", "overlaps between siblings"),
    Kind("nesting", "越出上级", "outside their parent"),
    Kind("households_outside", "网格外农户", "households outside every level-3 grid"),
    Kind("village_mismatch", "户籍村与所在村不符", "registered in another village"),
    Kind("linkage", "党员联户问题", "party-member linkage problems"),
    Kind("unstaffed_grids", "无负责人网格", "grids without a responsible person"),
    Kind("service_coverage", "服务覆盖不足", "service coverage shortfalls"),
    Kind("workload", "网格户数超出范围", "grids outside the household band"),
    Kind("six_no", "未达六无村", "villages not six-no"),
    Kind("unvisited", "未按期走访", "households not visited in time"),
    Kind("watched_unvisited", "岁月港湾老人本周未走访", "watchers' elders not visited this week"),
)


#: the coded fields whose values have words here, by (layer, field): exports write the Chinese
#: label (a field not listed writes its code)
FIELD_KINDS: dict[tuple[str, str], Mapping[str, Kind]] = {
    ("service_points", "kind"): SERVICE_POINT_KINDS,
    ("incidents", "kind"): INCIDENT_KINDS,
    ("incidents", "status"): CASE_STATUSES,
    ("case_steps", "action"): CASE_ACTIONS,
    ("visits", "kind"): VISIT_KINDS,
    ("pairings", "unit_kind"): UNIT_KINDS,
    ("pairings", "kind"): PAIRING_KINDS,
    ("villages", "kind"): VILLAGE_KINDS,
    ("volunteer_activities", "kind"): ACTIVITY_KINDS,
}


def label(table: Mapping[str, Kind], code: str, lang: Lang) -> str:
    """The label of ``code`` in ``table`` in ``lang``; an unknown code is its own label."""
    kind = table.get(code)
    return code if kind is None else kind.label(lang)


__all__ = [
    "ACTIVITY_KINDS",
    "CASE_ACTIONS",
    "CASE_STATUSES",
    "CHECKS",
    "FIELD_KINDS",
    "INCIDENT_KINDS",
    "SERVICE_POINT_KINDS",
    "SIX_NO_CATEGORIES",
    "SIX_NO_KINDS_OF",
    "VILLAGE_KINDS",
    "VISIT_KINDS",
    "Kind",
    "Lang",
    "label",
]
