-- Alerts: status changes to announce (alert_events) and their delivery to each configured
-- webhook (alert_deliveries), with the retry state in the row; see opsdeck_core::alert.
-- Ids are hyphenated UUID text, times INTEGER unix milliseconds (UTC).
-- A delivery names its webhook by the configured name, never by URL (a secret).
-- While a worker attempts a pending delivery, next_attempt_at is the end of its lease.

CREATE TABLE alert_events (
    id          TEXT    NOT NULL PRIMARY KEY,
    source      TEXT    NOT NULL CHECK (source IN ('health', 'cron')),
    subject     TEXT    NOT NULL,
    from_status TEXT,
    to_status   TEXT    NOT NULL,
    kind        TEXT    NOT NULL CHECK (kind IN ('down', 'degraded', 'recovered')),
    summary     TEXT    NOT NULL,
    detail      TEXT,
    link        TEXT    NOT NULL,
    at          INTEGER NOT NULL
) STRICT;

-- Pruning takes old events.
CREATE INDEX alert_events_at ON alert_events (at);

CREATE TABLE alert_deliveries (
    id              TEXT    NOT NULL PRIMARY KEY,
    event_id        TEXT    NOT NULL REFERENCES alert_events (id) ON DELETE CASCADE,
    webhook         TEXT    NOT NULL,
    state           TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    last_error      TEXT,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER,
    UNIQUE (event_id, webhook)
) STRICT;

-- Claims: pending deliveries by due time. Partial, so finished rows cost nothing.
CREATE INDEX alert_deliveries_due ON alert_deliveries (next_attempt_at) WHERE state = 'pending';
-- The delivery log, newest first, and its pruning.
CREATE INDEX alert_deliveries_created ON alert_deliveries (created_at, id);
