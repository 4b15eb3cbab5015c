"""The three maps: coverage (leaders), incidents, household finder (field staff).

Each builder turns an :class:`~gisgrid.cartography.data.AreaData` into a folium map whose
layers are drawn by gisgrid's page script from one compact JSON document embedded in the
page (coordinates as delta strings, attributes as columns, popups built on click), so a
county-wide map of thousands of grids and 150,000 households stays a few megabytes and
opens in a second or two. :func:`render_page` and :func:`save_map` make the page with every
asset local (see :mod:`gisgrid.cartography.assets`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import folium
import numpy as np
import pandas as pd
import shapely
from branca.element import Element
from folium.elements import JSCSSMixin
from folium.template import Template
from shapely.ops import polylabel

from gisgrid.analysis.indicators import (
    SIX_NO_CATEGORIES,
    grid_indicators,
    in_net,
    six_no_status,
    village_indicators,
)
from gisgrid.cartography import i18n
from gisgrid.cartography.assets import (
    ASSET_DIRNAME,
    OfflineFigure,
    check_offline,
    icon_svg,
    install_assets,
    local_links,
)
from gisgrid.cartography.data import AreaData
from gisgrid.cartography.encode import Grid, encode_coords, encode_polygon, simplify_coverage
from gisgrid.cartography.settings import MapSettings
from gisgrid.errors import MapOptionError, OfflineAssetError
from gisgrid.layers.incidents import INCIDENT_KINDS, STATUSES
from gisgrid.layers.service_points import SERVICE_KINDS

MAP_KINDS = ("coverage", "incidents", "finder")
INDICATORS = ("households", "linkage", "distance", "incidents")
TILES = ("none", "osm", "tianditu", "custom")
MAX_ZOOM = 18

#: service point kinds: colour and Font Awesome icon
SERVICE_STYLE = {
    "township_centre": ("#7b3294", "landmark-flag"),
    "village_centre": ("#d6604d", "house-flag"),
    "elder_care": ("#e08214", "person-cane"),
    "volunteer_base": ("#1b7837", "handshake-angle"),
    "clinic": ("#2166ac", "house-medical"),
    "other": ("#666666", "location-dot"),
}
INCIDENT_COLOURS = {
    "dispute": "#1f78b4",
    "security": "#33a02c",
    "criminal": "#e31a1c",
    "safety": "#ff7f00",
    "environment": "#6a3d9a",
    "petition": "#b15928",
    "lawsuit": "#a6761d",
    "illegal_construction": "#e7298a",
    "overdue_loan": "#66a61e",
    "other": "#7f7f7f",
}
#: indicator → (column in the payload, number format, palette, fixed breaks or None)
_INDICATOR_STYLE: dict[str, tuple[str, str, tuple[str, ...], tuple[float, ...] | None]] = {
    "households": ("hh", "int", ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"), None),
    "linkage": (
        "link", "pct", ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"),
        (0.5, 0.7, 0.85, 0.95),
    ),
    "distance": ("dist", "m", ("#feedde", "#fdbe85", "#fd8d3c", "#e6550d", "#a63603"), None),
    "incidents": ("inc", "int", ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"),
                  (1, 2, 3, 5)),
}  # fmt: skip


@dataclass(frozen=True)
class Detail:
    """How finely a map draws: simplification (m), coordinate quantum (degrees), zooms."""

    tolerance_m: float
    quantum: float
    households_min_zoom: int

    @classmethod
    def for_scope(cls, scope: str, households: int) -> Detail:
        """County maps simplify more; households show as dots only when zoomed in."""
        if scope == "county":
            return cls(10.0, 2e-5, 15)
        return cls(2.0, 1e-5, 13 if households > 5000 else 0)


@dataclass
class Tiles:
    """A basemap chosen by the user: JSON for the page, and the URLs it may reach."""

    layers: list[dict[str, Any]] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)


def tiles_for(choice: str | None, lang: i18n.Lang) -> Tiles:
    """The basemap layers for ``--tiles`` (default from ``GISGRID_TILES``: none)."""
    settings = MapSettings()
    choice = choice or settings.tiles or "none"
    if choice not in TILES:
        raise MapOptionError(f"--tiles must be one of {', '.join(TILES)}, not {choice!r}")
    if choice == "none":
        return Tiles()
    if choice == "osm":
        url = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
        copy = "https://www.openstreetmap.org/copyright"
        attr = f'&copy; <a href="{copy}">OpenStreetMap</a>'
        name = "OpenStreetMap"
        return Tiles(
            [{"name": name, "url": url, "options": {"attribution": attr, "maxZoom": 19}}],
            [url, copy],
        )
    if choice == "tianditu":
        key = settings.tianditu_key
        if not key:
            raise MapOptionError("the Tianditu basemap needs a key: set GISGRID_TIANDITU_KEY")
        layers, allowed = [], ["https://www.tianditu.gov.cn"]
        for layer, label in (
            ("vec", ("天地图矢量", "Tianditu")),
            ("cva", ("天地图注记", "Labels")),
        ):
            url = (
                f"https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile"
                f"&VERSION=1.0.0&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles"
                f"&TILEMATRIX={{z}}&TILEROW={{y}}&TILECOL={{x}}&tk={key}"
            )
            layers.append(
                {
                    "name": label[0] if lang == "zh" else label[1],
                    "url": url,
                    "options": {
                        "subdomains": "01234567",
                        "maxZoom": 18,
                        "attribution": '&copy; <a href="https://www.tianditu.gov.cn">天地图</a>',
                    },
                }
            )
            allowed.append(url.split("{s}")[0])
        return Tiles(layers, allowed)
    if not settings.tiles_url:
        raise MapOptionError("the custom basemap needs GISGRID_TILES_URL (a {z}/{x}/{y} URL)")
    name = "底图" if lang == "zh" else "Basemap"
    return Tiles(
        [{"name": name, "url": settings.tiles_url,
          "options": {"attribution": settings.tiles_attribution, "maxZoom": MAX_ZOOM}}],
        [settings.tiles_url.split("{")[0]],
    )  # fmt: skip


# --- the page element ----------------------------------------------------------------------


class GisgridLayers(JSCSSMixin):
    """The layers of a gisgrid map: one JSON document and the call that draws it."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        window.gisgrid.build({{ this._parent.get_name() }},
            JSON.parse(document.getElementById({{ this.get_name()|tojson }}).textContent));
        {% endmacro %}
        """
    )

    def __init__(self, payload: dict[str, Any], js: Sequence[str], css: Sequence[str]) -> None:
        super().__init__()
        self._name = "GisgridLayers"
        text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        # nothing in the data may close the script element
        self.payload = text.replace("<", "\\u003c").replace(">", "\\u003e")
        self.default_js = local_links(["gisgrid_js", *js])
        self.default_css = local_links(["gisgrid_css", *css])

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Add the links and the drawing call, and the data as a JSON script element."""
        super().render(**kwargs)
        figure: Any = self.get_root()
        tag = f'<script type="application/json" id="{self.get_name()}">{self.payload}</script>'
        # raw: branca would parse a macro's output as a template again, braces and all
        figure.html.add_child(_Raw(tag), name=self.get_name() + "_data")


