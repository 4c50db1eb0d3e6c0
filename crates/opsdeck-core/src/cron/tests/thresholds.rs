//! Thresholds, maintenance windows, pausing and min_runtime: what counts, and when it
//! alerts.

use super::*;
use crate::alert::AlertKind;

fn thresholds(failure: u32, recovery: u32) -> MonitorSettings {
    MonitorSettings {
        failure_threshold: failure,
        recovery_threshold: recovery,
        ..MonitorSettings::default()
    }
}

#[test]
fn a_first_success_is_no_news_but_a_first_failure_is() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    let outcome = sim.send(PingKind::Success, t0());
    let transition = outcome.transition.unwrap();
    assert_eq!(
        (transition.from, transition.to),
        (MonitorStatus::New, MonitorStatus::Up)
    );
    assert!(outcome.alert.is_none());

    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    let alert = sim.send(PingKind::Exit(3), t0()).alert.unwrap();
    assert_eq!(
        (alert.from, alert.to),
        (MonitorStatus::New, MonitorStatus::Down)
    );
    assert_eq!(
        (alert.reason, alert.error.as_deref()),
        (Reason::Failed, Some("exit status 3"))
    );
}

#[test]
fn down_after_n_consecutive_failures_and_a_success_resets_the_count() {
    let mut sim = Sim::new(hourly(thresholds(3, 1)));
    sim.send(PingKind::Success, t0());
    sim.send(PingKind::Fail, at_min(1));
    sim.send(PingKind::Fail, at_min(2));
    sim.send(PingKind::Success, at_min(3));
    sim.send(PingKind::Fail, at_min(4));
    sim.send(PingKind::Exit(1), at_min(5));
    assert!(sim.alerts.is_empty());
    assert_eq!(
        (sim.state.status, sim.state.failure_streak),
        (MonitorStatus::Up, 2)
    );
    let alert = sim.send(PingKind::Fail, at_min(6)).alert.unwrap();
    assert_eq!((alert.kind, alert.at), (AlertKind::Down, at_min(6)));
    assert_eq!(sim.state.status, MonitorStatus::Down);
    assert!(
        sim.send(PingKind::Fail, at_min(7)).alert.is_none(),
        "one alert per flip"
    );
}

#[test]
fn up_again_after_m_consecutive_successes() {
    let mut sim = Sim::new(hourly(thresholds(1, 2)));
    sim.send(PingKind::Fail, t0());
    assert!(sim.send(PingKind::Success, at_min(1)).alert.is_none());
    sim.send(PingKind::Fail, at_min(2));
    assert!(sim.send(PingKind::Success, at_min(3)).alert.is_none());
    assert_eq!(sim.state.status, MonitorStatus::Down);
    let alert = sim.send(PingKind::Exit(0), at_min(4)).alert.unwrap();
    assert_eq!(
        (alert.kind, alert.reason),
        (AlertKind::Recovered, Reason::Succeeded)
    );
    assert_eq!(
        (alert.from, alert.to),
        (MonitorStatus::Down, MonitorStatus::Up)
    );
    assert_eq!(sim.alerts.len(), 2);
}

#[test]
fn missed_slots_count_towards_the_threshold_one_by_one() {
    let mut sim = Sim::new(hourly(thresholds(3, 1)));
    sim.send(PingKind::Success, t0());
    sim.run_clock(at_min(1), at_min(3 * 60 + 4), mins(1));
    assert!(sim.alerts.is_empty());
    assert_eq!(sim.state.failure_streak, 2);
    let alert = sim.tick(at_min(3 * 60 + 5)).alert.unwrap();
    assert_eq!(
        (alert.reason, alert.at),
        (Reason::Missed, at_min(3 * 60 + 5))
    );
    assert_eq!(sim.only(RunStatus::Missed).missed_slots, 3);
}

#[test]
fn catching_up_back_dates_the_alert_to_the_deciding_deadline() {
    let mut sim = Sim::new(hourly(thresholds(2, 1)));
    sim.send(PingKind::Success, t0());
    let alert = sim.tick(at_min(10 * 60)).alert.unwrap();
    assert_eq!(alert.at, at_min(2 * 60 + 5), "the second slot's deadline");
}

