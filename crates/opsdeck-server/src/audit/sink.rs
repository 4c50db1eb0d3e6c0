//! The audit writer: a bounded channel drained by one task that appends what has queued up
//! in one batch. A full channel makes callers wait (back-pressure) rather than drop entries.

use std::sync::Arc;

use opsdeck_core::Store;
use opsdeck_core::audit::AuditRecord;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::error::chain;

const QUEUE: usize = 4096;
const BATCH: usize = 256;

struct Item {
    record: AuditRecord,
    done: Option<oneshot::Sender<Result<(), String>>>,
}

/// The handle requests use to append audit records.
#[derive(Clone, Debug)]
pub struct AuditSink {
    sender: mpsc::Sender<Item>,
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
    store: Arc<dyn Store>,
}

impl AuditSink {
    pub fn new(store: Arc<dyn Store>) -> (Self, AuditWriter) {
        let (sender, receiver) = mpsc::channel(QUEUE);
        (Self { sender }, AuditWriter { receiver, store })
    }

    /// Queues a record; returns once it is queued, not when it is committed.
    pub async fn record(&self, record: AuditRecord) {
        if self.sender.send(Item { record, done: None }).await.is_err() {
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
            self.write(&mut batch).await;
        }
    }

    async fn write(&self, batch: &mut Vec<Item>) {
        let records: Vec<AuditRecord> = batch.iter().map(|i| i.record.clone()).collect();
        let mut result = self.store.append_audit(&records).await;
        if result.is_err() {
            // One retry after a short pause covers a blip; a lasting outage is logged.
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            result = self.store.append_audit(&records).await;
        }
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(err) => {
                tracing::error!(error = %chain(err), lost = records.len(), "audit append failed");
                Err(err.to_string())
            }
        };
        for item in batch.drain(..) {
            if let Some(done) = item.done {
                let _ = done.send(outcome.clone());
            }
        }
    }
}
