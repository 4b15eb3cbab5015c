"""The leaders' dashboard shows the figures of the area shown, counted by brute force here.

A small sample county (5,000 households) in a GeoPackage: the cards of the county, a township
and a village, the rows of each level and the service-radius figure are compared with counts
made one household at a time from the reference assignment engine, plain shapely predicates
and full distance matrices (no KD-tree), following the check's service rules.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import shapely
from accounts import admin_headers
from fastapi.testclient import TestClient

from gisgrid import codes
from gisgrid import crs as crsmod
from gisgrid.analysis import indicators
from gisgrid.analysis.assign import assign_points_exact, local_now
from gisgrid.api import create_app
from gisgrid.api.routes import pages
from gisgrid.api.state import AppState
from gisgrid.layers import kinds
from gisgrid.settings import CheckSettings
from gisgrid.stores.geopackage import GeoPackageStore

pytestmark = pytest.mark.slow
#: the township of the issue's report (梅田湖镇)
TOWNSHIP = "430623119"


@pytest.fixture(scope="module")
def county_file(sample_gpkg_copy: str) -> Path:
    return Path(sample_gpkg_copy)


@pytest.fixture(scope="module")
def state(county_file: Path) -> AppState:
    return AppState.load(GeoPackageStore(county_file))


@pytest.fixture(scope="module")
def client(county_file: Path) -> Iterator[TestClient]:
    headers = admin_headers(str(county_file))
    with TestClient(create_app(store=str(county_file)), headers=headers) as c:
        yield c


# --- brute force -------------------------------------------------------------------------------


def _metric(geoms: Any) -> np.ndarray:
    xy = shapely.get_coordinates(np.asarray(geoms, dtype=object))
    x, y = crsmod.convert_points(
        xy[:, 0], xy[:, 1], source=crsmod.STORAGE_CRS, target=crsmod.METRIC_CRS
    )
    return np.column_stack([x, y])


def _covering_village(points: Any, villages: pd.DataFrame) -> list[str | None]:
    shapes = list(zip(villages["code"], villages.geometry, strict=True))
    out: list[str | None] = []
    for point in points:
        covering = [c for c, g in shapes if g.covers(point)]
        out.append(min(covering) if covering else None)
    return out


@pytest.fixture(scope="module")
def truth(county_file: Path) -> dict[str, Any]:
    """Per household: the areas it counts in, in the net or not, beyond which kinds' radius."""
    store = GeoPackageStore(county_file)
    hh = store.read("households")
    grids = store.read("grids")
    villages = store.read("villages").sort_values("code")
    sp = store.read("service_points")
    level3 = grids[grids["level"] == 3][["code", "geometry"]]
    grid = assign_points_exact(hh.geometry, level3)
    standing = _covering_village(hh.geometry, villages)
    village = [
        codes.village_of(g) if g is not None else v for g, v in zip(grid, standing, strict=True)
    ]
    areas = pd.DataFrame(
        {
            "level3": grid,
            "level2": [None if g is None else codes.level2_of(g) for g in grid],
            "village": village,
            "township": [None if v is None else codes.township_of(v) for v in village],
        },
        index=hh.index,
    )
    # the service check's meaning, by brute force: for each kind in the rules, a household
    # it applies to is beyond when every point of the kind is farther than max_m
    hh_xy = _metric(hh.geometry.values)
    sp_xy = _metric(sp.geometry.values)
    sp_village = [
        v if isinstance(v, str) else s
        for v, s in zip(sp["village_code"], _covering_village(sp.geometry, villages), strict=True)
    ]
    elderly = pd.to_numeric(hh["elderly"], errors="coerce").fillna(0).to_numpy() > 0
    beyond_kinds = np.zeros((len(hh), 0), dtype=bool)
    for kind, rule in CheckSettings().service_rules.items():
        mine = (sp["kind"] == kind).to_numpy()
        applies = np.ones(len(hh), dtype=bool)
        if rule.elderly_only:
            applies &= elderly
        if rule.only_villages_with_points:
            served = {v for v, m in zip(sp_village, mine, strict=True) if m and v}
            applies &= np.asarray([s in served for s in standing], dtype=bool)
        if mine.any():
            d = np.sqrt(((hh_xy[:, None, :] - sp_xy[mine][None, :, :]) ** 2).sum(axis=2))
            far = d.min(axis=1) > rule.max_m
        else:
            far = np.ones(len(hh), dtype=bool)
        beyond_kinds = np.column_stack([beyond_kinds, applies & far])
    return {
        "households": hh,
        "areas": areas,
        "net": (hh["backbone"].fillna(False).astype(bool) | hh["backbone_id"].notna()).to_numpy(),
        "beyond_kinds": beyond_kinds,
        "grids": grids,
        "villages": villages,
    }


