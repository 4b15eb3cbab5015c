"""Cases per area on a clock that is set: open, overdue and escalated to each level.

The figures of :func:`gisgrid.analysis.indicators.case_figures` (the dashboard's rows and
cards, the coverage map's popups) are compared with counts made here case by case from the
stored history: each case's stage is its last step's, its deadline the limit of that stage
from the step's time, its escalation one level up the net per further limit passed. On the
test county in a GeoPackage and in PostGIS (the same answers), and on the dashboard page.
"""

from __future__ import annotations

import datetime as dt
import html
import math
import re
from collections import Counter
from typing import Any

import pandas as pd
import pytest
from accounts import admin_headers
from fastapi.testclient import TestClient

from gisgrid import codes
from gisgrid.analysis import indicators
from gisgrid.analysis.assign import assign_points_exact, in_force, local_now
from gisgrid.analysis.cases import case_columns
from gisgrid.api import create_app
from gisgrid.sample.build import SAMPLE_AS_OF
from gisgrid.services.cases import case_summaries
from gisgrid.settings import CaseSettings
from gisgrid.stores import open_store
from gisgrid.stores.base import Reader

pytestmark = pytest.mark.slow

#: the clock of these tests: the sample's last day, 18:00 (set, never waited for)
NOW = dt.datetime.combine(SAMPLE_AS_OF, dt.time(18, 0))
#: the stage each action leads to, written out here from the flow's table (cases.py docstring)
LEADS_TO = {
    "report": "registered",
    "dispatch": "dispatched",
    "reject": "rejected",
    "accept": "handling",
    "decline": "registered",
    "redispatch": "dispatched",
    "handled": "verifying",
    "verify": "closed",
    "reopen": "handling",
}
OPEN = {"registered", "dispatched", "handling", "verifying"}
NET = ["grid", "village", "township", "county"]


def brute_cases(store: Reader, now: dt.datetime) -> pd.DataFrame:
    """Each case, one at a time: grid (reference engine), stage, open, overdue, level reached."""
    incidents = store.read("incidents")
    steps = store.read("case_steps").sort_values(["incident_id", "seq"])
    history = {str(k): g for k, g in steps.groupby("incident_id")}
    level3 = in_force(store.read("grids", where={"level": 3}))
    grids = assign_points_exact(incidents.geometry, level3)
    config = CaseSettings()
    rows = []
    for rec, grid in zip(incidents.to_dict("records"), grids, strict=True):
        found = history.get(str(rec["id"]))
        if found is not None and len(found):
            last = found.iloc[-1]
            stage, since = LEADS_TO[str(last["action"])], pd.Timestamp(last["at"])
        else:
            stage, since = str(rec["status"]), pd.Timestamp(rec["reported_at"])
        overdue, level = False, "grid"
        if stage in OPEN:
            hours = float(config.limits_for(str(rec["kind"]))[stage])
            due = since + pd.Timedelta(hours=hours)
            if pd.Timestamp(now) > due:
                overdue = True
                passed = (pd.Timestamp(now) - due) / pd.Timedelta(hours=hours)
                level = NET[min(math.ceil(passed), 3)]
        rows.append(
            {
                "id": str(rec["id"]),
                "grid": grid if isinstance(grid, str) else None,
                "stage": stage,
                "open": stage in OPEN,
                "overdue": overdue,
                "level": level,
            }
        )
    return pd.DataFrame(rows)


def brute_area(truth: pd.DataFrame, code: str, level: str) -> dict[str, int]:
    """The three figures of one area (its code and its level in the net), counted here."""
    inside = truth[[isinstance(g, str) and g.startswith(code) for g in truth["grid"]]]
    reached = NET[NET.index(level) :]
    return {
        "open_cases": int(inside["open"].sum()),
        "overdue_cases": int(inside["overdue"].sum()),
        "escalated_cases": int((inside["overdue"] & inside["level"].isin(reached)).sum()),
    }


def ours(store: Reader, now: dt.datetime) -> pd.DataFrame:
    """The incidents with their case columns, as the dashboard makes them."""
    level3 = in_force(store.read("grids", where={"level": 3}))
    incidents = store.read("incidents")
    incidents["grid_code"] = assign_points_exact(incidents.geometry, level3)
    return case_columns(incidents, case_summaries(store, now=now))


@pytest.fixture(scope="module")
def truth(sample_gpkg: Any) -> pd.DataFrame:
    found = brute_cases(sample_gpkg, NOW)
    assert found["grid"].notna().all()  # every sample incident lies in a grid
    return found


def test_the_clock_gives_cases_at_every_level(sample_gpkg: Any, truth: pd.DataFrame) -> None:
    late = Counter(truth.loc[truth["overdue"], "level"])
    assert late["township"] > 0 and late["county"] > 0, late
    assert truth["open"].sum() > truth["overdue"].sum() > 0
    # a week later on the same history, more are late and higher up: the clock is set
    week = ours(sample_gpkg, NOW + dt.timedelta(days=7))
    now = ours(sample_gpkg, NOW)
    assert int(week["overdue"].sum()) > int(now["overdue"].sum()) == int(truth["overdue"].sum())
    assert (week["level"] == "county").sum() > (now["level"] == "county").sum()