#[test]
fn failures_and_misses_in_maintenance_are_recorded_but_never_alert() {
    let window = MaintenanceWindow::new("0 2 * * *", None, mins(60)).unwrap();
    let spec = spec_with(
        Schedule::cron("30 2 * * *", None).unwrap(),
        MonitorSettings {
            maintenance: vec![window],
            ..MonitorSettings::default()
        },
    );
    let mut sim = Sim::new(spec);
    sim.send(PingKind::Success, utc(2026, 1, 5, 2, 30));
    sim.tick(utc(2026, 1, 6, 2, 36));
    let missed = sim.only(RunStatus::Missed);
    assert!(missed.in_maintenance);
    sim.send(PingKind::Fail, utc(2026, 1, 6, 2, 40));
    assert!(sim.only(RunStatus::Failed).in_maintenance);
    assert!(sim.alerts.is_empty());
    assert_eq!(
        (sim.state.status, sim.state.failure_streak),
        (MonitorStatus::Up, 0)
    );

    // Outside the window the same failure alerts.
    let alert = sim
        .send(PingKind::Fail, utc(2026, 1, 6, 9, 0))
        .alert
        .unwrap();
    assert_eq!(alert.reason, Reason::Failed);
}

#[test]
fn a_stretch_of_misses_splits_where_maintenance_begins() {
    let window = MaintenanceWindow::new("0 2 * * *", None, mins(60)).unwrap();
    let mut sim = Sim::new(hourly(MonitorSettings {
        maintenance: vec![window],
        failure_threshold: 100,
        ..MonitorSettings::default()
    }));
    sim.send(PingKind::Success, utc(2026, 1, 5, 0, 0));
    sim.run_clock(utc(2026, 1, 5, 0, 1), utc(2026, 1, 5, 4, 10), mins(1));
    let mut stretches: Vec<(u32, bool)> = sim
        .with_status(RunStatus::Missed)
        .iter()
        .map(|r| (r.missed_slots, r.in_maintenance))
        .collect();
    stretches.sort();
    // 01:00 alone, then 02:00 in the window, then 03:00 and 04:00.
    assert_eq!(stretches, [(1, false), (1, true), (2, false)]);
    assert_eq!(
        sim.state.failure_streak, 3,
        "the window's miss does not count"
    );
}

#[test]
fn paused_monitors_record_runs_but_expect_and_judge_nothing() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    sim.send(PingKind::Success, t0());
    sim.spec.set_paused(true);
    let outcome = sim.tick(at_min(1));
    assert_eq!(outcome.transition.unwrap().to, MonitorStatus::Paused);
    assert_eq!(sim.state.next_check_at(&sim.spec, at_min(1)), None);
    sim.run_clock(at_min(2), at_min(5 * 60), mins(1));
    sim.send(PingKind::Fail, at_min(5 * 60 + 1));
    assert_eq!(sim.with_status(RunStatus::Failed).len(), 1);
    assert!(sim.with_status(RunStatus::Missed).is_empty() && sim.alerts.is_empty());
    assert_eq!(sim.state.status, MonitorStatus::Paused);

    // Resumed: the pause's slots are not owed; the next one is.
    sim.spec.set_paused(false);
    let outcome = sim.tick(at_min(5 * 60 + 10));
    assert_eq!(outcome.transition.unwrap().from, MonitorStatus::Paused);
    assert!(outcome.alert.is_none());
    sim.run_clock(at_min(5 * 60 + 11), at_min(6 * 60 + 4), mins(1));
    assert!(sim.with_status(RunStatus::Missed).is_empty());
    sim.tick(at_min(6 * 60 + 5));
    assert_eq!(
        sim.only(RunStatus::Missed).expected_at,
        Some(at_min(6 * 60))
    );
}

#[test]
fn too_fast_successes_are_flagged_and_still_count_as_successes() {
    let mut sim = Sim::new(hourly(MonitorSettings {
        min_runtime: Some(secs(30)),
        ..thresholds(1, 1)
    }));
    sim.send(PingKind::Fail, t0());
    let fast = Uuid::now_v7();
    sim.ping(ping(PingKind::Start).with_rid(fast), at_min(1));
    let alert = sim.ping(
        ping(PingKind::Success).with_rid(fast),
        at_min(1) + chrono::Duration::seconds(2),
    );
    assert_eq!(alert.alert.unwrap().kind, AlertKind::Recovered);
    assert!(sim.runs[&fast].too_fast);
    let slow = Uuid::now_v7();
    sim.ping(ping(PingKind::Start).with_rid(slow), at_min(2));
    sim.ping(ping(PingKind::Success).with_rid(slow), at_min(3));
    assert!(!sim.runs[&slow].too_fast);
    // Without a start there is no duration to judge.
    let outcome = sim.send(PingKind::Success, at_min(4));
    assert!(!outcome.runs[0].too_fast);
}
