//! opsdeck itself stops answering for a while — a restart after downtime, a paused VM —
//! and comes back: the slots of a job that fell while nobody listened are recorded as
//! `unknown`, and the monitor neither goes down nor alerts, even when the evaluator is the
//! first loop to run once time resumes (before any heartbeat has noticed the gap).

use std::sync::Arc;
use std::time::Duration;

use opsdeck_core::cron::{
    MonitorSource, MonitorStatus, Ping, PingKind, RunSource, RunStatus, StateWrite, apply_ping,
    derive_status,
};
use opsdeck_core::{Clock, ManualClock, Store};
use opsdeck_server::alerts::Dispatcher;
use opsdeck_server::background::Job;
use opsdeck_server::config::{AlertsConfig, MonitorDefinition};
use opsdeck_server::cron::{EvaluateJob, OUTAGE_GAP};
use opsdeck_server::metrics::Metrics;
use serde_json::json;

use crate::support::contract::contract;

contract!(store: [slots_missed_while_opsdeck_was_down_never_alert], db: []);

async fn slots_missed_while_opsdeck_was_down_never_alert(store: Arc<dyn Store>) {
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    // An every-minute job that reports now, seen by an opsdeck that is alive now.
    let definition: MonitorDefinition = serde_json::from_value(json!({
        "slug": "warm-cache", "interval": "1m", "grace": "10s", "failure_threshold": 1
    }))
    .unwrap();
    let spec = definition.to_spec().expect("a valid monitor");
    let now = clock.now();
    let record = store
        .create_monitor(&spec, MonitorSource::Api, now)
        .await
        .unwrap();
    let mut state = record.state.clone();
    let ping = Ping::new(PingKind::Success, RunSource::Ping);
    let outcome = apply_ping(&record.spec, &mut state, &ping, now);
    let write = StateWrite {
        slug: spec.slug().clone(),
        version: record.version,
        next_check_at: state.next_check_at(&record.spec, now),
        state,
        outcome,
        now,
    };
    store.apply_outcome(&write).await.unwrap();
    store.record_alive(now, OUTAGE_GAP).await.unwrap();

    // Time jumps 26 minutes, and the evaluator runs before anything else.
    clock.advance(Duration::from_secs(26 * 60));
    let (alerts, _workers) = Dispatcher::new(
        store.clone(),
        &AlertsConfig::default(),
        reqwest::Client::new(),
        clock.clone(),
        &Metrics::new(
            "test",
            opsdeck_server::config::MetricsConfig::default().cron_monitor_series,
        ),
    );
    let evaluator = EvaluateJob {
        store: store.clone(),
        clock: clock.clone(),
        alerts,
    };
    evaluator.tick().await.expect("an evaluation");

    let runs = store.list_runs(spec.slug(), None, 50).await.unwrap().runs;
    let statuses: Vec<RunStatus> = runs.iter().map(|r| r.status).collect();
    assert!(
        !statuses.contains(&RunStatus::Missed),
        "slots of the outage are unknown, not missed: {runs:?}"
    );
    assert!(statuses.contains(&RunStatus::Unknown), "{runs:?}");
    let monitor = store.get_monitor(spec.slug()).await.unwrap().unwrap();
    assert_ne!(
        derive_status(&monitor.spec, &monitor.state, clock.now()),
        MonitorStatus::Down
    );
    assert_eq!(monitor.state.failure_streak, 0, "{monitor:?}");
}
