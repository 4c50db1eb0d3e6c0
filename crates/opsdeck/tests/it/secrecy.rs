//! No secret reaches the logs: a real process is driven through a session of requests with
//! real credentials — tokens created by the CLI, a bad and a revoked token, a sign-in with
//! its session cookie and CSRF token, a database URL with a password — and its whole log
//! output is searched for each of them.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use crate::support::db::TestDb;
use crate::support::process::{ServerProcess, command};
use crate::support::wait_for_async;

const DB_PASSWORD: &str = "db-pw-never-in-logs";

async fn create_token(env: &BTreeMap<String, String>, args: &[&str]) -> (String, String) {
    let mut full = vec!["token", "create"];
    full.extend_from_slice(args);
    let out = command(&full, env)
        .stderr(Stdio::piped())
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "the token is the only line on stdout: {stdout:?}"
    );
    (
        lines[0].to_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn a_session_of_requests_leaves_no_secret_in_the_logs() {
    let Some(db) = TestDb::postgres() else { return };
    let url = db
        .url
        .replacen("://postgres@", &format!("://postgres:{DB_PASSWORD}@"), 1);
    let env: BTreeMap<String, String> = [
        ("OPSDECK_DATABASE_URL", url.as_str()),
        ("OPSDECK_SESSION__SECURE_COOKIE", "false"),
        ("OPSDECK_LOG", "debug"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    let (admin, details) = create_token(
        &env,
        &["--name", "ops-admin", "--role", "admin", "--reason", "test"],
    )
    .await;
    assert!(
        !details.contains(&admin),
        "details on stderr never repeat the secret"
    );
    let (ingest, _) = create_token(
        &env,
        &[
            "--name",
            "worker",
            "--scopes",
            "jobs,events",
            "--reason",
            "test",
        ],
    )
    .await;
    let (doomed, _) = create_token(
        &env,
        &["--name", "doomed", "--role", "viewer", "--reason", "test"],
    )
    .await;

    let server = ServerProcess::start(&env).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |token: &str, path: &str| {
        http.get(server.url(path))
            .bearer_auth(token.to_owned())
            .send()
    };

    assert_eq!(get(&admin, "/ops/instances").await.unwrap().status(), 200);
    assert_eq!(get(&ingest, "/ops/instances").await.unwrap().status(), 403);
    // The last character changed (to another one, whatever it was): the checksum no longer
    // matches.
    let last = if admin.ends_with('x') { 'y' } else { 'x' };
    let mistyped = format!("{}{last}", &admin[..admin.len() - 1]);
    assert_eq!(
        get(&mistyped, "/ops/instances").await.unwrap().status(),
        401
    );

    // Revoke through the API, then the revoked token is refused.
    let list: serde_json::Value = get(&admin, "/ops/tokens")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let doomed_id = list["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "doomed")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = http
        .delete(server.url(&format!("/ops/tokens/{doomed_id}")))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"reason": "rotation"}))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    assert_eq!(get(&doomed, "/ops/instances").await.unwrap().status(), 401);

    // A dashboard session: sign in with the token, use the cookie and its CSRF token.
    let login = http
        .post(server.url("/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", admin.as_str()), ("next", "/ops/instances")])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    let cookie_pair = cookie.split(';').next().unwrap().to_owned();
    let session_value = cookie_pair.split_once('=').unwrap().1.to_owned();
    let whoami: serde_json::Value = http
        .get(server.url("/ops/session"))
        .header("cookie", &cookie_pair)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = whoami["csrf_token"].as_str().unwrap().to_owned();
    let created = http
        .post(server.url("/ops/tokens"))
        .header("cookie", &cookie_pair)
        .header("sec-fetch-site", "same-origin")
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"name": "from-dashboard", "role": "viewer", "reason": "test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let minted: serde_json::Value = created.json().await.unwrap();
    let minted = minted["token"].as_str().unwrap().to_owned();

    // Give the access log a moment to be written, then search everything the process said.
    let log = wait_for_async(
        Duration::from_secs(5),
        "the last access log line",
        || async {
            let log = server.log_text();
            log.contains("\"route\":\"/ops/tokens\"").then_some(log)
        },
    )
    .await;
    for (what, secret) in [
        ("admin token", admin.as_str()),
        ("ingest key", ingest.as_str()),
        ("revoked token", doomed.as_str()),
        ("mistyped token", mistyped.as_str()),
        ("token minted over HTTP", minted.as_str()),
        ("session cookie", session_value.as_str()),
        ("CSRF token", csrf.as_str()),
        ("database password", DB_PASSWORD),
    ] {
        assert!(!log.contains(secret), "the {what} appears in the logs");
    }
    // The random part alone must not leak either (e.g. a token logged without its prefix).
    assert!(
        !log.contains(&admin["opsdeck_pat_".len()..]),
        "part of a token appears in the logs"
    );
}
