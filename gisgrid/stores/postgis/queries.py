"""The PostGIS store's SQL: the one identifier helper, table names, the named queries.

All SQL is in ``sql/queries.sql`` and ``sql/migrations/``; values are bound as parameters and
identifiers quoted by :func:`ident`, the one helper that does it.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from gisgrid.errors import ConfigError
from gisgrid.layers import ASSIGNED_LAYERS, get_layer
from gisgrid.layers.schema import Layer
from gisgrid.stores.base import BBox, Span, Where
from gisgrid.stores.postgis.codecs import param

#: the PostgreSQL schema holding gisgrid's tables (the SQL files name it too)
SCHEMA = "gisgrid"
#: advisory lock keys ("gisgrid" in ASCII, plus 1 for migrations, 2 for writes, 3 for the
#: turns of the web app's processes)
LOCK_MIGRATIONS = 0x67697367726964_01
LOCK_WRITES = 0x67697367726964_02
LOCK_SERVER_WRITES = 0x67697367726964_03

SQL_DIR = resources.files("gisgrid.stores.postgis") / "sql"


def ident(*names: str) -> sql.Identifier:
    """The one place identifiers are quoted: ``ident("gisgrid", "grids")`` → ``"gisgrid"."grids"``.

    Names come from the layer declarations, never from user input.
    """
    return sql.Identifier(*names)


def catalog_definition(text: str) -> sql.SQL:
    """A constraint's or an index's definition as the database itself wrote it.

    Only for the text of ``pg_get_constraintdef`` and ``pg_get_indexdef`` of the tables the
    migrations made (the ``bulk_rebuilds`` query): SQL the server deparsed from its own
    catalog, never user input, put back as it came after a bulk load.
    """
    return sql.SQL(text)


def table(layer: str) -> sql.Identifier:
    """The schema-qualified table of a declared layer."""
    get_layer(layer)
    return ident(SCHEMA, layer)


def grid_table(layer: str) -> sql.Identifier:
    """The table of a point layer's grid codes, ``<layer>_grid`` (fid, grid_code)."""
    if layer not in ASSIGNED_LAYERS:
        raise ConfigError(f"{layer} has no grid codes")
    return ident(SCHEMA, f"{layer}_grid")


def source(layer: str) -> sql.Identifier:
    """What reads of a layer select from: the table, or for a point layer with grid codes
    the view ``<layer>_with_grid`` that joins them in."""
    get_layer(layer)
    return ident(SCHEMA, f"{layer}_with_grid" if layer in ASSIGNED_LAYERS else layer)


@functools.cache
def named_queries() -> dict[str, str]:
    """The queries of ``sql/queries.sql`` by name (each ``-- name:`` block, comments dropped)."""
    text = (SQL_DIR / "queries.sql").read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        match = re.fullmatch(r"--\s*name:\s*(\w+)\s*", line)
        if match:
            current = found.setdefault(match.group(1), [])
            continue
        if current is not None and not line.startswith("--"):
            current.append(line)
    return {name: "\n".join(lines).strip().rstrip(";") for name, lines in found.items()}


def query(name: str, **parts: sql.Composable) -> sql.SQL | sql.Composed:
    """The query ``name`` of ``sql/queries.sql`` with its ``{placeholders}`` filled by ``parts``."""
    template = sql.SQL(named_queries()[name])
    return template.format(**parts) if parts else template


def condition(
    decl: Layer, where: Where | None, bbox: BBox | None
) -> tuple[sql.SQL | sql.Composed, list[Any]]:
    """A WHERE condition and its parameters from column → value(s) and a bounding box."""
    parts: list[sql.Composable] = []
    params: list[Any] = []
    for column, value in (where or {}).items():
        f = decl.field(column)  # KeyError for undeclared columns: never a name from outside
        name = ident(column)
        if value is None:
            parts.append(query("is_null", column=name))
        elif isinstance(value, Span):  # NULL compares as unknown: never in a span
            parts.append(query("is_not_null", column=name))
            if value.start is not None:
                parts.append(query("at_least", column=name))
                params.append(param(f, value.start))
            if value.end is not None:
                parts.append(query("at_most", column=name))
                params.append(param(f, value.end))
        elif isinstance(value, list | tuple | set | frozenset):
            if not value:
                parts.append(query("never"))
            else:
                parts.append(query("equals_any", column=name))
                params.append([param(f, v) for v in value])
        else:
            parts.append(query("equals", column=name))
            params.append(param(f, value))
    if bbox is not None and decl.spatial:
        parts.append(query("in_bbox"))
        params.extend(float(v) for v in bbox)
    if not parts:
        return query("always"), params
    return sql.SQL(" AND ").join(parts), params


#: what the constraints of the migrations mean, by the end of their names
_EXPLANATIONS = (
    ("_geom_valid", "a geometry is invalid or empty (ST_IsValid)"),
    ("_fkey", "it refers to a feature that is not in the store"),
    ("_level_range", "a grid level must be 1, 2 or 3"),
    ("_code_format", "a code is malformed or does not extend its parent's"),
    ("_members", "members must be 1 to 50 and elderly at most members"),
    ("_valid_dates", "valid_to is before valid_from"),
    ("_key", "a key is already taken (keys are unique)"),
)


def refusal(exc: psycopg.errors.IntegrityError) -> str:
    """A plain message for a constraint the data broke."""
    diag = exc.diag
    name = diag.constraint_name or ""
    why = next((text for suffix, text in _EXPLANATIONS if name.endswith(suffix)), "")
    if isinstance(exc, psycopg.errors.NotNullViolation):
        why = f"a required value is missing ({diag.column_name})"
    detail = (diag.message_detail or "").strip()
    if len(detail) > 200:
        detail = detail[:200] + " …"
    where = f"{diag.table_name}: " if diag.table_name else ""
    text = f"{where}{why or diag.message_primary}"
    if name:
        text += f" [constraint {name}]"
    if detail:
        text += f"; {detail}"
    return text
