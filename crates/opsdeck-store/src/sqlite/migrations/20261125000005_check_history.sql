-- Health-check history. Status changes are kept for ever. Latency samples are kept raw
-- (check_samples) for a while, then merged into one row per check and time bucket
-- (check_sample_buckets, whose rows expire in turn); see opsdeck_core::health.
-- Times are INTEGER unix milliseconds (UTC), latencies INTEGER microseconds.
-- Sample statuses are severity ranks (0 pass, 1 warn, 2 fail), so the worst is MAX();
-- status changes keep the words, as the API shows them.

CREATE TABLE check_status_changes (
    -- The rowid: orders changes of one check recorded in the same millisecond.
    id          INTEGER NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    at          INTEGER NOT NULL,
    from_status TEXT             CHECK (from_status IN ('pass', 'warn', 'fail')),
    to_status   TEXT    NOT NULL CHECK (to_status IN ('pass', 'warn', 'fail')),
    output      TEXT
) STRICT;

-- One check's timeline, and its latest change.
CREATE INDEX check_status_changes_name_at ON check_status_changes (name, at);

CREATE TABLE check_samples (
    name       TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    at         INTEGER NOT NULL,
    status     INTEGER NOT NULL CHECK (status IN (0, 1, 2)),
    latency_us INTEGER NOT NULL CHECK (latency_us >= 0)
) STRICT;

-- One check's samples in a window.
CREATE INDEX check_samples_name_at ON check_samples (name, at);
-- Compaction takes every check's old samples at once.
CREATE INDEX check_samples_at ON check_samples (at);

CREATE TABLE check_sample_buckets (
    name     TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 64),
    -- The start of the bucket.
    at       INTEGER NOT NULL,
    count    INTEGER NOT NULL CHECK (count > 0),
    failed   INTEGER NOT NULL CHECK (failed BETWEEN 0 AND count),
    worst    INTEGER NOT NULL CHECK (worst IN (0, 1, 2)),
    min_us   INTEGER NOT NULL CHECK (min_us >= 0),
    max_us   INTEGER NOT NULL CHECK (max_us >= min_us),
    total_us INTEGER NOT NULL CHECK (total_us >= 0),
    -- A late sample merges into its bucket's row instead of adding a second one.
    PRIMARY KEY (name, at)
) STRICT;

-- Expiry takes every check's old buckets at once.
CREATE INDEX check_sample_buckets_at ON check_sample_buckets (at);
