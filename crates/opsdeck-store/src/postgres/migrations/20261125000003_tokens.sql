-- Personal tokens and ingest keys. Only the SHA-256 of a secret is kept (hex, UNIQUE: the
-- lookup index).
-- A personal token has a role and no scopes; an ingest key has scopes (comma-separated,
-- e.g. 'checkins,jobs') and no role. The CHECKs hold that even against hand-made rows.

CREATE TABLE tokens (
    id           UUID        PRIMARY KEY,
    kind         TEXT        NOT NULL CHECK (kind IN ('personal', 'ingest_key')),
    name         TEXT        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    role         TEXT        CHECK (role IN ('viewer', 'operator', 'support', 'admin')),
    scopes       TEXT,
    display      TEXT        NOT NULL,
    hash         TEXT        NOT NULL UNIQUE CHECK (char_length(hash) = 64),
    created_by   TEXT,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    CHECK (
        (kind = 'personal' AND role IS NOT NULL AND scopes IS NULL)
        OR (kind = 'ingest_key' AND role IS NULL AND scopes IS NOT NULL AND scopes <> '')
    )
);

-- Listing is newest first.
CREATE INDEX tokens_created_at ON tokens (created_at);
