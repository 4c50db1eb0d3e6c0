-- Leader-election leases and replica heartbeats.
-- Times are INTEGER unix milliseconds (UTC): they compare and sort correctly, unlike text.

CREATE TABLE leases (
    name        TEXT    NOT NULL PRIMARY KEY,
    holder      TEXT    NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE instances (
    id           TEXT    NOT NULL PRIMARY KEY,
    hostname     TEXT    NOT NULL,
    version      TEXT    NOT NULL,
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL
) STRICT;

-- Listing (most recently seen first) and pruning (not seen since a cutoff) both scan by time.
CREATE INDEX instances_last_seen_at ON instances (last_seen_at);
