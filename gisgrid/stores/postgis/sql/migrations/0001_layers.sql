-- gisgrid schema version 1: one table per layer, and the metadata table.
--
-- Every table has a surrogate key `fid` (insertion order, which reads keep, and the integer
-- key QGIS likes) and the layer's own key as a UNIQUE constraint. Column types follow the
-- layer declarations (gisgrid/layers/): text, integer, boolean, date, timestamp (local time,
-- no zone), geometry(MultiPolygon | Point, 4326). References between layers are foreign keys,
-- DEFERRABLE INITIALLY DEFERRED: checked when the transaction commits, so that one write may
-- replace several layers in any order. A household's `backbone_id` is a link the importer
-- and the checks verify, not a foreign key: a row-by-row check of 150,000 self-references
-- at every commit would cost more than the whole load.

CREATE TABLE gisgrid.townships (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL,
    name text NOT NULL,
    geom geometry(MultiPolygon, 4326) NOT NULL,
    CONSTRAINT townships_code_key UNIQUE (code),
    CONSTRAINT townships_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))
);
CREATE INDEX townships_geom_idx ON gisgrid.townships USING gist (geom);

CREATE TABLE gisgrid.villages (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code text NOT NULL,
    name text NOT NULL,
    township_code text NOT NULL,
    kind text NOT NULL,
    credit_village boolean DEFAULT false,
    geom geometry(MultiPolygon, 4326) NOT NULL,
    CONSTRAINT villages_code_key UNIQUE (code),
    CONSTRAINT villages_township_code_fkey FOREIGN KEY (township_code)
        REFERENCES gisgrid.townships (code) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT villages_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))
);
CREATE INDEX villages_geom_idx ON gisgrid.villages USING gist (geom);

CREATE TABLE gisgrid.grids (
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
    geom geometry(MultiPolygon, 4326) NOT NULL,
    CONSTRAINT grids_code_key UNIQUE (code),
    CONSTRAINT grids_level_range CHECK (level BETWEEN 1 AND 3),
    CONSTRAINT grids_parent_code_fkey FOREIGN KEY (parent_code)
        REFERENCES gisgrid.grids (code) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT grids_village_code_fkey FOREIGN KEY (village_code)
        REFERENCES gisgrid.villages (code) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT grids_valid_dates CHECK (valid_to IS NULL OR valid_from IS NULL
        OR valid_to >= valid_from),
    CONSTRAINT grids_geom_valid CHECK (ST_IsValid(geom) AND NOT ST_IsEmpty(geom))
);
CREATE INDEX grids_geom_idx ON gisgrid.grids USING gist (geom);
CREATE INDEX grids_parent_code_idx ON gisgrid.grids (parent_code);
CREATE INDEX grids_village_code_idx ON gisgrid.grids (village_code);

CREATE TABLE gisgrid.households (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL,
    head_name text NOT NULL,
    house_number text,
    village_code text NOT NULL,
    members integer NOT NULL,
    elderly integer NOT NULL,
    party_member boolean DEFAULT false,
    backbone boolean DEFAULT false,
    backbone_id text,
    credit_rating text,
    grid_code text,
    geom geometry(Point, 4326) NOT NULL,
    CONSTRAINT households_id_key UNIQUE (id),
    CONSTRAINT households_village_code_fkey FOREIGN KEY (village_code)
        REFERENCES gisgrid.villages (code) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT households_geom_valid CHECK (NOT ST_IsEmpty(geom))
);
CREATE INDEX households_geom_idx ON gisgrid.households USING gist (geom);
-- referencing columns are indexed: replacing villages checks every reference at commit
CREATE INDEX households_village_code_idx ON gisgrid.households (village_code);

