"""What a leader sees on the maps and in the check summary: readable words, nothing hidden.

The browser tests open the maps of the test county in real headless Chromium (see
``tests/browser.py``) at a desktop size and click or measure what is on the screen.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from browser import chromium, new_page, open_map

from gisgrid.analysis.checks import check_store
from gisgrid.analysis.checks.report import CHECKS, CheckReport, CheckResult
from gisgrid.cartography import build_map, save_map
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


def test_scale_bar_is_metric_only(browser: Any, maps: dict[str, Path]) -> None:
    for path in maps.values():
        page, log = new_page(browser, viewport=DESKTOP)
        open_map(page, path)
        lines = page.locator(".leaflet-control-scale-line")
        assert lines.count() == 1, path.name
        assert re.fullmatch(r"\d+ k?m", lines.inner_text().strip()), lines.inner_text()
        _clean(log)
