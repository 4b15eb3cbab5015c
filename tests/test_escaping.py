"""Every name is shown as text, never run as markup: proven in real Chromium.

A store whose township, village, grids, grid's responsible person, households and service
point, and a case's description and note carry names such as
``</title><img src=x onerror=alert(1)>`` and ``</script><img …>``. Every page of the real
server (dashboard, map pages, finder, case list and case page, grid editor) and every
map the command line writes is opened in Chromium: no dialog may open, no ``<img>`` from a
name may exist, and the name must read literally where it is shown (title, pop-ups after a
click, labels, search results, lists).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import shapely
from accounts import TestAccount, make_account, session_cookies
from browser import chromium, click_latlng, new_page, wait_until
from servers import gisgrid_server
from shapely.ops import polylabel

from gisgrid.sample import build_sample_county
from gisgrid.stores.geopackage import GeoPackageStore

pytestmark = pytest.mark.slow

IMG = "<img src=x onerror=alert(1)>"
TITLE = "</title><img src=x onerror=alert(2)>"
SCRIPT = "</script><img src=x onerror=alert(3)>"
#: what each renamed feature is called
NAMES = {
    "township": f"{TITLE}{SCRIPT}'\"镇",  # quotes: a name in an attribute
    "village": f"{TITLE}{SCRIPT}村",
    "grid2": f"{IMG}二级网格",
    "grid3": f"{TITLE}三级网格",
    "responsible": f"{IMG}{SCRIPT}网格员",
    "household": f"{IMG}户主",
    "backbone": f"{TITLE}骨干户",
    "service": f"{SCRIPT}{IMG}服务点",
    "watcher": f"{IMG}看护人",
    "description": f"{SCRIPT}{IMG}事件描述",
    "note": f"{TITLE}{IMG}办理说明",
}
#: a name's markup is inert when the page holds no element it could have made
INJECTED = "img[src='x'], img[onerror]"


@dataclass
class Hostile:
    """The store with hostile names: where it is, which features carry them, and points."""

    path: Path
    township: str
    village: str
    grid2: str
    grid3: str
    household: str
    service: str
    #: an incident inside the level-3 grid, described and noted with markup
    incident: str
    #: [lat, lng] inside the level-3 grid, far from its edges; the service point
    inside: list[float] = field(default_factory=list)
    service_at: list[float] = field(default_factory=list)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Hostile:
    county = build_sample_county(seed=2023, households=5000)
    frames = {name: frame.copy() for name, frame in county.frames.items()}
    hh, sp, grids = frames["households"], frames["service_points"], frames["grids"]
    # a household linked to a backbone household of its own level-3 grid, in a village that
    # has a service point (the sample's households are not assigned yet: find their grids)
    level3 = grids[grids["level"] == 3]
    where = level3.sindex.query(hh.geometry.values, predicate="within")
    grid_of = dict(zip(hh["id"].iloc[where[0]], level3["code"].iloc[where[1]], strict=True))
    linked = hh[hh["backbone_id"].notna() & hh["village_code"].isin(set(sp["village_code"]))]
    same_grid = [
        h in grid_of and grid_of[h] == grid_of.get(b)
        for h, b in zip(linked["id"], linked["backbone_id"], strict=True)
    ]
    target = linked[same_grid].sort_values("id").iloc[0]
    village, grid3 = str(target["village_code"]), grid_of[target["id"]]
    g3 = grids.set_index("code").loc[grid3]
    grid2 = str(g3["parent_code"])
    villages = frames["villages"].set_index("code")
    township = str(villages.loc[village, "township_code"])
    service = sp[sp["village_code"] == village].sort_values("id").iloc[0]

    frames["townships"].loc[frames["townships"]["code"] == township, "name"] = NAMES["township"]
    frames["villages"].loc[frames["villages"]["code"] == village, "name"] = NAMES["village"]
    grids.loc[grids["code"] == grid2, "name"] = NAMES["grid2"]
    grids.loc[grids["code"] == grid3, "name"] = NAMES["grid3"]
    grids.loc[grids["code"] == grid3, "responsible_name"] = NAMES["responsible"]
    hh.loc[hh["id"] == target["id"], "head_name"] = NAMES["household"]
    hh.loc[hh["id"] == target["backbone_id"], "head_name"] = NAMES["backbone"]
    sp.loc[sp["id"] == service["id"], "name"] = NAMES["service"]
    sp.loc[sp["id"] == service["id"], "watcher"] = NAMES["watcher"]
    part = max(shapely.get_parts(g3.geometry), key=lambda p: p.area)
    at = polylabel(part, tolerance=1e-6)
    # a case in the grid: its description and its first step's note carry markup
    incidents, steps = frames["incidents"], frames["case_steps"]
    incident = str(steps["incident_id"].iloc[0])
    row = incidents["id"] == incident
    incidents.loc[row, "description"] = NAMES["description"]
    incidents.loc[row, "geometry"] = shapely.Point(at.x + 1e-5, at.y)
    steps.loc[(steps["incident_id"] == incident) & (steps["seq"] == 1), "note"] = NAMES["note"]

    path = tmp_path_factory.mktemp("hostile") / "county.gpkg"
    GeoPackageStore(path).write(frames, mode="replace", meta={"sample_manifest": county.manifest})
    return Hostile(
        path=path,
        township=township,
        village=village,
        grid2=grid2,
        grid3=grid3,
        household=str(target["id"]),
        service=str(service["id"]),
        incident=incident,
        inside=[at.y, at.x],
        service_at=[service.geometry.y, service.geometry.x],
    )


@pytest.fixture(scope="module")
def admin(hostile: Hostile) -> TestAccount:
    return make_account(str(hostile.path))


@pytest.fixture(scope="module")
def base_url(hostile: Hostile, admin: TestAccount) -> Iterator[str]:
    with gisgrid_server(str(hostile.path)) as base:
        yield base


@pytest.fixture(scope="module")
def cookies(hostile: Hostile, admin: TestAccount, base_url: str) -> list[dict[str, str]]:
    """The admin's session cookie: the browser opens the server's pages signed in."""
    return session_cookies(str(hostile.path), admin, base_url)


@pytest.fixture(scope="module")
def cli_maps(hostile: Hostile, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The maps ``gisgrid map`` writes for the hostile area."""
    out = tmp_path_factory.mktemp("hostile_maps")
    specs = {
        "coverage_township": ("coverage", "--township", hostile.township),
        "coverage_village": ("coverage", "--village", hostile.village),
        "incidents_township": ("incidents", "--township", hostile.township),
        "finder_village": ("finder", "--village", hostile.village),
    }
    maps = {}
    for name, (kind, option, code) in specs.items():
        path = out / f"{name}.html"
        subprocess.run(
            [sys.executable, "-m", "gisgrid", "map", kind, "--store", str(hostile.path),
             option, code, "--out", str(path)],
            check=True, capture_output=True, timeout=600,
        )  # fmt: skip
        maps[name] = path
    return maps


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


