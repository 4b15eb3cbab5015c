"""Writing a layer out: the county's, or one township's, village's or grid's, to the format
its file ending names.

One export is one read of the store (:func:`read_extract`: the store's data version is the
same before and after every read it makes, or it reads again) and one file, written
beside its place under a temporary name and renamed into place: an export that fails
leaves no file, and an earlier file of the name as it was.

The formats (:data:`ENDINGS`):

- Excel (``.xlsx``, :mod:`.excel_out`): Chinese headers, kinds as their Chinese words;
- zipped Shapefile (``.zip``, ``.shp.zip``, :mod:`.shapefile_out`): UTF-8 ``.cpg``, ``.prj``,
  field names of at most ten characters and their mapping in the zip;
- KML (``.kml``) and KMZ (``.kmz``, :mod:`.kml_out`);
- GeoJSON (``.geojson``, ``.json``): EPSG:4326 (RFC 7946), dates as ``YYYY-MM-DD``;
- GeoPackage (``.gpkg``, :mod:`.geopackage_out`): GeoPackage 1.2, dates typed Date.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pandas as pd
import pyogrio

from gisgrid import codes
from gisgrid.analysis.assign import grid_index, local_now
from gisgrid.analysis.assign.index import GridIndex
from gisgrid.analysis.scope import RecordsRead, Scope, ScopedReader
from gisgrid.errors import ConfigError, InputFileError, StoreError, UnknownAreaError
from gisgrid.layers import get_layer
from gisgrid.layers.schema import Layer, iso_dates
from gisgrid.roles import ROLES, Role
from gisgrid.stores.base import Reader, Store

ExportFormat = Literal["xlsx", "shp", "kml", "kmz", "geojson", "gpkg"]

#: file ending → format; the longest ending that a name has wins (``.shp.zip`` is a Shapefile)
ENDINGS: dict[str, ExportFormat] = {
    ".xlsx": "xlsx",
    ".shp.zip": "shp",
    ".zip": "shp",
    ".kml": "kml",
    ".kmz": "kmz",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
}
#: format → the ending of a file gisgrid names (a download)
SUFFIXES: dict[ExportFormat, str] = {
    "xlsx": ".xlsx",
    "shp": ".shp.zip",
    "kml": ".kml",
    "kmz": ".kmz",
    "geojson": ".geojson",
    "gpkg": ".gpkg",
}
#: format → media type of a download
MEDIA_TYPES: dict[ExportFormat, str] = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "shp": "application/zip",
    "kml": "application/vnd.google-earth.kml+xml",
    "kmz": "application/vnd.google-earth.kmz",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
}
#: formats that are nothing but shapes: a layer without geometry has nothing to put in them
SHAPES_ONLY: frozenset[ExportFormat] = frozenset({"shp", "kml", "kmz"})
#: how often an export reads again when the store changed under its read
READ_ATTEMPTS = 3


def format_of(path: str | Path) -> ExportFormat:
    """The format a file name's ending asks for.

    Raises
    ------
    ConfigError
        An ending gisgrid does not write (naming those it does).
    """
    name = Path(path).name.lower()
    for ending in sorted(ENDINGS, key=len, reverse=True):
        if name.endswith(ending):
            return ENDINGS[ending]
    if name.endswith(".shp"):
        raise ConfigError(
            f"{path}: a Shapefile is several files: export to a .zip (or .shp.zip) of them"
        )
    raise ConfigError(f"{path}: unknown file type to export to; use one of {', '.join(ENDINGS)}")


@dataclass(frozen=True)
class Extract:
    """What an export writes: one layer's rows in one area, as one read found them.

    Attributes
    ----------
    layer
        The layer's declaration.
    frame
        Its rows (canonical form, geometry in EPSG:4326), masked as the reader's scope says.
    area
        The area code asked for (``None``: all the reader sees).
    area_name
        Its name (``None`` when not named in the store, or no area).
    county
        The county's name from the store's metadata, when it has one.
    made
        When the store was read (local time).
    """

    layer: Layer
    frame: pd.DataFrame
    area: str | None
    area_name: str | None
    county: str | None
    made: dt.datetime

    @property
    def title(self) -> str:
        """``华容县 · 章华镇 · 农户``: where and what."""
        parts = [p for p in (self.county, self.area_name or self.area) if p]
        return " · ".join([*parts, self.layer.label_zh])


def area_names(reader: Reader) -> dict[str, str]:
    """Township and village code → name, as ``reader`` sees them."""
    from gisgrid.reports.workbook import area_names as names_of

    return names_of(
        {t: reader.read(t, columns=["code", "name"]) for t in ("townships", "villages")}
    )


def known_area(names: Mapping[str, str], area: str) -> None:
    """Refuse an area code that is not a prefecture, county, township, village or grid code
    of the store (a grid code by its village).

    Raises
    ------
    UnknownAreaError
        Naming the code.
    """
    try:
        kind = codes.kind_of(area)
    except ValueError as exc:
        raise ConfigError(f"--area: {exc}") from None
    townships = [c for c in names if len(c) == codes.TOWNSHIP_DIGITS]
    if kind in ("prefecture", "county"):
        found = any(codes.lies_in(t, area) for t in townships)
    elif kind in ("level2", "level3"):
        found = codes.village_of(area) in names
    else:
        found = area in names
    if not found:
        raise UnknownAreaError(f"no {kind} {area} in the store")


def whole_store_scope(area: str, *, counties: tuple[str, ...]) -> Scope:
    """The scope of the command line (everything, unmasked), cut to ``area``."""
    return Scope(
        role=ROLES[Role.ADMIN], areas=(area,), residents=True, staff=True, counties=counties
    )


def read_extract(
    store: Store,
    layer: str,
    *,
    area: str | None = None,
    scope: Scope | None = None,
    index: GridIndex | None = None,
    on_records_read: RecordsRead | None = None,
    county: str | None = None,
) -> Extract:
    """Read what an export of ``layer`` writes, in one consistent read.

    Every read (the layer, the grids that place its points, the area's names) is made
    between two asks of :meth:`Store.data_version`; should they differ (someone wrote
    meanwhile), the whole read is made again, at most :data:`READ_ATTEMPTS` times.

    Parameters
    ----------
    store
        The store.
    layer
        The layer's name.
    area
        A prefecture, county, township, village or grid code: only what lies in it
        (:class:`gisgrid.analysis.scope.Scope`'s rule, the one every page follows).
    scope
        The caller's scope (the web app's); ``None``: the command line's, everything.
        With ``area``, cut to it (:meth:`Scope.narrowed`).
    index
        The level-3 grids now, to place points (the web app's); ``None``: built from the
        grids read here.
    on_records_read
        Told once, after the read, of the residents' records it showed (the audit log).
    county
        The county's name, for titles.

    Raises
    ------
    UnknownAreaError
        ``area`` is not in the store.
    ForbiddenError
        ``area`` lies outside ``scope``.
    StoreError
        The store changed under every attempt.
    """
    decl = get_layer(layer)
    for _ in range(READ_ATTEMPTS):
        before = store.data_version()
        names = area_names(store)
        cut = scope
        if area is not None:
            if cut is None:
                counties = tuple(
                    sorted({codes.county_of(c) for c in names if len(c) == codes.TOWNSHIP_DIGITS})
                )
                cut = whole_store_scope(area, counties=counties)
            else:  # outside the caller's area first: what is not theirs is not told of
                cut = cut.narrowed(area)
            known_area(names, area)
        seen: list[tuple[str, list[str]]] = []  # told after the read, once, not per attempt
        if cut is None:
            frame = store.read(layer)
        else:
            grids = index
            if grids is None:
                grids = grid_index(store.read("grids", where={"level": 3}))
            reader = ScopedReader(store, cut, index=grids, on_records_read=_noting(seen))
            frame = reader.read(layer)
        if store.data_version() == before:
            if on_records_read is not None:
                for name, ids in seen:
                    on_records_read(name, ids)
            area_name = None if area is None else names.get(area)
            frame = decl.conform(frame)
            return Extract(decl, frame, area, area_name, county, local_now())
    raise StoreError(f"the store kept changing while {layer} was read for an export; try again")


def _noting(seen: list[tuple[str, list[str]]]) -> RecordsRead:
    def note(layer: str, ids: list[str]) -> None:
        seen.append((layer, ids))

    return note


# --- writing ------------------------------------------------------------------------------------

Writer = Callable[[Extract, Path], None]


def _writers() -> dict[ExportFormat, Writer]:
    from gisgrid.exchange import excel_out, geopackage_out, kml_out, shapefile_out

    return {
        "xlsx": excel_out.write_xlsx,
        "shp": shapefile_out.write_shapefile_zip,
        "kml": kml_out.write_kml,
        "kmz": kml_out.write_kmz,
        "geojson": write_geojson,
        "gpkg": geopackage_out.write_gpkg,
    }


def plain_dates(extract: Extract) -> pd.DataFrame:
    """The rows with date fields as ``YYYY-MM-DD`` text (``None`` where missing): what
    people read in a file, not midnight timestamps."""
    return iso_dates(extract.frame, extract.layer)


def write_geojson(extract: Extract, path: Path) -> None:
    """A GeoJSON FeatureCollection in EPSG:4326 (RFC 7946), named after the layer; a layer
    keyed by ``id`` gives each feature that id."""
    decl = extract.layer
    options: dict[str, object] = {"driver": "GeoJSON", "layer": decl.name}
    if decl.spatial:
        options["geometry_type"] = decl.geometry_type
    if decl.key == ("id",):
        options["layer_options"] = {"ID_FIELD": "id"}
    pyogrio.write_dataframe(plain_dates(extract), path, **options)


def refuse_shapeless(decl: Layer, fmt: ExportFormat) -> None:
    """Refuse a layer without geometry for a format of shapes only.

    Raises
    ------
    ConfigError
        Naming the formats that do take the layer.
    """
    if fmt in SHAPES_ONLY and not decl.spatial:
        raise ConfigError(
            f"{decl.name} ({decl.label_zh}) has no geometry: a {fmt} file "
            "holds shapes; export it to .xlsx, .geojson or .gpkg"
        )


def write_export(extract: Extract, path: str | Path, *, fmt: ExportFormat | None = None) -> int:
    """Write ``extract`` to ``path`` in ``fmt`` (default: the file's ending says); the
    number of features written.

    Written under a temporary name in the same folder, then renamed: a failure leaves no
    file behind, and an earlier file of the name untouched.

    Raises
    ------
    ConfigError
        An unknown ending, or a layer without geometry for a format of shapes only.
    InputFileError
        The file cannot be written.
    """
    path = Path(path)
    fmt = fmt or format_of(path)
    refuse_shapeless(extract.layer, fmt)
    writer = _writers()[fmt]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    except OSError as exc:
        raise InputFileError(f"{path}: cannot write ({exc.strerror or exc})") from exc
    try:
        written = work / f"{uuid.uuid4().hex}{SUFFIXES[fmt]}"
        writer(extract, written)
        os.replace(written, path)
    except (ConfigError, InputFileError):
        raise
    except Exception as exc:
        raise InputFileError(f"{path}: cannot write ({exc})") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return len(extract.frame)


def export_bytes(extract: Extract, fmt: ExportFormat) -> bytes:
    """The file of ``extract`` in ``fmt``, as bytes (a download), written in a temporary
    folder that is removed after."""
    refuse_shapeless(extract.layer, fmt)
    with tempfile.TemporaryDirectory(prefix="gisgrid-export-") as work:
        path = Path(work) / f"export{SUFFIXES[fmt]}"
        write_export(extract, path, fmt=fmt)
        return path.read_bytes()


def download_name(extract: Extract, fmt: ExportFormat) -> str:
    """The name a download is saved under: ``农户-章华镇-20261201.xlsx``."""
    parts = [extract.layer.label_zh, extract.area_name or extract.area or extract.county or "全县"]
    stem = "-".join(p for p in parts if p)
    return f"{stem}-{extract.made:%Y%m%d}{SUFFIXES[fmt]}"


def export_layer(store: Store, layer: str, path: str | Path, *, area: str | None = None) -> int:
    """Write ``layer`` (all of it, or what lies in ``area``) from ``store`` to ``path``, in
    the format the file's ending names (:data:`ENDINGS`); the number of features written.

    Raises
    ------
    ConfigError
        An unknown ending (checked before the store is read), or a layer without geometry
        for a Shapefile or KML.
    UnknownAreaError
        ``area`` is not in the store.
    InputFileError
        The file cannot be written; nothing was.
    """
    fmt = format_of(path)
    refuse_shapeless(get_layer(layer), fmt)  # before the store is read
    from gisgrid.cartography import county_name

    extract = read_extract(store, layer, area=area, county=county_name(store))
    return write_export(extract, path, fmt=fmt)
