//! SPEC §8, a replica dies: three real `opsdeck serve` processes on one PostgreSQL schema
//! share an HTTP job that fires every second and a health check that fails (whose alert goes
//! to a webhook). The leader is killed with SIGKILL three times, each time replaced by a new
//! replica, while requests keep coming. No slot is called twice, the scheduler is back within
//! one lease of each kill, the alert is delivered exactly once, and the polls of a queue
//! source (a real Redis with Sidekiq's keys) carry on.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::receiver::Endpoints;
use crate::support::app::METRICS_TOKEN;
use crate::support::db::TestDb;
use crate::support::process::ServerProcess;
use crate::support::{wait_for, wait_for_async};

/// The leader lease the replicas run with.
const LEASE_SECS: u64 = 3;

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs()
}

/// Whether `server` says it leads; `None` when it does not answer.
async fn leads(client: &reqwest::Client, server: &ServerProcess) -> Option<bool> {
    crate::replicas::scrape(client, server)
        .await
        .map(|scrape| scrape.leader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_repeatedly_fires_no_slot_twice_and_alerts_once() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let endpoints = Endpoints::start().await;
    let kiq = crate::queues_sidekiq::fixture::Kiq::new().await;
    let store = db.store().await;
    let (_, viewer) = crate::support::app::mint_in(
        store.as_ref(),
        "failover-viewer",
        opsdeck_core::token::Grant::Role(opsdeck_core::auth::Role::Viewer),
        None,
    )
    .await;
    let config = std::env::temp_dir().join(format!(
        "opsdeck-failover-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(
        &config,
        format!(
            "[health]\nflap_threshold = 1\n\n\
             [[health.checks]]\nname = \"nothing-listens\"\ntype = \"tcp\"\n\
             address = \"127.0.0.1:1\"\ninterval = \"1s\"\ncritical = false\n\n\
             [alerts]\ninitial_backoff = \"1s\"\n\n\
             [[alerts.webhooks]]\nname = \"oncall\"\nurl = \"{}\"\nformat = \"json\"\n\n\
             [[cron.jobs]]\nslug = \"every-second\"\ninterval = \"1s\"\nurl = \"{}\"\n\n\
             [[queues.sources]]\nname = \"shop\"\ntype = \"sidekiq\"\nurl = \"{}\"\n\
             poll_interval = \"1s\"\n",
            endpoints.url("/alerts"),
            endpoints.url("/every-second"),
            kiq.url()
        ),
    )
    .expect("write the configuration");
    let lease = format!("{LEASE_SECS}s");
    let env: BTreeMap<String, String> = [
        ("OPSDECK_CONFIG", config.to_str().expect("utf-8 path")),
        ("OPSDECK_DATABASE_URL", db.url.as_str()),
        ("OPSDECK_METRICS_TOKEN", METRICS_TOKEN),
        ("OPSDECK_BACKGROUND__LEADER_LEASE", lease.as_str()),
        ("OPSDECK_BACKGROUND__HEARTBEAT_INTERVAL", "1s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut servers = Vec::new();
    for _ in 0..3 {
        servers.push(ServerProcess::start(&env).await);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();

    // Load: every replica is asked for its readiness and metrics all along.
    let load = {
        let addrs: Vec<String> = servers.iter().map(|s| s.url("/readyz")).collect();
        let client = client.clone();
        tokio::spawn(async move {
            let mut answered = 0_u64;
            for i in 0.. {
                let url = &addrs[i % addrs.len()];
                if client.get(url).send().await.is_ok() {
                    answered += 1;
                }
                if i > 100_000 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            answered
        })
    };

    let mut kills = Vec::new();
    for _ in 0..3 {
        let leader = wait_for_async(Duration::from_secs(20), "a leader", || async {
            for (index, server) in servers.iter().enumerate() {
                if leads(&client, server).await == Some(true) {
                    return Some(index);
                }
            }
            None
        })
        .await;
        // Let it fire a few slots first.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let mut dead = servers.remove(leader);
        dead.signal("KILL").await;
        dead.wait_exit(Duration::from_secs(10)).await;
        kills.push(unix_secs(SystemTime::now()));
        servers.push(ServerProcess::start(&env).await);
    }
    // The last takeover fires a few slots too.
    let last_kill = *kills.last().unwrap();
    wait_for(
        Duration::from_secs(30),
        "calls after the last takeover",
        || {
            let hits = endpoints.hits("/every-second");
            (hits
                .iter()
                .filter(|h| unix_secs(h.at) > last_kill + LEASE_SECS + 2)
                .count()
                >= 3)
                .then_some(())
        },
    )
    .await;
    // The queue source is still polled: a poll succeeded after the last kill.
    let polled = wait_for_async(
        Duration::from_secs(20),
        "a poll after the last kill",
        || async {
            let view: serde_json::Value = client
                .get(servers[0].url("/ops/queues"))
                .bearer_auth(&viewer)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            let at = view["sources"][0]["last_success_at"]
                .as_str()?
                .parse::<chrono::DateTime<chrono::Utc>>()
                .ok()?;
            (u64::try_from(at.timestamp()).ok()? > last_kill).then_some(at)
        },
    )
    .await;
    for server in &servers {
        server.signal("TERM").await;
    }
    for server in &mut servers {
        server.wait_exit(Duration::from_secs(30)).await;
    }
    load.abort();

    // No slot twice, wherever the call landed.
    let hits = endpoints.hits("/every-second");
    let mut per_slot: BTreeMap<u64, usize> = BTreeMap::new();
    for hit in &hits {
        let slot = hit
            .header("x-opsdeck-scheduled-for")
            .expect("the slot header")
            .parse::<chrono::DateTime<chrono::Utc>>()
            .expect("an RFC 3339 slot");
        *per_slot
            .entry(u64::try_from(slot.timestamp()).unwrap())
            .or_default() += 1;
    }
    let twice: Vec<_> = per_slot.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "slots called more than once: {twice:?}");

    // Back within a lease (plus a tick and a busy machine's second) after each kill.
    let mut gaps = Vec::new();
    for kill in &kills {
        let resumed = hits
            .iter()
            .map(|h| unix_secs(h.at))
            .filter(|at| at > kill)
            .min()
            .expect("calls after each kill");
        gaps.push(resumed - kill);
    }
    eprintln!(
        "failover: {} kills, {} slots called, none twice; calls resumed {gaps:?} s after each \
         kill; the queue source last polled at {polled}",
        kills.len(),
        per_slot.len()
    );
    assert!(
        gaps.iter().all(|gap| *gap <= LEASE_SECS + 2),
        "a takeover took longer than a lease: {gaps:?}"
    );

    // The failing check's alert: delivered, and exactly once whoever led.
    let alerts = endpoints.hits("/alerts");
    let mut per_event: BTreeMap<String, usize> = BTreeMap::new();
    for hit in &alerts {
        *per_event
            .entry(hit.header("x-opsdeck-event").unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    assert!(!per_event.is_empty(), "the failing check was alerted");
    assert!(
        per_event.values().all(|n| *n == 1),
        "an alert was sent more than once: {per_event:?}"
    );
    store.close().await;
    let _ = std::fs::remove_file(&config);
}
