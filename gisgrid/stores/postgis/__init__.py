"""The PostGIS store: a PostgreSQL database with PostGIS, one table per layer.

``store.py`` is the store itself, ``sql/`` its queries and numbered migrations.
"""

from __future__ import annotations

from gisgrid.stores.postgis.store import (
    COPY_TYPES,
    SCHEMA,
    InitResult,
    PostGISStore,
    StoreConstraintError,
    ident,
    latest_version,
    migrations,
    redact,
)

__all__ = [
    "COPY_TYPES",
    "SCHEMA",
    "InitResult",
    "PostGISStore",
    "StoreConstraintError",
    "ident",
    "latest_version",
    "migrations",
    "redact",
]
