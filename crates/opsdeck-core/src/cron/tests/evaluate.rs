use super::*;

fn with_max_runtime(max: Duration) -> MonitorSettings {
    MonitorSettings {
        max_runtime: Some(max),
        ..MonitorSettings::default()
    }
}

/// An hourly monitor whose job last succeeded at 10:00:05.
fn pinged_hourly(settings: MonitorSettings) -> Sim {
    let mut sim = Sim::new(hourly(settings));
    sim.send(PingKind::Success, t0() + chrono::Duration::seconds(5));
    sim
}

#[test]
fn a_monitor_never_heard_from_expects_nothing() {
    let mut sim = Sim::new(hourly(MonitorSettings::default()));
    let outcome = sim.tick(at_min(60 * 24 * 30));
    assert!(outcome.is_empty(), "{outcome:?}");
    assert_eq!(sim.state.status, MonitorStatus::New);
    assert_eq!(sim.state.next_check_at(&sim.spec, t0()), None);
}

#[test]
fn late_at_the_slot_then_missed_when_grace_runs_out() {
    let mut sim = pinged_hourly(MonitorSettings::default());
    assert_eq!(sim.state.status, MonitorStatus::Up);
    assert!(sim.tick(at_min(59)).is_empty());
    assert_eq!(
        sim.state.next_check_at(&sim.spec, at_min(59)),
        Some(at_min(60))
    );

    let outcome = sim.tick(at_min(60));
    let transition = outcome.transition.unwrap();
    assert_eq!(
        (transition.from, transition.to),
        (MonitorStatus::Up, MonitorStatus::Late)
    );
    assert!(
        outcome.alert.is_none() && outcome.runs.is_empty(),
        "late is not an alert"
    );
    assert_eq!(
        sim.state.next_check_at(&sim.spec, at_min(60)),
        Some(at_min(65))
    );
    assert!(
        sim.tick(at_min(64) + chrono::Duration::seconds(59))
            .is_empty()
    );

    let outcome = sim.tick(at_min(65));
    let missed = sim.only(RunStatus::Missed);
    assert_eq!(missed.expected_at, Some(at_min(60)));
    assert_eq!(
        (missed.missed_slots, missed.source),
        (1, RunSource::Evaluator)
    );
    assert_eq!(
        missed.error.as_deref(),
        Some("no ping within 5m grace of the run expected at 2026-01-05T11:00:00+00:00")
    );
    let alert = outcome.alert.unwrap();
    assert_eq!(
        (alert.kind, alert.reason),
        (crate::alert::AlertKind::Down, Reason::Missed)
    );
    assert_eq!(
        (alert.from, alert.to, alert.at),
        (MonitorStatus::Late, MonitorStatus::Down, at_min(65))
    );
    assert_eq!(alert.run_id, Some(missed.run_id));
    assert_eq!(alert.error, missed.error);
}

#[test]
fn a_ping_within_grace_answers_the_slot() {
    let mut sim = pinged_hourly(MonitorSettings::default());
    sim.tick(at_min(61));
    assert_eq!(sim.state.status, MonitorStatus::Late);
    let outcome = sim.send(PingKind::Success, at_min(63));
    assert_eq!(outcome.transition.unwrap().to, MonitorStatus::Up);
    assert_eq!(outcome.runs[0].expected_at, Some(at_min(60)));
    sim.run_clock(at_min(64), at_min(119), mins(1));
    assert!(sim.with_status(RunStatus::Missed).is_empty());
    assert!(sim.alerts.is_empty());
}

