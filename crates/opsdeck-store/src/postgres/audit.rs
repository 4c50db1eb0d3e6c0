//! The PostgreSQL SQL of the audit log. An append first takes a transaction-scoped advisory
//! lock on this schema's `audit_log` table, then reads the head of the chain: concurrent
//! writers, in any replica, queue on the lock, and each continues from the head the previous
//! one committed (under READ COMMITTED every statement sees what was committed before it
//! started). The lock is released at commit or rollback. The table's triggers also reject
//! TRUNCATE.

use opsdeck_core::StoreResult;
use sqlx::Postgres;
use sqlx::postgres::PgConnection;

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

/// First key of the append lock; the second is the table's oid, so deployments in different
/// schemas of one database do not wait on each other. Two-key advisory locks never collide
/// with sqlx's one-key migration lock.
const APPEND_LOCK_CLASS: i32 = 0x6f70_6175; // "opau"

/// The append's INSERT, one text per chunk size.
static INSERT: InsertTexts = InsertTexts::new("audit_log", columns!(), Placeholders::Numbered);

impl AuditSql for Postgres {
    const AUDIT: AuditQueries = AuditQueries {
        columns: columns!(),
        head: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        insert_spans: "INSERT INTO audit_blocks (block, min_at, max_at) ",
        insert_spans_end: " ON CONFLICT (block) DO UPDATE SET \
             min_at = LEAST(audit_blocks.min_at, excluded.min_at), \
             max_at = GREATEST(audit_blocks.max_at, excluded.max_at)",
        insert_keys: "INSERT INTO audit_block_keys (key, block) ",
        insert_keys_end: " ON CONFLICT DO NOTHING",
        scan: concat!(
            "SELECT ",
            columns!(),
            " FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        ),
    };

    fn insert_entries(rows: usize) -> &'static str {
        INSERT.get(rows)
    }

    async fn lock_append(store: &SqlStore<Self>, conn: &mut PgConnection) -> StoreResult<()> {
        sqlx::query("SELECT pg_advisory_xact_lock($1, 'audit_log'::regclass::oid::int4)")
            .bind(APPEND_LOCK_CLASS)
            .execute(&mut *conn)
            .await
            .map_err(|e| store.fail(e))?;
        Ok(())
    }
}
