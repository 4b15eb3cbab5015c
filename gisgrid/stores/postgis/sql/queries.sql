-- The queries of the PostGIS store (gisgrid/stores/postgis/), one per `-- name:` block.
--
-- Values are always bound as parameters (%s). A {placeholder} is filled in by queries.py with
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

-- name: wait_server_writes
-- The web app's processes write one after the other (held by the session until unlocked).
SELECT pg_advisory_lock(%s)

-- name: end_server_writes
SELECT pg_advisory_unlock(%s)

-- name: try_lock_writes
-- One gisgrid writer at a time; false when another holds it (readers never wait).
SELECT pg_try_advisory_xact_lock(%s)

-- name: repeatable_read
SET TRANSACTION ISOLATION LEVEL REPEATABLE READ

-- name: data_version
-- Changes with every committed write of the layers (migration 0005): one tiny read.
SELECT gisgrid.data_version()

-- name: listen_data
-- Be told of every committed write of the layers (NOTIFY from the triggers, migration 0013).
LISTEN gisgrid_data

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

-- name: select_layer_page
-- One page of a read (limit, offset): the rows of select_layer from a position on.
SELECT {columns} FROM {table} WHERE {condition} ORDER BY fid LIMIT %s OFFSET %s

-- name: select_columns
-- Some columns of every row of a table (the stored keys of an append-only layer).
SELECT {columns} FROM {table}

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

-- name: is_not_null
{column} IS NOT NULL

-- name: at_least
{column} >= %s

-- name: at_most
{column} <= %s

-- name: always
true

-- name: never
false

-- name: delete_layer
DELETE FROM {table}

-- name: copy_layer
COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)

-- name: copy_layer_frozen
-- A bulk replace's COPY into the table it emptied (TRUNCATE) in this transaction: the rows
-- go in frozen, so no reader has to set their hint bits nor VACUUM to freeze them later.
COPY {table} ({columns}) FROM STDIN (FORMAT BINARY, FREEZE)

-- name: referenced_by
-- Whether another table's foreign key refers to this one (then it is never truncated).
SELECT EXISTS (
    SELECT 1 FROM pg_constraint
    WHERE confrelid = %s::regclass AND contype = 'f' AND conrelid <> confrelid
)

-- name: bulk_rebuilds
-- What a bulk replace drops before its COPY and builds after it, as the database itself
-- defines them: the primary key, unique and foreign key constraints, and the other indexes
-- (the GiST index, the indexes of referencing columns). Check and not-null constraints
-- stay: they are checked row by row during the COPY at little cost. In the order of
-- rebuilding: keys first (the rows' own checks), then indexes, then the references.
SELECT kind, name, definition FROM (
    SELECT CASE contype WHEN 'f' THEN 3 ELSE 1 END AS step, 'constraint' AS kind,
        conname::text AS name, pg_get_constraintdef(oid) AS definition
    FROM pg_constraint
    WHERE conrelid = %s::regclass AND contype IN ('p', 'u', 'f')
    UNION ALL
    SELECT 2, 'index', c.relname::text, pg_get_indexdef(i.indexrelid)
    FROM pg_index AS i
    JOIN pg_class AS c ON c.oid = i.indexrelid
    WHERE i.indrelid = %s::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint AS k WHERE k.conindid = i.indexrelid)
) AS r
ORDER BY step, name

-- name: checks_on_referenced
-- The deferrable foreign keys with triggers on the tables this one's foreign keys refer to
-- (their own references, and the references to them), and whether each starts deferred.
-- Their checks still pending in the transaction (rows of those tables written earlier in
-- it) must run before the table's foreign keys are dropped and added: PostgreSQL alters
-- no table with trigger events pending.
SELECT DISTINCT n.nspname::text, c.conname::text, c.condeferred
FROM pg_constraint AS f
JOIN pg_constraint AS c
    ON c.contype = 'f' AND c.condeferrable AND f.confrelid IN (c.conrelid, c.confrelid)
JOIN pg_namespace AS n ON n.oid = c.connamespace
WHERE f.conrelid = %s::regclass AND f.contype = 'f' AND f.confrelid <> f.conrelid
ORDER BY 1, 2

-- name: checks_now
SET CONSTRAINTS {constraints} IMMEDIATE

-- name: checks_at_commit
SET CONSTRAINTS {constraints} DEFERRED

