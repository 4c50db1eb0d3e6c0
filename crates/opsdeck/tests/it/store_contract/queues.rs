//! The queue store: each poll's stats replace the last (queues no longer seen are dropped),
//! a failed poll keeps them and says why, history points per queue, and selections that
//! can be taken once, only with their count and before they expire.

use std::collections::BTreeMap;
use std::sync::Arc;

use opsdeck_core::Store;
use opsdeck_core::ids::{JobId, QueueName, SourceName};
use opsdeck_core::queues::{
    BulkAction, Count, JobFilter, JobState, JobSummary, QueueStats, Selection, SelectionClaim,
    SelectionToken, SourceStatus, System,
};

use super::at;
use crate::support::contract::contract;

contract! {
    store: [
        a_poll_replaces_the_view_and_drops_vanished_queues,
        a_failed_poll_keeps_the_last_stats_and_says_why,
        a_selection_is_taken_once_with_its_count_before_it_expires,
        a_push_replaces_one_queue_and_its_reported_failures,
    ],
    db: [],
}

fn source() -> SourceName {
    SourceName::parse("jobs-redis").unwrap()
}

fn stats(queue: &str, waiting: u64, failed: u64, seconds: i64) -> QueueStats {
    let polled_at = at(seconds);
    let counts = BTreeMap::from([
        (
            JobState::Waiting,
            Count {
                value: waiting,
                at: polled_at,
            },
        ),
        (
            JobState::Failed,
            Count {
                value: failed,
                at: at(seconds - 30),
            },
        ),
    ]);
    QueueStats {
        source: source(),
        queue: QueueName::parse(queue).unwrap(),
        system: System::Bullmq,
        counts,
        oldest_waiting_seconds: Some(12.5),
        failures_last_hour: Some(failed),
        paused: Some(false),
        polled_at,
    }
}

fn status(seconds: i64, error: Option<&str>) -> SourceStatus {
    SourceStatus {
        source: source(),
        system: System::Bullmq,
        version: error.is_none().then(|| "bullmq:6.7.6".to_owned()),
        last_success_at: error.is_none().then(|| at(seconds)),
        last_attempt_at: Some(at(seconds)),
        error: error.map(str::to_owned),
    }
}

async fn a_poll_replaces_the_view_and_drops_vanished_queues(store: Arc<dyn Store>) {
    let first = [stats("emails", 5, 1, 10), stats("reports", 0, 3, 10)];
    store
        .record_queue_poll(&status(10, None), &first, true)
        .await
        .unwrap();
    let (sources, view) = store.queue_view().await.unwrap();
    assert_eq!(sources, [status(10, None)]);
    assert_eq!(
        view, first,
        "stats read back exactly, counts with their own times"
    );

    // The next poll no longer sees `reports`.
    let second = [stats("emails", 7, 2, 20)];
    store
        .record_queue_poll(&status(20, None), &second, false)
        .await
        .unwrap();
    let (_, view) = store.queue_view().await.unwrap();
    assert_eq!(view, second);

    store
        .record_queue_poll(&status(80, None), &[stats("emails", 9, 2, 80)], true)
        .await
        .unwrap();
    let emails = QueueName::parse("emails").unwrap();
    let samples = store
        .queue_samples(&source(), &emails, at(0))
        .await
        .unwrap();
    let points: Vec<(i64, u64, u64)> = samples
        .iter()
        .map(|s| ((s.at - at(0)).num_seconds(), s.waiting, s.failed))
        .collect();
    assert_eq!(
        points,
        [(10, 5, 1), (80, 9, 2)],
        "only polls asked to sample"
    );
    assert_eq!(samples[0].oldest_waiting_seconds, Some(12.5));
    assert_eq!(
        store
            .queue_samples(&source(), &emails, at(11))
            .await
            .unwrap()
            .len(),
        1
    );
    let reports = QueueName::parse("reports").unwrap();
    assert_eq!(
        store
            .queue_samples(&source(), &reports, at(0))
            .await
            .unwrap()
            .len(),
        1,
        "history outlives the queue's stats"
    );
    assert_eq!(store.prune_queue_samples(at(50)).await.unwrap(), 2);
}

async fn a_failed_poll_keeps_the_last_stats_and_says_why(store: Arc<dyn Store>) {
    let polled = [stats("emails", 5, 1, 10)];
    store
        .record_queue_poll(&status(10, None), &polled, true)
        .await
        .unwrap();
    store
        .record_queue_poll(&status(40, Some("connection refused")), &[], true)
        .await
        .unwrap();
    let (sources, view) = store.queue_view().await.unwrap();
    assert_eq!(view, polled, "the last stats stay, to be shown stale");
    let source = &sources[0];
    assert_eq!(source.error.as_deref(), Some("connection refused"));
    assert_eq!(source.last_success_at, Some(at(10)));
    assert_eq!(source.last_attempt_at, Some(at(40)));
    assert_eq!(source.version.as_deref(), Some("bullmq:6.7.6"));
    assert!(source.is_stale(at(41), chrono::Duration::seconds(60)));
    // Back: the error clears.
    store
        .record_queue_poll(&status(50, None), &[stats("emails", 1, 1, 50)], false)
        .await
        .unwrap();
    let (sources, _) = store.queue_view().await.unwrap();
    assert_eq!(sources[0].error, None);
    assert!(!sources[0].is_stale(at(51), chrono::Duration::seconds(60)));
}

