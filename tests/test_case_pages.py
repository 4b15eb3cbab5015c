"""The case pages on a phone: a case driven through every step by tapping, in Chromium.

A grid worker reports an incident (through the API, as the phone's report form would); on a
390×844 touch screen the village secretary dispatches it to the grid worker, who sends it
back (退回); dispatched again, the grid worker's stale first page taps 退回 after a second
page accepted (409: shown in Chinese, nothing stored); the secretary takes it over (重新派遣
to themself) on a second page, and the stale first page's 重新派遣 is refused the same way
(the case moved since it was shown); the secretary accepts and records the handling, and
then has no verify button (the handler never verifies; the API says 403); the township
officer sends it back (核查不通过), the secretary handles it again, and the township officer
verifies: 结案. An overdue case shows on the 已超期 list with the level it escalated to, and
is refused (不予受理). Every step is checked in the store; no page breaks its
Content-Security-Policy or asks for anything from outside the server. On the GeoPackage
store and on PostGIS.

Nothing waits for a time: every wait is for a state the page reports
(``tests/browser.wait_until``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from accounts import TestAccount, make_account, session_cookies
from browser import chromium, map_ready, new_page, wait_until
from images import png
from servers import gisgrid_server

from gisgrid import codes
from gisgrid.analysis.assign import in_force
from gisgrid.analysis.cases import LEVELS
from gisgrid.api.routes.case_pages import PAGE_SIZE
from gisgrid.layers.schema import LOCAL_TZ
from gisgrid.roles import area_kind
from gisgrid.stores import open_store

pytestmark = pytest.mark.slow

VILLAGE = "430623101001"
#: a phone held upright
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 2,
}
#: every Content-Security-Policy violation of a page, kept where the test can read it
CSP_WATCH = (
    "document.addEventListener('securitypolicyviolation', (e) => "
    "(window.cspViolations = window.cspViolations || [])"
    ".push(e.violatedDirective + ' ' + e.blockedURI));"
)


@dataclass(frozen=True)
class People:
    grid: TestAccount
    village: TestAccount
    township: TestAccount


# --- set-up: stores, people, incidents ------------------------------------------------------


@pytest.fixture(scope="module")
def gpkg_store(sample_gpkg_copy: str) -> str:
    return sample_gpkg_copy


@pytest.fixture
def postgis_store(sample_pg_url: str) -> str:
    return sample_pg_url


def _grid_and_point(store: str) -> tuple[str, tuple[float, float]]:
    """A level-3 grid of the village in force today, and a point well inside it."""
    st = open_store(store)
    try:
        grids = in_force(st.read("grids"))
    finally:
        st.close()
    level3 = grids[(grids["level"] == 3) & grids["code"].str.startswith(VILLAGE)]
    row = level3.sort_values("code").iloc[0]
    inside = row["geometry"].buffer(-1e-4).representative_point()
    return str(row["code"]), (inside.x, inside.y)


def _api(base: str, account: TestAccount, method: str, path: str, body: Any = None) -> Any:
    """A JSON call with the account's API token: (status, answer)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        base + path,
        data=data,
        method=method,
        headers=account.headers | {"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def _report(
    base: str, worker: TestAccount, point: tuple[float, float], *, hours_ago: float = 0
) -> str:
    """The grid worker reports a dispute at ``point`` (``hours_ago``: reported earlier)."""
    properties: dict[str, Any] = {"kind": "dispute", "description": "邻里纠纷（手机页面测试）"}
    if hours_ago:
        now = dt.datetime.now(ZoneInfo(LOCAL_TZ)).replace(tzinfo=None, microsecond=0)
        properties["reported_at"] = (now - dt.timedelta(hours=hours_ago)).isoformat()
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(point)},
        "properties": properties,
    }
    status, answer = _api(base, worker, "POST", "/api/incidents", feature)
    assert status == 201, answer
    return str(answer["incident"]["id"])


