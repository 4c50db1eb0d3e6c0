//! Exactly once across replicas: two real `opsdeck serve` processes on one PostgreSQL
//! schema share an HTTP job that fires every second. For a minute, every second brings the
//! endpoint exactly one call (none missed, none twice), and the runs table holds one run
//! per call.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opsdeck_core::cron::{RunSource, RunStatus};
use opsdeck_core::ids::Slug;

use super::receiver::Endpoints;
use crate::support::app::METRICS_TOKEN;
use crate::support::db::TestDb;
use crate::support::process::ServerProcess;
use crate::support::wait_for;

/// How long the endpoint is watched.
const WINDOW_SECS: u64 = 60;

/// A configuration file, removed on drop.
struct TempToml(PathBuf);

impl Drop for TempToml {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_fire_every_slot_exactly_once() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let endpoints = Endpoints::start().await;
    let file = TempToml(std::env::temp_dir().join(format!(
        "opsdeck-scheduler-{}.toml",
        uuid::Uuid::new_v4().simple()
    )));
    std::fs::write(
        &file.0,
        format!(
            "[[cron.jobs]]\nslug = \"every-second\"\ninterval = \"1s\"\nurl = \"{}\"\n",
            endpoints.url("/every-second")
        ),
    )
    .expect("write the configuration");
    let env: BTreeMap<String, String> = [
        ("OPSDECK_CONFIG", file.0.to_str().expect("utf-8 path")),
        ("OPSDECK_DATABASE_URL", db.url.as_str()),
        ("OPSDECK_METRICS_TOKEN", METRICS_TOKEN),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut a = ServerProcess::start(&env).await;
    let mut b = ServerProcess::start(&env).await;
    // Both are up from here: the whole seconds after this one are the window.
    let from = unix_secs(SystemTime::now()) + 1;
    let until = from + WINDOW_SECS;
    wait_for(
        Duration::from_secs(WINDOW_SECS + 30),
        "calls past the end of the window",
        || {
            let hits = endpoints.hits("/every-second");
            hits.iter().any(|h| unix_secs(h.at) > until).then_some(())
        },
    )
    .await;
    for server in [&a, &b] {
        server.signal("TERM").await;
    }
    // Slots a replica said it skipped because it fell behind (both stalled for over a
    // second on a loaded machine): the documented catch-up rule, not a lost firing.
    let skipped: BTreeSet<u64> = [&a, &b]
        .iter()
        .flat_map(|server| skipped_slots(&server.log_text()))
        .collect();
    for server in [&mut a, &mut b] {
        let status = server.wait_exit(Duration::from_secs(30)).await;
        assert!(status.success(), "graceful exit, got {status}");
    }

    // Each call names the slot it is for: a call that arrives late (a busy machine) still
    // counts for its own second, and two calls for one slot are a double firing wherever
    // they land.
    let hits = endpoints.hits("/every-second");
    let mut per_second: BTreeMap<u64, usize> = BTreeMap::new();
    for hit in &hits {
        let slot = hit.headers["x-opsdeck-scheduled-for"]
            .to_str()
            .expect("ascii")
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("an RFC 3339 slot");
        assert!(
            hit.headers.contains_key("x-opsdeck-run-id"),
            "{:?}",
            hit.headers
        );
        let second = u64::try_from(slot.timestamp()).expect("after the epoch");
        *per_second.entry(second).or_default() += 1;
    }
    let twice: Vec<_> = per_second.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "slots called more than once: {twice:?}");
    let missed: Vec<u64> = (from..=until)
        .filter(|s| !per_second.contains_key(s) && !skipped.contains(s))
        .collect();
    assert!(missed.is_empty(), "seconds never called: {missed:?}");

    // One run per call, each recorded by the scheduler (the last ones may still have been
    // running when the replicas stopped).
    let store = db.store().await;
    let slug = Slug::parse("every-second").unwrap();
    let mut runs = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_runs(&slug, cursor.as_ref(), 500)
            .await
            .expect("list runs");
        runs.extend(page.runs);
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(runs.len(), hits.len(), "one run per call");
    let ids: BTreeSet<_> = runs.iter().map(|r| r.run_id).collect();
    assert_eq!(ids.len(), runs.len(), "run ids are unique");
    assert!(
        runs.iter().all(|r| r.source == RunSource::Scheduler),
        "every run is the scheduler's"
    );
    let unfinished = runs
        .iter()
        .filter(|r| r.status != RunStatus::Success)
        .count();
    assert!(
        unfinished <= 2,
        "{unfinished} runs did not succeed: {runs:?}"
    );
    store.close().await;
}

/// The seconds a replica's log says it skipped: each "fell behind" warning names the slot it
/// fired and how many older ones it skipped.
fn skipped_slots(log: &str) -> Vec<u64> {
    let mut seconds = Vec::new();
    for line in log.lines() {
        let Ok(entry) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_skip = entry["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("cron scheduler fell behind"));
        let slot = entry["slot"].as_str().and_then(|slot| {
            chrono::NaiveDateTime::parse_from_str(
                slot.trim_end_matches(" UTC"),
                "%Y-%m-%d %H:%M:%S%.f",
            )
            .ok()
        });
        let count = entry["skipped"].as_u64();
        if let (true, Some(slot), Some(count)) = (is_skip, slot, count) {
            let fired = u64::try_from(slot.and_utc().timestamp()).expect("after the epoch");
            seconds.extend((1..=count).map(|k| fired - k));
        }
    }
    seconds
}
