"""How maps look: kinds of map, indicators and their colours, detail, basemaps.

Colours and icons of service points and incidents, the class breaks of an indicator, how
finely an area is drawn (:class:`Detail`) and the basemap the user chose (:func:`tiles_for`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gisgrid.cartography import i18n
from gisgrid.errors import MapOptionError
from gisgrid.settings import MapSettings

INDICATORS = ("households", "linkage", "distance", "incidents", "overdue_cases")
TILES = ("none", "osm", "tianditu", "custom")
MAX_ZOOM = 18

#: indicator → (column in the payload, number format, palette, fixed breaks or None)
INDICATOR_STYLE: dict[str, tuple[str, str, tuple[str, ...], tuple[float, ...] | None]] = {
    "households": ("hh", "int", ("#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"), None),
    "linkage": (
        "link", "pct", ("#d7191c", "#fdae61", "#ffffbf", "#a6d96a", "#1a9641"),
        (0.5, 0.7, 0.85, 0.95),
    ),
    "distance": ("dist", "m", ("#feedde", "#fdbe85", "#fd8d3c", "#e6550d", "#a63603"), None),
    "incidents": ("inc", "int", ("#f2f0f7", "#cbc9e2", "#9e9ac8", "#756bb1", "#54278f"),
                  (1, 2, 3, 5)),
    "overdue_cases": ("late", "int", ("#fff5f0", "#fcbba1", "#fb6a4a", "#cb181d", "#67000d"),
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


def breaks(values: np.ndarray, fixed: tuple[float, ...] | None, kind: str) -> list[float]:
    """Class breaks of an indicator: ``fixed`` if given, else rounded quintiles of ``values``."""
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


__all__ = [
    "INDICATORS",
    "INDICATOR_STYLE",
    "MAX_ZOOM",
    "TILES",
    "Detail",
    "Tiles",
    "breaks",
    "tiles_for",
]