# --- helpers ---------------------------------------------------------------------------------


@dataclass
class Opened:
    page: Any
    dialogs: list[str]


def open_url(browser: Any, url: str, **options: Any) -> Opened:
    """Open a page, recording (and dismissing) every dialog it or its frames open."""
    page, _log = new_page(browser, viewport={"width": 1280, "height": 900}, **options)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(url, wait_until="load", timeout=120_000)
    return Opened(page, dialogs)


def map_ready(frame: Any) -> None:
    frame.wait_for_function("window.gisgrid && window.gisgrid.ready === true", timeout=120_000)


def assert_inert(opened: Opened) -> None:
    """No dialog opened, no element made from a name, in the page or any of its frames."""
    opened.page.wait_for_timeout(300)  # an <img src=x> fails to load at once: onerror fires
    assert opened.dialogs == [], f"a name ran as script: {opened.dialogs}"
    for frame in opened.page.frames:
        found = frame.evaluate(f"document.querySelectorAll({INJECTED!r}).length")
        assert found == 0, f"a name made an element in {frame.url}"


def view(page: Any, latlng: list[float], zoom: int) -> None:
    """Centre the map on ``latlng`` at ``zoom`` (again until it holds: the incident map may
    still be finishing a zoom of its own when the test starts)."""
    page.wait_for_function(
        """([at, z]) => {
            const m = window.gisgrid.map;
            const there = () => m.getZoom() === z && m.getCenter().distanceTo(at) < 1;
            if (!there()) m.setView(at, z, { animate: false });
            return there();
        }""",
        arg=[latlng, zoom],
        timeout=10_000,
    )


