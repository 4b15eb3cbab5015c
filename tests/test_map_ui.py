"""What a leader sees on the maps and in the check summary: readable words, nothing hidden.

The browser tests open the maps of the test county in real headless Chromium (see
``tests/browser.py``) at a desktop size and click or measure what is on the screen.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, new_page, open_map

from gisgrid.analysis.checks import check_store
from gisgrid.analysis.checks.report import CHECKS, CheckReport, CheckResult
from gisgrid.cartography import build_map, save_map
from gisgrid.layers.kinds import INCIDENT_KINDS
from gisgrid.sample import write_sample_county
from gisgrid.stores.geopackage import GeoPackageStore


def _report_with_nesting(*items: dict[str, object]) -> CheckReport:
    results = {name: CheckResult(name, []) for name in CHECKS}
    results["nesting"] = CheckResult("nesting", list(items))
    return CheckReport(results, {"as_of": "2026-11-30"})


def test_summary_says_the_parent_is_missing_not_outside() -> None:
    orphan = {
        "level": "level3",
        "code": "430623101001001001",
        "parent_code": "430623101001009",
        "parent_missing": True,
        "outside_area_m2": 5000.0,
        "into_codes": [],
    }
    astray = {
        "level": "level3",
        "code": "430623101001002001",
        "parent_code": "430623101001002",
        "parent_missing": False,
        "outside_area_m2": 700.0,
        "into_codes": [],
    }
    zh = _report_with_nesting(orphan, astray).summary("zh").splitlines()
    line = next(s for s in zh if orphan["code"] in s)
    assert "上级网格缺失" in line and "越出" not in line
    line = next(s for s in zh if astray["code"] in s)
    assert "越出 430623101001002" in line and "缺失" not in line
    en = _report_with_nesting(orphan).summary("en")
    assert "parent missing 430623101001009" in en and "outside 430623101001009" not in en


# --- the maps of the test county in Chromium -------------------------------------------------

DESKTOP = {"width": 1440, "height": 900}


@pytest.fixture(scope="module")
def store(sample_county: Any, tmp_path_factory: pytest.TempPathFactory) -> GeoPackageStore:
    """The test sample county (30,000 households) in a GeoPackage store."""
    out = GeoPackageStore(tmp_path_factory.mktemp("map_ui_store") / "county.gpkg")
    write_sample_county(out, sample_county)
    return out


@pytest.fixture(scope="module")
def report(store: GeoPackageStore) -> CheckReport:
    return check_store(store)


@pytest.fixture(scope="module")
def maps(
    store: GeoPackageStore, report: CheckReport, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """The county's coverage and incident maps, saved with their assets."""
    out = tmp_path_factory.mktemp("map_ui")
    return {
        "coverage": save_map(build_map("coverage", store, report=report), out / "coverage.html"),
        "incidents": save_map(build_map("incidents", store), out / "incidents.html"),
    }


@pytest.fixture(scope="module")
def browser() -> Any:
    with chromium() as b:
        yield b


def _clean(log: Any) -> None:
    assert log.blocked == [], log.blocked
    assert log.errors == [], log.errors


def _lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    """CIE L*a*b* (D65) of an sRGB colour."""
    lin = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in rgb]
    r, g, b = lin
    xyz = (
        (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047,
        0.2126 * r + 0.7152 * g + 0.0722 * b,
        (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883,
    )
    fx, fy, fz = (t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116 for t in xyz)
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _delta_e(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """How different two colours look (CIE76 ΔE; about 2.3 is just noticeable)."""
    return math.dist(_lab(a), _lab(b))


def test_delta_e_tells_greens_apart_from_blues() -> None:
    assert _delta_e((51, 160, 44), (102, 166, 30)) < 20  # the old 治安 and 逾期贷款 greens
    assert _delta_e((26, 152, 80), (31, 120, 180)) > 30


def test_scale_bar_is_metric_only(browser: Any, maps: dict[str, Path]) -> None:
    for path in maps.values():
        page, log = new_page(browser, viewport=DESKTOP)
        open_map(page, path)
        lines = page.locator(".leaflet-control-scale-line")
        assert lines.count() == 1, path.name
        assert re.fullmatch(r"\d+ k?m", lines.inner_text().strip()), lines.inner_text()
        _clean(log)


def test_incident_map_opens_without_heat_and_kinds_differ_from_six_no(
    browser: Any, maps: dict[str, Path]
) -> None:
    page, log = new_page(browser, viewport=DESKTOP)
    open_map(page, maps["incidents"])
    heat_on = "window.gisgrid.map.hasLayer(window.gisgrid.layers.heat)"
    assert not page.evaluate(heat_on)
    assert page.locator("canvas.leaflet-heatmap-layer").count() == 0
    page.locator('input[data-layer="heat"]').check()
    assert page.evaluate(heat_on)
    page.locator('input[data-layer="heat"]').uncheck()
    assert not page.evaluate(heat_on)
    # the legend's swatches as drawn: six-no status colours, then the incident kinds
    rows = page.evaluate(
        """() => {
            const out = [];
            let title = "";
            for (const node of document.querySelector(".gg-legend").children) {
                if (node.classList.contains("gg-legend-title")) {
                    title = node.textContent;
                    continue;
                }
                const rgb = getComputedStyle(node.querySelector(".gg-swatch")).backgroundColor;
                out.push([title, node.textContent, rgb.match(/\\d+/g).slice(0, 3).map(Number)]);
            }
            return out;
        }"""
    )
    six = {label: tuple(rgb) for title, label, rgb in rows if title == "六无创建状态"}
    kinds = {label: tuple(rgb) for title, label, rgb in rows if title == "事件类型"}
    assert len(six) == 4 and len(kinds) == len(INCIDENT_KINDS)
    for kind, colour in kinds.items():
        for status, status_colour in six.items():
            assert _delta_e(colour, status_colour) > 30, (kind, status)
    for (a, ca), (b, cb) in itertools.combinations(kinds.items(), 2):
        assert _delta_e(ca, cb) > 25, (a, b)
    _clean(log)
