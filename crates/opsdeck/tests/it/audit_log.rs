//! The audit log as users see it: every guarded request lands in it, allowed or denied, with
//! the actor; `/ops/audit` filters and pages; reasons are redacted; tampering is reported by
//! `/ops/audit/verify` and by `opsdeck audit verify` with exit code 1. Bulk guards refuse a
//! real run without a matching dry run.

use std::collections::BTreeMap;

use opsdeck_core::auth::Role;
use opsdeck_server::ops::{BulkDecision, BulkGuard};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::process::command;
use crate::support::wait_for_async;

async fn audit(app: &TestApp, admin: &str, query: &str) -> Value {
    let response = app
        .client
        .get(app.url(&format!("/ops/audit{query}")))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    response.json().await.unwrap()
}

#[tokio::test]
async fn guarded_requests_are_audited_filtered_paged_and_verified() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let admin = app.mint_role(Role::Admin).await.1;
    let viewer = app.mint_role(Role::Viewer).await.1;
    for _ in 0..3 {
        app.client
            .get(app.url("/ops/instances"))
            .bearer_auth(&viewer)
            .send()
            .await
            .unwrap();
    }
    let denied = app
        .client
        .get(app.url("/ops/tokens"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.get("/ops/instances").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let created = app
        .client
        .post(app.url("/ops/tokens"))
        .bearer_auth(&admin)
        .json(&json!({"name": "ci", "role": "operator", "reason": "for jane.doe@example.com's pipeline"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);

    // Request entries are written behind the response: wait until the last one is in.
    let reads = wait_for_async(
        std::time::Duration::from_secs(5),
        "audited reads",
        || async {
            let page = audit(&app, &admin, "?action=GET%20/ops/instances").await;
            (page["entries"].as_array().unwrap().len() == 4).then_some(page)
        },
    )
    .await;
    let entries = reads["entries"].as_array().unwrap();
    assert_eq!(entries.iter().filter(|e| e["outcome"] == 200).count(), 3);
    let anonymous = entries
        .iter()
        .find(|e| e["outcome"] == 401)
        .expect("the denied read");
    assert!(anonymous["actor_id"].is_null());
    assert_eq!(entries[0]["client_addr"], "127.0.0.1");

    let forbidden = audit(&app, &admin, "?action=GET%20/ops/tokens&actor=viewer").await;
    assert_eq!(forbidden["entries"][0]["outcome"], 403);

    let creation = audit(&app, &admin, "?action=token.created").await;
    let entry = &creation["entries"][0];
    assert_eq!(entry["actor_name"], "admin");
    assert_eq!(entry["target_kind"], "token");
    let reason = entry["reason"].as_str().unwrap();
    assert!(
        reason.contains("[email]") && !reason.contains("jane.doe"),
        "reason redacted: {reason}"
    );

    // Cursor pagination walks everything once, newest first.
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    loop {
        let page = audit(&app, &admin, &query).await;
        seen.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        match page["next"].as_i64() {
            Some(next) => query = format!("?limit=2&before={next}"),
            None => break,
        }
    }
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats: {seen:?}"
    );
    assert_eq!(seen.last(), Some(&1));

    let bad = app
        .client
        .get(app.url("/ops/audit?limit=0"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);

    let verify: Value = app
        .client
        .get(app.url("/ops/audit/verify"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["status"], "intact", "{verify}");
    assert!(verify["checked"].as_u64().unwrap() >= 6);
}

#[tokio::test]
async fn audit_verify_exits_one_and_names_the_entry_after_tampering() {
    let db = TestDb::sqlite();
    let env: BTreeMap<String, String> =
        [("OPSDECK_DATABASE_URL".to_owned(), db.url.clone())].into();
    for name in ["one", "two", "three"] {
        let out = command(
            &[
                "token", "create", "--name", name, "--role", "viewer", "--reason", "setup",
            ],
            &env,
        )
        .output()
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let intact = command(&["audit", "verify"], &env).output().await.unwrap();
    assert!(
        intact.status.success(),
        "{}",
        String::from_utf8_lossy(&intact.stderr)
    );
    assert!(String::from_utf8_lossy(&intact.stderr).contains("intact: 3 entries"));

    // A database administrator edits history, bypassing the append-only trigger.
    let path = db.url.trim_start_matches("sqlite://");
    let mut conn =
        <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{path}"))
            .await
            .unwrap();
    sqlx::query("DROP TRIGGER IF EXISTS audit_log_no_update")
        .execute(&mut conn)
        .await
        .ok();
    let triggers: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_log'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (name,) in triggers {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP TRIGGER \"{name}\"")))
            .execute(&mut conn)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 2")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);

    let broken = command(&["audit", "verify"], &env).output().await.unwrap();
    assert_eq!(broken.status.code(), Some(1));
    let text = String::from_utf8_lossy(&broken.stderr);
    assert!(text.contains("BROKEN") && text.contains('2'), "{text}");
}

#[test]
fn bulk_actions_need_a_dry_run_and_a_matching_count() {
    let dry = BulkGuard {
        dry_run: true,
        expected_count: None,
    };
    assert_eq!(dry.check(7).unwrap(), BulkDecision::DryRun);
    let blind = BulkGuard {
        dry_run: false,
        expected_count: None,
    };
    assert_eq!(blind.check(7).unwrap_err().code(), "dry_run_required");
    let stale = BulkGuard {
        dry_run: false,
        expected_count: Some(5),
    };
    let err = stale.check(7).unwrap_err();
    assert_eq!(
        (err.status().as_u16(), err.code()),
        (409, "expected_count_mismatch")
    );
    let exact = BulkGuard {
        dry_run: false,
        expected_count: Some(7),
    };
    assert_eq!(exact.check(7).unwrap(), BulkDecision::Proceed);
}