def _in(truth: dict[str, Any], code: str | None) -> np.ndarray:
    areas = truth["areas"]
    if code is None:
        return np.ones(len(areas), dtype=bool)
    return (areas[codes.kind_of(code)] == code).to_numpy()


def expected(truth: dict[str, Any], code: str | None) -> dict[str, int]:
    """Households, in the net, not, beyond the radius (each once) and level-3 grids of an area."""
    inside = _in(truth, code)
    level3 = truth["grids"].loc[truth["grids"]["level"] == 3, "code"]
    return {
        "households": int(inside.sum()),
        "linked": int((inside & truth["net"]).sum()),
        "unlinked": int((inside & ~truth["net"]).sum()),
        "beyond_service": int((inside & truth["beyond_kinds"].any(axis=1)).sum()),
        "beyond_summed_over_kinds": int(truth["beyond_kinds"][inside].sum()),
        "grids": int(sum(code is None or codes.lies_in(c, code) for c in level3)),
    }


def percent(part: int, whole: int) -> str:
    """Floored to a tenth of a percent, by integers: the text a leader must read."""
    tenths = part * 1000 // whole or (1 if part else 0)
    return f"{tenths // 10}.{tenths % 10}%"


# --- reading the page ----------------------------------------------------------------------------


def _text(fragment: str) -> list[str]:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split()


def cards(page: str) -> dict[str, list[str]]:
    """Each card's label and the words under it."""
    found = re.findall(r'<div class="card[^"]*"><span>(.*?)</span>(.*?)</div>', page)
    return {html.unescape(label): _text(body) for label, body in found}


