//! The hash-chained audit log ([`AuditStore`]). An append runs in one writing transaction
//! that first takes the backend's append lock, then reads the head of the chain: concurrent
//! writers, of any replica, queue on the lock and each continues from the head the previous
//! one committed. The lock is held only while the batch and its block summaries are inserted.
//! Times are kept to the millisecond on every backend; the table's triggers reject UPDATE
//! and DELETE.

use async_trait::async_trait;
use opsdeck_core::audit::{self, Actor, Appended, AuditEntry, AuditFilter, AuditRecord, Target};
use opsdeck_core::ids::TenantId;
use opsdeck_core::store::AuditStore;
use opsdeck_core::{StoreError, StoreResult};
use sqlx::QueryBuilder;

use crate::audit_index::{self, BlockSearch, Summary};
use crate::dialect::{BindExt, Dialect, PushExt, RowExt};
use crate::shapes::shaped_chunks;
use crate::sql_store::SqlStore;
use crate::values::{SharedTexts, Time};

/// The statements of the audit log, per backend. "An entry" is the columns of
/// [`columns`](Self::columns).
pub(crate) struct AuditQueries {
    /// `seq, at, actor_id, actor_name, auth_method, action, target_kind, target_id,
    /// tenant_id, outcome, client_addr, request_id, reason, prev_hash, hash`.
    pub columns: &'static str,
    /// `seq, hash` of the newest entry.
    pub head: &'static str,
    /// A multi-row upsert's head, up to `VALUES`; the rows are `(block, min_at, max_at)`.
    pub insert_spans: &'static str,
    /// What follows the rows: a stored block's span widened to take them in.
    pub insert_spans_end: &'static str,
    /// A multi-row insert's head, up to `VALUES`; the rows are `(key, block)`.
    pub insert_keys: &'static str,
    /// What follows the rows: a stored pair left as it is.
    pub insert_keys_end: &'static str,
    /// The entries with seq above one, oldest first. Binds after_seq, limit.
    pub scan: &'static str,
}

pub(crate) trait AuditSql: Dialect {
    const AUDIT: AuditQueries;

    /// The append's INSERT of `rows` entries (a size of `shapes::INSERT_SHAPES`), its text
    /// built once per size.
    fn insert_entries(rows: usize) -> &'static str;

