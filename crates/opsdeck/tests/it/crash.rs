//! SPEC §8, killed at any moment: the real binary is driven at full speed (pings that each
//! create a monitor, guarded token creations with a reason) and `kill -9`ed at a random
//! moment, several times, on both backends. After each restart every acknowledged write is
//! there, each action exactly once, and the audit chain verifies. The number of rounds is
//! `OPSDECK_CRASH_ROUNDS` (default 3); the figures are printed.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opsdeck_core::auth::Role;
use opsdeck_core::cron::MonitorFilter;
use opsdeck_core::ids::Slug;
use opsdeck_core::token::{Grant, Scope, Scopes};
use opsdeck_store::{DatabaseUrl, PoolSettings};
use reqwest::StatusCode;

use crate::support::app::{CHECKPOINT_KEY, mint_in};
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::process::{ServerProcess, command};

on_both_backends!(acknowledged_writes_survive_kill_9_and_the_chain_verifies);

/// What the clients were told was done.
#[derive(Default)]
struct Acknowledged {
    monitors: Vec<String>,
    tokens: Vec<(String, uuid::Uuid)>,
    /// Batches of application events, as sent.
    events: Vec<serde_json::Value>,
    /// The last queue snapshot acknowledged (its waiting count), and the last one sent.
    snapshot: Option<u64>,
    snapshot_sent: u64,
}

