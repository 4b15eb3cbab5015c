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
from browser import chromium, click_latlng, new_page, open_map

from gisgrid.analysis.checks.report import CHECKS, CheckReport, CheckResult
from gisgrid.cartography import build_map, save_map
from gisgrid.layers.kinds import INCIDENT_KINDS
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
def store(sample_gpkg: GeoPackageStore) -> GeoPackageStore:
    """The test sample county (30,000 households) in a GeoPackage store (read only)."""
    return sample_gpkg


@pytest.fixture(scope="module")
def report(sample_report: CheckReport) -> CheckReport:
    return sample_report


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


def _finding_popup(page: Any, check: str, code: str, at: list[float], zoom: int) -> str:
    """The text of a finding's popup, opened by a real click at its point."""
    page.evaluate(
        "([lat, lng, z]) => void window.gisgrid.map.setView([lat, lng], z, {animate: false})",
        [at[0], at[1], zoom],
    )
    page.evaluate("void window.gisgrid.map.closePopup()")
    page.wait_for_function("!document.querySelector('.leaflet-popup')")
    click_latlng(page, at[0], at[1])
    popup = page.locator(f'.leaflet-popup .gg-finding-{check}[data-code="{code}"]')
    popup.wait_for(state="visible", timeout=5_000)
    return str(popup.inner_text())


#: what a finding's popup must never show: field names, booleans, English level codes
RAW = re.compile(r"[a-z]+_[a-z_]+|\b(true|false|True|False|None|null|level\d)\b")


def test_finding_popups_speak_chinese(browser: Any, maps: dict[str, Path]) -> None:
    page, log = new_page(browser, viewport=DESKTOP)
    open_map(page, maps["coverage"])
    findings = page.evaluate("window.gisgrid.data.findings")
    first = {f["check"]: f for f in reversed(findings)}
    assert {"gaps", "overlaps", "nesting", "households_outside"} <= set(first)
    for f in findings:  # every finding's words, as the page has them
        for label, value in f["rows"]:
            assert not RAW.search(label) and not RAW.search(value), (f["check"], label, value)

    text = _finding_popup(page, "overlaps", first["overlaps"]["code"], first["overlaps"]["at"], 17)
    assert "层级\t三级网格" in text and "涉及网格\t" in text and "平方米" in text
    text = _finding_popup(page, "nesting", first["nesting"]["code"], first["nesting"]["at"], 17)
    assert "上级网格缺失\t否" in text and "越界面积\t" in text
    hh = first["households_outside"]
    text = _finding_popup(page, "households_outside", hh["code"], hh["at"], 17)
    assert "最近网格\t" in text and re.search(r"距离\t\d[\d,]* 米", text), text
    for text in page.locator(".leaflet-popup").all_inner_texts():
        assert not RAW.search(text), text
    _clean(log)


def test_finding_rows_word_every_field_a_drawn_finding_has(report: CheckReport) -> None:
    from gisgrid.cartography.data import findings_from_report
    from gisgrid.cartography.payload import FINDING_FIELDS, finding_rows

    found = findings_from_report(report)
    assert found
    for f in found:
        assert set(f.props) <= set(FINDING_FIELDS), set(f.props) - set(FINDING_FIELDS)
    rows = finding_rows({"level": "level3", "parent_missing": True, "distance_m": 123.4}, "zh", {})
    assert rows == [["层级", "三级网格"], ["上级网格缺失", "是"], ["距离", "123 米"]]
    rows = finding_rows({"codes": ["a", "b"], "area_m2": 6522.7}, "en", {"a": "A 组"})
    assert rows == [["Grids", "a (A 组), b"], ["Area", "6,523 m²"]]
    rows = finding_rows({"grid_code": "4306231", "area_m2": 12.5, "other": 1}, "zh", {})
    assert rows == [["网格编码", "4306231"], ["面积", "12 平方米"]]


def test_a_click_at_a_gap_opens_the_gap_and_the_household_there(
    browser: Any, maps: dict[str, Path]
) -> None:
    page, log = new_page(browser, viewport=DESKTOP)
    open_map(page, maps["coverage"])
    findings = page.evaluate("window.gisgrid.data.findings")
    gaps = [f for f in findings if f["check"] == "gaps"]
    outside = {f["code"]: f for f in findings if f["check"] == "households_outside"}
    assert len(gaps) == 3 and outside
    for gap in gaps:
        for zoom in (12, 14, 16):
            # a household planted in the gap: its mark lies on the gap's own ring, zoomed out
            px = page.evaluate(
                """([at, others, z]) => {
                    const m = window.gisgrid.map;
                    m.setView(at, z, {animate: false});
                    const p = m.latLngToContainerPoint(at);
                    return Math.min(...others.map(o => m.latLngToContainerPoint(o).distanceTo(p)));
                }""",
                [gap["at"], [f["at"] for f in outside.values()], zoom],
            )
            assert zoom > 14 or px < 11, (gap["code"], zoom, px)
            text = _finding_popup(page, "gaps", gap["code"], gap["at"], zoom)
            assert "覆盖空隙" in text and gap["code"] in text
    # and a household's own mark still opens the household
    hh = next(iter(outside.values()))
    text = _finding_popup(page, "households_outside", hh["code"], hh["at"], 16)
    assert hh["code"] in text
    _clean(log)


