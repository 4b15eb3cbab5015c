-- gisgrid schema version 4: who may see what, and who saw what (issue #12).
--
-- Accounts (a role and an area each), browser sessions and API tokens (stored by the SHA-256
-- of their value, never the value), and the audit log: every sign-in, every read of
-- household records, every change. Times are timestamptz (UTC in, UTC out).
--
-- The audit log is append-only. Its trigger refuses every UPDATE, DELETE and TRUNCATE of it,
-- whoever sends them: the application's role (even one granted UPDATE, DELETE and TRUNCATE
-- on all tables of the schema, as docs/county-it.md has the clerk) can add entries but not
-- change or remove one with its ordinary statements. Only someone allowed to change the
-- table itself (its owner dropping or disabling the trigger, a superuser) could rewrite
-- history, and that is a DBA's deliberate act, outside gisgrid. PUBLIC is refused the three
-- privileges explicitly, so that a later GRANT … TO PUBLIC cannot bring them back unnoticed.
--
-- Ids are identity columns: increasing in the order entries are appended (a transaction
-- that rolls back may leave a gap; gisgrid appends the entry last in each transaction).

CREATE TABLE gisgrid.accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username text NOT NULL,
    display_name text NOT NULL,
    role text NOT NULL,
    area text NOT NULL,
    password_hash text NOT NULL,
    phone text,
    disabled boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL,
    password_changed_at timestamptz NOT NULL,
    CONSTRAINT accounts_username_key UNIQUE (username),
    -- county (6 digits), township (9), village (12) or grid (15, 18)
    CONSTRAINT accounts_area_format CHECK (area ~ '^[0-9]{6}([0-9]{3}){0,4}$')
);

CREATE TABLE gisgrid.sessions (
    token_hash text PRIMARY KEY,
    account_id bigint NOT NULL,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    address text,
    ended_at timestamptz,
    CONSTRAINT sessions_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES gisgrid.accounts (id)
);
-- ending every open session of an account (a new password, disabling)
CREATE INDEX sessions_account_id_idx ON gisgrid.sessions (account_id) WHERE ended_at IS NULL;

CREATE TABLE gisgrid.api_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL,
    name text NOT NULL,
    token_hash text NOT NULL,
    prefix text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    CONSTRAINT api_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT api_tokens_account_id_fkey FOREIGN KEY (account_id)
        REFERENCES gisgrid.accounts (id)
);
CREATE INDEX api_tokens_account_id_idx ON gisgrid.api_tokens (account_id);

CREATE TABLE gisgrid.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text,
    role text,
    action text NOT NULL,
    outcome text NOT NULL,
    address text,
    target text,
    reason text,
    detail jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT audit_log_outcome_known CHECK (outcome IN ('ok', 'denied', 'failed'))
);
-- counting recent entries (the sign-in rate limit): per account and per address
CREATE INDEX audit_log_count_actor_idx ON gisgrid.audit_log (action, outcome, actor, at);
CREATE INDEX audit_log_count_address_idx ON gisgrid.audit_log (action, outcome, address, at);
-- the audit query: by time, and one person's entries newest first
CREATE INDEX audit_log_at_idx ON gisgrid.audit_log (at);
CREATE INDEX audit_log_actor_idx ON gisgrid.audit_log (actor, id);

CREATE FUNCTION gisgrid.audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- statement triggers: even an UPDATE or DELETE that matches no row is refused
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON gisgrid.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION gisgrid.audit_log_append_only();

REVOKE UPDATE, DELETE, TRUNCATE ON gisgrid.audit_log FROM PUBLIC;
