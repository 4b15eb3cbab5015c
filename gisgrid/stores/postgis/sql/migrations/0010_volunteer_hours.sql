-- gisgrid schema version 10: volunteer hours, the county's "time bank" (issue #14).
--
-- Who took part in a volunteer activity and for how many hours; summed per volunteer and per
-- team by gisgrid (analysis/volunteers.py). The activity is a foreign key checked at commit,
-- like the other references between layers.

CREATE TABLE gisgrid.volunteer_hours (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    activity_id text NOT NULL,
    volunteer_id text NOT NULL,
    volunteer_name text NOT NULL,
    hours double precision NOT NULL,
    CONSTRAINT volunteer_hours_key UNIQUE (activity_id, volunteer_id),
    CONSTRAINT volunteer_hours_range CHECK (hours >= 0.25 AND hours <= 24),
    CONSTRAINT volunteer_hours_activity_id_fkey FOREIGN KEY (activity_id)
        REFERENCES gisgrid.volunteer_activities (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX volunteer_hours_volunteer_id_idx ON gisgrid.volunteer_hours (volunteer_id);

CREATE TRIGGER volunteer_hours_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gisgrid.volunteer_hours
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.bump_data_version();
