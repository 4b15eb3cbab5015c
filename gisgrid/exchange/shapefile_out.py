"""A layer as a zipped Shapefile, the way natural-resources bureaus and desktop GIS trade them.

The zip holds ``<layer>.shp``, ``.shx``, ``.dbf``, ``.prj`` (the CRS, EPSG:4326, as ESRI
WKT), ``.cpg`` (``UTF-8``: the ``.dbf`` text is UTF-8, never GBK), and two files that say
what the short field names mean: ``fields.csv`` (UTF-8 with BOM, opens in Excel) and
``README.txt``.

A ``.dbf`` field name holds at most ten characters: :func:`short_names` shortens longer
names the same way every time (each word of the name cut, the longest first, until the
name fits; a name taken already gets a number), so a layer's mapping is fixed and
documented (docs/exchange-format.md). Dates are ``.dbf`` dates (type ``D``), date-times
text ``YYYY-MM-DD HH:MM:SS`` (local time: a ``.dbf`` has no date-time), true/false
``1``/``0``, text cut to the 254 bytes a ``.dbf`` field holds (the README counts what
was cut).
"""

from __future__ import annotations

import csv
import io
import struct
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyogrio

from gisgrid.exchange.export import Extract
from gisgrid.layers.schema import Layer

#: the most characters of a .dbf field name, and bytes of a .dbf text value
NAME_MAX = 10
TEXT_MAX_BYTES = 254
#: the files of a Shapefile, in the zip in this order
PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def _shorten(name: str) -> str:
    words = name.split("_")
    while len("_".join(words)) > NAME_MAX and max(len(w) for w in words) > 1:
        longest = max(range(len(words)), key=lambda i: (len(words[i]), -i))
        words[longest] = words[longest][:-1]
    short = "_".join(words)
    if len(short) > NAME_MAX:
        short = "".join(words)
    return short[:NAME_MAX]


def short_names(names: Sequence[str]) -> dict[str, str]:
    """Field name → its ``.dbf`` name of at most ten characters, unique (case-blind, as a
    ``.dbf`` compares them), the same for the same names every time."""
    out: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        short = _shorten(name)
        n = 1
        while short.lower() in taken:
            n += 1
            tail = str(n)
            short = _shorten(name)[: NAME_MAX - len(tail)] + tail
        taken.add(short.lower())
        out[name] = short
    return out


def _cut(text: str) -> str:
    data = text.encode("utf-8")
    if len(data) <= TEXT_MAX_BYTES:
        return text
    return data[:TEXT_MAX_BYTES].decode("utf-8", errors="ignore")


def dbf_frame(extract: Extract) -> tuple[pd.DataFrame, dict[str, str], dict[str, int]]:
    """The rows as the ``.dbf`` takes them, under their short names; the name mapping, and
    how many values of each field were cut."""
    decl, frame = extract.layer, extract.frame
    names = short_names(decl.columns)
    out: dict[str, object] = {}
    cut: dict[str, int] = {}
    for f in decl.fields:
        values = frame[f.name]
        present = values.notna()
        if f.type == "date":
            column = values.dt.strftime("%Y%m%d").astype("object").where(present, None)
        elif f.type == "datetime":
            column = values.dt.strftime("%Y-%m-%d %H:%M:%S").astype("object").where(present, None)
        elif f.type == "bool":
            column = values.astype("Int64")
        elif f.type == "str":
            texts = values.astype("object").where(present, None)
            shortened = texts.map(_cut, na_action="ignore")
            changed = int((shortened != texts)[present].sum())
            if changed:
                cut[f.name] = changed
            column = shortened
        else:
            column = values
        out[names[f.name]] = column
    shaped = pd.DataFrame(out, index=frame.index)
    import geopandas as gpd

    return gpd.GeoDataFrame(shaped, geometry=frame.geometry, crs=frame.crs), names, cut


