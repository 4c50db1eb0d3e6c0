//! The audit writer: a bounded channel drained by one task that appends what has queued up
//! in one batch. A full channel makes callers wait (back-pressure) rather than drop entries.
//!
//! Under load the cost of the log is the transaction per batch (taking the chain's lock,
//! reading its head, and on SQLite writing every touched index page to the WAL), not the
//! rows, so the writer lets a batch gather for [`LINGER`] before writing it: at thousands of
//! requests a second one transaction then carries hundreds of entries instead of a handful.
//! Nobody waits for that: a request only queues its entry. A caller that does wait for its
//! entry to be committed (an action that changes state) cuts the lingering short.

use std::sync::Arc;
use std::time::Duration;

use opsdeck_core::Store;
use opsdeck_core::audit::AuditRecord;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::error::chain;

/// Entries queued at most before callers wait for the writer.
const QUEUE: usize = 8192;
/// Entries appended at most in one transaction.
const BATCH: usize = 2048;
/// How long the writer lets a batch gather before writing it, unless a caller is waiting for
/// a commit. Short against the background loops' seconds, long against a request's
/// microseconds.
const LINGER: Duration = Duration::from_millis(5);

struct Item {
    record: AuditRecord,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

/// The handle requests use to append audit records.
#[derive(Clone, Debug)]
pub struct AuditSink {
    sender: mpsc::Sender<Item>,
    /// Told when a caller waits for a commit, so the writer stops lingering.
    waiting: Arc<Notify>,
}

impl std::fmt::Debug for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Item")
            .field("action", &self.record.action)
            .finish()
    }
}

/// The task that owns the receiving end; run it with [`AuditWriter::run`].
#[derive(Debug)]
pub struct AuditWriter {
    receiver: mpsc::Receiver<Item>,
    waiting: Arc<Notify>,
    store: Arc<dyn Store>,
}

impl AuditSink {
    pub fn new(store: Arc<dyn Store>) -> (Self, AuditWriter) {
        let (sender, receiver) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Notify::new());
        (
            Self {
                sender,
                waiting: waiting.clone(),
            },
            AuditWriter {
                receiver,
                waiting,
                store,
            },
        )
    }

    /// Queues a record; returns once it is queued, not when it is committed.
    pub async fn record(&self, record: AuditRecord) {
        static XP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        if *XP.get_or_init(|| std::env::var_os("XP_NO_AUDIT").is_some()) {
            return;
        }
        let item = Item { record, done: None };
        // The common case needs no waiting, so it skips the future a full queue needs.
        let item = match self.sender.try_send(item) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(item)) => item,
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("audit writer stopped; an audit record was not written");
                return;
            }
        };
        if self.sender.send(item).await.is_err() {
            tracing::error!("audit writer stopped; an audit record was not written");
        }
    }

    /// Appends a record and waits until it is committed.
    pub async fn record_committed(&self, record: AuditRecord) -> anyhow::Result<()> {
        let (done, committed) = oneshot::channel();
        self.sender
            .send(Item {
                record,
                done: Some(done),
            })
            .await
            .map_err(|_| anyhow::anyhow!("the audit writer has stopped"))?;
        self.waiting.notify_one();
        committed
            .await
            .map_err(|_| anyhow::anyhow!("the audit writer has stopped"))?
            .map_err(|e| anyhow::anyhow!("audit append failed: {e}"))
    }
}

impl AuditWriter {
    /// Appends batches until cancelled and the queue is drained.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let received = tokio::select! {
                biased;
                n = self.receiver.recv_many(&mut batch, BATCH) => n,
                () = cancel.cancelled() => {
                    self.receiver.close();
                    self.receiver.recv_many(&mut batch, BATCH).await
                }
            };
            if received == 0 {
                break;
            }
            self.gather(&mut batch, &cancel).await;
            self.write(&mut batch).await;
        }
    }

    /// Lets more records join `batch` for up to [`LINGER`]; returns at once when the batch
    /// is full, a caller waits for its commit, or the writer is stopping.
    async fn gather(&mut self, batch: &mut Vec<Item>, cancel: &CancellationToken) {
        static XP: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let xp = *XP.get_or_init(|| std::env::var_os("XP_NO_LINGER").is_some());
        if xp || batch.iter().any(|item| item.done.is_some()) || cancel.is_cancelled() {
            return;
        }
        // Sleeping rather than receiving: senders then find no waiting receiver to wake, so a
        // busy server does not wake this task once per request.
        tokio::select! {
            biased;
            () = cancel.cancelled() => {}
            () = self.waiting.notified() => {}
            () = tokio::time::sleep(LINGER) => {}
        }
        while batch.len() < BATCH {
            match self.receiver.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
    }

    async fn write(&self, batch: &mut Vec<Item>) {
        let (records, waiting): (Vec<AuditRecord>, Vec<_>) =
            batch.drain(..).map(|item| (item.record, item.done)).unzip();
        let xp_started = std::time::Instant::now();
        let mut result = self.store.append_audit(&records).await;
        {
            use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
            static B: AtomicU64 = AtomicU64::new(0);
            static R: AtomicU64 = AtomicU64::new(0);
            static T: AtomicU64 = AtomicU64::new(0);
            let b = B.fetch_add(1, Relaxed) + 1;
            let r = R.fetch_add(records.len() as u64, Relaxed) + records.len() as u64;
            let t = T.fetch_add(xp_started.elapsed().as_micros() as u64, Relaxed) + xp_started.elapsed().as_micros() as u64;
            if b % 500 == 0 && std::env::var_os("XP_TIMING").is_some() {
                eprintln!("XP audit: {b} batches, {r} rows, {} rows/batch, {} us/batch, {:.1} us/row", r / b, t / b, t as f64 / r as f64);
            }
        }
        if result.is_err() {
            // One retry after a short pause covers a blip; a lasting outage is logged.
            tokio::time::sleep(Duration::from_millis(200)).await;
            result = self.store.append_audit(&records).await;
        }
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::error!(error = %chain(err), lost = records.len(), "audit append failed");
                Err(err.to_string())
            }
        };
        for done in waiting.into_iter().flatten() {
            let _ = done.send(outcome.clone());
        }
    }
}
