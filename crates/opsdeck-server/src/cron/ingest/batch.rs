//! The pure part of a group commit: sorting a batch by monitor and applying each monitor's
//! pings, in arrival order, into one state write.
//!
//! One write per monitor, not one per ping: the store could chain several writes of one
//! monitor in a transaction (each naming the version the previous one makes), but when the
//! first of them conflicts, a later one may find exactly the version it names and commit a
//! state computed from the stale one. Merged, a monitor's pings commit or conflict together,
//! and the monitor's row is written once however many pings it got.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use opsdeck_core::cron::{AlertIntent, Outcome, StateWrite, Transition, apply_ping};
use opsdeck_core::ids::Slug;
use uuid::Uuid;

use super::cache::Known;
use super::{Accepted, IngestError, Job};

/// One ping in the writer's hands.
#[derive(Debug)]
pub(super) struct Item {
    pub job: Job,
    /// Its time for the domain: its arrival, never before an earlier ping's.
    pub now: DateTime<Utc>,
    /// This ping created the monitor (kept across retries).
    pub created: bool,
}

impl Item {
    pub fn answer(self, result: Result<Accepted, IngestError>) {
        // The waiter may be gone (client disconnected): the ping counts all the same.
        let _ = self.job.reply.send(result);
    }
}

/// The pings of one monitor in a batch, in arrival order.
#[derive(Debug)]
pub(super) struct Group {
    pub slug: Slug,
    pub items: Vec<Item>,
}

/// Sorts `items` by monitor, monitors in the order of their first ping.
pub(super) fn group(items: Vec<Item>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    let mut index: HashMap<Slug, usize> = HashMap::new();
    for item in items {
        let slug = &item.job.request.slug;
        match index.get(slug) {
            Some(&at) => groups[at].items.push(item),
            None => {
                index.insert(slug.clone(), groups.len());
                groups.push(Group {
                    slug: slug.clone(),
                    items: vec![item],
                });
            }
        }
    }
    groups
}

/// A ping applied, waiting for its commit.
#[derive(Debug)]
pub(super) struct Applied {
    pub item: Item,
    pub alert: Option<AlertIntent>,
    pub run_id: Option<Uuid>,
}

/// Applies `items` (all of one monitor, in arrival order, not empty) to `known`: the one
/// write that commits them all, and each ping's alert and run.
pub(super) fn apply(slug: Slug, known: &Known, items: Vec<Item>) -> (StateWrite, Vec<Applied>) {
    let mut state = known.state.clone();
    let mut merged = Outcome::default();
    let mut applied = Vec::with_capacity(items.len());
    let mut now = items.first().map_or_else(Utc::now, |item| item.now);
    for item in items {
        now = item.now;
        let mut outcome = apply_ping(&known.spec, &mut state, &item.job.request.ping, now);
        let run_id = (outcome.runs.last().map(|run| run.run_id))
            .or_else(|| outcome.logs.last().map(|log| log.run_id));
        let alert = outcome.alert.take();
        merge(&mut merged, outcome);
        applied.push(Applied {
            item,
            alert,
            run_id,
        });
    }
    let write = StateWrite {
        slug,
        version: known.version,
        next_check_at: state.next_check_at(&known.spec, now),
        state,
        outcome: merged,
        now,
    };
    (write, applied)
}

/// Appends the outcome of a later ping of the same monitor. A run written twice is written
/// once, as last written, and moves to the end: the store takes the last run with a
/// verdict as the monitor's latest. Logs keep their order; they are appended after every
/// run is written, so a log may name a run this very write creates. The transition spans
/// both (its `at` is what the store keeps); alerts are not merged but kept per ping.
fn merge(into: &mut Outcome, next: Outcome) {
    for run in next.runs {
        if let Some(at) = into.runs.iter().position(|r| r.run_id == run.run_id) {
            into.runs.remove(at);
        }
        into.runs.push(run);
    }
    into.logs.extend(next.logs);
    if let Some(later) = next.transition {
        into.transition = Some(match into.transition {
            Some(first) => Transition {
                from: first.from,
                ..later
            },
            None => later,
        });
    }
}
