"""Visits on the maps: households not visited in time and the watchers' elders, in Chromium.

The finder of the village with the 岁月港湾 points, saved on a set clock, draws the households
not visited within their interval (check 12) and the elders in a watcher's care not visited
this week (check 13) as layers one can turn off; both are compared with households counted
here one by one from the store (the reference assignment engine, the visits by hand). On
the web app, a grid worker's finder shows only their grid's, with the heads of household;
a viewer (no household records, no finder) gets the coverage map's layers as positions
only, no name on the page. No page breaks its Content-Security-Policy.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from accounts import make_account, session_cookies
from browser import chromium, map_ready, new_page, open_map
from servers import gisgrid_server
from test_case_map import CSP_WATCH

from gisgrid.analysis.assign import assign_points_exact, in_force, local_now
from gisgrid.cartography import build_map, save_map
from gisgrid.roles import Role
from gisgrid.sample.build import SAMPLE_AS_OF
from gisgrid.stores import open_store

pytestmark = pytest.mark.slow

NOW = dt.datetime.combine(SAMPLE_AS_OF, dt.time(18, 0))  # a Monday
PHONE = {"width": 390, "height": 844}
#: the default intervals (CheckSettings.visit_days), written out here
DAYS = {"elderly_only": 30, "elderly": 90}


def _payload(html: str) -> dict[str, Any]:
    body = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    assert body is not None
    return dict(json.loads(body.group(1)))


def brute(store: Any, area: str, day: dt.date) -> tuple[set[str], set[str]]:
    """(households not visited in time, watched elders not visited this week) in ``area``
    (a village or grid code), counted one household at a time."""
    level3 = in_force(store.read("grids", where={"level": 3}))
    hh = store.read("households")
    hh["grid"] = assign_points_exact(hh.geometry, level3)
    points = store.read("service_points", where={"kind": "elder_care"})
    care = set(assign_points_exact(points.geometry, level3)) - {None}
    visits = store.read("visits")
    end = pd.Timestamp(day) + pd.Timedelta(days=1)
    monday = pd.Timestamp(day - dt.timedelta(days=day.weekday()))
    late, watched = set(), set()
    for rec in hh.to_dict("records"):
        if not (isinstance(rec["grid"], str) and rec["grid"].startswith(area)):
            continue
        if rec["elderly"] <= 0:
            continue
        mine = visits.loc[visits["household_id"] == rec["id"], "at"]
        mine = mine[mine < end]
        limit = DAYS["elderly_only"] if rec["elderly"] >= rec["members"] else DAYS["elderly"]
        if not len(mine) or (end - mine.max()).days > limit:
            late.add(str(rec["id"]))
        if rec["grid"] in care and not (mine >= monday).any():
            watched.add(str(rec["id"]))
    return late, watched


@pytest.fixture(scope="module")
def village(sample_gpkg: Any) -> str:
    points = sample_gpkg.read("service_points", where={"kind": "elder_care"})
    return str(points["village_code"].iloc[0])


def _layer_count(page: Any, key: str) -> int:
    return int(page.evaluate("(k) => window.gisgrid.layers[k].getLayers().length", key))


def test_the_finder_shows_the_households_the_checks_find(
    sample_gpkg: Any, village: str, tmp_path: Path
) -> None:
    late, watched = brute(sample_gpkg, village, NOW.date())
    assert late and watched
    path = save_map(build_map("finder", sample_gpkg, village=village, now=NOW), tmp_path / "f.html")
    doc = _payload(path.read_text(encoding="utf-8"))
    assert set(doc["visits_due"]["id"]) == late
    assert set(doc["watched_due"]["id"]) == watched
    with chromium() as browser:
        page, log = new_page(browser, viewport=PHONE)
        open_map(page, path)
        assert _layer_count(page, "visits_due") == len(late)
        assert _layer_count(page, "watched_due") == len(watched)
        on = "(k) => window.gisgrid.map.hasLayer(window.gisgrid.layers[k])"
        assert page.evaluate(on, "visits_due") and page.evaluate(on, "watched_due")
        page.locator(".gg-panel-toggle").first.click()  # open the layer panel
        page.locator("input[data-layer=watched_due]").uncheck()
        assert not page.evaluate(on, "watched_due") and page.evaluate(on, "visits_due")
        page.locator("input[data-layer=visits_due]").uncheck()
        assert not page.evaluate(on, "visits_due")
        assert log.blocked == [] and log.errors == [], (log.blocked, log.errors)


def test_a_week_later_other_elders_are_due(sample_gpkg: Any, village: str) -> None:
    """The clock is set: next Monday this week's visits no longer count."""
    _, now = brute(sample_gpkg, village, NOW.date())
    _, later = brute(sample_gpkg, village, NOW.date() + dt.timedelta(days=7))
    data = build_map("finder", sample_gpkg, village=village, now=NOW + dt.timedelta(days=7))
    assert later > now
    assert len(_payload_of_map(data)["watched_due"]["id"]) == len(later)


