"""The words on the maps: Simplified Chinese first, English on request (``--lang en``).

The labels of coded kinds (service points, incidents, case stages, six-no categories,
checks) come from :mod:`gisgrid.layers.kinds`, their one home; this module holds the other
words of the maps.
"""

from __future__ import annotations

from gisgrid.layers import kinds

Lang = kinds.Lang
LANGS: tuple[Lang, ...] = ("zh", "en")

#: key → (Chinese, English)
_STRINGS: dict[str, tuple[str, str]] = {
    # titles
    "title_coverage": ("网格覆盖图", "Grid coverage map"),
    "title_incidents": ("事件分布图", "Incident map"),
    "title_finder": ("农户查找", "Household finder"),
    # layer groups and layers
    "group_boundaries": ("行政区划与网格", "Divisions and grids"),
    "group_indicator": ("三级网格着色", "Level-3 grids coloured by"),
    "group_service": ("服务点", "Service points"),
    "group_households": ("农户", "Households"),
    "group_checks": ("核查问题", "Check findings"),
    "group_incidents": ("事件类型", "Incident kinds"),
    "group_analysis": ("分析", "Analysis"),
    "group_basemap": ("底图", "Basemap"),
    "townships": ("乡镇界", "Townships"),
    "villages": ("村（社区）界 · 一级网格", "Villages · level-1 grids"),
    "grids2": ("二级网格", "Level-2 grids"),
    "grids3": ("三级网格", "Level-3 grids"),
    "households_dots": ("农户分布（放大后显示）", "Households (shown when zoomed in)"),
    "households_zoom_hint": ("放大到第{z}级显示农户", "zoom to level {z} to see households"),
    "links": ("联户关系线", "Link lines to backbone households"),
    "heat": ("事件热力图", "Incident heat map"),
    "six_no": ("六无创建状态", "Six-no status"),
    "layers": ("图层", "Layers"),
    "legend": ("图例", "Legend"),
    "none": ("不着色", "No colour"),
    "no_data": ("无数据", "no data"),
    # indicators
    "ind_households": ("农户数", "Households"),
    "ind_linkage": ("联户率", "Linked to a backbone household"),
    "ind_distance": ("距最近服务点（米）", "Distance to nearest service point (m)"),
    "ind_incidents": ("事件数", "Incidents"),
    "ind_overdue_cases": ("超期案件数", "Overdue cases"),
    # popups
    "code": ("编码", "Code"),
    "name": ("名称", "Name"),
    "level": ("层级", "Level"),
    "level_1": ("一级网格", "level-1 grid"),
    "level_2": ("二级网格", "level-2 grid"),
    "level_3": ("三级网格", "level-3 grid"),
    "township": ("乡镇", "Township"),
    "village": ("村（社区）", "Village"),
    "kind_village": ("村", "village"),
    "kind_community": ("社区", "community"),
    "credit_village": ("信用村", "Credit village"),
    "responsible": ("网格负责人", "Responsible person"),
    "phone": ("联系电话", "Phone"),
    "unstaffed": ("未配备负责人", "no responsible person"),
    "households": ("农户数", "Households"),
    "linkage": ("联户率", "Linkage share"),
    "distance": ("距最近服务点", "To nearest service point"),
    "incidents": ("事件数", "Incidents"),
    "watcher": ("负责人（守望者）", "Responsible (watcher)"),
    "kind": ("类型", "Kind"),
    "status": ("状态", "Status"),
    "reported_at": ("上报时间", "Reported"),
    "description": ("描述", "Description"),
    "grid": ("所在网格", "Grid"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "metres": ("米", "m"),
    # check findings
    "grid_code": ("网格编码", "Grid code"),
    "grid_codes": ("涉及网格", "Grids"),
    "parent_code": ("上级网格", "Parent grid"),
    "into_code": ("越入网格", "Reaches into"),
    "parent_level": ("上级层级", "Parent level"),
    "parent_missing": ("上级网格缺失", "Parent missing"),
    "adjacent_codes": ("相邻网格", "Adjacent grids"),
    "area": ("面积", "Area"),
    "outside_area": ("越界面积", "Area outside"),
    "square_metres": ("平方米", "m²"),
    "household_id": ("农户编号", "Household id"),
    "registered_village": ("户籍村", "Registered village"),
    "nearest_grid": ("最近网格", "Nearest grid"),
    "distance_to_grid": ("距离", "Distance"),
    "id": ("编号", "Id"),
    "house_number": ("门牌号", "House number"),
    # incidents
    "month": ("月份", "Month"),
    "all_months": ("全部月份", "All months"),
    "prev": ("上一月", "previous month"),
    "next": ("下一月", "next month"),
    "six_no_ok": ("六无达标（无六类事件）", "Six-no met (none of the six kinds)"),
    "six_no_fail": ("有六类事件", "Has incidents of the six kinds"),
    "six_no_kinds": ("六类事件", "Six-no incidents"),
    "shown": ("显示事件：", "Incidents shown: "),
    "stage": ("办理阶段", "Stage"),
    "group_stage": ("按阶段筛选", "Filter by stage"),
    "only_overdue": ("只看超期", "Overdue only"),
    "overdue": ("超期", "Overdue"),
    "overdue_yes": ("已超期，升级至{level}", "overdue, escalated to the {level}"),
    "overdue_no": ("未超期", "on time"),
    "due": ("办理期限", "Due"),
    "overdue_marker": ("超期事件（红框）", "Overdue (red frame)"),
    "level_grid_net": ("网格", "grid"),
    "level_village_net": ("村（社区）", "village"),
    "level_township_net": ("乡镇", "township"),
    "level_county_net": ("县", "county"),
    # cases per area (coverage map)
    "open_cases": ("在办案件", "Open cases"),
    "overdue_cases": ("超期案件", "Overdue cases"),
    "escalated_cases": ("升级至本级案件", "Escalated to this level"),
    "escalated_county": ("升级至县级案件", "Escalated to the county"),
    # visits
    "group_visits": ("走访提醒", "Visits due"),
    "unvisited": ("逾期未走访的老年户", "Elderly households not visited in time"),
    "unvisited_days": ("距上次走访（天）", "Days since last visit"),
    "never_visited": ("从未走访", "never visited"),
    "visit_category": ("户类", "Kind of household"),
    "cat_elderly_only": ("老人独居户（均60岁以上）", "Elderly only (all 60+)"),
    "cat_elderly": ("有老人户", "With members aged 60+"),
    "visit_interval": ("应走访间隔（天）", "Visit every (days)"),
    "watched_unvisited": ("岁月港湾老人本周未走访", "Watchers' elders not visited this week"),
    "care_point": ("岁月港湾网格点", "Elder-care point"),
    "last_visit": ("上次走访", "Last visit"),
    # finder
    "search_placeholder": (
        "户主姓名、拼音首字母或门牌号",
        "Head of household, pinyin initials or house number",
    ),
    "search": ("查找", "Search"),
    "no_match": ("没有找到", "No match"),
    "matches": ("找到 {n} 户", "{n} found"),
    "members": ("家庭人口", "Members"),
    "elderly": ("60岁以上", "Aged 60+"),
    "party_member": ("党员户", "Party member"),
    "backbone": ("党员骨干户", "Backbone household"),
    "backbone_of": ("联系骨干户", "Backbone household"),
    "linked_households": ("所联系农户", "Households it looks after"),
    "not_linked": ("未联系骨干户", "not linked to a backbone household"),
    "credit_rating": ("信用等级", "Credit rating"),
    "nearest_service": ("最近的服务点", "Nearest service points"),
    "locate_me": ("定位我的位置", "Locate me"),
    "locating": ("正在定位……", "Locating…"),
    "you_are_here": ("您的位置", "You are here"),
    "not_in_grid": ("不在本村任何网格内", "not inside any grid of this village"),
    "locate_failed": ("无法定位：", "Cannot locate: "),
    "call": ("拨打", "Call"),
    "legend_backbone": ("党员骨干户", "Backbone household"),
    "legend_linked": ("已联系农户", "Linked household"),
    "legend_unlinked": ("未联系农户", "Unlinked household"),
    "accuracy": ("精度约 {m} 米", "accuracy about {m} m"),
}

#: the kinds whose labels the maps show, by the prefix of their key in :func:`strings`
_KIND_TABLES: dict[str, dict[str, kinds.Kind]] = {
    "check_": kinds.CHECKS,
    "six_": kinds.SIX_NO_CATEGORIES,
}


def check_lang(lang: str) -> Lang:
    """``lang`` if it is one of :data:`LANGS`, else :class:`ValueError`."""
    if lang not in LANGS:
        raise ValueError(f"language must be one of {', '.join(LANGS)}, not {lang!r}")
    return lang


def strings(lang: Lang) -> dict[str, str]:
    """Every UI string in ``lang``."""
    i = LANGS.index(check_lang(lang))
    out = {key: pair[i] for key, pair in _STRINGS.items()}
    for prefix, table in _KIND_TABLES.items():
        out |= {prefix + code: kind.label(lang) for code, kind in table.items()}
    return out


def text(key: str, lang: Lang) -> str:
    """One UI string."""
    if key in _STRINGS:
        return _STRINGS[key][LANGS.index(lang)]
    return strings(lang)[key]


def service_label(kind: str, lang: Lang) -> str:
    """Label of a service point kind."""
    return kinds.label(kinds.SERVICE_POINT_KINDS, kind, lang)


def incident_label(kind: str, lang: Lang) -> str:
    """Label of an incident kind."""
    return kinds.label(kinds.INCIDENT_KINDS, kind, lang)


def status_label(status: str, lang: Lang) -> str:
    """Label of a case flow stage."""
    return kinds.label(kinds.CASE_STATUSES, status, lang)


__all__ = [
    "LANGS",
    "Lang",
    "check_lang",
    "incident_label",
    "service_label",
    "status_label",
    "strings",
    "text",
]
