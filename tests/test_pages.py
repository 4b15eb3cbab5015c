"""The web app's pages in real headless Chromium, served by the real server, network blocked.

Each page: no console errors, no request leaving the machine, the drawn content matches the
store, and the drill-down county → township → village works by clicking. The browser is
signed in as a county admin (a session cookie, as after the sign-in page).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from accounts import TestAccount, make_account, session_cookies
from browser import chromium, new_page
from servers import gisgrid_server

from gisgrid.sample import write_sample_county
from gisgrid.stores.geopackage import GeoPackageStore

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"


@pytest.fixture(scope="module")
def county_file(sample_county, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pages") / "county.gpkg"
    write_sample_county(GeoPackageStore(path), sample_county)
    return path


@pytest.fixture(scope="module")
def admin(county_file) -> TestAccount:
    return make_account(str(county_file))


@pytest.fixture(scope="module")
def base_url(county_file, admin) -> Iterator[str]:
    with gisgrid_server(str(county_file)) as base:
        yield base


@pytest.fixture(scope="module")
def cookies(county_file, admin, base_url) -> list[dict[str, str]]:
    """The admin's session cookie for the browser."""
    return session_cookies(str(county_file), admin, base_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-{name}.png"))


def assert_clean(log: Any) -> None:
    assert log.blocked == [], f"requests left the machine: {log.blocked}"
    assert log.errors == [], f"errors on the page: {log.errors}"


def map_ready(frame: Any) -> None:
    frame.wait_for_function("window.gisgrid && window.gisgrid.ready === true", timeout=120_000)


def card_value(page: Any, label: str) -> str:
    """The figure on the card labelled exactly ``label``."""
    return page.evaluate(
        """label => [...document.querySelectorAll('.card')]
            .find(c => c.querySelector('span').textContent === label)
            .querySelector('b').textContent""",
        label,
    )


def column_values(page: Any, header: str) -> list[str]:
    """The cells of the areas table under ``header``."""
    return page.evaluate(
        """header => {
            const i = [...document.querySelectorAll('#areas th')].findIndex(
                th => th.textContent === header);
            return [...document.querySelectorAll('#areas tbody tr')].map(
                tr => tr.children[i].textContent);
        }""",
        header,
    )


def test_dashboard_drills_down_county_township_village(browser, base_url, cookies, sample_county):
    frames = sample_county.frames
    page, log = new_page(browser, cookies=cookies, viewport={"width": 1400, "height": 900})
    page.goto(base_url + "/", wait_until="load", timeout=120_000)
    rows = page.locator("#areas tbody tr")
    assert rows.count() == len(frames["townships"])
    assert page.locator(".card", has_text="农户").first.inner_text().split()[-1] == (
        f"{len(frames['households']):,}"
    )
    map_ready(page.locator("iframe").element_handle().content_frame())
    shot(page, "dashboard")
    township = frames["townships"].sort_values("code")["code"].iloc[0]
    page.locator(f"#areas a[href='/?township={township}']").click()
    page.wait_for_load_state("load")
    villages = frames["villages"]
    in_township = villages[villages["township_code"] == township]
    assert page.locator("#areas tbody tr").count() == len(in_township)
    # the cards are the township's: its households are the sum of its villages' rows
    households = sum(int(n.replace(",", "")) for n in column_values(page, "户数"))
    assert card_value(page, "农户") == f"{households:,}"
    assert households < len(frames["households"])
    assert card_value(page, "村（社区）") == str(len(in_township))
    village = in_township.sort_values("code")["code"].iloc[0]
    page.locator(f"#areas a[href='/?village={village}']").click()
    page.wait_for_load_state("load")
    grids = frames["grids"]
    expected = grids[(grids["village_code"] == village) & (grids["level"] > 1)]
    assert page.locator("#areas tbody tr").count() == len(expected)
    body = page.locator("#areas").inner_text()
    # six-no is the village's status: one card, no column repeating it on every grid
    assert card_value(page, "六无达标") in ("达标", "未达标")
    assert page.locator("#areas th", has_text="六无达标").count() == 0
    level3 = expected[expected["level"] == 3]
    assert card_value(page, "三级网格") == str(len(level3))
    for name in expected["responsible_name"].dropna().head(5):
        assert name in body
    map_ready(page.locator("iframe").element_handle().content_frame())
    shot(page, "dashboard-village")
    assert_clean(log)


def test_incident_map_page(browser, base_url, cookies, sample_county):
    page, log = new_page(browser, cookies=cookies, viewport={"width": 1200, "height": 800})
    page.goto(base_url + "/maps/incidents", wait_until="load", timeout=120_000)
    map_ready(page)
    shot(page, "incidents")
    assert_clean(log)


def test_finder_on_a_phone(browser, base_url, cookies, sample_county):
    village = sample_county.frames["villages"]["code"].iloc[3]
    page, log = new_page(
        browser,
        cookies=cookies,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    page.goto(base_url + f"/finder?village={village}", wait_until="load", timeout=120_000)
    assert page.url.endswith(f"/maps/finder?village={village}")
    map_ready(page)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "the finder must fit a phone's width"
    shot(page, "finder-phone")
    assert_clean(log)


def test_pages_refuse_bad_areas_with_json(base_url, admin):
    import json
    import urllib.error
    import urllib.request

    for path, status in (
        ("/?village=430623999999", 404),
        ("/maps/atlas", 422),
        ("/?township=1", 422),
    ):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(
                urllib.request.Request(base_url + path, headers=admin.headers), timeout=60
            )
        assert err.value.code == status
        assert json.loads(err.value.read())["error"]["message"]
