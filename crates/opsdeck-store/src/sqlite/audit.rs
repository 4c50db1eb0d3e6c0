//! The SQLite SQL of the audit log. An append's `BEGIN IMMEDIATE` takes the database's write
//! lock before the head of the chain is read, so concurrent writers (tasks of this replica
//! or other processes on the same file) wait their turn within the busy timeout.

use opsdeck_core::StoreResult;
use sqlx::Sqlite;
use sqlx::sqlite::SqliteConnection;

use crate::shapes::{InsertTexts, Placeholders};
use crate::shared::audit::{AuditQueries, AuditSql};
use crate::sql_store::SqlStore;

/// The columns of an entry.
macro_rules! columns {
    () => {
        "seq, at, actor_id, actor_name, auth_method, action, target_kind, target_id, \
         tenant_id, outcome, client_addr, request_id, reason, prev_hash, hash"
    };
}

/// The append's INSERT, one text per chunk size.
static INSERT: InsertTexts = InsertTexts::new("audit_log", columns!(), Placeholders::Question);

impl AuditSql for Sqlite {
    const AUDIT: AuditQueries = AuditQueries {
        columns: columns!(),
        head: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        insert_spans: "INSERT INTO audit_blocks (block, min_at, max_at) ",
        insert_spans_end: " ON CONFLICT (block) DO UPDATE SET \
             min_at = min(min_at, excluded.min_at), max_at = max(max_at, excluded.max_at)",
        insert_keys: "INSERT INTO audit_block_keys (key, block) ",
        insert_keys_end: " ON CONFLICT DO NOTHING",
        scan: concat!(
            "SELECT ",
            columns!(),
            " FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ),
    };

    fn insert_entries(rows: usize) -> &'static str {
        INSERT.get(rows)
    }

    /// Nothing more to take: the append's `BEGIN IMMEDIATE` holds the write lock.
    async fn lock_append(_store: &SqlStore<Self>, _conn: &mut SqliteConnection) -> StoreResult<()> {
        Ok(())
    }
}
