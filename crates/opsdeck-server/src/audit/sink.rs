//! The audit writer: a bounded channel drained by one task that appends what has queued up
//! in one batch. A full channel makes callers wait (back-pressure) rather than drop entries.
//!
//! Every transaction has a fixed cost besides its rows: taking the chain's lock (SQLite's
//! write lock, PostgreSQL's advisory lock, for which replicas queue), reading the head, and
//! committing, which on SQLite writes each touched table and index page to the WAL again. So
//! the writer lets a batch gather for [`LINGER`] before writing it: under load one transaction
//! then carries hundreds of entries instead of a few dozen. Nobody waits for that: a request
//! only queues its entry. A caller that does wait for its entry to be committed (an action
//! that changes state) cuts the lingering short.
//!
//! While the database is unreachable, records nobody waits for go to the [`Spool`] (SPEC §8)
//! and are appended, in order and before anything newer, once it answers again; a record
//! whose caller waits for its commit is answered with the failure instead (its action does
//! not run, so there is nothing to spool).

use std::sync::Arc;
use std::time::Duration;

use opsdeck_core::audit::AuditRecord;
use opsdeck_core::{Store, StoreError};
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::spool::Spool;
use crate::error::chain;

/// Entries queued at most before callers wait for the writer.
const QUEUE: usize = 8192;
/// Entries appended at most in one transaction.
const BATCH: usize = 2048;
/// How long the writer lets a batch gather before writing it, unless a caller is waiting for
/// a commit. Short against the background loops' seconds and a reader of the log, long
/// against a request's microseconds: every commit writes the last, partly filled page of the
/// table and of each index again, so under load fewer, larger batches write far less.
const LINGER: Duration = Duration::from_millis(20);
/// Longest one append may take: past it the database counts as unreachable and the batch is
/// spooled, so a connection that hangs (a stalled network) cannot hold the writer, and with
/// it every request once the queue is full.
const APPEND_WITHIN: Duration = Duration::from_secs(10);
/// How often spooled records are offered to the database again when nothing new arrives.
const SPOOL_RETRY: Duration = Duration::from_millis(500);

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
    /// Where records go while the database is unreachable; `None`: they are logged as lost.
    spool: Option<Spool>,
}

impl AuditSink {
    pub fn new(store: Arc<dyn Store>, spool: Option<Spool>) -> (Self, AuditWriter) {
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
                spool,
            },
        )
    }

    /// Queues a record; returns once it is queued, not when it is committed.
    pub async fn record(&self, record: AuditRecord) {
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
        // What an earlier process spooled goes first.
        self.drain_spool().await;
        loop {
            let spooled = self.spooled() > 0;
            let received = tokio::select! {
                biased;
                n = self.receiver.recv_many(&mut batch, BATCH) => Some(n),
                () = cancel.cancelled() => {
                    self.receiver.close();
                    Some(self.receiver.recv_many(&mut batch, BATCH).await)
                }
                () = tokio::time::sleep(SPOOL_RETRY), if spooled => None,
            };
            let Some(received) = received else {
                self.drain_spool().await;
                continue;
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
        if batch.len() >= BATCH
            || batch.iter().any(|item| item.done.is_some())
            || cancel.is_cancelled()
        {
            return;
        }
        // Sleeping rather than receiving, so requests queueing meanwhile do not wake this task
        // one by one; what they queued is collected afterwards.
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

    async fn write(&mut self, batch: &mut Vec<Item>) {
        let (records, waiting): (Vec<AuditRecord>, Vec<_>) =
            batch.drain(..).map(|item| (item.record, item.done)).unzip();
        if self.spooled() > 0 {
            self.drain_spool().await;
        }
        let result = if self.spooled() > 0 {
            // Still unreachable: newer records must not overtake the spooled ones.
            Err(StoreError::Unavailable("audit records are spooled".into()))
        } else {
            self.append(&records).await
        };
        let outcome = match &result {
            Ok(()) => Ok(()),
            Err(err) => Err(err.to_string()),
        };
        let waited: Vec<bool> = waiting.iter().map(Option::is_some).collect();
        for done in waiting.into_iter().flatten() {
            let _ = done.send(outcome.clone());
        }
        let Err(err) = result else {
            return;
        };
        // Records whose callers were told it failed are dropped: their actions do not run.
        let unwaited: Vec<AuditRecord> = records
            .into_iter()
            .zip(waited)
            .filter_map(|(record, waited)| (!waited).then_some(record))
            .collect();
        if unwaited.is_empty() {
            return;
        }
        match (&err, self.spool.as_mut()) {
            (StoreError::Unavailable(_), Some(spool)) => {
                if let Err(io) = spool.append(&unwaited) {
                    tracing::error!(error = %io, lost = unwaited.len(), "audit spool write failed");
                } else if spool.pending() == unwaited.len() {
                    tracing::warn!(
                        "opsdeck's database is unreachable: audit records are spooled to disk until it answers"
                    );
                }
            }
            _ => {
                tracing::error!(error = %chain(&err), lost = unwaited.len(), "audit append failed");
            }
        }
    }

    /// Appends `records`, with one retry after a short pause for a blip; none when the
    /// database is known to be down.
    async fn append(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        let mut result = self.append_once(records).await;
        if result.is_err() && !self.store.availability().is_down() {
            tokio::time::sleep(Duration::from_millis(200)).await;
            result = self.append_once(records).await;
        }
        result
    }

    async fn append_once(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        match tokio::time::timeout(APPEND_WITHIN, self.store.append_audit(records)).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(StoreError::Unavailable(
                format!("appending to the audit log took over {APPEND_WITHIN:?}").into(),
            )),
        }
    }

    fn spooled(&self) -> usize {
        self.spool.as_ref().map_or(0, Spool::pending)
    }

    /// Appends what is spooled, oldest first, in batches; empties the spool when all of it
    /// is in the log, or rewrites it with what is left when the database fails again.
    async fn drain_spool(&mut self) {
        if self.spooled() == 0 || self.store.availability().is_down() {
            return;
        }
        let Some(spool) = self.spool.as_mut() else {
            return;
        };
        let records = match spool.records() {
            Ok(records) => records,
            Err(err) => {
                tracing::error!(error = %err, "the audit spool cannot be read");
                return;
            }
        };
        let mut appended = 0;
        for chunk in records.chunks(BATCH) {
            if let Err(err) = self.append_once(chunk).await {
                tracing::warn!(error = %chain(&err), left = records.len() - appended, "replaying the audit spool failed; retrying");
                let Some(spool) = self.spool.as_mut() else {
                    return;
                };
                if let Err(io) = spool.replace(&records[appended..]) {
                    tracing::error!(error = %io, "the audit spool could not be rewritten");
                }
                return;
            }
            appended += chunk.len();
        }
        let Some(spool) = self.spool.as_mut() else {
            return;
        };
        match spool.clear() {
            Ok(()) => tracing::info!(
                appended,
                "audit records spooled during the outage are in the log"
            ),
            Err(io) => {
                tracing::error!(error = %io, "the audit spool could not be emptied; its records would be appended again")
            }
        }
    }
}