#: the county's bounds, the panel and the legend, in the map's own pixels
_LAYOUT_JS = """() => {
    const m = window.gisgrid.map, b = window.gisgrid.data.bounds;
    const c = m.getContainer().getBoundingClientRect();
    const box = (sel) => {
        const e = document.querySelector(sel);
        if (!e || e.offsetParent === null) return null;
        const r = e.getBoundingClientRect();
        return [r.left - c.left, r.top - c.top, r.right - c.left, r.bottom - c.top];
    };
    const sw = m.latLngToContainerPoint([b[1], b[0]]);
    const ne = m.latLngToContainerPoint([b[3], b[2]]);
    return {size: [c.width, c.height], county: [sw.x, ne.y, ne.x, sw.y],
            panel: box(".gg-panel"), legend: box(".gg-legend")};
}"""


def _overlap(a: list[float], b: list[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _check_layout(layout: dict[str, Any], where: str) -> None:
    w, h = layout["size"]
    county, panel, legend = layout["county"], layout["panel"], layout["legend"]
    assert panel is not None and legend is not None, where
    assert county[0] >= 0 and county[1] >= 0 and county[2] <= w and county[3] <= h, where
    assert not _overlap(county, panel), (where, county, panel)  # the east of the county shows
    assert not _overlap(county, legend), (where, county, legend)
    assert not _overlap(panel, legend), (where, panel, legend)
    assert panel[3] <= h and legend[3] <= h, where
    # and the county is not shrunk to a stamp: it fills the room left of the panel or the height
    assert county[2] - county[0] > 0.5 * (panel[0] - 10) or county[3] - county[1] > 0.8 * h


@pytest.mark.parametrize("kind", ["coverage", "incidents"])
def test_county_fits_beside_the_panel_and_the_legend_clears_it(
    browser: Any, maps: dict[str, Path], kind: str
) -> None:
    # the map page itself at 1440 x 900
    page, log = new_page(browser, viewport=DESKTOP)
    open_map(page, maps[kind])
    _check_layout(page.evaluate(_LAYOUT_JS), f"{kind} at 1440x900")
    _clean(log)
    # and as the dashboard shows it at 1440 x 900: in a frame beside the tables (700 x 648)
    frame_page = maps[kind].parent / f"frame-{kind}.html"
    frame_page.write_text(
        '<!doctype html><html><body style="margin:0;display:flex;gap:12px">'
        '<div style="flex:1 1 520px"></div><div style="flex:1 1 520px">'
        f'<iframe src="{maps[kind].name}" style="width:100%;height:72vh;border:0"></iframe>'
        "</div></body></html>",
        encoding="utf-8",
    )
    page, log = new_page(browser, viewport=DESKTOP)
    page.goto(frame_page.resolve().as_uri(), wait_until="load")
    frame = page.frames[1]
    frame.wait_for_function("window.gisgrid && window.gisgrid.ready === true", timeout=60_000)
    layout = frame.evaluate(_LAYOUT_JS)
    assert 600 < layout["size"][0] < 900, layout["size"]  # narrower than the old 900 px cut
    _check_layout(layout, f"{kind} in the dashboard's frame")
    _clean(log)


#: the township names shown, their boxes, and the boxes of the icons drawn under the names' pane
_NAMES_JS = """() => {
    const m = window.gisgrid.map;
    const c = m.getContainer().getBoundingClientRect();
    const box = (e) => {
        const r = e.getBoundingClientRect();
        return [r.left - c.left, r.top - c.top, r.right - c.left, r.bottom - c.top];
    };
    const z = (pane) => Number(getComputedStyle(m.getPane(pane)).zIndex);
    const icons = [...document.querySelectorAll(".leaflet-marker-pane .leaflet-marker-icon")];
    return {
        size: [c.width, c.height],
        names: [...document.querySelectorAll(".gg-label-township span")].map(
            (s) => [s.textContent, box(s)]),
        icons: icons.filter((e) => e.offsetParent !== null).map(box),
        labels_z: z("ggLabels"), markers_z: z("markerPane"), popups_z: z("popupPane"),
        panel: box(document.querySelector(".gg-panel")),
    };
}"""


@pytest.mark.parametrize("kind", ["coverage", "incidents"])
def test_every_township_is_named_at_the_opening_view_above_the_icons(
    browser: Any, maps: dict[str, Path], store: GeoPackageStore, kind: str
) -> None:
    townships = store.read("townships")
    page, log = new_page(browser, viewport=DESKTOP)
    open_map(page, maps[kind])
    seen = page.evaluate(_NAMES_JS)
    names = sorted(name for name, _box in seen["names"])
    assert names == sorted(townships["name"]), kind
    w, h = seen["size"]
    for name, (left, top, right, bottom) in seen["names"]:
        assert left >= 0 and top >= 0 and right <= w and bottom <= h, (name, kind)
        assert not _overlap([left, top, right, bottom], seen["panel"]), (name, kind)
    # names are drawn above every icon (a service point never hides a name), under popups
    assert seen["markers_z"] < seen["labels_z"] < seen["popups_z"], seen
    # and no two names sit on each other
    for (a, ba), (b, bb) in itertools.combinations(seen["names"], 2):
        assert not _overlap(ba, bb), (kind, a, b)
    shots = Path(__file__).resolve().parent.parent / "artifacts" / "maps"
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / f"names-{kind}-1440.png"))
    _clean(log)
