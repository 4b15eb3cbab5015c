"""Interactive maps (folium + Leaflet) that work offline: coverage, incidents, finder.

``build_map(kind, store, …)`` reads the area from a store and returns a folium map;
:func:`save_map` writes it with its assets beside it; :func:`render_page` gives the HTML
with assets under any URL prefix (the web app serves them from
:func:`~gisgrid.cartography.assets.install_assets`'s folder). Nothing on a page points
outside the machine unless the user chose a tile basemap.

The modules, one concept each: ``data`` (what a map shows, read from a store), ``styles``
(colours, indicator classes, detail, basemaps), ``payload`` (the JSON document a page
draws), ``maps/`` (coverage, incidents, finder: one module per map), ``page`` (the page
element, rendering and saving), ``assets`` (local copies of every script and style),
``encode`` (compact coordinates), ``i18n`` (labels), ``static/`` (the page script).
"""

from __future__ import annotations

import datetime as dt
import importlib
from typing import TYPE_CHECKING, Any

from gisgrid import codes as gridcodes
from gisgrid.errors import MapOptionError, OfflineAssetError, UnknownAreaError
from gisgrid.stores.base import Reader

if TYPE_CHECKING:  # imported on first use (below): a web server starts without folium
    import folium

    from gisgrid.cartography.assets import (
        ASSET_DIRNAME,
        asset_files,
        external_urls,
        install_assets,
    )
    from gisgrid.cartography.data import AreaData, load_area
    from gisgrid.cartography.maps import MAP_KINDS, coverage_map, finder_map, incident_map
    from gisgrid.cartography.page import Page, render_page, save_map
    from gisgrid.cartography.styles import INDICATORS, TILES

#: where each name this package exports lives; folium (a second to import, its templates
#: compiled) loads with the first of them a caller asks for, not with the package
_HOMES = {
    "ASSET_DIRNAME": "assets",
    "asset_files": "assets",
    "external_urls": "assets",
    "install_assets": "assets",
    "AreaData": "data",
    "check_report": "data",
    "load_area": "data",
    "MAP_KINDS": "maps",
    "coverage_map": "maps",
    "finder_map": "maps",
    "incident_map": "maps",
    "Page": "page",
    "render_page": "page",
    "save_map": "page",
    "INDICATORS": "styles",
    "TILES": "styles",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def county_name(store: Reader) -> str | None:
    """The county's name from the store's metadata (the sample county records it; the
    sample prefecture records the prefecture's)."""
    meta = store.get_meta("sample_manifest")
    if isinstance(meta, dict):
        county = meta.get("county") or meta.get("prefecture")
        if isinstance(county, dict) and county.get("name"):
            return str(county["name"])
    name = store.get_meta("county")
    return str(name) if isinstance(name, str) else None


def county_names(store: Reader) -> dict[str, str]:
    """The names of the store's counties by code, as its metadata record them (the sample
    county and the sample prefecture do); a county not named there is left out."""
    meta = store.get_meta("sample_manifest")
    out: dict[str, str] = {}
    if not isinstance(meta, dict):
        return out
    county = meta.get("county")
    if isinstance(county, dict) and county.get("code") and county.get("name"):
        out[str(county["code"])] = str(county["name"])
    counties = meta.get("counties")
    if isinstance(counties, dict):
        for code, value in counties.items():
            if isinstance(value, dict) and value.get("name"):
                out[str(code)] = str(value["name"])
    return out


def build_map(
    kind: str,
    store: Reader,
    *,
    township: str | None = None,
    village: str | None = None,
    grid: str | None = None,
    indicator: str = "households",
    tiles: str | None = None,
    lang: str = "zh",
    report: Any = "auto",
    as_of: dt.date | None = None,
    now: dt.datetime | None = None,
) -> folium.Map:
    """Build one of the maps from a store.

    Parameters
    ----------
    kind
        ``coverage``, ``incidents`` or ``finder``.
    store
        The store to read.
    township, village, grid
        At most one: the area (default: the whole county; the finder needs a village or
        grid).
    indicator
        The coverage map's first colouring of level-3 grids.
    tiles
        ``none`` (default), ``osm``, ``tianditu`` or ``custom`` (see
        :class:`gisgrid.settings.MapSettings`).
    lang
        ``zh`` (default) or ``en``.
    report
        The check report to draw on the coverage map: ``"auto"`` runs
        :func:`gisgrid.analysis.checks.check_store` when it is available, ``None`` draws none.
    as_of
        Draw the grids in force on this date, and put the points in them (default: today;
        the checks' findings are always of today's net).
    now
        The clock the cases are read on: their stage, whether they are overdue and how far
        up they escalated (default: now, county time).
    """
    from gisgrid.analysis.assign.current import current_grid_codes, grid_index
    from gisgrid.cartography.data import check_report, load_area
    from gisgrid.cartography.maps import MAP_KINDS, coverage_map, finder_map, incident_map

    if kind not in MAP_KINDS:
        raise MapOptionError(f"the map kinds are {', '.join(MAP_KINDS)}, not {kind!r}")
    if kind == "finder" and not (village or grid):
        raise MapOptionError("the finder is for one village or grid: give --village or --grid")
    if report == "auto":
        report = check_report(store) if kind == "coverage" else None
    data = load_area(
        store,
        township=township,
        village=village,
        grid=grid,
        report=report,
        as_of=as_of,
        now=now,
    )
    name = county_name(store)
    # a map of one county of a prefecture's store is titled with that county's name
    shown = set(gridcodes.counties_of(data.townships["code"]))
    if len(shown) == 1:
        name = county_names(store).get(str(shown.pop()), name)
    if kind == "coverage":
        return coverage_map(data, indicator=indicator, tiles=tiles, lang=lang, county_name=name)
    if kind == "incidents":
        return incident_map(data, tiles=tiles, lang=lang, county_name=name)
    # backbone households outside the area, with the grid covering them now (the one rule)
    linked = store.read("households", where={"backbone": True})
    level3 = store.read("grids", where={"level": 3})
    linked["grid_code"] = current_grid_codes(linked.geometry, grid_index(level3, as_of=as_of))
    return finder_map(data, tiles=tiles, lang=lang, all_households=linked)


__all__ = [
    "ASSET_DIRNAME",
    "INDICATORS",
    "MAP_KINDS",
    "TILES",
    "AreaData",
    "MapOptionError",
    "OfflineAssetError",
    "Page",
    "UnknownAreaError",
    "asset_files",
    "build_map",
    "county_name",
    "county_names",
    "coverage_map",
    "external_urls",
    "finder_map",
    "incident_map",
    "install_assets",
    "load_area",
    "render_page",
    "save_map",
]