def _payload_of_map(m: Any) -> dict[str, Any]:
    from gisgrid.cartography import render_page

    return _payload(render_page(m, asset_base="assets/").html)


def test_the_layers_follow_the_callers_area_and_rights(sample_gpkg_copy: str) -> None:
    store = open_store(sample_gpkg_copy)
    try:
        points = store.read("service_points", where={"kind": "elder_care"})
        level3 = in_force(store.read("grids", where={"level": 3}))
        grid = str(assign_points_exact(points.geometry, level3)[0])
        village = grid[:12]
        people = {
            "grid": make_account(sample_gpkg_copy, Role.GRID, grid),
            "viewer": make_account(sample_gpkg_copy, Role.VIEWER, village),
        }
        with gisgrid_server(sample_gpkg_copy) as base, chromium() as browser:

            def open_page(who: str, url: str) -> tuple[dict[str, Any], Any]:
                cookies = session_cookies(sample_gpkg_copy, people[who], base)
                page, log = new_page(browser, cookies=cookies, viewport=PHONE)
                page.add_init_script(CSP_WATCH)
                page.goto(base + url)
                map_ready(page)
                assert page.evaluate("() => window.cspViolations || []") == []
                assert log.blocked == [] and log.errors == [], (log.blocked, log.errors)
                return _payload(page.content()), page

            day = local_now().date()
            late, watched = brute(store, grid, day)
            doc, page = open_page("grid", f"/maps/finder?grid={grid}")
            assert set(doc["visits_due"]["id"]) == late
            assert set(doc["watched_due"]["id"]) == watched and watched
            assert _layer_count(page, "watched_due") == len(watched)
            names = [n for n in doc["watched_due"]["name"] if n]
            assert names and not any(n.endswith("*") for n in names)  # records in full

            late_v, watched_v = brute(store, village, day)
            doc, page = open_page("viewer", f"/maps/coverage?village={village}")
            assert "id" not in doc["visits_due"] and "name" not in doc["watched_due"]
            shown = page.content()
            assert not any(n in shown for n in names)  # no head of household on the page
            assert page.evaluate("() => window.gisgrid.counts.visits_due") == len(late_v)
            assert page.evaluate("() => window.gisgrid.counts.watched_due") == len(watched_v)
    finally:
        store.close()


def test_the_sample_has_watchers_elders_visited_and_not(sample_report: Any) -> None:
    """The demo shows check 13: elders watched, some visited this week, some not."""
    found = sample_report.to_dict()["watched_unvisited"]
    assert found["week"] == ["2026-11-30", "2026-12-06"]
    assert 0 < found["count"] < found["watched"]
    assert len(found["by_point"]) == 4  # the four 岁月港湾 points


def test_both_stores_draw_the_same_cases_and_visits(
    sample_gpkg: Any, sample_pg_url: str, village: str
) -> None:
    pg = open_store(sample_pg_url)
    try:
        for kind, area in (("finder", {"village": village}), ("incidents", {})):
            a = _payload_of_map(build_map(kind, sample_gpkg, now=NOW, **area))
            b = _payload_of_map(build_map(kind, pg, now=NOW, **area))
            for key in ("visits_due", "watched_due", "incidents"):
                assert a.get(key) == b.get(key), (kind, key)
    finally:
        pg.close()
    assert sum(a["incidents"]["overdue"]) > 0
