-- Queue monitoring: each source's latest poll (queue_sources), each queue's latest stats as a
-- JSON document (queue_stats; counts differ by system), their history at most a point a
-- minute (queue_samples), and bulk-action selections pinning a dry run's job ids
-- (queue_selections).

CREATE TABLE queue_sources (
    source          TEXT PRIMARY KEY,
    system          TEXT NOT NULL,
    version         TEXT,
    last_success_at TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ,
    error           TEXT
);

CREATE TABLE queue_stats (
    source    TEXT        NOT NULL,
    queue     TEXT        NOT NULL,
    system    TEXT        NOT NULL,
    stats     TEXT        NOT NULL,
    polled_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, queue)
);

CREATE TABLE queue_samples (
    source             TEXT             NOT NULL,
    queue              TEXT             NOT NULL,
    at                 TIMESTAMPTZ      NOT NULL,
    waiting            BIGINT           NOT NULL,
    failed             BIGINT           NOT NULL,
    failures_last_hour BIGINT,
    oldest_seconds     DOUBLE PRECISION,
    PRIMARY KEY (source, queue, at)
);

-- Pruning takes old points of every queue.
CREATE INDEX queue_samples_at ON queue_samples (at);

CREATE TABLE queue_selections (
    token      TEXT        PRIMARY KEY,
    source     TEXT        NOT NULL,
    queue      TEXT        NOT NULL,
    action     TEXT        NOT NULL CHECK (action IN ('retry', 'discard')),
    filter     TEXT        NOT NULL,
    ids        TEXT        NOT NULL,
    count      BIGINT      NOT NULL CHECK (count >= 0),
    pinned_at  TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE INDEX queue_selections_expires_at ON queue_selections (expires_at);

-- The recent failures a push source reported with its latest snapshot of each queue: what
-- its job list and retry work from (the application keeps the jobs themselves).
CREATE TABLE queue_pushed_jobs (
    source      TEXT        NOT NULL,
    queue       TEXT        NOT NULL,
    jobs        TEXT        NOT NULL,
    received_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, queue)
);