async fn acknowledged_writes_survive_kill_9_and_the_chain_verifies(db: TestDb) {
    let rounds: usize = std::env::var("OPSDECK_CRASH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let store = opsdeck_store::connect(&url, &PoolSettings::default())
        .await
        .unwrap();
    let scopes = Scopes::new([Scope::Checkins]).unwrap();
    let (_, ingest) = mint_in(store.as_ref(), "crash-pings", Grant::Scopes(scopes), None).await;
    let scopes = Scopes::new([Scope::Events]).unwrap();
    let (_, events_key) =
        mint_in(store.as_ref(), "crash-events", Grant::Scopes(scopes), None).await;
    let scopes = Scopes::new([Scope::Jobs]).unwrap();
    let (_, jobs_key) = mint_in(store.as_ref(), "crash-jobs", Grant::Scopes(scopes), None).await;
    let config = std::env::temp_dir().join(format!("opsdeck-crash-{}.toml", uuid::Uuid::now_v7()));
    std::fs::write(
        &config,
        "[[queues.sources]]\nname = \"billing\"\ntype = \"push\"\n",
    )
    .unwrap();
    let (_, admin) = mint_in(
        store.as_ref(),
        "crash-admin",
        Grant::Role(Role::Admin),
        None,
    )
    .await;
    let spool = std::env::temp_dir().join(format!(
        "opsdeck-crash-spool-{}.jsonl",
        uuid::Uuid::now_v7()
    ));
    let env: BTreeMap<String, String> = [
        ("OPSDECK_DATABASE_URL", db.url.as_str()),
        ("OPSDECK_CONFIG", config.to_str().unwrap()),
        ("OPSDECK_AUDIT__CHECKPOINT_KEY", CHECKPOINT_KEY),
        ("OPSDECK_AUDIT__SPOOL_FILE", spool.to_str().unwrap()),
        ("OPSDECK_RATE_LIMIT__ENABLED", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    let acknowledged = Arc::new(Mutex::new(Acknowledged::default()));
    let mut requests = 0_usize;
    for round in 0..rounds {
        let mut server = ServerProcess::start(&env).await;
        let base = format!("http://{}", server.addr);
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut workers = Vec::new();
        for worker in 0..6 {
            let (client, base, ingest, admin, events_key, jobs_key) = (
                client.clone(),
                base.clone(),
                ingest.clone(),
                admin.clone(),
                events_key.clone(),
                jobs_key.clone(),
            );
            let acknowledged = acknowledged.clone();
            workers.push(tokio::spawn(async move {
                let mut sent = 0;
                for i in 0.. {
                    sent += 1;
                    if worker == 0 && i % 4 == 0 {
                        let name = format!("crash-{round}-{i}");
                        let answer = client
                            .post(format!("{base}/ops/tokens"))
                            .bearer_auth(&admin)
                            .json(&serde_json::json!({"name": name, "role": "viewer", "reason": "crash campaign"}))
                            .send()
                            .await;
                        let Ok(answer) = answer else { return sent };
                        if answer.status() == StatusCode::CREATED {
                            let Ok(body) = answer.json::<serde_json::Value>().await else { return sent };
                            let id = body["id"].as_str().and_then(|id| id.parse().ok()).expect("token id");
                            acknowledged.lock().unwrap().tokens.push((name, id));
                        }
                        continue;
                    }
                    if worker == 2 {
                        // Snapshots of one queue, its backlog growing by one each time.
                        let waiting = {
                            let mut acked = acknowledged.lock().unwrap();
                            acked.snapshot_sent += 1;
                            acked.snapshot_sent
                        };
                        let answer = client
                            .post(format!("{base}/api/v1/queues/mail/snapshot"))
                            .bearer_auth(&jobs_key)
                            .json(&serde_json::json!({"counts": {"waiting": waiting}}))
                            .send()
                            .await;
                        let Ok(answer) = answer else { return sent };
                        if answer.status() == StatusCode::ACCEPTED {
                            acknowledged.lock().unwrap().snapshot = Some(waiting);
                        }
                        continue;
                    }
                    if worker == 1 {
                        let at = chrono::Utc::now().to_rfc3339();
                        let batch: Vec<serde_json::Value> = (0..10)
                            .map(|n| serde_json::json!({"id": format!("crash-{round}-{i}-{n}"),
                                "type": "usage", "tenant_id": "acme", "at": at,
                                "name": "api.requests", "value": 1}))
                            .collect();
                        let batch = serde_json::Value::from(batch);
                        let answer = client
                            .post(format!("{base}/api/v1/events"))
                            .bearer_auth(&events_key)
                            .json(&batch)
                            .send()
                            .await;
                        let Ok(answer) = answer else { return sent };
                        if answer.status() == StatusCode::OK {
                            acknowledged.lock().unwrap().events.push(batch);
                        }
                        continue;
                    }
                    let slug = format!("crash-{round}-{worker}-{i}");
                    let answer = client
                        .get(format!("{base}/ping/{ingest}/{slug}?create=1"))
                        .send()
                        .await;
                    let Ok(answer) = answer else { return sent };
                    if answer.status().is_success() {
                        acknowledged.lock().unwrap().monitors.push(slug);
                    }
                }
                sent
            }));
        }
        // A moment between 0.3 and 1.5 s into the load, different each round.
        let after = Duration::from_millis(300 + (uuid::Uuid::new_v4().as_u128() % 1200) as u64);
        tokio::time::sleep(after).await;
        server.child.start_kill().expect("kill -9");
        let _ = server.child.wait().await;
        for worker in workers {
            requests += worker.await.unwrap();
        }
    }

    // Restart once more: what it finds is what survived.
    let server = ServerProcess::start(&env).await;
    let mut found = HashSet::new();
    let mut after: Option<Slug> = None;
    loop {
        let page = store
            .list_monitors(&MonitorFilter::default(), after.as_ref(), 1000)
            .await
            .unwrap();
        found.extend(page.monitors.iter().map(|m| m.spec.slug().to_string()));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    let acknowledged = std::mem::take(&mut *acknowledged.lock().unwrap());
    let missing: Vec<&String> = acknowledged
        .monitors
        .iter()
        .filter(|slug| !found.contains(*slug))
        .collect();
    // An acknowledged event is stored: sent again, it is known by its id.
    let mut events_found = 0;
    for batch in &acknowledged.events {
        let again: serde_json::Value = reqwest::Client::new()
            .post(server.url("/api/v1/events"))
            .bearer_auth(&events_key)
            .json(batch)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for result in again["results"].as_array().unwrap() {
            assert_eq!(
                result["status"], "duplicate",
                "an acknowledged event was lost"
            );
            events_found += 1;
        }
    }
    // The queue shows the last acknowledged snapshot, or a later one.
    let acked_snapshot = acknowledged.snapshot.expect("a snapshot was acknowledged");
    let queues: serde_json::Value = reqwest::Client::new()
        .get(server.url("/ops/queues"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shown = queues["queues"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["queue"] == "mail")
        .and_then(|q| q["counts"]["waiting"]["count"].as_u64())
        .expect("the pushed queue is shown after the restart");
    assert!(
        (acked_snapshot..=acknowledged.snapshot_sent).contains(&shown),
        "snapshot {shown} shown, {acked_snapshot} acknowledged last"
    );
    let tokens = store.list_tokens().await.unwrap();
    let mut lost_tokens = 0;
    for (name, id) in &acknowledged.tokens {
        let same_name = tokens.iter().filter(|t| t.name.as_str() == name).count();
        assert!(same_name <= 1, "token {name} created {same_name} times");
        if !tokens.iter().any(|t| t.id == *id) {
            lost_tokens += 1;
        }
    }
    eprintln!(
        "crash campaign ({:?}): {rounds} kills, {requests} requests, {} pings, {} events and \
         {} token creations acknowledged; after restart {} pings and {lost_tokens} tokens \
         missing, {events_found} events found, queue snapshot {shown} shown ({acked_snapshot} \
         acknowledged last)",
        db.backend,
        acknowledged.monitors.len(),
        acknowledged.events.len() * 10,
        acknowledged.tokens.len(),
        missing.len(),
    );
    assert!(
        !acknowledged.monitors.is_empty(),
        "the campaign acknowledged some pings"
    );
    assert!(missing.is_empty(), "acknowledged but lost: {missing:?}");
    assert_eq!(lost_tokens, 0);

    drop(server);
    let verify = command(&["audit", "verify"], &env).output().await.unwrap();
    assert!(
        verify.status.success(),
        "audit verify: {}\n{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    store.close().await;
    let _ = std::fs::remove_file(&spool);
    let _ = std::fs::remove_file(&config);
}

/// A bulk retry of many of Sidekiq's retrying jobs, with the server killed with SIGKILL as
/// soon as jobs start moving: every job is then in exactly one place (still retrying, or
/// once in its queue), and the retry run again after the restart moves the rest, so each job
/// is enqueued exactly once in all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bulk_retry_killed_half_way_enqueues_each_job_once() {
    use crate::queues_sidekiq::fixture::Kiq;

    const JOBS: u64 = 40_000;
    const QUEUE: &str = "mail";
    let kiq = Kiq::new().await;
    seed_sidekiq_retries(&kiq, QUEUE, JOBS).await;
    let db = TestDb::sqlite();
    let config = std::env::temp_dir().join(format!("opsdeck-crash-{}.toml", uuid::Uuid::now_v7()));
    std::fs::write(
        &config,
        format!(
            "[[queues.sources]]\nname = \"shop\"\ntype = \"sidekiq\"\nurl = \"{}\"\n\
             poll_interval = \"1s\"\n",
            kiq.url()
        ),
    )
    .unwrap();
    let url = DatabaseUrl::parse(&db.url).unwrap();
    let store = opsdeck_store::connect(&url, &PoolSettings::default())
        .await
        .unwrap();
    let (_, operator) = mint_in(
        store.as_ref(),
        "crash-op",
        Grant::Role(Role::Operator),
        None,
    )
    .await;
    let env: BTreeMap<String, String> = [
        ("OPSDECK_CONFIG", config.to_str().unwrap()),
        ("OPSDECK_DATABASE_URL", db.url.as_str()),
        ("OPSDECK_AUDIT__CHECKPOINT_KEY", CHECKPOINT_KEY),
        ("OPSDECK_RATE_LIMIT__ENABLED", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let client = reqwest::Client::new();
    let retry = |server: &ServerProcess, body: serde_json::Value| {
        client
            .post(server.url(&format!("/ops/queues/shop/{QUEUE}/retry")))
            .bearer_auth(&operator)
            .json(&body)
            .send()
    };
    let dry_run = async |server: &ServerProcess| -> serde_json::Value {
        crate::support::wait_for_async(Duration::from_secs(30), "a dry run", || async {
            let answer = retry(
                server,
                serde_json::json!({"dry_run": true, "reason": "smtp is back",
                    "filter": {"state": "retrying"}}),
            )
            .await
            .ok()?;
            if !answer.status().is_success() {
                return None;
            }
            answer.json::<serde_json::Value>().await.ok()
        })
        .await
    };

    let mut server = ServerProcess::start(&env).await;
    let dry = dry_run(&server).await;
    assert_eq!(dry["count"], JOBS, "{dry}");
    let run = tokio::spawn(retry(
        &server,
        serde_json::json!({"dry_run": false, "reason": "smtp is back",
            "selection": dry["selection"], "expected_count": JOBS}),
    ));
    let mut redis = kiq.redis();
    let queue_key = format!("queue:{QUEUE}");
    crate::support::wait_for(Duration::from_secs(30), "the retry to begin", || {
        let moved: u64 = redis::cmd("LLEN")
            .arg(&queue_key)
            .query(&mut redis)
            .unwrap();
        (moved > 0).then_some(())
    })
    .await;
    server.child.start_kill().expect("kill -9");
    let _ = server.child.wait().await;
    let _ = run.await;

    let (retrying, enqueued) = sidekiq_places(&mut kiq.redis(), QUEUE);
    eprintln!(
        "bulk retry killed half way: {} of {JOBS} jobs enqueued, {} still retrying",
        enqueued.len(),
        retrying.len()
    );
    assert!(
        enqueued.len() < JOBS as usize,
        "the kill landed after the run"
    );
    assert_each_job_in_one_place(&retrying, &enqueued, JOBS);

    // Run again after the restart: the rest moves, nothing twice.
    let server = ServerProcess::start(&env).await;
    let dry = dry_run(&server).await;
    let left = dry["count"].as_u64().unwrap();
    assert_eq!(left, retrying.len() as u64, "{dry}");
    let done = retry(
        &server,
        serde_json::json!({"dry_run": false, "reason": "smtp is back",
            "selection": dry["selection"], "expected_count": left}),
    )
    .await
    .unwrap();
    assert!(done.status().is_success(), "{}", done.text().await.unwrap());
    let (retrying, enqueued) = sidekiq_places(&mut kiq.redis(), QUEUE);
    assert!(retrying.is_empty());
    assert_each_job_in_one_place(&retrying, &enqueued, JOBS);
    drop(server);

    let verify = command(&["audit", "verify"], &env).output().await.unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
    store.close().await;
    let _ = std::fs::remove_file(&config);
}

/// `count` retrying jobs as Sidekiq 6.4 leaves them, written by pipelined `ZADD`s.
async fn seed_sidekiq_retries(kiq: &crate::queues_sidekiq::fixture::Kiq, queue: &str, count: u64) {
    let mut redis = kiq.redis();
    let now = chrono::Utc::now().timestamp() as f64;
    for chunk in 0..count.div_ceil(1_000) {
        let mut zadd = redis::cmd("ZADD");
        zadd.arg("retry");
        for n in chunk * 1_000..((chunk + 1) * 1_000).min(count) {
            let failed_at = now - 3_600.0 + n as f64 * 0.000_1;
            let job = serde_json::json!({
                "retry": 25, "queue": queue, "class": "MailJob", "args": [n],
                "jid": format!("{n:024x}"), "created_at": failed_at - 1.5,
                "enqueued_at": failed_at - 1.0, "error_message": "smtp refused",
                "error_class": "Net::SMTPFatalError", "failed_at": failed_at, "retry_count": 0,
            });
            zadd.arg(now + 86_400.0 + n as f64 * 0.001)
                .arg(job.to_string());
        }
        let _: () = zadd.query(&mut redis).unwrap();
    }
    let _: () = redis::cmd("SADD")
        .arg("queues")
        .arg(queue)
        .query(&mut redis)
        .unwrap();
}

/// The jids still in the retry set, and the jids in the queue's list (in order, repeats kept).
fn sidekiq_places(redis: &mut redis::Connection, queue: &str) -> (Vec<String>, Vec<String>) {
    let jid = |member: &String| {
        serde_json::from_str::<serde_json::Value>(member).unwrap()["jid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let retry: Vec<String> = redis::cmd("ZRANGE")
        .arg("retry")
        .arg(0)
        .arg(-1)
        .query(redis)
        .unwrap();
    let list: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("queue:{queue}"))
        .arg(0)
        .arg(-1)
        .query(redis)
        .unwrap();
    (
        retry.iter().map(jid).collect(),
        list.iter().map(jid).collect(),
    )
}

fn assert_each_job_in_one_place(retrying: &[String], enqueued: &[String], jobs: u64) {
    let queued: HashSet<&String> = enqueued.iter().collect();
    assert_eq!(queued.len(), enqueued.len(), "a job was enqueued twice");
    assert!(
        retrying.iter().all(|jid| !queued.contains(jid)),
        "a job is both retrying and enqueued"
    );
    assert_eq!(
        retrying.len() + enqueued.len(),
        jobs as usize,
        "a job was lost"
    );
}
