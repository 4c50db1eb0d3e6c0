//! Group commit, the machinery shared by the writers that acknowledge only what they have
//! committed (pings and check-ins, application events): handlers queue jobs on a bounded
//! channel and wait for their answer; one writer per replica takes whatever has queued up
//! (up to a batch), commits it with one transaction and answers every waiter. One fsync
//! then serves hundreds of requests.
//!
//! The writer runs on a thread of its own ([`spawn`]). It waits on the database once per
//! statement, and each wait ends with a wake-up; on a runtime worker that wake-up queues
//! behind every ready request (on a busy server, dozens), which made each statement cost
//! some 100 µs of waiting and capped ingest at a few thousand requests a second. On its own
//! thread the writer runs the moment its statement is done. It still uses the
//! application's runtime (its timers, its I/O driver, its connection pool), through its
//! handle.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// What a writer does with each batch: commit it and answer every job of it (on failure
/// too: a job dropped unanswered reads as "not recorded").
pub(crate) trait Committer: Send + 'static {
    type Job: Send + 'static;

    fn commit(&mut self, jobs: Vec<Self::Job>) -> impl Future<Output = ()>;
}

/// How long a request waits for its job to be committed before it is answered 503: a
/// database that is down or stalled must not hold ingest clients (SPEC §8: within a second).
/// A job answered so may still be committed later; it was not acknowledged, so the client's
/// retry is what counts.
pub(crate) const ANSWER_WITHIN: Duration = Duration::from_millis(900);

/// Queues `job` (made with the reply channel) and waits for its answer for at most
/// [`ANSWER_WITHIN`] in all; `None` when it was not answered in time, the queue stayed full,
/// or the writer stopped without answering: in every case, not acknowledged.
pub(crate) async fn submit<J, T>(
    sender: &mpsc::Sender<J>,
    job: impl FnOnce(oneshot::Sender<T>) -> J,
) -> Option<T> {
    let (reply, answer) = oneshot::channel();
    let job = job(reply);
    tokio::time::timeout(ANSWER_WITHIN, async move {
        sender.send(job).await.ok()?;
        answer.await.ok()
    })
    .await
    .ok()
    .flatten()
}

/// Longest one batch may take to commit: past it the batch is abandoned (its waiters, long
/// since answered 503, are dropped; the transaction is rolled back with its connection, or
/// committed unacknowledged), so a connection that hangs cannot stop the writer for good.
const COMMIT_WITHIN: Duration = Duration::from_secs(30);

/// Commits batches of at most `batch_max` jobs until cancelled, then refuses new jobs and
/// commits what is still queued, so every job that was queued is answered.
pub(crate) async fn run<C: Committer>(
    mut receiver: mpsc::Receiver<C::Job>,
    mut committer: C,
    batch_max: usize,
    cancel: CancellationToken,
) {
    let batch_max = batch_max.max(1);
    let mut jobs = Vec::with_capacity(batch_max);
    loop {
        let received = tokio::select! {
            biased;
            n = receiver.recv_many(&mut jobs, batch_max) => n,
            () = cancel.cancelled() => {
                receiver.close();
                receiver.recv_many(&mut jobs, batch_max).await
            }
        };
        if received == 0 {
            break;
        }
        let batch = std::mem::take(&mut jobs);
        if tokio::time::timeout(COMMIT_WITHIN, committer.commit(batch))
            .await
            .is_err()
        {
            tracing::error!(
                timeout_s = COMMIT_WITHIN.as_secs(),
                "a group commit hung and was abandoned; its requests were not acknowledged"
            );
        }
    }
}

/// Runs [`run`] on a thread named `name`, on the current runtime; the task returned ends
/// with it. `what` names the writer in the error logged if it cannot start or stops
/// abnormally.
pub(crate) fn spawn<C: Committer>(
    name: &str,
    what: &'static str,
    receiver: mpsc::Receiver<C::Job>,
    committer: C,
    batch_max: usize,
    cancel: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let runtime = tokio::runtime::Handle::current();
    let (done, finished) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            runtime.block_on(run(receiver, committer, batch_max, cancel));
            let _ = done.send(());
        });
    if let Err(err) = thread {
        tracing::error!(
            error = %err,
            writer = what,
            "a group-commit writer could not start: its requests will be answered 503"
        );
    }
    tokio::spawn(async move {
        if finished.await.is_err() {
            tracing::error!(writer = what, "a group-commit writer stopped abnormally");
        }
    })
}