class _Raw(Element):
    """Text put into the page as it is (no template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def render(self, **kwargs: Any) -> str:
        """The text itself."""
        return self.text


def _new_map(data: AreaData, title: str, tiles: Tiles) -> folium.Map:
    w, s, e, n = data.bounds
    m = folium.Map(
        location=[(s + n) / 2, (w + e) / 2],
        zoom_start=10,
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
        attribution_control=bool(tiles.layers),
    )
    # with tiles=None folium gives no maxZoom, and Leaflet.markercluster then throws
    m.options["maxZoom"] = MAX_ZOOM
    m.options["minZoom"] = 7
    m.options["zoomSnap"] = 0.25
    m.default_js = local_links(["leaflet"])
    m.default_css = local_links(["leaflet_css"])
    figure = OfflineFigure(title=title)
    figure.add_child(m)
    m.allowed_urls = list(tiles.allowed)  # type: ignore[attr-defined]
    return m


# --- payload pieces ------------------------------------------------------------------------


def _none(values: Any) -> list[Any]:
    out: list[Any] = []
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT:
            out.append(None)
        elif isinstance(v, np.integer):
            out.append(int(v))
        elif isinstance(v, np.floating):
            out.append(float(v))
        elif isinstance(v, np.bool_):
            out.append(bool(v))
        else:
            out.append(v)
    return out


def _round(values: Any, digits: int) -> list[float | None]:
    return [None if v is None or not np.isfinite(v) else round(float(v), digits) for v in values]


def _polygons(geoms: Any, detail: Detail, grid: Grid, simplify: bool = True) -> list[Any]:
    arr = np.asarray(getattr(geoms, "values", geoms), dtype=object)
    if simplify:
        arr = simplify_coverage(arr, detail.tolerance_m)
    return [encode_polygon(g, grid) for g in arr]


_M_PER_DEG = 111_320.0


def _labels(geoms: Any, names: Sequence[str], font_px: float) -> list[list[Any]]:
    """``[lat, lng, min zoom, text]``: placed inside each area, shown once the name fits."""
    out: list[list[Any]] = []
    for geom, name in zip(getattr(geoms, "values", geoms), names, strict=True):
        parts = list(shapely.get_parts(geom))
        part = max(parts, key=lambda p: p.area)
        lat0 = part.centroid.y
        try:
            at = polylabel(part, tolerance=0.0005)
        except Exception:  # polylabel can fail on degenerate shapes
            at = part.point_on_surface()
        # typical width of the area in metres, and the label's width in pixels
        w = math.sqrt(part.area) * _M_PER_DEG * math.sqrt(math.cos(math.radians(lat0)))
        label_px = len(name) * font_px + 10
        metres_per_px_z0 = 156_543.03 * math.cos(math.radians(lat0))
        zoom = math.ceil(math.log2(max(label_px * metres_per_px_z0 / max(w, 1.0), 1.0)))
        out.append([round(at.y, 5), round(at.x, 5), int(min(max(zoom, 8), MAX_ZOOM)), name])
    return out


def _breaks(values: np.ndarray, fixed: tuple[float, ...] | None, kind: str) -> list[float]:
    if fixed is not None:
        return list(fixed)
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return [1.0]
    qs = np.quantile(v, [0.2, 0.4, 0.6, 0.8])
    step = 50.0 if kind == "m" else 1.0
    out: list[float] = []
    for q in qs:
        b = float(max(step, math.ceil(q / step) * step))
        if not out or b > out[-1]:
            out.append(b)
    return out


def _indicators(frame: pd.DataFrame, lang: i18n.Lang) -> list[dict[str, Any]]:
    out = []
    for key in INDICATORS:
        column, kind, palette, fixed = _INDICATOR_STYLE[key]
        source = {"hh": "households", "link": "linkage", "dist": "distance", "inc": "incidents"}
        breaks = _breaks(frame[source[column]].to_numpy(dtype=float), fixed, kind)
        colours = list(palette[len(palette) - len(breaks) - 1 :])
        out.append(
            {
                "key": key,
                "label": i18n.text(f"ind_{key}", lang),
                "column": column,
                "format": kind,
                "breaks": breaks,
                "colors": colours,
            }
        )
    return out


def _service_payload(data: AreaData, grid: Grid, lang: i18n.Lang) -> dict[str, Any]:
    sp = data.service_points
    kinds = list(SERVICE_KINDS)
    vnames = dict(zip(data.villages["code"], data.villages["name"], strict=True))
    xy = shapely.get_coordinates(sp.geometry.values)
    return {
        "id": list(sp["id"]),
        "kind": [kinds.index(k) if k in kinds else kinds.index("other") for k in sp["kind"]],
        "name": list(sp["name"]),
        "watcher": _none(sp["watcher"]),
        "village": [vnames.get(v) if isinstance(v, str) else None for v in sp["village_code"]],
        "xy": encode_coords(xy, grid),
    }


def _service_kinds(lang: i18n.Lang, data: AreaData | None = None) -> list[dict[str, Any]]:
    counts = data.service_points["kind"].value_counts() if data is not None else {}
    return [
        {
            "key": k,
            "label": i18n.service_label(k, lang),
            "color": SERVICE_STYLE[k][0],
            "icon": icon_svg(SERVICE_STYLE[k][1]),
            # a kind with a point in every village would bury a county map: zoom in first
            "min_zoom": 13 if int(counts.get(k, 0)) > 60 else 0,
        }
        for k in SERVICE_KINDS
    ]


def _icons() -> dict[str, dict[str, str]]:
    return {
        "warning": icon_svg("triangle-exclamation"),
        "search": icon_svg("magnifying-glass"),
        "locate": icon_svg("crosshairs"),
    }


def _common(data: AreaData, kind: str, title: str, tiles: Tiles, lang: i18n.Lang, grid: Grid
            ) -> dict[str, Any]:  # fmt: skip
    w, s, e, n = data.bounds
    return {
        "kind": kind,
        "lang": lang,
        "title": title,
        "t": i18n.strings(lang),
        "grid": grid.to_json(),
        "bounds": [round(w, 5), round(s, 5), round(e, 5), round(n, 5)],
        "tiles": tiles.layers,
        "icons": _icons(),
    }


def area_name(data: AreaData, lang: i18n.Lang) -> str:
    """The area's name: the county, a township, a village, or a grid."""
    if data.scope == "township" and len(data.townships):
        return str(data.townships["name"].iloc[0])
    if data.scope == "village" and len(data.villages):
        return str(data.villages["name"].iloc[0])
    if data.scope == "grid":
        g = data.grids[data.grids["code"] == data.scope_code]
        if len(g):
            return str(g["name"].iloc[0])
    return "全县" if lang == "zh" else "the county"