def hide(page: Any, *keys: str) -> None:
    """Take layers off the map: a key, or a prefix ending in ``_``."""
    page.evaluate(
        """(keys) => {
            const G = window.gisgrid;
            for (const k of Object.keys(G.layers)) {
                if (keys.some((p) => k === p || (p.endsWith("_") && k.startsWith(p)))) {
                    G.map.removeLayer(G.layers[k]);
                }
            }
        }""",
        list(keys),
    )


def popup_after_click(page: Any, latlng: list[float], selector: str) -> str:
    click_latlng(page, *latlng)
    popup = page.locator(selector)
    popup.wait_for(state="visible", timeout=10_000)
    return str(popup.inner_text())


def assert_label(page: Any, table: str, code: str, cls: str) -> None:
    """Zoom to a feature's label: it shows, reading the name as it is."""
    label = page.evaluate(
        """([table, code]) => {
            const t = window.gisgrid.data[table];
            return t.label[t.code.indexOf(code)];
        }""",
        [table, code],
    )
    view(page, [label[0], label[1]], 18)
    shown = page.locator(f".gg-label.{cls} span").filter(has_text=label[3])
    shown.first.wait_for(state="visible", timeout=10_000)
    assert shown.first.text_content() == label[3]


def assert_title(opened: Opened, name: str) -> None:
    assert opened.page.title().endswith(" · " + name), opened.page.title()


# --- what each kind of map must show -----------------------------------------------------------


def check_coverage(opened: Opened, h: Hostile, *, area_name: str) -> None:
    page = opened.page
    map_ready(page)
    assert_title(opened, area_name)
    assert page.locator(".gg-title").text_content() == page.title()
    assert_label(page, "villages", h.village, "gg-label-village")
    # the service point's pop-up
    view(page, h.service_at, 18)
    text = popup_after_click(page, h.service_at, f'.gg-service[data-code="{h.service}"]')
    assert NAMES["service"] in text and NAMES["watcher"] in text and NAMES["village"] in text
    page.evaluate("() => { window.gisgrid.map.closePopup(); }")
    # the pop-up of each level where the household's grid is, finest first
    hide(page, "service_", "check_", "households")
    view(page, h.inside, 16)
    text = popup_after_click(page, h.inside, f'.gg-grid-3[data-code="{h.grid3}"]')
    assert NAMES["grid3"] in text and NAMES["responsible"] in text and NAMES["village"] in text
    hide(page, "grids3")
    text = popup_after_click(page, h.inside, f'.gg-grid-2[data-code="{h.grid2}"]')
    assert NAMES["grid2"] in text
    hide(page, "grids2")
    text = popup_after_click(page, h.inside, f'.gg-village[data-code="{h.village}"]')
    assert NAMES["village"] in text and NAMES["township"] in text
    hide(page, "villages")
    text = popup_after_click(page, h.inside, f'.gg-township[data-code="{h.township}"]')
    assert NAMES["township"] in text
    assert_inert(opened)


def check_incidents(opened: Opened, h: Hostile) -> None:
    page = opened.page
    map_ready(page)
    assert_title(opened, NAMES["township"])
    assert page.locator(".gg-title").text_content() == page.title()
    assert_label(page, "villages", h.village, "gg-label-village")
    hide(page, "kind_", "heat")
    view(page, h.inside, 15)
    text = popup_after_click(page, h.inside, f'.gg-six-no[data-code="{h.village}"]')
    assert NAMES["village"] in text
    assert_inert(opened)


