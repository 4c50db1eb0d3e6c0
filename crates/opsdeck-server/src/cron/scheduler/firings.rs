//! The HTTP cron job firings in flight on this replica, which shutdown waits for. They live
//! in the [`AppState`](crate::state::AppState): triggers come through handlers and
//! shutdown through [`crate::Application`].

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TaskTrackerToken;

/// How long shutdown waits, once the calls still going at its deadline are abandoned, for
/// their runs to be recorded as failed: one commit of the ping writer.
const RECORD_WAIT: Duration = Duration::from_secs(5);

/// The HTTP cron job firings in flight on this replica, the scheduler's and the operators'
/// triggers: each is [`Firings::admit`]ted before its run starts, and shutdown
/// [`Firings::drain`]s them before the ping writer stops, so every run that started also
/// has its end recorded.
#[derive(Debug, Default)]
pub struct Firings {
    tracker: TaskTracker,
    /// Cancelled when the calls still going at the shutdown deadline are abandoned.
    abandon: CancellationToken,
}

/// A firing [`Firings::admit`]ted: shutdown waits for it until it is dropped.
#[derive(Debug)]
#[must_use = "shutdown waits for the firing only while this is held"]
pub struct Admitted {
    _token: TaskTrackerToken,
}

impl Admitted {
    /// Runs `firing` in a task of its own, which shutdown waits for.
    pub fn spawn(self, firing: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(async move {
            firing.await;
            drop(self);
        });
    }
}

impl Firings {
    /// Admits a firing, or `None` once shutdown has begun to drain: then no run may start.
    pub fn admit(&self) -> Option<Admitted> {
        let token = self.tracker.token();
        // Checked after the token counts: a drain that closes the tracker after this check
        // sees the token and waits for it.
        (!self.tracker.is_closed()).then_some(Admitted { _token: token })
    }

    /// Cancelled when shutdown abandons the calls still going: a firing then stops waiting
    /// for its endpoint and records its run as failed.
    pub fn abandoned(&self) -> &CancellationToken {
        &self.abandon
    }

    /// At shutdown: admits no more firings and waits for those in flight until `deadline`,
    /// then abandons the rest and waits (at most [`RECORD_WAIT`]) for their runs to be
    /// recorded. Call it while the ping writer still commits.
    pub async fn drain(&self, deadline: Instant) {
        self.tracker.close();
        if tokio::time::timeout_at(deadline, self.tracker.wait())
            .await
            .is_ok()
        {
            return;
        }
        tracing::warn!(
            calls = self.tracker.len(),
            "HTTP cron job calls outlasted the shutdown grace: abandoning them, their runs are recorded as failed"
        );
        self.abandon.cancel();
        if tokio::time::timeout(RECORD_WAIT, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::error!(
                calls = self.tracker.len(),
                "could not record how HTTP cron job runs ended before shutdown: they stay running until their max_runtime"
            );
        }
    }
}
