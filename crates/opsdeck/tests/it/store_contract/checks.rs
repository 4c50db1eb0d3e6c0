//! Contract tests for the health-check history, on both backends: samples and status
//! changes read back by window and by check, the latest change per check, and compaction,
//! which must agree with the domain's `downsample`. Times are whole milliseconds and
//! latencies whole microseconds, the precision both backends keep.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::Store;
use opsdeck_core::health::{self, CheckResult, Sample, Status, StatusChange};
use opsdeck_core::ids::CheckName;

use crate::support::contract::contract;

contract! {
    store: [
        samples_are_read_back_in_their_window,
        status_changes_are_read_back_in_their_window,
        window_bounds_between_milliseconds_meet_the_stored_millisecond,
        latest_status_change_per_check,
        compaction_agrees_with_downsample_and_removes_raw_rows,
        compaction_is_idempotent_and_keeps_status_changes,
        late_samples_merge_into_their_compacted_bucket,
        compaction_expires_old_buckets,
        checks_are_kept_apart,
    ],
    db: [],
}

const FIVE_MIN: Duration = Duration::from_secs(300);

/// A multiple of five minutes, so buckets start at `at(0)`, `at(300)`, …
fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

fn name(text: &str) -> CheckName {
    CheckName::parse(text).unwrap()
}

fn result(check: &str, status: Status, seconds: i64, latency_us: u64) -> CheckResult {
    CheckResult {
        name: name(check),
        status,
        latency: Duration::from_micros(latency_us),
        observed_value: Some(1.5),
        observed_unit: Some("ms".into()),
        output: (status != Status::Pass).then(|| "connection refused".into()),
        at: at(seconds),
    }
}

fn change(check: &str, from: Option<Status>, to: Status, seconds: i64) -> StatusChange {
    StatusChange {
        name: name(check),
        from,
        to,
        at: at(seconds),
        output: (to != Status::Pass).then(|| format!("{to} since {seconds}")),
    }
}

/// Ten minutes of 15-second probes of `check`, latencies and statuses varying.
fn probes(check: &str) -> Vec<CheckResult> {
    (0..40)
        .map(|i| {
            let status = Status::ALL[usize::try_from(i % 7).unwrap() % 3];
            result(check, status, i * 15, 1_000 + (i as u64 * 7_919) % 5_000)
        })
        .collect()
}

async fn record(store: &Arc<dyn Store>, results: &[CheckResult]) {
    for result in results {
        store.record_check_sample(result).await.unwrap();
    }
}

async fn samples(store: &Arc<dyn Store>, check: &str) -> Vec<Sample> {
    store
        .check_samples(&name(check), at(-1_000_000), at(1_000_000))
        .await
        .unwrap()
}

async fn samples_are_read_back_in_their_window(store: Arc<dyn Store>) {
    let results = [
        result("db", Status::Pass, 30, 2_500),
        result("db", Status::Fail, 0, 3_000_123),
        result("db", Status::Warn, 15, 700),
    ];
    record(&store, &results).await;
    let all = samples(&store, "db").await;
    let mut expected: Vec<Sample> = results.iter().map(Sample::from_result).collect();
    expected.sort_by_key(|s| s.at);
    assert_eq!(all, expected, "oldest first, as recorded");
    assert_eq!((all[0].failed, all[0].worst), (1, Status::Fail));

    let window = store
        .check_samples(&name("db"), at(15), at(30))
        .await
        .unwrap();
    assert_eq!(window, [expected[1]], "since included, until excluded");
}

async fn status_changes_are_read_back_in_their_window(store: Arc<dyn Store>) {
    let changes = [
        change("db", None, Status::Pass, 0),
        change("db", Some(Status::Pass), Status::Fail, 60),
        change("db", Some(Status::Fail), Status::Warn, 120),
        change("db", Some(Status::Warn), Status::Pass, 180),
    ];
    for c in &changes {
        store.record_status_change(c).await.unwrap();
    }
    let db = name("db");
    assert_eq!(
        store.status_changes(&db, at(60), at(180)).await.unwrap(),
        changes[1..3]
    );
    assert_eq!(
        store.status_change_before(&db, at(60)).await.unwrap(),
        Some(changes[0].clone())
    );
    assert_eq!(store.status_change_before(&db, at(0)).await.unwrap(), None);

    let window = (at(30), at(210));
    let mut history: Vec<StatusChange> = store
        .status_change_before(&db, window.0)
        .await
        .unwrap()
        .into_iter()
        .collect();
    history.extend(store.status_changes(&db, window.0, window.1).await.unwrap());
    assert_eq!(health::uptime(&history, window), Some(2.0 / 3.0));
}

/// A window bound between two milliseconds (as `now` is) is compared with the time kept, to
/// the millisecond, as it reads back: a change stored at `t` is before `t + 0.5 ms`, so a
/// window starting there leaves it out and one ending there takes it in.
async fn window_bounds_between_milliseconds_meet_the_stored_millisecond(store: Arc<dyn Store>) {
    let stored = change("db", None, Status::Fail, 60);
    store.record_status_change(&stored).await.unwrap();
    let sample = result("db", Status::Fail, 60, 1_000);
    record(&store, std::slice::from_ref(&sample)).await;
    let db = name("db");
    let between = at(60) + chrono::Duration::microseconds(500);

    assert_eq!(
        store.status_changes(&db, between, at(120)).await.unwrap(),
        [],
        "since just after the change"
    );
    assert_eq!(
        store.status_changes(&db, at(0), between).await.unwrap(),
        std::slice::from_ref(&stored),
        "until just after the change"
    );
    assert_eq!(
        store.status_change_before(&db, between).await.unwrap(),
        Some(stored)
    );
    assert_eq!(
        store.check_samples(&db, between, at(120)).await.unwrap(),
        [],
        "since just after the sample"
    );
    assert_eq!(
        store.check_samples(&db, at(0), between).await.unwrap(),
        [Sample::from_result(&sample)],
        "until just after the sample"
    );
}

