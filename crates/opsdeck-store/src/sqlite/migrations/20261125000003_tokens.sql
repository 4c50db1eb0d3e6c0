-- Personal tokens and ingest keys. Only the SHA-256 of a secret is kept (hex, UNIQUE: the
-- lookup index). Times are INTEGER unix milliseconds (UTC).
-- A personal token has a role and no scopes; an ingest key has scopes (comma-separated,
-- e.g. 'checkins,jobs') and no role. The CHECKs hold that even against hand-made rows.

CREATE TABLE tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    kind         TEXT    NOT NULL CHECK (kind IN ('personal', 'ingest_key')),
    name         TEXT    NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    role         TEXT             CHECK (role IN ('viewer', 'operator', 'support', 'admin')),
    scopes       TEXT,
    display      TEXT    NOT NULL,
    hash         TEXT    NOT NULL UNIQUE CHECK (length(hash) = 64),
    created_by   TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER,
    CHECK (
        (kind = 'personal' AND role IS NOT NULL AND scopes IS NULL)
        OR (kind = 'ingest_key' AND role IS NULL AND scopes IS NOT NULL AND scopes <> '')
    )
) STRICT;

-- Listing is newest first.
CREATE INDEX tokens_created_at ON tokens (created_at);