def _stored(store: str, incident: str) -> list[tuple[str, str, str | None]]:
    """The case's steps in the store: (action, actor, assignee), in order."""
    st = open_store(store)
    try:
        steps = st.read("case_steps", where={"incident_id": incident}).sort_values("seq")
    finally:
        st.close()
    return [
        (str(a), str(p), s if isinstance(s, str) else None)
        for a, p, s in zip(steps["action"], steps["actor"], steps["assignee"], strict=True)
    ]


# --- the phone ------------------------------------------------------------------------------


def _phone(browser: Any, base: str, store: str, account: TestAccount) -> tuple[Any, Any]:
    """A phone signed in as ``account`` (its session cookie)."""
    page, log = new_page(browser, cookies=session_cookies(store, account, base), **PHONE)
    page.add_init_script(CSP_WATCH)
    return page, log


def _sign_in(browser: Any, base: str, account: TestAccount) -> tuple[Any, Any]:
    """A phone on which ``account`` signs in on the sign-in page, landing on the work list."""
    page, log = new_page(browser, **PHONE)
    page.add_init_script(CSP_WATCH)
    page.goto(f"{base}/cases")
    assert "/login" in page.url
    page.fill("#username", account.username)
    page.fill("#password", account.password)
    page.tap("button[type=submit]")
    page.wait_for_url(f"{base}/cases")
    return page, log


def _idle(page: Any) -> None:
    wait_until(page, "() => window.gisgrid && window.gisgrid.ready && !window.gisgrid.cases.busy")


def _open_case(page: Any, base: str, incident: str) -> None:
    page.goto(f"{base}/cases/{incident}")
    map_ready(page)
    _idle(page)


def _buttons(page: Any) -> list[str]:
    return list(page.eval_on_selector_all("#buttons button", "bs => bs.map(b => b.dataset.action)"))


def _stage(page: Any) -> str:
    return str(page.evaluate("() => window.gisgrid.cases.case.stage"))


def _tap(page: Any, action: str, *, note: str = "", assignee: str = "") -> dict[str, Any]:
    """Fill the note (and the assignee), tap the action's button, wait for the page; the
    answer to the step."""
    if note:
        page.fill("#note", note)
    if assignee:  # chosen from the list of those who may take it (…/assignees)
        page.select_option("#assignee-input", assignee)
    writes = int(page.evaluate("() => window.gisgrid.cases.writes.length"))
    page.tap(f"#buttons button[data-action={action}]")
    wait_until(page, "(n) => window.gisgrid.cases.writes.length > n", writes)
    _idle(page)
    return dict(page.evaluate("() => window.gisgrid.cases.writes.at(-1)"))


def _violations(page: Any) -> list[str]:
    return list(page.evaluate("() => window.cspViolations || []"))


def _clean(page: Any, log: Any, base: str, *, refused: tuple[str, ...] = ()) -> None:
    """No CSP violation, nothing asked from outside the server, no console error but the
    browser's note of an expected refusal."""
    assert _violations(page) == []
    assert log.blocked == []
    assert all(u.startswith(base) for u in log.requests), log.requests
    assert all(any(s in e for s in refused) for e in log.errors), log.errors


# --- the flow -------------------------------------------------------------------------------


