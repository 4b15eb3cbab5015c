-- The queries of the PostGIS store (gisgrid/stores/postgis.py), one per `-- name:` block.
--
-- Values are always bound as parameters (%s). A {placeholder} is filled in by the store with
-- psycopg.sql objects only: identifiers quoted by its one helper (`ident`), taken from the
-- layer declarations, never from user input; or other fragments of this file.

-- name: postgis_version
-- The installed PostGIS extension's version; no row when the database has none.
SELECT extversion FROM pg_extension WHERE extname = 'postgis'

-- name: create_postgis
CREATE EXTENSION IF NOT EXISTS postgis

-- name: schema_exists
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'gisgrid')

-- name: create_schema
CREATE SCHEMA gisgrid

-- name: version_table_exists
SELECT to_regclass('gisgrid.schema_version') IS NOT NULL

-- name: create_version_table
-- One row per migration applied.
CREATE TABLE gisgrid.schema_version (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    applied_by text NOT NULL DEFAULT current_user,
    gisgrid_version text NOT NULL
)

-- name: schema_version
SELECT coalesce(max(version), 0) FROM gisgrid.schema_version

-- name: applied_migrations
SELECT version, name, applied_at, applied_by, gisgrid_version
FROM gisgrid.schema_version ORDER BY version

-- name: record_migration
INSERT INTO gisgrid.schema_version (version, name, gisgrid_version) VALUES (%s, %s, %s)

-- name: lock_migrations
-- Held until the transaction ends: two `gisgrid init` at once run one after the other.
SELECT pg_advisory_xact_lock(%s)

-- name: try_lock_writes
-- One gisgrid writer at a time; false when another holds it (readers never wait).
SELECT pg_try_advisory_xact_lock(%s)

-- name: repeatable_read
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ

-- name: layer_tables
SELECT c.relname
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname = 'gisgrid' AND c.relkind IN ('r', 'p')

-- name: table_columns
-- Columns of the gisgrid tables as the database has them (for the schema tests).
SELECT table_name, column_name, udt_name, is_nullable = 'YES'
FROM information_schema.columns
WHERE table_schema = 'gisgrid'
ORDER BY table_name, ordinal_position

-- name: geometry_wkb
ST_AsBinary(geom)

-- name: select_layer
SELECT {columns} FROM {table} WHERE {condition} ORDER BY fid

-- name: count_layer
SELECT count(*) FROM {table} WHERE {condition}

-- name: in_bbox
-- Features that touch the box (xmin, ymin, xmax, ymax), its edges included. A box of no
-- width or height becomes a point or a line (the box2d to geometry cast), so it still finds
-- what lies on it.
ST_Intersects(
    geom, ST_SetSRID(ST_MakeBox2D(ST_MakePoint(%s, %s), ST_MakePoint(%s, %s))::geometry, 4326)
)

-- name: equals
{column} = %s

-- name: equals_any
{column} = ANY(%s)

-- name: is_null
{column} IS NULL

-- name: always
true

-- name: never
false

-- name: delete_layer
DELETE FROM {table}

-- name: copy_layer
COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)

-- name: get_meta
SELECT value FROM gisgrid.gisgrid_meta WHERE key = %s

-- name: put_meta
INSERT INTO gisgrid.gisgrid_meta (key, value) VALUES (%s, %s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()

-- name: level3_grids
-- The grids points are assigned to, in code order (smallest code first).
SELECT code, ST_AsBinary(geom) FROM gisgrid.grids WHERE level = 3 ORDER BY code

-- name: points_out
-- Every point of a layer as one value, 37 bytes a row: the fid and the current grid code as
-- int8send (big endian; -1 for none: codes are 18 digits, which fit), then the point as
-- little-endian WKB. One value moves far faster than a million rows.
SELECT
    count(*),
    string_agg(
        int8send(fid) || int8send(coalesce(grid_code::bigint, -1)) || ST_AsBinary(geom, 'NDR'),
        ''::bytea
    )
FROM {table}

-- name: create_assignment
-- The rows whose grid changes: fid and the new code as a number (-1: no grid).
CREATE TEMPORARY TABLE gisgrid_assignment (fid bigint NOT NULL, code bigint NOT NULL)
ON COMMIT DROP

-- name: copy_assignment
COPY gisgrid_assignment (fid, code) FROM STDIN (FORMAT BINARY)

-- name: analyze_assignment
ANALYZE gisgrid_assignment

-- name: apply_assignment
-- One set-based UPDATE of the rows that change (level-3 codes are 18 digits: lpad restores
-- any leading zero).
UPDATE {table} AS t
SET grid_code = CASE WHEN a.code < 0 THEN NULL ELSE lpad(a.code::text, 18, '0') END
FROM gisgrid_assignment AS a
WHERE t.fid = a.fid
