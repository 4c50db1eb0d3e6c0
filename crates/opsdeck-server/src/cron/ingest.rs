//! Ping and check-in ingest (SPEC §4, issue 5 items 3 and 4): what the ping URLs and the
//! JSON check-ins hand over once they have checked the caller and parsed the request, and
//! the single writer that commits pings in groups.
//!
//! A ping is acknowledged only after it is committed. Handlers [`Ingest::submit`] a
//! [`PingRequest`] and wait for its answer; one [`IngestWriter`] task per replica takes
//! whatever has queued up (up to `cron.ingest_batch`), runs [`apply_ping`] for each in arrival
//! order on the monitors' latest known state, and commits the batch with one
//! [`CronStore::apply_outcomes`] transaction: one fsync for hundreds of pings. Then it
//! answers every waiter and hands the alerts the pings raised to the dispatcher.
//!
//! - **Several pings of one monitor in a batch** chain on the same state and are merged
//!   into one state write: the store then writes the monitor once, and a conflict on it
//!   cannot leave half of the chain written (see `batch`).
//! - **Monitors are cached** (`cache`) by slug with their version, so a busy monitor costs
//!   no read per ping. The cache is never trusted for correctness: every write is
//!   conditional on the version, and a monitor written elsewhere since (the evaluator on the
//!   leader, an admin, another replica's writer) answers conflict, is read again and its
//!   pings are applied again, up to [`ATTEMPTS`] times.
//! - **Failures answer 503**, never a silent loss: a failed commit answers every waiter of
//!   the batch, and a writer that has stopped answers every later submit.
//! - **Several replicas** each run their own writer on the shared database; the optimistic
//!   versions keep them consistent.
//!
//! [`apply_ping`]: opsdeck_core::cron::apply_ping
//! [`CronStore::apply_outcomes`]: opsdeck_core::CronStore::apply_outcomes

mod batch;
pub mod body;
mod cache;
pub mod key;
mod metrics;
mod provision;
mod writer;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use opsdeck_core::Store;
use opsdeck_core::cron::{Ping, PingKind, SpecPatch};
use opsdeck_core::ids::Slug;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

pub use self::metrics::IngestMetrics;
pub use self::writer::IngestWriter;
use crate::alerts::Dispatcher;
use crate::config::CronConfig;
use crate::metrics::Metrics;

/// The limits of ingest, from `[cron]` (see [`CronConfig`]): the ping body limit is the
/// handlers' (`api::ping`), these two are the writer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestLimits {
    /// Pings committed at most in one transaction (`cron.ingest_batch`). Large enough that
    /// a burst of thousands a second costs a few transactions, small enough that one
    /// transaction stays short.
    pub batch: usize,
    /// Pings waiting for the writer at most (`cron.ingest_queue`); further submits wait
    /// for room (back-pressure, bounded by the request timeout) rather than being refused.
    pub queue: usize,
}

impl IngestLimits {
    pub fn of(config: &CronConfig) -> Self {
        // Validation keeps both at least 1; `max` keeps a hand-built config from making a
        // channel of capacity 0, which would panic.
        Self {
            batch: config.ingest_batch.max(1),
            queue: config.ingest_queue.max(1),
        }
    }
}

/// How often a batch's monitors are read again and written again after a conflict before
/// their pings are answered 503.
pub const ATTEMPTS: usize = 5;

/// What the monitor's absence means for a ping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provision {
    /// The monitor must exist: a ping for an unknown slug is answered not found.
    Existing,
    /// `?create=1`: create [`opsdeck_core::cron::MonitorSpec::auto_created`] if it does
    /// not exist.
    AutoCreate,
    /// A check-in's `monitor_config`: create the monitor from it, or change what it
    /// carries of the stored spec (keeping the rest, the state and the source) when that
    /// differs.
    Upsert(Box<SpecPatch>),
}

/// One ping or check-in, parsed and authorized.
#[derive(Debug, Clone)]
pub struct PingRequest {
    pub slug: Slug,
    pub ping: Ping,
    pub provision: Provision,
    /// When the request arrived (the injected clock).
    pub received_at: DateTime<Utc>,
}

/// A committed ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// This ping created the monitor.
    pub created: bool,
    /// The run it wrote or appended to, if any.
    pub run_id: Option<Uuid>,
}

/// Why a ping was not committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("no monitor has this slug")]
    NotFound,
    /// The database failed, conflicts did not settle, or the writer has stopped: nothing of
    /// this ping was written, the client should retry.
    #[error("the ping could not be recorded; retry later")]
    Unavailable,
}

/// One queued ping and the waiter to answer.
#[derive(Debug)]
struct Job {
    request: PingRequest,
    reply: oneshot::Sender<Result<Accepted, IngestError>>,
}

/// The handle handlers submit pings through; cheap to clone.
#[derive(Debug, Clone)]
pub struct Ingest {
    sender: mpsc::Sender<Job>,
    metrics: IngestMetrics,
}

impl Ingest {
    /// The handle and the writer behind it; run the writer with [`IngestWriter::run`].
    pub fn new(
        store: Arc<dyn Store>,
        alerts: Dispatcher,
        metrics: &Metrics,
        limits: IngestLimits,
    ) -> (Ingest, IngestWriter) {
        let (sender, receiver) = mpsc::channel(limits.queue);
        let metrics = IngestMetrics::register(metrics);
        let writer = IngestWriter::new(receiver, store, alerts, metrics.clone(), limits.batch);
        (Ingest { sender, metrics }, writer)
    }

    /// Queues a ping and waits until it is committed (or refused).
    pub async fn submit(&self, request: PingRequest) -> Result<Accepted, IngestError> {
        let kind = request.ping.kind;
        let result =
            crate::background::group_commit::submit(&self.sender, |reply| Job { request, reply })
                .await
                .unwrap_or(Err(IngestError::Unavailable));
        let outcome = match result {
            Ok(Accepted { created: true, .. }) => "created",
            Ok(_) => "accepted",
            Err(IngestError::NotFound) => "not_found",
            Err(IngestError::Unavailable) => "unavailable",
        };
        self.metrics.ping(Some(kind), outcome);
        result
    }

    /// Counts a ping refused before it was submitted (bad key, bad input, rate limit).
    pub fn refused(&self, kind: Option<PingKind>, outcome: &'static str) {
        self.metrics.ping(kind, outcome);
    }
}
