"""Offline front-end assets: where each file comes from, and how a map page links to it.

A county intranet has no internet, so no map page may load anything from a CDN. Every
script and style sheet a map needs comes from a package installed by the set-up command:

* Leaflet 1.9.3 (the version folium uses) from PyPI ``XStatic-Leaflet``;
* Leaflet.markercluster from PyPI ``XStatic-Leaflet-MarkerCluster``;
* Leaflet.heat from folium's own wheel (``folium/templates/leaflet_heat.min.js``);
* d3 (used by branca's colour-map legends) from PyPI ``XStatic-D3``;
* the icon shapes (SVG paths) from PyPI ``XStatic-Font-Awesome``, inlined into the page;
* gisgrid's own map script and style sheet, shipped in this package (``static/``);
* Leaflet-Geoman (the grid editor's drawing tools) and protomaps-leaflet (the net's map
  drawn from vector tiles, ``/tiles``) from the npm registry: the package folder ``web/`` of
  a checkout pins them (``package.json`` and ``package-lock.json``), the set-up command
  installs them there with ``npm ci`` (:class:`NpmSource`), never a CDN.

folium and branca name each link they add to a page (``default_js``/``default_css`` pairs,
and branca's colour map adds ``d3`` by a URL hard-coded in its ``render``). An
:class:`OfflineFigure` renders the page, then replaces every such link by the local copy of
the asset with that name, and refuses a link it has no local copy for. The rendered page is
then scanned for any remaining non-local URL (:func:`external_urls`).

Assets are copied next to a saved map (:func:`install_assets`, folder
:data:`ASSET_DIRNAME`) or served by the web app from the same folder under a URL prefix.
"""

from __future__ import annotations

import html
import importlib
import importlib.metadata
import json
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from branca.element import CssLink, Figure, JavascriptLink, Link

from gisgrid.errors import OfflineAssetError

#: folder written next to a saved map, holding the assets it links to
ASSET_DIRNAME = "gisgrid-assets"
_STATIC = Path(__file__).resolve().parent / "static"
#: the npm package folder of a checkout: browser libraries installed by ``npm ci`` at set-up
NPM_FOLDER = Path(__file__).resolve().parents[2] / "web"
#: what installs the npm packages (named by the error when they are missing)
NPM_SETUP = "scripts/setup.sh (./run setup), which runs npm ci in web/"


@dataclass(frozen=True)
class Source:
    """A package whose files provide assets.

    Parameters
    ----------
    distribution
        The installed distribution (for its version and for messages), e.g. ``XStatic-Leaflet``.
    module
        Module whose ``BASE_DIR`` (XStatic) or whose folder holds the files.
    subdir
        Folder inside the module's folder (when the module has no ``BASE_DIR``).
    """

    distribution: str
    module: str
    subdir: str = ""

    @property
    def version(self) -> str:
        """The installed version of the distribution (``?`` for this package's own files)."""
        if self.distribution == "gisgrid":
            from gisgrid import __version__

            return __version__
        return importlib.metadata.version(self.distribution)

    @property
    def folder(self) -> str:
        """Folder name under :data:`ASSET_DIRNAME`: distribution and version."""
        return f"{self.distribution.lower()}-{self.version}"

    def base_dir(self) -> Path:
        """The folder holding the files, from the installed package."""
        try:
            mod: Any = importlib.import_module(self.module)
        except ImportError as exc:
            raise OfflineAssetError(
                f"the map assets of {self.distribution} are not installed ({exc}); "
                "run scripts/setup.sh (./run setup) to install gisgrid's dependencies"
            ) from exc
        base = getattr(mod, "BASE_DIR", None)
        if base is None:
            base = Path(mod.__file__ or "").parent / self.subdir
        return Path(base)


