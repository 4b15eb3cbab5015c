"""Files in and out: the formats planners, registers and phone apps use.

:mod:`.imports` reads a file, checks it as a whole and writes it in one store transaction;
:mod:`.sources` reads any format for it (:mod:`.tables`: Excel and CSV registers,
:mod:`.encodings`, :mod:`.headers`, :mod:`.addresses`: 村组门牌; :mod:`.shapefiles`,
:mod:`.kml`); :mod:`.coordinates` catches coordinates that look wrong; :mod:`.report` says
every problem by row and column; :mod:`.export` writes a layer out (Excel, Shapefile,
KML, GeoJSON, GeoPackage).
"""

from __future__ import annotations

from gisgrid.exchange.export import (
    ENDINGS,
    Extract,
    export_bytes,
    export_layer,
    format_of,
    read_extract,
    write_export,
)
from gisgrid.exchange.imports import (
    DRIVERS,
    ImportResult,
    LayerChange,
    boundary_problems,
    import_file,
    outside_county,
    read_exchange_file,
    store_problems,
    version_grids,
    with_grid_codes,
)

__all__ = [
    "DRIVERS",
    "ENDINGS",
    "Extract",
    "ImportResult",
    "LayerChange",
    "boundary_problems",
    "export_bytes",
    "export_layer",
    "format_of",
    "import_file",
    "outside_county",
    "read_exchange_file",
    "read_extract",
    "store_problems",
    "version_grids",
    "with_grid_codes",
    "write_export",
]
