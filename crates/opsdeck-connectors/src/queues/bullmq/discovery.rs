//! Which queues a source has. BullMQ keeps no list of its queues; each has a
//! `<prefix>:<queue>:meta` hash. Finding them means a `SCAN` of the whole keyspace (a
//! million jobs are a million keys), so it is done only on the poller's slow polls, whose
//! cadence follows what they cost (opsdeck's share of Redis stays under 1 %), and its
//! result is kept for the polls between. Queues named in `queues` are never scanned for.

use std::collections::BTreeSet;

use opsdeck_core::ids::QueueName;

/// Keys one `SCAN` call looks at: each call stays short, however large the keyspace.
pub(super) const SCAN_COUNT: usize = 1000;

#[derive(Debug)]
pub(super) struct Discovery {
    /// Queues named in the configuration: never scanned for.
    named: Option<Vec<QueueName>>,
    /// The latest scan's queues.
    found: Option<Vec<QueueName>>,
}

impl Discovery {
    pub fn new(named: Option<Vec<QueueName>>) -> Self {
        Self { named, found: None }
    }

    /// The queues to poll, or `None` when a scan is due (none yet, or a slow poll).
    pub fn queues(&self, slow: bool) -> Option<Vec<QueueName>> {
        match (&self.named, &self.found) {
            (Some(named), _) => Some(named.clone()),
            (None, Some(found)) if !slow => Some(found.clone()),
            _ => None,
        }
    }

    pub fn found(&mut self, queues: Vec<QueueName>) {
        self.found = Some(queues);
    }
}

/// The `SCAN MATCH` pattern of `prefix`'s meta keys: glob characters of the prefix escaped.
pub(super) fn meta_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 8);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push_str(":*:meta");
    pattern
}

/// The queue a key found by [`meta_pattern`] is the meta of. A middle part with a `:` is a
/// job's key or another library's, not a queue's.
pub(super) fn queue_of(prefix: &str, key: &str) -> Option<QueueName> {
    let name = key
        .strip_prefix(prefix)?
        .strip_prefix(':')?
        .strip_suffix(":meta")?;
    if name.contains(':') {
        return None;
    }
    QueueName::parse(name).ok()
}

/// The queues of `keys`, once each, in name order.
pub(super) fn queues_of(prefix: &str, keys: &[String]) -> BTreeSet<QueueName> {
    keys.iter()
        .filter_map(|key| queue_of(prefix, key))
        .collect()
}