@dataclass(frozen=True)
class NpmSource:
    """A package from the npm registry installed in an npm package folder by ``npm ci``.

    Parameters
    ----------
    package
        The npm package name, e.g. ``@geoman-io/leaflet-geoman-free``.
    subdir
        Folder inside the package holding the files (e.g. ``dist``).
    root
        The npm package folder (its ``node_modules/`` holds the installed packages).
    """

    package: str
    subdir: str = ""
    root: Path = NPM_FOLDER

    @property
    def distribution(self) -> str:
        """The package name (for messages)."""
        return self.package

    @property
    def version(self) -> str:
        """The installed version, from the package's ``package.json``."""
        manifest = self._package_dir() / "package.json"
        try:
            return str(json.loads(manifest.read_text(encoding="utf-8"))["version"])
        except (OSError, ValueError, KeyError) as exc:
            raise OfflineAssetError(
                f"the npm package {self.package} is not installed in "
                f"{self.root / 'node_modules'} ({type(exc).__name__}: {exc}); run {NPM_SETUP}"
            ) from exc

    @property
    def folder(self) -> str:
        """Folder name under :data:`ASSET_DIRNAME`: package (scope flattened) and version."""
        name = self.package.removeprefix("@").replace("/", "-")
        return f"npm-{name}-{self.version}"

    def base_dir(self) -> Path:
        """The folder holding the files, in the installed package.

        Raises
        ------
        OfflineAssetError
            The package is not installed, naming the set-up command that installs it.
        """
        if self.version:  # reading it raises the clear error when the package is missing
            return self._package_dir() / self.subdir
        raise OfflineAssetError(f"the npm package {self.package} has no version; run {NPM_SETUP}")

    def _package_dir(self) -> Path:
        return self.root / "node_modules" / self.package


LEAFLET = Source("XStatic-Leaflet", "xstatic.pkg.leaflet")
MARKERCLUSTER = Source("XStatic-Leaflet-MarkerCluster", "xstatic.pkg.leaflet_markercluster")
D3 = Source("XStatic-D3", "xstatic.pkg.d3")
FONT_AWESOME = Source("XStatic-Font-Awesome", "xstatic.pkg.font_awesome")
FOLIUM = Source("folium", "folium", "templates")
GISGRID = Source("gisgrid", "gisgrid.cartography", "static")
# not dependencies of gisgrid: usable when installed (the web app may add them)
JQUERY = Source("XStatic-jQuery", "xstatic.pkg.jquery")
BOOTSTRAP = Source("XStatic-Bootstrap", "xstatic.pkg.bootstrap")
#: the grid editor's drawing tools (their Leaflet is the one above: npm ci leaves peers out)
GEOMAN = NpmSource("@geoman-io/leaflet-geoman-free", "dist")
#: the net's map drawn from vector tiles (MVT): protomaps-leaflet, a Leaflet layer that
#: decodes and paints the tiles on canvas (its one-file build bundles its decoder)
PROTOMAPS = NpmSource("protomaps-leaflet", "dist")


@dataclass(frozen=True)
class Asset:
    """One script or style sheet, its source package, and files it pulls in (images)."""

    source: Source | NpmSource
    path: str
    extra: tuple[str, ...] = ()

    def files(self) -> Iterator[tuple[str, Path]]:
        """``(relative URL under the asset folder, absolute source file)`` of each file."""
        base = self.source.base_dir()
        for rel in (self.path, *self.extra):
            src = base / rel
            if not src.is_file():
                raise OfflineAssetError(
                    f"{self.source.distribution} {self.source.version} has no file {rel} "
                    f"(looked in {base})"
                )
            yield f"{self.source.folder}/{rel}", src

    @property
    def url(self) -> str:
        """URL of the main file relative to the asset folder."""
        return f"{self.source.folder}/{self.path}"


_LEAFLET_IMAGES = tuple(
    f"images/{n}"
    for n in ("layers.png", "layers-2x.png", "marker-icon.png", "marker-icon-2x.png",
              "marker-shadow.png")
)  # fmt: skip