#[test]
fn a_silent_job_fills_one_growing_row_and_alerts_once() {
    let mut sim = pinged_hourly(MonitorSettings::default());
    sim.run_clock(at_min(1), at_min(72 * 60 + 5), mins(1));
    let missed = sim.only(RunStatus::Missed);
    assert_eq!(missed.missed_slots, 72);
    assert_eq!(missed.expected_at, Some(at_min(60)));
    assert_eq!(missed.last_missed_at, Some(at_min(72 * 60)));
    assert_eq!(
        missed.error.as_deref(),
        Some("72 expected runs missed, the first at 2026-01-05T11:00:00+00:00")
    );
    assert_eq!(sim.alerts.len(), 1);
    assert_eq!(sim.state.failure_streak, 72);

    // The job is back: the stretch ends, and the next miss starts a new row.
    sim.send(PingKind::Success, at_min(72 * 60 + 10));
    assert_eq!(
        sim.alerts.last().unwrap().kind,
        crate::alert::AlertKind::Recovered
    );
    sim.tick(at_min(73 * 60 + 5));
    assert_eq!(sim.with_status(RunStatus::Missed).len(), 2);
}

#[test]
fn catching_up_after_a_long_gap_is_bounded_per_step_and_exact() {
    let every_minute = Schedule::cron("* * * * *", None).unwrap();
    let mut sim = Sim::new(spec_with(every_minute, MonitorSettings::default()));
    sim.send(PingKind::Success, t0());
    let now = at_min(7 * 24 * 60);
    let mut steps = 0;
    loop {
        let outcome = sim.tick(now);
        steps += 1;
        assert!(
            outcome.runs.len() <= 1,
            "one row per step, however many slots"
        );
        if sim.state.next_check_at(&sim.spec, now) > Some(now) {
            break;
        }
    }
    assert_eq!(steps, (7 * 24 * 60 - 5) / SLOTS_PER_STEP + 1);
    let missed = sim.only(RunStatus::Missed);
    assert_eq!(
        missed.missed_slots as usize,
        7 * 24 * 60 - 5,
        "slots whose grace ran out"
    );
    assert_eq!(sim.alerts.len(), 1);
}

#[test]
fn each_overlapping_run_times_out_on_its_own_clock() {
    let mut sim = Sim::new(hourly(with_max_runtime(mins(10))));
    let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
    sim.ping(ping(PingKind::Start).with_rid(a), t0());
    sim.ping(ping(PingKind::Start).with_rid(b), at_min(5));
    assert_eq!(
        sim.state.next_check_at(&sim.spec, at_min(5)),
        Some(at_min(10))
    );

    assert_eq!(sim.state.running(), 2);
    let outcome = sim.tick(at_min(10));
    assert_eq!(sim.runs[&a].status, RunStatus::TimedOut);
    assert_eq!(sim.state.running(), 1, "a timed-out run is not running");
    assert_eq!(
        sim.runs[&a].error.as_deref(),
        Some("no finish within max_runtime 10m")
    );
    assert_eq!(sim.runs[&b].status, RunStatus::Running);
    let alert = outcome.alert.unwrap();
    assert_eq!((alert.reason, alert.run_id), (Reason::TimedOut, Some(a)));
    assert_eq!(sim.state.status, MonitorStatus::Down);

    sim.tick(at_min(14));
    assert_eq!(sim.runs[&b].status, RunStatus::Running);
    sim.tick(at_min(15));
    assert_eq!(sim.runs[&b].status, RunStatus::TimedOut);
    assert_eq!(sim.state.open_runs.len(), 2, "kept for a late finish");
    assert_eq!(sim.state.running(), 0);
    assert_eq!(sim.alerts.len(), 1, "already down");
    assert_eq!(sim.state.failure_streak, 2);
}

#[test]
fn a_late_finish_completes_a_timed_out_run_without_undoing_it() {
    let mut sim = Sim::new(hourly(with_max_runtime(mins(10))));
    let rid = Uuid::now_v7();
    sim.ping(ping(PingKind::Start).with_rid(rid), t0());
    sim.tick(at_min(11));
    let outcome = sim.ping(ping(PingKind::Exit(0)).with_rid(rid), at_min(20));
    let run = &sim.runs[&rid];
    assert_eq!(run.status, RunStatus::TimedOut);
    assert_eq!(
        (run.duration_ms, run.exit_code),
        (Some(20 * 60_000), Some(0))
    );
    assert_eq!(run.finished_at, Some(at_min(20)));
    assert!(outcome.alert.is_none(), "a timed-out run is not a success");
    assert!(sim.state.open_runs.is_empty());
}

