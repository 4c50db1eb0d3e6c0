//! Signed checkpoints of the audit log's head, against a database owner who deletes the
//! newest entries behind the append-only triggers' back (which leaves an intact, shorter
//! chain): `opsdeck audit verify --checkpoint` names what is missing, a replica refuses to
//! sign over such a log, and `/ops/audit/verify` reports it. A real server writes a
//! checkpoint when it shuts down.

mod process;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use opsdeck_core::audit::AuditFilter;
use opsdeck_core::audit::checkpoint::CheckpointKey;
use opsdeck_core::auth::Role;
use opsdeck_core::secret::Secret;
use opsdeck_core::{Backend, Store};
use opsdeck_server::audit::checkpoint::Made;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, SqliteConnection};

use crate::alerts::Receiver;
use crate::support::app::{CHECKPOINT_KEY, TestApp};
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::process::command;
use crate::support::wait_for_async;

on_both_backends! {
    deleting_the_two_newest_entries_is_caught_against_a_checkpoint,
    a_replica_signs_no_checkpoint_over_a_log_that_lost_its_tail,
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "opsdeck-checkpoints-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The public key of the test apps' checkpoint key, as `--public-key` takes it.
fn test_public_key() -> String {
    CheckpointKey::parse(CHECKPOINT_KEY)
        .unwrap()
        .public_key()
        .to_base64()
}

async fn head_seq(store: &dyn Store) -> i64 {
    let newest = AuditFilter {
        limit: 1,
        ..AuditFilter::default()
    };
    let head = store.list_audit(&newest).await.unwrap().pop();
    head.map_or(0, |entry| entry.seq)
}

/// Deletes the two newest entries as a database owner can: on SQLite by dropping the
/// trigger that refuses deletes, on PostgreSQL with triggers switched off for the session.
async fn delete_two_newest(db: &TestDb) {
    let delete = "DELETE FROM audit_log WHERE seq > (SELECT max(seq) - 2 FROM audit_log)";
    let result = match db.backend {
        Backend::Sqlite => {
            let mut conn = SqliteConnection::connect(&db.url).await.unwrap();
            let sql = format!("DROP TRIGGER audit_log_no_delete; {delete}");
            conn.execute(AssertSqlSafe(sql)).await.map(drop)
        }
        Backend::Postgres => {
            let mut conn = PgConnection::connect(&db.url).await.unwrap();
            let sql = format!("SET session_replication_role = replica; {delete}");
            conn.execute(AssertSqlSafe(sql)).await.map(drop)
        }
    };
    result.expect("delete the two newest audit entries");
}

async fn cli(db: &TestDb, args: &[&str]) -> Output {
    let env = [("OPSDECK_DATABASE_URL".to_owned(), db.url.clone())].into();
    command(args, &env).output().await.expect("run opsdeck")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The last line of a checkpoint file, as JSON.
fn last_checkpoint(file: &Path) -> Value {
    let text = std::fs::read_to_string(file).expect("the checkpoint file");
    let line = text.lines().last().expect("a checkpoint line");
    serde_json::from_str(line).expect("a JSON checkpoint")
}

async fn admin_reads(app: &TestApp, admin: &str, count: usize) {
    for _ in 0..count {
        let response = app
            .client
            .get(app.url("/ops/instances"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}

async fn deleting_the_two_newest_entries_is_caught_against_a_checkpoint(db: TestDb) {
    let dir = temp_dir("tail");
    let file = dir.join("checkpoints.jsonl");
    let receiver = Receiver::start().await;
    let app = TestApp::spawn_replica(&db.url, |config| {
        config.audit.checkpoint_file = Some(file.clone());
        config.audit.checkpoint_webhook = Some(Secret::new(receiver.url("checkpoints/audit")));
    })
    .await;
    let admin = app.mint_role(Role::Admin).await.1;
    admin_reads(&app, &admin, 4).await;
    app.shutdown().await.unwrap();

    // The checkpoint made at shutdown covers every entry the app committed.
    let head = head_seq(db.store().await.as_ref()).await;
    assert!(head >= 4, "head {head}");
    let checkpoint = last_checkpoint(&file);
    assert_eq!(checkpoint["seq"], head, "{checkpoint}");
    let sent = receiver.requests("checkpoints");
    assert_eq!(
        sent.last().map(|r| &r.body),
        Some(&checkpoint),
        "the webhook got it too"
    );

    let pinned = test_public_key();
    let file_arg = file.to_str().unwrap();
    let against = ["audit", "verify", "--checkpoint", file_arg];
    let pinned_args = [&against[..], &["--public-key", &pinned]].concat();
    let intact = cli(&db, &pinned_args).await;
    assert!(intact.status.success(), "{}", stderr(&intact));
    assert!(
        stderr(&intact).contains(&format!("reaches the checkpoint's seq {head}")),
        "{}",
        stderr(&intact)
    );

    let mut flipped = checkpoint.clone();
    let mut signature = STANDARD
        .decode(checkpoint["signature"].as_str().unwrap())
        .unwrap();
    signature[0] ^= 0x01;
    flipped["signature"] = STANDARD.encode(&signature).into();
    let flipped = flipped.to_string();
    let refused = cli(
        &db,
        &[
            "audit",
            "verify",
            "--checkpoint",
            &flipped,
            "--public-key",
            &pinned,
        ],
    )
    .await;
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("signature does not verify"),
        "{}",
        stderr(&refused)
    );

    delete_two_newest(&db).await;
    // The chain alone cannot tell, and says so.
    let unanchored = cli(&db, &["audit", "verify"]).await;
    assert!(unanchored.status.success(), "{}", stderr(&unanchored));
    assert!(
        stderr(&unanchored).contains("only provable against a signed checkpoint"),
        "{}",
        stderr(&unanchored)
    );
    let caught = cli(&db, &pinned_args).await;
    assert_eq!(caught.status.code(), Some(1), "{}", stderr(&caught));
    let missing = format!(
        "entries after seq {} up to the checkpoint's seq {head} are missing",
        head - 2
    );
    assert!(stderr(&caught).contains(&missing), "{}", stderr(&caught));
    // Trusting the key the checkpoint carries finds the gap as well, with a warning.
    let embedded = cli(&db, &against).await;
    assert_eq!(embedded.status.code(), Some(1), "{}", stderr(&embedded));
    assert!(
        stderr(&embedded).contains("warning") && stderr(&embedded).contains(&missing),
        "{}",
        stderr(&embedded)
    );
    std::fs::remove_dir_all(dir).ok();
}

async fn verify_over_http(app: &TestApp, admin: &str) -> Value {
    let response = app
        .client
        .get(app.url("/ops/audit/verify"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn wait_for_head(app: &TestApp, at_least: i64) -> i64 {
    let store = app.state.store().clone();
    wait_for_async(Duration::from_secs(10), "audit entries", || {
        let store = store.clone();
        async move {
            let head = head_seq(store.as_ref()).await;
            (head >= at_least).then_some(head)
        }
    })
    .await
}

async fn a_replica_signs_no_checkpoint_over_a_log_that_lost_its_tail(db: TestDb) {
    let app = TestApp::spawn_replica(&db.url, |_| {}).await;
    let admin = app.mint_role(Role::Admin).await.1;
    admin_reads(&app, &admin, 3).await;
    let head = wait_for_head(&app, 3).await;
    let checkpoints = app.state.checkpoints();
    // The leader's loop may have signed this head already; either way it is the latest.
    checkpoints.make().await.unwrap();
    let signed = checkpoints.latest().expect("a checkpoint");
    assert_eq!(signed.checkpoint.seq, head);
    assert_eq!(checkpoints.make().await.unwrap(), Made::Unchanged);

    let report = verify_over_http(&app, &admin).await;
    assert_eq!(report["status"], "intact", "{report}");
    assert_eq!(report["checkpoint"]["seq"], head, "{report}");
    assert_eq!(report["recent_checkpoints"][0], report["checkpoint"]);
    // That request's own entry, written behind its response.
    wait_for_head(&app, head + 1).await;

    delete_two_newest(&db).await;
    let refused = checkpoints.make().await.unwrap_err().to_string();
    let missing = format!(
        "entries after seq {} up to the checkpoint's seq {head} are missing",
        head - 1
    );
    assert!(refused.contains(&missing), "{refused}");
    let report = verify_over_http(&app, &admin).await;
    assert_eq!(report["status"], "broken", "{report}");
    let first_break = report["first_break"].as_str().unwrap();
    assert!(first_break.contains(&format!("seq {head}")), "{report}");

    // Entries appended in place of the deleted ones do not make it whole again.
    admin_reads(&app, &admin, 3).await;
    wait_for_head(&app, head + 1).await;
    let refused = checkpoints.make().await.unwrap_err().to_string();
    assert!(
        refused.contains(&format!(
            "audit entry {head} is not the entry the checkpoint signed"
        )),
        "{refused}"
    );
    assert_eq!(checkpoints.latest(), Some(signed), "nothing new was signed");
}
