//! Contract tests for cron monitors, on both backends: creating, reading, listing,
//! updating, pausing, upserting and deleting them.

use std::sync::Arc;
use std::time::Duration;

use opsdeck_core::cron::{
    LogAppend, MonitorFilter, MonitorSource, MonitorSpec, MonitorState, MonitorStatus, RunStatus,
    Schedule, Upserted,
};
use opsdeck_core::ids::{Tags, TenantId};
use opsdeck_core::{Store, StoreError};

use super::{Rebuild, at, create, full_spec, get, run, slug, spec, state_with, step};
use crate::support::contract::contract;

contract! {
    store: [
        created_monitor_reads_back_exactly,
        slugs_are_unique,
        lists_filter_by_status_tag_and_tenant_by_slug,
        update_replaces_the_spec_and_keeps_the_state,
        pause_and_resume_keep_the_state,
        unknown_slugs_are_not_found,
        upsert_creates_updates_or_leaves_alone_and_keeps_paused,
        delete_takes_the_runs_and_logs_along,
    ],
    db: [],
}

async fn created_monitor_reads_back_exactly(store: Arc<dyn Store>) {
    let full = full_spec("billing-sync");
    let created = create(&store, &full).await;
    assert_eq!(created.spec, full);
    assert_eq!(created.source, MonitorSource::Api);
    assert_eq!((created.created_at, created.updated_at), (at(0), at(0)));
    assert_eq!(created.state, MonitorState::default());
    assert_eq!(created.version, 1);
    assert_eq!(
        created.next_check_at,
        Some(at(0)),
        "a new spec is due at once"
    );
    assert_eq!(created.status_since, None);
    assert_eq!(created.last_run, None);
    assert_eq!(created.last_success_at, None);
    assert_eq!(get(&store, "billing-sync").await, created);

    let every = Schedule::every(Duration::from_secs(90)).unwrap();
    let interval = spec("heartbeat").rebuilt(every, |s| s.paused = true);
    assert_eq!(create(&store, &interval).await.spec, interval);
    assert_eq!(get(&store, "heartbeat").await.spec, interval);
    assert_eq!(store.get_monitor(&slug("nobody")).await.unwrap(), None);
}

async fn slugs_are_unique(store: Arc<dyn Store>) {
    let first = create(&store, &spec("backup")).await;
    let again = store
        .create_monitor(&full_spec("backup"), MonitorSource::Ping, at(5))
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(get(&store, "backup").await, first, "the first is untouched");
}

async fn lists_filter_by_status_tag_and_tenant_by_slug(store: Arc<dyn Store>) {
    let tagged = |text: &str, tags: &[&str], tenant: Option<&str>| {
        let cron = Schedule::cron("0 * * * *", None).unwrap();
        spec(text).rebuilt(cron, |s| {
            s.tags = Tags::parse(tags).unwrap();
            s.tenant_id = tenant.map(|t| TenantId::parse(t).unwrap());
        })
    };
    create(
        &store,
        &tagged("c-report", &["team:billing", "env=prod"], Some("other")),
    )
    .await;
    let a = create(&store, &tagged("a-backup", &["team:billing"], Some("acme"))).await;
    create(&store, &tagged("b-mailer", &["team:web"], None)).await;
    let c = get(&store, "c-report").await;
    store
        .apply_outcome(&step(&c, state_with(MonitorStatus::Down, 2), vec![]))
        .await
        .unwrap();
    store
        .apply_outcome(&step(&a, state_with(MonitorStatus::Up, 0), vec![]))
        .await
        .unwrap();

    let list = |filter: MonitorFilter| {
        let store = store.clone();
        async move {
            let listed = store.list_monitors(&filter, None, 500).await.unwrap();
            listed
                .monitors
                .into_iter()
                .map(|m| m.spec.slug().to_string())
                .collect::<Vec<_>>()
        }
    };
    let tag = |t: &str| Some(t.to_owned());
    let all = MonitorFilter::default();
    assert_eq!(
        list(all.clone()).await,
        ["a-backup", "b-mailer", "c-report"]
    );
    let billing = MonitorFilter {
        tag: tag("team:billing"),
        ..all.clone()
    };
    assert_eq!(list(billing.clone()).await, ["a-backup", "c-report"]);
    let acme = MonitorFilter {
        tenant_id: Some(TenantId::parse("acme").unwrap()),
        ..all.clone()
    };
    assert_eq!(list(acme).await, ["a-backup"]);
    let down = MonitorFilter {
        status: Some(MonitorStatus::Down),
        ..all.clone()
    };
    assert_eq!(list(down).await, ["c-report"]);
    let billing_up = MonitorFilter {
        status: Some(MonitorStatus::Up),
        ..billing
    };
    assert_eq!(list(billing_up).await, ["a-backup"]);
    let part_of_a_tag = MonitorFilter {
        tag: tag("team"),
        ..all
    };
    assert_eq!(list(part_of_a_tag).await, Vec::<String>::new());
}