def _title(kind: str, data: AreaData, lang: i18n.Lang, county: str | None) -> str:
    where = area_name(data, lang)
    if data.scope == "county" and county:
        where = county
    return f"{i18n.text('title_' + kind, lang)} · {where}"


# --- the coverage map ----------------------------------------------------------------------


def coverage_map(
    data: AreaData,
    *,
    indicator: str = "households",
    tiles: str | None = None,
    lang: str = "zh",
    county_name: str | None = None,
) -> folium.Map:
    """The coverage map: levels as layers, level-3 grids coloured by ``indicator``.

    Parameters
    ----------
    data
        The area (see :func:`~gisgrid.cartography.data.load_area`).
    indicator
        One of :data:`INDICATORS`, or ``"none"``: the colouring shown first (the others are
        one click away in the layer panel).
    tiles
        Basemap: one of :data:`TILES` (default from ``GISGRID_TILES``: none).
    lang
        ``zh`` or ``en``.
    county_name
        Shown in the title of a county-wide map.
    """
    language = _lang(lang)
    if indicator not in (*INDICATORS, "none"):
        raise MapOptionError(f"--indicator must be one of {', '.join(INDICATORS)} or none")
    basemap = tiles_for(tiles, language)
    detail = Detail.for_scope(data.scope, len(data.households))
    grid = Grid.around(data.bounds, detail.quantum)
    title = _title("coverage", data, language, county_name)
    ind = grid_indicators(data)
    vind = village_indicators(data)

    def grid_table(level: int) -> dict[str, Any]:
        g = data.level(level)
        stats = ind.loc[g["code"]]
        out: dict[str, Any] = {
            "code": list(g["code"]),
            "name": list(g["name"]),
            "resp": _none(g["responsible_name"]),
            "phone": _none(g["responsible_phone"]),
            "role": _none(g["responsible_role"]),
            "hh": [int(v) for v in stats["households"]],
            "link": _round(stats["linkage"], 4),
            "geom": _polygons(g.geometry, detail, grid),
        }
        if level == 3:
            out["dist"] = _round(stats["distance"], 0)
            out["inc"] = [int(v) for v in stats["incidents"]]
        return out

    v = data.villages
    g1 = data.level(1).set_index("code")
    vstats = vind.loc[v["code"]]
    villages = {
        "code": list(v["code"]),
        "name": list(v["name"]),
        "township": list(v["township_code"]),
        "kind": list(v["kind"]),
        "credit": [bool(x) for x in v["credit_village"].fillna(False)],
        "resp": _none(g1["responsible_name"].reindex(v["code"])),
        "phone": _none(g1["responsible_phone"].reindex(v["code"])),
        "role": _none(g1["responsible_role"].reindex(v["code"])),
        "hh": [int(x) for x in vstats["households"]],
        "link": _round(vstats["linkage"], 4),
        "geom": _polygons(v.geometry, detail, grid),
        "label": _labels(v.geometry, list(v["name"]), 12),
    }
    t = data.townships
    by_township = pd.DataFrame(
        {"t": v["township_code"].to_numpy(), "hh": vstats["households"].to_numpy(),
         "net": vstats["linked"].to_numpy()}
    ).groupby("t")[["hh", "net"]].sum()  # fmt: skip
    tstats = by_township.reindex(t["code"]).fillna(0)
    townships = {
        "code": list(t["code"]),
        "name": list(t["name"]),
        "hh": [int(x) for x in tstats["hh"]],
        "link": _round(np.where(tstats["hh"] > 0, tstats["net"] / tstats["hh"].clip(lower=1),
                                np.nan), 4),
        "geom": _polygons(t.geometry, detail, grid),
        "label": _labels(t.geometry, list(t["name"]), 16),
    }  # fmt: skip
    hh_xy = shapely.get_coordinates(data.households.geometry.values)
    order = np.lexsort((hh_xy[:, 0], np.round(hh_xy[:, 1], 2)))  # short steps between neighbours
    payload = _common(data, "coverage", title, basemap, language, grid)
    payload.update(
        {
            "townships": townships,
            "villages": villages,
            "grids2": grid_table(2),
            "grids3": grid_table(3),
            "indicators": _indicators(ind[data.grids.set_index("code")["level"] == 3], language),
            "indicator": None if indicator == "none" else indicator,
            "service_kinds": _service_kinds(language, data),
            "service": _service_payload(data, grid, language),
            "households": {
                "xy": encode_coords(hh_xy[order], grid),
                "min_zoom": detail.households_min_zoom,
            },
            "findings": _findings(data, language),
        }
    )
    m = _new_map(data, title, basemap)
    m.add_child(GisgridLayers(payload, [], []))
    return m