def check_finder(opened: Opened, h: Hostile) -> None:
    page = opened.page
    map_ready(page)
    assert_title(opened, NAMES["village"])
    assert page.locator(".gg-search-title").text_content() == page.title()
    assert_label(page, "grids3", h.grid3, "gg-label-grid")
    # search results list both hostile households by name
    search = page.locator(".gg-search input")
    search.fill("<img src=x")
    results = page.locator(".gg-results li")
    results.first.wait_for(state="visible")
    texts = [str(t) for t in results.all_inner_texts()]
    assert any(t.startswith(NAMES["household"]) for t in texts), texts
    # the household's pop-up: its name, its backbone household's, its grid's
    search.fill(NAMES["household"])
    search.press("Enter")
    popup = page.locator(f'.gg-household[data-id="{h.household}"]')
    popup.wait_for(state="visible")
    text = popup.inner_text()
    assert NAMES["household"] in text and NAMES["backbone"] in text
    assert NAMES["grid3"] in text and NAMES["responsible"] in text
    page.evaluate("() => { window.gisgrid.map.closePopup(); }")
    # the service point's pop-up
    view(page, h.service_at, 18)
    text = popup_after_click(page, h.service_at, f'.gg-service[data-code="{h.service}"]')
    assert NAMES["service"] in text and NAMES["watcher"] in text
    page.evaluate("() => { window.gisgrid.map.closePopup(); }")
    # the grid's pop-up
    hide(page, "service_", "households", "highlight")
    view(page, h.inside, 17)
    text = popup_after_click(page, h.inside, f'.gg-grid-3[data-code="{h.grid3}"]')
    assert NAMES["grid3"] in text and NAMES["responsible"] in text
    assert_inert(opened)


# --- the server's pages --------------------------------------------------------------------------


def test_dashboard_shows_names_as_text(
    browser: Any, base_url: str, cookies: list[dict[str, str]], hostile: Hostile
) -> None:
    county = open_url(browser, base_url + "/", cookies=cookies)
    assert NAMES["township"] in county.page.locator("#areas").inner_text()
    map_ready(county.page.locator("iframe").element_handle().content_frame())
    assert_inert(county)

    township = open_url(browser, f"{base_url}/?township={hostile.township}", cookies=cookies)
    assert NAMES["township"] in township.page.title()
    assert township.page.locator("header h1").inner_text().endswith(NAMES["township"])
    assert NAMES["township"] in township.page.locator("nav.crumbs").inner_text()
    assert NAMES["village"] in township.page.locator("#areas").inner_text()
    map_ready(township.page.locator("iframe").element_handle().content_frame())
    assert_inert(township)

    village = open_url(browser, f"{base_url}/?village={hostile.village}", cookies=cookies)
    assert NAMES["village"] in village.page.title()
    table = village.page.locator("#areas").inner_text()
    for name in ("grid2", "grid3", "responsible"):
        assert NAMES[name] in table, name
    map_ready(village.page.locator("iframe").element_handle().content_frame())
    assert_inert(village)


def test_finder_village_list_shows_names_as_text(
    browser: Any, base_url: str, cookies: list[dict[str, str]], hostile: Hostile
) -> None:
    opened = open_url(browser, f"{base_url}/finder?township={hostile.township}", cookies=cookies)
    page = opened.page
    assert (
        NAMES["township"]
        in page.locator(f'details[data-township="{hostile.township}"]').inner_text()
    )
    link = page.locator(f'a[href="/finder?village={hostile.village}"]')
    assert link.inner_text() == NAMES["village"]
    # a household found by the search: its name and its village's and township's, as text
    page.locator("#q").fill(NAMES["household"])
    wait_until(page, "q => window.gisgrid.finder.shown === q && !window.gisgrid.finder.busy",
               NAMES["household"])  # fmt: skip
    hit = page.locator(f'#results li[data-id="{hostile.household}"]')
    text = hit.inner_text()
    assert NAMES["household"] in text and NAMES["village"] in text and NAMES["township"] in text
    assert_inert(opened)


