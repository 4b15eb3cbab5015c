-- gisgrid schema version 9: visits to households (走访, issue #14).
--
-- One row per visit: who called on which household, when, for what, a note, and where the
-- visit was recorded (optional). Appended, never changed: a statement trigger refuses
-- UPDATE, DELETE and TRUNCATE, like the case steps of 0008. The household is a reference the
-- importer checks, not a foreign key: a visit stays on record when its household leaves the
-- register (moves away, is merged into another), as the grid versions of 0006 outlive their
-- grids.

CREATE TABLE gisgrid.visits (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL,
    household_id text NOT NULL,
    visitor text NOT NULL,
    at timestamp without time zone NOT NULL,
    kind text NOT NULL,
    note text,
    lon double precision,
    lat double precision,
    CONSTRAINT visits_id_key UNIQUE (id),
    CONSTRAINT visits_kind_known CHECK (
        kind IN ('look_in', 'errand', 'policy', 'mediation', 'other')
    ),
    CONSTRAINT visits_position_both CHECK ((lon IS NULL) = (lat IS NULL))
);
CREATE INDEX visits_household_id_idx ON gisgrid.visits (household_id, at);

CREATE TRIGGER visits_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON gisgrid.visits
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON gisgrid.visits FROM PUBLIC;

CREATE TRIGGER visits_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gisgrid.visits
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.bump_data_version();
