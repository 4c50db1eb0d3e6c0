-- The latest result of every health check: what /ops/health shows on every replica while
-- only the leader probes. One row per check, replaced on each run.
-- Times are INTEGER unix milliseconds (UTC), latencies INTEGER microseconds.

CREATE TABLE check_latest (
    name           TEXT    NOT NULL PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    at             INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
    latency_us     INTEGER NOT NULL CHECK (latency_us >= 0),
    observed_value REAL,
    observed_unit  TEXT,
    output         TEXT
) STRICT;