def _findings(data: AreaData, lang: i18n.Lang) -> list[dict[str, Any]]:
    # findings are small (a gap may be a few metres wide): drawn at a 0.1 m quantum
    fine = Grid.around(data.bounds, 1e-6)
    out = []
    for f in data.findings:
        at = f.geometry.representative_point()
        item: dict[str, Any] = {
            "check": f.check,
            "at": [round(at.y, 6), round(at.x, 6)],
            "props": [[k, v] for k, v in f.props.items()],
            "code": str(f.props.get("grid_code") or f.props.get("id") or f.props.get("code") or ""),
        }
        if f.geometry.geom_type in ("Polygon", "MultiPolygon"):
            item["geom"] = encode_polygon(f.geometry, fine)
            item["grid"] = fine.to_json()
        out.append(item)
    return out


# --- the incident map ----------------------------------------------------------------------


def incident_map(
    data: AreaData, *, tiles: str | None = None, lang: str = "zh", county_name: str | None = None
) -> folium.Map:
    """Incidents clustered by kind, a heat layer, a month filter, each village's six-no status."""
    language = _lang(lang)
    basemap = tiles_for(tiles, language)
    detail = Detail.for_scope(data.scope, len(data.households))
    grid = Grid.around(data.bounds, detail.quantum)
    title = _title("incidents", data, language, county_name)
    inc = data.incidents.sort_values("reported_at").reset_index(drop=True)
    at = pd.to_datetime(inc["reported_at"])
    months_of = at.dt.strftime("%Y-%m")
    months = sorted(set(months_of))
    vcodes = list(data.villages["code"])
    vindex = {c: i for i, c in enumerate(vcodes)}
    kinds = list(INCIDENT_KINDS)
    cat_keys = list(SIX_NO_CATEGORIES)
    cat_of_kind = [
        next((cat_keys.index(c) for c, ks in SIX_NO_CATEGORIES.items() if k in ks), -1)
        for k in kinds
    ]
    v = data.villages
    payload = _common(data, "incidents", title, basemap, language, grid)
    payload.update(
        {
            "villages": {
                "code": vcodes,
                "name": list(v["name"]),
                "geom": _polygons(v.geometry, detail, grid),
                "label": _labels(v.geometry, list(v["name"]), 12),
            },
            "townships": {
                "code": list(data.townships["code"]),
                "name": list(data.townships["name"]),
                "geom": _polygons(data.townships.geometry, detail, grid),
            },
            "incident_kinds": [
                {"key": k, "label": i18n.incident_label(k, language), "color": INCIDENT_COLOURS[k]}
                for k in kinds
            ],
            "statuses": [i18n.status_label(s, language) for s in STATUSES],
            "months": months,
            "six_no": [
                {"key": c, "label": i18n.text(f"six_{c}", language)} for c in SIX_NO_CATEGORIES
            ],
            "six_no_of_kind": cat_of_kind,
            "incidents": {
                "id": list(inc["id"]),
                "kind": [kinds.index(k) for k in inc["kind"]],
                "status": [list(STATUSES).index(s) for s in inc["status"]],
                "month": [months.index(m) for m in months_of],
                "at": list(at.dt.strftime("%Y-%m-%d %H:%M")),
                "desc": _none(inc["description"]),
                "grid": _none(inc["grid_code"]),
                "village": [vindex.get(c, -1) if isinstance(c, str) else -1
                            for c in inc["village_code"]],
                "xy": encode_coords(shapely.get_coordinates(inc.geometry.values), grid),
            },
        }
    )  # fmt: skip
    m = _new_map(data, title, basemap)
    m.add_child(
        GisgridLayers(
            payload,
            ["markerclusterjs", "leaflet-heat.js"],
            ["markerclustercss", "markerclusterdefaultcss"],
        )
    )
    return m


