//! The hash-chained audit log.

use async_trait::async_trait;

use super::StoreResult;
use crate::audit::{Appended, AuditEntry, AuditFilter, AuditRecord};

/// The append-only, hash-chained audit log (see [`crate::audit`]).
#[async_trait]
pub trait AuditStore {
    /// Appends records in order, atomically, continuing the chain; returns where they went
    /// ([`Appended::entries`] gives the stored entries, times truncated to the millisecond).
    /// Concurrent appends, from any number of tasks or replicas, are serialised for the
    /// length of one short transaction, so the numbering never has gaps or duplicates.
    async fn append_audit(&self, records: &[AuditRecord]) -> StoreResult<Appended>;

    /// Entries matching `filter`, newest (highest seq) first, at most `filter.limit`.
    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditEntry>>;

    /// Entries with seq above `after_seq`, oldest first, at most `limit`: verification in
    /// batches.
    async fn scan_audit(&self, after_seq: i64, limit: u32) -> StoreResult<Vec<AuditEntry>>;
}
