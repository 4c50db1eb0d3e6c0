use std::time::Duration;

use super::*;
use crate::health::tests::{at, result_at};

const FIVE_MIN: Duration = Duration::from_secs(300);

fn raw(status: Status, seconds: i64, latency_ms: u64) -> Sample {
    let mut result = result_at(status, seconds);
    result.latency = Duration::from_millis(latency_ms);
    Sample::from_result(&result)
}

#[test]
fn raw_sample_is_one_result_to_the_microsecond() {
    let mut result = result_at(Status::Fail, 7);
    result.latency = Duration::new(1, 234_567_891);
    let sample = Sample::from_result(&result);
    assert!(sample.raw);
    assert_eq!((sample.count, sample.failed), (1, 1));
    assert_eq!(sample.min, Duration::new(1, 234_567_000));
    assert_eq!(sample.total, sample.max);
    assert_eq!(Sample::from_result(&result_at(Status::Warn, 0)).failed, 0);
}

#[test]
fn buckets_are_aligned_to_the_epoch() {
    // at(0) is 12:00:00, a multiple of five minutes.
    assert_eq!(bucket_start(at(0), FIVE_MIN), at(0));
    assert_eq!(bucket_start(at(299), FIVE_MIN), at(0));
    assert_eq!(bucket_start(at(300), FIVE_MIN), at(300));
    assert_eq!(bucket_start(at(-1), FIVE_MIN), at(-300));
    assert_eq!(
        bucket_start(at(17), Duration::ZERO),
        at(17),
        "at least 1 ms"
    );
}

#[test]
fn downsampling_keeps_count_extremes_total_and_worst() {
    let samples = [
        raw(Status::Pass, 310, 30),
        raw(Status::Pass, 0, 10),
        raw(Status::Fail, 15, 40),
        raw(Status::Warn, 30, 20),
    ];
    let buckets = downsample(&samples, FIVE_MIN);
    assert_eq!(buckets.len(), 2, "{buckets:?}");
    let first = buckets[0];
    assert_eq!(first.at, at(0));
    assert!(!first.raw);
    assert_eq!(
        (first.count, first.failed, first.worst),
        (3, 1, Status::Fail)
    );
    assert_eq!(first.min, Duration::from_millis(10));
    assert_eq!(first.max, Duration::from_millis(40));
    assert_eq!(first.total, Duration::from_millis(70));
    assert_eq!(buckets[1].at, at(300));
    assert_eq!(buckets[1].count, 1);
    assert_eq!(buckets[1].mean(), Duration::from_millis(30));
}

#[test]
fn downsampling_again_changes_nothing() {
    let samples: Vec<Sample> = (0..100)
        .map(|i| raw(Status::ALL[(i % 3) as usize], i * 15, 5 + (i as u64 % 7)))
        .collect();
    let once = downsample(&samples, FIVE_MIN);
    assert_eq!(downsample(&once, FIVE_MIN), once);
}

#[test]
fn merging_in_parts_equals_merging_at_once() {
    let samples: Vec<Sample> = (0..40)
        .map(|i| raw(Status::Pass, i * 15, 1 + i as u64))
        .collect();
    let (early, late) = samples.split_at(13);
    let mut parts = downsample(early, FIVE_MIN);
    parts.extend(late.iter().copied());
    assert_eq!(downsample(&parts, FIVE_MIN), downsample(&samples, FIVE_MIN));
}

#[test]
fn empty_input_gives_no_buckets() {
    assert!(downsample(&[], FIVE_MIN).is_empty());
}

#[test]
fn cutoffs_fall_on_a_bucket_boundary() {
    let retention = Retention::default();
    let now = at(3 * 86_400 + 123);
    let (raw_before, keep_after) = retention.cutoffs(now);
    assert_eq!(raw_before, bucket_start(raw_before, retention.bucket));
    assert!(raw_before <= now - chrono::Duration::days(8));
    assert!(now - chrono::Duration::days(8) - raw_before < chrono::Duration::minutes(5));
    assert_eq!(keep_after, now - chrono::Duration::days(400));
}

#[test]
fn a_year_of_fifteen_second_probes_stays_bounded() {
    let rows = Retention::default().max_rows(Duration::from_secs(15));
    let unbounded: u128 = 365 * 86_400 / 15;
    assert!(rows < 200_000, "{rows}");
    assert!(rows < unbounded / 10, "{rows} of {unbounded}");
}