async fn update_replaces_the_spec_and_keeps_the_state(store: Arc<dyn Store>) {
    let created = create(&store, &spec("backup")).await;
    let state = state_with(MonitorStatus::Late, 1);
    store
        .apply_outcome(&step(&created, state.clone(), vec![]))
        .await
        .unwrap();
    let stepped = get(&store, "backup").await;

    let changed = full_spec("backup");
    let updated = store.update_monitor(&changed, at(50)).await.unwrap();
    assert_eq!(updated.spec, changed);
    assert_eq!(updated.state, state);
    assert_eq!(updated.version, stepped.version + 1);
    assert_eq!((updated.created_at, updated.updated_at), (at(0), at(50)));
    assert_eq!(updated.source, MonitorSource::Api);
    assert_eq!(
        updated.next_check_at,
        Some(at(50)),
        "due under the new spec"
    );
    assert_eq!(get(&store, "backup").await, updated);

    // A step computed under the old spec must not land.
    let stale = store
        .apply_outcome(&step(&stepped, MonitorState::default(), vec![]))
        .await;
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "{stale:?}");
}

async fn pause_and_resume_keep_the_state(store: Arc<dyn Store>) {
    let created = create(&store, &spec("backup")).await;
    let state = state_with(MonitorStatus::Up, 0);
    store
        .apply_outcome(&step(&created, state.clone(), vec![]))
        .await
        .unwrap();
    let paused = store
        .set_monitor_paused(&slug("backup"), true, at(60))
        .await
        .unwrap();
    assert!(paused.spec.is_paused());
    assert_eq!(paused.state, state, "the evaluator settles the status");
    assert_eq!(paused.version, 3);
    assert_eq!(
        (paused.updated_at, paused.next_check_at),
        (at(60), Some(at(60)))
    );
    assert_eq!(get(&store, "backup").await, paused);

    let resumed = store
        .set_monitor_paused(&slug("backup"), false, at(70))
        .await
        .unwrap();
    assert!(!resumed.spec.is_paused());
    assert_eq!(resumed.spec, spec("backup"));
    assert_eq!(resumed.version, 4);
}

async fn unknown_slugs_are_not_found(store: Arc<dyn Store>) {
    let paused = store.set_monitor_paused(&slug("nobody"), true, at(0)).await;
    assert!(matches!(paused, Err(StoreError::NotFound)), "{paused:?}");
    let updated = store.update_monitor(&spec("nobody"), at(0)).await;
    assert!(matches!(updated, Err(StoreError::NotFound)), "{updated:?}");
    assert!(!store.delete_monitor(&slug("nobody")).await.unwrap());
}

async fn upsert_creates_updates_or_leaves_alone_and_keeps_paused(store: Arc<dyn Store>) {
    let upsert = |spec: MonitorSpec, source, seconds| {
        let store = store.clone();
        async move {
            store
                .upsert_monitor(&spec, source, at(seconds))
                .await
                .unwrap()
        }
    };
    let config = MonitorSource::Config;
    assert_eq!(upsert(spec("backup"), config, 0).await, Upserted::Created);
    let created = get(&store, "backup").await;
    assert_eq!((created.version, created.source), (1, config));
    assert_eq!(created.state, MonitorState::default());

    assert_eq!(
        upsert(spec("backup"), config, 10).await,
        Upserted::Unchanged
    );
    assert_eq!(get(&store, "backup").await, created, "nothing was written");

    store
        .apply_outcome(&step(&created, state_with(MonitorStatus::Up, 0), vec![]))
        .await
        .unwrap();
    store
        .set_monitor_paused(&slug("backup"), true, at(15))
        .await
        .unwrap();
    assert_eq!(
        upsert(full_spec("backup"), config, 20).await,
        Upserted::Updated
    );
    let updated = get(&store, "backup").await;
    assert!(updated.spec.is_paused(), "a restart does not resume");
    assert_eq!(
        updated.spec,
        full_spec("backup").rebuilt(full_spec("backup").schedule().clone(), |s| s.paused = true)
    );
    assert_eq!(updated.state, state_with(MonitorStatus::Up, 0));
    assert_eq!((updated.version, updated.updated_at), (4, at(20)));
    assert_eq!(updated.created_at, at(0));

    let checkin = MonitorSource::Checkin;
    assert_eq!(
        upsert(full_spec("backup"), checkin, 30).await,
        Upserted::Updated
    );
    assert_eq!(get(&store, "backup").await.source, checkin);
}

async fn delete_takes_the_runs_and_logs_along(store: Arc<dyn Store>) {
    let created = create(&store, &spec("backup")).await;
    let done = run("backup", RunStatus::Success, 10);
    let mut write = step(
        &created,
        state_with(MonitorStatus::Up, 0),
        vec![done.clone()],
    );
    write.outcome.logs = vec![LogAppend {
        run_id: done.run_id,
        text: "all good\n".to_owned(),
    }];
    store.apply_outcome(&write).await.unwrap();
    assert!(
        store
            .get_run_log(&slug("backup"), done.run_id)
            .await
            .unwrap()
            .is_some()
    );

    assert!(store.delete_monitor(&slug("backup")).await.unwrap());
    assert_eq!(store.get_monitor(&slug("backup")).await.unwrap(), None);
    assert_eq!(
        store.get_run(&slug("backup"), done.run_id).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .get_run_log(&slug("backup"), done.run_id)
            .await
            .unwrap(),
        None
    );
    assert!(!store.delete_monitor(&slug("backup")).await.unwrap());

    create(&store, &spec("backup")).await;
    let page = store.list_runs(&slug("backup"), None, 10).await.unwrap();
    assert!(
        page.runs.is_empty(),
        "a new monitor of the same slug starts afresh"
    );
}
