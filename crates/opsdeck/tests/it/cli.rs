//! The binary's subcommands as a user runs them: exit codes and messages that say what to do.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use crate::support::db::TestDb;
use crate::support::process::{ServerProcess, command};
use crate::support::wait_for_async;

async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    command(args, &env).output().await.expect("run opsdeck")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "opsdeck-cli-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn check_config_accepts_the_example_and_explains_errors_with_key_paths() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../opsdeck.example.toml");
    let ok = run(&["check-config", example], &[]).await;
    assert!(ok.status.success(), "{}", stderr(&ok));

    let dir = temp_dir("check");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[server]\nlistne = \"127.0.0.1:1\"\n\n[database]\nmax_connections = \"ten\"\n",
    )
    .unwrap();
    let out = run(&["check-config", bad.to_str().unwrap()], &[]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(text.contains("server.listne"), "{text}");

    let missing = run(&["check-config", "/nonexistent/opsdeck.toml"], &[]).await;
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("/nonexistent/opsdeck.toml"));
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn migrate_creates_the_embedded_database_and_is_idempotent() {
    let dir = temp_dir("migrate");
    let url = format!("sqlite://{}", dir.join("ops.db").display());
    let first = run(&["migrate", "--database-url", &url], &[]).await;
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(dir.join("ops.db").exists());
    let second = run(&["migrate"], &[("OPSDECK_DATABASE_URL", &url)]).await;
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("0 migration"),
        "{}",
        stderr(&second)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn bad_database_urls_fail_clearly_without_panics_or_passwords() {
    let unsupported = run(
        &["migrate", "--database-url", "mysql://root@localhost/ops"],
        &[],
    )
    .await;
    assert_eq!(unsupported.status.code(), Some(1));
    let text = stderr(&unsupported);
    assert!(
        text.contains("sqlite") && text.contains("postgres"),
        "names the supported schemes: {text}"
    );
    assert!(!text.contains("panicked"), "{text}");

    let unreachable = run(
        &[
            "migrate",
            "--database-url",
            "postgres://ops:sekret-pw@127.0.0.1:1/ops",
        ],
        &[("OPSDECK_DATABASE__ACQUIRE_TIMEOUT", "2s")],
    )
    .await;
    assert_eq!(unreachable.status.code(), Some(1));
    let text = stderr(&unreachable);
    assert!(!text.contains("sekret-pw"), "password printed: {text}");
    assert!(text.contains("127.0.0.1:1"), "says where it tried: {text}");
    assert!(!text.contains("panicked"), "{text}");

    let serve = run(
        &[
            "serve",
            "--database-url",
            "postgres://ops:sekret-pw@127.0.0.1:1/ops",
        ],
        &[
            ("OPSDECK_DATABASE__ACQUIRE_TIMEOUT", "2s"),
            ("OPSDECK_LISTEN", "127.0.0.1:0"),
        ],
    )
    .await;
    assert_eq!(serve.status.code(), Some(1));
    assert!(!stderr(&serve).contains("sekret-pw"), "{}", stderr(&serve));
}

#[tokio::test]
async fn two_processes_migrating_one_postgres_at_once_both_succeed() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let env = [("OPSDECK_DATABASE_URL", db.url.as_str())];
    let (a, b) = tokio::join!(run(&["migrate"], &env), run(&["migrate"], &env));
    assert!(a.status.success(), "{}", stderr(&a));
    assert!(b.status.success(), "{}", stderr(&b));
}

