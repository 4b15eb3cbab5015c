"""Writing a layer out to an exchange file."""

from __future__ import annotations

from pathlib import Path

import pyogrio

from gisgrid.errors import ConfigError, InputFileError
from gisgrid.exchange.imports import DRIVERS, _driver_for
from gisgrid.layers import get_layer
from gisgrid.stores.base import Store


def export_layer(store: Store, layer: str, path: str | Path) -> int:
    """Write a layer from ``store`` to a GeoJSON or GeoPackage file; returns the feature count.

    GeoJSON is written in EPSG:4326 (RFC 7946); a GeoPackage keeps the storage CRS.
    """
    path = Path(path)
    decl = get_layer(layer)
    if path.suffix.lower() not in DRIVERS:  # an output the user asked for: a bad option
        endings = ", ".join(DRIVERS)
        raise ConfigError(f"{path}: unknown file type to export to; use one of {endings}")
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
