//! No acknowledged ping is lost: many at once to a few monitors, a monitor changed behind
//! the writer's back (it reads it again and keeps the ping), two replicas pinging the
//! same monitors through their own writers, and a shutdown in the middle of a storm.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use opsdeck_core::cron::{MonitorSource, MonitorSpec, MonitorStatus, RunStatus};
use opsdeck_core::ids::Slug;
use reqwest::StatusCode;
use uuid::Uuid;

use super::{Pinger, key};
use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::wait_for;

on_both_backends!(
    two_hundred_concurrent_pings_are_all_acknowledged_and_all_kept,
    a_monitor_changed_elsewhere_is_read_again_and_the_ping_kept,
    two_replicas_ping_the_same_monitors_and_lose_nothing,
    pings_acknowledged_while_shutting_down_are_all_kept,
);

const MONITORS: [&str; 5] = ["alpha", "bravo", "charlie", "delta", "echo"];

/// Sends a start and a finish with a fresh rid for `runs` jobs spread over [`MONITORS`],
/// all at once; returns the rids sent per monitor. A ping answered 503 (the database was
/// busy longer than the writer waits, as two SQLite replicas on a loaded machine can be)
/// was not stored, and is sent again a moment later, as the ping clients do.
async fn storm(client: &reqwest::Client, base: &str, runs: usize) -> Vec<(String, Uuid)> {
    let mut tasks = Vec::new();
    for n in 0..runs {
        let slug = MONITORS[n % MONITORS.len()];
        let (client, base, rid) = (client.clone(), base.to_owned(), Uuid::new_v4());
        tasks.push(tokio::spawn(async move {
            for tail in ["/start", "/0"] {
                let url = format!("{base}/{slug}{tail}?rid={rid}");
                let mut tries = 0;
                let status = loop {
                    let response = client.get(&url).send().await.expect("ping");
                    tries += 1;
                    if response.status() != StatusCode::SERVICE_UNAVAILABLE || tries == 10 {
                        break response.status();
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                };
                assert_eq!(status, StatusCode::OK, "{url} after {tries} tries");
            }
            (slug.to_owned(), rid)
        }));
    }
    let mut sent = Vec::new();
    for task in tasks {
        sent.push(task.await.expect("ping task"));
    }
    sent
}

/// Every rid sent is one successful, paired run of its monitor; nothing else is stored.
async fn assert_all_kept(p: &Pinger, sent: &[(String, Uuid)]) {
    for slug in MONITORS {
        let expected: BTreeSet<Uuid> = sent
            .iter()
            .filter(|(s, _)| s == slug)
            .map(|(_, rid)| *rid)
            .collect();
        let runs = p.runs(slug).await;
        let stored: BTreeSet<Uuid> = runs.iter().map(|run| run.run_id).collect();
        assert_eq!(stored, expected, "{slug}");
        assert_eq!(runs.len(), expected.len(), "{slug}: one row per run");
        for run in &runs {
            assert_eq!(run.status, RunStatus::Success, "{slug}: {run:?}");
            assert!(run.started_at.is_some() && run.duration_ms.is_some());
        }
        let record = p.record(slug).await.unwrap();
        assert_eq!(record.state.status, MonitorStatus::Up, "{slug}");
        assert!(record.state.open_runs.is_empty(), "{slug}");
    }
}

async fn two_hundred_concurrent_pings_are_all_acknowledged_and_all_kept(db: TestDb) {
    let p = Pinger::spawn(db).await;
    for slug in MONITORS {
        p.monitor(slug).await;
    }
    let base = p.url("");
    let base = base.trim_end_matches('/');
    let sent = storm(&p.app.client, base, 100).await;
    assert_all_kept(&p, &sent).await;
    let metrics = p.app.metrics().await;
    let committed = metric(&metrics, "opsdeck_cron_ping_batch_size_sum");
    assert_eq!(committed, 200.0, "every ping went through a group commit");
    let accepted = metric(
        &metrics,
        "opsdeck_cron_pings_total{kind=\"exit_zero\",outcome=\"accepted\"}",
    );
    assert_eq!(accepted, 100.0);
}

/// The value of the sample named exactly `name` (with its labels).
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {name}"))
        .parse()
        .unwrap()
}