#[tokio::test]
async fn serve_refuses_an_invalid_environment_with_the_variable_named() {
    let out = run(&["serve"], &[("OPSDECK_SERVER__LISTNE", "127.0.0.1:0")]).await;
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("OPSDECK_SERVER__LISTNE"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn serve_demo_starts_on_its_own_embedded_database_and_stops_on_sigterm() {
    let dir = temp_dir("demo");
    let env: BTreeMap<String, String> = BTreeMap::new();
    let mut cmd = command(
        &[
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        &env,
    );
    cmd.current_dir(&dir);
    let mut server = ServerProcess::from_command(cmd).await;
    let client = reqwest::Client::new();
    wait_for_async(Duration::from_secs(10), "demo readiness", || async {
        let r = client.get(server.url("/readyz")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    assert!(
        dir.join("opsdeck-demo.db").exists(),
        "demo data lives in its own file"
    );
    let log = server.log_text();
    let token = log
        .lines()
        .filter(|l| l.contains("metrics:"))
        .find_map(|l| l.split("Bearer ").nth(1))
        .and_then(|rest| rest.split('\'').next())
        .expect("the demo prints how to read /metrics")
        .to_owned();
    let metrics = client
        .get(server.url("/metrics"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);

    // Cron monitors with a history, in every status worth seeing.
    let admin = log
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("opsdeck_pat_"))
        .expect("the demo prints its bootstrap admin token")
        .to_owned();
    let list: serde_json::Value = client
        .get(server.url("/ops/cron"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let monitors = list["monitors"].as_array().expect("monitors");
    let monitor = |slug: &str| {
        monitors
            .iter()
            .find(|m| m["slug"] == slug)
            .unwrap_or_else(|| panic!("demo monitor {slug} missing: {list}"))
    };
    for (slug, status) in [
        ("nightly-backup", "up"),
        ("sync-users", "up"),
        ("send-digests", "up"),
        ("warehouse-import", "late"),
        ("invoice-run", "down"),
        ("legacy-cleanup", "paused"),
        ("db-vacuum", "running"),
    ] {
        assert_eq!(monitor(slug)["status"], status, "{slug}: {}", monitor(slug));
    }
    let failing = monitor("invoice-run");
    let error = failing["last_run"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("GatewayTimeout"), "{failing}");
    assert!(failing["failure_streak"].as_u64() >= Some(2), "{failing}");
    let runs: serde_json::Value = client
        .get(server.url("/ops/cron/nightly-backup/runs?limit=100"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let runs = runs["runs"].as_array().expect("runs");
    assert!(
        runs.len() >= 13,
        "two weeks of nightly runs: {}",
        runs.len()
    );
    let durations: std::collections::BTreeSet<_> =
        runs.iter().map(|r| r["duration_ms"].as_u64()).collect();
    assert!(durations.len() > 3, "durations vary: {durations:?}");
    assert!(
        monitors.iter().any(|m| m["slug"] == "warm-cache"),
        "the HTTP job"
    );

    // Started on port 0, the demo still probes and calls its own `/livez` at the port it
    // really got: the probe passes (or only warns of latency) and the job's runs succeed.
    let livez = server.url("/livez");
    let probe = wait_for_async(
        Duration::from_secs(30),
        "the demo's livez probe to pass",
        || async {
            let detail: serde_json::Value = client
                .get(server.url("/ops/health/checks/self-livez"))
                .bearer_auth(&admin)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let status = detail["check"]["latest_status"].as_str()?;
            assert_ne!(status, "fail", "the livez probe fails: {detail}");
            Some(detail)
        },
    )
    .await;
    assert_eq!(probe["check"]["target"], livez.as_str(), "{probe}");
    // The job fires every minute; triggering it runs the same request now.
    let triggered: serde_json::Value = client
        .post(server.url("/ops/cron/warm-cache/trigger"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"reason": "demo test"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = triggered["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a run id: {triggered}"))
        .to_owned();
    let run = wait_for_async(
        Duration::from_secs(30),
        "the warm-cache run to finish",
        || async {
            let runs: serde_json::Value = client
                .get(server.url("/ops/cron/warm-cache/runs"))
                .bearer_auth(&admin)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            runs["runs"]
                .as_array()?
                .iter()
                .find(|r| r["run_id"] == run_id.as_str() && r["status"] != "running")
                .cloned()
        },
    )
    .await;
    assert_eq!(run["status"], "success", "{run}");
    let runs: serde_json::Value = client
        .get(server.url("/ops/cron/warm-cache/runs"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let runs = runs["runs"].as_array().expect("runs");
    assert!(
        runs.iter().all(|r| r["status"] != "failed"),
        "no warm-cache run failed: {runs:?}"
    );

    server.signal("TERM").await;
    let status = server.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{status}");
    std::fs::remove_dir_all(dir).ok();
}

/// A newcomer follows the banner: it names the sign-in page, and its `token create` line,
/// run as printed next to the demo, writes to the demo's database, so the new token works.
#[tokio::test]
async fn the_demo_banner_gives_a_token_command_for_the_database_in_use() {
    let dir = temp_dir("banner");
    let mut cmd = command(
        &[
            "serve",
            "--demo",
            "--listen",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ],
        &BTreeMap::new(),
    );
    cmd.current_dir(&dir);
    let server = ServerProcess::from_command(cmd).await;
    let client = reqwest::Client::new();
    wait_for_async(Duration::from_secs(10), "demo readiness", || async {
        let r = client.get(server.url("/readyz")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    let log = server.log_text();
    assert!(
        log.contains(&format!("Sign in at {}", server.url("/login"))),
        "{log}"
    );
    let create = log
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("opsdeck token create"))
        .expect("the banner prints a token command")
        .to_owned();
    assert!(
        create.contains("--database-url sqlite://opsdeck-demo.db"),
        "{create}"
    );
    // Run as printed (a shell reads its quotes), with this build's binary as `opsdeck`.
    let line = create.replacen("opsdeck", crate::support::process::binary(), 1);
    let out = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&line)
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("sqlite://opsdeck-demo.db"),
        "says which database it wrote to: {}",
        stderr(&out)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let session: serde_json::Value = client
        .get(server.url("/ops/session"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["role"], "operator", "{session}");
}