def test_public_report_form_shows_township_names_as_text(
    browser: Any, base_url: str, hostile: Hostile
) -> None:
    # no sign-in: the township outlines travel as JSON in an attribute of the page, where a
    # name holding a quote or </script> must not end it
    opened = open_url(browser, base_url + "/report")
    map_ready(opened.page)
    names = opened.page.evaluate(
        "() => JSON.parse(document.getElementById('outlines').dataset.outlines)"
        ".features.map(f => f.properties.name)"
    )
    assert NAMES["township"] in names
    assert opened.page.evaluate("() => window.gisgrid.failed") is None
    assert_inert(opened)


def test_coverage_map_pages(
    browser: Any, base_url: str, cookies: list[dict[str, str]], hostile: Hostile
) -> None:
    township = open_url(
        browser, f"{base_url}/maps/coverage?township={hostile.township}", cookies=cookies
    )
    check_coverage(township, hostile, area_name=NAMES["township"])
    village = open_url(
        browser, f"{base_url}/maps/coverage?village={hostile.village}", cookies=cookies
    )
    check_coverage(village, hostile, area_name=NAMES["village"])
    grid = open_url(browser, f"{base_url}/maps/coverage?grid={hostile.grid3}", cookies=cookies)
    map_ready(grid.page)
    assert_title(grid, NAMES["grid3"])
    assert_inert(grid)


def test_incident_map_page(
    browser: Any, base_url: str, cookies: list[dict[str, str]], hostile: Hostile
) -> None:
    check_incidents(
        open_url(
            browser, f"{base_url}/maps/incidents?township={hostile.township}", cookies=cookies
        ),
        hostile,
    )


def test_finder_map_page(
    browser: Any, base_url: str, cookies: list[dict[str, str]], hostile: Hostile
) -> None:
    check_finder(
        open_url(browser, f"{base_url}/finder?village={hostile.village}", cookies=cookies), hostile
    )


def test_case_pages(
    browser: Any, base_url: str, cookies: list[dict[str, str]], hostile: Hostile
) -> None:
    listed = open_url(browser, f"{base_url}/cases?view=area", cookies=cookies)
    assert listed.page.locator(f'li[data-case="{hostile.incident}"]').count() == 1
    assert_inert(listed)
    opened = open_url(browser, f"{base_url}/cases/{hostile.incident}", cookies=cookies)
    page = opened.page
    wait_until(page, "() => window.gisgrid && window.gisgrid.ready === true")
    assert page.locator(".description").inner_text() == NAMES["description"]
    first = page.locator("#steps li").first
    assert first.locator(".note").inner_text() == NAMES["note"]
    assert_inert(opened)


def test_grid_editor_page(
    browser: Any, base_url: str, cookies: list[dict[str, str]], hostile: Hostile
) -> None:
    opened = open_url(browser, f"{base_url}/editor?village={hostile.village}", cookies=cookies)
    page = opened.page
    wait_until(page, "() => window.gisgrid && window.gisgrid.ready === true")
    assert NAMES["village"] in page.title()
    view(page, hostile.inside, 17)
    click_latlng(page, *hostile.inside)
    wait_until(page, "(code) => window.gisgrid.editor.selected === code", hostile.grid3)
    chosen = page.locator("#selected")
    assert chosen.locator("b").inner_text() == NAMES["grid3"]
    assert NAMES["responsible"] in chosen.inner_text()
    tooltip = page.locator(".leaflet-tooltip")  # the grid under the pointer, named
    tooltip.wait_for(state="visible", timeout=10_000)
    assert tooltip.inner_text().startswith(NAMES["grid3"])
    assert_inert(opened)


# --- the command line's maps ----------------------------------------------------------------------


def test_cli_maps(browser: Any, cli_maps: dict[str, Path], hostile: Hostile) -> None:
    check_coverage(
        open_url(browser, cli_maps["coverage_township"].as_uri()),
        hostile,
        area_name=NAMES["township"],
    )
    check_coverage(
        open_url(browser, cli_maps["coverage_village"].as_uri()),
        hostile,
        area_name=NAMES["village"],
    )
    check_incidents(open_url(browser, cli_maps["incidents_township"].as_uri()), hostile)
    check_finder(open_url(browser, cli_maps["finder_village"].as_uri()), hostile)
