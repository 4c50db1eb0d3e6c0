//! Queues and jobs (SPEC §5), the pure part. opsdeck runs no queue of its own: it reads the
//! queues the application already has (BullMQ, graphile-worker, Sidekiq, pg-boss, RQ,
//! Celery, or snapshots pushed by the application) and acts on them only through guarded
//! operations. This module says what opsdeck knows of them, whatever the system:
//!
//! - [`JobState`]: the states every system's jobs are mapped onto;
//! - [`QueueStats`]: one queue as a poll saw it — counts by state (each with the time it
//!   was counted: counts without an index behind them are refreshed at a slower cadence),
//!   the oldest waiting job's age, failures in the last hour, paused;
//! - [`SourceStatus`]: whether a source answered its last poll, so an unreachable system
//!   shows as stale rather than empty;
//! - [`JobSummary`] and [`JobDetail`]: a job as lists and its page show it — summaries,
//!   redacted error snippets, and the payload reduced to the shapes of its top-level keys;
//! - [`TenantPath`]: where a job's tenant id lives in its payload;
//! - [`Selection`]: the exact jobs a bulk action's dry run matched, pinned so the real run
//!   acts on those and nothing that failed since.

mod job;
mod selection;
mod shape;
mod signature;
mod stats;
mod tenant_path;

pub use job::{Attempt, JobDetail, JobSummary};
pub use selection::{BulkAction, JobFilter, Selection, SelectionClaim, SelectionToken};
pub use shape::{PAYLOAD_KEYS_MAX, PayloadShape, payload_shape};
pub use signature::{SIGNATURE_HEADER, verify_webhook_signature, webhook_signature};
pub use stats::{Count, JobState, QueueSample, QueueStats, SourceStatus, System};
pub use tenant_path::{TenantPath, TenantPathError};

#[cfg(test)]
mod tests;
