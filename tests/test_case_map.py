"""The incident map filters by case stage and lateness, in Chromium.

Each incident's stage, lateness and escalation come from its case (the history on a clock
that is set for the saved map, the server's clock on the web app's page). The tests tick
the stage boxes and 只看超期 as a person would, count the markers in the map's Leaflet
layers and compare them with the cases counted one by one from the store
(``test_case_figures.brute_cases``); overdue markers are drawn apart (a bigger square in a
dark red frame). The web app's page breaks no Content-Security-Policy and asks nothing from
outside the server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from accounts import make_account, session_cookies
from browser import chromium, map_ready, new_page, open_map, wait_until
from servers import gisgrid_server
from test_case_figures import NOW, brute_cases

from gisgrid import codes
from gisgrid.analysis.assign import local_now
from gisgrid.cartography import build_map, save_map
from gisgrid.layers.incidents import STATUSES
from gisgrid.roles import Role
from gisgrid.stores import open_store

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1440, "height": 900}
CSP_WATCH = (
    "document.addEventListener('securitypolicyviolation', (e) => "
    "(window.cspViolations = window.cspViolations || [])"
    ".push(e.violatedDirective + ' ' + e.blockedURI));"
)
#: the markers in the incident layers now: how many, how many drawn as overdue
COUNT = """() => {
  let shown = 0, late = 0;
  for (const [key, layer] of Object.entries(window.gisgrid.layers)) {
    if (!key.startsWith("kind_")) continue;
    for (const m of layer.getLayers()) {
      shown++;
      if (m.options.icon.options.html.classList.contains("gg-inc-overdue")) late++;
    }
  }
  return [shown, late];
}"""


def _count(page: Any) -> tuple[int, int]:
    shown, late = page.evaluate(COUNT)
    return int(shown), int(late)


def _stage_boxes(page: Any, keep: set[str]) -> None:
    for stage in STATUSES:
        box = page.locator(f"input[data-filter=stage][value={stage}]")
        box.check() if stage in keep else box.uncheck()


@pytest.fixture(scope="module")
def saved_map(sample_gpkg: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("case_map")
    return save_map(build_map("incidents", sample_gpkg, now=NOW), out / "incidents.html")


def test_the_stage_and_overdue_filters_show_the_right_markers(
    sample_gpkg: Any, saved_map: Path
) -> None:
    truth = brute_cases(sample_gpkg, NOW)
    late = truth["overdue"]
    assert 0 < late.sum() < len(truth)
    with chromium() as browser:
        page, log = new_page(browser, viewport=DESKTOP)
        open_map(page, saved_map)
        assert _count(page) == (len(truth), int(late.sum()))
        # one stage at a time
        for stage in ("registered", "handling", "closed"):
            _stage_boxes(page, {stage})
            here = truth["stage"] == stage
            assert _count(page) == (int(here.sum()), int((here & late).sum())), stage
        # only the overdue ones, of every stage, then of the stages still open but 立案
        _stage_boxes(page, set(STATUSES))
        page.locator("input[data-filter=overdue]").check()
        assert _count(page) == (int(late.sum()), int(late.sum()))
        _stage_boxes(page, set(STATUSES) - {"registered"})
        some = late & (truth["stage"] != "registered")
        assert _count(page) == (int(some.sum()), int(some.sum()))
        page.locator("input[data-filter=overdue]").uncheck()
        _stage_boxes(page, set(STATUSES))
        assert _count(page) == (len(truth), int(late.sum()))

        # an overdue marker, zoomed in on, looks apart: bigger, in a dark red square frame
        page.evaluate(
            """() => {
              for (const [key, layer] of Object.entries(window.gisgrid.layers)) {
                if (!key.startsWith("kind_")) continue;
                for (const m of layer.getLayers()) {
                  if (m.options.icon.options.html.classList.contains("gg-inc-overdue")) {
                    window.gisgrid.map.setView(m.getLatLng(), 18, {animate: false});
                    return;
                  }
                }
              }
            }"""
        )
        wait_until(page, "() => document.querySelector('.gg-inc-overdue') !== null")
        looks = page.evaluate(
            """() => {
              const style = (el) => { const s = getComputedStyle(el);
                return [s.borderTopWidth, s.borderTopColor, s.borderRadius, s.width]; };
              const late = document.querySelector('.gg-inc-overdue');
              const probe = document.createElement('div');
              probe.className = 'gg-inc';
              document.body.appendChild(probe);
              return [style(late), style(probe)];
            }"""
        )
        assert looks[0] != looks[1] and looks[0][1] == "rgb(103, 0, 13)", looks
        assert log.blocked == [] and log.errors == [], (log.blocked, log.errors)


def _township_truth(store: Any, township: str) -> pd.DataFrame:
    found = brute_cases(store, local_now())
    return found[[codes.township_of(g) == township for g in found["grid"]]]


def test_the_web_apps_incident_map_filters_within_its_policy(sample_gpkg_copy: str) -> None:
    store = open_store(sample_gpkg_copy)
    try:
        township = str(sorted(store.read("townships")["code"])[0])
        officer = make_account(sample_gpkg_copy, Role.TOWNSHIP, township)
        with gisgrid_server(sample_gpkg_copy) as base, chromium() as browser:
            cookies = session_cookies(sample_gpkg_copy, officer, base)
            for _ in range(3):  # the page reads the server's clock: the same before and after
                before = _township_truth(store, township)
                page, log = new_page(browser, cookies=cookies, viewport=DESKTOP)
                page.add_init_script(CSP_WATCH)
                page.goto(f"{base}/maps/incidents?township={township}")
                map_ready(page)
                after = _township_truth(store, township)
                if before["overdue"].equals(after["overdue"]):
                    break
            late = after["overdue"]
            assert 0 < late.sum() < len(after)
            assert _count(page) == (len(after), int(late.sum()))
            page.locator("input[data-filter=overdue]").check()
            assert _count(page) == (int(late.sum()), int(late.sum()))
            _stage_boxes(page, {"handling"})
            some = late & (after["stage"] == "handling")
            assert _count(page) == (int(some.sum()), int(some.sum()))
            assert page.evaluate("() => window.cspViolations || []") == []
            assert log.blocked == [] and log.errors == [], (log.blocked, log.errors)
            assert all(u.startswith(base) for u in log.requests), log.requests
    finally:
        store.close()