#[test]
fn runs_without_max_runtime_are_forgotten_as_unknown_after_the_pairing_window() {
    let mut sim = Sim::new(spec_with(
        Schedule::every(mins(60 * 24 * 7)).unwrap(),
        MonitorSettings::default(),
    ));
    sim.send(PingKind::Start, t0());
    let deadline = t0() + chrono::Duration::from_std(PAIRING_WINDOW).unwrap();
    assert_eq!(sim.state.next_check_at(&sim.spec, t0()), Some(deadline));
    sim.tick(deadline);
    let run = sim.only(RunStatus::Unknown);
    assert_eq!(run.error.as_deref(), Some("no finish ping within 72h"));
    assert!(sim.state.open_runs.is_empty() && sim.alerts.is_empty());
}

#[test]
fn slots_that_fell_while_opsdeck_was_down_are_unknown_and_silent() {
    let mut sim = pinged_hourly(MonitorSettings::default());
    sim.run_clock(at_min(1), at_min(57), mins(1));
    let outage = Outage {
        from: at_min(58),
        until: at_min(80),
    };
    let outcome = sim.tick_blind(at_min(80), &[outage]);
    let unknown = sim.only(RunStatus::Unknown);
    assert_eq!(unknown.expected_at, Some(at_min(60)));
    assert!(
        unknown
            .error
            .as_deref()
            .unwrap()
            .starts_with("opsdeck was down")
    );
    assert!(outcome.alert.is_none());
    assert_eq!(
        (sim.state.failure_streak, sim.state.health),
        (0, Health::Up)
    );

    // The next slot is judged normally once opsdeck is back.
    sim.tick_blind(at_min(125), &[outage]);
    assert_eq!(sim.only(RunStatus::Missed).expected_at, Some(at_min(120)));
    assert_eq!(sim.alerts.len(), 1);
}

#[test]
fn a_signal_lost_at_the_slot_is_unknown_even_if_grace_ends_after_the_outage() {
    let mut sim = pinged_hourly(MonitorSettings::default());
    let outage = Outage {
        from: at_min(59),
        until: at_min(61),
    };
    sim.tick_blind(at_min(65), &[outage]);
    assert_eq!(sim.only(RunStatus::Unknown).expected_at, Some(at_min(60)));
    assert!(sim.alerts.is_empty());
}

#[test]
fn a_run_whose_finish_may_have_been_lost_is_unknown_until_it_reports() {
    let mut sim = Sim::new(hourly(with_max_runtime(mins(10))));
    let rid = Uuid::now_v7();
    sim.ping(ping(PingKind::Start).with_rid(rid), t0());
    let outage = Outage {
        from: at_min(5),
        until: at_min(20),
    };
    sim.tick_blind(at_min(20), &[outage]);
    assert_eq!(sim.runs[&rid].status, RunStatus::Unknown);
    assert!(sim.alerts.is_empty());
    // It did finish after all: now it is judged.
    sim.ping(ping(PingKind::Fail).with_rid(rid), at_min(21));
    assert_eq!(sim.runs[&rid].status, RunStatus::Failed);
    assert_eq!(sim.alerts.len(), 1);
}

#[test]
fn interval_monitors_expect_the_next_signal_one_period_after_the_last() {
    let spec = spec_with(
        Schedule::every(mins(60)).unwrap(),
        MonitorSettings::default(),
    );
    let mut sim = Sim::new(spec);
    sim.send(PingKind::Success, at_min(7));
    sim.tick(at_min(66));
    assert_eq!(sim.state.status, MonitorStatus::Up);
    sim.tick(at_min(67));
    assert_eq!(sim.state.status, MonitorStatus::Late);
    sim.tick(at_min(72));
    assert_eq!(sim.only(RunStatus::Missed).expected_at, Some(at_min(67)));
}
