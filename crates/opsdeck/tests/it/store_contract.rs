//! The store contract: one set of behaviours every backend must show, written once and run
//! against SQLite and PostgreSQL by [`contract!`], each test on a fresh database. Time is
//! passed explicitly, so expiry is tested by moving `now`, not by sleeping.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::instance::{InstanceInfo, Lease};
use opsdeck_core::{Store, StoreError};
use opsdeck_store::{ConnectError, DatabaseUrl, PoolSettings};
use tokio::sync::Barrier;
use uuid::Uuid;

use crate::support::contract::contract;
use crate::support::db::TestDb;

mod alerts;
mod audit;
mod checks;
mod cron;
mod events;
mod impersonation;
mod queues;
mod sessions;
mod tokens;

contract! {
    store: [
        ping_answers,
        free_lease_is_taken,
        renewal_keeps_acquired_at_and_extends_expiry,
        lease_is_exclusive_until_it_expires,
        release_only_gives_up_the_callers_lease,
        leases_are_independent_by_name,
        heartbeat_inserts_then_refreshes,
        instances_are_listed_most_recently_seen_first,
        prune_removes_instances_not_seen_since_cutoff,
        closed_store_is_unavailable,
    ],
    db: [
        backend_follows_the_url,
        migrations_are_idempotent,
        concurrent_connects_on_a_fresh_database_both_succeed,
        concurrent_migrate_applies_each_migration_once,
        concurrent_acquire_has_exactly_one_winner,
    ],
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

fn at(seconds: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(seconds)
}

const TTL: Duration = Duration::from_secs(30);

fn lease(holder: &str, acquired_at: DateTime<Utc>, expires_at: DateTime<Utc>) -> Lease {
    Lease {
        name: "scheduler".into(),
        holder: holder.into(),
        acquired_at,
        expires_at,
    }
}

fn instance(hostname: &str, version: &str) -> InstanceInfo {
    InstanceInfo {
        id: Uuid::new_v4(),
        hostname: hostname.into(),
        version: version.into(),
        started_at: t0(),
    }
}

async fn acquire(store: &Arc<dyn Store>, holder: &str, now: DateTime<Utc>) -> Option<Lease> {
    store
        .try_acquire_lease("scheduler", holder, now, TTL)
        .await
        .expect("try_acquire_lease")
}

async fn ping_answers(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}

async fn free_lease_is_taken(store: Arc<dyn Store>) {
    let taken = acquire(&store, "a", t0()).await;
    assert_eq!(taken, Some(lease("a", t0(), at(30))));
    assert_eq!(store.get_lease("scheduler").await.unwrap(), taken);
    assert_eq!(store.get_lease("nobody-took-this").await.unwrap(), None);
}

async fn renewal_keeps_acquired_at_and_extends_expiry(store: Arc<dyn Store>) {
    acquire(&store, "a", t0()).await.expect("taken");
    let renewed = acquire(&store, "a", at(10)).await;
    assert_eq!(renewed, Some(lease("a", t0(), at(40))));
    assert_eq!(store.get_lease("scheduler").await.unwrap(), renewed);
}

async fn lease_is_exclusive_until_it_expires(store: Arc<dyn Store>) {
    acquire(&store, "a", t0()).await.expect("taken");
    assert_eq!(acquire(&store, "b", t0()).await, None);
    let just_before = at(30) - chrono::Duration::milliseconds(1);
    assert_eq!(acquire(&store, "b", just_before).await, None);
    assert_eq!(
        store.get_lease("scheduler").await.unwrap(),
        Some(lease("a", t0(), at(30))),
        "a refused attempt leaves the lease as it was"
    );

    // Expired at exactly expires_at: another holder takes it over, afresh.
    assert_eq!(
        acquire(&store, "b", at(30)).await,
        Some(lease("b", at(30), at(60)))
    );
    assert_eq!(acquire(&store, "a", at(31)).await, None);

    // The former holder coming back after expiry starts a new lease too.
    assert_eq!(
        acquire(&store, "b", at(100)).await,
        Some(lease("b", at(100), at(130)))
    );
}

async fn release_only_gives_up_the_callers_lease(store: Arc<dyn Store>) {
    acquire(&store, "a", t0()).await.expect("taken");
    store.release_lease("scheduler", "b").await.unwrap();
    assert_eq!(
        acquire(&store, "b", at(1)).await,
        None,
        "b released a's lease"
    );

    store.release_lease("scheduler", "a").await.unwrap();
    assert_eq!(store.get_lease("scheduler").await.unwrap(), None);
    assert_eq!(
        acquire(&store, "b", at(2)).await,
        Some(lease("b", at(2), at(32))),
        "a released lease is free at once"
    );
    store.release_lease("never-held", "a").await.unwrap();
}

async fn leases_are_independent_by_name(store: Arc<dyn Store>) {
    let one = store
        .try_acquire_lease("one", "a", t0(), TTL)
        .await
        .unwrap();
    let two = store
        .try_acquire_lease("two", "b", t0(), TTL)
        .await
        .unwrap();
    assert_eq!(one.map(|l| l.holder), Some("a".to_owned()));
    assert_eq!(two.map(|l| l.holder), Some("b".to_owned()));
}

async fn heartbeat_inserts_then_refreshes(store: Arc<dyn Store>) {
    let mut info = instance("host-a", "0.1.0");
    store.record_heartbeat(&info, at(5)).await.unwrap();
    info.version = "0.2.0".into();
    store.record_heartbeat(&info, at(20)).await.unwrap();

    let listed = store.list_instances().await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].info, info);
    assert_eq!(listed[0].last_seen_at, at(20));
}

