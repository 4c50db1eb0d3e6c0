//! A bulk action larger than one chunk: every job moves, each chunk its own transaction, and
//! a second run moves none. An action whose last chunk moves nothing after earlier chunks
//! moved jobs waits for PostgreSQL to flush them (only a last chunk's commit waits for the
//! disk) and answers what it did.

use super::*;

async fn a_bulk_retry_runs_in_chunks(version: Version) {
    let Some(pb) = install(version).await else {
        return;
    };
    // One chunk and a bit more.
    let jobs: Vec<Value> = (0..2_050)
        .map(|n| json!({"name": "charge", "data": {"n": n}}))
        .collect();
    pb.send(Value::Array(jobs)).await;
    pb.work_once(&["charge"], Outcome::Fail("declined")).await;
    let conn = connector(&pb).await;
    let charge = name("charge");
    let filter = query(JobState::Failed, 50).filter;
    let ids = conn.select(&charge, &filter, 10_000).await.unwrap();
    assert_eq!(ids.len(), 2_050);
    let guard = ActGuard {
        state: JobState::Failed,
        failed_not_after: Some(chrono::Utc::now()),
    };
    let report = conn.retry(&charge, &ids, guard).await.unwrap();
    assert_eq!(report.done.len(), 2_050, "{:?}", report.skipped);
    assert!(report.longest_step > Duration::ZERO);
    let retried = "SELECT count(*) FROM {s}.job WHERE name = 'charge' AND state = 'retry' \
         AND retry_limit = 1";
    assert_eq!(pb.count(retried).await, 2_050);
    let again = conn.retry(&charge, &ids, guard).await.unwrap();
    assert!(again.done.is_empty());
    assert_eq!(again.skipped.len(), 2_050);
    assert!(
        again
            .skipped
            .iter()
            .all(|(_, skip)| skip.as_str() == "moved")
    );

    // They fail again; retry a first chunk of them with a last chunk of jobs that do not
    // exist.
    pb.work_once(&["charge"], Outcome::Fail("declined again"))
        .await;
    let failed = "SELECT count(*) FROM {s}.job WHERE name = 'charge' AND state = 'failed'";
    assert_eq!(pb.count(failed).await, 2_050);
    let mut mixed = ids[..2_000].to_vec();
    mixed.extend((0..50).map(|_| JobId::parse(&uuid::Uuid::new_v4().to_string()).unwrap()));
    let guard = ActGuard {
        state: JobState::Failed,
        failed_not_after: Some(chrono::Utc::now()),
    };
    let report = conn.retry(&charge, &mixed, guard).await.unwrap();
    assert_eq!(report.done.len(), 2_000, "{:?}", report.skipped);
    assert_eq!(report.skipped.len(), 50);
    assert!(
        report
            .skipped
            .iter()
            .all(|(_, skip)| skip.as_str() == "gone")
    );
    assert_eq!(pb.count(failed).await, 50);
}

#[tokio::test]
async fn pgboss12_a_bulk_retry_runs_in_chunks_and_a_second_moves_nothing() {
    a_bulk_retry_runs_in_chunks(Version::V12).await;
}

#[tokio::test]
async fn pgboss10_a_bulk_retry_runs_in_chunks_and_a_second_moves_nothing() {
    a_bulk_retry_runs_in_chunks(Version::V10).await;
}
