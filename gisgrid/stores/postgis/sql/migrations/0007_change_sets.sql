-- gisgrid schema version 7: change sets (issue #13), the planners' drafts of grid edits, their
-- review and their record.
--
-- A change set is one purpose in one village: several edits made in a draft, submitted,
-- reviewed, and once approved published into the grids in the same transaction that moves
-- it to `published` (gisgrid/stores/postgis/changesets.py). Only a change set's status and
-- counters move: its edits and events are append-only (statement triggers refuse every
-- UPDATE, DELETE and TRUNCATE of them, whoever sends them, like the audit log of 0004), and
-- a change set itself is never deleted. Ids come from identity columns: never reused.
--
-- "One change set under review per village" is the database's rule: a partial unique index
-- on the village of the submitted ones. Times are UTC without zone (the application's
-- records say so); `published_on` is the county's date the grids took effect.
--
-- Change sets are not layers: they change with every edit and hold nothing a server keeps in
-- memory, so they do not bump the data version (0005); their publication does, by writing the
-- grids.

CREATE TABLE gisgrid.change_sets (
    id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    village_code text NOT NULL,
    title text NOT NULL,
    note text NOT NULL,
    author text NOT NULL,
    status text NOT NULL,
    base text NOT NULL,
    edits integer NOT NULL DEFAULT 0,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    reviewer text,
    comment text,
    published_on date,
    CONSTRAINT change_sets_village_code_format CHECK (village_code ~ '^[0-9]{12}$'),
    CONSTRAINT change_sets_status_known CHECK (
        status IN ('draft', 'submitted', 'returned', 'published', 'withdrawn')
    ),
    CONSTRAINT change_sets_edits_count CHECK (edits >= 0)
);
-- one change set under review per village, held by the database itself
CREATE UNIQUE INDEX change_sets_one_submitted ON gisgrid.change_sets (village_code)
    WHERE status = 'submitted';
CREATE INDEX change_sets_village_idx ON gisgrid.change_sets (village_code, id);

CREATE TABLE gisgrid.change_set_edits (
    change_set integer NOT NULL,
    seq integer NOT NULL,
    op text NOT NULL,
    params jsonb NOT NULL,
    result text NOT NULL,
    actor text NOT NULL,
    at timestamp without time zone NOT NULL,
    CONSTRAINT change_set_edits_pkey PRIMARY KEY (change_set, seq),
    CONSTRAINT change_set_edits_change_set_fkey FOREIGN KEY (change_set)
        REFERENCES gisgrid.change_sets (id),
    CONSTRAINT change_set_edits_seq_positive CHECK (seq >= 1)
);

CREATE TABLE gisgrid.change_set_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_set integer NOT NULL,
    at timestamp without time zone NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    comment text,
    CONSTRAINT change_set_events_change_set_fkey FOREIGN KEY (change_set)
        REFERENCES gisgrid.change_sets (id),
    CONSTRAINT change_set_events_action_known CHECK (action IN (
        'created', 'edited', 'undone', 'submitted', 'returned', 'approved', 'published',
        'withdrawn'
    ))
);
CREATE INDEX change_set_events_change_set_idx ON gisgrid.change_set_events (change_set, id);

CREATE FUNCTION gisgrid.change_set_record_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- statement triggers: even an UPDATE or DELETE that matches no row is refused
CREATE TRIGGER change_set_edits_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON gisgrid.change_set_edits
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.change_set_record_append_only();
CREATE TRIGGER change_set_events_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON gisgrid.change_set_events
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.change_set_record_append_only();

CREATE FUNCTION gisgrid.change_sets_kept() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'a change set is kept: only its status moves (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER change_sets_kept
    BEFORE DELETE OR TRUNCATE ON gisgrid.change_sets
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.change_sets_kept();

REVOKE UPDATE, DELETE, TRUNCATE ON gisgrid.change_set_edits FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON gisgrid.change_set_events FROM PUBLIC;
REVOKE DELETE, TRUNCATE ON gisgrid.change_sets FROM PUBLIC;
