//! Unit tests of cron monitoring. Time is whatever the test says: every step takes `now`,
//! so nothing sleeps. [`Sim`] plays the store: it applies each [`Outcome`] the way the
//! server would (rows by run id, logs appended) so tests read as a monitor's history.

mod apply;
mod dst;
mod evaluate;
mod headline;
mod patch;
mod ping;
mod proptests;
mod run;
mod schedule;
mod spec;
mod thresholds;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::ids::*;

/// A Monday, ten in the morning, UTC.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap()
}

pub(crate) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

pub(crate) const fn mins(n: u64) -> Duration {
    Duration::from_secs(n * 60)
}

pub(crate) const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// `t0()` plus `n` minutes.
pub(crate) fn at_min(n: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::minutes(n)
}

pub(crate) fn slug() -> Slug {
    Slug::parse("backup").unwrap()
}

pub(crate) fn spec_with(schedule: Schedule, settings: MonitorSettings) -> MonitorSpec {
    let name = MonitorName::parse("Nightly backup").unwrap();
    MonitorSpec::new(slug(), name, schedule, settings).unwrap()
}

/// Hourly at minute 0, UTC, 5 minutes' grace.
pub(crate) fn hourly(settings: MonitorSettings) -> MonitorSpec {
    spec_with(Schedule::cron("0 * * * *", None).unwrap(), settings)
}

pub(crate) fn ping(kind: PingKind) -> Ping {
    Ping::new(kind, RunSource::Ping)
}

/// A monitor and a pretend store.
#[derive(Debug)]
pub(crate) struct Sim {
    pub spec: MonitorSpec,
    pub state: MonitorState,
    pub runs: BTreeMap<Uuid, Run>,
    pub logs: BTreeMap<Uuid, String>,
    pub alerts: Vec<AlertIntent>,
    pub transitions: Vec<Transition>,
}

impl Sim {
    pub fn new(spec: MonitorSpec) -> Self {
        Self {
            spec,
            state: MonitorState::default(),
            runs: BTreeMap::new(),
            logs: BTreeMap::new(),
            alerts: Vec::new(),
            transitions: Vec::new(),
        }
    }

    fn apply(&mut self, outcome: Outcome) -> Outcome {
        for run in &outcome.runs {
            self.runs.insert(run.run_id, run.clone());
        }
        for log in &outcome.logs {
            let stored = self.logs.entry(log.run_id).or_default();
            *stored = append_log(stored, &log.text);
        }
        self.alerts.extend(outcome.alert.clone());
        self.transitions.extend(outcome.transition);
        outcome
    }

    pub fn ping(&mut self, ping: Ping, now: DateTime<Utc>) -> Outcome {
        let outcome = apply_ping(&self.spec, &mut self.state, &ping, now);
        self.apply(outcome)
    }

    pub fn send(&mut self, kind: PingKind, now: DateTime<Utc>) -> Outcome {
        self.ping(ping(kind), now)
    }

    pub fn tick(&mut self, now: DateTime<Utc>) -> Outcome {
        self.tick_blind(now, &[])
    }

    pub fn tick_blind(&mut self, now: DateTime<Utc>, outages: &[Outage]) -> Outcome {
        let outcome = evaluate(&self.spec, &mut self.state, now, outages);
        self.apply(outcome)
    }

    /// Evaluates every `step` from `from` to `until`, as the background loop would.
    pub fn run_clock(&mut self, from: DateTime<Utc>, until: DateTime<Utc>, step: Duration) {
        let step = chrono::Duration::from_std(step).unwrap();
        let mut now = from;
        while now <= until {
            self.tick(now);
            now += step;
        }
    }

    pub fn with_status(&self, status: RunStatus) -> Vec<&Run> {
        self.runs.values().filter(|r| r.status == status).collect()
    }

    pub fn only(&self, status: RunStatus) -> &Run {
        let runs = self.with_status(status);
        assert_eq!(runs.len(), 1, "one {status} run expected: {:#?}", self.runs);
        runs[0]
    }
}
