-- Cron monitoring (SPEC §4): monitors with their spec and state, their runs and run logs,
-- the scheduler's slot claims, and the record of when opsdeck itself was down.
-- See opsdeck_core::cron and the CronStore, CronRunStore and CronGuardStore traits.
-- Times are INTEGER unix milliseconds (UTC), run ids hyphenated UUID text, documents JSON
-- text in the form opsdeck_core::cron::{spec_json, state_json} writes.

CREATE TABLE cron_monitors (
    slug                 TEXT    NOT NULL PRIMARY KEY,
    -- The spec but its slug and paused flag.
    spec                 TEXT    NOT NULL CHECK (json_valid(spec)),
    paused               INTEGER NOT NULL CHECK (paused IN (0, 1)),
    -- The spec's tenant, copied for filtering; written with the spec, never alone.
    tenant_id            TEXT,
    source               TEXT    NOT NULL
                         CHECK (source IN ('config', 'api', 'ping', 'import', 'checkin')),
    created_at           INTEGER NOT NULL,
    updated_at           INTEGER NOT NULL,
    -- Moves on every write of spec or state: optimistic concurrency.
    version              INTEGER NOT NULL CHECK (version >= 1),
    state                TEXT    NOT NULL CHECK (json_valid(state)),
    -- Copied from the state, written with it, for the ops list and the evaluator.
    status               TEXT    NOT NULL
                         CHECK (status IN ('new', 'up', 'running', 'late', 'down', 'paused')),
    failure_streak       INTEGER NOT NULL CHECK (failure_streak >= 0),
    next_check_at        INTEGER,
    status_since         INTEGER,
    -- The run most recently written with a verdict, and the latest success.
    last_run_id          TEXT,
    last_run_status      TEXT
                         CHECK (last_run_status IN
                                ('success', 'failed', 'timed_out', 'missed', 'unknown')),
    last_run_finished_at INTEGER,
    last_run_duration_ms INTEGER,
    last_run_error       TEXT,
    last_success_at      INTEGER
) STRICT;

-- The evaluator takes due monitors by time; most monitors expect nothing soon or at all.
CREATE INDEX cron_monitors_due ON cron_monitors (next_check_at) WHERE next_check_at IS NOT NULL;
CREATE INDEX cron_monitors_tenant ON cron_monitors (tenant_id, slug) WHERE tenant_id IS NOT NULL;

CREATE TABLE cron_runs (
    slug           TEXT    NOT NULL REFERENCES cron_monitors (slug) ON DELETE CASCADE,
    run_id         TEXT    NOT NULL,
    status         TEXT    NOT NULL
                   CHECK (status IN ('running', 'success', 'failed', 'timed_out', 'missed', 'unknown')),
    source         TEXT    NOT NULL
                   CHECK (source IN ('ping', 'exec', 'scheduler', 'checkin', 'evaluator')),
    -- The run's place in the list: started_at, else expected_at, else finished_at.
    listed_at      INTEGER NOT NULL,
    expected_at    INTEGER,
    started_at     INTEGER,
    finished_at    INTEGER,
    duration_ms    INTEGER CHECK (duration_ms >= 0),
    exit_code      INTEGER CHECK (exit_code BETWEEN 0 AND 255),
    error          TEXT,
    missed_slots   INTEGER NOT NULL CHECK (missed_slots >= 0),
    last_missed_at INTEGER,
    in_maintenance INTEGER NOT NULL CHECK (in_maintenance IN (0, 1)),
    too_fast       INTEGER NOT NULL CHECK (too_fast IN (0, 1)),
    PRIMARY KEY (slug, run_id)
) STRICT;

-- A monitor's runs newest first, its newest run, and counts by status.
CREATE INDEX cron_runs_listed ON cron_runs (slug, listed_at, run_id);
-- Retention takes old runs across monitors.
CREATE INDEX cron_runs_listed_at ON cron_runs (listed_at);

-- Log excerpts, apart from the runs: large, only appended to, read one at a time.
CREATE TABLE cron_run_logs (
    slug    TEXT NOT NULL,
    run_id  TEXT NOT NULL,
    excerpt TEXT NOT NULL,
    PRIMARY KEY (slug, run_id),
    FOREIGN KEY (slug, run_id) REFERENCES cron_runs (slug, run_id) ON DELETE CASCADE
) STRICT;

-- One row per slot fired by the HTTP scheduler: the key makes each slot fire once.
-- No foreign key: a claim guards a firing, whatever becomes of the monitor.
CREATE TABLE cron_slots (
    slug        TEXT    NOT NULL,
    slot_at     INTEGER NOT NULL,
    instance_id TEXT    NOT NULL,
    claimed_at  INTEGER NOT NULL,
    PRIMARY KEY (slug, slot_at)
) STRICT;

CREATE INDEX cron_slots_slot_at ON cron_slots (slot_at);

-- When any replica was last alive: one row, moved forward by every heartbeat.
CREATE TABLE liveness (
    id            INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    last_alive_at INTEGER
) STRICT;

INSERT INTO liveness (id, last_alive_at) VALUES (1, NULL);

-- Gaps between heartbeats longer than allowed: times nobody received pings.
CREATE TABLE outages (
    from_at  INTEGER NOT NULL PRIMARY KEY,
    until_at INTEGER NOT NULL,
    CHECK (from_at < until_at)
) STRICT;

CREATE INDEX outages_until_at ON outages (until_at);
