-- gisgrid schema version 6: grid versions (issue #13). Publishing never overwrites a grid.
--
-- `grids` keeps the latest version of every grid; each row says which version it is
-- (`version`, empty reads as 1), which grids it came from (`derived_from`: codes separated
-- by commas, the lineage of a split or merge) and which change set published it
-- (`change_set`, empty: imported).
--
-- `grid_versions` keeps every version a later one superseded, as it was, with when
-- (`superseded_at`, local time like every timestamp of the layers) and by which change set
-- (`superseded_by`, empty: an import). Together with `grids`, the rows in force on a date are
-- the net as it stood then. It has no foreign key to `grids` nor to `villages`: the history
-- of a grid survives whatever happens to the grid, its parent or its village later.
--
-- The history is append-only, like the audit log of 0004: a statement trigger refuses every
-- UPDATE, DELETE and TRUNCATE of it, whoever sends them (the application's role included);
-- only the table's owner dropping or disabling the trigger could rewrite it, a DBA's
-- deliberate act outside gisgrid. Every write counts as a data version (0005).

ALTER TABLE gisgrid.grids
    ADD COLUMN version integer,
    ADD COLUMN derived_from text,
    ADD COLUMN change_set integer,
    ADD CONSTRAINT grids_version_positive CHECK (version IS NULL OR version >= 1),
    ADD CONSTRAINT grids_change_set_positive CHECK (change_set IS NULL OR change_set >= 1);

CREATE TABLE gisgrid.grid_versions (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL,
    level integer NOT NULL,
    parent_code text,
    village_code text NOT NULL,
    name text NOT NULL,
    responsible_name text,
    responsible_phone text,
    responsible_role text,
    valid_from date,
    valid_to date,
    version integer NOT NULL,
    derived_from text,
    change_set integer,
    superseded_at timestamp without time zone NOT NULL,
    superseded_by integer,
    geom geometry(MultiPolygon, 4326) NOT NULL,
    CONSTRAINT grid_versions_key UNIQUE (code, version),
    CONSTRAINT grid_versions_level_range CHECK (level BETWEEN 1 AND 3),
    CONSTRAINT grid_versions_code_format CHECK (
        code ~ '^[0-9]+$'
        AND char_length(code) = 9 + 3 * level
        AND left(code, 12) = village_code
        AND CASE
            WHEN level = 1 THEN parent_code IS NULL
            ELSE parent_code IS NOT NULL
                AND char_length(parent_code) = char_length(code) - 3
                AND left(code, char_length(parent_code)) = parent_code
        END
    ),
    CONSTRAINT grid_versions_version_positive CHECK (version >= 1),
    CONSTRAINT grid_versions_valid_dates CHECK (valid_to IS NULL OR valid_from IS NULL
        OR valid_to >= valid_from),
    CONSTRAINT grid_versions_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))
);
CREATE INDEX grid_versions_geom_idx ON gisgrid.grid_versions USING gist (geom);
CREATE INDEX grid_versions_village_code_idx ON gisgrid.grid_versions (village_code);

CREATE FUNCTION gisgrid.grid_versions_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the grid versions are append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- statement triggers: even an UPDATE or DELETE that matches no row is refused
CREATE TRIGGER grid_versions_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON gisgrid.grid_versions
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.grid_versions_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON gisgrid.grid_versions FROM PUBLIC;

CREATE TRIGGER grid_versions_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gisgrid.grid_versions
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.bump_data_version();
