"""A layer as KML (and KMZ, the same zipped), for Google Earth, phone apps and 奥维地图.

Each feature is a placemark named in Chinese (its name, a household's head, else its key)
whose description is a table of its fields under their Chinese labels, kinds as their
Chinese words; every field is also in the placemark's ExtendedData under its field name
(codes and ``YYYY-MM-DD`` dates, as the exchange format has them), so that the file
imports again. Coordinates are WGS84 longitude, latitude (KML knows no other).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import jinja2
import pandas as pd
import pyogrio

from gisgrid.exchange.export import Extract, plain_dates
from gisgrid.layers.kinds import FIELD_KINDS
from gisgrid.layers.schema import Layer

#: the columns that name a placemark, the first a layer has
NAME_FIELDS = ("name", "head_name", "unit_name", "title")
#: the columns GDAL takes the placemarks' names and descriptions from (not fields of the layer)
NAME_COLUMN, DESCRIPTION_COLUMN = "kml_name", "kml_description"
#: a placemark's description: its fields under their Chinese labels (autoescaped HTML)
DESCRIPTION = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
).get_template("kml_description.html")


def name_field(decl: Layer) -> str:
    """The field a layer's placemarks are named by."""
    columns = set(decl.columns)
    for name in NAME_FIELDS:
        if name in columns:
            return name
    return decl.key[0] if decl.key else decl.columns[0]


def _text(layer: str, name: str, ftype: str, value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return ""
    if ftype == "datetime" and isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if ftype == "bool":
        return "是" if bool(value) else "否"
    labels = FIELD_KINDS.get((layer, name))
    if labels is not None and str(value) in labels:
        return labels[str(value)].zh
    return str(value)


def placemark_frame(extract: Extract) -> pd.DataFrame:
    """The rows with a placemark name and an HTML description of the Chinese labels."""
    decl = extract.layer
    frame = plain_dates(extract)
    records = frame[decl.columns].to_dict("records")
    labels = [f.label_zh or f.name for f in decl.fields]
    descriptions = [
        DESCRIPTION.render(
            rows=zip(
                labels,
                (_text(decl.name, f.name, f.type, record[f.name]) for f in decl.fields),
                strict=True,
            )
        )
        for record in records
    ]
    named = name_field(decl)
    out = frame.copy()
    out[NAME_COLUMN] = [
        _text(decl.name, named, decl.field(named).type, r[named]) or decl.label_zh for r in records
    ]
    out[DESCRIPTION_COLUMN] = descriptions
    return out


def write_kml(extract: Extract, path: Path) -> None:
    """Write ``extract`` as KML (see the module's docstring) to ``path``."""
    decl = extract.layer
    pyogrio.write_dataframe(
        placemark_frame(extract),
        path,
        driver="KML",
        layer=decl.name,
        geometry_type=decl.geometry_type,
        dataset_options={"NameField": NAME_COLUMN, "DescriptionField": DESCRIPTION_COLUMN},
    )


def write_kmz(extract: Extract, path: Path) -> None:
    """Write ``extract`` as KMZ: its KML as ``doc.kml`` in a zip."""
    kml = path.with_name(f"{path.stem}.doc.kml")
    write_kml(extract, kml)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write(kml, "doc.kml")
    kml.unlink()