# --- the household finder ------------------------------------------------------------------


def finder_map(
    data: AreaData, *, tiles: str | None = None, lang: str = "zh", all_households: Any = None
) -> folium.Map:
    """The household finder of one village or grid, for a phone.

    Parameters
    ----------
    data
        A village or grid area.
    all_households
        Households to look linked backbone households up in when they lie outside the area
        (default: only the area's).
    """
    language = _lang(lang)
    if data.scope not in ("village", "grid"):
        raise MapOptionError("the finder is for one village or grid: give --village or --grid")
    basemap = tiles_for(tiles, language)
    detail = Detail(1.0, 1e-5, 0)
    grid = Grid.around(data.bounds, detail.quantum)
    title = _title("finder", data, language, None)
    hh = data.households
    # backbone households the area's households link to, also when they live outside it
    missing = set(hh["backbone_id"].dropna()) - set(hh["id"])
    if missing and all_households is not None:
        extra = all_households[all_households["id"].isin(missing)]
        hh = pd.concat([hh, extra], ignore_index=True)
    hh = hh.reset_index(drop=True)
    index = {h: i for i, h in enumerate(hh["id"])}
    g3 = data.level(3)
    g3index = {c: i for i, c in enumerate(g3["code"])}
    ind = grid_indicators(data)
    v = data.villages
    payload = _common(data, "finder", title, basemap, language, grid)
    payload.update(
        {
            "village": {
                "code": list(v["code"]),
                "name": list(v["name"]),
                "geom": _polygons(v.geometry, detail, grid, simplify=False),
            },
            "grids2": {
                "code": list(data.level(2)["code"]),
                "geom": _polygons(data.level(2).geometry, detail, grid, simplify=False),
            },
            "grids3": {
                "code": list(g3["code"]),
                "name": list(g3["name"]),
                "resp": _none(g3["responsible_name"]),
                "phone": _none(g3["responsible_phone"]),
                "role": _none(g3["responsible_role"]),
                "hh": [int(x) for x in ind.loc[g3["code"], "households"]],
                "geom": _polygons(g3.geometry, detail, grid, simplify=False),
                "label": _labels(g3.geometry, list(g3["name"]), 11),
            },
            "households": {
                "id": list(hh["id"]),
                "name": list(hh["head_name"]),
                "num": _none(hh["house_number"]),
                "members": [int(x) for x in hh["members"]],
                "elderly": [int(x) for x in hh["elderly"]],
                "party": [int(bool(x)) for x in hh["party_member"].fillna(False)],
                "backbone": [int(bool(x)) for x in hh["backbone"].fillna(False)],
                "bb": [index.get(b, -1) if isinstance(b, str) else -1 for b in hh["backbone_id"]],
                "credit": _none(hh["credit_rating"]),
                "grid": [g3index.get(c, -1) if isinstance(c, str) else -1
                         for c in hh["grid_code"]],
                "xy": encode_coords(shapely.get_coordinates(hh.geometry.values), grid),
            },
            "service_kinds": _service_kinds(language),
            "service": _service_payload(data, grid, language),
        }
    )  # fmt: skip
    m = _new_map(data, title, basemap)
    m.add_child(GisgridLayers(payload, [], []))
    return m


