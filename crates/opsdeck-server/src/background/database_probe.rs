//! Watches opsdeck's own database (SPEC §8): one ping a second while it answers, four a second
//! while it does not. A ping that fails, or two in a row that take longer than
//! [`PROBE_TIMEOUT`] (one slow ping may be a busy pool, not an outage), open the store's
//! breaker, so every request fails (or is served from memory) at once instead of waiting for
//! a connection; the first ping that answers closes it again. The ping is the one call the
//! breaker lets through.

use std::sync::Arc;
use std::time::Duration;

use opsdeck_core::Store;
use tokio_util::sync::CancellationToken;

/// A ping slower than this counts as an outage: a database this slow cannot serve pages.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// Between pings while the database answers.
const UP_EVERY: Duration = Duration::from_secs(1);
/// Between pings during an outage: recovery is noticed within this and a ping.
const DOWN_EVERY: Duration = Duration::from_millis(250);

/// Pings until cancelled; see the module documentation.
pub async fn run(store: Arc<dyn Store>, cancel: CancellationToken) {
    let mut slow_in_a_row = 0;
    loop {
        let every = if store.availability().is_down() {
            DOWN_EVERY
        } else {
            UP_EVERY
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(every) => {}
        }
        let pinged = tokio::select! {
            () = cancel.cancelled() => return,
            pinged = tokio::time::timeout(PROBE_TIMEOUT, store.ping()) => pinged,
        };
        // A failed ping has opened the breaker itself; a hung one is opened here.
        slow_in_a_row = if pinged.is_err() {
            slow_in_a_row + 1
        } else {
            0
        };
        if slow_in_a_row >= 2 && store.availability().tripped(chrono::Utc::now()) {
            tracing::error!(
                timeout_ms = PROBE_TIMEOUT.as_millis() as u64,
                "opsdeck's database does not answer in time; calls fail at once until it does"
            );
        }
    }
}