CREATE TABLE gisgrid.service_points (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    village_code text,
    watcher text,
    grid_code text,
    geom geometry(Point, 4326) NOT NULL,
    CONSTRAINT service_points_id_key UNIQUE (id),
    CONSTRAINT service_points_village_code_fkey FOREIGN KEY (village_code)
        REFERENCES gisgrid.villages (code) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT service_points_geom_valid CHECK (NOT ST_IsEmpty(geom))
);
CREATE INDEX service_points_geom_idx ON gisgrid.service_points USING gist (geom);

CREATE TABLE gisgrid.incidents (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL,
    kind text NOT NULL,
    reported_at timestamp without time zone NOT NULL,
    status text NOT NULL,
    description text,
    grid_code text,
    geom geometry(Point, 4326) NOT NULL,
    CONSTRAINT incidents_id_key UNIQUE (id),
    CONSTRAINT incidents_geom_valid CHECK (NOT ST_IsEmpty(geom))
);
CREATE INDEX incidents_geom_idx ON gisgrid.incidents USING gist (geom);

CREATE TABLE gisgrid.county_leaders (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL,
    name text NOT NULL,
    post text NOT NULL,
    CONSTRAINT county_leaders_id_key UNIQUE (id)
);

CREATE TABLE gisgrid.leader_townships (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    leader_id text NOT NULL,
    township_code text NOT NULL,
    CONSTRAINT leader_townships_key UNIQUE (leader_id, township_code),
    CONSTRAINT leader_townships_leader_id_fkey FOREIGN KEY (leader_id)
        REFERENCES gisgrid.county_leaders (id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT leader_townships_township_code_fkey FOREIGN KEY (township_code)
        REFERENCES gisgrid.townships (code) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE gisgrid.pairings (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    unit_name text NOT NULL,
    unit_kind text NOT NULL,
    village_code text NOT NULL,
    kind text NOT NULL,
    CONSTRAINT pairings_key UNIQUE (unit_name, village_code),
    CONSTRAINT pairings_village_code_fkey FOREIGN KEY (village_code)
        REFERENCES gisgrid.villages (code) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE gisgrid.first_secretaries (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL,
    name text NOT NULL,
    unit text NOT NULL,
    village_code text NOT NULL,
    start_on date,
    CONSTRAINT first_secretaries_id_key UNIQUE (id),
    CONSTRAINT first_secretaries_village_code_fkey FOREIGN KEY (village_code)
        REFERENCES gisgrid.villages (code) DEFERRABLE INITIALLY DEFERRED
);

CREATE TABLE gisgrid.volunteer_teams (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL,
    name text NOT NULL,
    village_code text NOT NULL,
    leader_name text,
    members integer NOT NULL,
    geom geometry(Point, 4326) NOT NULL,
    CONSTRAINT volunteer_teams_id_key UNIQUE (id),
    CONSTRAINT volunteer_teams_village_code_fkey FOREIGN KEY (village_code)
        REFERENCES gisgrid.villages (code) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT volunteer_teams_geom_valid CHECK (NOT ST_IsEmpty(geom))
);
CREATE INDEX volunteer_teams_geom_idx ON gisgrid.volunteer_teams USING gist (geom);

CREATE TABLE gisgrid.volunteer_activities (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text NOT NULL,
    team_id text NOT NULL,
    kind text NOT NULL,
    held_on date NOT NULL,
    participants integer,
    geom geometry(Point, 4326) NOT NULL,
    CONSTRAINT volunteer_activities_id_key UNIQUE (id),
    CONSTRAINT volunteer_activities_team_id_fkey FOREIGN KEY (team_id)
        REFERENCES gisgrid.volunteer_teams (id) DEFERRABLE INITIALLY DEFERRED,
    CONSTRAINT volunteer_activities_geom_valid CHECK (NOT ST_IsEmpty(geom))
);
CREATE INDEX volunteer_activities_geom_idx
    ON gisgrid.volunteer_activities USING gist (geom);

CREATE TABLE gisgrid.gisgrid_meta (
    key text PRIMARY KEY,
    value jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
