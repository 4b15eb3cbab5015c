"""The maps: offline assets, compact geometry, and every map opened in real headless Chromium.

The browser tests open the saved maps from disk with every non-local request aborted (see
``tests/browser.py``), assert no console errors and no blocked requests, count what the page
drew against the store, click a grid and read its popup, filter incidents by month, search
a household in the finder on a phone-sized screen and see it highlighted, and "locate me".
Screenshots go to ``artifacts/maps/`` (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import folium
import numpy as np
import pandas as pd
import pytest
import shapely
from branca.colormap import LinearColormap
from browser import chromium, click_latlng, new_page, open_map
from folium.plugins import Fullscreen, HeatMap, MarkerCluster
from shapely.geometry import Polygon
from shapely.ops import polylabel

from gisgrid.analysis.indicators import grid_indicators, in_net, six_no_status
from gisgrid.cartography import (
    ASSET_DIRNAME,
    build_map,
    external_urls,
    load_area,
    render_page,
    save_map,
)
from gisgrid.cartography.assets import (
    ASSETS,
    NPM_FOLDER,
    NpmSource,
    OfflineFigure,
    install_assets,
    local_links,
)
from gisgrid.cartography.data import findings_from_report
from gisgrid.cartography.encode import (
    Grid,
    decode_coords,
    decode_ints,
    encode_coords,
    encode_ints,
    encode_polygon,
    simplify_coverage,
)
from gisgrid.cartography.payload import polygons
from gisgrid.cartography.styles import Detail
from gisgrid.errors import MapOptionError, OfflineAssetError, UnknownAreaError
from gisgrid.stores.geopackage import GeoPackageStore

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "maps"


# --- compact geometry ------------------------------------------------------------------------


def test_encoded_integers_round_trip() -> None:
    rng = np.random.default_rng(1)
    values = np.concatenate(
        [
            [0, 1, -1, 15, 16, -16, 31, 32, 511, 512, -512, 2**40, -(2**40)],
            rng.integers(-(2**45), 2**45, 5000),
            rng.integers(-40, 40, 5000),
        ]
    )
    text = encode_ints(values)
    assert text.isascii() and '"' not in text and "<" not in text
    assert decode_ints(text) == values.tolist()


def test_encoded_coordinates_are_within_half_a_quantum() -> None:
    rng = np.random.default_rng(2)
    xy = np.column_stack([rng.uniform(112.3, 112.9, 3000), rng.uniform(29.2, 29.8, 3000)])
    grid = Grid.around((112.3, 29.2, 112.9, 29.8), 1e-5)
    back = decode_coords(encode_coords(xy, grid), grid)
    assert np.abs(back - xy).max() <= 0.5e-5 + 1e-12
    # neighbours a few metres apart cost a few characters each, not a float's twenty
    near = np.cumsum(rng.normal(0, 2e-4, (3000, 2)), axis=0) + np.array([112.5, 29.5])
    assert len(encode_coords(near, grid)) < 3000 * 8


def test_coverage_simplification_keeps_shared_edges() -> None:
    # two squares sharing a wiggly edge of 200 vertices, in lon/lat near Huarong
    t = np.linspace(0, 1, 200)
    edge = [(112.5 + 0.0003 * np.sin(40 * v), 29.5 + 0.02 * v) for v in t]
    left = Polygon([(112.48, 29.5), *edge, (112.48, 29.52)])
    right = Polygon([*edge, (112.52, 29.52), (112.52, 29.5)])
    assert shapely.coverage_is_valid(np.array([left, right]))
    simple = simplify_coverage(np.array([left, right], dtype=object), 20.0)
    assert shapely.get_num_coordinates(simple).sum() < 0.5 * (
        shapely.get_num_coordinates(left) + shapely.get_num_coordinates(right)
    )
    assert shapely.coverage_is_valid(simple)  # no gap, no overlap between the two
    shared = shapely.intersection(simple[0], simple[1])
    assert shared.area == 0 and shared.length > 0.02


def test_polygons_keep_holes_and_parts() -> None:
    outer = shapely.box(112.40, 29.40, 112.50, 29.50)
    hole = shapely.box(112.44, 29.44, 112.46, 29.46)
    geom = shapely.MultiPolygon(
        [
            Polygon(outer.exterior.coords, [hole.exterior.coords]),
            shapely.box(112.6, 29.4, 112.7, 29.5),
        ]
    )
    grid = Grid.around((112.4, 29.4, 112.7, 29.5), 1e-5)
    enc = encode_polygon(geom, grid)
    assert [len(p) for p in enc] == [2, 1]
    rings = [Polygon(decode_coords(r, grid)) for r in (enc[0][0], enc[0][1], enc[1][0])]
    assert rings[0].symmetric_difference(outer).area < 1e-12
    assert rings[1].symmetric_difference(hole).area < 1e-12


# --- offline assets --------------------------------------------------------------------------


def _folium_map_with_plugins() -> folium.Map:
    """A folium map using the parts that link to CDNs by default: heat, clusters, branca."""
    m = folium.Map(location=[29.5, 112.5], zoom_start=10, tiles=None)
    m.options["maxZoom"] = 18
    m.default_js = local_links(["leaflet"])
    m.default_css = local_links(["leaflet_css"])
    OfflineFigure(title="t").add_child(m)
    HeatMap([[29.5, 112.5], [29.51, 112.52]]).add_to(m)
    cluster = MarkerCluster().add_to(m)
    folium.CircleMarker([29.5, 112.5]).add_to(cluster)
    LinearColormap(["#ffffff", "#ff0000"], vmin=0, vmax=10, caption="测试").add_to(m)
    return m


def test_folium_and_branca_links_become_local(tmp_path: Path) -> None:
    m = _folium_map_with_plugins()
    page = render_page(m, "gisgrid-assets/")
    # folium's CDN links and branca's hard-coded d3 are all replaced by local copies
    assert {"leaflet", "leaflet-heat.js", "markerclusterjs", "d3"} <= set(page.assets)
    assert external_urls(page.html) == []
    src = re.findall(r'<script src="([^"]+)"', page.html)
    css = re.findall(r'<link rel="stylesheet" href="([^"]+)"', page.html)
    assert src and css and all(u.startswith("gisgrid-assets/") for u in src + css)
    install_assets(tmp_path / ASSET_DIRNAME, page.assets)
    for url in src + css:
        assert (tmp_path / url).is_file(), url
    # the web app serves the same page under its own prefix
    served = render_page(m, "/static/vendor")
    assert '<script src="/static/vendor/xstatic-leaflet-' in served.html


def test_a_link_with_no_local_copy_is_refused() -> None:
    m = _folium_map_with_plugins()
    Fullscreen().add_to(m)  # folium links it from a CDN; gisgrid has no copy
    with pytest.raises(OfflineAssetError, match="no local copy"):
        render_page(m)


def test_every_local_asset_comes_from_an_installed_package(tmp_path: Path) -> None:
    used = {"leaflet", "leaflet_css", "markerclusterjs", "markerclustercss",
            "markerclusterdefaultcss", "leaflet-heat.js", "d3", "gisgrid_js",
            "gisgrid_css"}  # fmt: skip
    install_assets(tmp_path, used)
    for name in used:
        for rel, src in ASSETS[name].files():
            assert (tmp_path / rel).read_bytes() == src.read_bytes()
    assert (tmp_path / ASSETS["leaflet"].url).read_text().find("1.9.3") >= 0
    # style sheets only refer to files beside them (comments may cite a bug tracker)
    for css in tmp_path.rglob("*.css"):
        rules = re.sub(r"/\*.*?\*/", "", css.read_text(encoding="utf-8"), flags=re.S)
        assert external_urls(rules) == [], css
        for ref in re.findall(r"url\(\s*['\"]?([^'\")]+)", rules):
            assert ref.startswith(("#", "data:")) or (css.parent / ref).is_file(), ref


def test_the_editors_drawing_library_is_the_npm_package_pinned_by_the_lock_file(
    tmp_path: Path,
) -> None:
    lock = json.loads((NPM_FOLDER / "package-lock.json").read_text(encoding="utf-8"))
    pinned = lock["packages"]["node_modules/@geoman-io/leaflet-geoman-free"]["version"]
    geoman = ASSETS["geoman"].source
    assert isinstance(geoman, NpmSource)
    assert geoman.version == pinned
    install_assets(tmp_path, ["geoman", "geoman_css"])
    js = tmp_path / ASSETS["geoman"].url
    assert js.is_file() and "pm" in js.read_text(encoding="utf-8")[:2_000_000]
    assert ASSETS["geoman"].url.startswith(f"npm-geoman-io-leaflet-geoman-free-{pinned}/")
    # its style sheet draws its icons from data: URLs only (nothing fetched)
    css = (tmp_path / ASSETS["geoman_css"].url).read_text(encoding="utf-8")
    refs = re.findall(r"url\(\s*['\"]?([^'\")]+)", re.sub(r"/\*.*?\*/", "", css, flags=re.S))
    assert refs and all(ref.startswith(("data:", "#", "%23")) for ref in refs), refs


def test_an_npm_package_not_installed_is_a_clear_error_naming_the_set_up_command(
    tmp_path: Path,
) -> None:
    missing = NpmSource("@geoman-io/leaflet-geoman-free", "dist", root=tmp_path)
    for look in (lambda: missing.version, missing.base_dir, lambda: missing.folder):
        with pytest.raises(OfflineAssetError, match=r"not installed.*scripts/setup\.sh.*npm ci"):
            look()


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ('<script src="https://cdn.jsdelivr.net/npm/leaflet.js"></script>', 1),
        ("<link href='//cdnjs.cloudflare.com/x.css'>", 1),
        ("background: url(//example.com/a.png)", 1),
        ("@import 'http://example.com/a.css';", 1),
        ('<script src="gisgrid-assets/leaflet.js"></script> a // comment', 0),
        ('var tiles = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";', 0),
    ],
)
def test_external_urls_are_found(text: str, found: int) -> None:
    allowed = ["https://tile.openstreetmap.org/{z}/{x}/{y}.png"]
    assert len(external_urls(text, allowed)) == found


# --- the sample county as a store, and its maps ------------------------------------------------


@pytest.fixture(scope="module")
def sample_store(sample_gpkg: GeoPackageStore) -> GeoPackageStore:
    """The test sample county (30,000 households) in a GeoPackage store (read only)."""
    return sample_gpkg


@pytest.fixture(scope="module")
def report(sample_report: Any) -> Any:
    return sample_report


@pytest.fixture(scope="module")
def elder_village(sample_store: GeoPackageStore) -> str:
    """The village with the 岁月港湾 elder-care points."""
    points = sample_store.read("service_points", where={"kind": "elder_care"})
    return str(points["village_code"].dropna().iloc[0])


@pytest.fixture(scope="module")
def maps(
    sample_store: GeoPackageStore,
    report: Any,
    elder_village: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    """The maps of the test county, saved with their assets."""
    out = tmp_path_factory.mktemp("maps")
    specs: dict[str, tuple[str, dict[str, Any]]] = {
        "coverage": ("coverage", {"report": report}),
        "coverage_en": ("coverage", {"report": report, "lang": "en", "indicator": "linkage"}),
        "coverage_village": ("coverage", {"village": elder_village, "report": report}),
        "incidents": ("incidents", {}),
        "finder": ("finder", {"village": elder_village}),
    }
    return {
        name: save_map(build_map(kind, sample_store, **kw), out / f"{name}.html")
        for name, (kind, kw) in specs.items()
    }


@pytest.fixture(scope="module")
def browser() -> Any:
    with chromium() as b:
        yield b


def _payload(path: Path) -> dict[str, Any]:
    return _payload_of(path.read_text(encoding="utf-8"))


def _payload_of(html: str) -> dict[str, Any]:
    body = re.search(r'<script type="application/json" id="[^"]+">(.*?)</script>', html, re.S)
    assert body is not None
    return dict(json.loads(body.group(1)))


def test_saved_maps_reference_nothing_outside(maps: dict[str, Path]) -> None:
    for path in maps.values():
        html = path.read_text(encoding="utf-8")
        assert external_urls(html) == [], path.name
        for src in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert (path.parent / src).is_file(), src
    assert (next(iter(maps.values())).parent / ASSET_DIRNAME).is_dir()


def test_county_map_is_light(maps: dict[str, Path], sample_store: GeoPackageStore) -> None:
    size = maps["coverage"].stat().st_size
    assert size < 5_000_000
    # households are one compact string, not objects: well under 10 bytes each
    data = _payload(maps["coverage"])
    assert len(data["households"]["xy"]) < 10 * sample_store.count("households")
    assert "L.marker(" not in maps["coverage"].read_text(encoding="utf-8")


def test_a_map_of_the_kept_layers_is_the_map_of_the_store(
    sample_store: GeoPackageStore, report: Any
) -> None:
    """The web app draws its maps from the layers its state keeps (in memory, this data
    version): the very same page data as read from the store, for the county and a village."""
    from gisgrid.api.state import AppState

    state = AppState.load(sample_store)
    now = dt.datetime(2026, 11, 30, 9, 0)
    village = str(sample_store.read("villages")["code"].iloc[0])
    for kind, area in (("coverage", {}), ("incidents", {}), ("coverage", {"village": village})):
        report_kw = {"report": report} if kind == "coverage" else {}
        kept = build_map(kind, state.kept_reader(), now=now, **report_kw, **area)
        read = build_map(kind, sample_store, now=now, **report_kw, **area)
        assert _payload_of(render_page(kept).html) == _payload_of(render_page(read).html)


def test_encoded_polygons_are_kept_by_their_content() -> None:
    """Polygons encoded once are taken again only for the very same polygons on the same
    grid: a polygon changed (a write) is encoded anew, never answered from before."""
    detail = Detail.for_scope("county", 0)
    squares = [shapely.box(113.0 + i * 0.01, 29.0, 113.01 + i * 0.01, 29.01) for i in range(3)]
    grid = Grid.around((113.0, 29.0, 113.1, 29.1), detail.quantum)
    first = polygons(np.array(squares, dtype=object), detail, grid)
    assert polygons(np.array(squares, dtype=object), detail, grid) == first
    moved = [*squares[:2], shapely.box(113.02, 29.0, 113.03, 29.02)]  # the last one grew
    again = polygons(np.array(moved, dtype=object), detail, grid)
    assert again[2] != first[2]
    simple = simplify_coverage(np.array(moved, dtype=object), detail.tolerance_m)
    assert again == [encode_polygon(g, grid) for g in simple]  # as computed afresh


def test_indicators_agree_with_the_store(sample_store: GeoPackageStore) -> None:
    data = load_area(sample_store)
    ind = grid_indicators(data)
    hh = data.households
    assigned = hh["grid_code"].notna()
    level3 = data.grids.set_index("code")["level"] == 3
    assert ind.loc[level3, "households"].sum() == assigned.sum()
    code = hh.loc[assigned, "grid_code"].value_counts().index[0]
    mine = hh[hh["grid_code"] == code]
    assert ind.loc[code, "households"] == len(mine)
    assert ind.loc[code, "linkage"] == pytest.approx(in_net(mine).mean())
    assert ind.loc[code[:12], "households"] == hh["grid_code"].str[:12].eq(code[:12]).sum()
    assert (ind.loc[level3, "distance"] >= 0).all()


def test_township_and_grid_maps_hold_their_area(sample_store: GeoPackageStore) -> None:
    villages = sample_store.read("villages")
    township = str(villages["township_code"].iloc[0])
    mine = villages[villages["township_code"] == township]
    m = build_map("coverage", sample_store, township=township, report=None)
    data = _payload_of(render_page(m).html)
    assert data["villages"]["code"] == sorted(mine["code"])
    assert data["townships"]["code"] == [township]
    area = load_area(sample_store, township=township)
    assigned = area.households["grid_code"].dropna()
    assert len(assigned) and assigned.str[:12].isin(set(mine["code"])).all()
    assert sum(data["grids3"]["hh"]) == len(assigned)
    # a level-2 grid: its level-3 grids, their households, the backbones they link to
    code = str(sample_store.read("grids", where={"level": 2})["code"].iloc[5])
    area = load_area(sample_store, grid=code)
    assert set(area.grids["code"].str[:15]) == {code}
    assert area.households["grid_code"].str.startswith(code).all()
    finder = _payload_of(render_page(build_map("finder", sample_store, grid=code)).html)
    ids, bb = finder["households"]["id"], finder["households"]["bb"]
    linked = area.households.dropna(subset=["backbone_id"])
    assert len(linked)
    for hid, backbone in zip(linked["id"], linked["backbone_id"], strict=True):
        assert ids[bb[ids.index(hid)]] == backbone


def test_findings_come_from_the_check_report(report: Any) -> None:
    findings = findings_from_report(report)
    as_dict = report.to_dict()
    for check in ("gaps", "overlaps", "nesting", "households_outside"):
        drawable = [i for i in as_dict[check]["items"] if i.get("geometry")]
        assert sum(f.check == check for f in findings) == len(drawable) > 0
    # the same from the JSON text, and from a report listing its checks
    assert len(findings_from_report(report.to_json())) == len(findings)
    triangle = [[[112.5, 29.5], [112.501, 29.5], [112.5, 29.501], [112.5, 29.5]]]
    listed = {"checks": [{"name": "gaps", "count": 1, "items": [
        {"grid_code": "4306231", "area_m2": 12.5,
         "geometry": {"type": "Polygon", "coordinates": triangle}}
    ]}]}  # fmt: skip
    (only,) = findings_from_report(listed)
    assert only.check == "gaps" and only.props == {"grid_code": "4306231", "area_m2": 12.5}


def test_map_options_are_checked(sample_store: GeoPackageStore, monkeypatch: Any) -> None:
    with pytest.raises(MapOptionError, match="finder"):
        build_map("finder", sample_store)
    with pytest.raises(MapOptionError, match="kinds"):
        build_map("pie", sample_store)
    with pytest.raises(UnknownAreaError, match="999"):
        build_map("coverage", sample_store, village="430623999999", report=None)
    with pytest.raises(MapOptionError, match="indicator"):
        build_map("coverage", sample_store, village="430623101001", indicator="x", report=None)
    monkeypatch.delenv("GISGRID_TIANDITU_KEY", raising=False)
    with pytest.raises(MapOptionError, match="GISGRID_TIANDITU_KEY"):
        build_map("finder", sample_store, village="430623101001", tiles="tianditu")


def test_a_chosen_basemap_is_the_only_outside_url(
    sample_store: GeoPackageStore, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("GISGRID_TIANDITU_KEY", "testkey")
    for tiles, host in (("osm", "openstreetmap.org"), ("tianditu", "tianditu.gov.cn")):
        m = build_map("finder", sample_store, village="430623101001", tiles=tiles)
        html = save_map(m, tmp_path / f"{tiles}.html").read_text(encoding="utf-8")
        urls = external_urls(html)
        assert urls and all(host in u for u in urls), urls
        assert external_urls(html, m.get_root().allowed_urls) == []


def test_gisgrid_map_command(
    sample_store: GeoPackageStore, run_gisgrid: Any, tmp_path: Path
) -> None:
    out = tmp_path / "out" / "v.html"
    done = run_gisgrid(
        "map", "coverage", "--village", "430623101001", "--indicator", "distance",
        "--lang", "en", "--out", out, store=sample_store.path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "map written to" in done.stdout
    assert (out.parent / ASSET_DIRNAME).is_dir()
    data = _payload(out)
    assert data["indicator"] == "distance" and data["lang"] == "en"
    bad = run_gisgrid("map", "finder", "--out", tmp_path / "f.html", store=sample_store.path)
    assert bad.returncode == 2 and "--village" in bad.stderr
    bad = run_gisgrid("map", "coverage", "--tiles", "google", "--out", out, store=sample_store.path)
    assert bad.returncode == 2 and "--tiles" in bad.stderr


# --- in Chromium, network blocked -------------------------------------------------------------


def _screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # let an opening popup finish fading in, so the picture shows it as a user sees it
    page.wait_for_function(
        "[...document.querySelectorAll('.leaflet-popup')]"
        ".every(p => getComputedStyle(p).opacity === '1')"
    )
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def _clean(log: Any) -> None:
    assert log.blocked == [], log.blocked
    assert log.errors == [], log.errors
    assert log.requests and all(u.startswith("file://") for u in log.requests)


def test_the_browser_blocks_and_records_the_network(browser: Any, tmp_path: Path) -> None:
    # the harness itself: a page reaching outside is caught, so a clean log means something
    page_file = tmp_path / "online.html"
    page_file.write_text(
        '<html><head><script src="https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js">'
        "</script></head><body><script>window.gisgrid = {ready: true};"
        "fetch('http://example.com/x').catch(() => {"
        "console.error('fetch failed'); window.fetched = true; });</script>"
        "</body></html>",
        encoding="utf-8",
    )
    page, log = new_page(browser)
    open_map(page, page_file)
    page.wait_for_function("window.fetched === true")
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js" in log.blocked
    assert "http://example.com/x" in log.blocked
    assert any("fetch failed" in e for e in log.errors)


def test_coverage_map_in_chromium(
    browser: Any, maps: dict[str, Path], sample_store: GeoPackageStore, report: Any
) -> None:
    page, log = new_page(browser, viewport={"width": 1280, "height": 860})
    open_map(page, maps["coverage"])
    counts = page.evaluate("window.gisgrid.counts")
    grids = sample_store.read("grids")
    assert counts["townships"] == sample_store.count("townships") == 14
    assert counts["villages"] == sample_store.count("villages")
    assert counts["grids2"] == (grids["level"] == 2).sum()
    assert counts["grids3"] == (grids["level"] == 3).sum()
    assert counts["households"] == sample_store.count("households")
    points = sample_store.read("service_points")
    assert counts["service_points"] == len(points)
    for kind, n in points["kind"].value_counts().items():
        assert counts[f"service_{kind}"] == n
    checks = report.to_dict()
    for check in ("gaps", "overlaps", "nesting", "households_outside"):
        assert counts[f"check_{check}"] == checks[check]["count"]
    # the layers drawn on the map are the ones the panel says
    drawn = page.evaluate(
        """Object.fromEntries(Object.entries(window.gisgrid.layers).map(([k, l]) =>
            [k, window.gisgrid.map.hasLayer(l) ? (l.getLayers ? l.getLayers().length : 1) : 0]))"""
    )
    assert drawn["grids3"] == counts["grids3"] and drawn["townships"] == 14
    assert page.locator(".gg-panel").get_by_text("三级网格").first.is_visible()
    _screenshot(page, "coverage-county")

    # click a staffed level-3 grid with households, and read its popup
    data = load_area(sample_store)
    ind = grid_indicators(data)
    g3 = data.level(3).set_index("code")
    staffed = g3[g3["responsible_name"].notna() & g3["responsible_phone"].notna()]
    code = str(ind.loc[staffed.index, "households"].idxmax())
    grid = g3.loc[code]
    inside = polylabel(max(shapely.get_parts(grid.geometry), key=lambda p: p.area), 1e-5)
    b = grid.geometry.bounds
    page.evaluate(
        f"void window.gisgrid.map.fitBounds([[{b[1]}, {b[0]}], [{b[3]}, {b[2]}]], "
        "{animate: false})"
    )
    page.evaluate(
        "void window.gisgrid.map.eachLayer(l => { if (l instanceof L.Marker) l.remove(); })"
    )
    click_latlng(page, inside.y, inside.x)
    popup = page.locator(f'.gg-popup.gg-grid-3[data-code="{code}"]')
    popup.wait_for(state="visible")
    text = popup.inner_text()
    assert code in text and grid["name"] in text
    assert grid["responsible_name"] in text and grid["responsible_phone"] in text
    assert f"农户数\t{ind.loc[code, 'households']}" in text
    assert f"{ind.loc[code, 'linkage'] * 100:.1f}%" in text
    _screenshot(page, "coverage-grid-popup")

    # households appear as dots once zoomed in: exactly those in view
    page.evaluate(
        f"void window.gisgrid.map.setView([{inside.y}, {inside.x}], 16, {{animate: false}})"
    )
    shown = page.evaluate("window.gisgrid.layers.households.shown")
    view = page.evaluate("window.gisgrid.map.getBounds().toBBoxString()")
    w, s, e, n = map(float, view.split(","))
    # the page draws the coordinates as rounded in it (2 m on a county map): count those
    drawn_data = _payload(maps["coverage"])
    q, (ox, oy) = drawn_data["grid"]["q"], drawn_data["grid"]["o"]
    xy = decode_coords(drawn_data["households"]["xy"], Grid(q, ox, oy))
    assert len(xy) == sample_store.count("households")
    inview = ((xy[:, 0] >= w) & (xy[:, 0] <= e) & (xy[:, 1] >= s) & (xy[:, 1] <= n)).sum()
    assert shown == inview > 0

    # another indicator, chosen in the panel: the legend follows
    page.locator('input[name="gg-indicator"][value="linkage"]').check()
    assert page.evaluate("window.gisgrid.indicator") == "linkage"
    assert "联户率" in page.locator(".gg-legend").inner_text()
    _clean(log)


def test_english_coverage_map(browser: Any, maps: dict[str, Path]) -> None:
    page, log = new_page(browser, viewport={"width": 1000, "height": 700})
    open_map(page, maps["coverage_en"])
    panel = page.locator(".gg-panel").inner_text()
    assert "Level-3 grids" in panel and "Service points" in panel
    assert "Linked to a backbone household" in page.locator(".gg-legend").inner_text()
    _screenshot(page, "coverage-english")
    _clean(log)


def test_village_coverage_map_shows_its_households(
    browser: Any, maps: dict[str, Path], sample_store: GeoPackageStore, elder_village: str
) -> None:
    page, log = new_page(browser, viewport={"width": 1000, "height": 800})
    open_map(page, maps["coverage_village"])
    counts = page.evaluate("window.gisgrid.counts")
    grids = sample_store.read("grids", where={"village_code": elder_village})
    assert counts["villages"] == 1
    assert counts["grids3"] == (grids["level"] == 3).sum()
    data = load_area(sample_store, village=elder_village)
    assert counts["households"] == len(data.households)
    # a village map draws its households at once
    assert page.evaluate("window.gisgrid.layers.households.shown") == len(data.households)
    assert counts["service_elder_care"] == 4
    _screenshot(page, "coverage-village")
    _clean(log)


def test_incident_map_in_chromium(
    browser: Any, maps: dict[str, Path], sample_store: GeoPackageStore
) -> None:
    page, log = new_page(browser, viewport={"width": 1280, "height": 860})
    open_map(page, maps["incidents"])
    incidents = sample_store.read("incidents")
    counts = page.evaluate("window.gisgrid.counts")
    assert counts["incidents"] == counts["incidents_shown"] == len(incidents)
    for kind, n in incidents["kind"].value_counts().items():
        assert counts[f"kind_{kind}"] == n
    _screenshot(page, "incidents-all")

    # one month, chosen in the filter: the clusters, heat and six-no status follow
    data = load_area(sample_store)
    month = pd.to_datetime(data.incidents["reported_at"]).dt.strftime("%Y-%m")
    busiest = str(month.value_counts().idxmax())
    page.locator('select[data-filter="month"]').select_option(label=busiest)
    counts = page.evaluate("window.gisgrid.counts")
    assert page.evaluate("window.gisgrid.month") == busiest
    assert counts["incidents_shown"] == (month == busiest).sum() < len(incidents)
    in_month = data.incidents[(month == busiest).to_numpy()]
    dispute = page.locator('label:has(input[data-layer="kind_dispute"]) .gg-count')
    assert dispute.inner_text() == str((in_month["kind"] == "dispute").sum())
    six = six_no_status(data.incidents[month == busiest], list(data.villages["code"]))
    assert counts["six_no_failing"] == (six.sum(axis=1) > 0).sum() > 0
    year = six_no_status(data.incidents, list(data.villages["code"]))
    failing = str(year.sum(axis=1).idxmax())
    _screenshot(page, "incidents-month")

    # a village's six-no popup lists its incidents by category (all months)
    page.locator('select[data-filter="month"]').select_option(value="")
    village = data.villages.set_index("code").loc[failing]
    inside = polylabel(max(shapely.get_parts(village.geometry), key=lambda p: p.area), 1e-5)
    b = village.geometry.bounds
    page.evaluate(
        f"void window.gisgrid.map.fitBounds([[{b[1]}, {b[0]}], [{b[3]}, {b[2]}]], "
        "{animate: false})"
    )
    for layer in ("heat", *(f"kind_{k}" for k in incidents["kind"].unique())):
        page.locator(f'input[data-layer="{layer}"]').uncheck()
    click_latlng(page, inside.y, inside.x)
    popup = page.locator(f'.gg-six-no[data-code="{failing}"]')
    popup.wait_for(state="visible")
    assert "有六类事件" in popup.inner_text()
    assert f"违法建设\t{year.loc[failing, 'illegal_construction']}" in popup.inner_text()
    _clean(log)


def test_finder_on_a_phone(
    browser: Any, maps: dict[str, Path], sample_store: GeoPackageStore, elder_village: str
) -> None:
    data = load_area(sample_store, village=elder_village)
    hh = data.households
    g3 = data.level(3).set_index("code")
    # a linked household with a name no one else in the village has
    unique = hh[~hh["head_name"].duplicated(keep=False) & hh["backbone_id"].notna()]
    target = unique.iloc[len(unique) // 2]
    backbone = hh.set_index("id").loc[target["backbone_id"]]
    grid = g3.loc[target["grid_code"]]
    # stand inside a grid: the phone reports it
    here_code = str(g3.index[len(g3) // 2])
    here = polylabel(max(shapely.get_parts(g3.loc[here_code].geometry), key=lambda p: p.area))
    page, log = new_page(
        browser,
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        geolocation={"latitude": here.y, "longitude": here.x, "accuracy": 12},
        permissions=["geolocation"],
    )
    open_map(page, maps["finder"])
    assert page.evaluate("window.gisgrid.counts.households") >= len(hh)
    box = page.locator(".gg-search").bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390  # fits the phone's screen
    _screenshot(page, "finder-phone")

    page.locator(".gg-search input").fill(target["head_name"])
    page.locator(".gg-search input").press("Enter")
    popup = page.locator(f'.gg-household[data-id="{target["id"]}"]')
    popup.wait_for(state="visible")
    text = popup.inner_text()
    assert backbone["head_name"] in text  # its backbone household
    assert grid["name"] in text and str(grid["responsible_name"]) in text
    assert page.locator(".gg-nearest li").count() == 3
    # highlighted where the household is, with its link line drawn
    selected = page.evaluate("window.gisgrid.selected")
    assert selected["id"] == target["id"] and selected["lines"] == 1
    ring = page.locator("path.gg-highlight")
    assert ring.count() == 1
    # the map pans to the household: wait until the ring's centre sits on the household's
    # point (both in page coordinates), within 3 px; a misplaced ring never gets there
    page.wait_for_function(
        """([lat, lng]) => {
            const m = window.gisgrid.map;
            const ring = document.querySelector("path.gg-highlight").getBoundingClientRect();
            const box = m.getContainer().getBoundingClientRect();
            const p = m.latLngToContainerPoint([lat, lng]);
            return Math.abs(ring.x + ring.width / 2 - (p.x + box.left)) < 3
                && Math.abs(ring.y + ring.height / 2 - (p.y + box.top)) < 3;
        }""",
        arg=[target.geometry.y, target.geometry.x],
        timeout=10_000,
    )
    _screenshot(page, "finder-phone-found")

    # by house number too
    page.locator(".gg-search input").fill(str(backbone["house_number"]))
    page.locator(".gg-search input").press("Enter")
    page.locator(f'.gg-household[data-id="{backbone.name}"]').wait_for(state="visible")

    # locate me: the phone's position, its grid and the person responsible
    page.locator(".gg-locate").click()
    me = page.locator(".gg-me")
    me.wait_for(state="visible")
    assert me.get_attribute("data-grid") == here_code
    assert str(g3.loc[here_code, "name"]) in me.inner_text()
    _screenshot(page, "finder-phone-located")
    _clean(log)