def test_figures_per_area_are_the_cases_counted_one_by_one(
    sample_gpkg: Any, truth: pd.DataFrame
) -> None:
    cases = ours(sample_gpkg, NOW)
    figures = indicators.case_figures(cases, sample_gpkg.read("villages"))
    townships = sorted(sample_gpkg.read("townships")["code"])
    villages = sorted(sample_gpkg.read("villages")["code"])
    l3 = sorted(set(truth["grid"]))
    checked = 0
    for code, level in (
        [(t, "township") for t in townships]
        + [(v, "village") for v in villages]
        + [(g, "grid") for g in l3[::7]]
        + [(codes.level2_of(g), "grid") for g in l3[::11]]
    ):
        row = figures.reindex([code]).fillna(0).iloc[0]
        assert {c: int(row[c]) for c in indicators.CASE_COLUMNS} == brute_area(truth, code, level)
        checked += 1
    assert checked > 300
    county = indicators.county_case_figures(cases)
    assert county == {
        "open_cases": int(truth["open"].sum()),
        "overdue_cases": int(truth["overdue"].sum()),
        "escalated_cases": int((truth["overdue"] & (truth["level"] == "county")).sum()),
    }
    # a case escalated to a township counts at its village and township, not the county
    up = truth[truth["overdue"] & (truth["level"] == "township")].iloc[0]
    grid = str(up["grid"])
    for code, level, counted in (
        (codes.village_of(grid), "village", True),
        (codes.township_of(grid), "township", True),
    ):
        assert brute_area(truth, code, level)["escalated_cases"] >= int(counted)
        assert (
            int(figures.loc[code, "escalated_cases"])
            == brute_area(truth, code, level)["escalated_cases"]
        )


def test_the_dashboard_table_and_cards_read_the_same_figures(
    sample_gpkg: Any, truth: pd.DataFrame, sample_report: Any
) -> None:
    frames = {
        name: sample_gpkg.read(name)
        for name in ("townships", "villages", "grids", "households", "service_points")
    }
    cases = ours(sample_gpkg, NOW)
    frames["incidents"] = cases
    report = sample_report.to_dict()
    table = indicators.area_table(frames, report, level="township", cases=cases)
    for rec in table.to_dict("records"):
        want = brute_area(truth, rec["code"], "township")
        assert {c: rec[c] for c in indicators.CASE_COLUMNS} == want
    township = str(table.sort_values("overdue_cases")["code"].iloc[-1])
    rows = indicators.area_table(frames, report, level="village", within=township, cases=cases)
    for rec in rows.to_dict("records"):
        assert {c: rec[c] for c in indicators.CASE_COLUMNS} == brute_area(
            truth, rec["code"], "village"
        )
    totals = indicators.totals(frames, report, within=township, cases=cases)
    assert {c: totals[c] for c in indicators.CASE_COLUMNS} == brute_area(
        truth, township, "township"
    )


def test_both_stores_give_the_same_figures(sample_gpkg: Any, sample_pg_url: str) -> None:
    pg = open_store(sample_pg_url)
    try:
        a = indicators.case_figures(ours(sample_gpkg, NOW), sample_gpkg.read("villages"))
        b = indicators.case_figures(ours(pg, NOW), pg.read("villages"))
    finally:
        pg.close()
    pd.testing.assert_frame_equal(a.sort_index(), b.sort_index())
    assert int(a["overdue_cases"].sum()) > 0


def _cards(page: str) -> dict[str, str]:
    found = re.findall(r'<div class="card[^"]*"><span>([^<]+)</span><b>([^<]+)</b>', page)
    return {html.unescape(k): html.unescape(v) for k, v in found}


def test_the_dashboard_page_shows_the_areas_cases(sample_gpkg_copy: str) -> None:
    """The page reads the clock itself: its figures are those of the clock before or after
    the request (equal unless a case fell due in between: then asked again)."""
    store = open_store(sample_gpkg_copy)
    headers = admin_headers(sample_gpkg_copy)
    try:
        with TestClient(create_app(store=sample_gpkg_copy), headers=headers) as client:
            for _ in range(3):
                before = brute_cases(store, local_now())
                page = client.get("/").text
                after = brute_cases(store, local_now())
                if before["overdue"].equals(after["overdue"]) and before["level"].equals(
                    after["level"]
                ):
                    break
            cards = _cards(page)
            assert cards["在办案件"] == f"{int(after['open'].sum()):,}"
            assert cards["超期案件"] == f"{int(after['overdue'].sum()):,}"
            top = int((after["overdue"] & (after["level"] == "county")).sum())
            assert cards["升级至县级"] == f"{top:,}"
            for header in ("在办案件", "超期案件", "升级至本级"):
                assert f"<th>{header}</th>" in page
    finally:
        store.close()
