//! `opsdeck exec` against the stand-in receiver: ping order and shape, output passed
//! through and its tail reported, exit statuses, signals, and an opsdeck that is down.

use std::collections::BTreeMap;
use std::time::Duration;

use super::receiver::Receiver;
use super::{KEY, run, stderr, stdout};
use crate::support::process::command;
use crate::support::wait_for;

/// `opsdeck exec <slug> --url … --key … -- sh -c <script>`.
async fn exec_sh(receiver: &Receiver, slug: &str, script: &str) -> std::process::Output {
    let url = receiver.url();
    let args = [
        "exec", slug, "--url", &url, "--key", KEY, "--", "sh", "-c", script,
    ];
    run(&args, &[]).await.0
}

#[tokio::test]
async fn exec_pings_start_then_exit_status_with_one_rid_and_passes_output_through() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    // URL and key from the environment, as a crontab would set them.
    let env = [("OPSDECK_URL", url.as_str()), ("OPSDECK_PING_KEY", KEY)];
    let script = "echo to-stdout; echo to-stderr >&2; exit 0";
    let (out, _) = run(&["exec", "nightly-backup", "--", "sh", "-c", script], &env).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out), "to-stdout\n");
    assert_eq!(stderr(&out), "to-stderr\n", "nothing but the command's own");

    let pings = receiver.wait_pings(2).await;
    assert_eq!(pings.len(), 2, "{pings:?}");
    let (start, finish) = (&pings[0], &pings[1]);
    assert_eq!(start.kind, "start");
    assert_eq!(finish.kind, "0");
    for ping in &pings {
        assert_eq!(ping.method, "POST");
        assert_eq!(ping.key, KEY);
        assert_eq!(ping.slug, "nightly-backup");
        assert!(!ping.query.contains_key("create"));
        let source = ping.query.get("source").map(String::as_str);
        assert_eq!(source, Some("exec"), "recorded as exec's runs, not pings");
    }
    let rid = start.rid().expect("start has a rid");
    assert!(uuid::Uuid::parse_str(rid).is_ok(), "{rid}");
    assert_eq!(finish.rid(), Some(rid), "start and finish pair");
    assert!(start.body.is_empty());
    let body = finish.body_text();
    assert!(
        body.contains("to-stdout\n") && body.contains("to-stderr\n"),
        "{body}"
    );
}

#[tokio::test]
async fn exit_statuses_propagate_and_are_reported() {
    let receiver = Receiver::start().await;
    let out = exec_sh(&receiver, "report", "echo failing; exit 3").await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(stdout(&out), "failing\n");
    let pings = receiver.wait_pings(2).await;
    assert_eq!(pings[1].kind, "3");
    assert_eq!(pings[1].body_text(), "failing\n");

    // Killed by a signal: reported and exited as the shell would, 128 + signal.
    let killed = exec_sh(&receiver, "report", "kill -KILL $$").await;
    assert_eq!(killed.status.code(), Some(137), "{}", stderr(&killed));
    let pings = receiver.wait_pings(4).await;
    assert_eq!(pings[3].kind, "137");
    assert_eq!(pings[2].rid(), pings[3].rid());
    assert_ne!(pings[0].rid(), pings[2].rid(), "each run has its own rid");
}

#[tokio::test]
async fn a_command_that_cannot_start_is_reported_as_127_with_the_error() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let args = [
        "exec",
        "missing",
        "--url",
        &url,
        "--key",
        KEY,
        "--",
        "/nonexistent/opsdeck-test-command",
        "--flag",
    ];
    let (out, _) = run(&args, &[]).await;
    assert_eq!(out.status.code(), Some(127));
    let text = stderr(&out);
    assert!(
        text.contains("cannot run /nonexistent/opsdeck-test-command"),
        "{text}"
    );
    let pings = receiver.wait_pings(2).await;
    assert_eq!(pings[1].kind, "127");
    let body = pings[1].body_text();
    assert!(
        body.contains("cannot run /nonexistent/opsdeck-test-command"),
        "{body}"
    );
}

