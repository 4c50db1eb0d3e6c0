//! How both backends find the audit entries a filter asks for without a secondary index per
//! filterable column.
//!
//! Every `/ops` request appends an entry, so the cost of an append is the cost of the access
//! path itself; each per-row index (actor, action, target, tenant, time) added a B-tree
//! insert and its page writes to every request. Instead the log is cut into blocks of
//! [`BLOCK_LEN`] consecutive entries (block = `seq >> BLOCK_SHIFT`), and a summary records,
//! per block, its time span (`audit_blocks`) and which filter values occur in it
//! (`audit_block_keys`, one row per distinct value, so a block of a thousand reads by one
//! token adds a handful of rows). A filtered listing walks the blocks that hold every
//! asked-for value, newest first, and reads only those blocks' entries through the primary
//! key, with the exact conditions applied in SQL.
//!
//! The summaries are written in the transaction that appends the entries, under the same
//! lock. They are an index, not evidence: verification reads the chain itself.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::StoreResult;
use opsdeck_core::audit::{Appended, AuditEntry, AuditFilter, AuditRecord, truncate_to_millis};
use sqlx::QueryBuilder;

use crate::dialect::{Dialect, PushExt};
use crate::values::TimeBound;

/// Entries per block, as a shift: block = `seq >> BLOCK_SHIFT`. The migrations that fill the
/// summaries for entries written before them use the same shift.
pub(crate) const BLOCK_SHIFT: u32 = 10;
/// Entries per block.
pub(crate) const BLOCK_LEN: i64 = 1 << BLOCK_SHIFT;
/// Candidate blocks fetched per query while walking the log.
pub(crate) const BLOCKS_PER_QUERY: i64 = 64;

pub(crate) fn block_of(seq: i64) -> i64 {
    seq >> BLOCK_SHIFT
}

/// The summary key of one filterable value: `kind:value`. The kinds are fixed words without
/// a colon, so the first colon ends the kind whatever the value holds. The actor's id and
/// name share the kind `actor`, as the filter matches either.
fn key(kind: &str, value: &str) -> String {
    format!("{kind}:{value}")
}

/// The (kind, value) pairs under which an entry can be found, keyed as [`key`] does.
fn record_keys(record: &AuditRecord) -> impl Iterator<Item = (&'static str, &str)> {
    let actor = record
        .actor
        .iter()
        .flat_map(|a| [("actor", a.id.as_str()), ("actor", a.name.as_str())]);
    let target = record.target.iter().flat_map(|t| {
        [
            ("target_kind", t.kind.as_str()),
            ("target_id", t.id.as_str()),
        ]
    });
    actor
        .chain(std::iter::once(("action", record.action.as_str())))
        .chain(target)
        .chain(record.tenant_id.iter().map(|t| ("tenant", t.as_str())))
}

/// The keys every matching entry's block must hold, one per condition of `filter`.
pub(crate) fn filter_keys(filter: &AuditFilter) -> Vec<String> {
    [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("target_kind", &filter.target_kind),
        ("target_id", &filter.target_id),
        (
            "tenant",
            &filter.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
        ),
    ]
    .into_iter()
    .filter_map(|(kind, value)| value.as_deref().map(|v| key(kind, v)))
    .collect()
}

/// Whether `filter` narrows the log by more than its position (`before_seq`): then the
/// listing walks blocks; otherwise the newest entries are read straight off the primary key.
pub(crate) fn uses_blocks(filter: &AuditFilter) -> bool {
    !filter_keys(filter).is_empty() || filter.since.is_some() || filter.until.is_some()
}

/// One block's time span among the entries of an append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlockSpan {
    pub block: i64,
    pub min_at: DateTime<Utc>,
    pub max_at: DateTime<Utc>,
}

/// What an append adds to the summaries: each touched block's span, to be widened into the
/// stored one, and each distinct (key, block) pair.
#[derive(Debug, Default)]
pub(crate) struct Summary {
    pub spans: Vec<BlockSpan>,
    pub keys: Vec<(String, i64)>,
}

impl Summary {
    /// The summary of `records` stored where `appended` says.
    pub(crate) fn of(appended: &Appended, records: &[AuditRecord]) -> Self {
        let mut spans: BTreeMap<i64, BlockSpan> = BTreeMap::new();
        // Borrowed while collecting: a batch repeats a few values many times, and only the
        // distinct ones become keys.
        let mut keys: BTreeSet<(&str, &str, i64)> = BTreeSet::new();
        for (index, record) in records.iter().enumerate() {
            let block = block_of(appended.seq(index));
            let at = truncate_to_millis(record.at);
            spans
                .entry(block)
                .and_modify(|span| {
                    span.min_at = span.min_at.min(at);
                    span.max_at = span.max_at.max(at);
                })
                .or_insert(BlockSpan {
                    block,
                    min_at: at,
                    max_at: at,
                });
            // A run of entries by one actor on one route repeats the previous entry's values.
            let repeats = index > 0
                && block_of(appended.seq(index - 1)) == block
                && record_keys(record).eq(record_keys(&records[index - 1]));
            if !repeats {
                for (kind, value) in record_keys(record) {
                    keys.insert((kind, value, block));
                }
            }
        }
        Self {
            spans: spans.into_values().collect(),
            keys: keys
                .into_iter()
                .map(|(kind, value, block)| (key(kind, value), block))
                .collect(),
        }
    }
}

