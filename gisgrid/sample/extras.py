"""Service points, incidents and the county's organisation for the sample county.

All synthetic: places follow the synthetic settlements, people are fake (see names.py),
units are generic names of county offices.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from gisgrid import codes as gridcodes
from gisgrid.layers.incidents import SIX_NO_KINDS
from gisgrid.sample.names import person_names

COUNTY_LEADER_POSTS = (
    ["县委书记", "县委副书记、县长", "县委副书记", "县人大常委会主任", "县政协主席"]
    + [
        "县委常委、常务副县长",
        "县委常委、组织部部长",
        "县委常委、宣传部部长",
        "县委常委、政法委书记",
        "县委常委、纪委书记",
        "县委常委、统战部部长",
        "县委常委、县委办主任",
        "县委常委、副县长",
        "县委常委、人武部部长",
    ]
    + [f"副县长（{k}）" for k in ("农业农村", "工业", "城建", "教育卫健", "公安", "财政")]
    + [f"县人大常委会副主任（{k}）" for k in ("一", "二", "三", "四")]
    + [f"县政协副主席（{k}）" for k in ("一", "二", "三", "四", "五", "六")]
    + ["县人民法院院长"]
)
UNITS = [
    "县委办",
    "县政府办",
    "县委组织部",
    "县委宣传部",
    "县委统战部",
    "县委政法委",
    "县纪委监委",
    "县发改局",
    "县教育局",
    "县科工局",
    "县公安局",
    "县民政局",
    "县司法局",
    "县财政局",
    "县人社局",
    "县自然资源局",
    "县生态环境分局",
    "县住建局",
    "县交通运输局",
    "县水利局",
    "县农业农村局",
    "县商务局",
    "县文旅广体局",
    "县卫健局",
    "县退役军人事务局",
    "县应急管理局",
    "县审计局",
    "县市场监管局",
    "县统计局",
    "县医保局",
    "县林业局",
    "县城管局",
    "县信访局",
    "县数据局",
    "县总工会",
    "团县委",
    "县妇联",
    "县科协",
    "县残联",
    "县人民法院",
    "县人民检察院",
    "县人民医院",
    "县中医医院",
    "县妇幼保健院",
    "县疾控中心",
    "县第一中学",
    "县职业中专",
    "县融媒体中心",
    "县档案馆",
    "县供销社",
    "县农机事务中心",
    "县水文站",
    "县气象局",
    "县税务局",
    "县烟草专卖局",
    "县邮政分公司",
    "县自来水公司",
    "县城投公司",
    "县农商银行",
    "县农业银行支行",
    "县工商银行支行",
    "县建设银行支行",
    "县邮储银行支行",
    "县移动分公司",
    "县电信分公司",
    "县联通分公司",
    "县供电公司",
    "县燃气公司",
    "县公交公司",
    "县粮食储备库",
    "县国有资产事务中心",
    "县公共资源交易中心",
    "县不动产登记中心",
    "县政务服务中心",
    "县机关事务中心",
    "县住房公积金管理部",
    "县经开区管委会",
    "县委党校",
]
UNIT_KINDS = {"局": "agency", "办": "agency", "部": "agency", "委": "agency", "会": "agency"}
INCIDENT_SHARES = {
    "dispute": 0.38,
    "security": 0.14,
    "criminal": 0.02,
    "safety": 0.06,
    "environment": 0.08,
    "petition": 0.06,
    "lawsuit": 0.04,
    "illegal_construction": 0.10,
    "overdue_loan": 0.06,
    "other": 0.06,
}
INCIDENT_TEXT = {
    "dispute": ["邻里宅基地边界纠纷", "土地流转合同纠纷", "家庭赡养纠纷", "灌溉用水纠纷"],
    "security": ["夜间噪音扰民", "电动车被盗", "可疑人员徘徊", "酒后滋事"],
    "criminal": ["入室盗窃案件", "电信诈骗案件"],
    "safety": ["沟渠旁护栏缺失", "自建房墙体开裂", "电线私拉乱接"],
    "environment": ["秸秆焚烧", "生活污水直排沟渠", "畜禽粪污堆放"],
    "petition": ["越级上访", "重复信访"],
    "lawsuit": ["民间借贷诉讼", "交通事故赔偿诉讼"],
    "illegal_construction": ["未批先建房屋", "占用耕地建房", "违规搭建棚屋"],
    "overdue_loan": ["信用户贷款逾期", "小额贷款逾期"],
    "other": ["道路坑洼待修", "路灯损坏"],
}
ACTIVITY_KINDS = [
    "epidemic_prevention",
    "dispute_mediation",
    "environment",
    "drowning_prevention",
    "practical_help",
    "other",
]


def unit_kind(name: str) -> str:
    if any(w in name for w in ("银行", "公司", "分公司", "储备库")):
        return "enterprise"
    if any(name.endswith(s) for s in ("院", "中心", "中学", "中专", "馆", "站", "校", "社")):
        return "institution"
    return "agency"


def county_leaders(
    rng: np.random.Generator, township_codes: list[str], *, ids: str = ""
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """31 county leaders; every township has at least one (县级领导联乡)."""
    n = len(COUNTY_LEADER_POSTS)
    leaders = pd.DataFrame(
        {
            "id": [f"{ids}L{i + 1:02d}" for i in range(n)],
            "name": person_names(rng, n),
            "post": COUNTY_LEADER_POSTS,
        }
    )
    links = []
    shuffled = list(rng.permutation(township_codes))
    for i, lid in enumerate(leaders["id"]):
        links.append((lid, shuffled[i % len(shuffled)]))
        if rng.random() < 0.25:
            links.append((lid, shuffled[(i + 5) % len(shuffled)]))
    lt = pd.DataFrame(sorted(set(links)), columns=["leader_id", "township_code"])
    return leaders, lt


def pairings(
    rng: np.random.Generator, weak_villages: list[str], urban_communities: list[str]
) -> pd.DataFrame:
    """39 units ↔ 43 weak villages, 38 units ↔ 19 urban communities (两结对)."""
    units = list(rng.permutation(UNITS))
    rows = []
    weak_units = units[:39]
    for i, v in enumerate(weak_villages):
        rows.append((weak_units[i % 39], v, "weak_village"))
    urban_units = units[39:77]
    for i, u in enumerate(urban_units):
        rows.append((u, urban_communities[i % len(urban_communities)], "urban_community"))
    return pd.DataFrame(
        [(u, unit_kind(u), v, k) for u, v, k in rows],
        columns=["unit_name", "unit_kind", "village_code", "kind"],
    )


def first_secretaries(
    rng: np.random.Generator, villages: list[str], as_of: dt.date, *, n: int = 13, ids: str = ""
) -> pd.DataFrame:
    """``n`` first secretaries (第一书记, 13 in Huarong) sent to weak villages."""
    units = rng.choice(UNITS, size=n, replace=False)
    start = [as_of - dt.timedelta(days=int(d)) for d in rng.integers(200, 900, size=n)]
    return pd.DataFrame(
        {
            "id": [f"{ids}FS{i + 1:02d}" for i in range(n)],
            "name": person_names(rng, n),
            "unit": units,
            "village_code": villages[:n],
            "start_on": pd.to_datetime(start),
        }
    )


def incident_kinds(
    rng: np.random.Generator, n: int, village_of: np.ndarray, clean_villages: set[str]
) -> np.ndarray:
    """Kinds for incidents; villages in ``clean_villages`` get none of the six-no kinds."""
    kinds = np.array(list(INCIDENT_SHARES))
    p = np.array(list(INCIDENT_SHARES.values()))
    out = rng.choice(kinds, size=n, p=p / p.sum())
    clean = np.isin(village_of, list(clean_villages))
    six = np.isin(out, SIX_NO_KINDS)
    mild = np.array(["dispute", "security", "other"])
    out[clean & six] = rng.choice(mild, size=int((clean & six).sum()))
    return out


def incident_times_and_status(
    rng: np.random.Generator, n: int, as_of: dt.date
) -> tuple[pd.Series, np.ndarray]:
    """Report times over the year before ``as_of`` (more in summer) and a case-flow stage."""
    end = pd.Timestamp(as_of) + pd.Timedelta(hours=18)
    days = rng.uniform(0, 365, size=n)
    # summer has more disputes over water and more drowning and environment cases
    bump = rng.random(n) < 0.25
    days[bump] = (end.day_of_year - 200 + rng.normal(0, 30, bump.sum())) % 365
    hours = rng.uniform(7.5, 20.5, size=n)
    times = end - pd.to_timedelta(days, unit="D")
    times = times.normalize() + pd.to_timedelta(hours, unit="h")
    times = times.round("s")
    age = (end - times).days.to_numpy()
    stages = np.array(["registered", "dispatched", "handling", "verifying", "closed"])
    status = np.where(
        age > 30,
        np.where(rng.random(n) < 0.93, "closed", rng.choice(stages[1:4], size=n)),
        rng.choice(stages, size=n, p=[0.15, 0.15, 0.3, 0.15, 0.25]),
    )
    return pd.Series(times), status


def incident_descriptions(rng: np.random.Generator, kinds: np.ndarray) -> list[str]:
    return [str(rng.choice(INCIDENT_TEXT[k])) for k in kinds]


#: median hours a sample case spends in each stage before its next step, and the spread (a
#: lognormal's sigma): most cases move within the county's limits, a tail does not
_STAGE_HOURS = {"registered": (5.0, 0.9), "dispatched": (6.0, 0.9), "handling": (36.0, 0.8),
                "verifying": (14.0, 0.9)}  # fmt: skip
#: the steps that lead from each stage to the next, in the sample's simple flow
_NEXT_STEP = {"registered": "dispatch", "dispatched": "accept", "handling": "handled",
              "verifying": "verify"}  # fmt: skip
_HANDLED_NOTES = ("已上门调解，双方达成一致", "已现场核实并处理", "已协调相关部门处置",
                  "已督促整改到位", "已电话回访，群众满意")  # fmt: skip


def case_histories(
    rng: np.random.Generator,
    incidents: pd.DataFrame,
    grids: np.ndarray,
    as_of: dt.date,
) -> pd.DataFrame:
    """The steps of each sample case up to its stage: report, dispatch, accept, handled, verify.

    Who acts is named after the net: ``gw-<grid>`` the grid worker (reports, handles),
    ``vs-<village>`` the village secretary (dispatches), ``tw-<township>`` a township
    officer (verifies). Each stage lasts a lognormal number of hours; a case whose steps
    would run past ``as_of`` has them compressed into the time it had. A few percent take
    longer than their limits, so the demo shows overdue and late cases.
    """
    end = pd.Timestamp(as_of) + pd.Timedelta(hours=18)
    order = ("registered", "dispatched", "handling", "verifying", "closed")
    rows: list[dict[str, object]] = []
    for case_id, reported, status, grid in zip(
        incidents["id"], incidents["reported_at"], incidents["status"], grids, strict=True
    ):
        grid = str(grid)
        worker, village = f"gw-{grid}", f"vs-{gridcodes.village_of(grid)}"
        township = f"tw-{gridcodes.township_of(grid)}"
        stages = order[: order.index(str(status))]
        hours = np.array([rng.lognormal(np.log(_STAGE_HOURS[s][0]), _STAGE_HOURS[s][1])
                          for s in stages])  # fmt: skip
        room = (end - pd.Timestamp(reported)).total_seconds() / 3600 * 0.95
        if hours.sum() > room:  # a recent case: its steps came faster
            hours *= room / hours.sum()
        at = pd.Timestamp(reported)
        rows.append({"incident_id": case_id, "seq": 1, "action": "report", "actor": worker,
                     "at": at, "note": None, "assignee": None})  # fmt: skip
        for seq, (stage, h) in enumerate(zip(stages, hours, strict=True), start=2):
            at = (at + pd.Timedelta(hours=float(h))).round("s")
            action = _NEXT_STEP[stage]
            actor = {"dispatch": village, "verify": township}.get(action, worker)
            note = str(rng.choice(_HANDLED_NOTES)) if action == "handled" else None
            rows.append({"incident_id": case_id, "seq": seq, "action": action, "actor": actor,
                         "at": at, "note": note,
                         "assignee": worker if action == "dispatch" else None})  # fmt: skip
    return pd.DataFrame(rows)


_VISIT_NOTES = {
    "look_in": ("身体尚好，生活正常", "独居老人，已叮嘱按时服药", "家中整洁，无异常"),
    "errand": ("代办医保缴费", "代办高龄补贴申请", "帮助购买生活用品"),
    "policy": ("宣传防溺水知识", "宣传反诈知识", "讲解惠农补贴政策"),
    "mediation": ("调解邻里宅基地纠纷", "调解家庭矛盾"),
    "other": ("走访了解情况",),
}


def household_visits(
    rng: np.random.Generator,
    households: pd.DataFrame,
    grids: np.ndarray,
    as_of: dt.date,
    *,
    ids: str = "",
) -> pd.DataFrame:
    """A year of visits by the grid workers: a household with elderly members about once a
    year or more (some never), one in thirty of the others once."""
    end = pd.Timestamp(as_of) + pd.Timedelta(hours=17)
    n = len(households)
    elderly = households["elderly"].to_numpy() > 0
    others = (rng.random(n) < 1 / 30).astype(np.int64)
    counts = np.where(elderly, rng.poisson(1.0, n), others)
    which = np.repeat(np.arange(len(households)), counts)
    days = rng.uniform(0, 365, len(which))
    at = (end - pd.to_timedelta(days, unit="D")).round("min")
    kinds = rng.choice(list(_VISIT_NOTES), size=len(which), p=[0.55, 0.2, 0.15, 0.05, 0.05])
    household_ids = households["id"].to_numpy()
    return pd.DataFrame(
        {
            "id": [f"{ids}VS{i + 1:07d}" for i in range(len(which))],
            "household_id": household_ids[which],
            "visitor": [f"gw-{grids[i]}" for i in which],
            "at": at,
            "kind": kinds,
            "note": [str(rng.choice(_VISIT_NOTES[k])) for k in kinds],
            "lon": None,
            "lat": None,
        }
    )


def volunteer_hours(
    rng: np.random.Generator, teams: pd.DataFrame, activities: pd.DataFrame
) -> pd.DataFrame:
    """Who of a team's roll served at each of its activities, and for how long.

    Each team has a roll of as many volunteers as its ``members`` (numbered ``P<team>-<k>``,
    fake names); an activity is served by as many of them as took part (at most the roll),
    each for two to four hours or so, in half hours.
    """
    roll: dict[str, tuple[list[str], list[str]]] = {}
    for team_id, members in zip(teams["id"], teams["members"], strict=True):
        ids = [f"P{team_id}-{k:03d}" for k in range(1, int(members) + 1)]
        roll[str(team_id)] = (ids, person_names(rng, len(ids)))
    rows: list[dict[str, object]] = []
    for activity_id, team_id, participants in zip(
        activities["id"], activities["team_id"], activities["participants"], strict=True
    ):
        ids, names = roll[str(team_id)]
        n = min(int(participants), len(ids))
        for k in sorted(rng.choice(len(ids), size=n, replace=False).tolist()):
            hours = float(np.clip(np.round(rng.lognormal(np.log(3.0), 0.35) * 2) / 2, 0.5, 8))
            rows.append({"activity_id": activity_id, "volunteer_id": ids[k],
                         "volunteer_name": names[k], "hours": hours})  # fmt: skip
    return pd.DataFrame(rows)


def watcher_visits(
    rng: np.random.Generator,
    households: pd.DataFrame,
    grids: np.ndarray,
    care_grids: dict[str, str],
    as_of: dt.date,
    *,
    first: int,
    ids: str = "",
) -> pd.DataFrame:
    """The 岁月港湾 watchers' calls on the elders of their grids in the week of ``as_of``.

    ``care_grids`` maps each elder-care point's id to its level-3 grid; the elders are the
    households with a member aged 60+ there. About half are called on in the week so far
    (Monday to ``as_of``, daytime), by ``sw-<point id>``; the others are not, so check 13
    has something to show. Ids go on from ``VS<first>``.
    """
    point_of = {g: p for p, g in sorted(care_grids.items())}
    elderly = households["elderly"].to_numpy() > 0
    household_ids = households["id"].to_numpy()
    rows: list[dict[str, object]] = []
    monday = as_of - dt.timedelta(days=as_of.weekday())
    days = (as_of - monday).days + 1
    for i in np.flatnonzero(elderly & np.isin(grids, list(point_of))):
        if rng.random() >= 0.55:
            continue
        day = monday + dt.timedelta(days=int(rng.integers(days)))
        at = pd.Timestamp(day) + pd.Timedelta(minutes=int(rng.integers(8 * 60, 17 * 60)))
        rows.append(
            {
                "household_id": household_ids[i],
                "visitor": f"sw-{point_of[str(grids[i])]}",
                "at": at,
                "kind": "look_in",
                "note": str(rng.choice(_VISIT_NOTES["look_in"])),
            }
        )
    frame = pd.DataFrame(rows, columns=["household_id", "visitor", "at", "kind", "note"])
    frame.insert(0, "id", [f"{ids}VS{first + k:07d}" for k in range(len(frame))])
    frame["lon"] = None
    frame["lat"] = None
    return frame
