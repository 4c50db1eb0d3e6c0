use std::time::Duration;

use super::*;
use crate::health::Status;
use crate::health::tests::{at, result_at};
use crate::ids::CheckName;

fn change(to: Status, seconds: i64) -> StatusChange {
    StatusChange {
        name: CheckName::parse("db").unwrap(),
        from: None,
        to,
        at: at(seconds),
        output: None,
    }
}

#[test]
fn uptime_counts_pass_and_warn_as_up() {
    let changes = [
        change(Status::Pass, 0),
        change(Status::Fail, 50),
        change(Status::Warn, 75),
    ];
    assert_eq!(uptime(&changes, (at(0), at(100))), Some(0.75));
}

#[test]
fn uptime_carries_the_status_in_effect_at_the_window_start() {
    let changes = [change(Status::Fail, -1_000), change(Status::Pass, 10)];
    assert_eq!(uptime(&changes, (at(0), at(40))), Some(0.75));
}

#[test]
fn uptime_leaves_out_time_before_the_first_change() {
    let changes = [change(Status::Pass, 60), change(Status::Fail, 90)];
    assert_eq!(uptime(&changes, (at(0), at(100))), Some(0.75));
}

#[test]
fn uptime_ignores_changes_after_the_window() {
    let changes = [change(Status::Pass, 0), change(Status::Fail, 500)];
    assert_eq!(uptime(&changes, (at(0), at(100))), Some(1.0));
}

#[test]
fn uptime_without_known_time_is_none() {
    assert_eq!(uptime(&[], (at(0), at(100))), None);
    assert_eq!(uptime(&[change(Status::Pass, 200)], (at(0), at(100))), None);
    assert_eq!(uptime(&[change(Status::Pass, 0)], (at(10), at(10))), None);
}

#[test]
fn percentile_is_nearest_rank() {
    let mut samples = [15.0, 20.0, 35.0, 40.0, 50.0];
    assert_eq!(percentile(&mut samples, 5.0), Some(15.0));
    assert_eq!(percentile(&mut samples, 30.0), Some(20.0));
    assert_eq!(percentile(&mut samples, 40.0), Some(20.0));
    assert_eq!(percentile(&mut samples, 50.0), Some(35.0));
    assert_eq!(percentile(&mut samples, 100.0), Some(50.0));
    assert_eq!(percentile(&mut samples, 0.0), Some(15.0));
}

#[test]
fn percentile_sorts_its_input_and_refuses_nonsense() {
    let mut samples = [3.0, 1.0, 2.0];
    assert_eq!(percentile(&mut samples, 50.0), Some(2.0));
    assert_eq!(samples, [1.0, 2.0, 3.0]);
    assert_eq!(percentile(&mut [], 50.0), None);
    assert_eq!(percentile(&mut samples, 101.0), None);
    assert_eq!(percentile(&mut samples, f64::NAN), None);
}

fn sample(latency_ms: u64) -> Sample {
    let mut result = result_at(Status::Pass, 0);
    result.latency = Duration::from_millis(latency_ms);
    Sample::from_result(&result)
}

#[test]
fn latency_percentile_of_raw_samples_is_exact() {
    let samples: Vec<Sample> = (1..=100).rev().map(sample).collect();
    let ms = Duration::from_millis;
    assert_eq!(latency_percentile(&samples, 50.0), Some(ms(50)));
    assert_eq!(latency_percentile(&samples, 95.0), Some(ms(95)));
    assert_eq!(latency_percentile(&[], 95.0), None);
}

#[test]
fn latency_percentile_weighs_aggregates_by_count() {
    let mut slow = sample(100);
    for _ in 0..8 {
        slow.merge(&sample(100));
    }
    let samples = [sample(1), slow];
    assert_eq!(
        latency_percentile(&samples, 10.0),
        Some(Duration::from_millis(1))
    );
    assert_eq!(
        latency_percentile(&samples, 50.0),
        Some(Duration::from_millis(100))
    );
}
