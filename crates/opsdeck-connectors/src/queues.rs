//! Queue connectors (SPEC §5): opsdeck reads the queues the application already runs and
//! acts on them only through each system's own operations, or atomic equivalents written
//! here, after the server has written the action's audit entry.
//!
//! One module per system. Its struct is the system's `[[queues.sources]]` keys (deserialized
//! with `deny_unknown_fields`; the keys every source has — name, type, poll_interval,
//! tenant_path, read_only — are the server's) and implements [`QueueType`]: its `type` name,
//! the rules between its keys, the target shown without credentials, its secrets and how to
//! connect. [`registry::QUEUE_TYPES`] lists every system once. A connection is a
//! [`QueueConnector`], the object-safe face the server's poller and use-cases hold.
//!
//! What every connector promises:
//! - **Cheap reads.** A poll uses O(1) commands or index-backed queries, pipelined; counts
//!   with nothing behind them run only when the poller says `slow` (at an adaptive, slower
//!   cadence, under a statement timeout), and each count says when it was taken. PostgreSQL
//!   reads run in read-only transactions with a `statement_timeout`; Redis work is chunked
//!   so no single command or script blocks the server long.
//! - **No guessing.** The system's version or layout is checked at every poll; one it does
//!   not recognise is refused with [`QueueError::Unsupported`], never read or written.
//! - **Safe writes.** A retry or discard moves only a job still in the state it was seen
//!   in (failed, and failed no later than the dry run for bulk actions), atomically with
//!   respect to the system's workers, and is idempotent: a second call moves nothing and says
//!   so in its [`ActionReport`].
//! - **Minimal data.** Errors, stacks and payloads are redacted and bounded before they leave
//!   the connector; payloads only as their top-level shapes.

pub mod bullmq;
pub mod celery;
pub mod graphile;
pub(crate) mod paging;
pub(crate) mod pg_tx;
pub mod pgboss;
pub(crate) mod redis_client;
pub mod registry;
pub mod rq;
pub mod sidekiq;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::ids::{JobId, QueueName, SourceName};
use opsdeck_core::queues::{
    JobDetail, JobFilter, JobState, JobSummary, QueueStats, System, TenantPath,
};
use opsdeck_core::secret::Secret;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use crate::keys::Problems;
pub use registry::{QUEUE_TYPES, QueueSource, RegisteredSystem, SourceKeys};

/// What a connection needs besides the system's keys.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// The source's name, which every [`QueueStats`] it reports carries.
    pub source: SourceName,
    /// Where a job's tenant id lives in the job, when configured.
    pub tenant_path: Option<TenantPath>,
    /// The longest a single read may take (statement timeout, command timeout).
    pub read_timeout: Duration,
}

/// A `type` of `[[queues.sources]]`, implemented by each system's module. The implementing
/// struct is the system's keys; it is serialized as the settings shown (secrets as `***`).
#[async_trait]
pub trait QueueType:
    Serialize + DeserializeOwned + fmt::Debug + Clone + Send + Sync + 'static
{
    /// The `type` value, e.g. `"bullmq"`.
    const TYPE: &'static str;
    const SYSTEM: System;

    /// Rules between keys their types cannot express, as (key, message).
    fn validate(&self) -> Problems {
        Problems::new()
    }

    /// What it connects to, without credentials.
    fn target(&self) -> String;

    /// Every secret of its keys, to be masked wherever an error quotes them.
    fn secrets(&self) -> Vec<&Secret>;

    /// A connector for this source. Connecting may be lazy: an unreachable system is an
    /// error of each call (the source shows as stale), not of this one.
    async fn connect(&self, context: SourceContext) -> Result<Box<dyn QueueConnector>, QueueError>;
}

/// What a system lets opsdeck do, and why not where it does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    pub retry: Result<(), &'static str>,
    pub discard: Result<(), &'static str>,
    pub pause: Result<(), &'static str>,
    /// Bulk retry and discard of a pinned selection.
    pub bulk: Result<(), &'static str>,
}

/// One poll of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct Poll {
    /// The system's version as found (`bullmq:6.7.6`, `graphile-worker migration 20`).
    pub version: Option<String>,
    /// Every queue of the source, with what this poll counted. A count left out because it
    /// was not due (`slow` was false) is carried over by the poller from the last poll.
    pub queues: Vec<QueueStats>,
    /// What the poll cost the source.
    pub cost: PollCost,
}

/// The work one poll did on the source, for the share of its time opsdeck takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollCost {
    /// Commands or statements sent (a pipeline counts each command).
    pub commands: u64,
    /// Time spent waiting on the source.
    pub elapsed: Duration,
}

/// A page of jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    pub jobs: Vec<JobSummary>,
    /// Pass back for the next page; `None` on the last one.
    pub next: Option<String>,
    /// Jobs examined to fill the page: a text or tenant search reads jobs one by one and
    /// stops after a bound, so a sparse match says how far it looked.
    pub scanned: u64,
    /// Whether the list may be missing jobs of the state: the search stopped at its bound, or
    /// (Celery) the result backend has not yet been scanned through.
    pub partial: bool,
}