    /// First in an append's transaction: whatever makes concurrent appends, of any
    /// replica, take turns.
    fn lock_append(
        store: &SqlStore<Self>,
        conn: &mut Self::Connection,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

#[async_trait]
impl<DB: AuditSql> AuditStore for SqlStore<DB> {
    async fn append_audit(&self, records: &[AuditRecord]) -> StoreResult<Appended> {
        if records.is_empty() {
            return Ok(audit::continue_chain(None, records));
        }
        let mut tx = self.begin_write().await?;
        DB::lock_append(self, &mut tx).await?;
        let head = self
            .query(DB::AUDIT.head)
            .fetch_optional(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        let head: Option<(i64, String)> = match head {
            Some(row) => Some((row.col("seq")?, row.col("hash")?)),
            None => None,
        };
        let appended = audit::continue_chain(
            head.as_ref().map(|(seq, hash)| (*seq, hash.as_str())),
            records,
        );
        let mut texts = SharedTexts::new::<DB>();
        // Each hash is bound twice, as its entry's hash and as the next entry's prev_hash.
        let mut prev_hash = texts.single(appended.prev_hash.as_str());
        let mut index = 0;
        for chunk in shaped_chunks(records) {
            let mut insert = self.query(DB::insert_entries(chunk.len()));
            for r in chunk {
                let actor = r.actor.as_ref();
                let target = r.target.as_ref();
                let hash = texts.single(appended.hashes[index].as_str());
                insert = insert
                    .arg(appended.seq(index))
                    .arg(Time::millis(r.at))
                    .arg(actor.map(|a| texts.get(&a.id)))
                    .arg(actor.map(|a| texts.get(&a.name)))
                    .arg(actor.map(|a| texts.get(&a.method)))
                    .arg(texts.get(&r.action))
                    .arg(target.map(|t| texts.get(&t.kind)))
                    .arg(target.map(|t| texts.get(&t.id)))
                    .arg(r.tenant_id.as_ref().map(|t| texts.get(t.as_str())))
                    .arg(i32::from(r.outcome))
                    .arg(r.client_addr.as_deref().map(|c| texts.get(c)))
                    .arg(r.request_id.as_deref().map(|id| texts.single(id)))
                    .arg(r.reason.as_deref().map(|reason| texts.single(reason)))
                    .arg(std::mem::replace(&mut prev_hash, hash.clone()))
                    .arg(hash);
                index += 1;
            }
            insert
                .execute(DB::on_conn(&mut tx))
                .await
                .map_err(|e| self.fail(e))?;
        }
        let summary = Summary::of(&appended, records);
        let mut spans = QueryBuilder::<DB>::new(DB::AUDIT.insert_spans);
        spans.push_values(&summary.spans, |mut row, span| {
            row.push_arg(span.block)
                .push_arg(Time(span.min_at))
                .push_arg(Time(span.max_at));
        });
        spans.push(DB::AUDIT.insert_spans_end);
        spans
            .build()
            .execute(DB::on_conn(&mut tx))
            .await
            .map_err(|e| self.fail(e))?;
        for chunk in shaped_chunks(&summary.keys) {
            let mut keys = QueryBuilder::<DB>::new(DB::AUDIT.insert_keys);
            keys.push_values(chunk, |mut row, (key, block)| {
                row.push_arg(key.as_str()).push_arg(*block);
            });
            keys.push(DB::AUDIT.insert_keys_end);
            keys.build()
                .execute(DB::on_conn(&mut tx))
                .await
                .map_err(|e| self.fail(e))?;
        }
        self.commit(tx).await?;
        Ok(appended)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        audit_index::list(self, filter).await
    }

    async fn scan_audit(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let rows = self
            .query(DB::AUDIT.scan)
            .arg(after_seq)
            .arg(i64::from(limit))
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(entry::<DB>).collect()
    }
}

#[async_trait]
impl<DB: AuditSql> BlockSearch for SqlStore<DB> {
    async fn entries(
        &self,
        filter: &AuditFilter,
        first: Option<i64>,
        end: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        let rows = audit_index::entries_query::<DB>(DB::AUDIT.columns, filter, (first, end), limit)
            .build()
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(entry::<DB>).collect()
    }

    async fn candidate_blocks(&self, filter: &AuditFilter, below: i64) -> StoreResult<Vec<i64>> {
        let rows = audit_index::candidate_blocks_query::<DB>(filter, below)
            .build()
            .fetch_all(self.db()?)
            .await
            .map_err(|e| self.fail(e))?;
        rows.iter().map(|row| row.col("block")).collect()
    }
}

fn entry<DB: Dialect>(row: &DB::Row) -> StoreResult<AuditEntry> {
    let seq: i64 = row.col("seq")?;
    let invalid = |what: &str| {
        StoreError::Other(format!("audit entry {seq}: stored {what} is invalid").into())
    };
    let actor = match (
        row.col("actor_id")?,
        row.col("actor_name")?,
        row.col("auth_method")?,
    ) {
        (Some(id), Some(name), Some(method)) => Some(Actor { id, name, method }),
        (None, None, None) => None,
        _ => return Err(invalid("actor")),
    };
    let target = match (row.col("target_kind")?, row.col("target_id")?) {
        (Some(kind), Some(id)) => Some(Target { kind, id }),
        (None, None) => None,
        _ => return Err(invalid("target")),
    };
    let tenant_id: Option<String> = row.col("tenant_id")?;
    Ok(AuditEntry {
        seq,
        record: AuditRecord {
            at: row.time("at").map_err(|_| invalid("time"))?,
            actor,
            action: row.col("action")?,
            target,
            tenant_id: tenant_id
                .map(|t| TenantId::parse(&t))
                .transpose()
                .map_err(|_| invalid("tenant_id"))?,
            outcome: u16::try_from(row.col::<i32>("outcome")?).map_err(|_| invalid("outcome"))?,
            client_addr: row.col("client_addr")?,
            request_id: row.col("request_id")?,
            reason: row.col("reason")?,
        },
        prev_hash: row.col("prev_hash")?,
        hash: row.col("hash")?,
    })
}