def table(page: str) -> tuple[list[str], list[list[str]]]:
    head = re.search(r"<thead>(.*?)</thead>", page, re.S)
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    assert head and body
    headers = [html.unescape(h) for h in re.findall(r"<th>(.*?)</th>", head.group(1))]
    rows = [
        [" ".join(_text(cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]
    return headers, rows


def a_village(truth: dict[str, Any]) -> str:
    """The village of the township whose households lie beyond the most kinds' radius."""
    villages = [v for v in truth["villages"]["code"] if codes.lies_in(v, TOWNSHIP)]
    return max(
        villages,
        key=lambda v: (
            expected(truth, v)["beyond_summed_over_kinds"] - expected(truth, v)["beyond_service"]
        ),
    )


# --- 1. the cards are the figures of the area shown --------------------------------------------


def test_cards_are_the_figures_of_the_county_township_and_village_shown(
    client: TestClient, truth: dict[str, Any]
) -> None:
    village = a_village(truth)
    pages_of = {None: "/", TOWNSHIP: f"/?township={TOWNSHIP}", village: f"/?village={village}"}
    seen = {}
    for code, url in pages_of.items():
        response = client.get(url)
        assert response.status_code == 200, url
        got = cards(response.text)
        want = expected(truth, code)
        assert got["农户"] == [f"{want['households']:,}"], url
        assert got["三级网格"] == [f"{want['grids']:,}"], url
        far = _with_share(want["beyond_service"], want["households"], "占")
        assert got["超出服务半径户数"] == far.split(), url
        assert got["联户覆盖率"] == [
            percent(want["linked"], want["households"]),
            "未联户",
            f"{want['unlinked']:,}",
        ], url
        seen[code] = got
    villages = truth["villages"]["code"]
    assert seen[None]["乡镇"] == [f"{truth['areas']['township'].nunique():,}"]
    assert seen[TOWNSHIP]["村（社区）"] == [
        f"{sum(codes.lies_in(v, TOWNSHIP) for v in villages):,}"
    ]
    assert "乡镇" not in seen[TOWNSHIP] and "乡镇" not in seen[village]
    # the drill-down shows less than the county
    assert expected(truth, TOWNSHIP)["households"] < expected(truth, None)["households"]


def test_finding_cards_count_the_findings_in_the_area(state: AppState) -> None:
    frames, report = state.frames(), state.report()
    county = indicators.totals(frames, report)
    township = indicators.totals(frames, report, within=TOWNSHIP)
    gaps_in = sum(
        codes.lies_in(str(item["parent_code"]), TOWNSHIP) for item in report["gaps"]["items"]
    )
    assert township["findings"]["gaps"] == gaps_in
    assert county["findings"]["gaps"] == report["gaps"]["count"]
    ok = report["six_no"]["six_no_villages"]
    failing = [i["village_code"] for i in report["six_no"]["items"]]
    assert township["findings"]["six_no"] == sum(codes.lies_in(v, TOWNSHIP) for v in failing)
    assert township["six_no"] == sum(codes.lies_in(v, TOWNSHIP) for v in ok)


# --- 2. beyond the service radius: distinct households, never more than the households ---------


def test_beyond_service_counts_each_household_once_in_every_area(
    state: AppState, truth: dict[str, Any]
) -> None:
    frames, report = state.frames(), state.report()
    village = a_village(truth)
    want = expected(truth, village)
    # the sample has households too far from several kinds: a sum over kinds would exceed
    assert want["beyond_summed_over_kinds"] > want["beyond_service"]
    assert indicators.beyond_service_ids(report) == set(
        truth["households"]["id"][truth["beyond_kinds"].any(axis=1)]
    )
    for level, within in (("township", None), ("village", TOWNSHIP), ("grid", village)):
        rows = indicators.area_table(frames, report, level=level, within=within)
        for code, far, n in zip(
            rows["code"], rows["beyond_service"], rows["households"], strict=True
        ):
            assert far == expected(truth, code)["beyond_service"], (level, code)
            assert far <= n, (level, code)


# --- 3. a village's grid rows ------------------------------------------------------------------


def test_grid_rows_show_their_own_figures(state: AppState, truth: dict[str, Any]) -> None:
    frames, report = state.frames(), state.report()
    village = a_village(truth)
    rows = indicators.area_table(frames, report, level="grid", within=village).set_index("code")
    grids = truth["grids"]
    for code, row in rows.iterrows():
        want = expected(truth, str(code))
        assert row["households"] == want["households"], code
        assert row["beyond_service"] == want["beyond_service"], code
        if row["level"] == 2:
            level3 = grids.loc[grids["level"] == 3, "code"]
            children = [c for c in level3 if codes.level2_of(c) == code]
            assert row["grids"] == len(children) > 0, code
        unstaffed = grids[grids["responsible_name"].isna()]["code"]
        assert row["unstaffed_grids"] == sum(codes.lies_in(c, str(code)) for c in unstaffed)
        assert row["six_no"] is None, code
    assert rows["beyond_service"].sum() > 0
    assert (rows.loc[rows["level"] == 2, "grids"] > 1).any()


def test_a_village_page_shows_six_no_once_and_grid_counts(
    client: TestClient, state: AppState, truth: dict[str, Any]
) -> None:
    village = a_village(truth)
    page = client.get(f"/?village={village}").text
    headers, rows = table(page)
    assert "六无达标" not in headers
    assert not any(cell in ("达标", "未达标") for row in rows for cell in row)
    ok = village in state.report()["six_no"]["six_no_villages"]
    assert cards(page)["六无达标"] == ["达标" if ok else "未达标"]
    code_at = 0
    grids_at = headers.index("网格数")
    far_at = headers.index("超出服务半径户数")
    for row in rows:
        code = row[code_at]
        want = expected(truth, code)
        assert row[far_at] == _with_share(want["beyond_service"], want["households"], "占"), code
        if codes.kind_of(code) == "level2":
            assert row[grids_at] == f"{want['grids']:,}", code
        else:
            assert row[grids_at] == "—", code


# --- 4. the linkage share is never rounded up to 100 % ----------------------------------------


@pytest.mark.parametrize(
    ("part", "whole", "share"),
    [
        (29_988, 30_000, 0.999),  # 12 outside the net: not 100 %
        (4_999, 5_000, 0.999),
        (30_000, 30_000, 1.0),
        (0, 30_000, 0.0),
        (1, 5_000, 0.001),  # one inside: not 0 %
        (569, 1_000, 0.569),  # no float error (0.569 * 1000 = 568.99…)
        (2, 3, 0.666),
    ],
)
def test_floor_share(part: int, whole: int, share: float) -> None:
    assert indicators.floor_share(part, whole) == share


def test_a_share_short_of_everyone_is_not_100_percent(state: AppState) -> None:
    frames = dict(state.frames())
    hh = frames["households"].copy()
    # everyone linked to a backbone household but one (4,999 of 5,000 used to read 100.0%)
    hh["backbone_id"] = hh["backbone_id"].where(hh["backbone_id"].notna(), "B")
    outside = hh.index[~hh["backbone"].fillna(False).astype(bool)][:1]
    hh.loc[outside, "backbone_id"] = None
    frames["households"] = hh
    report = state.report()
    t = indicators.totals(frames, report)
    assert t["unlinked"] == 1
    assert t["linkage_share"] < 1
    card = next(c for c in pages._cards(t, level="township") if c["label"] == "联户覆盖率")
    assert card["value"] == percent(len(hh) - 1, len(hh)) == "99.9%"
    assert card["note"] == "未联户 1"
    rows = indicators.area_table(frames, report, level="township")
    assert rows["unlinked"].sum() == 1
    for share, unlinked in zip(rows["linkage_share"], rows["unlinked"], strict=True):
        assert (share < 1) if unlinked else (share == 1)


def test_the_county_page_shows_shares_floored_and_unlinked_counts(
    client: TestClient, truth: dict[str, Any]
) -> None:
    headers, rows = table(client.get("/").text)
    share_at = headers.index("联户覆盖率")
    for row in rows:
        want = expected(truth, row[0])
        text = percent(want["linked"], want["households"])
        if want["unlinked"]:
            text += f" 未联户 {want['unlinked']:,}"
        assert row[share_at] == text, row[0]


# --- 5. every figure of every level, counted here -------------------------------------------


def _local(value: Any) -> pd.Timestamp:
    ts = pd.Timestamp(value)
    return ts.tz_convert("Asia/Shanghai").tz_localize(None) if ts.tzinfo is not None else ts


@pytest.fixture(scope="module")
def places(county_file: Path, truth: dict[str, Any]) -> dict[str, Any]:
    """Where each incident stands (reference engine, covering village), when it was reported
    and closed; where each visit check's household counts; the planted boundary defects."""
    store = GeoPackageStore(county_file)
    incidents = store.read("incidents")
    level3 = truth["grids"].loc[truth["grids"]["level"] == 3, ["code", "geometry"]]
    grid = assign_points_exact(incidents.geometry, level3)
    standing = _covering_village(incidents.geometry, truth["villages"])
    village = [
        codes.village_of(g) if g is not None else v for g, v in zip(grid, standing, strict=True)
    ]
    steps = store.read("case_steps").sort_values(["incident_id", "seq"])
    last = {str(k): g.iloc[-1] for k, g in steps.groupby("incident_id")}
    closed_at = []
    for rec in incidents.to_dict("records"):
        step = last.get(str(rec["id"]))
        if step is not None:  # closed by its last step (核查通过并结案)
            closed_at.append(_local(step["at"]) if step["action"] == "verify" else None)
        else:  # imported finished: closed when reported
            closed_at.append(_local(rec["reported_at"]) if rec["status"] == "closed" else None)
    frame = pd.DataFrame(
        {
            "id": incidents["id"].astype(str),
            "kind": incidents["kind"],
            "level3": grid,
            "village": village,
            "reported": [_local(v) for v in incidents["reported_at"]],
            "closed": closed_at,
        }
    )
    manifest = store.get_meta("sample_manifest")["defects"]
    return {"incidents": frame, "defects": manifest, "store": store}


def _month(when: Any) -> pd.Period | None:
    return None if when is None or pd.isna(when) else pd.Timestamp(when).to_period("M")


def _lies(code: str | None, area: str | None) -> bool:
    return area is None or (isinstance(code, str) and code.startswith(area))


def _incident_in(inc: pd.DataFrame, area: str | None) -> np.ndarray:
    if area is None:
        return np.ones(len(inc), dtype=bool)
    column = "level3" if codes.kind_of(area) in ("level2", "level3") else "village"
    return np.array([_lies(c, area) for c in inc[column]], dtype=bool)


def _visit_places(report: dict[str, Any], check: str, truth: dict[str, Any]) -> list[str]:
    """A visit check's households where they count: their level-3 grid by the reference
    engine, else the village they are registered in (the item's)."""
    grid_of = dict(
        zip(truth["households"]["id"].astype(str), truth["areas"]["level3"], strict=True)
    )
    out = []
    for item in report[check]["items"]:
        g = grid_of.get(str(item["id"]))
        out.append(g if isinstance(g, str) else str(item.get("village_code") or ""))
    return out


def brute_row(
    code: str | None,
    *,
    truth: dict[str, Any],
    places: dict[str, Any],
    report: dict[str, Any],
    cases: pd.DataFrame,
) -> dict[str, Any]:
    """Every figure of one area (``None``: the county), counted here, as numbers."""
    grids = truth["grids"]
    area_grids = grids[[_lies(c, code) for c in grids["code"]]]
    base = expected(truth, code)
    inc = places["incidents"]
    inside = _incident_in(inc, code)
    as_of = pd.Timestamp(report["meta"]["as_of"])
    recent = np.array([r > as_of - pd.DateOffset(months=12) for r in inc["reported"]])
    window_from = as_of - pd.DateOffset(months=12)
    window_to = as_of + pd.Timedelta(days=1)
    six_kinds = {k for ks in kinds.SIX_NO_KINDS_OF.values() for k in ks}
    dirty = {
        v
        for v, k, r in zip(inc["village"], inc["kind"], inc["reported"], strict=True)
        if k in six_kinds and window_from <= r < window_to
    }
    villages = [v for v in truth["villages"]["code"] if _lies(v, code)]
    months = [as_of.to_period("M") - k for k in range(11, -1, -1)]
    in_case = cases[[_lies(g, code) for g in cases["grid"]]]
    level_here = {"township": "township", "village": "village"}.get(
        codes.kind_of(code) if code else "county", "grid"
    )
    reached = ["grid", "village", "township", "county"]
    reached = reached[reached.index(level_here) :]
    defects = places["defects"]
    return base | {
        "unstaffed_grids": int(area_grids["responsible_name"].isna().sum()),
        "gaps": sum(_lies(d["parent_code"], code) for d in defects["gaps"]),
        "overlaps": sum(_lies(d["parent_code"], code) for d in defects["overlaps"]),
        "nesting": sum(_lies(d["grid_code"], code) for d in defects["nesting"]),
        "incidents": int((inside & recent).sum()),
        "open_cases": int(in_case["open"].sum()),
        "overdue_cases": int(in_case["overdue"].sum()),
        "escalated_cases": int((in_case["overdue"] & in_case["level"].isin(reached)).sum()),
        "unvisited": sum(_lies(p, code) for p in _visit_places(report, "unvisited", truth)),
        "watched_unvisited": sum(
            _lies(p, code) for p in _visit_places(report, "watched_unvisited", truth)
        ),
        "six_no_met": sum(v not in dirty for v in villages),
        "villages": len(villages),
        "reported_by_month": [
            int((inside & np.array([_month(r) == m for r in inc["reported"]])).sum())
            for m in months
        ],
        "closed_by_month": [
            int((inside & np.array([_month(c) == m for c in inc["closed"]])).sum()) for m in months
        ],
    }


def _with_share(count: int, whole: int, words: str) -> str:
    return f"{count:,}" + (f" {words} {percent(count, whole)}" if count and whole else "")


def expected_cells(want: dict[str, Any], code: str, level: str) -> dict[str, str]:
    """The text of each column of an area's row, by its header."""
    level3 = codes.kind_of(code) == "level3"
    linked = percent(want["linked"], want["households"]) if want["households"] else "—"
    if want["unlinked"]:
        linked += f" 未联户 {want['unlinked']:,}"
    cells = {
        "代码": code,
        "网格数": "—" if level3 else f"{want['grids']:,}",
        "户数": f"{want['households']:,}",
        "联户覆盖率": linked,
        kinds.CHECKS["unstaffed_grids"].zh: f"{want['unstaffed_grids']:,}"
        if level3
        else _with_share(want["unstaffed_grids"], want["grids"], "占"),
        kinds.CHECKS["gaps"].zh: f"{want['gaps']:,}",
        kinds.CHECKS["overlaps"].zh: f"{want['overlaps']:,}",
        kinds.CHECKS["nesting"].zh: f"{want['nesting']:,}",
        "超出服务半径户数": _with_share(want["beyond_service"], want["households"], "占"),
        "近12个月事件": f"{want['incidents']:,}",
        "在办案件": f"{want['open_cases']:,}",
        "超期案件": _with_share(want["overdue_cases"], want["open_cases"], "占在办"),
        "升级至本级": f"{want['escalated_cases']:,}",
        "未按期走访户": f"{want['unvisited']:,}",
        "岁月港湾老人本周未走访": f"{want['watched_unvisited']:,}",
    }
    if level == "township":
        cells["六无达标"] = f"{want['six_no_met']}/{want['villages']}"
    elif level == "village":
        cells["六无达标"] = "达标" if want["six_no_met"] else "未达标"
    return cells


def _sparks(page: str) -> list[tuple[list[int], list[int]]]:
    found = re.findall(
        r'<svg class="spark"[^>]*data-reported="([^"]*)" data-closed="([^"]*)"', page
    )
    return [([int(x) for x in r.split()], [int(x) for x in c.split()]) for r, c in found]


def _cases_now(county_file: Path) -> pd.DataFrame:
    from test_case_figures import brute_cases

    return brute_cases(GeoPackageStore(county_file), local_now())


def test_every_figure_of_every_level_is_counted_by_brute_force(
    client: TestClient,
    county_file: Path,
    state: AppState,
    truth: dict[str, Any],
    places: dict[str, Any],
) -> None:
    """The county page's rows (townships), a township's (villages), a village's (grids) and
    the cards and trend of each page, each figure against its count made here."""
    report = state.report()
    village = a_village(truth)
    pages_of = {None: "/", TOWNSHIP: f"/?township={TOWNSHIP}", village: f"/?village={village}"}
    row_level = {None: "township", TOWNSHIP: "village", village: "grid"}
    # and the village of a grid poking out of its parent: its grid rows tell them apart
    poking = codes.village_of(places["defects"]["nesting"][0]["grid_code"])
    pages_of[poking] = f"/?village={poking}"
    row_level[poking] = "grid"
    seen_rows = {"township": 0, "village": 0, "level2": 0, "level3": 0}
    for area, url in pages_of.items():
        for _ in range(3):  # the cases are on the server's clock: the same before and after
            before = _cases_now(county_file)
            page = client.get(url).text
            cases = _cases_now(county_file)
            if before.equals(cases):
                break
        headers, rows = table(page)
        assert "近12个月趋势" in headers, url
        sparks = _sparks(page)
        # the page's own trend first, then one per row
        assert len(sparks) == len(rows) + 1, url
        mine = brute_row(area, truth=truth, places=places, report=report, cases=cases)
        assert sparks[0] == (mine["reported_by_month"], mine["closed_by_month"]), url
        got = cards(page)
        for label, words in got.items():  # every count with its thousands separators
            if re.fullmatch(r"[\d,]+", words[0]):
                assert words[0] == f"{int(words[0].replace(',', '')):,}", (url, label)
        assert got["在办案件"] == [f"{mine['open_cases']:,}"], url
        assert got["超期案件"] == [f"{mine['overdue_cases']:,}"], url
        assert got[kinds.CHECKS["gaps"].zh] == [f"{mine['gaps']:,}"], url
        assert got[kinds.CHECKS["overlaps"].zh] == [f"{mine['overlaps']:,}"], url
        for row, spark in zip(rows, sparks[1:], strict=True):
            code = row[0]
            want = brute_row(code, truth=truth, places=places, report=report, cases=cases)
            cells = dict(zip(headers, row, strict=True))
            for header, text in expected_cells(want, code, row_level[area]).items():
                assert cells[header] == text, (url, code, header)
            assert spark == (want["reported_by_month"], want["closed_by_month"]), (url, code)
            seen_rows[codes.kind_of(code)] += 1
    assert all(seen_rows.values()), seen_rows
    # the sample has something to count in each figure somewhere
    county = brute_row(None, truth=truth, places=places, report=report, cases=cases)
    for figure in ("gaps", "overlaps", "nesting", "incidents", "open_cases", "overdue_cases"):
        assert county[figure] > 0, figure
    assert sum(county["closed_by_month"]) > 0 and sum(county["reported_by_month"]) > 0
