-- The append-only, hash-chained audit log (see opsdeck_core::audit).
-- seq is supplied by the writer (1, 2, 3, … under BEGIN IMMEDIATE), never generated, so a
-- deleted row leaves a gap that verification finds. `at` is INTEGER unix milliseconds (UTC).
-- The actor's three columns, and the target's two, are all set or all NULL.

CREATE TABLE audit_log (
    seq         INTEGER NOT NULL PRIMARY KEY CHECK (seq > 0),
    at          INTEGER NOT NULL,
    actor_id    TEXT,
    actor_name  TEXT,
    auth_method TEXT,
    action      TEXT    NOT NULL,
    target_kind TEXT,
    target_id   TEXT,
    tenant_id   TEXT,
    outcome     INTEGER NOT NULL CHECK (outcome BETWEEN 0 AND 65535),
    client_addr TEXT,
    request_id  TEXT,
    reason      TEXT,
    prev_hash   TEXT    NOT NULL CHECK (length(prev_hash) = 64),
    hash        TEXT    NOT NULL CHECK (length(hash) = 64),
    CHECK ((actor_id IS NULL) = (actor_name IS NULL)
           AND (actor_id IS NULL) = (auth_method IS NULL)),
    CHECK ((target_kind IS NULL) = (target_id IS NULL))
) STRICT;

-- Listing is newest first (seq DESC) under one equality filter at a time; each index ends in
-- seq so the matching rows come out already in that order.
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_actor_id ON audit_log (actor_id, seq);
CREATE INDEX audit_log_actor_name ON audit_log (actor_name, seq);
CREATE INDEX audit_log_target ON audit_log (target_kind, target_id, seq);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);
CREATE INDEX audit_log_at ON audit_log (at);

-- Append-only: opsdeck never updates or deletes an entry, and neither may anyone else
-- without first dropping these triggers.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
