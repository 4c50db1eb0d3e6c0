//! The PostgreSQL audit log. An append runs in one transaction that first takes a
//! transaction-scoped advisory lock on this schema's `audit_log` table, then reads the head
//! of the chain: concurrent writers, in any replica, queue on the lock, and each continues
//! from the head the previous one committed (under READ COMMITTED every statement sees what
//! was committed before it started). The lock is released at commit or rollback.
//!
//! Times are TIMESTAMPTZ holding whole milliseconds; the table's triggers reject UPDATE,
//! DELETE and TRUNCATE.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{self, Actor, Appended, AuditEntry, AuditFilter, AuditRecord, Target};
use opsdeck_core::ids::TenantId;
use opsdeck_core::store::AuditStore;
use opsdeck_core::{StoreError, StoreResult};
use sqlx::{Postgres, QueryBuilder};

use super::PgStore;
use crate::audit_index::{self, BlockSearch, Summary};
use crate::shapes::{InsertTexts, Placeholders, shaped_chunks};

const COLUMNS: &str = "seq, at, actor_id, actor_name, auth_method, action, target_kind, \
                       target_id, tenant_id, outcome, client_addr, request_id, reason, \
                       prev_hash, hash";

/// First key of the append lock; the second is the table's oid, so deployments in different
/// schemas of one database do not wait on each other. Two-key advisory locks never collide
/// with sqlx's one-key migration lock.
const APPEND_LOCK_CLASS: i32 = 0x6f70_6175; // "opau"

/// The append's INSERT, one text per chunk size.
static INSERT: InsertTexts = InsertTexts::new("audit_log", COLUMNS, Placeholders::Numbered);

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    at: DateTime<Utc>,
    actor_id: Option<String>,
    actor_name: Option<String>,
    auth_method: Option<String>,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    tenant_id: Option<String>,
    outcome: i32,
    client_addr: Option<String>,
    request_id: Option<String>,
    reason: Option<String>,
    prev_hash: String,
    hash: String,
}

#[async_trait]
impl AuditStore for PgStore {
    async fn append_audit(&self, records: &[AuditRecord]) -> StoreResult<Appended> {
        if records.is_empty() {
            return Ok(audit::continue_chain(None, records));
        }
        let mut tx = self.pool.begin().await.map_err(|e| self.fail(e))?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, 'audit_log'::regclass::oid::int4)")
            .bind(APPEND_LOCK_CLASS)
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        let appended = audit::continue_chain(
            head.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
            records,
        );
        let mut index = 0;
        for chunk in shaped_chunks(records) {
            let mut insert = sqlx::query(INSERT.get(chunk.len()));
            for r in chunk {
                let actor = r.actor.as_ref();
                let target = r.target.as_ref();
                insert = insert
                    .bind(appended.seq(index))
                    .bind(audit::truncate_to_millis(r.at))
                    .bind(actor.map(|a| a.id.as_str()))
                    .bind(actor.map(|a| a.name.as_str()))
                    .bind(actor.map(|a| a.method.as_str()))
                    .bind(r.action.as_str())
                    .bind(target.map(|t| t.kind.as_str()))
                    .bind(target.map(|t| t.id.as_str()))
                    .bind(r.tenant_id.as_ref().map(TenantId::as_str))
                    .bind(i32::from(r.outcome))
                    .bind(r.client_addr.as_deref())
                    .bind(r.request_id.as_deref())
                    .bind(r.reason.as_deref())
                    .bind(appended.prev_hash(index))
                    .bind(appended.hashes[index].as_str());
                index += 1;
            }
            insert.execute(&mut *tx).await.map_err(|e| self.fail(e))?;
        }
        let summary = Summary::of(&appended, records);
        let mut spans =
            QueryBuilder::<Postgres>::new("INSERT INTO audit_blocks (block, min_at, max_at) ");
        spans.push_values(&summary.spans, |mut row, span| {
            row.push_bind(span.block)
                .push_bind(span.min_at)
                .push_bind(span.max_at);
        });
        spans.push(
            " ON CONFLICT (block) DO UPDATE SET \
             min_at = LEAST(audit_blocks.min_at, excluded.min_at), \
             max_at = GREATEST(audit_blocks.max_at, excluded.max_at)",
        );
        spans
            .build()
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        for chunk in shaped_chunks(&summary.keys) {
            let mut keys =
                QueryBuilder::<Postgres>::new("INSERT INTO audit_block_keys (key, block) ");
            keys.push_values(chunk, |mut row, (key, block)| {
                row.push_bind(key.as_str()).push_bind(*block);
            });
            keys.push(" ON CONFLICT DO NOTHING");
            keys.build()
                .execute(&mut *tx)
                .await
                .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        Ok(appended)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        audit_index::list(self, filter).await
    }

    async fn scan_audit(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"
        )))
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter().map(entry).collect()
    }
}

#[async_trait]
impl BlockSearch for PgStore {
    async fn entries(
        &self,
        filter: &AuditFilter,
        first: Option<i64>,
        end: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<Row> = audit_index::entries_query::<Postgres, _>(
            COLUMNS,
            filter,
            (first, end),
            limit,
            keep_time,
        )
        .build_query_as()
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter().map(entry).collect()
    }

    async fn candidate_blocks(&self, filter: &AuditFilter, below: i64) -> StoreResult<Vec<i64>> {
        audit_index::candidate_blocks_query::<Postgres, _>(filter, below, keep_time)
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))
    }
}

/// Times bind as they are: TIMESTAMPTZ keeps microseconds and compares exactly.
fn keep_time(t: DateTime<Utc>) -> DateTime<Utc> {
    t
}

fn entry(row: Row) -> StoreResult<AuditEntry> {
    let seq = row.seq;
    let invalid = |what: &str| {
        StoreError::Other(format!("audit entry {seq}: stored {what} is invalid").into())
    };
    let actor = match (row.actor_id, row.actor_name, row.auth_method) {
        (Some(id), Some(name), Some(method)) => Some(Actor { id, name, method }),
        (None, None, None) => None,
        _ => return Err(invalid("actor")),
    };
    let target = match (row.target_kind, row.target_id) {
        (Some(kind), Some(id)) => Some(Target { kind, id }),
        (None, None) => None,
        _ => return Err(invalid("target")),
    };
    Ok(AuditEntry {
        seq,
        record: AuditRecord {
            at: row.at,
            actor,
            action: row.action,
            target,
            tenant_id: row
                .tenant_id
                .map(|t| TenantId::parse(&t))
                .transpose()
                .map_err(|_| invalid("tenant_id"))?,
            outcome: u16::try_from(row.outcome).map_err(|_| invalid("outcome"))?,
            client_addr: row.client_addr,
            request_id: row.request_id,
            reason: row.reason,
        },
        prev_hash: row.prev_hash,
        hash: row.hash,
    })
}