/// The query for [`BlockSearch::entries`]: `columns` of `audit_log`. Times are bound as
/// [`TimeBound`]s, compared exactly against the stored whole milliseconds.
pub(crate) fn entries_query<DB: Dialect>(
    columns: &str,
    filter: &AuditFilter,
    (first, end): (Option<i64>, Option<i64>),
    limit: i64,
) -> QueryBuilder<DB> {
    let mut query = QueryBuilder::<DB>::new(format!("SELECT {columns} FROM audit_log WHERE 1 = 1"));
    if let Some(actor) = &filter.actor {
        query
            .push(" AND (actor_id = ")
            .push_arg(actor.clone())
            .push(" OR actor_name = ")
            .push_arg(actor.clone())
            .push(")");
    }
    for (column, value) in [
        ("action", &filter.action),
        ("target_kind", &filter.target_kind),
        ("target_id", &filter.target_id),
        (
            "tenant_id",
            &filter.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
        ),
    ] {
        if let Some(value) = value {
            query
                .push(format_args!(" AND {column} = "))
                .push_arg(value.clone());
        }
    }
    if let Some(since) = filter.since {
        query.push(" AND at >= ").push_arg(TimeBound(since));
    }
    if let Some(until) = filter.until {
        query.push(" AND at < ").push_arg(TimeBound(until));
    }
    if let Some(first) = first {
        query.push(" AND seq >= ").push_arg(first);
    }
    if let Some(end) = end {
        query.push(" AND seq < ").push_arg(end);
    }
    query.push(" ORDER BY seq DESC LIMIT ").push_arg(limit);
    query
}

/// The query for [`BlockSearch::candidate_blocks`]; times as for [`entries_query`]. The
/// first key drives the search through the summary's primary key; the others, and the
/// times, are checked per block.
pub(crate) fn candidate_blocks_query<DB: Dialect>(
    filter: &AuditFilter,
    below: i64,
) -> QueryBuilder<DB> {
    let span_conditions = |query: &mut QueryBuilder<DB>| {
        if let Some(since) = filter.since {
            query.push(" AND b.max_at >= ").push_arg(TimeBound(since));
        }
        if let Some(until) = filter.until {
            query.push(" AND b.min_at < ").push_arg(TimeBound(until));
        }
    };
    let mut keys = filter_keys(filter).into_iter();
    let mut query = match keys.next() {
        Some(driver) => {
            let mut query =
                QueryBuilder::<DB>::new("SELECT k.block FROM audit_block_keys k WHERE k.key = ");
            query
                .push_arg(driver)
                .push(" AND k.block < ")
                .push_arg(below);
            for other in keys {
                query
                    .push(
                        " AND EXISTS (SELECT 1 FROM audit_block_keys o \
                         WHERE o.block = k.block AND o.key = ",
                    )
                    .push_arg(other)
                    .push(")");
            }
            if filter.since.is_some() || filter.until.is_some() {
                query.push(" AND EXISTS (SELECT 1 FROM audit_blocks b WHERE b.block = k.block");
                span_conditions(&mut query);
                query.push(")");
            }
            query.push(" ORDER BY k.block DESC");
            query
        }
        None => {
            let mut query =
                QueryBuilder::<DB>::new("SELECT b.block FROM audit_blocks b WHERE b.block < ");
            query.push_arg(below);
            span_conditions(&mut query);
            query.push(" ORDER BY b.block DESC");
            query
        }
    };
    query.push(" LIMIT ").push_arg(BLOCKS_PER_QUERY);
    query
}

/// What a backend answers for [`list`].
#[async_trait]
pub(crate) trait BlockSearch: Sync {
    /// Up to [`BLOCKS_PER_QUERY`] blocks numbered below `below` whose summaries hold every
    /// key of [`filter_keys`] and whose span meets the filter's times, highest first
    /// ([`candidate_blocks_query`]).
    async fn candidate_blocks(&self, filter: &AuditFilter, below: i64) -> StoreResult<Vec<i64>>;

    /// Up to `limit` entries meeting every condition of `filter` (not its position or
    /// limit), with `first <= seq < end` where given, newest first ([`entries_query`]).
    async fn entries(
        &self,
        filter: &AuditFilter,
        first: Option<i64>,
        end: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>>;
}

/// What `filter` matches, newest first: straight off the primary key when it has no value or
/// time condition, otherwise by walking the candidate blocks from `before_seq` down.
pub(crate) async fn list(
    search: &impl BlockSearch,
    filter: &AuditFilter,
) -> StoreResult<Vec<AuditEntry>> {
    let limit = i64::from(filter.limit);
    if !uses_blocks(filter) {
        return search.entries(filter, None, filter.before_seq, limit).await;
    }
    let end = filter.before_seq.unwrap_or(i64::MAX);
    let mut found: Vec<AuditEntry> = Vec::new();
    if limit == 0 || end <= 1 {
        return Ok(found);
    }
    // Blocks below this one are still to be searched.
    let mut below = block_of(end - 1).saturating_add(1);
    loop {
        let blocks = search.candidate_blocks(filter, below).await?;
        let Some(&last) = blocks.last() else {
            return Ok(found);
        };
        for block in blocks {
            let first = block.saturating_mul(BLOCK_LEN);
            let block_end = first.saturating_add(BLOCK_LEN).min(end);
            let wanted = limit - found.len() as i64;
            found.extend(
                search
                    .entries(filter, Some(first), Some(block_end), wanted)
                    .await?,
            );
            if found.len() as i64 >= limit {
                return Ok(found);
            }
        }
        below = last;
    }
}