async fn latest_status_change_per_check(store: Arc<dyn Store>) {
    assert!(store.latest_status_changes().await.unwrap().is_empty());
    let changes = [
        change("web", None, Status::Pass, 0),
        change("db", None, Status::Pass, 0),
        change("db", Some(Status::Pass), Status::Fail, 60),
        change("web", Some(Status::Pass), Status::Warn, 30),
        // Same instant: the one recorded last is the latest.
        change("db", Some(Status::Fail), Status::Warn, 60),
    ];
    for c in &changes {
        store.record_status_change(c).await.unwrap();
    }
    assert_eq!(
        store.latest_status_changes().await.unwrap(),
        [changes[4].clone(), changes[3].clone()],
        "one per check, by name"
    );
}

async fn compaction_agrees_with_downsample_and_removes_raw_rows(store: Arc<dyn Store>) {
    let results = probes("db");
    record(&store, &results).await;
    let raw: Vec<Sample> = results.iter().map(Sample::from_result).collect();

    // The first five minutes are compacted; the rest stay raw.
    let removed = store
        .compact_check_samples(at(300), at(-86_400), FIVE_MIN)
        .await
        .unwrap();
    assert_eq!(removed, 20);
    let mut expected = health::downsample(&raw[..20], FIVE_MIN);
    expected.extend_from_slice(&raw[20..]);
    let stored = samples(&store, "db").await;
    assert_eq!(stored, expected);
    assert_eq!(stored[0].count, 20);
    assert!(!stored[0].raw && stored[1..].iter().all(|s| s.raw));
}

async fn compaction_is_idempotent_and_keeps_status_changes(store: Arc<dyn Store>) {
    record(&store, &probes("db")).await;
    let flip = change("db", None, Status::Fail, -86_400 * 800);
    store.record_status_change(&flip).await.unwrap();

    assert_eq!(
        store
            .compact_check_samples(at(600), at(-86_400), FIVE_MIN)
            .await
            .unwrap(),
        40
    );
    let once = samples(&store, "db").await;
    assert_eq!(once.len(), 2);
    assert_eq!(once.iter().map(|s| s.count).sum::<u32>(), 40);
    assert_eq!(
        store
            .compact_check_samples(at(600), at(-86_400), FIVE_MIN)
            .await
            .unwrap(),
        0
    );
    assert_eq!(samples(&store, "db").await, once);
    assert_eq!(
        store.latest_status_changes().await.unwrap(),
        [flip],
        "a status change older than every cutoff stays"
    );
}

async fn late_samples_merge_into_their_compacted_bucket(store: Arc<dyn Store>) {
    let early = [
        result("db", Status::Pass, 0, 5_000),
        result("db", Status::Pass, 15, 6_000),
    ];
    record(&store, &early).await;
    store
        .compact_check_samples(at(300), at(-86_400), FIVE_MIN)
        .await
        .unwrap();
    let late = result("db", Status::Fail, 30, 100);
    record(&store, std::slice::from_ref(&late)).await;
    store
        .compact_check_samples(at(300), at(-86_400), FIVE_MIN)
        .await
        .unwrap();

    let all: Vec<Sample> = early
        .iter()
        .chain([&late])
        .map(Sample::from_result)
        .collect();
    assert_eq!(
        samples(&store, "db").await,
        health::downsample(&all, FIVE_MIN),
        "one bucket, as if compacted at once"
    );
}

async fn compaction_expires_old_buckets(store: Arc<dyn Store>) {
    record(&store, &probes("db")).await;
    store
        .compact_check_samples(at(600), at(-86_400), FIVE_MIN)
        .await
        .unwrap();
    // The bucket at(0) is older than keep_after; the one at(300) is not.
    assert_eq!(
        store
            .compact_check_samples(at(600), at(300), FIVE_MIN)
            .await
            .unwrap(),
        1
    );
    let left = samples(&store, "db").await;
    assert_eq!(left.iter().map(|s| s.at).collect::<Vec<_>>(), [at(300)]);
}

async fn checks_are_kept_apart(store: Arc<dyn Store>) {
    record(&store, &probes("db")).await;
    record(&store, &[result("web", Status::Warn, 5, 42)]).await;
    store
        .record_status_change(&change("web", None, Status::Warn, 5))
        .await
        .unwrap();
    store
        .compact_check_samples(at(600), at(-86_400), FIVE_MIN)
        .await
        .unwrap();

    let web = samples(&store, "web").await;
    assert_eq!(web.len(), 1, "{web:?}");
    assert_eq!((web[0].count, web[0].worst), (1, Status::Warn));
    assert_eq!(web[0].min, Duration::from_micros(42));
    let db = samples(&store, "db").await;
    assert_eq!(db.iter().map(|s| s.count).sum::<u32>(), 40);
    assert!(
        store
            .status_changes(&name("db"), at(0), at(600))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(samples(&store, "nothing").await.is_empty());
}
