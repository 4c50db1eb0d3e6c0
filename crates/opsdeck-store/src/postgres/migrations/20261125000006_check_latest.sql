-- The latest result of every health check: what /ops/health shows on every replica while
-- only the leader probes. One row per check, replaced on each run.
-- Latencies are BIGINT microseconds.

CREATE TABLE check_latest (
    name           TEXT             NOT NULL PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 64),
    at             TIMESTAMPTZ      NOT NULL,
    status         TEXT             NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
    latency_us     BIGINT           NOT NULL CHECK (latency_us >= 0),
    observed_value DOUBLE PRECISION,
    observed_unit  TEXT,
    output         TEXT
);
