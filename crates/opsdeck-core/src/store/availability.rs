//! Whether opsdeck's own database is reachable, as this process last found it: the circuit
//! breaker that lets every caller fail at once during an outage instead of each waiting for
//! a pool timeout. A store trips it when a call finds the database unreachable; a background
//! probe (which alone still reaches the database while it is tripped) closes it again.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, Utc};

/// The database's reachability as this process knows it; see the module documentation.
#[derive(Debug, Default)]
pub struct Availability {
    down: AtomicBool,
    times: Mutex<Times>,
}

#[derive(Debug, Default, Clone, Copy)]
struct Times {
    /// When the current outage was first noticed.
    down_since: Option<DateTime<Utc>>,
    /// The last time the database answered.
    last_answer: Option<DateTime<Utc>>,
}

/// What an outage looked like when it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    pub down_since: DateTime<Utc>,
    pub at: DateTime<Utc>,
}

/// The error a store hands back while the breaker is open.
#[derive(Debug, thiserror::Error)]
#[error(
    "opsdeck's database has been unreachable since {since}; calls fail at once until it answers again"
)]
pub struct Outage {
    pub since: DateTime<Utc>,
}

impl Availability {
    fn times(&self) -> std::sync::MutexGuard<'_, Times> {
        self.times.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether calls should fail at once: an outage is under way.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// When the current outage began, `None` while the database answers.
    pub fn down_since(&self) -> Option<DateTime<Utc>> {
        if !self.is_down() {
            return None;
        }
        self.times().down_since
    }

    /// The last time the database answered a call.
    pub fn last_answer(&self) -> Option<DateTime<Utc>> {
        self.times().last_answer
    }

    /// The error for a call refused during an outage; `None` when there is none.
    pub fn refusal(&self) -> Option<Outage> {
        self.down_since().map(|since| Outage { since })
    }

    /// Records that a call found the database unreachable at `now`. Returns `true` when this
    /// began an outage.
    pub fn tripped(&self, now: DateTime<Utc>) -> bool {
        let mut times = self.times();
        if self.down.swap(true, Ordering::AcqRel) {
            return false;
        }
        times.down_since = Some(now);
        true
    }

    /// Records that the database answered at `now`; returns the outage this ended, if any.
    pub fn answered(&self, now: DateTime<Utc>) -> Option<Recovered> {
        let mut times = self.times();
        times.last_answer = Some(now);
        if !self.down.swap(false, Ordering::AcqRel) {
            return None;
        }
        times.down_since.take().map(|down_since| Recovered {
            down_since,
            at: now,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trips_once_and_recovers_once() {
        let availability = Availability::default();
        let t0 = Utc::now();
        assert!(!availability.is_down());
        assert!(availability.refusal().is_none());
        assert!(availability.tripped(t0));
        assert!(!availability.tripped(t0 + chrono::Duration::seconds(1)));
        assert_eq!(availability.down_since(), Some(t0));
        assert!(availability.refusal().is_some());
        let at = t0 + chrono::Duration::seconds(5);
        assert_eq!(
            availability.answered(at),
            Some(Recovered { down_since: t0, at })
        );
        assert!(!availability.is_down());
        assert_eq!(availability.answered(at), None);
        assert_eq!(availability.last_answer(), Some(at));
    }
}
