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
from gisgrid.analysis.assign import assign_points_exact
from gisgrid.api import create_app
from gisgrid.api.routes import pages
from gisgrid.api.state import AppState
from gisgrid.sample import build_sample_county, write_sample_county
from gisgrid.settings import CheckSettings
from gisgrid.stores.geopackage import GeoPackageStore

pytestmark = pytest.mark.slow
#: the township of the issue's report (梅田湖镇)
TOWNSHIP = "430623119"


@pytest.fixture(scope="module")
def county_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("figures") / "county.gpkg"
    write_sample_county(GeoPackageStore(path), build_sample_county(seed=2023, households=5_000))
    return path


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
        assert got["三级网格"] == [str(want["grids"])], url
        assert got["超出服务半径户数"] == [f"{want['beyond_service']:,}"], url
        assert got["联户覆盖率"] == [
            percent(want["linked"], want["households"]),
            "未联户",
            f"{want['unlinked']:,}",
        ], url
        seen[code] = got
    villages = truth["villages"]["code"]
    assert seen[None]["乡镇"] == [str(truth["areas"]["township"].nunique())]
    assert seen[TOWNSHIP]["村（社区）"] == [str(sum(codes.lies_in(v, TOWNSHIP) for v in villages))]
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
        assert row[far_at] == f"{want['beyond_service']:,}", code
        if codes.kind_of(code) == "level2":
            assert row[grids_at] == str(want["grids"]), code
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
