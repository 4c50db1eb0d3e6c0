//! The SQLite SQL of the token store. A batch of last-use stamps goes in as one JSON
//! parameter.

use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use sqlx::Sqlite;
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

impl TokenSql for Sqlite {
    const TOKENS: TokenQueries = TokenQueries {
        create: concat!(
            "INSERT INTO tokens (id, kind, name, role, scopes, display, hash, created_by,
                                 created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             RETURNING ",
            columns!()
        ),
        find_by_hash: concat!("SELECT ", columns!(), " FROM tokens WHERE hash = ?1"),
        get: concat!("SELECT ", columns!(), " FROM tokens WHERE id = ?1"),
        list: concat!(
            "SELECT ",
            columns!(),
            " FROM tokens ORDER BY created_at DESC, id DESC"
        ),
        revoke: "UPDATE tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        count_active_admins: "SELECT count(*) AS count FROM tokens
             WHERE kind = 'personal' AND role = 'admin' AND revoked_at IS NULL
               AND (expires_at IS NULL OR expires_at > ?1)",
    };

    async fn record_token_uses(
        store: &SqlStore<Self>,
        uses: &[(Uuid, DateTime<Utc>)],
    ) -> StoreResult<()> {
        // The whole batch goes in as one JSON parameter (`[["<uuid>", millis], …]`; neither
        // part needs escaping), so it is one statement: one short hold of the write lock.
        let batch: Vec<String> = uses
            .iter()
            .map(|(id, at)| format!("[\"{}\",{}]", id.hyphenated(), at.timestamp_millis()))
            .collect();
        let batch = format!("[{}]", batch.join(","));
        sqlx::query(
            "UPDATE tokens SET last_used_at = used.at
             FROM (SELECT json_extract(value, '$[0]') AS id,
                          max(json_extract(value, '$[1]')) AS at
                   FROM json_each(?1) GROUP BY 1) AS used
             WHERE tokens.id = used.id
               AND (tokens.last_used_at IS NULL OR tokens.last_used_at < used.at)",
        )
        .bind(batch)
        .execute(store.pool()?)
        .await
        .map_err(|e| store.fail(e))?;
        Ok(())
    }
}
