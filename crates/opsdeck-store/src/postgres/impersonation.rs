//! The PostgreSQL SQL of the impersonation store. Adding a key first locks the key table
//! against other writers (readers go on), so of replicas rotating at once the first adds a
//! key and the others, once it commits, find it recent. Revocation is one conditional
//! `UPDATE`: of concurrent revokers one updates the row, the others find it revoked.

use sqlx::Postgres;

use crate::shared::impersonation::{ImpersonationQueries, ImpersonationSql};

/// The columns of an impersonation.
macro_rules! columns {
    () => {
        "jti, tenant_id, user_id, operator_id, operator_name, reason, kid, issued_at, \
         expires_at, revoked_at, revoked_by"
    };
}

impl ImpersonationSql for Postgres {
    const IMPERSONATION: ImpersonationQueries = ImpersonationQueries {
        lock: Some("LOCK TABLE impersonation_keys IN SHARE ROW EXCLUSIVE MODE"),
        recent_key: "SELECT EXISTS (SELECT 1 FROM impersonation_keys WHERE created_at > $1)
             AS found",
        add_key: "INSERT INTO impersonation_keys
                 (kid, public_key, private_key, created_at, active_from)
             VALUES ($1, $2, $3, $4, $5)",
        signing_key: "SELECT kid, public_key, private_key, created_at, active_from
             FROM impersonation_keys WHERE active_from <= $1
             ORDER BY active_from DESC, created_at DESC LIMIT 1",
        newest_key: "SELECT created_at FROM impersonation_keys
             ORDER BY created_at DESC LIMIT 1",
        published: "SELECT kid, public_key, created_at, active_from FROM impersonation_keys AS k
             WHERE NOT EXISTS (SELECT 1 FROM impersonation_keys AS n
                               WHERE n.created_at > k.created_at AND n.active_from < $1)
             ORDER BY created_at, kid",
        prune: "DELETE FROM impersonation_keys
             WHERE EXISTS (SELECT 1 FROM impersonation_keys AS n
                           WHERE n.created_at > impersonation_keys.created_at
                             AND n.active_from < $1)",
        record: concat!(
            "INSERT INTO impersonations (",
            columns!(),
            ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL)"
        ),
        active: concat!(
            "SELECT ",
            columns!(),
            " FROM impersonations
             WHERE tenant_id = $1 AND revoked_at IS NULL AND expires_at > $2
             ORDER BY issued_at DESC, jti DESC"
        ),
        revoke: concat!(
            "UPDATE impersonations SET revoked_at = $3, revoked_by = $4
             WHERE tenant_id = $1 AND jti = $2 AND revoked_at IS NULL
             RETURNING ",
            columns!()
        ),
        get: concat!(
            "SELECT ",
            columns!(),
            " FROM impersonations WHERE tenant_id = $1 AND jti = $2"
        ),
        revoked: "SELECT jti, tenant_id, revoked_at, expires_at FROM impersonations
             WHERE revoked_at IS NOT NULL AND expires_at > $1
               AND ($2::timestamptz IS NULL OR revoked_at > $2
                    OR (revoked_at = $2 AND ($3::uuid IS NULL OR jti > $3)))
             ORDER BY revoked_at, jti LIMIT $4",
    };
}
