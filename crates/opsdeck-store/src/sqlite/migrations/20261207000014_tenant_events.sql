-- Application events (SPEC §6). Times are INTEGER unix milliseconds (UTC).
--
-- tenant_events: every event stored, its (tenant_id, event_id) the idempotency key; the
-- kind's own fields as JSON in `detail`. Rollups, written in the same transaction:
-- tenant_error_groups (per tenant and fingerprint), tenant_usage_hourly and
-- tenant_usage_daily (per tenant, counter and bucket), tenant_audit_events (application
-- audit events with their category; not opsdeck's own audit log), tenant_audit_hourly
-- (audit events per tenant, category and hour: failed-login bursts), and
-- tenant_event_tenants (every tenant seen, for search without a directory query).

CREATE TABLE tenant_events (
    tenant_id   TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('error', 'audit', 'usage')),
    at          INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    fingerprint TEXT,
    detail      TEXT    NOT NULL
) STRICT;

CREATE UNIQUE INDEX tenant_events_key ON tenant_events (tenant_id, event_id);
-- Retention deletes by arrival.
CREATE INDEX tenant_events_received_at ON tenant_events (received_at);

CREATE TABLE tenant_error_groups (
    tenant_id   TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    message     TEXT    NOT NULL,
    route       TEXT,
    stack_head  TEXT,
    PRIMARY KEY (tenant_id, fingerprint)
) STRICT;

-- A tenant's recent errors; retention by last_seen.
CREATE INDEX tenant_error_groups_recent ON tenant_error_groups (tenant_id, last_seen);
CREATE INDEX tenant_error_groups_last_seen ON tenant_error_groups (last_seen);

CREATE TABLE tenant_usage_hourly (
    tenant_id TEXT    NOT NULL,
    hour      INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    value     REAL    NOT NULL,
    PRIMARY KEY (tenant_id, hour, name)
) STRICT, WITHOUT ROWID;

CREATE INDEX tenant_usage_hourly_hour ON tenant_usage_hourly (hour);

CREATE TABLE tenant_usage_daily (
    tenant_id TEXT    NOT NULL,
    day       INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    value     REAL    NOT NULL,
    PRIMARY KEY (tenant_id, day, name)
) STRICT, WITHOUT ROWID;

CREATE INDEX tenant_usage_daily_day ON tenant_usage_daily (day);

CREATE TABLE tenant_audit_events (
    tenant_id TEXT    NOT NULL,
    event_id  TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    category  TEXT    NOT NULL CHECK (category IN
        ('impersonation', 'role_change', 'failed_login', 'export', 'deletion', 'other')),
    action    TEXT    NOT NULL,
    actor     TEXT,
    target    TEXT,
    PRIMARY KEY (tenant_id, event_id)
) STRICT;

-- A tenant's highlights: only the events that are one.
CREATE INDEX tenant_audit_events_highlights ON tenant_audit_events (tenant_id, at)
    WHERE category <> 'other';
CREATE INDEX tenant_audit_events_at ON tenant_audit_events (at);

CREATE TABLE tenant_audit_hourly (
    tenant_id TEXT    NOT NULL,
    category  TEXT    NOT NULL,
    hour      INTEGER NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, category, hour)
) STRICT, WITHOUT ROWID;

CREATE INDEX tenant_audit_hourly_hour ON tenant_audit_hourly (hour);

CREATE TABLE tenant_event_tenants (
    tenant_id  TEXT    NOT NULL PRIMARY KEY,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX tenant_event_tenants_last_seen ON tenant_event_tenants (last_seen);
