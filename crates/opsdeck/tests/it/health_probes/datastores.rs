//! `postgres`, `sqlite` and `redis` probes against this machine's servers and real files.

use opsdeck_connectors::health::postgres::Postgres;
use opsdeck_connectors::health::redis::Redis;
use opsdeck_connectors::health::sqlite::Sqlite;
use opsdeck_core::health::Status;
use opsdeck_core::secret::Secret;

use super::{Probes, TempDir, closed_port, output, service_available};
use crate::support::db::TestDb;

#[tokio::test]
async fn postgres_of_this_machine_passes() {
    // TestDb::postgres skips with a banner outside CI when PostgreSQL is unreachable.
    let Some(db) = TestDb::postgres() else { return };
    let probes = Probes::new().await;
    let spec = Postgres {
        url: Secret::new(db.url.clone()),
    };
    let observation = probes.observe(&spec).await;
    assert_eq!(observation.status, Status::Pass, "{observation:?}");
}

#[tokio::test]
async fn postgres_on_a_closed_port_fails_without_revealing_the_password() {
    let probes = Probes::new().await;
    let port = closed_port().await;
    let password = "hunter2-do-not-print";
    let spec = Postgres {
        url: Secret::new(format!(
            "postgres://opsdeck:{password}@127.0.0.1:{port}/ops?sslmode=disable"
        )),
    };
    let observation = probes.observe(&spec).await;
    assert_eq!(observation.status, Status::Fail);
    let text = output(&observation);
    assert!(
        text.contains(&format!(
            "could not connect to postgres at 127.0.0.1:{port}"
        )),
        "{text}"
    );
    assert!(!text.contains(password), "password leaked: {text}");
}

#[tokio::test]
async fn sqlite_file_passes_and_a_missing_one_fails_without_being_created() {
    let probes = Probes::new().await;
    let db = TestDb::sqlite();
    drop(db.store().await); // creates and migrates the file
    let path = db.url.trim_start_matches("sqlite://").to_owned();
    let observation = probes.observe(&Sqlite { path: path.into() }).await;
    assert_eq!(observation.status, Status::Pass, "{observation:?}");

    let dir = TempDir::new("sqlite");
    let missing = dir.path().join("missing.db");
    let observation = probes
        .observe(&Sqlite {
            path: missing.clone(),
        })
        .await;
    assert_eq!(observation.status, Status::Fail);
    assert!(
        output(&observation).contains("does not exist"),
        "{observation:?}"
    );
    assert!(!missing.exists(), "the probe created the database file");

    let not_a_database = dir.path().join("notes.txt");
    std::fs::write(
        &not_a_database,
        "this is not a database, just text ".repeat(200),
    )
    .expect("write file");
    let observation = probes
        .observe(&Sqlite {
            path: not_a_database,
        })
        .await;
    assert_eq!(observation.status, Status::Fail, "{observation:?}");
}

#[tokio::test]
async fn redis_of_this_machine_passes_and_a_closed_port_fails() {
    let how = "Start redis-server on 127.0.0.1:6379 (.ci/run does).";
    if !service_available("Redis", "127.0.0.1:6379", how).await {
        return;
    }
    let probes = Probes::new().await;
    let spec = Redis {
        url: Secret::new("redis://127.0.0.1:6379".to_owned()),
    };
    let observation = probes.observe(&spec).await;
    assert_eq!(observation.status, Status::Pass, "{observation:?}");

    let port = closed_port().await;
    let spec = Redis {
        url: Secret::new(format!("redis://:redis-secret-pw@127.0.0.1:{port}/0")),
    };
    let observation = probes.observe(&spec).await;
    assert_eq!(observation.status, Status::Fail);
    let text = output(&observation);
    assert!(
        text.contains(&format!("could not connect to redis at 127.0.0.1:{port}")),
        "{text}"
    );
    assert!(!text.contains("redis-secret-pw"), "password leaked: {text}");
}