def write_shapefile_zip(extract: Extract, path: Path) -> None:
    """Write ``extract`` as a zipped Shapefile (see the module's docstring) to ``path``."""
    decl = extract.layer
    frame, names, cut = dbf_frame(extract)
    work = path.parent / f"{path.name}.parts"
    work.mkdir()
    shp = work / f"{decl.name}.shp"
    pyogrio.write_dataframe(
        frame,
        shp,
        driver="ESRI Shapefile",
        layer=decl.name,
        geometry_type=decl.geometry_type,
        encoding="UTF-8",
        layer_options={"RESIZE": "YES"},
    )
    dates = [names[f.name] for f in decl.fields if f.type == "date"]
    if dates:
        dbf_dates(shp.with_suffix(".dbf"), dates)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for part in PARTS:
            z.write(shp.with_suffix(part), f"{decl.name}{part}")
        z.writestr("fields.csv", fields_csv(decl, names))
        z.writestr("README.txt", readme(extract, names, cut))


def fields_csv(decl: Layer, names: dict[str, str]) -> bytes:
    """The mapping of short names to fields, as CSV (UTF-8 with BOM)."""
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow(["dbf_name", "field", "label_zh", "type", "description"])
    for f in decl.fields:
        out.writerow([names[f.name], f.name, f.label_zh, f.type, f.description])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def readme(extract: Extract, names: dict[str, str], cut: dict[str, int]) -> str:
    """What the zip holds, in Chinese and English, with the field names."""
    decl = extract.layer
    lines = [
        f"{extract.title}",
        f"图层 layer: {decl.label_zh} ({decl.name}); 要素 features: {len(extract.frame)}",
        f"导出时间 exported: {extract.made:%Y-%m-%d %H:%M:%S}",
        "坐标系 CRS: WGS 84 经纬度 (EPSG:4326), see the .prj",
        "编码 encoding: UTF-8 (the .cpg says so; not GBK)",
        "日期 dates: .dbf date fields; 日期时间 date-times: text YYYY-MM-DD HH:MM:SS, local time",
        "是/否 true/false: 1 = 是 true, 0 = 否 false",
        "",
        "字段 fields (.dbf name = field name = 中文名):",
    ]
    lines += [f"  {names[f.name]:<10} = {f.name} = {f.label_zh}" for f in decl.fields]
    if cut:
        lines += ["", f"文本超过 {TEXT_MAX_BYTES} 字节已截断 text cut to {TEXT_MAX_BYTES} bytes:"]
        lines += [f"  {name}: {n}" for name, n in cut.items()]
    return "\r\n".join(lines) + "\r\n"


def dbf_dates(path: Path, fields: Sequence[str]) -> None:
    """Make the text ``fields`` of a ``.dbf`` (holding ``YYYYMMDD`` or nothing) date fields.

    GDAL writes a date only as text to a Shapefile from pyogrio: this rewrites the file's
    field descriptors (type ``D``, eight characters) and its records to match. A ``.dbf``
    is a header, 32-byte field descriptors, then fixed-width records.
    """
    data = bytearray(path.read_bytes())
    records, header_size, record_size = struct.unpack_from("<IHH", data, 4)
    descriptors: list[tuple[bytes, bytes, int, int]] = []
    at = 32
    while data[at] != 0x0D:
        raw = bytes(data[at : at + 32])
        descriptors.append((raw, raw[:11].split(b"\0")[0], raw[16], at))
        at += 32
    wanted = {f.encode("ascii") for f in fields}
    widths = [d[2] for d in descriptors]
    new_widths = [8 if name in wanted else w for (_, name, w, _) in descriptors]
    new_record = 1 + sum(new_widths)
    head = bytearray(data[:header_size])
    for (raw, name, _, offset), _w in zip(descriptors, new_widths, strict=True):
        if name in wanted:
            changed = bytearray(raw)
            changed[11] = ord("D")
            changed[16] = 8
            changed[17] = 0
            head[offset : offset + 32] = changed
    struct.pack_into("<H", head, 10, new_record)
    body = bytearray()
    start = header_size
    for _ in range(records):
        record = data[start : start + record_size]
        body += record[:1]
        pos = 1
        for (_, name, _, _), width in zip(descriptors, widths, strict=True):
            value = bytes(record[pos : pos + width])
            pos += width
            if name in wanted:
                value = value.strip().ljust(8)[:8]
            body += value
        start += record_size
    tail = data[start:]  # the end-of-file mark
    path.write_bytes(bytes(head) + bytes(body) + bytes(tail))