def _drive_a_case(store: str) -> None:
    grid, point = _grid_and_point(store)
    people = People(
        grid=make_account(store, "grid", grid),
        village=make_account(store, "village", VILLAGE),
        township=make_account(store, "township", codes.township_of(VILLAGE)),
    )
    g, v, t = people.grid.username, people.village.username, people.township.username

    with gisgrid_server(store) as base, chromium() as browser:
        incident = _report(base, people.grid, point)
        assert _stored(store, incident) == [("report", g, None)]

        # the village secretary: the case on the list of the area, then on its page
        vp, vlog = _phone(browser, base, store, people.village)
        vp.goto(f"{base}/cases?view=area")
        card = vp.locator(f"li.card[data-case='{incident}']")
        assert card.count() == 1 and "立案" in card.inner_text()
        assert vp.evaluate("() => document.documentElement.scrollWidth") <= 390  # fits
        card.locator("a").tap()
        vp.wait_for_url(f"{base}/cases/{incident}")
        map_ready(vp)
        _idle(vp)
        assert vp.locator(".leaflet-interactive").count() >= 1  # the point on the map
        assert vp.evaluate("() => document.documentElement.scrollWidth") <= 390
        assert _stage(vp) == "registered"
        assert sorted(_buttons(vp)) == ["dispatch", "reject"]
        assert not vp.is_hidden("#assignee-field")
        # a step without its note is not even sent
        vp.tap("#buttons button[data-action=reject]")
        assert "需要填写说明" in vp.inner_text("#status")
        assert _stored(store, incident) == [("report", g, None)]

        # 1. 派遣 to the grid worker
        answer = _tap(vp, "dispatch", assignee=g, note="请尽快核实")
        assert answer["status"] == 201, answer
        assert _stage(vp) == "dispatched" and vp.inner_text("#stage") == "派遣"
        assert _stored(store, incident)[-1] == ("dispatch", v, g)
        assert _buttons(vp) == ["redispatch"]
        history = vp.locator("#steps li").all_inner_texts()
        assert len(history) == 2 and "请尽快核实" in history[1] and v in history[1]

        # 2. the grid worker signs in on the phone, finds it under 我的, sends it back (退回)
        gp, glog = _sign_in(browser, base, people.grid)
        mine = gp.locator(f"li.card[data-case='{incident}']")
        assert mine.count() == 1 and "派遣" in mine.inner_text()
        assert gp.locator("#figures").count() == 0  # no figures for a grid worker
        mine.locator("a").tap()
        gp.wait_for_url(f"{base}/cases/{incident}")
        map_ready(gp)
        _idle(gp)
        assert sorted(_buttons(gp)) == ["accept", "decline"]
        answer = _tap(gp, "decline", note="<b>不属于</b>本网格事项")
        assert answer["status"] == 201, answer
        # what was written is shown as written, never as markup
        assert "<b>不属于</b>本网格事项" in gp.locator("#steps li").nth(2).inner_text()
        assert gp.locator("#steps b").count() == 0
        assert _stage(gp) == "registered" and _buttons(gp) == []
        assert gp.is_hidden("#actions")
        assert _stored(store, incident)[-1] == ("decline", g, None)

        # 3. dispatched again
        vp.reload()
        map_ready(vp)
        _idle(vp)
        assert _tap(vp, "dispatch", assignee=g, note="经核实属本网格")["status"] == 201
        assert len(_stored(store, incident)) == 4

        # 4. two pages of the grid worker: the second accepts, the stale first one then taps
        # 退回 and is told in Chinese; nothing is stored, and the page shows the case now
        gp.reload()
        map_ready(gp)
        _idle(gp)
        assert sorted(_buttons(gp)) == ["accept", "decline"]
        second, second_log = _phone(browser, base, store, people.grid)
        _open_case(second, base, incident)
        assert _tap(second, "accept")["status"] == 201
        assert _stage(second) == "handling"
        assert _stored(store, incident)[-1] == ("accept", g, None)
        refused = _tap(gp, "decline", note="再次退回")
        assert refused["status"] == 409, refused
        assert "未能办理" in gp.inner_text("#status")
        assert gp.evaluate("() => document.getElementById('status').classList.contains('error')")
        assert len(_stored(store, incident)) == 5  # nothing changed
        assert _stage(gp) == "handling" and _buttons(gp) == ["handled"]
        _clean(second, second_log, base)

        # 5. the secretary takes it over (重新派遣 to themself) on a second page; the first,
        # stale page then taps 重新派遣 too, which the flow would allow now: the server sees
        # it was sent with fewer steps than the case has (409), nothing is stored
        vp.reload()
        map_ready(vp)
        _idle(vp)
        assert _buttons(vp) == ["redispatch"]
        other, other_log = _phone(browser, base, store, people.village)
        _open_case(other, base, incident)
        assert _tap(other, "redispatch", assignee=v, note="由村里直接处理")["status"] == 201
        assert _stored(store, incident)[-1] == ("redispatch", v, v)
        refused = _tap(vp, "redispatch", assignee=g, note="还是交给网格员")
        assert refused["status"] == 409, refused
        assert "未能办理" in vp.inner_text("#status")
        assert _stored(store, incident)[-1] == ("redispatch", v, v)
        assert len(_stored(store, incident)) == 6
        assert sorted(_buttons(vp)) == ["accept", "decline", "redispatch"]  # the case now
        _clean(other, other_log, base)
        assert _tap(vp, "accept")["status"] == 201
        assert _tap(vp, "handled", note="已上门调解，双方签字")["status"] == 201
        assert _stage(vp) == "verifying" and vp.inner_text("#stage") == "核查"
        # the handler never verifies: no button, and the API refuses
        assert _buttons(vp) == []
        status, _ = _api(
            base, people.village, "POST", f"/api/incidents/{incident}/steps",
            {"action": "verify", "after": 8},
        )  # fmt: skip
        assert status == 403
        assert len(_stored(store, incident)) == 8

        # 6. the township officer sends it back once, then verifies: 结案
        tp, tlog = _phone(browser, base, store, people.township)
        tp.goto(f"{base}/cases?view=area")
        assert tp.locator("#figures").count() == 1  # a leader sees the figures
        _, stats = _api(base, people.township, "GET", "/api/cases/stats")
        assert tp.inner_text("[data-figure=cases]") == str(stats["cases"])
        assert tp.inner_text("[data-figure=overdue]") == str(stats["overdue"])
        _open_case(tp, base, incident)
        assert sorted(_buttons(tp)) == ["reopen", "verify"]
        assert _tap(tp, "reopen", note="请补充调解协议照片")["status"] == 201
        assert _stage(tp) == "handling"
        vp.reload()
        map_ready(vp)
        _idle(vp)
        assert _tap(vp, "handled", note="已补充调解协议")["status"] == 201
        tp.reload()
        map_ready(tp)
        _idle(tp)
        assert _tap(tp, "verify")["status"] == 201
        assert _stage(tp) == "closed" and tp.inner_text("#stage") == "结案"
        assert _stored(store, incident)[-1] == ("verify", t, None)
        assert tp.inner_text("#due") == "已办结" and tp.is_hidden("#actions")
        assert [a for a, _, _ in _stored(store, incident)] == [
            "report", "dispatch", "decline", "dispatch", "accept", "redispatch", "accept",
            "handled", "reopen", "handled", "verify",
        ]  # fmt: skip
        assert len(tp.locator("#steps li").all_inner_texts()) == 11
        # finished: off the secretary's list of open cases
        vp.goto(f"{base}/cases?view=area")
        assert vp.locator(f"li.card[data-case='{incident}']").count() == 0

        # 7. an overdue case (reported 60 hours ago: 36 hours past its 24-hour limit, so one
        # more limit has passed): on the 已超期 list, escalated to the township; 不予受理
        late = _report(base, people.grid, point, hours_ago=60)
        vp.goto(f"{base}/cases?view=overdue")
        card = vp.locator(f"li.card[data-case='{late}']")
        assert card.count() == 1
        assert "已超期 · 升级至乡镇" in card.inner_text()
        assert vp.locator(f"li.card[data-case='{incident}']").count() == 0
        card.locator("a").tap()
        vp.wait_for_url(f"{base}/cases/{late}")
        map_ready(vp)
        _idle(vp)
        assert vp.inner_text("#overdue") == "已超期 · 升级至乡镇"
        assert _tap(vp, "reject", note="重复上报")["status"] == 201
        assert _stage(vp) == "rejected" and vp.inner_text("#stage") == "不予受理"
        assert _stored(store, late)[-1] == ("reject", v, None)

        _clean(vp, vlog, base, refused=("409",))
        _clean(gp, glog, base, refused=("409",))
        _clean(tp, tlog, base)


