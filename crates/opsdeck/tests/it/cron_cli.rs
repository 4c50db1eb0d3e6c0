//! `opsdeck exec` and `opsdeck cron import` as a user runs them: the real binary, its
//! exit codes, output and the requests it sends — to a stand-in receiver
//! ([`receiver::Receiver`]) for the wire shapes and failure modes, and to a real
//! in-process opsdeck where its routes exist.

mod e2e;
mod exec;
mod import;
mod receiver;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::process::command;

/// An ingest key as opsdeck prints them; the tests check it is never echoed.
pub const KEY: &str = "opsdeck_key_cronclitest0123456789abcdef";

/// Runs `opsdeck` with `args` and only `env` (plus PATH and HOME); returns its output and
/// how long it took.
pub async fn run(args: &[&str], env: &[(&str, &str)]) -> (Output, Duration) {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let started = Instant::now();
    let output = tokio::time::timeout(Duration::from_secs(60), command(args, &env).output())
        .await
        .expect("opsdeck finished within a minute")
        .expect("run opsdeck");
    (output, started.elapsed())
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A fresh directory for a test's files.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "opsdeck-cron-cli-{name}-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