/// Which jobs of a state a list asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobQuery {
    pub filter: JobFilter,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    pub limit: u32,
}

/// The condition a job must still meet to be acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActGuard {
    /// The state the job was seen in (retry and discard act on failed jobs).
    pub state: JobState,
    /// For a bulk action: the dry run's time; a job that failed after it was not seen by
    /// whoever asked, and is left alone.
    pub failed_not_after: Option<DateTime<Utc>>,
}

/// How a job a guarded move left alone reads now: whether a worker holds it, the state
/// opsdeck names it by, and when it last failed.
pub(crate) struct LeftAlone<'a> {
    pub locked: bool,
    pub state: &'a str,
    pub failed_at: Option<DateTime<Utc>>,
}

impl ActGuard {
    /// Why a guarded move left a job alone, from how it reads now (`None`: gone, or no
    /// longer in the queue acted on).
    pub(crate) fn why_left(&self, now: Option<LeftAlone<'_>>) -> Skip {
        match now {
            None => Skip::Gone,
            Some(job) if job.locked => Skip::Locked,
            Some(job) if job.state != self.state.as_str() => Skip::Moved,
            Some(LeftAlone {
                failed_at: Some(failed_at),
                ..
            }) if self
                .failed_not_after
                .is_some_and(|pinned| failed_at > pinned) =>
            {
                Skip::Newer
            }
            // In its state and not newer, yet not moved: it changed while the move ran, or
            // changed and changed back (retried and failed again within the dry run's time).
            Some(_) => Skip::Moved,
        }
    }
}

/// Why a job was left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Skip {
    /// It no longer exists.
    Gone,
    /// It is no longer in the state it was seen in (retried already, running, …).
    Moved,
    /// It failed again after the dry run.
    Newer,
    /// A worker holds it.
    Locked,
    /// The system's own retry or removal would take a path opsdeck does not make (an RQ
    /// job under a rate limit goes through RQ's limiter): left for the system's own tools.
    Refused,
}

impl Skip {
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::Gone => "gone",
            Skip::Moved => "moved",
            Skip::Newer => "newer",
            Skip::Locked => "locked",
            Skip::Refused => "refused",
        }
    }
}

/// What a retry or discard did, job by job.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActionReport {
    pub done: Vec<JobId>,
    pub skipped: Vec<(JobId, Skip)>,
    /// The longest single command or statement the action ran on the source, so a bulk
    /// action can show it never stalled the system's workers.
    pub longest_step: Duration,
}

/// Why a connector call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The system does not answer: the source is shown stale with this.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// A version or layout this connector does not know: nothing is read or written.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The system has no such queue or job.
    #[error("not found: {0}")]
    NotFound(String),
    /// The system cannot do this (no pause, no retry).
    #[error("not possible: {0}")]
    NotPossible(String),
    #[error("{0}")]
    Other(String),
}

/// A source's connection: what the server's poller and use-cases call.
#[async_trait]
pub trait QueueConnector: fmt::Debug + Send + Sync {
    fn system(&self) -> System;

    fn capabilities(&self) -> Capabilities;

    /// Discovers the source's queues and counts their jobs; counts without an index or
    /// counter behind them only when `slow`.
    async fn poll(&self, slow: bool) -> Result<Poll, QueueError>;

    /// A page of a queue's jobs in one state, newest first where the system orders them.
    async fn list_jobs(&self, queue: &QueueName, query: &JobQuery) -> Result<JobPage, QueueError>;

    /// One job, or `None`.
    async fn get_job(&self, queue: &QueueName, id: &JobId)
    -> Result<Option<JobDetail>, QueueError>;

    /// For a bulk action's dry run: the ids of the jobs `filter` matches, at most `limit`
    /// (one more than `limit` tells the caller there are too many).
    async fn select(
        &self,
        queue: &QueueName,
        filter: &JobFilter,
        limit: usize,
    ) -> Result<Vec<JobId>, QueueError>;

    /// Retries `ids`, each only while it still meets `guard`.
    async fn retry(
        &self,
        queue: &QueueName,
        ids: &[JobId],
        guard: ActGuard,
    ) -> Result<ActionReport, QueueError>;

    /// Discards `ids` (the system's terminal state for a job nobody wants retried), each
    /// only while it still meets `guard`.
    async fn discard(
        &self,
        queue: &QueueName,
        ids: &[JobId],
        guard: ActGuard,
    ) -> Result<ActionReport, QueueError>;

    /// Pauses or resumes a queue, where the system has a pause. A system without one need not
    /// implement it: the call is refused with the reason its [`Capabilities::pause`] gives.
    async fn set_paused(&self, _queue: &QueueName, _paused: bool) -> Result<(), QueueError> {
        Err(QueueError::NotPossible(
            self.capabilities()
                .pause
                .err()
                .unwrap_or("this system has no queue pause")
                .to_owned(),
        ))
    }
}