def test_a_case_through_every_step_on_a_phone_geopackage(gpkg_store: str) -> None:
    _drive_a_case(gpkg_store)


def test_a_case_through_every_step_on_a_phone_postgis(postgis_store: str) -> None:
    _drive_a_case(postgis_store)


def test_a_photo_taken_with_a_step_on_a_phone_is_stored_and_shown(gpkg_store: str) -> None:
    """The grid worker attaches a photo (a PNG made here) to 签收处置 on the phone: it is
    uploaded, named by the step, stored byte for byte, and shown as a thumbnail in the
    history, without a single CSP violation; a file that is no image is refused first."""
    grid, point = _grid_and_point(gpkg_store)
    worker = make_account(gpkg_store, "grid", grid)
    secretary = make_account(gpkg_store, "village", VILLAGE)
    shot = png(12, 8, (30, 120, 200))
    with gisgrid_server(gpkg_store) as base, chromium() as browser:
        incident = _report(base, worker, point)
        status, answer = _api(
            base,
            secretary,
            "POST",
            f"/api/incidents/{incident}/steps",
            {"action": "dispatch", "assignee": worker.username},
        )
        assert status == 201, answer
        page, log = _phone(browser, base, gpkg_store, worker)
        _open_case(page, base, incident)
        assert _buttons(page) == ["accept", "decline"]
        assert page.get_attribute("#photos", "accept") == "image/*"
        assert page.get_attribute("#photos", "capture") == "environment"
        # a file that only says it is an image: refused before anything is sent
        page.set_input_files(
            "#photos", files=[{"name": "x.gif", "mimeType": "image/gif", "buffer": b"GIF89a"}]
        )
        page.tap("#buttons button[data-action=accept]")
        assert "不是 JPEG、PNG 或 WebP" in page.inner_text("#status")
        assert _stored(gpkg_store, incident)[-1][0] == "dispatch"
        page.set_input_files(
            "#photos", files=[{"name": "现场.png", "mimeType": "image/png", "buffer": shot}]
        )
        answer = _tap(page, "accept", note="已到现场")
        assert answer["status"] == 201, answer
        photos = answer["data"]["steps"][-1]["photos"]
        assert len(photos) == 1
        sha = photos[0]["sha256"]
        assert _stored(gpkg_store, incident)[-1][0] == "accept"
        st = open_store(gpkg_store)
        try:
            assert st.case_photos.get(incident, sha).data == shot
            stored = st.read("case_steps", where={"incident_id": incident})
        finally:
            st.close()
        assert stored.sort_values("seq")["photos"].iloc[-1] == sha
        # the thumbnail, loaded from the server, in the accept step of the history
        size = wait_until(
            page,
            """() => {
                const img = document.querySelector("#steps li[data-action=accept] img.thumb");
                return img && img.complete && img.naturalWidth > 0
                    ? [img.naturalWidth, img.naturalHeight, img.getAttribute("src")] : null;
            }""",
        )
        assert size[:2] == [12, 8] and size[2] == photos[0]["url"]
        assert page.input_value("#photos") == ""  # cleared for the next step
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        _clean(page, log, base)


