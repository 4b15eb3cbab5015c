"""Zipped Shapefiles (.zip holding .shp, .shx, .dbf, .prj, .cpg), as bureaus hand them out.

The ``.cpg`` names the text encoding of the ``.dbf`` and is honoured (GDAL reads it). Without
one, the encoding is guessed from the ``.dbf`` bytes (:func:`.encodings.guess_dbf_encoding`:
GBK or UTF-8) and the guess is said in the import's notes. The ``.prj`` gives the CRS (PROJ
knows the CGCS2000 Gauss-Krüger zones, 3° and 6°, with or without the zone number in the
false easting: EPSG:4491-4554); without one the import needs ``--crs``.
"""

from __future__ import annotations

import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pyogrio

from gisgrid.errors import InputFileError
from gisgrid.exchange.encodings import ENCODING_LABELS, guess_dbf_encoding

#: the most bytes a zipped Shapefile may unpack to (a zip bomb is refused before unpacking)
MAX_UNPACKED_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class ShapefileRead:
    """A Shapefile's features and what the import should say about how they were read."""

    frame: gpd.GeoDataFrame
    layer: str
    notes: tuple[str, ...]
    has_prj: bool


def read_zipped_shapefile(path: Path, *, source_layer: str | None = None) -> ShapefileRead:
    """Read the Shapefile inside a .zip (the one named ``source_layer`` if it holds several).

    Raises
    ------
    InputFileError
        Not a zip, no .shp in it (or several and none chosen), a part missing, unreadable.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise InputFileError(f"{path}: 不是可读的 zip 文件 (not a readable .zip: {exc})") from exc
    with archive, tempfile.TemporaryDirectory(prefix="gisgrid-shp-") as folder:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
            raise InputFileError(f"{path}: 解压后过大 (unpacks to more than 2 GiB)")
        shps = {
            PurePosixPath(m.filename).stem: m
            for m in members
            if m.filename.lower().endswith(".shp")
        }
        if not shps:
            raise InputFileError(f"{path}: zip 中没有 .shp 文件 (the zip holds no .shp)")
        if source_layer is None and len(shps) > 1:
            raise InputFileError(
                f"{path}: zip 中有多个 Shapefile ({', '.join(sorted(shps))}); "
                "holds several Shapefiles: name one with --source-layer"
            )
        stem = source_layer if source_layer is not None else next(iter(shps))
        if stem not in shps:
            raise InputFileError(
                f"{path}: zip 中没有「{stem}.shp」(has: {', '.join(sorted(shps))})"
            )
        base = PurePosixPath(shps[stem].filename).with_suffix("")
        parts: dict[str, zipfile.ZipInfo] = {}
        for m in members:
            p = PurePosixPath(m.filename)
            if p.with_suffix("") == base:
                parts[p.suffix.lower()] = m
        for needed in (".shx", ".dbf"):
            if needed not in parts:
                raise InputFileError(
                    f"{path}: 缺少 {stem}{needed} (the Shapefile's {needed} is missing)"
                )
        out = Path(folder)
        for suffix, m in parts.items():
            # written under fixed names: nothing in the zip chooses a path on this machine
            (out / f"layer{suffix}").write_bytes(archive.read(m))
        shp = out / "layer.shp"
        notes: list[str] = []
        options: dict[str, str] = {}
        if ".cpg" in parts:
            cpg = (out / "layer.cpg").read_text(errors="replace").strip()
            notes.append(f"编码 {cpg}（来自 .cpg）; text encoding {cpg}, as the .cpg says")
        else:
            encoding, why = guess_dbf_encoding((out / "layer.dbf").read_bytes())
            label = ENCODING_LABELS.get(encoding, encoding)
            notes.append(
                f"没有 .cpg，按 .dbf 内容推断编码为 {label}; no .cpg: text read as {label} ({why})"
            )
            options["encoding"] = encoding
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=RuntimeWarning)
                frame = pyogrio.read_dataframe(shp, datetime_as_string=True, **options)
        except Exception as exc:
            raise InputFileError(f"{path}: 无法读取 {stem}.shp (cannot read it: {exc})") from exc
    has_prj = ".prj" in parts and frame.crs is not None
    if has_prj:
        notes.append(f"坐标系来自 .prj: {_crs_name(frame)}; CRS from the .prj")
    return ShapefileRead(frame, stem, tuple(notes), has_prj)


def _crs_name(frame: gpd.GeoDataFrame) -> str:
    crs = frame.crs
    epsg = crs.to_epsg() if crs is not None else None
    return f"{crs.name if crs is not None else '?'}" + (f" (EPSG:{epsg})" if epsg else "")
