"""Stores: where layers are kept. :func:`open_store` picks one from a path or URL."""

from __future__ import annotations

from gisgrid.errors import ConfigError
from gisgrid.settings import default_store
from gisgrid.stores.base import (
    BBox,
    GridCodesWritten,
    GridDecision,
    InitResult,
    LayerCodes,
    LayerPoints,
    Store,
    Where,
    WriteCheck,
    WriteMode,
)


def open_store(location: str | None = None) -> Store:
    """Open the store at a GeoPackage path or a ``postgresql://`` URL.

    Parameters
    ----------
    location
        Path or URL; ``None`` takes ``GISGRID_STORE`` or the default ``./gisgrid.gpkg``.
    """
    location = location or default_store()
    if location.startswith(("postgresql://", "postgres://")):
        try:
            from gisgrid.stores.postgis import PostGISStore
        except ImportError as exc:  # the PostGIS store arrives with its own issue
            raise ConfigError(f"the PostGIS store is not available: {exc}") from exc
        return PostGISStore(location)
    if "://" in location:
        raise ConfigError(f"unknown store URL {location!r}: give a .gpkg path or postgresql://…")
    from gisgrid.stores.geopackage import GeoPackageStore

    if not location.endswith(".gpkg"):
        raise ConfigError(
            f"the embedded store is a GeoPackage file ending in .gpkg, not {location!r}"
        )
    return GeoPackageStore(location)


__all__ = [
    "BBox",
    "GridCodesWritten",
    "GridDecision",
    "InitResult",
    "LayerCodes",
    "LayerPoints",
    "Store",
    "Where",
    "WriteCheck",
    "WriteMode",
    "open_store",
]
