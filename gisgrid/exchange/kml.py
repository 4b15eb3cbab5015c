"""KML and KMZ from phone apps and Google Earth: placemarks, their folders and ExtendedData.

Read by GDAL's LIBKML driver through pyogrio: each folder is a layer, and the placemarks of
every folder are read together (the folder's name in a ``folder`` column); ExtendedData
fields (``<Data name="…">`` and schema fields) become columns, ``<name>`` becomes ``Name``.
Field names are read as written (``LIBKML_LAUNDER_FIELD_NAMES=NO`` while reading: by default
the driver turns every Chinese character of ``<Data name="类型">`` into ``_``).
KML is WGS84 by definition; phone apps in China nonetheless write GCJ-02 or BD-09 into it,
which the import's coordinate check catches (:mod:`.coordinates`).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio

from gisgrid.errors import InputFileError

KML_SUFFIXES = (".kml", ".kmz")
#: columns the driver adds that hold no attribute of the placemark
HOUSEKEEPING = (
    "timestamp", "begin", "end", "altitudeMode", "tessellate", "extrude", "visibility",
    "drawOrder", "icon", "snippet",
)  # fmt: skip


def read_kml(path: Path, *, source_layer: str | None = None) -> gpd.GeoDataFrame:
    """The placemarks of a .kml or .kmz (of one folder when ``source_layer`` names it).

    Raises
    ------
    InputFileError
        Unreadable, or no placemarks.
    """
    driver = "LIBKML" if "LIBKML" in pyogrio.list_drivers() else "KML"
    try:
        names = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:
        raise InputFileError(
            f"{path}: 不是可读的 KML/KMZ 文件 (not a readable KML/KMZ: {exc})"
        ) from exc
    if source_layer is not None:
        if source_layer not in names:
            raise InputFileError(f"{path}: 没有文件夹「{source_layer}」(has: {', '.join(names)})")
        names = [source_layer]
    frames = []
    launder = pyogrio.get_gdal_config_option("LIBKML_LAUNDER_FIELD_NAMES")
    pyogrio.set_gdal_config_options({"LIBKML_LAUNDER_FIELD_NAMES": "NO"})
    try:
        parts = [_read_folder(path, name, driver) for name in names]
    finally:
        pyogrio.set_gdal_config_options({"LIBKML_LAUNDER_FIELD_NAMES": launder})
    for name, part in zip(names, parts, strict=True):
        if len(part):
            unused = [c for c in HOUSEKEEPING if c in part.columns]
            if "id" in part.columns and part["id"].isna().all():
                unused.append("id")  # the placemarks' id attribute, when they have none
            part = part.drop(columns=unused)
            part["folder"] = name
            frames.append(part)
    if not frames:
        raise InputFileError(f"{path}: 没有地标 (the file holds no placemarks)")
    frame = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(frame, geometry=frames[0].geometry.name, crs=frames[0].crs)


def _read_folder(path: Path, name: str, driver: str) -> gpd.GeoDataFrame:
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            return pyogrio.read_dataframe(path, layer=name, driver=driver, datetime_as_string=True)
    except Exception as exc:
        raise InputFileError(f"{path}: 无法读取「{name}」(cannot read it: {exc})") from exc
