-- Leader-election leases and replica heartbeats.
-- Names are unqualified on purpose: objects land in the first schema of the connection's
-- search_path, which the database URL may set (`?options=-c search_path=...`).

CREATE TABLE leases (
    name        TEXT        PRIMARY KEY,
    holder      TEXT        NOT NULL,
    acquired_at TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE instances (
    id           UUID        PRIMARY KEY,
    hostname     TEXT        NOT NULL,
    version      TEXT        NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL
);

-- Listing (most recently seen first) and pruning (not seen since a cutoff) both scan by time.
CREATE INDEX instances_last_seen_at ON instances (last_seen_at);