async fn a_monitor_changed_elsewhere_is_read_again_and_the_ping_kept(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("nightly").await;
    // The writer now knows the monitor at this version.
    p.ok("nightly").await;
    let slug = Slug::parse("nightly").unwrap();
    let store = p.app.state.store();
    store
        .set_monitor_paused(&slug, true, Utc::now())
        .await
        .unwrap();
    p.ok("nightly").await;
    let record = p.record("nightly").await.unwrap();
    assert_eq!(
        record.state.status,
        MonitorStatus::Paused,
        "the ping was applied under the spec as changed, not as remembered"
    );
    assert_eq!(p.runs("nightly").await.len(), 2);
    let metrics = p.app.metrics().await;
    assert!(metric(&metrics, "opsdeck_cron_ping_conflicts_total") >= 1.0);

    // Deleted behind its back: the next ping is a plain 404.
    assert!(store.delete_monitor(&slug).await.unwrap());
    let response = p.ping(reqwest::Method::GET, "nightly", "").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

async fn two_replicas_ping_the_same_monitors_and_lose_nothing(db: TestDb) {
    let url = db.url.clone();
    let p = Pinger::spawn(db).await;
    for slug in MONITORS {
        p.monitor(slug).await;
    }
    let other = TestApp::spawn_replica(&url, super::roomy).await;
    let other_key = key(
        &other,
        "other replica",
        &[opsdeck_core::token::Scope::Checkins],
    )
    .await;
    let here = p.url("");
    let there = other.url(&format!("/ping/{other_key}"));
    let (a, b) = tokio::join!(
        storm(&p.app.client, here.trim_end_matches('/'), 50),
        storm(&other.client, &there, 50),
    );
    let sent: Vec<_> = a.into_iter().chain(b).collect();
    assert_all_kept(&p, &sent).await;
    other.shutdown().await.unwrap();
}

async fn pings_acknowledged_while_shutting_down_are_all_kept(db: TestDb) {
    // The database is ours, so it can be read once the app has stopped.
    let mut app = TestApp::spawn_replica(&db.url, super::roomy).await;
    let key = key(&app, "pinger", &[opsdeck_core::token::Scope::Checkins]).await;
    let now = Utc::now();
    for slug in MONITORS {
        let spec = MonitorSpec::auto_created(Slug::parse(slug).unwrap());
        let store = app.state.store();
        store
            .create_monitor(&spec, MonitorSource::Api, now)
            .await
            .unwrap();
    }
    let acked = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for n in 0..32 {
        let (client, acked) = (app.client.clone(), acked.clone());
        let base = app.url(&format!("/ping/{key}/{}", MONITORS[n % MONITORS.len()]));
        tasks.push(tokio::spawn(async move {
            // Until the server stops answering: each 200 must be a stored run.
            loop {
                let rid = Uuid::new_v4();
                match client.get(format!("{base}?rid={rid}")).send().await {
                    Ok(response) if response.status() == StatusCode::OK => {
                        acked
                            .lock()
                            .unwrap()
                            .push((MONITORS[n % MONITORS.len()], rid));
                    }
                    _ => break,
                }
            }
        }));
    }
    wait_for(Duration::from_secs(30), "pings to flow", || {
        (acked.lock().unwrap().len() >= 200).then_some(())
    })
    .await;
    app.begin_shutdown().await.unwrap().unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    let store = db.store().await;
    let acked = acked.lock().unwrap().clone();
    for (slug, rid) in &acked {
        let slug = Slug::parse(slug).unwrap();
        let run = store.get_run(&slug, *rid).await.unwrap();
        assert!(run.is_some(), "acknowledged ping {rid} of {slug} was lost");
    }
    store.close().await;
}
