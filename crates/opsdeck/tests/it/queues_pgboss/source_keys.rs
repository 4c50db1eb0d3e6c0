//! The keys of a pg-boss source: `queues` limits what it shows and acts on, bad keys are
//! refused, and `tenant_path` can name a 12.x job's group.

use super::*;

#[tokio::test]
async fn pgboss_a_queue_list_limits_the_source_and_bad_keys_are_refused() {
    let Some(pb) = install(Version::V12).await else {
        return;
    };
    let mut keys = pb.keys();
    keys.queues = Some(vec!["charge".into()]);
    let context = SourceContext {
        source: SourceName::parse("pb").unwrap(),
        tenant_path: None,
        read_timeout: Duration::from_secs(5),
    };
    let conn = keys.connect(context).await.unwrap();
    let poll = conn.poll(true).await.unwrap();
    let shown: Vec<&str> = poll.queues.iter().map(|q| q.queue.as_str()).collect();
    assert_eq!(shown, ["charge"]);
    let email = conn
        .list_jobs(&name("email"), &query(JobState::Failed, 5))
        .await;
    assert!(matches!(email, Err(QueueError::NotFound(_))), "{email:?}");
    let guard = ActGuard {
        state: JobState::Failed,
        failed_not_after: None,
    };
    let id = JobId::parse(&uuid::Uuid::new_v4().to_string()).unwrap();
    let refused = conn.retry(&name("email"), &[id], guard).await;
    assert!(
        matches!(refused, Err(QueueError::NotFound(_))),
        "{refused:?}"
    );
    assert_eq!(
        pb.idle_in_transaction().await,
        0,
        "a refused call ends its transaction"
    );

    let mut bad = pb.keys();
    bad.schema = "pg boss; drop".into();
    bad.queues = Some(Vec::new());
    let problems = bad.validate();
    let keys: Vec<&str> = problems.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(keys, ["schema", "queues"], "{problems:?}");
}

#[tokio::test]
async fn pgboss12_the_tenant_can_be_a_jobs_group() {
    let Some(pb) = install(Version::V12).await else {
        return;
    };
    let acme = pb
        .send_one("charge", json!({"n": 1}), json!({"group": {"id": "acme"}}))
        .await;
    pb.send_one(
        "charge",
        json!({"n": 2}),
        json!({"group": {"id": "globex"}}),
    )
    .await;
    pb.work_once(&["charge"], Outcome::Fail("declined")).await;
    let context = SourceContext {
        source: SourceName::parse("pb").unwrap(),
        tenant_path: Some(TenantPath::parse("group_id").unwrap()),
        read_timeout: Duration::from_secs(5),
    };
    let conn = pb.keys().connect(context).await.unwrap();
    let mut by_tenant = query(JobState::Failed, 10);
    by_tenant.filter.tenant_id = Some(TenantId::parse("acme").unwrap());
    let page = conn.list_jobs(&name("charge"), &by_tenant).await.unwrap();
    assert_eq!(ids_of(&page), std::slice::from_ref(&acme));
    assert_eq!(
        page.jobs[0].tenant_id.as_ref().map(TenantId::as_str),
        Some("acme")
    );
    let selected = conn
        .select(&name("charge"), &by_tenant.filter, 10)
        .await
        .unwrap();
    assert_eq!(selected.len(), 1);
}
