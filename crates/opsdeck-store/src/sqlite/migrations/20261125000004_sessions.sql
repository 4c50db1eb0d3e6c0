-- Dashboard sessions. Only the SHA-256 of the cookie secret is kept (hex, UNIQUE: the
-- lookup index). Times are INTEGER unix milliseconds (UTC).
-- The idle deadline is last_seen_at + idle_seconds, so moving last_seen_at moves it;
-- expires_at is the absolute deadline, fixed at creation.
-- token_id names the personal token the session was opened with, without a foreign key:
-- tokens and sessions are pruned on their own schedules, and a session whose token is gone
-- is refused like one whose token is revoked.

CREATE TABLE sessions (
    id             TEXT    NOT NULL PRIMARY KEY,
    hash           TEXT    NOT NULL UNIQUE CHECK (length(hash) = 64),
    principal_id   TEXT    NOT NULL,
    principal_name TEXT    NOT NULL,
    role           TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'support', 'admin')),
    method         TEXT    NOT NULL CHECK (method IN ('token', 'session', 'oidc', 'proxy')),
    token_id       TEXT,
    csrf           TEXT    NOT NULL CHECK (length(csrf) >= 32),
    created_at     INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL,
    idle_seconds   INTEGER NOT NULL CHECK (idle_seconds > 0),
    expires_at     INTEGER NOT NULL,
    ended_at       INTEGER,
    client_addr    TEXT,
    user_agent     TEXT             CHECK (length(user_agent) <= 200)
) STRICT;

-- Revoking a token ends its sessions.
CREATE INDEX sessions_token_id ON sessions (token_id);
-- Listing one principal's sessions.
CREATE INDEX sessions_principal_id ON sessions (principal_id);
