//! Dead-lettered jobs: pg-boss 12 records where one came from, and a retry sends it back
//! there once, as its own `redrive()` does; pg-boss 10 records nothing, so its copies are
//! plain waiting jobs.

use super::*;

#[tokio::test]
async fn pgboss12_a_dead_lettered_job_is_sent_back_to_its_queue_once() {
    let Some(pb) = install(Version::V12).await else {
        return;
    };
    let original = pb
        .send_one("charge", json!({"tenantId": "acme", "n": 1}), json!({}))
        .await;
    pb.work_once(&["charge"], Outcome::Fail("declined")).await;
    let conn = connector(&pb).await;
    let dlq = name("dlq");
    let dead = conn
        .list_jobs(&dlq, &query(JobState::Dead, 10))
        .await
        .unwrap();
    assert_eq!(dead.jobs.len(), 1, "{dead:?}");
    let copy = dead.jobs[0].id.clone();
    let detail = conn.get_job(&dlq, &copy).await.unwrap().unwrap();
    assert!(
        detail
            .options
            .contains(&("dead_lettered_from".to_owned(), "charge".to_owned())),
        "{detail:?}"
    );
    assert!(
        detail
            .options
            .contains(&("dead_lettered_job".to_owned(), original.clone())),
        "{detail:?}"
    );

    let app = app_for(&pb, |_| {}).await;
    let operator = principal(Role::Operator);
    let caller = Caller::new(&operator, None, None);
    let reason = Reason::parse("PSP fixed, redrive").unwrap();
    let ops = app.state.ops();
    let redrive = || {
        queues::retry_job(
            &app.state,
            ops.act(&caller, &reason),
            "pb",
            "dlq",
            copy.as_str(),
        )
    };
    assert_eq!(redrive().await.unwrap().result, "done");
    assert_eq!(
        pb.state(copy.as_str()).await,
        None,
        "out of the dead-letter queue"
    );
    let back = "SELECT count(*) FROM {s}.job WHERE name = 'charge' AND state = 'created' \
         AND data->>'tenantId' = 'acme' AND source_root_id IS NOT NULL";
    assert_eq!(pb.count(back).await, 1, "back in its queue, once");
    let again = redrive().await.unwrap_err();
    assert_eq!(again.status(), 404, "gone from the dead-letter queue");
    pb.work_once(&["charge"], Outcome::Succeed).await;
    let ran = "SELECT count(*) FROM {s}.test_runs r JOIN {s}.job j ON j.id = r.job_id \
         WHERE j.name = 'charge' AND r.ok";
    assert_eq!(pb.count(ran).await, 1, "the redriven job ran once");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn pgboss10_dead_lettered_jobs_record_no_origin_and_stay_waiting() {
    let Some(pb) = install(Version::V10).await else {
        return;
    };
    pb.send_one("charge", json!({"n": 1}), json!({})).await;
    pb.work_once(&["charge"], Outcome::Fail("declined")).await;
    let conn = connector(&pb).await;
    let dlq = name("dlq");
    let dead = conn
        .list_jobs(&dlq, &query(JobState::Dead, 10))
        .await
        .unwrap();
    assert!(dead.jobs.is_empty(), "{dead:?}");
    let waiting = conn
        .list_jobs(&dlq, &query(JobState::Waiting, 10))
        .await
        .unwrap();
    assert_eq!(waiting.jobs.len(), 1, "{waiting:?}");
    let guard = ActGuard {
        state: JobState::Waiting,
        failed_not_after: None,
    };
    let report = conn
        .retry(&dlq, &[waiting.jobs[0].id.clone()], guard)
        .await
        .unwrap();
    assert!(report.done.is_empty(), "{report:?}");
}
