"""A map as a page: the element that carries a map's payload, and the page written or served.

:class:`GisgridLayers` puts the payload into the page as a ``<script type="application/json">``
element and calls gisgrid's page script to draw it. :func:`render_page` gives the HTML with
its assets under any URL prefix; :func:`save_map` writes it with its assets beside it. Both
refuse a page that would load anything from outside the machine (see
:mod:`gisgrid.cartography.assets`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
from branca.element import Element
from folium.elements import JSCSSMixin
from folium.template import Template

from gisgrid.cartography.assets import (
    ASSET_DIRNAME,
    OfflineFigure,
    check_offline,
    install_assets,
    local_links,
)
from gisgrid.cartography.data import AreaData
from gisgrid.cartography.styles import MAX_ZOOM, Tiles
from gisgrid.errors import OfflineAssetError

#: characters that could end the script element or start markup, as JSON escapes
_SCRIPT_SAFE = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"))


def script_json(value: Any) -> str:
    """``value`` as JSON that is safe inside a ``<script>`` element.

    No ``<``, ``>`` or ``&`` is left, so no name (``</script><img …>``) can close the element
    or be read as markup; ``JSON.parse`` gives the same value back.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # str.replace scans for one character at C speed: a county's 1.5 MB in a millisecond
    # (str.translate with a table takes ~75 ms)
    for char, escape in _SCRIPT_SAFE:
        text = text.replace(char, escape)
    return text


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
        self.payload = script_json(payload)
        self.default_js = local_links(["gisgrid_js", *js])
        self.default_css = local_links(["gisgrid_css", *css])

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Add the links and the drawing call, and the data as a JSON script element."""
        super().render(**kwargs)
        figure: Any = self.get_root()
        # not through a template: branca would parse the data as a template again, braces and all
        figure.html.add_child(
            JsonScript(self.get_name(), self.payload), name=self.get_name() + "_data"
        )


class JsonScript(Element):
    """A ``<script type="application/json">`` element holding text from :func:`script_json`."""

    def __init__(self, element_id: str, text: str) -> None:
        super().__init__()
        if not element_id.replace("_", "").isalnum():
            raise ValueError(f"not an element id: {element_id!r}")
        if any(c in text for c in "<>&"):
            raise ValueError("the script's text must come from script_json")
        self.element_id = element_id
        self.text = text

    def render(self, **kwargs: Any) -> str:
        """The element, its text as it is."""
        return f'<script type="application/json" id="{self.element_id}">{self.text}</script>'


def new_map(data: AreaData, title: str, tiles: Tiles) -> folium.Map:
    """An empty folium map over the area, in a page titled ``title`` with local assets."""
    w, s, e, n = data.bounds
    m = folium.Map(
        location=[(s + n) / 2, (w + e) / 2],
        zoom_start=10,
        tiles=None,
        prefer_canvas=True,
        control_scale=False,  # the page script adds a metric-only scale bar
        attribution_control=bool(tiles.layers),
    )
    # with tiles=None folium gives no maxZoom, and Leaflet.markercluster then throws
    m.options["maxZoom"] = MAX_ZOOM
    m.options["minZoom"] = 7
    m.options["zoomSnap"] = 0.25
    m.default_js = local_links(["leaflet"])
    m.default_css = local_links(["leaflet_css"])
    figure = OfflineFigure(title=title, allowed_urls=tiles.allowed)
    figure.add_child(m)
    return m


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
    check_offline(html, figure.allowed_urls, "the map page")
    return Page(html, list(figure.used_assets))


def save_map(m: folium.Map, path: str | Path) -> Path:
    """Write the map to ``path`` with its assets in :data:`ASSET_DIRNAME` beside it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    page = render_page(m, ASSET_DIRNAME + "/")
    install_assets(path.parent / ASSET_DIRNAME, page.assets)
    path.write_text(page.html, encoding="utf-8")
    return path


__all__ = [
    "GisgridLayers",
    "JsonScript",
    "Page",
    "new_map",
    "render_page",
    "save_map",
    "script_json",
]
