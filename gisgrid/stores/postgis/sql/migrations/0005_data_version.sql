-- gisgrid schema version 5: a data version, so that every running server sees every write.
--
-- A server keeps the grids in memory (and what it computed from the layers). It asks about
-- once a second for `gisgrid.data_version()` and reloads when the answer differs from the
-- one it loaded with. The version is one row, bumped by statement-level triggers on every
-- table of the layers, of their grid codes and of the metadata, whoever writes: gisgrid, QGIS
-- or psql, for INSERT, UPDATE, DELETE and TRUNCATE (also a statement that matches no row:
-- one reload too many is cheap, one too few is a stale answer). The bump is part of the
-- writing transaction: it becomes visible exactly when the data do, and not before.
--
-- The accounts, sessions, API tokens and the audit log have no trigger: they change on
-- every request and hold nothing a server keeps in memory.
--
-- Both functions run as their owner (SECURITY DEFINER, with a fixed search_path), so a role
-- granted only its layer tables (docs/county-it.md: the clerk, a read-only user) bumps and
-- reads the version without a grant on its table. The answer is the counter and the row
-- version's transaction id (`xmin`): a database restored from a dump with an equal counter
-- still answers differently.

CREATE TABLE gisgrid.data_version (
    one boolean PRIMARY KEY DEFAULT true,
    version bigint NOT NULL,
    CONSTRAINT data_version_one_row CHECK (one)
);
INSERT INTO gisgrid.data_version (one, version) VALUES (true, 1);

CREATE FUNCTION gisgrid.bump_data_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE gisgrid.data_version SET version = version + 1;
    RETURN NULL;
END;
$$;

CREATE FUNCTION gisgrid.data_version() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT version::text || '.' || xmin::text FROM gisgrid.data_version
$$;

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY[
        'townships', 'villages', 'grids', 'households', 'service_points', 'incidents',
        'county_leaders', 'leader_townships', 'pairings', 'first_secretaries',
        'volunteer_teams', 'volunteer_activities', 'households_grid', 'service_points_grid',
        'incidents_grid', 'gisgrid_meta'
    ] LOOP
        EXECUTE format(
            'CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gisgrid.%I '
            'FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.bump_data_version()',
            name || '_data_version', name
        );
    END LOOP;
END;
$$;

REVOKE ALL ON FUNCTION gisgrid.bump_data_version() FROM PUBLIC;
