"""群众上报 on a phone, in Chromium: a resident reports without an account and follows it.

On a 390×844 touch screen, not signed in: the form's map shows the county's township
outlines (from the page itself: nothing is loaded from outside the server); a place tapped
outside the county is refused (422, said in Chinese, nothing stored); the resident picks a
kind, writes what happened, taps the map and then uses the phone's position, leaves a phone
number and submits: the tracking code is shown, and its link opens the progress page (立案);
the code typed into the lookup form opens it too. Then the village secretary opens the case
on their phone: the reporter reads 群众上报, and the case is dispatched by choosing the grid
worker from the list of those who may take it. No page breaks its Content-Security-Policy.

Nothing waits for a time: every wait is for a state the page reports.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import shapely
from accounts import make_account, session_cookies
from browser import chromium, click_latlng, map_ready, new_page, wait_until
from servers import gisgrid_server
from test_case_pages import CSP_WATCH, PHONE, VILLAGE, _grid_and_point

from gisgrid.stores import open_store

pytestmark = pytest.mark.slow

#: screenshots of the pages (git-ignored)
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "report"
CODE = re.compile(r"^W\d{14}[0-9a-f]{6}-[a-z2-9]{14}$")


def _outside_in_view(store: str) -> tuple[float, float]:
    """A point within the county's bounding box but outside every township (in the map's view)."""
    st = open_store(store)
    try:
        county = shapely.union_all(st.read("townships").geometry.values)
    finally:
        st.close()
    x0, y0, x1, y1 = county.bounds
    for i in range(1, 20):
        for j in range(1, 20):
            p = shapely.Point(x0 + (x1 - x0) * i / 20, y0 + (y1 - y0) * j / 20)
            if not county.buffer(0.01).covers(p):
                return p.x, p.y
    raise AssertionError("the county fills its bounding box")


def _stored(store: str, incident: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    st = open_store(store)
    try:
        [row] = st.read("incidents", where={"id": incident}).to_dict("records")
        steps = st.read("case_steps", where={"incident_id": incident}).sort_values("seq")
    finally:
        st.close()
    return row, list(zip(steps["action"], steps["actor"], strict=True))


def _clean(page: Any, log: Any, base: str, *, refused: tuple[str, ...] = ()) -> None:
    assert page.evaluate("() => window.cspViolations || []") == []
    assert log.blocked == []
    assert all(u.startswith(base) for u in log.requests), log.requests
    assert all(any(s in e for s in refused) for e in log.errors), log.errors


def test_a_resident_reports_on_a_phone_and_the_village_dispatches_it(sample_gpkg_copy: str):
    store = sample_gpkg_copy
    grid, (lon, lat) = _grid_and_point(store)
    worker = make_account(store, "grid", grid)
    secretary = make_account(store, "village", VILLAGE)
    away = _outside_in_view(store)

    with gisgrid_server(store) as base, chromium() as browser:
        page, log = new_page(
            browser,
            geolocation={"latitude": lat, "longitude": lon, "accuracy": 10},
            permissions=["geolocation"],
            **PHONE,
        )
        page.add_init_script(CSP_WATCH)
        page.goto(f"{base}/report")
        map_ready(page)
        assert page.evaluate("() => window.gisgrid.failed") is None
        assert page.locator("path.leaflet-interactive").count() >= 10  # the townships
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        kinds = page.eval_on_selector_all("#kind option", "os => os.map(o => o.textContent)")
        assert "矛盾纠纷" in kinds and "刑事案件" not in kinds

        page.select_option("#kind", "environment")
        page.fill("#description", "河边有人倾倒垃圾（手机页面测试）")
        page.fill("#phone", "13900001234")

        # a place outside the county: refused, said in Chinese, nothing stored
        click_latlng(page, away[1], away[0])
        wait_until(page, "() => window.gisgrid.report.point !== null")
        assert "不在本县范围内" in page.inner_text("#status")
        page.tap("#submit")
        wait_until(page, "() => window.gisgrid.report.writes.length === 1")
        wait_until(page, "() => !window.gisgrid.report.busy")
        assert page.evaluate("() => window.gisgrid.report.writes[0].status") == 422
        assert "不在本县范围内" in page.inner_text("#status")
        assert page.is_hidden("#done")

        # the phone's own position, then submit
        page.tap("#locate-me")
        wait_until(
            page,
            "([lon, lat]) => { const p = window.gisgrid.report.point;"
            " return p && Math.abs(p.lon - lon) < 1e-9 && Math.abs(p.lat - lat) < 1e-9; }",
            [lon, lat],
        )
        assert "当前位置" in page.inner_text("#place")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "form.png"), full_page=True)
        page.tap("#submit")
        wait_until(page, "() => window.gisgrid.report.writes.length === 2")
        wait_until(page, "() => !window.gisgrid.report.busy")
        answer = page.evaluate("() => window.gisgrid.report.writes[1]")
        assert answer["status"] == 201, answer
        code = page.inner_text("#code")
        assert CODE.fullmatch(code) and code == answer["data"]["code"]
        assert page.is_visible("#done") and page.is_hidden("#report")
        page.screenshot(path=str(ARTIFACTS / "submitted.png"), full_page=True)
        incident = code.rsplit("-", 1)[0]
        row, steps = _stored(store, incident)
        assert row["grid_code"] == grid and row["kind"] == "environment"
        assert abs(row["geometry"].x - lon) < 1e-6 and abs(row["geometry"].y - lat) < 1e-6
        assert steps == [("report", "public")]
        _clean(page, log, base, refused=("422",))

        # its progress: by the link, and by the code typed in
        page.tap("#track")
        page.wait_for_url(f"{base}/report/{code}")
        assert page.inner_text("#stage") == "立案"
        page.screenshot(path=str(ARTIFACTS / "progress.png"), full_page=True)
        assert "倾倒垃圾" not in page.content() and "13900001234" not in page.content()
        page.goto(f"{base}/report")
        map_ready(page)
        page.fill("#lookup-code", code)
        page.tap("#lookup button[type=submit]")
        page.wait_for_url(f"{base}/report/{code}")
        assert page.inner_text("#stage") == "立案"
        _clean(page, log, base, refused=("422",))

        # the village secretary: 群众上报 in the history; dispatched by choosing from the list
        staff, slog = new_page(browser, cookies=session_cookies(store, secretary, base), **PHONE)
        staff.add_init_script(CSP_WATCH)
        staff.goto(f"{base}/cases?view=area")
        card = staff.locator(f"li.card[data-case='{incident}']")
        assert card.count() == 1 and "群众上报" in card.inner_text() and "立案" in card.inner_text()
        card.locator("a").tap()
        staff.wait_for_url(f"{base}/cases/{incident}")
        map_ready(staff)
        wait_until(staff, "() => !window.gisgrid.cases.busy && window.gisgrid.cases.assignees")
        assert "群众上报" in staff.locator("#steps li").first.inner_text()
        offered = staff.eval_on_selector_all(
            "#assignee-input option", "os => os.map(o => [o.value, o.textContent])"
        )
        values = [v for v, _text in offered]
        assert values[0] == "" and worker.username in values and secretary.username in values
        assert values.index(worker.username) < values.index(secretary.username)  # nearest first
        assert any("网格员" in text for v, text in offered if v == worker.username)
        staff.select_option("#assignee-input", worker.username)
        staff.screenshot(path=str(ARTIFACTS / "dispatch.png"), full_page=True)
        staff.fill("#note", "请网格员到现场核实")
        staff.tap("#buttons button[data-action=dispatch]")
        wait_until(staff, "() => window.gisgrid.cases.writes.length === 1")
        wait_until(staff, "() => !window.gisgrid.cases.busy")
        assert staff.evaluate("() => window.gisgrid.cases.writes[0].status") == 201
        assert _stored(store, incident)[1][-1] == ("dispatch", secretary.username)
        _clean(staff, slog, base)

        # the resident's code now shows the new stage
        page.goto(f"{base}/report/{code}")
        assert page.inner_text("#stage") == "派遣"