#[tokio::test]
async fn the_finish_ping_carries_the_tail_of_long_output_within_10_kb() {
    let receiver = Receiver::start().await;
    let script = "i=0; while [ $i -lt 5000 ]; do echo \"line $i\"; i=$((i+1)); done";
    let out = exec_sh(&receiver, "chatty", script).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let passed = stdout(&out);
    assert!(
        passed.starts_with("line 0\nline 1\n"),
        "everything passes through"
    );
    assert!(passed.ends_with("line 4999\n"));
    assert!(passed.len() > 40_000);

    let pings = receiver.wait_pings(2).await;
    let body = pings[1].body_text();
    assert!(
        pings[1].body.len() <= 10_000,
        "{} bytes",
        pings[1].body.len()
    );
    assert!(pings[1].body.len() > 9_000, "the budget is used");
    assert!(body.ends_with("line 4999\n"), "the tail");
    assert!(
        !body.contains("line 0\n") && !body.contains("\nline 1\n"),
        "not the head"
    );
    assert!(
        body.starts_with("[opsdeck exec] output truncated"),
        "{}",
        &body[..80]
    );
}

#[tokio::test]
async fn a_ping_body_limit_from_opsdeck_shrinks_the_tail() {
    let receiver = Receiver::start().await;
    receiver.set_body_limit(1_000);
    let script = "i=0; while [ $i -lt 2000 ]; do echo \"row $i\"; i=$((i+1)); done";
    let out = exec_sh(&receiver, "limited", script).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pings = receiver.wait_pings(2).await;
    let body = pings[1].body_text();
    assert!(
        pings[1].body.len() <= 1_000,
        "{} bytes",
        pings[1].body.len()
    );
    assert!(body.ends_with("row 1999\n"), "{body}");
}

#[tokio::test]
async fn create_asks_opsdeck_to_make_the_monitor() {
    let receiver = Receiver::start().await;
    let url = receiver.url();
    let args = [
        "exec", "fresh", "--create", "--url", &url, "--key", KEY, "--", "true",
    ];
    let (out, _) = run(&args, &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let pings = receiver.wait_pings(2).await;
    assert!(
        pings
            .iter()
            .all(|p| p.query.get("create").map(String::as_str) == Some("1"))
    );
}

#[tokio::test]
async fn an_unreachable_opsdeck_warns_but_neither_fails_nor_holds_up_the_job() {
    // A port that was just free: connections are refused.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let url = format!("http://{closed}");
    let args = [
        "exec",
        "backup",
        "--url",
        &url,
        "--key",
        KEY,
        "--",
        "sh",
        "-c",
        "echo done; exit 4",
    ];
    let (out, elapsed) = run(&args, &[]).await;
    eprintln!("exec with opsdeck down took {elapsed:?}");
    assert_eq!(out.status.code(), Some(4), "the command's own status");
    assert_eq!(stdout(&out), "done\n");
    let text = stderr(&out);
    assert!(
        text.contains("warning: start ping for backup not sent"),
        "{text}"
    );
    assert!(text.contains("could not connect"), "{text}");
    assert!(!text.contains(KEY), "the key is never printed: {text}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");

    // Not configured at all: the command still runs.
    let (bare, _) = run(&["exec", "backup", "--", "sh", "-c", "exit 0"], &[]).await;
    assert_eq!(bare.status.code(), Some(0));
    assert!(
        stderr(&bare).contains("no opsdeck URL"),
        "{}",
        stderr(&bare)
    );
}

#[tokio::test]
async fn sigterm_is_passed_to_the_command_and_its_end_still_reported() {
    let receiver = Receiver::start().await;
    let env = BTreeMap::from([
        ("OPSDECK_URL".to_owned(), receiver.url()),
        ("OPSDECK_PING_KEY".to_owned(), KEY.to_owned()),
    ]);
    let mut child = command(&["exec", "long-job", "--", "sleep", "30"], &env)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn opsdeck exec");
    receiver.wait_pings(1).await;
    let pid = child.id().expect("running").to_string();
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .expect("run kill");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the wrapper ends with its command")
        .expect("wait");
    assert_eq!(
        status.code(),
        Some(128 + 15),
        "sleep died of the forwarded SIGTERM"
    );
    let pings = wait_for(Duration::from_secs(10), "the finish ping", || {
        let pings = receiver.pings();
        (pings.len() == 2).then_some(pings)
    })
    .await;
    assert_eq!(pings[1].kind, "143");
}
