//! The SQLite audit log. An append runs in a `BEGIN IMMEDIATE` transaction: it takes the
//! database's write lock before reading the head of the chain, so concurrent writers (tasks
//! of this replica or other processes on the same file) wait their turn within the busy
//! timeout, and each continues from the head the previous one committed. The lock is held
//! only while the batch is inserted.
//!
//! Times are unix milliseconds; the table's triggers reject UPDATE and DELETE.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::audit::{self, Actor, Appended, AuditEntry, AuditFilter, AuditRecord, Target};
use opsdeck_core::ids::TenantId;
use opsdeck_core::store::AuditStore;
use opsdeck_core::{StoreError, StoreResult};
use sqlx::{QueryBuilder, Sqlite};

use super::SqliteStore;
use crate::audit_index::{self, BlockSearch, Summary};
use crate::shapes::{InsertTexts, Placeholders, shaped_chunks};

const COLUMNS: &str = "seq, at, actor_id, actor_name, auth_method, action, target_kind, \
                       target_id, tenant_id, outcome, client_addr, request_id, reason, \
                       prev_hash, hash";

/// The append's INSERT, one text per chunk size.
static INSERT: InsertTexts = InsertTexts::new("audit_log", COLUMNS, Placeholders::Question);

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    at: i64,
    actor_id: Option<String>,
    actor_name: Option<String>,
    auth_method: Option<String>,
    action: String,
    target_kind: Option<String>,
    target_id: Option<String>,
    tenant_id: Option<String>,
    outcome: i64,
    client_addr: Option<String>,
    request_id: Option<String>,
    reason: Option<String>,
    prev_hash: String,
    hash: String,
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn append_audit(&self, records: &[AuditRecord]) -> StoreResult<Appended> {
        if records.is_empty() {
            return Ok(audit::continue_chain(None, records));
        }
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
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
        let mut texts = SharedTexts::default();
        // Each hash is bound twice, as its entry's hash and as the next entry's prev_hash.
        let mut prev_hash: Arc<str> = Arc::from(appended.prev_hash.as_str());
        let mut index = 0;
        for chunk in shaped_chunks(records) {
            let mut insert = sqlx::query(INSERT.get(chunk.len()));
            for r in chunk {
                let actor = r.actor.as_ref();
                let target = r.target.as_ref();
                let hash: Arc<str> = Arc::from(appended.hashes[index].as_str());
                insert = insert
                    .bind(appended.seq(index))
                    .bind(r.at.timestamp_millis())
                    .bind(actor.map(|a| texts.get(&a.id)))
                    .bind(actor.map(|a| texts.get(&a.name)))
                    .bind(actor.map(|a| texts.get(&a.method)))
                    .bind(texts.get(&r.action))
                    .bind(target.map(|t| texts.get(&t.kind)))
                    .bind(target.map(|t| texts.get(&t.id)))
                    .bind(
                        r.tenant_id
                            .as_ref()
                            .map(TenantId::as_str)
                            .map(|t| texts.get(t)),
                    )
                    .bind(i64::from(r.outcome))
                    .bind(r.client_addr.as_deref().map(|c| texts.get(c)))
                    .bind(r.request_id.as_deref().map(Arc::<str>::from))
                    .bind(r.reason.as_deref().map(Arc::<str>::from))
                    .bind(std::mem::replace(&mut prev_hash, hash.clone()))
                    .bind(hash);
                index += 1;
            }
            insert.execute(&mut *tx).await.map_err(|e| self.fail(e))?;
        }
        let summary = Summary::of(&appended, records);
        let mut spans =
            QueryBuilder::<Sqlite>::new("INSERT INTO audit_blocks (block, min_at, max_at) ");
        spans.push_values(&summary.spans, |mut row, span| {
            row.push_bind(span.block)
                .push_bind(span.min_at.timestamp_millis())
                .push_bind(span.max_at.timestamp_millis());
        });
        spans.push(
            " ON CONFLICT (block) DO UPDATE SET min_at = min(min_at, excluded.min_at), \
             max_at = max(max_at, excluded.max_at)",
        );
        spans
            .build()
            .execute(&mut *tx)
            .await
            .map_err(|e| self.fail(e))?;
        for chunk in shaped_chunks(&summary.keys) {
            let mut keys =
                QueryBuilder::<Sqlite>::new("INSERT INTO audit_block_keys (key, block) ");
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
            "SELECT {COLUMNS} FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2"
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
impl BlockSearch for SqliteStore {
    async fn entries(
        &self,
        filter: &AuditFilter,
        first: Option<i64>,
        end: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows: Vec<Row> = audit_index::entries_query::<Sqlite, _>(
            COLUMNS,
            filter,
            (first, end),
            limit,
            millis_ceil,
        )
        .build_query_as()
        .fetch_all(&self.pool)
        .await
        .map_err(|e| self.fail(e))?;
        rows.into_iter().map(entry).collect()
    }

    async fn candidate_blocks(&self, filter: &AuditFilter, below: i64) -> StoreResult<Vec<i64>> {
        audit_index::candidate_blocks_query::<Sqlite, _>(filter, below, millis_ceil)
            .build_query_scalar()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.fail(e))
    }
}

/// The text values of one append, each allocated once. Binding a `&str` copies it into two
/// new allocations, and the rows of a batch mostly repeat a few actors, actions, targets and
/// clients; a shared `Arc<str>` is bound without copying.
#[derive(Default)]
struct SharedTexts<'a>(HashMap<&'a str, Arc<str>>);

impl<'a> SharedTexts<'a> {
    fn get(&mut self, text: &'a str) -> Arc<str> {
        self.0
            .entry(text)
            .or_insert_with(|| Arc::from(text))
            .clone()
    }
}

/// `t` in unix milliseconds, rounded up: a stored time (whole milliseconds) is at or after
/// `t` exactly when it is at or after this, and likewise for "before".
fn millis_ceil(t: DateTime<Utc>) -> i64 {
    let floor = t.timestamp_millis();
    if t.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        floor
    } else {
        floor.saturating_add(1)
    }
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
            at: DateTime::from_timestamp_millis(row.at).ok_or_else(|| invalid("time"))?,
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
