"""The PostGIS store: a PostgreSQL database with PostGIS, one table per layer.

* :mod:`.store`: :class:`PostGISStore`, the store itself.
* :mod:`.schema`: the numbered migrations of ``sql/migrations/`` and ``gisgrid init``.
* :mod:`.queries`: the one identifier helper, table names, the named queries of
  ``sql/queries.sql``.
* :mod:`.ledger`: :class:`PostGISLedger`, accounts, sessions, API tokens, the audit log.
* :mod:`.codecs`: values in and out (COPY rows, parameters, EWKB, binary points and codes).
"""

from __future__ import annotations

from gisgrid.errors import StoreConstraintError
from gisgrid.layers import ASSIGNED_LAYERS
from gisgrid.stores.base import InitResult
from gisgrid.stores.postgis.codecs import COPY_TYPES
from gisgrid.stores.postgis.ledger import PostGISLedger
from gisgrid.stores.postgis.queries import SCHEMA, ident
from gisgrid.stores.postgis.schema import Migration, latest_version, migrations
from gisgrid.stores.postgis.store import PostGISStore, redact

__all__ = [
    "ASSIGNED_LAYERS",
    "COPY_TYPES",
    "SCHEMA",
    "InitResult",
    "Migration",
    "PostGISLedger",
    "PostGISStore",
    "StoreConstraintError",
    "ident",
    "latest_version",
    "migrations",
    "redact",
]
