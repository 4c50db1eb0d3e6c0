-- The append-only, hash-chained audit log (see opsdeck_core::audit).
-- seq is supplied by the writer (1, 2, 3, … under an advisory lock), never generated, so a
-- deleted row leaves a gap that verification finds. `at` keeps milliseconds only, as on
-- SQLite, so both backends hash the same values.
-- The actor's three columns, and the target's two, are all set or all NULL.
-- Names are unqualified on purpose: objects land in the first schema of the search_path.

CREATE TABLE audit_log (
    seq         BIGINT      PRIMARY KEY CHECK (seq > 0),
    at          TIMESTAMPTZ NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT,
    auth_method TEXT,
    action      TEXT        NOT NULL,
    target_kind TEXT,
    target_id   TEXT,
    tenant_id   TEXT,
    outcome     INTEGER     NOT NULL CHECK (outcome BETWEEN 0 AND 65535),
    client_addr TEXT,
    request_id  TEXT,
    reason      TEXT,
    prev_hash   TEXT        NOT NULL CHECK (char_length(prev_hash) = 64),
    hash        TEXT        NOT NULL CHECK (char_length(hash) = 64),
    CHECK ((actor_id IS NULL) = (actor_name IS NULL)
           AND (actor_id IS NULL) = (auth_method IS NULL)),
    CHECK ((target_kind IS NULL) = (target_id IS NULL))
);

-- Listing is newest first (seq DESC) under one equality filter at a time; each index ends in
-- seq so the matching rows come out already in that order.
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_actor_id ON audit_log (actor_id, seq);
CREATE INDEX audit_log_actor_name ON audit_log (actor_name, seq);
CREATE INDEX audit_log_target ON audit_log (target_kind, target_id, seq);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- Append-only: opsdeck never updates, deletes or truncates, and neither may anyone else
-- without first disabling these triggers. (Where opsdeck connects as a role other than the
-- table's owner, also REVOKE UPDATE, DELETE, TRUNCATE ON audit_log from that role.)
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;

CREATE TRIGGER audit_log_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