#: every asset name folium, branca or gisgrid may put on a page → its local copy
ASSETS: dict[str, Asset] = {
    "leaflet": Asset(LEAFLET, "leaflet.js"),
    "leaflet_css": Asset(LEAFLET, "leaflet.css", _LEAFLET_IMAGES),
    "markerclusterjs": Asset(MARKERCLUSTER, "leaflet.markercluster.js"),
    "markerclustercss": Asset(MARKERCLUSTER, "MarkerCluster.css"),
    "markerclusterdefaultcss": Asset(MARKERCLUSTER, "MarkerCluster.Default.css"),
    "leaflet-heat.js": Asset(FOLIUM, "leaflet_heat.min.js"),
    "d3": Asset(D3, "d3.js"),
    "gisgrid_js": Asset(GISGRID, "gisgrid-map.js"),
    "gisgrid_css": Asset(GISGRID, "gisgrid-map.css"),
    "jquery": Asset(JQUERY, "jquery.min.js"),
    "bootstrap": Asset(BOOTSTRAP, "js/bootstrap.bundle.min.js"),
    "bootstrap_css": Asset(BOOTSTRAP, "css/bootstrap.min.css"),
    "geoman": Asset(GEOMAN, "leaflet-geoman.min.js"),
    "geoman_css": Asset(GEOMAN, "leaflet-geoman.css"),
    "protomaps": Asset(PROTOMAPS, "protomaps-leaflet.js"),
    "net_js": Asset(GISGRID, "gisgrid-net.js"),
    "net_css": Asset(GISGRID, "gisgrid-net.css"),
    "page_js": Asset(GISGRID, "gisgrid-page.js"),
    "editor_js": Asset(GISGRID, "gisgrid-editor.js"),
    "editor_css": Asset(GISGRID, "gisgrid-editor.css"),
    "cases_js": Asset(GISGRID, "gisgrid-cases.js"),
    "cases_css": Asset(GISGRID, "gisgrid-cases.css"),
    "report_js": Asset(GISGRID, "gisgrid-report.js"),
    "report_css": Asset(GISGRID, "gisgrid-report.css"),
    "dashboard_js": Asset(GISGRID, "gisgrid-dashboard.js"),
    "finder_js": Asset(GISGRID, "gisgrid-finder.js"),
    "finder_css": Asset(GISGRID, "gisgrid-finder.css"),
}

#: the assets every gisgrid map page links to
BASE_JS = ("leaflet", "gisgrid_js")
BASE_CSS = ("leaflet_css", "gisgrid_css")


def local_links(names: Iterable[str]) -> list[tuple[str, str]]:
    """``(name, placeholder URL)`` pairs for ``default_js``/``default_css`` lists.

    The URL is only a placeholder: :class:`OfflineFigure` points each link at the asset
    folder it renders for.
    """
    out = []
    for name in names:
        if name not in ASSETS:
            raise OfflineAssetError(f"unknown asset {name!r}")
        out.append((name, ASSETS[name].url))
    return out


def asset_files(names: Iterable[str] | None = None) -> dict[str, Path]:
    """Relative URL → source file of the named assets (all known and installed ones if None).

    A web app serves ``/prefix/<relative URL>`` from these files (the lookup of all of them
    is done once per process).
    """
    if names is None:
        return dict(_all_asset_files())
    out: dict[str, Path] = {}
    for name in names:
        for rel, src in ASSETS[name].files():
            out[rel] = src
    return out


@cache
def _all_asset_files() -> dict[str, Path]:
    out: dict[str, Path] = {}
    for asset in ASSETS.values():
        if _installed(asset.source):
            out.update(asset.files())
    return out


def _installed(source: Source | NpmSource) -> bool:
    try:
        source.base_dir()
    except OfflineAssetError:
        return False
    return True


def install_assets(dest: str | Path, names: Iterable[str] | None = None) -> Path:
    """Copy the named assets (default: all installed ones) into ``dest``; return ``dest``.

    Files already there with the same size are left alone, so many maps can share one folder.
    """
    dest = Path(dest)
    for rel, src in asset_files(names).items():
        target = dest / rel
        if target.is_file() and target.stat().st_size == src.stat().st_size:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    return dest