# --- the pages as HTML: who sees the figures, what each list holds ----------------------------


def test_the_figures_are_for_leaders_and_each_list_holds_its_cases(gpkg_store: str) -> None:
    from fastapi.testclient import TestClient

    from gisgrid.api import create_app

    township = codes.township_of(VILLAGE)
    areas = {
        "admin": "430623",
        "leader": "430623",
        "township": township,
        "village": VILLAGE,
        "grid": _grid_and_point(gpkg_store)[0],
        "planner": township,
        "viewer": township,
    }
    people = {role: make_account(gpkg_store, role, area) for role, area in areas.items()}
    with TestClient(create_app(store=gpkg_store), base_url="https://testserver") as c:

        def listed(view: str, headers: dict[str, str]) -> list[str]:
            """The cases of a list, page after page, following its "next" links."""
            out: list[str] = []
            url: str | None = f"/cases?view={view}"
            while url is not None:
                r = c.get(url, headers=headers)
                assert r.status_code == 200, (url, r.text[:300])
                cards = re.findall(r'data-case="([^"]+)"', r.text)
                assert len(cards) <= PAGE_SIZE
                out += cards
                following = re.search(r'href="([^"]+)" rel="next"', r.text)
                url = following.group(1).replace("&amp;", "&") if following else None
            return out

        for role, account in people.items():
            r = c.get("/cases?view=area", headers=account.headers)
            assert r.status_code == 200, (role, r.text[:300])
            assert ('id="figures"' in r.text) == (role in ("admin", "leader", "township")), role
            assert 'href="/cases"' in r.text  # the user bar links the work list
            api = c.get("/api/cases", params={"limit": 5000}, headers=account.headers).json()
            shown = re.search(r'data-matched="(\d+)"', r.text)
            assert shown is not None and int(shown.group(1)) == api["matched"], role
            # the same cases, in order
            assert listed("area", account.headers) == [x["id"] for x in api["cases"]], role
            late = [x["id"] for x in api["cases"] if x["overdue"]]
            assert listed("overdue", account.headers) == late, role
            mine = [x["id"] for x in api["cases"] if x["assignee"] == account.username]
            assert listed("mine", account.headers) == mine, role
            # escalated to the account's level of the net or beyond (counted here by hand)
            level = LEVELS.index(area_kind(areas[role]))
            up = [x["id"] for x in api["cases"]
                  if x["overdue"] and LEVELS.index(x["escalated_to"]) >= level]  # fmt: skip
            assert listed("escalated", account.headers) == up, role
            reached = {"reached": LEVELS[level], "limit": 5000}
            assert [
                x["id"] for x in c.get("/api/cases", params=reached, headers=account.headers)
                .json()["cases"]
            ] == up, role  # fmt: skip
        # a page past the last shows the last
        leader_area = listed("area", people["leader"].headers)
        assert len(leader_area) > PAGE_SIZE  # the sample fills more than a page
        last = -(-len(leader_area) // PAGE_SIZE)
        beyond = c.get(f"/cases?view=area&page={last + 5}", headers=people["leader"].headers)
        assert (
            re.findall(r'data-case="([^"]+)"', beyond.text) == leader_area[(last - 1) * PAGE_SIZE :]
        )
        assert c.get("/cases?page=0", headers=people["leader"].headers).status_code == 422
        # the county's figures on the leader's page are those of the API
        leader = people["leader"].headers
        stats = c.get("/api/cases/stats", headers=leader).json()
        page = c.get("/cases?view=area", headers=leader).text
        for name in ("cases", "open", "overdue", "closed", "rejected"):
            shown = re.search(rf'data-figure="{name}">(\d+)<', page)
            assert shown is not None and int(shown.group(1)) == stats[name], name
        assert stats["cases"] > 0 and stats["overdue"] > 0  # the sample has late cases
        rate = stats["on_time_rate"]
        assert (f"{rate * 100:.1f}%" if rate is not None else "—") in page
        assert c.get("/cases?view=everything", headers=leader).status_code == 422


def test_what_people_wrote_is_shown_as_text(gpkg_store: str) -> None:
    """A description and a note holding markup appear as the characters typed, never as
    markup (the template escapes; the page's script sets text, tested in the browser)."""
    from fastapi.testclient import TestClient

    from gisgrid.api import create_app

    grid, point = _grid_and_point(gpkg_store)
    worker = make_account(gpkg_store, "grid", grid)
    markup = '<img src=x onerror="alert(1)">'
    feature = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(point)},
        "properties": {"kind": "dispute", "description": markup},
    }
    with TestClient(create_app(store=gpkg_store), base_url="https://testserver") as c:
        r = c.post("/api/incidents", json=feature, headers=worker.headers)
        assert r.status_code == 201, r.text
        incident = r.json()["incident"]["id"]
        page = c.get(f"/cases/{incident}", headers=worker.headers).text
    assert markup not in page
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
