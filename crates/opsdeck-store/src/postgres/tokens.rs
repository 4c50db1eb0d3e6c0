//! The PostgreSQL SQL of the token store. A batch of last-use stamps goes in as two arrays,
//! its rows locked first in id order.

use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use sqlx::Postgres;
use uuid::Uuid;

use crate::shared::tokens::{TokenQueries, TokenSql};
use crate::sql_store::SqlStore;

/// The columns of a token record.
macro_rules! columns {
    () => {
        "id, kind, name, role, scopes, display, created_by, created_at, expires_at, \
         revoked_at, last_used_at"
    };
}

impl TokenSql for Postgres {
    const TOKENS: TokenQueries = TokenQueries {
        create: concat!(
            "INSERT INTO tokens (id, kind, name, role, scopes, display, hash, created_by,
                                 created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             RETURNING ",
            columns!()
        ),
        find_by_hash: concat!("SELECT ", columns!(), " FROM tokens WHERE hash = $1"),
        get: concat!("SELECT ", columns!(), " FROM tokens WHERE id = $1"),
        list: concat!(
            "SELECT ",
            columns!(),
            " FROM tokens ORDER BY created_at DESC, id DESC"
        ),
        // The row lock makes concurrent revocations of one token agree on a single winner.
        revoke: "UPDATE tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        count_active_admins: "SELECT count(*) AS count FROM tokens
             WHERE kind = 'personal' AND role = 'admin' AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > $1)",
    };

    async fn record_token_uses(
        store: &SqlStore<Self>,
        uses: &[(Uuid, DateTime<Utc>)],
    ) -> StoreResult<()> {
        let (ids, times): (Vec<Uuid>, Vec<DateTime<Utc>>) = uses.iter().copied().unzip();
        let mut tx = store.pool()?.begin().await.map_err(|e| store.fail(e))?;
        // Lock the rows in id order first: two replicas flushing overlapping batches then
        // queue behind each other instead of deadlocking on locks taken in join order.
        sqlx::query("SELECT 1 FROM tokens WHERE id = ANY($1) ORDER BY id FOR UPDATE")
            .bind(&ids)
            .execute(&mut *tx)
            .await
            .map_err(|e| store.fail(e))?;
        sqlx::query(
            "UPDATE tokens SET last_used_at = used.at
             FROM (SELECT id, max(at) AS at
                   FROM unnest($1::uuid[], $2::timestamptz[]) AS batch (id, at)
                   GROUP BY id) AS used
             WHERE tokens.id = used.id
               AND (tokens.last_used_at IS NULL OR tokens.last_used_at < used.at)",
        )
        .bind(&ids)
        .bind(&times)
        .execute(&mut *tx)
        .await
        .map_err(|e| store.fail(e))?;
        tx.commit().await.map_err(|e| store.fail(e))
    }
}
