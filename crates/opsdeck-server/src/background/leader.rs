//! Leader election on a lease row in the database. Every replica tries to take or renew the
//! lease every `background.leader_renew_interval()` (a third of its time to live); the
//! holder leads. A leader that dies stops
//! renewing and another replica takes over once the lease expires; a leader that shuts down
//! releases the lease so the takeover is immediate. The same code serves SQLite, where the
//! one process simply always wins.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use opsdeck_core::{Clock, Store};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::error::chain;
use crate::metrics::Metrics;

/// The name of the lease whose holder runs the leader-only loops.
pub const LEADER_LEASE: &str = "leader";

#[derive(Debug)]
pub struct LeaderElector {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    holder: String,
    ttl: Duration,
    renew_every: Duration,
    sender: watch::Sender<bool>,
}

impl LeaderElector {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        holder: String,
        ttl: Duration,
        renew_every: Duration,
    ) -> (Self, watch::Receiver<bool>) {
        let (sender, receiver) = watch::channel(false);
        (
            Self {
                store,
                clock,
                metrics,
                holder,
                ttl,
                renew_every,
                sender,
            },
            receiver,
        )
    }

    fn set(&self, leading: bool) {
        let changed = self.sender.send_if_modified(|current| {
            let changed = *current != leading;
            *current = leading;
            changed
        });
        if changed {
            self.metrics.set_leader(leading);
            if leading {
                tracing::info!(holder = %self.holder, "became leader: leader-only loops run here");
            } else {
                tracing::info!(holder = %self.holder, "no longer leader");
            }
        }
    }

    /// Runs until cancelled, then releases the lease if held.
    pub async fn run(self, cancel: CancellationToken) {
        let renew_every = self.renew_every;
        // When the lease we hold runs out; past it we may no longer act as leader.
        let mut held_until: Option<DateTime<Utc>> = None;
        loop {
            let now = self.clock.now();
            match self
                .store
                .try_acquire_lease(LEADER_LEASE, &self.holder, now, self.ttl)
                .await
            {
                Ok(Some(lease)) => {
                    held_until = Some(lease.expires_at);
                    self.set(true);
                }
                Ok(None) => {
                    held_until = None;
                    self.set(false);
                }
                Err(err) => {
                    tracing::warn!(error = %chain(&err), "leader election: lease renewal failed");
                    // Keep leading only while the lease we hold is surely still ours: stop a
                    // renewal interval before it runs out, so two leaders never overlap.
                    let margin = chrono::Duration::from_std(renew_every).unwrap_or_default();
                    if held_until.is_none_or(|until| self.clock.now() + margin >= until) {
                        held_until = None;
                        self.set(false);
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(renew_every) => {}
            }
        }
        if *self.sender.borrow() {
            self.set(false);
            if let Err(err) = self.store.release_lease(LEADER_LEASE, &self.holder).await {
                tracing::warn!(error = %chain(&err), "leader election: could not release the lease");
            }
        }
    }
}