-- name: drop_constraint
ALTER TABLE {table} DROP CONSTRAINT {constraint}

-- name: drop_index
DROP INDEX {index}

-- name: add_constraint
-- {definition}: the database's own text of the constraint dropped (bulk_rebuilds).
ALTER TABLE {table} ADD CONSTRAINT {constraint} {definition}

-- name: truncate_tables
-- A bulk replace empties the layer (and its grid codes) at once: no dead rows, no index
-- entries to remove. Statement triggers fire (the data version is bumped, the write
-- announced), as for DELETE.
TRUNCATE {tables}

-- name: analyze
ANALYZE {table}

-- name: get_meta
SELECT value FROM gisgrid.gisgrid_meta WHERE key = %s

-- name: put_meta
INSERT INTO gisgrid.gisgrid_meta (key, value) VALUES (%s, %s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()

-- name: level3_grids
-- The level-3 grids, every version: the latest (grids) and the superseded ones (grid_versions);
-- the decision keeps those in force on its date. In code order (smallest code first), a
-- code's versions by their start.
SELECT code, ST_AsBinary(geom), valid_from, valid_to FROM gisgrid.grids WHERE level = 3
UNION ALL
SELECT code, ST_AsBinary(geom), valid_from, valid_to FROM gisgrid.grid_versions WHERE level = 3
ORDER BY 1, 3 NULLS FIRST

-- name: delete_grids_by_code
-- The stored rows of the grids a publication replaces.
DELETE FROM gisgrid.grids WHERE code = ANY(%s::text[])

-- name: points_out
-- Every point of a layer as one value, 29 bytes a row: the fid as int8send (big endian),
-- then the point as little-endian WKB. One value moves far faster than a million rows.
SELECT count(*), string_agg(int8send(fid) || ST_AsBinary(geom, 'NDR'), ''::bytea)
FROM {table}

-- name: grid_codes_out
-- The grid codes of a point layer the same way, 16 bytes a row: fid and code as int8send
-- (codes are 18 digits, which fit).
SELECT count(*), string_agg(int8send(fid) || int8send(grid_code::bigint), ''::bytea)
FROM {grid}

-- name: owns
-- Whether the current role may alter the table (owns it, or is a member of its owner).
SELECT pg_has_role(c.relowner, 'USAGE') FROM pg_class AS c WHERE c.oid = %s::regclass

-- name: drop_primary_key
ALTER TABLE {grid} DROP CONSTRAINT {constraint}

-- name: add_primary_key
ALTER TABLE {grid} ADD CONSTRAINT {constraint} PRIMARY KEY (fid)

-- name: insert_grid_codes
-- The grid codes a write brings, matched to the rows just written by the layer's key.
INSERT INTO {grid} (fid, grid_code)
SELECT t.fid, v.grid_code
FROM unnest(%s::text[], %s::text[]) AS v (layer_key, grid_code)
JOIN {table} AS t ON t.{key} = v.layer_key

-- name: truncate_grid
-- Assignment refilling a layer's grid codes. TRUNCATE, not DELETE: no dead rows left in the
-- table and its index (a DELETE then COPY of a million rows takes five times as long).
TRUNCATE {grid}

-- name: copy_grid
COPY {grid} (fid, grid_code) FROM STDIN (FORMAT BINARY)

-- name: delete_grid_codes
DELETE FROM {grid} WHERE fid = ANY(%s::int8[])

-- name: insert_grid_rows
INSERT INTO {grid} (fid, grid_code)
SELECT * FROM unnest(%s::int8[], %s::text[])

-- name: keys_of
-- The keys of some features (an assignment's points in no grid), by fid.
SELECT {key} FROM {table} WHERE fid = ANY(%s::int8[])

-- The ledger (ledger.py): accounts, sessions, API tokens, the audit log (migration 0004).
-- Times are bound as timezone-aware datetimes; a NULL parameter in a change keeps the value.

-- name: ledger_insert_account
INSERT INTO gisgrid.accounts (
    username, display_name, role, area, password_hash, phone, created_at, password_changed_at
) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
RETURNING id, username, display_name, role, area, password_hash, phone, disabled, created_at,
    password_changed_at

-- name: ledger_change_account
-- Parameters: display name, role, area, phone twice ('' removes it), password hash twice, the
-- time of the change, disabled, the username.
UPDATE gisgrid.accounts SET
    display_name = coalesce(%s::text, display_name),
    role = coalesce(%s::text, role),
    area = coalesce(%s::text, area),
    phone = CASE WHEN %s::text IS NULL THEN phone ELSE nullif(%s::text, '') END,
    password_hash = coalesce(%s::text, password_hash),
    password_changed_at = CASE WHEN %s::text IS NULL THEN password_changed_at
        ELSE %s::timestamptz END,
    disabled = coalesce(%s::boolean, disabled)
WHERE username = %s
RETURNING id, username, display_name, role, area, password_hash, phone, disabled, created_at,
    password_changed_at

-- name: ledger_end_account_sessions
UPDATE gisgrid.sessions SET ended_at = %s WHERE account_id = %s AND ended_at IS NULL

-- name: ledger_account
SELECT id, username, display_name, role, area, password_hash, phone, disabled, created_at,
    password_changed_at
FROM gisgrid.accounts WHERE username = %s

-- name: ledger_account_by_id
SELECT id, username, display_name, role, area, password_hash, phone, disabled, created_at,
    password_changed_at
FROM gisgrid.accounts WHERE id = %s

-- name: ledger_accounts
SELECT id, username, display_name, role, area, password_hash, phone, disabled, created_at,
    password_changed_at
FROM gisgrid.accounts ORDER BY username

-- name: ledger_account_exists
SELECT EXISTS (SELECT 1 FROM gisgrid.accounts WHERE id = %s)

-- name: ledger_insert_session
INSERT INTO gisgrid.sessions (
    token_hash, account_id, csrf_token, created_at, expires_at, last_seen_at, address, ended_at
) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)

-- name: ledger_session
SELECT token_hash, account_id, csrf_token, created_at, expires_at, last_seen_at, address,
    ended_at
FROM gisgrid.sessions WHERE token_hash = %s

-- name: ledger_touch_session
-- Only forward: two requests of one session may finish in either order.
UPDATE gisgrid.sessions SET last_seen_at = %s
WHERE token_hash = %s AND ended_at IS NULL AND last_seen_at < %s

-- name: ledger_end_session
UPDATE gisgrid.sessions SET ended_at = coalesce(ended_at, %s) WHERE token_hash = %s

-- name: ledger_insert_token
INSERT INTO gisgrid.api_tokens (account_id, name, token_hash, prefix, created_at, expires_at)
VALUES (%s, %s, %s, %s, %s, %s)
RETURNING id, account_id, name, token_hash, prefix, created_at, expires_at, revoked_at,
    last_used_at

-- name: ledger_tokens
SELECT id, account_id, name, token_hash, prefix, created_at, expires_at, revoked_at,
    last_used_at
FROM gisgrid.api_tokens WHERE {condition} ORDER BY created_at DESC, id DESC

-- name: ledger_token
SELECT id, account_id, name, token_hash, prefix, created_at, expires_at, revoked_at,
    last_used_at
FROM gisgrid.api_tokens WHERE token_hash = %s

-- name: ledger_touch_token
-- Only forward, like a session.
UPDATE gisgrid.api_tokens SET last_used_at = greatest(last_used_at, %s) WHERE id = %s

-- name: ledger_revoke_token
-- A token revoked twice keeps the first time.
UPDATE gisgrid.api_tokens SET revoked_at = coalesce(revoked_at, %s) WHERE id = %s
RETURNING id, account_id, name, token_hash, prefix, created_at, expires_at, revoked_at,
    last_used_at

-- name: ledger_append_audit
INSERT INTO gisgrid.audit_log (at, actor, role, action, outcome, address, target, reason, detail)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)

