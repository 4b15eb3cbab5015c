-- gisgrid schema version 11: photos on the steps of cases (issue #14).
--
-- A photo belongs to one incident and is named by the SHA-256 of its bytes: the same bytes
-- uploaded twice for the same incident are one row (UNIQUE; the insert does nothing the second
-- time). A step names its photos in case_steps.photos (their hashes, space-separated, at most
-- six); gisgrid checks each was uploaded for the step's incident before it writes the step.
-- Photos are not a layer: they do not change the data version and are not exported.
--
-- Photos of residents are records like the audit log: append-only (a statement trigger
-- refuses UPDATE, DELETE and TRUNCATE) and the right to change them is revoked from PUBLIC.
-- No foreign key to the incident: an import replacing the incidents keeps every photo.

CREATE TABLE gisgrid.case_photos (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id text NOT NULL,
    sha256 text NOT NULL,
    media_type text NOT NULL,
    size integer NOT NULL,
    data bytea NOT NULL,
    uploaded_by text NOT NULL,
    uploaded_at timestamp without time zone NOT NULL,
    CONSTRAINT case_photos_key UNIQUE (incident_id, sha256),
    CONSTRAINT case_photos_incident_id_length CHECK (length(incident_id) BETWEEN 1 AND 40),
    CONSTRAINT case_photos_sha256_format CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    CONSTRAINT case_photos_media_type_known CHECK (
        media_type IN ('image/jpeg', 'image/png', 'image/webp')
    ),
    CONSTRAINT case_photos_size_matches CHECK (size > 0 AND size = octet_length(data))
);

CREATE TRIGGER case_photos_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON gisgrid.case_photos
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON gisgrid.case_photos FROM PUBLIC;

-- the photos a step names (NULL: none)
ALTER TABLE gisgrid.case_steps ADD COLUMN photos text;
ALTER TABLE gisgrid.case_steps ADD CONSTRAINT case_steps_photos_format
    CHECK (photos ~ '^[0-9a-f]{64}( [0-9a-f]{64}){0,5}$');
