//! A job as opsdeck shows it: a summary for lists and, for its own page, its attempts with
//! their errors and the shape of its payload. Everything that came from the application is
//! redacted and bounded before it gets here; connectors build these.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{JobState, PayloadShape};
use crate::ids::{JobId, QueueName, TenantId};

/// A job as lists show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSummary {
    pub id: JobId,
    pub queue: QueueName,
    pub state: JobState,
    /// What runs: a BullMQ job name, a Sidekiq worker class, a graphile-worker task.
    pub name: Option<String>,
    /// Attempts made so far, and how many are allowed.
    pub attempts: Option<u32>,
    pub max_attempts: Option<u32>,
    pub created_at: Option<DateTime<Utc>>,
    /// When it last failed or finished, or when it is due (scheduled jobs).
    pub at: Option<DateTime<Utc>>,
    /// The latest error on one line, redacted and short.
    pub error: Option<String>,
    /// From the source's `tenant_path`, when configured and present.
    pub tenant_id: Option<TenantId>,
}

/// One attempt of a job, where the system keeps them apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub at: Option<DateTime<Utc>>,
    /// The error message, redacted and truncated.
    pub error: Option<String>,
    /// The stack trace or backtrace, redacted and truncated.
    pub stack: Option<String>,
}

/// A job's page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDetail {
    pub summary: JobSummary,
    /// Newest first, as far as the system keeps them.
    pub attempts: Vec<Attempt>,
    /// The payload's top-level keys with the shape of each value, never the values
    /// themselves (SPEC §2: summaries, not raw tenant data).
    pub payload: Option<PayloadShape>,
    /// Options the system records (priority, delay, backoff …), redacted, as text.
    pub options: Vec<(String, String)>,
}
