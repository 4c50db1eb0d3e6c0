//! Daylight-saving days in 2026. New York: clocks spring from 02:00 EST to 03:00 EDT on
//! 8 March and fall from 02:00 EDT to 01:00 EST on 1 November. Berlin: 02:00 CET to 03:00
//! CEST on 29 March, 03:00 CEST to 02:00 CET on 25 October.

use super::*;

fn in_zone(expr: &str, tz: &str) -> Schedule {
    Schedule::cron(expr, Some(tz)).unwrap()
}

fn next_n(schedule: &Schedule, after: DateTime<Utc>, n: usize) -> Vec<DateTime<Utc>> {
    schedule.slots_between(after, DateTime::<Utc>::MAX_UTC, n)
}

#[test]
fn new_york_spring_forward_runs_a_fixed_time_job_once_after_the_gap() {
    let job = in_zone("30 2 * * *", "America/New_York");
    // 02:30 does not exist on 8 March: the run is at 03:00 EDT (07:00Z), once.
    assert_eq!(
        next_n(&job, utc(2026, 3, 7, 17, 0), 3),
        [
            utc(2026, 3, 8, 7, 0),
            utc(2026, 3, 9, 6, 30),
            utc(2026, 3, 10, 6, 30)
        ]
    );
    let on_the_day = job.slots_between(utc(2026, 3, 8, 5, 0), utc(2026, 3, 9, 4, 0), 10);
    assert_eq!(on_the_day.len(), 1);
}

#[test]
fn new_york_fall_back_runs_a_fixed_time_job_once() {
    let job = in_zone("30 1 * * *", "America/New_York");
    // 01:30 happens twice on 1 November: the run is at the first, 01:30 EDT (05:30Z).
    assert_eq!(
        next_n(&job, utc(2026, 10, 31, 16, 0), 2),
        [utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]
    );
}

#[test]
fn new_york_stepped_jobs_skip_the_gap_and_repeat_the_doubled_hour() {
    let job = in_zone("*/30 * * * *", "America/New_York");
    assert_eq!(
        next_n(&job, utc(2026, 3, 8, 6, 15), 3),
        [
            utc(2026, 3, 8, 6, 30), // 01:30 EST
            utc(2026, 3, 8, 7, 0),  // 03:00 EDT: 02:00 and 02:30 never were
            utc(2026, 3, 8, 7, 30),
        ]
    );
    assert_eq!(
        next_n(&job, utc(2026, 11, 1, 4, 45), 5),
        [
            utc(2026, 11, 1, 5, 0),  // 01:00 EDT
            utc(2026, 11, 1, 5, 30), // 01:30 EDT
            utc(2026, 11, 1, 6, 0),  // 01:00 EST
            utc(2026, 11, 1, 6, 30), // 01:30 EST
            utc(2026, 11, 1, 7, 0),  // 02:00 EST
        ]
    );
}

#[test]
fn berlin_fixed_time_jobs_run_once_on_both_days() {
    let job = in_zone("30 2 * * *", "Europe/Berlin");
    assert_eq!(
        next_n(&job, utc(2026, 3, 28, 11, 0), 2),
        [utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)],
        "03:00 CEST, then 02:30 CEST"
    );
    assert_eq!(
        next_n(&job, utc(2026, 10, 24, 10, 0), 2),
        [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)],
        "the first 02:30 (CEST), then 02:30 CET"
    );
}

#[test]
fn a_job_that_runs_by_its_local_clock_is_never_missed_across_dst() {
    let spec = spec_with(
        in_zone("30 2 * * *", "America/New_York"),
        MonitorSettings::default(),
    );
    let mut sim = Sim::new(spec);
    sim.send(PingKind::Success, utc(2026, 3, 7, 7, 30));
    sim.run_clock(utc(2026, 3, 7, 7, 31), utc(2026, 3, 8, 6, 59), mins(1));
    sim.send(PingKind::Success, utc(2026, 3, 8, 7, 0)); // 03:00 EDT
    sim.run_clock(utc(2026, 3, 8, 7, 1), utc(2026, 3, 9, 6, 29), mins(1));
    sim.send(PingKind::Success, utc(2026, 3, 9, 6, 30));
    sim.tick(utc(2026, 3, 9, 6, 40));
    assert!(
        sim.with_status(RunStatus::Missed).is_empty(),
        "{:#?}",
        sim.runs
    );
    assert!(sim.alerts.is_empty());
    assert_eq!(sim.state.status, MonitorStatus::Up);
    let expected: Vec<_> = sim.runs.values().filter_map(|r| r.expected_at).collect();
    assert_eq!(expected, [utc(2026, 3, 8, 7, 0), utc(2026, 3, 9, 6, 30)]);
}

#[test]
fn a_fall_back_job_is_expected_once_and_missed_once() {
    let spec = spec_with(
        in_zone("30 1 * * *", "America/New_York"),
        MonitorSettings::default(),
    );
    let mut sim = Sim::new(spec);
    sim.send(PingKind::Success, utc(2026, 10, 31, 5, 30));
    // No run on 1 November; the evaluator watches through both 01:30s.
    sim.run_clock(utc(2026, 10, 31, 5, 31), utc(2026, 11, 1, 8, 0), mins(1));
    let missed = sim.only(RunStatus::Missed);
    assert_eq!(missed.expected_at, Some(utc(2026, 11, 1, 5, 30)));
    assert_eq!(missed.missed_slots, 1, "the second 01:30 is not a slot");
}

#[test]
fn maintenance_windows_follow_local_time_across_dst() {
    let window = MaintenanceWindow::new("0 2 * * *", Some("Europe/Berlin"), mins(120)).unwrap();
    // Normal day: 02:00–04:00 CEST is 00:00Z–02:00Z.
    assert!(window.contains(utc(2026, 3, 30, 0, 0)));
    assert!(window.contains(utc(2026, 3, 30, 1, 59)));
    assert!(!window.contains(utc(2026, 3, 30, 2, 0)));
    // Spring-forward day: 02:00 never comes, so the window opens at 03:00 CEST (01:00Z).
    assert!(!window.contains(utc(2026, 3, 29, 0, 30)));
    assert!(window.contains(utc(2026, 3, 29, 1, 0)));
    assert!(window.contains(utc(2026, 3, 29, 2, 59)));
    assert!(!window.contains(utc(2026, 3, 29, 3, 0)));
}
