"""The finder's first page (/finder) on a phone, and the leaders' pages in Chinese, in real
headless Chromium against the real server (network blocked), signed in as a county admin.

What field staff do: open /finder from the dashboard, type a head of household's pinyin
initials, pick the result and land on the finder map with the household's card open; or
open a township and pick a village. Screenshots go to ``artifacts/finder/``.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from accounts import TestAccount, make_account, session_cookies
from browser import chromium, map_ready, new_page, wait_until
from servers import gisgrid_server
from test_error_pages import english_words

from gisgrid.analysis.scope import Scope
from gisgrid.analysis.search import romanise
from gisgrid.api.routes.pages import _finder_groups
from gisgrid.roles import ROLES, Role
from gisgrid.stores.geopackage import GeoPackageStore

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "finder"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1440, "height": 900}}


@pytest.fixture(scope="module")
def county_file(sample_gpkg: GeoPackageStore, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("finder_page") / "county.gpkg"
    shutil.copy(sample_gpkg.path, path)
    return path


@pytest.fixture(scope="module")
def admin(county_file: Path) -> TestAccount:
    return make_account(str(county_file))


@pytest.fixture(scope="module")
def base_url(county_file: Path, admin: TestAccount) -> Iterator[str]:
    with gisgrid_server(str(county_file)) as base:
        yield base


@pytest.fixture(scope="module")
def cookies(county_file: Path, admin: TestAccount, base_url: str) -> list[dict[str, str]]:
    return session_cookies(str(county_file), admin, base_url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def frames(county_file: Path) -> dict[str, pd.DataFrame]:
    store = GeoPackageStore(county_file)
    return {layer: store.read(layer) for layer in ("townships", "villages", "households")}


def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def assert_clean(log: Any) -> None:
    assert log.blocked == [], f"requests left the machine: {log.blocked}"
    assert log.errors == [], f"errors on the page: {log.errors}"


def visible_english(page: Any) -> list[str]:
    """Latin words in the text the page shows (its frames' maps left out, and the signed-in
    account's own name and user name in the user bar: data, not the page's words)."""
    text = page.locator("body").inner_text()
    me = page.locator("nav.user-bar .me")
    if me.count():
        text = text.replace(me.inner_text(), "")
    return english_words(text)


def search(page: Any, query: str) -> list[str]:
    """Type ``query`` into the finder's search box; the ids of the results it shows."""
    page.locator("#q").fill(query)
    wait_until(
        page,
        "q => window.gisgrid.finder.shown === q && !window.gisgrid.finder.busy",
        query,
    )
    return page.locator("#results li").evaluate_all("lis => lis.map(li => li.dataset.id)")


def unique_initials(households: pd.DataFrame) -> tuple[str, str, str]:
    """A household whose name's pinyin initials (three letters) no other name has."""
    names = households["head_name"].fillna("")
    initials, _ = romanise(names)
    frame = pd.DataFrame({"id": households["id"], "name": names, "ini": initials})
    counts = frame["ini"].value_counts()
    once = frame[frame["ini"].map(counts).eq(1) & frame["ini"].str.len().eq(3)]
    row = once.sort_values("id").iloc[0]
    return str(row["id"]), str(row["name"]), str(row["ini"])


def test_the_finder_on_a_phone_from_pinyin_to_the_household_card(
    browser: Any, base_url: str, cookies: list[dict[str, str]], frames: dict[str, pd.DataFrame]
) -> None:
    households = frames["households"]
    hid, name, initials = unique_initials(households)
    village = str(households.loc[households["id"] == hid, "village_code"].iloc[0])
    page, log = new_page(browser, cookies=cookies, **PHONE)
    page.goto(base_url + "/finder", wait_until="load", timeout=120_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    # townships first, each with its villages: as many groups as townships with villages
    townships = frames["villages"]["code"].str[:9].nunique()
    assert page.locator("details.township").count() == townships
    assert page.locator("details.township li[data-village]").count() == len(frames["villages"])
    assert page.locator("details.township[open]").count() == 0  # the county: all closed
    shot(page, "finder-first-page")
    assert not visible_english(page), visible_english(page)

    found = search(page, initials)
    assert hid in found, (initials, name, found)
    row = page.locator(f'#results li[data-id="{hid}"]')
    township_name = frames["townships"].set_index("code").loc[village[:9], "name"]
    village_name = frames["villages"].set_index("code").loc[village, "name"]
    assert f"{township_name} · {village_name}" in row.inner_text()
    assert name in row.inner_text()
    shot(page, "finder-search-pinyin")
    # the result fits the phone and is big enough to tap
    box = row.bounding_box()
    assert box["width"] <= 390 and box["height"] >= 44
    row.locator("a").tap()
    page.wait_for_url(re.compile(r"/maps/finder\?village=\d{12}#household="), timeout=60_000)
    assert f"village={village}" in page.url
    map_ready(page)
    card = page.locator(f'.leaflet-popup .gg-household[data-id="{hid}"]')
    card.wait_for(state="visible", timeout=10_000)
    assert name in card.inner_text()
    assert page.evaluate("window.gisgrid.selected.id") == hid
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "finder-map-card")
    assert_clean(log)


