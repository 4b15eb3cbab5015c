"""The check report: one result per check, a stable JSON document, a bilingual summary."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from gisgrid import codes
from gisgrid.layers import kinds

#: the checks, in report order (the JSON document has exactly these keys, and ``meta``)
CHECKS: tuple[str, ...] = tuple(kinds.CHECKS)

#: (Chinese, English) label of each check, from :data:`gisgrid.layers.kinds.CHECKS`
LABELS: dict[str, tuple[str, str]] = {
    name: (kinds.CHECKS[name].zh, kinds.CHECKS[name].en) for name in CHECKS
}

LEVEL_LABELS = {
    "prefecture": ("市", "prefecture"),
    "county": ("县", "county"),
    "township": ("乡镇", "township"),
    "village": ("村（社区）", "village"),
    "level1": ("一级网格", "level-1 grid"),
    "level2": ("二级网格", "level-2 grid"),
    "level3": ("三级网格", "level-3 grid"),
}

LINK_LABELS = {
    "under": ("联系户过少", "backbone linking too few"),
    "over": ("联系户过多", "backbone linking too many"),
    "unlinked": ("未联系骨干户", "linked to nobody"),
    "long_link": ("联系距离过远", "link too long"),
    "bad_link": ("联系对象无效", "link to a wrong household"),
}

#: item fields that name a place by code; an item lies in an area when one lies in it
CODE_FIELDS = (
    "parent_code",
    "code",
    "grid_code",
    "village_code",
    "located",
    "registered",
    "township_code",
    "nearest_grid_code",
)
#: item fields that list codes
LIST_FIELDS = ("codes", "grid_codes", "adjacent_codes", "into_codes")

Lang = Literal["zh", "en", "both"]
#: items shown per check in the summary
SHOWN = 5


@dataclass
class CheckResult:
    """The findings of one check.

    Parameters
    ----------
    name
        One of :data:`CHECKS`.
    items
        The findings, sorted; ``count`` is their number.
    extra
        Figures beside the items (e.g. per level or per kind), placed before ``items``.
    seconds
        Time the check took.
    """

    name: str
    items: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        """``{"count": n, **extra, "items": [...]}``."""
        return {"count": self.count, **self.extra, "items": self.items}


@dataclass
class CheckReport:
    """All thirteen checks and the ``meta`` block (as_of, settings, counts, seconds)."""

    results: dict[str, CheckResult]
    meta: dict[str, Any]

    def __getitem__(self, name: str) -> CheckResult:
        return self.results[name]

    def __iter__(self) -> Iterator[CheckResult]:
        return iter(self.results[name] for name in CHECKS)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-able data: ``meta`` then one key per check."""
        return {"meta": self.meta} | {name: self.results[name].to_dict() for name in CHECKS}

    def to_json(self, *, indent: int | None = 2) -> str:
        """The JSON document (UTF-8 text, Chinese kept as is, keys in a fixed order)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent, allow_nan=False)

    def summary(self, lang: Lang = "both") -> str:
        """A short human summary: one line per check and its first findings.

        Parameters
        ----------
        lang
            ``"zh"`` Chinese labels, ``"en"`` English, ``"both"`` (default) both.
        """
        return "\n".join(_summary_lines(self, lang))


def item_in_area(item: Mapping[str, Any], area: str) -> bool:
    """Whether a finding names a place in ``area`` (a township, village or grid code)."""
    for key in CODE_FIELDS:
        value = item.get(key)
        if isinstance(value, str) and codes.lies_in(value, area):
            return True
    for key in LIST_FIELDS:
        values = item.get(key)
        if isinstance(values, list) and any(codes.lies_in(str(v), area) for v in values):
            return True
    return False


def report_of_area(report: Mapping[str, Any], area: str) -> dict[str, Any]:
    """The findings of a report (:meth:`CheckReport.to_dict`) that lie in ``area``.

    ``meta`` gains ``area``; each check keeps ``count`` and ``items`` only.
    """
    out: dict[str, Any] = {"meta": report["meta"] | {"area": area}}
    for name, result in report.items():
        if name == "meta" or not isinstance(result, Mapping):
            continue
        items = [i for i in result.get("items", []) if item_in_area(i, area)]
        out[name] = {"count": len(items), "items": items}
    return out


# --- summary ---------------------------------------------------------------------------------


def _t(pair: tuple[str, str], lang: Lang) -> str:
    zh, en = pair
    return {"zh": zh, "en": en}.get(lang, f"{zh} {en}")


def _n(value: float) -> str:
    return f"{value:,.0f}"


def _more(items: list[Any], lang: Lang) -> list[str]:
    if len(items) <= SHOWN:
        return []
    rest = len(items) - SHOWN
    return ["       " + _t((f"……另有 {rest} 项", f"… and {rest} more"), lang)]


def _detail(result: CheckResult, lang: Lang) -> list[str]:
    items = result.items
    name = result.name
    lines: list[str] = []
    m2 = "m²"

    def level(key: str) -> str:
        return _t(LEVEL_LABELS[key], lang)

    if name == "invalid_geometries":
        for d in items[:SHOWN]:
            reason = _t((d["reason_zh"], d["reason"]), lang)
            lines.append(f"{d['layer']} {d['code']}: {reason}")
    elif name == "gaps":
        for d in sorted(items, key=lambda d: -d["area_m2"])[:SHOWN]:
            lines.append(
                f"{level(d['parent_level'])} {d['parent_code']} "
                + _t(("未被下级覆盖", "not covered by its children"), lang)
                + f": {_n(d['area_m2'])} {m2}"
            )
    elif name == "overlaps":
        for d in items[:SHOWN]:
            lines.append(
                f"{level(d['level'])} {d['codes'][0]} × {d['codes'][1]}: {_n(d['area_m2'])} {m2}"
            )
    elif name == "nesting":
        for d in items[:SHOWN]:
            # a child whose parent is not there lies wholly outside it: say the parent is missing
            orphan = bool(d.get("parent_missing"))
            where = ("上级网格缺失", "parent missing") if orphan else ("越出", "outside")
            lines.append(
                f"{level(d['level'])} {d['code']} "
                + _t(where, lang)
                + f" {d['parent_code']}: {_n(d['outside_area_m2'])} {m2}"
            )
    elif name == "households_outside":
        for d in items[:SHOWN]:
            far = "?" if d["distance_m"] is None else _n(d["distance_m"])
            lines.append(
                f"{d['id']}: "
                + _t(("距最近网格", "nearest grid"), lang)
                + f" {d['nearest_grid_code']} {far} m"
            )
    elif name == "village_mismatch":
        for d in items[:SHOWN]:
            lines.append(
                f"{d['id']}: "
                + _t(("户籍", "registered"), lang)
                + f" {d['registered']}, "
                + _t(("位于", "stands in"), lang)
                + f" {d['located']}"
            )
    elif name == "linkage":
        for problem, pair in LINK_LABELS.items():
            found = [d for d in items if d["problem"] == problem]
            if found:
                shown = ", ".join(d["id"] for d in found[:SHOWN])
                tail = " …" if len(found) > SHOWN else ""
                lines.append(f"{_t(pair, lang)}: {len(found)} ({shown}{tail})")
        return ["       " + line for line in lines]
    elif name == "unstaffed_grids":
        for d in items[:SHOWN]:
            lines.append(f"{level('level' + str(d['level']))} {d['code']} {d['name'] or ''}")
    elif name == "service_coverage":
        for kind, fig in result.extra.get("by_kind", {}).items():
            label = _t((kinds.label(kinds.SERVICE_POINT_KINDS, kind, "zh"), kind), lang)
            who = _t(("有老人的农户", "households with elderly"), lang)
            hh = _t(("户", "households"), lang)
            if fig["elderly_only"]:
                lines.append(
                    f"{label} > {_n(fig['max_m'])} m: {_n(fig['households_beyond'])} {who}"
                )
            else:
                lines.append(
                    f"{label} > {_n(fig['max_m'])} m: {_n(fig['households_beyond'])} {hh}"
                    f" ({who} {_n(fig['elderly_households_beyond'])})"
                )
        missing = [d for d in items if d["problem"] == "no_village_centre"]
        if missing:
            lines.append(
                _t(("无村便民服务站的村", "villages without a village centre"), lang)
                + f": {len(missing)}"
            )
        return ["       " + line for line in lines]
    elif name == "workload":
        low, high = result.extra.get("band", (None, None))
        few = sum(d["problem"] == "too_few" for d in items)
        many = len(items) - few
        lines.append(
            _t((f"少于 {low} 户（可合并）", f"fewer than {low} households (merge?)"), lang)
            + f": {few}"
        )
        lines.append(
            _t((f"多于 {high} 户（可拆分）", f"more than {high} households (split?)"), lang)
            + f": {many}"
        )
        return ["       " + line for line in lines]
    elif name == "six_no":
        clean = len(result.extra.get("six_no_villages", []))
        total = result.extra.get("villages", 0)
        lines.append(_t(("六无村", "six-no villages"), lang) + f": {clean} / {total}")
        for d in sorted(items, key=lambda d: (-d["incidents"], d["village_code"]))[:SHOWN]:
            lines.append(f"{d['village_code']} {d['name'] or ''}: {d['incidents']}")
        return ["       " + line for line in lines] + _more(items, lang)
    elif name == "unvisited":
        days = result.extra.get("visit_days", {})
        names = {
            "elderly_only": ("老人独居户", "elderly-only"),
            "elderly": ("有老人户", "with elderly"),
        }
        for cat, n in result.extra.get("by_category", {}).items():
            zh, en = names.get(cat, (cat, cat))
            due = days.get(cat)
            lines.append(
                _t((f"{zh}超过 {due} 天未走访", f"{en}, not visited in {due} days"), lang)
                + f": {n}"
            )
        return ["       " + line for line in lines]
    elif name == "watched_unvisited":
        week = "–".join(result.extra.get("week", []))
        lines.append(
            _t((f"本周（{week}）未走访", f"not visited in the week {week}"), lang)
            + f": {len(items)}/{result.extra.get('watched', 0)}"
        )
        for d in items[:SHOWN]:
            lines.append(f"{d['care_point_id']} {d['care_point']}: {d['id']}")
        return ["       " + line for line in lines] + _more(items, lang)
    return ["       " + line for line in lines] + _more(items, lang)


def _summary_lines(report: CheckReport, lang: Lang) -> list[str]:
    meta = report.meta
    title = _t(("网格检查报告", "grid check report"), lang)
    as_of = _t(("截至", "as of"), lang)
    took = _t(("用时", "took"), lang)
    seconds = meta.get("seconds", {}).get("total")
    head = f"{title} · {as_of} {meta.get('as_of')}"
    if seconds is not None:
        head += f" · {took} {seconds:.1f} s"
    lines = [head]
    for number, result in enumerate(report, start=1):
        label = _t(LABELS[result.name], lang)
        lines.append(f"{number:>3}. {label}: {result.count}")
        if result.count or result.name in ("service_coverage", "six_no"):
            lines += _detail(result, lang)
    return lines