@cache
def icon_svg(name: str) -> dict[str, str]:
    """The view box and path of a Font Awesome (solid) icon from ``XStatic-Font-Awesome``.

    Returned as ``{"vb": "0 0 W H", "d": "…"}`` so a page can draw it inline, without a font.
    """
    path = FONT_AWESOME.base_dir() / "svgs" / "solid" / f"{name}.svg"
    if not path.is_file():
        raise OfflineAssetError(f"Font Awesome {FONT_AWESOME.version} has no icon {name!r}")
    text = path.read_text(encoding="utf-8")
    vb = re.search(r'viewBox="([^"]+)"', text)
    d = re.findall(r'<path[^>]*\sd="([^"]+)"', text)
    if vb is None or not d:
        raise OfflineAssetError(f"cannot read the shape of icon {name!r} from {path}")
    return {"vb": vb.group(1), "d": " ".join(d)}


class OfflineFigure(Figure):
    """A branca Figure whose script and style links all point at local copies.

    Parameters
    ----------
    asset_base
        URL prefix of the asset folder as the page sees it: ``"gisgrid-assets/"`` for a map
        saved with its assets beside it, ``"/static/vendor/"`` for a web app.
    title
        The page's title, as text (branca puts it into ``<title>`` unescaped: escaped here).
    allowed_urls
        URLs (or prefixes) the page may reach: the basemap the user chose.
    **kwargs
        Passed to :class:`branca.element.Figure`.
    """

    def __init__(
        self,
        asset_base: str = ASSET_DIRNAME + "/",
        *,
        title: str | None = None,
        allowed_urls: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(title=None if title is None else html.escape(title), **kwargs)
        self.asset_base = asset_base if asset_base.endswith("/") else asset_base + "/"
        self.allowed_urls = list(allowed_urls)
        #: names of the assets the last render linked to
        self.used_assets: list[str] = []

    def render(self, **kwargs: Any) -> str:
        """Render the page with every asset link rewritten to the local copy."""
        for child in self._children.values():
            child.render(**kwargs)
        used: list[str] = []
        for name, child in self.header._children.items():
            if not isinstance(child, Link):
                continue
            asset = ASSETS.get(name)
            if asset is None:
                raise OfflineAssetError(
                    f"the map links to {name!r} ({child.url}), which has no local copy: "
                    "gisgrid maps must work offline"
                )
            if isinstance(child, JavascriptLink | CssLink):
                child.url = self.asset_base + asset.url
            used.append(name)
        self.used_assets = used
        return str(self._template.render(this=self, kwargs=kwargs))


# --- finding non-local URLs ---------------------------------------------------------------

_ABSOLUTE = re.compile(r"""(?i)\b(?:https?|wss?|ftp):/{2}[^\s"'<>()\\]*""")
_PROTOCOL_RELATIVE = re.compile(
    r"""(?i)(?:\b(?:src|href|action|poster|data)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])"""
    r"""(//[^\s"'<>()]+)"""
)


def external_urls(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """Every non-local URL in ``text`` (``http(s)://…``, ``ws://…``, ``//host/…``).

    Parameters
    ----------
    text
        An HTML page, a script or a style sheet.
    allowed
        URLs (or URL prefixes) the user chose to reach, e.g. a tile server's template.
    """
    if "//" not in text:  # every URL either pattern finds holds "//": a quick no
        return []
    allow = tuple(a for a in allowed if a)
    found = [m.group(0) for m in _ABSOLUTE.finditer(text)]
    found += [m.group(1) for m in _PROTOCOL_RELATIVE.finditer(text)]
    return [u for u in found if not any(u.startswith(a) for a in allow)]


def check_offline(text: str, allowed: Iterable[str] = (), what: str = "the map") -> None:
    """Raise :class:`OfflineAssetError` when ``text`` references a non-local URL."""
    bad = external_urls(text, allowed)
    if bad:
        listed = ", ".join(sorted(set(bad))[:5])
        raise OfflineAssetError(f"{what} references non-local URLs: {listed}")


__all__ = [
    "ASSETS",
    "ASSET_DIRNAME",
    "Asset",
    "NpmSource",
    "OfflineAssetError",
    "OfflineFigure",
    "Source",
    "asset_files",
    "check_offline",
    "external_urls",
    "icon_svg",
    "install_assets",
    "local_links",
]
