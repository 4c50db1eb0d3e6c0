//! Contract tests for cron storage, on both backends, and what they share: monitors in
//! `monitors.rs`, their list a page at a time with counts in `listing.rs`, committing steps in `apply.rs` and `writers.rs`, runs in `runs.rs`, slot
//! claims and outages in `guard.rs`. Times are whole seconds, so both backends keep them
//! exactly.

mod apply;
mod guard;
mod listing;
mod monitors;
mod runs;
mod writers;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::Store;
use opsdeck_core::cron::{
    MaintenanceWindow, MonitorRecord, MonitorSettings, MonitorSource, MonitorSpec, MonitorState,
    MonitorStatus, Outcome, Run, RunSource, RunStatus, Schedule, StateWrite,
};
use opsdeck_core::ids::{MonitorName, Slug, Tags, TenantId};
use uuid::Uuid;

/// A Monday, ten in the morning, UTC, plus `seconds`.
pub(super) fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

pub(super) fn slug(text: &str) -> Slug {
    Slug::parse(text).unwrap()
}

/// Hourly at minute 0, UTC, default settings, named after its slug.
pub(super) fn spec(text: &str) -> MonitorSpec {
    MonitorSpec::auto_created(slug(text))
        .rebuilt(Schedule::cron("0 * * * *", None).unwrap(), |_| {})
}

/// Every setting away from its default.
pub(super) fn full_spec(text: &str) -> MonitorSpec {
    spec(text).rebuilt(
        Schedule::cron("30 2 * * 1-5", Some("Europe/Berlin")).unwrap(),
        |s| {
            s.grace = Duration::from_secs(120);
            s.max_runtime = Some(Duration::from_secs(1800));
            s.min_runtime = Some(Duration::from_secs(10));
            s.failure_threshold = 3;
            s.recovery_threshold = 2;
            s.maintenance = vec![
                MaintenanceWindow::new(
                    "0 3 * * 0",
                    Some("Europe/Berlin"),
                    Duration::from_secs(3600),
                )
                .unwrap(),
            ];
            s.tags = Tags::parse(["team:billing", "env=prod"]).unwrap();
            s.tenant_id = Some(TenantId::parse("acme").unwrap());
        },
    )
}

/// Builds specs from others, as a PATCH would.
pub(super) trait Rebuild {
    fn rebuilt(&self, schedule: Schedule, change: impl FnOnce(&mut MonitorSettings)) -> Self;
}

impl Rebuild for MonitorSpec {
    fn rebuilt(&self, schedule: Schedule, change: impl FnOnce(&mut MonitorSettings)) -> Self {
        let mut settings = self.settings().clone();
        change(&mut settings);
        let name = MonitorName::parse(self.slug().as_str()).unwrap();
        MonitorSpec::new(self.slug().clone(), name, schedule, settings).unwrap()
    }
}

pub(super) async fn create(store: &Arc<dyn Store>, spec: &MonitorSpec) -> MonitorRecord {
    store
        .create_monitor(spec, MonitorSource::Api, at(0))
        .await
        .unwrap()
}

/// A run with every time at `seconds`, as a finished run reports them.
pub(super) fn run(slug_text: &str, status: RunStatus, seconds: i64) -> Run {
    Run {
        run_id: Uuid::new_v4(),
        slug: slug(slug_text),
        status,
        source: RunSource::Ping,
        expected_at: None,
        started_at: Some(at(seconds)),
        finished_at: (status != RunStatus::Running).then(|| at(seconds)),
        duration_ms: None,
        exit_code: None,
        error: None,
        missed_slots: 0,
        last_missed_at: None,
        in_maintenance: false,
        too_fast: false,
    }
}

/// A step of `record`'s monitor writing `runs` and moving to `state`.
pub(super) fn step(record: &MonitorRecord, state: MonitorState, runs: Vec<Run>) -> StateWrite {
    StateWrite {
        slug: record.spec.slug().clone(),
        version: record.version,
        state,
        next_check_at: None,
        outcome: Outcome {
            runs,
            ..Outcome::default()
        },
        now: at(0),
    }
}

pub(super) fn state_with(status: MonitorStatus, failure_streak: u32) -> MonitorState {
    MonitorState {
        status,
        failure_streak,
        last_ping_at: Some(at(1)),
        ..MonitorState::default()
    }
}

pub(super) async fn get(store: &Arc<dyn Store>, text: &str) -> MonitorRecord {
    store.get_monitor(&slug(text)).await.unwrap().expect(text)
}
