"""The PostGIS store's schema: numbered migrations, the version a database has, ``init``.

Created and upgraded by the numbered migrations in ``sql/migrations/`` (``gisgrid init``),
recorded in ``gisgrid.schema_version``. A store that is not initialised reads as empty and
refuses writes with a message saying to run ``gisgrid init``; so does one whose schema is
older than this gisgrid (``gisgrid init`` upgrades it and keeps the data).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import psycopg

from gisgrid import __version__
from gisgrid.errors import ConfigError, StoreError
from gisgrid.stores.base import InitResult
from gisgrid.stores.postgis.queries import LOCK_MIGRATIONS, SQL_DIR, query, refusal


@dataclass(frozen=True)
class Migration:
    """One file of ``sql/migrations/``: ``NNNN_name.sql`` brings the schema to version NNNN."""

    version: int
    name: str
    text: str


@functools.cache
def migrations() -> tuple[Migration, ...]:
    """The migrations shipped with this gisgrid, in order (versions 1, 2, … without gaps)."""
    found = []
    for entry in (SQL_DIR / "migrations").iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            text = entry.read_text(encoding="utf-8")
            found.append(Migration(int(match.group(1)), match.group(2), text))
    found.sort(key=lambda m: m.version)
    if [m.version for m in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"gisgrid's migrations are not numbered 1, 2, …: {found}")
    return tuple(found)


def latest_version() -> int:
    """The schema version this gisgrid works with: its newest migration."""
    return migrations()[-1].version


def version_of(conn: psycopg.Connection[Any]) -> int | None:
    """The database's schema version; ``None`` when it has no version table."""
    row = conn.execute(query("version_table_exists")).fetchone()
    if row is None or not row[0]:
        return None
    found = conn.execute(query("schema_version")).fetchone()
    return int(found[0]) if found else 0


def check_usable(conn: psycopg.Connection[Any], url: str, *, writing: bool) -> bool:
    """Whether the schema is there and current (a store without one reads as empty).

    Raises
    ------
    StoreError
        Writing to a store without a schema; a schema older or newer than this gisgrid.
    """
    version = version_of(conn)
    latest = latest_version()
    if version is None or version == 0:
        if writing:
            raise StoreError(
                f"the store {url} has no gisgrid schema yet: run `gisgrid init --store URL` first"
            )
        return False
    if version < latest:
        raise StoreError(
            f"the store {url} has schema version {version}; this gisgrid needs "
            f"{latest}: run `gisgrid init --store URL` to upgrade it (the data are kept)"
        )
    if version > latest:
        raise StoreError(
            f"the store {url} has schema version {version}, newer than this gisgrid "
            f"knows ({latest}): upgrade gisgrid"
        )
    return True


def init_schema(conn: psycopg.Connection[Any], url: str, *, target: int | None) -> InitResult:
    """Apply the migrations not applied yet, up to ``target``, in the caller's transaction.

    See :meth:`gisgrid.stores.postgis.PostGISStore.init`.
    """
    goal = latest_version() if target is None else target
    if not 0 <= goal <= latest_version():
        raise ConfigError(f"no schema version {goal}: this gisgrid knows 1 to {latest_version()}")
    conn.execute(query("lock_migrations"), (LOCK_MIGRATIONS,))
    ensure_postgis(conn)
    schema_row = conn.execute(query("schema_exists")).fetchone()
    if not (schema_row and schema_row[0]):
        conn.execute(query("create_schema"))
    before = version_of(conn)
    if before is None:
        conn.execute(query("create_version_table"))
        before = 0
    if before > latest_version():
        raise StoreError(
            f"the store {url} has schema version {before}, newer than this "
            f"gisgrid knows ({latest_version()}): upgrade gisgrid"
        )
    applied = []
    for migration in migrations():
        if before < migration.version <= goal:
            try:
                conn.execute(migration.text.encode("utf-8"))
            except psycopg.errors.IntegrityError as exc:
                raise StoreError(
                    f"upgrading {url} to schema version {migration.version} "
                    f"stopped, nothing was changed: data already in the store break "
                    f"one of its rules: {refusal(exc)}"
                ) from exc
            conn.execute(
                query("record_migration"), (migration.version, migration.name, __version__)
            )
            applied.append(f"{migration.version:04d}_{migration.name}")
    after = max(before, goal) if applied else before
    return InitResult(versioned=True, before=before, after=after, applied=tuple(applied))


def ensure_postgis(conn: psycopg.Connection[Any]) -> None:
    """Create the ``postgis`` extension when it is missing and the role may.

    Raises
    ------
    StoreError
        Without PostGIS and without the right to create it.
    """
    if conn.execute(query("postgis_version")).fetchone():
        return
    try:
        with conn.transaction():
            conn.execute(query("create_postgis"))
    except psycopg.Error as exc:
        database = conn.info.dbname
        raise StoreError(
            f"the database {database!r} has no PostGIS and this role cannot add it "
            f"({exc.diag.message_primary}): a superuser must run "
            f"`CREATE EXTENSION postgis;` in it (Debian: install postgresql-15-postgis-3)"
        ) from exc
