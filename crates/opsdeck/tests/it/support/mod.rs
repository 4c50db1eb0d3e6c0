//! Shared test fixtures: fresh databases, in-process apps, spawned processes, a chaos proxy.

pub mod app;
pub mod chaos;
pub mod contract;
pub mod db;
pub mod process;
pub mod queues;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `check` until it yields a value or `within` passes (then panics naming `what`).
/// Tests wait on conditions with a deadline, never on fixed sleeps.
pub async fn wait_for<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Like [`wait_for`] with an async check.
pub async fn wait_for_async<T, F, Fut>(within: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A route template with every `{parameter}` filled by a well-formed placeholder (a UUID),
/// so requests reach the guards and not a path-parsing error.
pub fn concrete_path(template: &str) -> String {
    template
        .split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "00000000-0000-0000-0000-000000000000"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
