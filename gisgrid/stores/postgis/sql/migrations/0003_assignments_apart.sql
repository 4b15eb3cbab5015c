-- gisgrid schema version 3: the grid of each point kept apart from the point.
--
-- A point layer's `grid_code` is derived: assignment computes it from the level-3 grids.
-- Kept in the point's own row, every assignment of a whole layer rewrote every row (a new
-- version of a ~150-byte tuple with its geometry, for an 18-byte code): for a million
-- households that alone took longer than the naive `UPDATE … WHERE ST_Covers`. Now each
-- point layer has a narrow table `<layer>_grid` (fid, grid_code), with a row only for the
-- points that lie in a grid, which assignment rewrites wholesale by binary COPY, or row by
-- row when only a few points change. The view `<layer>_with_grid` shows the layer as the
-- exchange format has it (grid_code included); gisgrid reads through it, and so can QGIS.
-- The table keeps its name and stays editable by QGIS and SQL.
--
-- `<layer>_grid.fid` refers to `<layer>.fid` without a foreign key: checking a million
-- references would cost more than the assignment itself. gisgrid deletes the rows of
-- points it deletes; the view's join ignores any other stray row (fids are never reused).
-- The codes come from gisgrid.grids, whose own constraint checks their digits; here only
-- their length (a regular expression per row would again cost more than the assignment).

CREATE TABLE gisgrid.households_grid (
    fid bigint NOT NULL,
    grid_code text NOT NULL,
    CONSTRAINT households_grid_pkey PRIMARY KEY (fid),
    CONSTRAINT households_grid_code_format CHECK (octet_length(grid_code) = 18)
);
INSERT INTO gisgrid.households_grid (fid, grid_code)
SELECT fid, grid_code FROM gisgrid.households WHERE grid_code IS NOT NULL;
ALTER TABLE gisgrid.households DROP COLUMN grid_code;
ALTER TABLE gisgrid.households RESET (fillfactor);

CREATE VIEW gisgrid.households_with_grid AS
SELECT
    h.fid, h.id, h.head_name, h.house_number, h.village_code, h.members, h.elderly,
    h.party_member, h.backbone, h.backbone_id, h.credit_rating, g.grid_code, h.geom
FROM gisgrid.households AS h
LEFT JOIN gisgrid.households_grid AS g ON g.fid = h.fid;

CREATE TABLE gisgrid.service_points_grid (
    fid bigint NOT NULL,
    grid_code text NOT NULL,
    CONSTRAINT service_points_grid_pkey PRIMARY KEY (fid),
    CONSTRAINT service_points_grid_code_format CHECK (octet_length(grid_code) = 18)
);
INSERT INTO gisgrid.service_points_grid (fid, grid_code)
SELECT fid, grid_code FROM gisgrid.service_points WHERE grid_code IS NOT NULL;
ALTER TABLE gisgrid.service_points DROP COLUMN grid_code;
ALTER TABLE gisgrid.service_points RESET (fillfactor);

CREATE VIEW gisgrid.service_points_with_grid AS
SELECT s.fid, s.id, s.kind, s.name, s.village_code, s.watcher, g.grid_code, s.geom
FROM gisgrid.service_points AS s
LEFT JOIN gisgrid.service_points_grid AS g ON g.fid = s.fid;

CREATE TABLE gisgrid.incidents_grid (
    fid bigint NOT NULL,
    grid_code text NOT NULL,
    CONSTRAINT incidents_grid_pkey PRIMARY KEY (fid),
    CONSTRAINT incidents_grid_code_format CHECK (octet_length(grid_code) = 18)
);
INSERT INTO gisgrid.incidents_grid (fid, grid_code)
SELECT fid, grid_code FROM gisgrid.incidents WHERE grid_code IS NOT NULL;
ALTER TABLE gisgrid.incidents DROP COLUMN grid_code;
ALTER TABLE gisgrid.incidents RESET (fillfactor);

CREATE VIEW gisgrid.incidents_with_grid AS
SELECT i.fid, i.id, i.kind, i.reported_at, i.status, i.description, g.grid_code, i.geom
FROM gisgrid.incidents AS i
LEFT JOIN gisgrid.incidents_grid AS g ON g.fid = i.fid;
