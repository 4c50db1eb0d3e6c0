//! The real binary: `serve` generates its key file (0600) and logs the public key, signs a
//! checkpoint when it stops on SIGTERM, and `audit public-key` and `audit verify` agree.

use std::collections::BTreeMap;
use std::time::Duration;

use opsdeck_core::audit::SignedCheckpoint;
use opsdeck_core::audit::checkpoint::{PublicKey, Trust};
use serde_json::Value;

use super::{cli, head_seq, last_checkpoint, stderr, temp_dir};
use crate::support::db::TestDb;
use crate::support::process::{ServerProcess, command};

/// The value of `field` in the first JSON log line whose message is `message`.
fn logged(server: &ServerProcess, message: &str, field: &str) -> Option<Value> {
    let log = server.log.lock().unwrap();
    log.iter().find_map(|line| {
        let v: Value = serde_json::from_str(line).ok()?;
        (v["message"] == message).then(|| v[field].clone())
    })
}

#[tokio::test]
async fn a_real_server_signs_a_checkpoint_when_it_shuts_down() {
    let db = TestDb::sqlite();
    let dir = temp_dir("process");
    let key_file = dir.join("audit-key.pem");
    let file = dir.join("checkpoints.jsonl");
    let env: BTreeMap<String, String> = [
        ("OPSDECK_DATABASE_URL", db.url.as_str()),
        (
            "OPSDECK_AUDIT__CHECKPOINT_KEY_FILE",
            key_file.to_str().unwrap(),
        ),
        ("OPSDECK_AUDIT__CHECKPOINT_FILE", file.to_str().unwrap()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut server = ServerProcess::start(&env).await;

    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key_file)
            .expect("the key file is generated")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    let announced = "audit checkpoints are signed with this key; pin its public key to verify them";
    let public_key = logged(&server, announced, "public_key")
        .and_then(|v| v.as_str().map(str::to_owned))
        .expect("the public key is logged at start");
    let printed = command(&["audit", "public-key"], &env)
        .output()
        .await
        .unwrap();
    assert!(printed.status.success(), "{}", stderr(&printed));
    assert_eq!(String::from_utf8_lossy(&printed.stdout).trim(), public_key);

    // Refused requests are audited too: entries that no admin token is needed to cause.
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let response = client
            .get(server.url("/ops/instances"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
    }
    server.signal("TERM").await;
    let status = server.wait_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "{status:?}\n{}", server.log_text());

    let head = head_seq(db.store().await.as_ref()).await;
    assert!(head >= 3, "head {head}");
    let line = last_checkpoint(&file);
    assert_eq!(line["seq"], head, "{line}");
    let checkpoint = SignedCheckpoint::from_json(&line.to_string()).unwrap();
    let pinned = PublicKey::parse(&public_key).unwrap();
    assert_eq!(checkpoint.verify(&[pinned]), Ok(Trust::Pinned));
    let log = server.log.lock().unwrap().clone();
    let in_log = log.iter().rev().find_map(|line| {
        let v: Value = serde_json::from_str(line).ok()?;
        (v["message"] == "audit checkpoint").then(|| v["checkpoint"].as_str().map(str::to_owned))?
    });
    let in_log: Value = serde_json::from_str(&in_log.expect("an audit checkpoint event")).unwrap();
    assert_eq!(in_log, line, "the log has the same checkpoint");

    let file_arg = file.to_str().unwrap();
    let verified = cli(
        &db,
        &[
            "audit",
            "verify",
            "--checkpoint",
            file_arg,
            "--public-key",
            &public_key,
        ],
    )
    .await;
    assert!(verified.status.success(), "{}", stderr(&verified));
    std::fs::remove_dir_all(dir).ok();
}
