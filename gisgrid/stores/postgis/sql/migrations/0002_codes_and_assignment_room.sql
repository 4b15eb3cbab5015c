-- gisgrid schema version 2: well-formed codes, and room on the pages for assignment.
--
-- Codes: the digit patterns of the layer declarations and the way a code nests in its
-- parent's, as CHECK constraints. Rows already in the store must pass (gisgrid validated them
-- before writing them); if one does not, the upgrade stops and changes nothing.

ALTER TABLE gisgrid.townships
    ADD CONSTRAINT townships_code_format CHECK (code ~ '^[0-9]{9}$');

ALTER TABLE gisgrid.villages
    ADD CONSTRAINT villages_code_format
    CHECK (code ~ '^[0-9]{12}$' AND left(code, 9) = township_code);

ALTER TABLE gisgrid.grids
    ADD CONSTRAINT grids_code_format CHECK (
        code ~ '^[0-9]+$'
        AND char_length(code) = 9 + 3 * level
        AND left(code, 12) = village_code
        AND CASE
            WHEN level = 1 THEN parent_code IS NULL
            ELSE parent_code IS NOT NULL
                AND char_length(parent_code) = char_length(code) - 3
                AND left(code, char_length(parent_code)) = parent_code
        END
    );

ALTER TABLE gisgrid.households
    ADD CONSTRAINT households_grid_code_format CHECK (grid_code ~ '^[0-9]{18}$'),
    ADD CONSTRAINT households_members
    CHECK (members BETWEEN 1 AND 50 AND elderly BETWEEN 0 AND members);

ALTER TABLE gisgrid.service_points
    ADD CONSTRAINT service_points_grid_code_format CHECK (grid_code ~ '^[0-9]{18}$');

ALTER TABLE gisgrid.incidents
    ADD CONSTRAINT incidents_grid_code_format CHECK (grid_code ~ '^[0-9]{18}$');

-- The point layers keep half of every page free. Assignment rewrites grid_code of each row;
-- with room on its page PostgreSQL updates a row in place (a HOT update) without touching
-- the indexes, several times faster than moving it. grid_code itself is not indexed, which
-- HOT needs. Applies to pages written from now on: the next load of the layer.
ALTER TABLE gisgrid.households SET (fillfactor = 50);
ALTER TABLE gisgrid.service_points SET (fillfactor = 50);
ALTER TABLE gisgrid.incidents SET (fillfactor = 50);