async fn instances_are_listed_most_recently_seen_first(store: Arc<dyn Store>) {
    let (a, b, c) = (instance("a", "1"), instance("b", "1"), instance("c", "1"));
    store.record_heartbeat(&a, at(1)).await.unwrap();
    store.record_heartbeat(&b, at(3)).await.unwrap();
    store.record_heartbeat(&c, at(2)).await.unwrap();
    let order: Vec<String> = store
        .list_instances()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.info.hostname)
        .collect();
    assert_eq!(order, ["b", "c", "a"]);
}

async fn prune_removes_instances_not_seen_since_cutoff(store: Arc<dyn Store>) {
    for (name, seen) in [("old", 0), ("edge", 10), ("new", 20)] {
        store
            .record_heartbeat(&instance(name, "1"), at(seen))
            .await
            .unwrap();
    }
    assert_eq!(store.prune_instances(at(10)).await.unwrap(), 1);
    let left: Vec<String> = store
        .list_instances()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.info.hostname)
        .collect();
    assert_eq!(left, ["new", "edge"], "seen exactly at the cutoff is kept");
    assert_eq!(store.prune_instances(at(10)).await.unwrap(), 0);
}

async fn closed_store_is_unavailable(store: Arc<dyn Store>) {
    store.close().await;
    let ping = store.ping().await;
    assert!(matches!(ping, Err(StoreError::Unavailable(_))), "{ping:?}");
    let lease = store.try_acquire_lease("x", "a", t0(), TTL).await;
    assert!(
        matches!(lease, Err(StoreError::Unavailable(_))),
        "{lease:?}"
    );
}

async fn backend_follows_the_url(db: &TestDb) {
    assert_eq!(db.database_url().backend(), db.backend);
    assert_eq!(db.store().await.backend(), db.backend);
}

async fn migrations_are_idempotent(db: &TestDb) {
    let url = db.database_url();
    let settings = PoolSettings::default();
    let first = opsdeck_store::migrate(&url, &settings)
        .await
        .expect("migrate");
    assert!(
        !first.applied.is_empty(),
        "a fresh database gets every migration"
    );
    assert_eq!(first.current_version, first.applied.last().copied());

    let again = opsdeck_store::migrate(&url, &settings)
        .await
        .expect("migrate again");
    assert!(again.applied.is_empty(), "{again:?}");
    assert_eq!(again.current_version, first.current_version);

    let one = db.store().await;
    acquire(&one, "a", t0()).await.expect("taken");
    let two = db.store().await;
    assert_eq!(
        two.get_lease("scheduler").await.unwrap().map(|l| l.holder),
        Some("a".to_owned()),
        "connecting again keeps the data"
    );
}

async fn concurrent_connects_on_a_fresh_database_both_succeed(db: &TestDb) {
    let (one, two) = tokio::join!(db.store(), db.store());
    acquire(&one, "a", t0()).await.expect("taken");
    assert_eq!(acquire(&two, "b", t0()).await, None);
}

async fn concurrent_migrate_applies_each_migration_once(db: &TestDb) {
    let url = db.database_url();
    let settings = PoolSettings::default();
    let (one, two) = tokio::join!(
        opsdeck_store::migrate(&url, &settings),
        opsdeck_store::migrate(&url, &settings)
    );
    let (one, two) = (one.expect("first migrate"), two.expect("second migrate"));
    assert!(
        one.applied.is_empty() != two.applied.is_empty(),
        "exactly one run applies the migrations: {one:?} {two:?}"
    );
    assert_eq!(one.current_version, two.current_version);
}

