"""Import and export of exchange files (GeoJSON, GeoPackage) that planners edit in QGIS.

Property names in the files are the layer's declared column names (see the README's
exchange-format table). An import validates the whole file first and then writes it in one
store transaction: a bad feature anywhere means nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gisgrid.errors import InputFileError, Problem, ValidationError
from gisgrid.layers import get_layer, households
from gisgrid.stores.base import Store, WriteMode

#: file endings we read and write, and the OGR driver for each
DRIVERS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GPKG"}


@dataclass(frozen=True)
class ImportResult:
    """What an import wrote."""

    layer: str
    features: int
    mode: WriteMode
    source_crs: str | None


def _driver_for(path: Path) -> str:
    try:
        return DRIVERS[path.suffix.lower()]
    except KeyError:
        endings = ", ".join(DRIVERS)
        raise InputFileError(f"{path}: unknown file type; use one of {endings}") from None


def read_exchange_file(
    path: str | Path, *, layer: str, source_layer: str | None = None
) -> pd.DataFrame:
    """Read a GeoJSON or GeoPackage file for ``layer`` without checking its content.

    Parameters
    ----------
    path
        The file.
    layer
        The gisgrid layer it is meant for (decides whether geometry is read).
    source_layer
        Layer inside a GeoPackage; default: the one named like ``layer``, or the only one.
    """
    path = Path(path)
    decl = get_layer(layer)
    _driver_for(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:
        raise InputFileError(f"{path}: not a readable GeoJSON or GeoPackage file ({exc})") from exc
    if source_layer is None:
        if layer in names:
            source_layer = layer
        elif len(names) == 1:
            source_layer = names[0]
        else:
            raise InputFileError(
                f"{path} holds several layers ({', '.join(names)}); name one with --source-layer"
            )
    elif source_layer not in names:
        raise InputFileError(f"{path} has no layer '{source_layer}' (it has: {', '.join(names)})")
    try:
        # times as text: GDAL would take local times as UTC when others in the column carry
        # an offset; validation reads them (local unless an offset is given)
        frame = pyogrio.read_dataframe(
            path, layer=source_layer, read_geometry=decl.spatial, datetime_as_string=True
        )
    except Exception as exc:
        raise InputFileError(f"{path}: cannot read layer '{source_layer}' ({exc})") from exc
    return frame


def import_file(
    store: Store,
    layer: str,
    path: str | Path,
    *,
    crs: str | None = None,
    mode: WriteMode = "append",
    source_layer: str | None = None,
) -> ImportResult:
    """Validate a file against ``layer`` and write it to ``store`` in one transaction.

    Parameters
    ----------
    store
        Destination.
    layer
        Layer name, e.g. ``grids``.
    path
        GeoJSON or GeoPackage file.
    crs
        CRS of the coordinates if the file does not say or says wrong (``EPSG:4490``,
        ``gcj02``, ``bd09``, any EPSG code).
    mode
        ``append`` adds features (keys must be new), ``replace`` replaces the whole layer.
    source_layer
        Layer inside a multi-layer GeoPackage.

    Raises
    ------
    InputFileError, ValidationError
        Before anything is written.
    """
    decl = get_layer(layer)
    raw = read_exchange_file(path, layer=layer, source_layer=source_layer)
    if len(raw) == 0:
        raise InputFileError(f"{path}: the file holds no features")
    source_crs = crs or (str(raw.crs) if isinstance(raw, gpd.GeoDataFrame) and raw.crs else None)
    frame = decl.validate(raw, crs=crs)
    problems: list[Problem] = []
    if mode == "append" and decl.key:
        existing = store.read(layer, columns=list(decl.key))
        if len(existing):
            clash = frame.set_index(list(decl.key)).index.isin(
                existing.set_index(list(decl.key)).index
            )
            for i in clash.nonzero()[0].tolist():
                key = "/".join(str(frame.at[i, k]) for k in decl.key)
                problems.append(Problem(i, key, ",".join(decl.key), "already in the store"))
    if layer == "households":
        known: set[str] = set()
        if mode == "append":
            old = store.read(layer, where={"backbone": True}, columns=["id"])
            known = set(old["id"])
        for i, fld, msg in households.references(frame, known):
            problems.append(Problem(i, str(frame.at[i, "id"]), fld, msg))
    if problems:
        raise ValidationError(layer, sorted(problems, key=lambda p: p.index or 0))
    store.write({layer: frame}, mode=mode)
    return ImportResult(layer=layer, features=len(frame), mode=mode, source_crs=source_crs)


def export_layer(store: Store, layer: str, path: str | Path) -> int:
    """Write a layer from ``store`` to a GeoJSON or GeoPackage file; returns the feature count.

    GeoJSON is written in EPSG:4326 (RFC 7946); a GeoPackage keeps the storage CRS.
    """
    path = Path(path)
    decl = get_layer(layer)
    driver = _driver_for(path)
    frame = store.read(layer)
    out = frame.copy()
    for f in decl.fields:
        if f.type == "date":
            # ISO dates, not midnight timestamps, in files people open
            out[f.name] = out[f.name].dt.strftime("%Y-%m-%d").astype("object")
            out[f.name] = out[f.name].where(frame[f.name].notna(), None)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
    # name the layer (a GeoJSON's "name" member too), not after the temporary file
    kwargs: dict[str, object] = {"driver": driver, "layer": layer}
    if decl.spatial:
        kwargs["geometry_type"] = decl.geometry_type
    try:
        pyogrio.write_dataframe(out, tmp, **kwargs)
        tmp.replace(path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        raise InputFileError(f"{path}: cannot write ({exc})") from exc
    return len(frame)
