use super::*;
use crate::alert::{AlertKind, AlertSource};

fn rid(text: &str) -> Uuid {
    parse_rid(text).unwrap()
}

const RID: &str = "3d8f6a52-0b1c-4e8f-9a7d-1b2c3d4e5f60";

#[test]
fn start_and_finish_pair_by_rid_in_any_case() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    let outcome = sim.ping(ping(PingKind::Start).with_rid(rid(RID)), t0());
    assert_eq!(outcome.transition.unwrap().to, MonitorStatus::Running);
    assert_eq!(sim.runs[&rid(RID)].status, RunStatus::Running);
    let upper = rid(&RID.to_uppercase());
    sim.ping(ping(PingKind::Success).with_rid(upper), at_min(2));
    assert_eq!(sim.runs.len(), 1);
    let run = &sim.runs[&rid(RID)];
    assert_eq!(run.status, RunStatus::Success);
    assert_eq!(
        (run.started_at, run.finished_at),
        (Some(t0()), Some(at_min(2)))
    );
    assert_eq!(
        (run.duration_ms, run.exit_code, run.error.as_ref()),
        (Some(120_000), None, None)
    );
    assert_eq!(sim.state.status, MonitorStatus::Up);
    assert_eq!(sim.state.last_ping_at, Some(at_min(2)));
}

#[test]
fn a_finish_without_rid_pairs_the_latest_open_run() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    sim.ping(ping(PingKind::Start).with_rid(a), t0());
    sim.ping(ping(PingKind::Start).with_rid(b), at_min(1));
    sim.send(PingKind::Success, at_min(3));
    assert_eq!(sim.runs[&b].status, RunStatus::Success);
    assert_eq!(sim.runs[&a].status, RunStatus::Running);
    assert_eq!(sim.state.status, MonitorStatus::Running, "a is still open");
    sim.ping(ping(PingKind::Exit(0)).with_rid(a), at_min(4));
    assert_eq!(sim.runs[&a].duration_ms, Some(4 * 60_000));
    assert_eq!(sim.state.status, MonitorStatus::Up);
}

#[test]
fn starts_without_rid_get_fresh_time_ordered_ids() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    sim.send(PingKind::Start, t0());
    sim.send(PingKind::Start, at_min(1));
    let ids: Vec<Uuid> = sim.state.open_runs.iter().map(|r| r.run_id).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids[0] < ids[1] && ids.iter().all(|id| id.get_version_num() == 7));
    sim.send(PingKind::Success, at_min(2));
    assert_eq!(sim.runs[&ids[1]].status, RunStatus::Success);
}

#[test]
fn a_repeated_start_is_a_retry_not_a_second_run() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    sim.ping(ping(PingKind::Start).with_rid(rid(RID)), t0());
    let outcome = sim.ping(
        ping(PingKind::Start).with_rid(rid(RID)),
        t0() + chrono::Duration::seconds(1),
    );
    assert!(outcome.runs.is_empty());
    assert_eq!(sim.state.open_runs.len(), 1);
    assert_eq!(sim.runs[&rid(RID)].started_at, Some(t0()));
}

#[test]
fn a_finish_without_any_start_is_a_run_of_its_own() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    sim.send(PingKind::Success, t0());
    let run = sim.only(RunStatus::Success);
    assert_eq!(
        (run.started_at, run.duration_ms, run.expected_at),
        (None, None, None)
    );
    // Check-ins may say how long the run took.
    let checkin = Ping::new(PingKind::Success, RunSource::Checkin)
        .with_rid(rid(RID))
        .with_duration(secs(90));
    sim.ping(checkin, at_min(60));
    let run = &sim.runs[&rid(RID)];
    assert_eq!(
        run.started_at,
        Some(at_min(60) - chrono::Duration::seconds(90))
    );
    assert_eq!(
        (run.duration_ms, run.source),
        (Some(90_000), RunSource::Checkin)
    );
    assert_eq!(run.expected_at, Some(at_min(60)));
}

#[test]
fn a_start_that_names_its_slot_expects_it_even_as_the_first_run() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    let first = Ping::new(PingKind::Start, RunSource::Scheduler)
        .with_rid(rid(RID))
        .with_slot(at_min(60));
    // Fired a little late, and the monitor never heard from before.
    sim.ping(first, at_min(60) + chrono::Duration::milliseconds(300));
    sim.ping(ping(PingKind::Success).with_rid(rid(RID)), at_min(61));
    assert_eq!(sim.runs[&rid(RID)].expected_at, Some(at_min(60)));
    // Without a slot, the first run answers none.
    let mut unnamed = Sim::new(hourly(MonitorSettings::default()));
    unnamed.send(PingKind::Start, at_min(60));
    assert_eq!(unnamed.only(RunStatus::Running).expected_at, None);
}

