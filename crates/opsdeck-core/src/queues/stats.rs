//! What a poll knows of a queue: its counts by state, each with the time it was taken; the
//! age of its oldest waiting job; its failures in the last hour; whether it is paused; and
//! of its source, whether the last poll reached it.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{QueueName, SourceName};

/// The queue systems opsdeck connects to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum System {
    Bullmq,
    GraphileWorker,
    Sidekiq,
    PgBoss,
    Rq,
    Celery,
    /// Snapshots the application posts itself.
    Push,
}

impl System {
    pub const ALL: [System; 7] = [
        System::Bullmq,
        System::GraphileWorker,
        System::Sidekiq,
        System::PgBoss,
        System::Rq,
        System::Celery,
        System::Push,
    ];

    /// The name `[[queues.sources]] type` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            System::Bullmq => "bullmq",
            System::GraphileWorker => "graphile-worker",
            System::Sidekiq => "sidekiq",
            System::PgBoss => "pg-boss",
            System::Rq => "rq",
            System::Celery => "celery",
            System::Push => "push",
        }
    }
}

impl fmt::Display for System {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not a known system.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown queue system {0:?}: expected bullmq, graphile-worker, sidekiq, pg-boss, rq, celery or push"
)]
pub struct UnknownSystem(pub String);

impl FromStr for System {
    type Err = UnknownSystem;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        System::ALL
            .into_iter()
            .find(|system| system.as_str() == s)
            .ok_or_else(|| UnknownSystem(s.to_owned()))
    }
}

/// The states every system's jobs are mapped onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Ready to run now (BullMQ `wait` and `prioritized`, a Sidekiq queue list, …).
    Waiting,
    /// Due later: delayed, scheduled, deferred.
    Scheduled,
    /// Being worked on.
    Active,
    /// Failed and due to be tried again on its own (Sidekiq's retry set, graphile-worker
    /// jobs with attempts left).
    Retrying,
    /// Failed with no try left: what an operator retries or discards.
    Failed,
    /// Given up on for good (Sidekiq's dead set, discarded jobs).
    Dead,
    /// Finished, where the system keeps finished jobs.
    Completed,
}

impl JobState {
    pub const ALL: [JobState; 7] = [
        JobState::Waiting,
        JobState::Scheduled,
        JobState::Active,
        JobState::Retrying,
        JobState::Failed,
        JobState::Dead,
        JobState::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Waiting => "waiting",
            JobState::Scheduled => "scheduled",
            JobState::Active => "active",
            JobState::Retrying => "retrying",
            JobState::Failed => "failed",
            JobState::Dead => "dead",
            JobState::Completed => "completed",
        }
    }

    /// Whether jobs in this state count as backlog: work the queue still has to do.
    pub fn is_backlog(self) -> bool {
        matches!(self, JobState::Waiting)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not a job state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown job state {0:?}: expected waiting, scheduled, active, retrying, failed, dead or completed"
)]
pub struct UnknownJobState(pub String);

impl FromStr for JobState {
    type Err = UnknownJobState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s.trim())
            .ok_or_else(|| UnknownJobState(s.to_owned()))
    }
}

/// One count and when it was taken. Counts a system keeps an index or a counter for are
/// taken every poll; the others (a failed set with no index) at a slower cadence, so their
/// age is part of the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    pub value: u64,
    pub at: DateTime<Utc>,
}

/// One queue as the latest poll of its source saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueStats {
    pub source: SourceName,
    pub queue: QueueName,
    pub system: System,
    /// The states this system keeps; a state it does not keep is absent, not zero.
    pub counts: BTreeMap<JobState, Count>,
    /// Age of the oldest job waiting to run, in seconds; `None` when none waits or the
    /// system does not say (Celery messages carry no enqueue time).
    pub oldest_waiting_seconds: Option<f64>,
    /// Jobs that failed in the last hour; `None` where the system keeps no failure times.
    pub failures_last_hour: Option<u64>,
    /// `None` where the system has no pause (graphile-worker, open-source Sidekiq, …).
    pub paused: Option<bool>,
    /// When the poll that produced this finished.
    pub polled_at: DateTime<Utc>,
}

impl QueueStats {
    /// The count of `state`, when the system keeps that state.
    pub fn count(&self, state: JobState) -> Option<u64> {
        self.counts.get(&state).map(|c| c.value)
    }

    /// Jobs waiting to run.
    pub fn backlog(&self) -> u64 {
        self.count(JobState::Waiting).unwrap_or(0)
    }
}

/// How a source's latest poll went. A source that cannot be reached keeps its last stats,
/// marked stale with the error, so an outage never shows as an empty queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub source: SourceName,
    pub system: System,
    /// The system's version as the source reports it (`bullmq:6.7.6`, migration 20, …).
    pub version: Option<String>,
    /// When a poll last succeeded.
    pub last_success_at: Option<DateTime<Utc>>,
    /// When a poll last ran, whatever its result.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Why the latest poll failed (redacted); `None` after a success.
    pub error: Option<String>,
}

impl SourceStatus {
    /// Whether the source's numbers are out of date: its latest poll failed, or no poll
    /// succeeded within `max_age` of `now`.
    pub fn is_stale(&self, now: DateTime<Utc>, max_age: chrono::Duration) -> bool {
        self.error.is_some() || self.last_success_at.is_none_or(|at| now - at > max_age)
    }
}

/// One point of a queue's history, for its charts: taken at most once a minute per queue.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct QueueSample {
    pub at: DateTime<Utc>,
    pub waiting: u64,
    /// Jobs failed for good (failed and dead).
    pub failed: u64,
    pub failures_last_hour: Option<u64>,
    pub oldest_waiting_seconds: Option<f64>,
}

impl QueueSample {
    /// The sample of `stats`.
    pub fn of(stats: &QueueStats) -> Self {
        Self {
            at: stats.polled_at,
            waiting: stats.backlog(),
            failed: stats.count(JobState::Failed).unwrap_or(0)
                + stats.count(JobState::Dead).unwrap_or(0),
            failures_last_hour: stats.failures_last_hour,
            oldest_waiting_seconds: stats.oldest_waiting_seconds,
        }
    }
}
