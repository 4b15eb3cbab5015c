-- gisgrid schema version 8: the case flow's history (issue #14).
--
-- One row per step an incident's case took (report, dispatch, accept, handled, verify, …),
-- numbered within the case (`seq`). A case's stage, assignee and lateness are derived from
-- these rows by gisgrid (analysis/cases.py), never stored beside them; the incident's own
-- `status` is the stage it was imported in, before its first step here.
--
-- UNIQUE (incident_id, seq): two people taking a step on the same case at once both ask for
-- the next number, and the second insert fails — a conflict the web app answers with 409,
-- never a lost step. The rows are append-only like the grid versions of 0006: a statement
-- trigger refuses UPDATE, DELETE and TRUNCATE. The reference to the incident is a foreign
-- key checked at commit, so an import replacing the incidents keeps every case's steps (and
-- one dropping an incident that has steps is refused).

CREATE TABLE gisgrid.case_steps (
    fid bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    incident_id text NOT NULL,
    seq integer NOT NULL,
    action text NOT NULL,
    actor text NOT NULL,
    at timestamp without time zone NOT NULL,
    note text,
    assignee text,
    CONSTRAINT case_steps_key UNIQUE (incident_id, seq),
    CONSTRAINT case_steps_seq_positive CHECK (seq >= 1),
    CONSTRAINT case_steps_action_known CHECK (action IN (
        'report', 'dispatch', 'reject', 'accept', 'decline', 'redispatch', 'handled',
        'verify', 'reopen'
    )),
    CONSTRAINT case_steps_incident_id_fkey FOREIGN KEY (incident_id)
        REFERENCES gisgrid.incidents (id) DEFERRABLE INITIALLY DEFERRED
);

-- one refusal for every record table that is only ever appended to (this one, the visits)
CREATE FUNCTION gisgrid.append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'gisgrid.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER case_steps_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON gisgrid.case_steps
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON gisgrid.case_steps FROM PUBLIC;

CREATE TRIGGER case_steps_data_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON gisgrid.case_steps
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.bump_data_version();
