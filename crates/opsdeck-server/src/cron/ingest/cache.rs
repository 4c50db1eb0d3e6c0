//! The writer's memory of the monitors it pings: spec, state and the version they were
//! stored at, by slug. Owned by the writer task alone, so it needs no lock.
//!
//! An entry may be stale (another writer changed the monitor since): that costs a conflict
//! and a fresh read, never a wrong write, because every write names the version it was
//! computed from. Only monitors that exist are kept: an unknown slug is read from the
//! store every time, so a monitor created elsewhere is seen at once.

use std::collections::HashMap;
use std::sync::Arc;

use opsdeck_core::cron::{MonitorRecord, MonitorSpec, MonitorState};
use opsdeck_core::ids::Slug;

/// Monitors kept at most. Past it the cache starts over: a replica pinged for more
/// monitors than this between two batches reads some of them again, nothing worse.
const CAPACITY: usize = 20_000;

/// What a step needs of a stored monitor.
#[derive(Debug, Clone)]
pub(super) struct Known {
    /// Shared, so a batch does not copy schedules and windows per ping.
    pub spec: Arc<MonitorSpec>,
    pub state: MonitorState,
    pub version: u64,
}

impl From<MonitorRecord> for Known {
    fn from(record: MonitorRecord) -> Self {
        Self {
            spec: Arc::new(record.spec),
            state: record.state,
            version: record.version,
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct MonitorCache {
    monitors: HashMap<Slug, Known>,
}

impl MonitorCache {
    pub fn get(&self, slug: &Slug) -> Option<&Known> {
        self.monitors.get(slug)
    }

    pub fn put(&mut self, slug: Slug, known: Known) {
        if self.monitors.len() >= CAPACITY && !self.monitors.contains_key(&slug) {
            self.monitors.clear();
        }
        self.monitors.insert(slug, known);
    }

    pub fn forget(&mut self, slug: &Slug) {
        self.monitors.remove(slug);
    }
}
