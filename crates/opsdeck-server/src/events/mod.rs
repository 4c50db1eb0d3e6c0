//! Application event ingest (SPEC §6, issue 14 items 2 and 3), the server's part: what
//! `POST /api/v1/events` hands over once it has parsed, checked and redacted a batch, the
//! writer that commits batches in groups, and retention.
//!
//! An answer is sent only once its events are committed: the handler [`Events::submit`]s
//! the batch and waits; one writer per replica (the group-commit loop shared with pings,
//! [`crate::background::group_commit`]) takes whatever requests have queued up, commits
//! them with as few transactions as `events.ingest_batch` allows — a request's events
//! always in one — and answers each with its events' outcomes. A failed commit answers
//! every request of it "unavailable" (503): nothing is acknowledged that was not stored.

mod metrics;
mod retention;
mod writer;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use opsdeck_core::Store;
use opsdeck_core::events::{Event, IngestOutcome};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

pub use self::metrics::EventMetrics;
pub use self::retention::spawn_event_loops;
use crate::config::EventsConfig;
use crate::metrics::Metrics;

/// The events could not be committed (database down, writer stopped): none of them was
/// stored; the client should retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the events could not be recorded; retry later")]
pub struct EventsUnavailable;

/// One request's valid events and the waiter to answer.
#[derive(Debug)]
struct Job {
    events: Vec<Event>,
    received_at: DateTime<Utc>,
    reply: oneshot::Sender<Result<Vec<IngestOutcome>, EventsUnavailable>>,
}

/// The handle handlers submit batches through; cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    sender: mpsc::Sender<Job>,
    metrics: EventMetrics,
}

/// The writer behind [`Events`]; start it with [`EventsWriter::spawn`].
#[derive(Debug)]
pub struct EventsWriter {
    receiver: mpsc::Receiver<Job>,
    committer: writer::EventCommitter,
}

/// Requests taken from the queue at most per round; the committer then cuts them into
/// transactions of at most `events.ingest_batch` events.
const REQUESTS_PER_ROUND: usize = 1024;

impl Events {
    pub fn new(
        store: Arc<dyn Store>,
        config: &EventsConfig,
        metrics: &Metrics,
    ) -> (Events, EventsWriter) {
        let (sender, receiver) = mpsc::channel(config.ingest_queue.max(1));
        let metrics = EventMetrics::register(metrics);
        let committer =
            writer::EventCommitter::new(store, config.ingest_batch.max(1), metrics.clone());
        (
            Events { sender, metrics },
            EventsWriter {
                receiver,
                committer,
            },
        )
    }

    /// The event counters, for the handler to count what it answered.
    pub fn metrics(&self) -> &EventMetrics {
        &self.metrics
    }

    /// Queues a batch of valid, redacted events and waits until they are committed:
    /// each event's outcome, in order.
    pub async fn submit(
        &self,
        events: Vec<Event>,
        received_at: DateTime<Utc>,
    ) -> Result<Vec<IngestOutcome>, EventsUnavailable> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let job = |reply| Job {
            events,
            received_at,
            reply,
        };
        crate::background::group_commit::submit(&self.sender, job)
            .await
            .unwrap_or(Err(EventsUnavailable))
    }
}

impl EventsWriter {
    /// Commits batches on a thread of its own until cancelled, then commits what is still
    /// queued; the task returned ends with it.
    pub fn spawn(self, cancel: CancellationToken) -> tokio::task::JoinHandle<()> {
        crate::background::group_commit::spawn(
            "opsdeck-events",
            "events",
            self.receiver,
            self.committer,
            REQUESTS_PER_ROUND,
            cancel,
        )
    }
}
