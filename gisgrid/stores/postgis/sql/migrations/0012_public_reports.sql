-- gisgrid schema version 12: reports made by residents through the public form (群众上报,
-- issue #14).
--
-- One row per incident a resident reported without an account: the SHA-256 (hex) of the
-- secret half of the tracking code the resident was given (the code itself is never stored)
-- and the contact phone they left, if any. The incident and its first case step are the
-- ordinary rows of gisgrid.incidents and gisgrid.case_steps, written in the same transaction.
-- The incident is a foreign key checked at commit, like the case steps' of 0008.

CREATE TABLE gisgrid.public_reports (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id text NOT NULL,
    code_hash text NOT NULL,
    contact_phone text,
    CONSTRAINT public_reports_key UNIQUE (incident_id),
    CONSTRAINT public_reports_code_hash_hex CHECK (code_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT public_reports_incident_id_fkey FOREIGN KEY (incident_id)
        REFERENCES gisgrid.incidents (id) DEFERRABLE INITIALLY DEFERRED
);

CREATE TRIGGER public_reports_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gisgrid.public_reports
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.bump_data_version();