def test_the_village_list_filters_and_opens_the_township(
    browser: Any, base_url: str, cookies: list[dict[str, str]], frames: dict[str, pd.DataFrame]
) -> None:
    villages = frames["villages"].sort_values("code")
    target = villages.iloc[len(villages) // 2]
    page, log = new_page(browser, cookies=cookies, **PHONE)
    page.goto(base_url + "/finder", wait_until="load", timeout=120_000)
    search(page, str(target["name"]))
    item = page.locator(f'li[data-village="{target["code"]}"]')
    assert item.is_visible()  # its township opened by the filter
    same = villages[villages["name"].str.contains(str(target["name"]), regex=False)]
    assert page.locator("li[data-village]:visible").count() == len(same)
    item.locator("a").tap()
    page.wait_for_url(re.compile(rf"/maps/finder\?village={target['code']}$"), timeout=60_000)
    map_ready(page)
    assert_clean(log)


def test_the_map_search_understands_pinyin_initials_and_opens_the_card(
    browser: Any, base_url: str, cookies: list[dict[str, str]], frames: dict[str, pd.DataFrame]
) -> None:
    households = frames["households"]
    village = str(households["village_code"].iloc[0])
    hid, name, initials = unique_initials(households[households["village_code"] == village])
    page, log = new_page(browser, cookies=cookies, **PHONE)
    page.goto(base_url + f"/maps/finder?village={village}", wait_until="load", timeout=120_000)
    map_ready(page)
    box = page.locator(".gg-search input")
    box.fill(initials)
    box.press("Enter")
    card = page.locator(f'.leaflet-popup .gg-household[data-id="{hid}"]')
    card.wait_for(state="visible", timeout=10_000)
    assert name in card.inner_text()
    # several results (a surname): the one tapped is selected and its card opens
    box.fill(name[0])
    results = page.locator(".gg-results li")
    assert results.count() > 1
    second = results.nth(1)
    picked = second.get_attribute("data-id")
    second.tap()
    card = page.locator(f'.leaflet-popup .gg-household[data-id="{picked}"]')
    card.wait_for(state="visible", timeout=10_000)
    assert page.evaluate("window.gisgrid.selected.id") == picked
    # and nothing else: the tap did not reach the map beneath (a grid's popup over the card)
    assert page.locator(".leaflet-popup .gg-grid").count() == 0
    shot(page, "finder-map-search-phone")
    assert_clean(log)


def test_the_dashboard_links_the_finder_of_the_area_shown(
    browser: Any, base_url: str, cookies: list[dict[str, str]], frames: dict[str, pd.DataFrame]
) -> None:
    township = str(frames["townships"].sort_values("code")["code"].iloc[0])
    page, log = new_page(browser, cookies=cookies, **DESKTOP)
    for path, finder in (
        ("/", "/finder"),
        (f"/?township={township}", f"/finder?township={township}"),
    ):
        page.goto(base_url + path, wait_until="load", timeout=120_000)
        link = page.locator(".links a", has_text="农户查找")
        assert link.get_attribute("href") == finder
        assert not visible_english(page), (path, visible_english(page))
    page.locator(".links a", has_text="农户查找").click()
    page.wait_for_load_state("load")
    opened = page.locator("details.township[open]")
    assert opened.count() == 1 and opened.get_attribute("data-township") == township
    shot(page, "finder-desktop-township")
    assert_clean(log)


def test_an_error_page_in_the_browser(
    browser: Any, base_url: str, cookies: list[dict[str, str]]
) -> None:
    page, log = new_page(browser, cookies=cookies, **PHONE)
    answer = page.goto(base_url + "/?village=430623999999", wait_until="load")
    assert answer is not None and answer.status == 404
    assert page.locator("h2").inner_text() == "没有找到"
    assert not visible_english(page), visible_english(page)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "error-404-phone")
    # the browser logs the 404 itself as a failed resource: nothing else may fail
    log.errors = [e for e in log.errors if "404" not in e]
    assert_clean(log)


def _scope(*areas: str) -> Scope:
    return Scope(ROLES[Role.ADMIN], areas, residents=True, staff=True)


def test_villages_of_the_same_name_are_told_apart_by_township() -> None:
    frames = {
        "townships": pd.DataFrame({"code": ["430623101", "430623102"], "name": ["甲镇", "乙镇"]}),
        "villages": pd.DataFrame(
            {
                "code": ["430623102001", "430623101002", "430623101001"],
                "name": ["新华村", "新华村", "和平村"],
            }
        ),
    }
    groups = _finder_groups(frames, _scope("430623"), opened=None, reason="")
    assert [g["name"] for g in groups] == ["甲镇", "乙镇"]
    assert [(v["name"], v["duplicate"]) for v in groups[0]["villages"]] == [
        ("和平村", False),
        ("新华村", True),
    ]
    assert groups[1]["villages"][0]["duplicate"] and not any(g["open"] for g in groups)
    mine = _finder_groups(frames, _scope("430623101"), opened=None, reason="查 户")
    assert len(mine) == 1 and mine[0]["open"]  # one township: open at once
    assert not any(v["duplicate"] for v in mine[0]["villages"])  # no other 新华村 in it
    assert (
        mine[0]["villages"][0]["url"] == "/finder?village=430623101001&reason=%E6%9F%A5%20%E6%88%B7"
    )
