"""Size and load time of the county-wide coverage map (goals: under 5 MB, opens in under 3 s).

Builds the full sample county (150,000 households by default) into a temporary store, or
uses ``--store``, then measures in the same run:

* the baseline: folium's own GeoJson of the 2,860 raw level-3 polygons (what one gets
  without gisgrid's compact geometry), saved with the same local assets;
* gisgrid's county coverage map (all levels, indicators, service points, 150,000 households
  as dots on zoom, the check's findings).

For each: the HTML size, and the time headless Chromium (network blocked) takes from
navigation until the page is loaded and the map drawn, by the page's own clock (the end of
the 'load' event; for gisgrid's map also its ready time), median of five loads each,
alternating. Prints the figures and their ratios.

    .venv/bin/python bench/maps.py [--households N] [--store S] [--out DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import folium

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from browser import chromium, new_page

from gisgrid.cartography import ASSET_DIRNAME, build_map, save_map
from gisgrid.cartography.assets import OfflineFigure, install_assets, local_links
from gisgrid.sample import DEFAULT_HOUSEHOLDS, build_sample_county, write_sample_county
from gisgrid.stores import open_store
from gisgrid.stores.base import Store


def baseline_map(store: Store, path: Path) -> Path:
    """folium's GeoJson of the raw level-3 grids, with local assets (no gisgrid encoding)."""
    grids = store.read("grids", where={"level": 3})[["code", "name", "geometry"]]
    b = grids.total_bounds
    m = folium.Map(location=[(b[1] + b[3]) / 2, (b[0] + b[2]) / 2], zoom_start=10, tiles=None)
    m.options["maxZoom"] = 18
    m.default_js = local_links(["leaflet"])
    m.default_css = local_links(["leaflet_css"])
    figure = OfflineFigure(title="baseline")
    figure.add_child(m)
    folium.GeoJson(grids, tooltip=folium.GeoJsonTooltip(["code", "name"])).add_to(m)
    m.fit_bounds([[b[1], b[0]], [b[3], b[2]]])
    html = figure.render()
    install_assets(path.parent / ASSET_DIRNAME, figure.used_assets)
    path.write_text(html, encoding="utf-8")
    return path


def load_seconds(browser: Any, path: Path, ready: str | None) -> float:
    """Seconds from navigation until the page is loaded and the map drawn (page's clock).

    Measured by the page itself (``performance``: the end of the load event, and gisgrid's
    ready time), so the driver's own round trips do not count.
    """
    page, log = new_page(browser, viewport={"width": 1280, "height": 860})
    page.goto(path.resolve().as_uri(), wait_until="load", timeout=120_000)
    if ready:
        page.wait_for_function(ready, timeout=120_000)
    page.wait_for_function("performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
    ms = page.evaluate(
        """Math.max(performance.getEntriesByType('navigation')[0].loadEventEnd,
            (window.gisgrid && window.gisgrid.timing) ? window.gisgrid.timing.ready_ms : 0)"""
    )
    if log.blocked or log.errors:
        raise SystemExit(f"{path.name}: blocked {log.blocked[:3]}, errors {log.errors[:3]}")
    page.context.close()
    return float(ms) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=DEFAULT_HOUSEHOLDS)
    parser.add_argument("--store", help="use this store instead of building the sample county")
    parser.add_argument("--out", type=Path, help="keep the maps in this folder")
    parser.add_argument("--repeats", type=int, default=5, help="page loads of each map")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gisgrid-bench-maps-"))
    out = args.out or tmp
    out.mkdir(parents=True, exist_ok=True)
    if args.store:
        store = open_store(args.store)
    else:
        started = time.perf_counter()
        store = open_store(str(tmp / "county.gpkg"))
        write_sample_county(store, build_sample_county(households=args.households))
        print(
            f"sample county, {args.households:,} households: {time.perf_counter() - started:.0f} s"
        )
    n_households = store.count("households")
    n_grids = store.count("grids", where={"level": 3})

    started = time.perf_counter()
    base = baseline_map(store, out / "baseline-raw-grids.html")
    base_build = time.perf_counter() - started
    started = time.perf_counter()
    cover = save_map(build_map("coverage", store), out / "coverage.html")
    build = time.perf_counter() - started
    assets = sum(f.stat().st_size for f in (out / ASSET_DIRNAME).rglob("*") if f.is_file())

    ready = "window.gisgrid && window.gisgrid.ready === true"
    with chromium() as browser:
        load_seconds(browser, base, None)  # warm the browser up
        # alternate the two so that a busy moment of this shared machine hits both alike
        runs = [(load_seconds(browser, base, None), load_seconds(browser, cover, ready))
                for _ in range(args.repeats)]  # fmt: skip
    base_load = statistics.median(r[0] for r in runs)
    load = statistics.median(r[1] for r in runs)

    size, base_size = cover.stat().st_size, base.stat().st_size
    print(
        f"baseline: folium GeoJson of the {n_grids:,} raw level-3 grids: "
        f"{base_size / 1e6:.1f} MB, built in {base_build:.1f} s, drawn in {base_load:.2f} s"
    )
    print(
        f"gisgrid county coverage map ({n_grids:,} level-3 grids, all levels, "
        f"{n_households:,} households): {size / 1e6:.2f} MB "
        f"(+ {assets / 1e6:.2f} MB of shared assets beside it), built in {build:.1f} s, "
        f"drawn in {load:.2f} s"
    )
    print(
        f"ratio size: {size / base_size:.2f} of the baseline; "
        f"ratio load time: {load / base_load:.2f} of the baseline"
    )
    print(
        f"goals: under 5 MB: {'met' if size < 5e6 else 'NOT met'}; "
        f"opens in under 3 s: {'met' if load < 3 else 'NOT met'}"
    )
    print(f"maps in {out}")


if __name__ == "__main__":
    main()
