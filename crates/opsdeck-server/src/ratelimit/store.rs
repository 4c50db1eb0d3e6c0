//! The state behind every limiter: governor's GCRA state (one theoretical arrival time per
//! key, in nanoseconds since the limiter started, `0` for none) in a `DashMap`, as in
//! governor's own store, plus a dry run. A [`Probe`] with `dry_run` set asks "would one more
//! cell conform now?" without spending it and without adding the key. governor has no call
//! for that, and the failed-authentication gate needs it: it must look before a credential
//! is checked, and charge only when the credential turns out to be bad.

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use governor::nanos::Nanos;
use governor::state::StateStore;
use governor::state::keyed::ShrinkableKeyedStateStore;

/// A key as the limiter sees it: the caller's key, and whether to only look.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Probe<K> {
    pub(super) key: K,
    pub(super) dry_run: bool,
}

impl<K> Probe<K> {
    pub(super) fn spend(key: K) -> Self {
        Self {
            key,
            dry_run: false,
        }
    }

    pub(super) fn look(key: K) -> Self {
        Self { key, dry_run: true }
    }
}

#[derive(Debug)]
pub(super) struct Store<K: Eq + Hash> {
    cells: DashMap<K, AtomicU64>,
}

impl<K: Eq + Hash> Default for Store<K> {
    fn default() -> Self {
        Self {
            cells: DashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Clone> StateStore for Store<K> {
    type Key = Probe<K>;

    fn measure_and_replace<T, F, E>(&self, probe: &Probe<K>, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        if probe.dry_run {
            let tat = self
                .cells
                .get(&probe.key)
                .and_then(|cell| stored(cell.load(Ordering::Acquire)));
            return f(tat).map(|(result, _)| result);
        }
        if let Some(cell) = self.cells.get(&probe.key) {
            return replace(&cell, f);
        }
        let cell = self.cells.entry(probe.key.clone()).or_default();
        replace(&cell, f)
    }
}

impl<K: Hash + Eq + Clone> ShrinkableKeyedStateStore<Probe<K>> for Store<K> {
    fn retain_recent(&self, drop_below: Nanos) {
        let drop_below = drop_below.as_u64();
        self.cells
            .retain(|_, cell| cell.load(Ordering::Relaxed) > drop_below);
    }

    fn shrink_to_fit(&self) {
        self.cells.shrink_to_fit();
    }

    fn len(&self) -> usize {
        self.cells.len()
    }

    fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
}

fn stored(raw: u64) -> Option<Nanos> {
    (raw != 0).then(|| Nanos::new(raw))
}

/// governor's compare-and-swap loop: when another request changed the cell between the
/// measurement and the swap, measure again from what it holds now.
fn replace<T, E>(
    cell: &AtomicU64,
    f: impl Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
) -> Result<T, E> {
    let mut prev = cell.load(Ordering::Acquire);
    loop {
        let (result, next) = f(stored(prev))?;
        match cell.compare_exchange_weak(prev, next.as_u64(), Ordering::Release, Ordering::Relaxed)
        {
            Ok(_) => return Ok(result),
            Err(current) => prev = current,
        }
    }
}