#[test]
fn exit_statuses_and_fail_bodies_become_redacted_errors_and_logs() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    let outcome = sim.send(PingKind::Exit(0), t0());
    assert_eq!(outcome.runs[0].exit_code, Some(0));
    assert_eq!(outcome.runs[0].status, RunStatus::Success);

    let body = "dumping...\nERROR: auth failed for postgres://app:s3cret@db/prod\n";
    let outcome = sim.ping(ping(PingKind::Exit(2)).with_body(body), at_min(60));
    let run = &outcome.runs[0];
    assert_eq!((run.status, run.exit_code), (RunStatus::Failed, Some(2)));
    let error = run.error.as_deref().unwrap();
    assert!(error.ends_with("postgres://app:***@db/prod"), "{error}");
    assert!(
        sim.logs[&run.run_id].contains("dumping...") && !sim.logs[&run.run_id].contains("s3cret")
    );
    let alert = outcome.alert.unwrap();
    assert_eq!(alert.error.as_deref(), Some(error));

    let outcome = sim.send(PingKind::Fail, at_min(120));
    assert_eq!(
        outcome.runs[0].error.as_deref(),
        Some("the job reported failure")
    );
}

#[test]
fn logs_append_to_the_named_or_latest_run_and_change_nothing_else() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    sim.ping(
        ping(PingKind::Start).with_rid(a).with_body("a: begin\n"),
        t0(),
    );
    sim.ping(ping(PingKind::Start).with_rid(b), at_min(1));
    let before = sim.state.clone();
    let outcome = sim.ping(ping(PingKind::Log).with_body("b: halfway\n"), at_min(2));
    assert!(outcome.runs.is_empty() && outcome.transition.is_none());
    sim.ping(
        ping(PingKind::Log).with_rid(a).with_body("a: halfway\n"),
        at_min(3),
    );
    assert_eq!(sim.logs[&a], "a: begin\na: halfway\n");
    assert_eq!(sim.logs[&b], "b: halfway\n");
    assert_eq!(sim.state.open_runs, before.open_runs);
    assert_eq!(sim.state.cursor, before.cursor, "a log answers no slot");
}

#[test]
fn a_log_with_no_run_to_join_is_kept_in_an_unknown_run() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    let outcome = sim.ping(ping(PingKind::Log).with_body("disk at 91%"), t0());
    let run = sim.only(RunStatus::Unknown);
    assert_eq!(sim.logs[&run.run_id], "disk at 91%");
    assert_eq!(sim.state.status, MonitorStatus::New);
    assert!(outcome.alert.is_none() && sim.state.cursor.is_none());
}

#[test]
fn too_many_open_runs_close_the_oldest_as_unknown() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    for n in 0..=OPEN_RUNS_MAX {
        sim.send(PingKind::Start, t0() + chrono::Duration::seconds(n as i64));
    }
    assert_eq!(sim.state.open_runs.len(), OPEN_RUNS_MAX);
    let evicted = sim.only(RunStatus::Unknown);
    assert_eq!(evicted.started_at, Some(t0()));
    assert!(sim.alerts.is_empty());
}

#[test]
fn alert_intents_become_cron_alert_events() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    let body = "token=abc123 rejected";
    let alert = sim
        .ping(ping(PingKind::Fail).with_body(body), t0())
        .alert
        .unwrap();
    let event = alert.event(&sim.spec);
    assert_eq!(
        (event.source, event.kind),
        (AlertSource::Cron, AlertKind::Down)
    );
    assert_eq!(event.subject, "backup");
    assert_eq!(
        (event.from.as_deref(), event.to.as_str()),
        (Some("new"), "down")
    );
    assert_eq!(event.summary, "cron monitor backup failed");
    assert_eq!(event.link, "/cron/backup");
    assert_eq!(event.detail.as_deref(), Some("token=*** rejected"));
    assert_eq!(event.at, t0());
}

#[test]
fn state_round_trips_through_json_for_the_monitor_row() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    sim.ping(ping(PingKind::Start).with_rid(rid(RID)), t0());
    sim.tick(at_min(200));
    let json = serde_json::to_string(&sim.state).unwrap();
    let back: MonitorState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, sim.state);
    assert!(json.contains("\"health\":\"down\""), "{json}");
    assert_eq!(
        back.open_runs[0].run_id,
        rid(RID),
        "still open behind the misses"
    );
}
