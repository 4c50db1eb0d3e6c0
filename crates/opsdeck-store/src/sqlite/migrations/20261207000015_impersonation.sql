-- Impersonation (SPEC §6): the keys that sign impersonation tokens, and the impersonations
-- issued (never their tokens). Times are INTEGER unix milliseconds (UTC).
--
-- A key's private half is sealed (ChaCha20-Poly1305 under impersonation.encryption_key,
-- base64 of nonce, ciphertext and tag). A key signs from `active_from` until a newer key is
-- active; it retires then, and is published until every token it signed has expired.

CREATE TABLE impersonation_keys (
    kid         TEXT    NOT NULL PRIMARY KEY,
    public_key  TEXT    NOT NULL,
    private_key TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    active_from INTEGER NOT NULL CHECK (active_from >= created_at)
) STRICT;

CREATE INDEX impersonation_keys_created_at ON impersonation_keys (created_at);

CREATE TABLE impersonations (
    jti           TEXT    NOT NULL PRIMARY KEY,
    tenant_id     TEXT    NOT NULL,
    user_id       TEXT    NOT NULL CHECK (length(user_id) BETWEEN 1 AND 1024),
    operator_id   TEXT    NOT NULL,
    operator_name TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    kid           TEXT    NOT NULL,
    issued_at     INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL CHECK (expires_at > issued_at),
    revoked_at    INTEGER,
    revoked_by    TEXT,
    CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
) STRICT;

-- A tenant's active impersonations: by tenant, unrevoked, expiring later than now.
CREATE INDEX impersonations_tenant ON impersonations (tenant_id, expires_at)
    WHERE revoked_at IS NULL;
-- The revocation feed walks revocations in time order.
CREATE INDEX impersonations_revoked ON impersonations (revoked_at, jti)
    WHERE revoked_at IS NOT NULL;