async fn a_selection_is_taken_once_with_its_count_before_it_expires(store: Arc<dyn Store>) {
    let selection = |token: SelectionToken, expires: i64| Selection {
        token,
        source: source(),
        queue: QueueName::parse("emails").unwrap(),
        action: BulkAction::Retry,
        filter: JobFilter {
            state: JobState::Failed,
            q: Some("SMTP".into()),
            tenant_id: None,
        },
        ids: ["17", "18", "19"]
            .into_iter()
            .map(|id| JobId::parse(id).unwrap())
            .collect(),
        pinned_at: at(0),
        expires_at: at(expires),
        used_at: None,
    };
    let live = selection(SelectionToken::generate(), 600);
    store.create_selection(&live).await.unwrap();
    let (source, emails, other) = (
        source(),
        QueueName::parse("emails").unwrap(),
        QueueName::parse("webhooks").unwrap(),
    );
    let claim = |action: BulkAction, queue: &'static str, expected_count: u64| SelectionClaim {
        source: &source,
        queue: if queue == "emails" { &emails } else { &other },
        action,
        expected_count,
    };
    let retry = |count| claim(BulkAction::Retry, "emails", count);
    assert_eq!(
        store
            .take_selection(&live.token, retry(4), at(1))
            .await
            .unwrap(),
        None,
        "a different count takes nothing"
    );
    assert_eq!(
        store
            .take_selection(&live.token, claim(BulkAction::Discard, "emails", 3), at(1))
            .await
            .unwrap(),
        None,
        "another action takes nothing"
    );
    assert_eq!(
        store
            .take_selection(&live.token, claim(BulkAction::Retry, "webhooks", 3), at(1))
            .await
            .unwrap(),
        None,
        "another queue takes nothing"
    );
    let taken = store
        .take_selection(&live.token, retry(3), at(2))
        .await
        .unwrap()
        .expect("taken with its count");
    assert_eq!(
        taken,
        Selection {
            used_at: Some(at(2)),
            ..live.clone()
        }
    );
    assert_eq!(
        store
            .take_selection(&live.token, retry(3), at(3))
            .await
            .unwrap(),
        None,
        "once only"
    );
    let expiring = selection(SelectionToken::generate(), 60);
    store.create_selection(&expiring).await.unwrap();
    assert_eq!(
        store
            .take_selection(&expiring.token, retry(3), at(60))
            .await
            .unwrap(),
        None,
        "not at its expiry"
    );
    assert_eq!(
        store
            .take_selection(&SelectionToken::generate(), retry(3), at(1))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.prune_selections(at(61)).await.unwrap(), 1);
    assert_eq!(store.prune_selections(at(601)).await.unwrap(), 1);
}

async fn a_push_replaces_one_queue_and_its_reported_failures(store: Arc<dyn Store>) {
    let pushed = |queue: &str, waiting: u64, seconds: i64| QueueStats {
        system: System::Push,
        ..stats(queue, waiting, 1, seconds)
    };
    let failure = |id: &str| JobSummary {
        id: JobId::parse(id).unwrap(),
        queue: QueueName::parse("payments").unwrap(),
        state: JobState::Failed,
        name: Some("charge".into()),
        attempts: Some(3),
        max_attempts: Some(3),
        created_at: None,
        at: Some(at(5)),
        error: Some("card declined".into()),
        tenant_id: None,
    };
    let status = |seconds: i64| SourceStatus {
        system: System::Push,
        version: None,
        ..status(seconds, None)
    };
    store
        .record_queue_push(&status(10), &pushed("payments", 4, 10), &[failure("m-1")])
        .await
        .unwrap();
    store
        .record_queue_push(&status(20), &pushed("refunds", 1, 20), &[])
        .await
        .unwrap();
    // A second snapshot of the same minute replaces the stats and failures, not the point.
    store
        .record_queue_push(
            &status(30),
            &pushed("payments", 9, 30),
            &[failure("m-2"), failure("m-3")],
        )
        .await
        .unwrap();
    let (sources, view) = store.queue_view().await.unwrap();
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0].last_success_at, Some(at(30)));
    let waiting: Vec<(String, u64)> = view
        .iter()
        .map(|q| (q.queue.to_string(), q.backlog()))
        .collect();
    assert_eq!(waiting, [("payments".into(), 9), ("refunds".into(), 1)]);
    let payments = QueueName::parse("payments").unwrap();
    let jobs = store.pushed_jobs(&source(), &payments).await.unwrap();
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["m-2", "m-3"]);
    assert_eq!(jobs[0], failure("m-2"));
    let points = store
        .queue_samples(&source(), &payments, at(0))
        .await
        .unwrap();
    assert_eq!(points.len(), 1, "one point for the minute: {points:?}");
    assert_eq!(points[0].waiting, 4, "the minute's first snapshot");
    assert!(
        store
            .pushed_jobs(&source(), &QueueName::parse("none").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}