def _lang(lang: str) -> i18n.Lang:
    try:
        return i18n.check_lang(lang)
    except ValueError as exc:
        raise MapOptionError(str(exc)) from None


# --- pages ---------------------------------------------------------------------------------


@dataclass
class Page:
    """A rendered map page and the assets it links to."""

    html: str
    assets: list[str]


def render_page(m: folium.Map, asset_base: str = ASSET_DIRNAME + "/") -> Page:
    """Render a gisgrid map to HTML whose assets load from ``asset_base``.

    Raises
    ------
    OfflineAssetError
        When the page would load anything from a non-local URL (other than the basemap the
        user chose).
    """
    figure = m.get_root()
    if not isinstance(figure, OfflineFigure):
        raise OfflineAssetError("not a gisgrid map: its figure does not localise its assets")
    figure.asset_base = asset_base if asset_base.endswith("/") else asset_base + "/"
    html = figure.render()
    check_offline(html, getattr(m, "allowed_urls", ()), "the map page")
    return Page(html, list(figure.used_assets))


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write the map to ``path`` with its assets in :data:`ASSET_DIRNAME` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_page(m, ASSET_DIRNAME + "/")
    install_assets(path.parent / ASSET_DIRNAME, page.assets)
    path.write_text(page.html, encoding="utf-8")
    return path


def household_net_share(households: pd.DataFrame) -> float:
    """Share of households in the party-member net (for summaries and tests)."""
    return float(in_net(households).mean()) if len(households) else float("nan")


__all__ = [
    "INDICATORS",
    "MAP_KINDS",
    "TILES",
    "GisgridLayers",
    "MapOptionError",
    "Page",
    "coverage_map",
    "finder_map",
    "incident_map",
    "render_page",
    "save_map",
    "six_no_status",
]