/// Many tasks over two pools (two replicas) race for one lease at the same instant.
async fn concurrent_acquire_has_exactly_one_winner(db: &TestDb) {
    let replicas = [db.store().await, db.store().await];
    for (round, now) in [(0, t0()), (1, at(30))] {
        let contenders = 16;
        let start = Arc::new(Barrier::new(contenders));
        let tasks: Vec<_> = (0..contenders)
            .map(|i| {
                let store = replicas[i % 2].clone();
                let start = start.clone();
                tokio::spawn(async move {
                    start.wait().await;
                    let holder = format!("round{round}-task{i}");
                    store
                        .try_acquire_lease("scheduler", &holder, now, TTL)
                        .await
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            if let Some(lease) = task.await.unwrap().expect("no error under contention") {
                winners.push(lease);
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: {winners:?}");
        let stored = replicas[0].get_lease("scheduler").await.unwrap();
        assert_eq!(stored.as_ref(), winners.first());
    }
}

mod postgres_only {
    use super::*;

    /// A URL whose search_path names a schema nobody created: both replicas starting
    /// together create it once and migrate into it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connects_create_the_search_path_schema_once() {
        let Some(db) = TestDb::postgres_without_schema() else {
            return;
        };
        let (one, two) = tokio::join!(db.store(), db.store());
        one.ping().await.unwrap();
        acquire(&one, "a", t0()).await.expect("taken");
        assert_eq!(acquire(&two, "b", t0()).await, None);
        assert_eq!(tables_in(&db).await, TABLES);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn tables_land_in_the_url_schema() {
        let Some(db) = TestDb::postgres() else { return };
        db.store().await;
        assert_eq!(tables_in(&db).await, TABLES);
    }

    /// Every table the migrations create, by name.
    const TABLES: [&str; 36] = [
        "_sqlx_migrations",
        "alert_deliveries",
        "alert_events",
        "audit_block_keys",
        "audit_blocks",
        "audit_log",
        "check_latest",
        "check_sample_buckets",
        "check_samples",
        "check_status_changes",
        "cron_monitor_count_changes",
        "cron_monitor_counts",
        "cron_monitors",
        "cron_run_logs",
        "cron_runs",
        "cron_slots",
        "impersonation_keys",
        "impersonations",
        "instances",
        "leases",
        "liveness",
        "outages",
        "queue_pushed_jobs",
        "queue_samples",
        "queue_selections",
        "queue_sources",
        "queue_stats",
        "sessions",
        "tenant_audit_events",
        "tenant_audit_hourly",
        "tenant_error_groups",
        "tenant_event_tenants",
        "tenant_events",
        "tenant_usage_daily",
        "tenant_usage_hourly",
        "tokens",
    ];

    async fn tables_in(db: &TestDb) -> Vec<String> {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables
             WHERE table_schema = $1 ORDER BY table_name",
        )
        .bind(db.schema().unwrap())
        .fetch_all(&mut conn)
        .await
        .unwrap()
    }

    /// The server trusts any password here, so a real one can be put in the URL and looked
    /// for everywhere it could leak.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn password_never_shows_in_debug_or_errors() {
        let Some(db) = TestDb::postgres() else { return };
        if !db.url.starts_with("postgres://postgres@") {
            eprintln!("skipped: OPSDECK_TEST_POSTGRES_URL is not postgres://postgres@…");
            return;
        }
        let with_password =
            db.url
                .replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
        let url = DatabaseUrl::parse(&with_password).unwrap();
        let store = opsdeck_store::connect(&url, &PoolSettings::default())
            .await
            .unwrap();
        assert!(!format!("{store:?}").contains("hunter2"), "{store:?}");
        store.close().await;
        let error = store.ping().await.expect_err("closed");
        assert_no_secret(&error, "hunter2");
    }

    #[tokio::test]
    async fn unreachable_server_error_says_what_to_do_without_the_password() {
        let url = DatabaseUrl::parse("postgres://u:pw@127.0.0.1:1/x").unwrap();
        let settings = PoolSettings {
            acquire_timeout: Duration::from_millis(300),
            ..PoolSettings::default()
        };
        let error = opsdeck_store::connect(&url, &settings)
            .await
            .expect_err("port 1 is closed");
        assert!(
            matches!(error, ConnectError::Unreachable { .. }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(
            text.starts_with("could not connect to PostgreSQL at postgres://u:***@127.0.0.1:1/x: "),
            "{text}"
        );
        assert!(text.to_lowercase().contains("connection refused"), "{text}");
        assert!(
            text.contains("is the server running and is OPSDECK_DATABASE_URL right?"),
            "{text}"
        );
        assert_no_secret(&error, "pw");

        let error = opsdeck_store::migrate(&url, &settings)
            .await
            .expect_err("port 1 is closed");
        assert_no_secret(&error, "pw");
    }
}

mod sqlite_only {
    use super::*;

    #[tokio::test]
    async fn in_memory_database_keeps_its_data_across_calls() {
        let url = DatabaseUrl::parse("sqlite::memory:").unwrap();
        let store = opsdeck_store::connect(&url, &PoolSettings::default())
            .await
            .unwrap();
        acquire(&store, "a", t0()).await.expect("taken");
        assert_eq!(acquire(&store, "b", t0()).await, None);
    }

    #[tokio::test]
    async fn missing_directory_error_says_what_to_do() {
        let path =
            std::env::temp_dir().join(format!("opsdeck-missing-{}/x.db", Uuid::new_v4().simple()));
        let url = DatabaseUrl::parse(&format!("sqlite://{}", path.display())).unwrap();
        let error = opsdeck_store::connect(&url, &PoolSettings::default())
            .await
            .expect_err("no directory");
        let text = error.to_string();
        assert!(
            text.starts_with("could not connect to SQLite at sqlite://"),
            "{text}"
        );
        assert!(text.contains("does the directory exist"), "{text}");
    }
}

mod database_url {
    use super::*;
    use opsdeck_core::Backend;

    #[test]
    fn password_is_masked_in_display_and_debug() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/ops").unwrap();
        assert_eq!(url.to_string(), "postgres://app:***@db:5432/ops");
        assert_eq!(
            format!("{url:?}"),
            r#"DatabaseUrl("postgres://app:***@db:5432/ops")"#
        );
        assert_eq!(url.expose(), "postgres://app:s3cret@db:5432/ops");
        assert_eq!(url.backend(), Backend::Postgres);

        let url =
            DatabaseUrl::parse("postgresql://app:p%40ss@db/ops?sslmode=require&password=other")
                .unwrap();
        for shown in [url.to_string(), format!("{url:?}")] {
            for secret in ["p%40ss", "p@ss", "other"] {
                assert!(!shown.contains(secret), "{shown} shows {secret}");
            }
        }
    }

    #[test]
    fn sqlite_forms_are_accepted() {
        for (input, memory) in [
            ("sqlite://opsdeck.db", false),
            ("sqlite:opsdeck.db", false),
            ("SQLite:///var/lib/opsdeck/opsdeck.db", false),
            ("sqlite::memory:", true),
            ("sqlite://shared?mode=memory", true),
        ] {
            let url = DatabaseUrl::parse(input).unwrap();
            assert_eq!(url.backend(), Backend::Sqlite, "{input}");
            assert_eq!(url.is_in_memory(), memory, "{input}");
        }
    }

    #[test]
    fn unsupported_urls_name_the_supported_schemes() {
        for input in [
            "mysql://root:hunter2@db/ops",
            "opsdeck.db",
            "",
            "sqlite://",
            "http://x",
        ] {
            let error = DatabaseUrl::parse(input).expect_err(input);
            assert!(
                matches!(error, ConnectError::UnsupportedUrl { .. }),
                "{error:?}"
            );
            let text = error.to_string();
            assert!(
                text.contains("sqlite://") && text.contains("postgres://"),
                "{text}"
            );
            assert!(text.contains("OPSDECK_DATABASE_URL"), "{text}");
            assert_no_secret(&error, "hunter2");
        }
    }
}

/// Neither the error nor any cause in its chain, displayed or debugged, contains `secret`.
fn assert_no_secret(error: &(dyn std::error::Error + 'static), secret: &str) {
    let mut next = Some(error);
    while let Some(e) = next {
        let (shown, debugged) = (e.to_string(), format!("{e:?}"));
        assert!(!shown.contains(secret), "{shown:?} contains {secret:?}");
        assert!(
            !debugged.contains(secret),
            "{debugged:?} contains {secret:?}"
        );
        next = e.source();
    }
}
