//! SPEC §8, hostile or broken input: Schemathesis (PyPI, pinned in
//! `tests/fixtures/schemathesis/requirements.txt`, installed by `.ci/run`) generates requests
//! for every operation of `/ops/openapi.json` against the real binary serving its demo, once
//! per principal (each role, and nobody). Every answer must be documented for its operation,
//! match its schema and content type, and never be a 5xx. Examples per operation:
//! `OPSDECK_FUZZ_EXAMPLES` (default 15); the seed is fixed so a failure reproduces.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::Command;

use crate::support::app::CHECKPOINT_KEY;
use crate::support::process::{ServerProcess, command};

fn schemathesis() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schemathesis/.venv/bin/schemathesis")
}

/// The one-time admin token the demo prints when it creates its database.
fn bootstrap_token(log: &str) -> String {
    log.split_whitespace()
        .find(|word| word.starts_with("opsdeck_pat_"))
        .expect("the demo prints its admin token")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_answers_as_documented_for_every_principal() {
    let examples = std::env::var("OPSDECK_FUZZ_EXAMPLES").unwrap_or_else(|_| "15".to_owned());
    let dir = std::env::temp_dir().join(format!("opsdeck-fuzz-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let env: BTreeMap<String, String> = [
        ("OPSDECK_LISTEN", "127.0.0.1:0"),
        ("OPSDECK_LOG_FORMAT", "json"),
        ("OPSDECK_AUDIT__CHECKPOINT_KEY", CHECKPOINT_KEY),
        // The fuzzer sends thousands of requests a minute: limits would answer most of them.
        ("OPSDECK_RATE_LIMIT__ENABLED", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut serve = command(&["serve", "--demo"], &env);
    serve.current_dir(&dir);
    let server = ServerProcess::from_command(serve).await;
    let admin = bootstrap_token(&server.log_text());

    let mut principals = vec![("admin", Some(admin))];
    for role in ["operator", "support", "viewer"] {
        let created = command(
            &[
                "token",
                "create",
                "--database-url",
                "sqlite://opsdeck-demo.db",
                "--name",
                role,
                "--role",
                role,
                "--reason",
                "API fuzzing",
            ],
            &env,
        )
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
        assert!(created.status.success(), "{created:?}");
        let text = String::from_utf8_lossy(&created.stdout).into_owned();
        principals.push((role, Some(bootstrap_token(&text))));
    }
    principals.push(("nobody", None));

    // The document is read as admin and handed to Schemathesis as a file, so the requests it
    // sends carry only the principal under test.
    let document = reqwest::Client::new()
        .get(server.url("/ops/openapi.json"))
        .bearer_auth(principals[0].1.as_ref().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let schema = dir.join("openapi.json");
    std::fs::write(&schema, document).unwrap();
    let base = server.url("");
    for (who, token) in &principals {
        let mut run = Command::new(schemathesis());
        run.arg("run")
            .arg(&schema)
            .args(["--url", base.trim_end_matches('/')])
            .args(["--no-color", "--seed", "20261207", "-n", &examples])
            .args([
                "-c",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(token) = token {
            run.args(["--header", &format!("Authorization: Bearer {token}")]);
        }
        let out = run
            .output()
            .await
            .expect("schemathesis runs (bash .ci/run installs it)");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let summary: Vec<&str> = stdout
            .lines()
            .filter(|l| l.contains("generated") || l.contains("failures") || l.contains("passed"))
            .collect();
        eprintln!("schemathesis as {who}: {}", summary.join(" | "));
        assert!(
            out.status.success(),
            "schemathesis found problems as {who}:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
