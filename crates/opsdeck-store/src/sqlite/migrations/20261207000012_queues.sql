-- Queue monitoring: each source's latest poll (queue_sources), each queue's latest stats as a
-- JSON document (queue_stats; counts differ by system), their history at most a point a
-- minute (queue_samples), and bulk-action selections pinning a dry run's job ids
-- (queue_selections). Times are INTEGER unix milliseconds (UTC).

CREATE TABLE queue_sources (
    source          TEXT    NOT NULL PRIMARY KEY,
    system          TEXT    NOT NULL,
    version         TEXT,
    last_success_at INTEGER,
    last_attempt_at INTEGER,
    error           TEXT
) STRICT;

CREATE TABLE queue_stats (
    source    TEXT    NOT NULL,
    queue     TEXT    NOT NULL,
    system    TEXT    NOT NULL,
    stats     TEXT    NOT NULL,
    polled_at INTEGER NOT NULL,
    PRIMARY KEY (source, queue)
) STRICT;

CREATE TABLE queue_samples (
    source             TEXT    NOT NULL,
    queue              TEXT    NOT NULL,
    at                 INTEGER NOT NULL,
    waiting            INTEGER NOT NULL,
    failed             INTEGER NOT NULL,
    failures_last_hour INTEGER,
    oldest_seconds     REAL,
    PRIMARY KEY (source, queue, at)
) STRICT, WITHOUT ROWID;

-- Pruning takes old points of every queue.
CREATE INDEX queue_samples_at ON queue_samples (at);

CREATE TABLE queue_selections (
    token      TEXT    NOT NULL PRIMARY KEY,
    source     TEXT    NOT NULL,
    queue      TEXT    NOT NULL,
    action     TEXT    NOT NULL CHECK (action IN ('retry', 'discard')),
    filter     TEXT    NOT NULL,
    ids        TEXT    NOT NULL,
    count      INTEGER NOT NULL CHECK (count >= 0),
    pinned_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE INDEX queue_selections_expires_at ON queue_selections (expires_at);

-- The recent failures a push source reported with its latest snapshot of each queue: what
-- its job list and retry work from (the application keeps the jobs themselves).
CREATE TABLE queue_pushed_jobs (
    source      TEXT    NOT NULL,
    queue       TEXT    NOT NULL,
    jobs        TEXT    NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (source, queue)
) STRICT;