-- name: ledger_audit_newest
SELECT id, at, actor, role, action, outcome, address, target, reason, detail
FROM gisgrid.audit_log WHERE {condition} ORDER BY id DESC LIMIT %s

-- name: ledger_audit_oldest
SELECT id, at, actor, role, action, outcome, address, target, reason, detail
FROM gisgrid.audit_log WHERE {condition} ORDER BY id LIMIT %s

-- name: ledger_count_audit
SELECT count(*) FROM gisgrid.audit_log WHERE {condition}

-- name: ledger_since
at >= %s

-- name: ledger_until
at < %s

-- name: ledger_before_id
id < %s

-- name: ledger_target_contains
-- Plain text: no LIKE wildcards to escape.
strpos(target, %s) > 0

-- The change sets (changesets.py, migration 0007). Columns in the order of
-- gisgrid/stores/changeset_records.py; times are UTC without zone, bound from Python.

-- name: changes_insert
INSERT INTO gisgrid.change_sets (
    village_code, title, note, author, status, base, edits, created_at, updated_at
) VALUES (%s, %s, %s, %s, 'draft', %s, 0, %s, %s)
RETURNING id, village_code, title, note, author, status, base, edits, created_at, updated_at,
    reviewer, comment, published_on

-- name: changes_get
SELECT id, village_code, title, note, author, status, base, edits, created_at, updated_at,
    reviewer, comment, published_on
FROM gisgrid.change_sets WHERE id = %s

-- name: changes_get_for_update
-- The row locked until the transaction ends: its compare-and-set waits for any other.
SELECT id, village_code, title, note, author, status, base, edits, created_at, updated_at,
    reviewer, comment, published_on
FROM gisgrid.change_sets WHERE id = %s FOR UPDATE

-- name: changes_find
-- Parameters: villages (text[] or NULL: all) twice, statuses (text[] or NULL) twice, limit.
SELECT id, village_code, title, note, author, status, base, edits, created_at, updated_at,
    reviewer, comment, published_on
FROM gisgrid.change_sets
WHERE (%s::text[] IS NULL OR village_code = ANY(%s::text[]))
    AND (%s::text[] IS NULL OR status = ANY(%s::text[]))
ORDER BY id DESC LIMIT %s

-- name: changes_other_submitted
-- Another change set of the village under review (the one-per-village rule).
SELECT id, village_code, title, note, author, status, base, edits, created_at, updated_at,
    reviewer, comment, published_on
FROM gisgrid.change_sets
WHERE village_code = %s AND status = 'submitted' AND id <> %s
ORDER BY id LIMIT 1

-- name: changes_count_edit
-- Compare and set: only when the last edit is still the one the new edit follows.
UPDATE gisgrid.change_sets SET edits = %s, updated_at = %s WHERE id = %s AND edits = %s

-- name: changes_insert_edit
INSERT INTO gisgrid.change_set_edits (change_set, seq, op, params, result, actor, at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
RETURNING change_set, seq, op, params, result, actor, at

-- name: changes_edits
SELECT change_set, seq, op, params, result, actor, at
FROM gisgrid.change_set_edits WHERE change_set = %s ORDER BY seq

-- name: changes_move
-- Compare and set the status. Parameters: status, updated_at, base (NULL keeps it), whether
-- it is a review step, the reviewer, whether it is a review step, the comment, published_on
-- (NULL keeps it), id, the status it must still have.
UPDATE gisgrid.change_sets SET
    status = %s,
    updated_at = %s,
    base = coalesce(%s::text, base),
    reviewer = CASE WHEN %s THEN %s::text ELSE reviewer END,
    comment = CASE WHEN %s THEN %s::text ELSE comment END,
    published_on = coalesce(%s::date, published_on)
WHERE id = %s AND status = %s
RETURNING id, village_code, title, note, author, status, base, edits, created_at, updated_at,
    reviewer, comment, published_on

-- name: changes_insert_event
INSERT INTO gisgrid.change_set_events (change_set, at, actor, action, comment)
VALUES (%s, %s, %s, %s, %s)

-- name: changes_events
SELECT change_set, at, actor, action, comment
FROM gisgrid.change_set_events WHERE change_set = %s ORDER BY id

-- name: photos_insert
-- The same bytes again for the same incident: nothing new (the row stays as it was).
INSERT INTO gisgrid.case_photos (incident_id, sha256, media_type, size, data, uploaded_by,
    uploaded_at)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (incident_id, sha256) DO NOTHING

-- name: photos_ref
SELECT incident_id, sha256, media_type, size, uploaded_by, uploaded_at
FROM gisgrid.case_photos WHERE incident_id = %s AND sha256 = %s

-- name: photos_get
SELECT incident_id, sha256, media_type, size, uploaded_by, uploaded_at, data
FROM gisgrid.case_photos WHERE incident_id = %s AND sha256 = %s

-- name: photos_list
SELECT incident_id, sha256, media_type, size, uploaded_by, uploaded_at
FROM gisgrid.case_photos WHERE incident_id = %s ORDER BY id
