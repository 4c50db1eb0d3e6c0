//! SPEC §8, opsdeck's own database down: proven by cutting a real PostgreSQL off behind a
//! chaos proxy while the server is in use. The ops view keeps answering from memory (marked
//! stale), for the principals it knew; every change and every ping is refused at once with
//! 503 and `Retry-After` and leaves nothing behind; what was served is audited through the
//! spool and on the chain once the database is back, which the server notices by itself.

use std::time::{Duration, Instant};

use opsdeck_core::audit::AuditFilter;
use opsdeck_core::auth::Role;
use opsdeck_core::secret::Secret;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::pings::{Pinger, roomy};
use crate::support::chaos::ChaosProxy;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

/// Longest a request may take during the outage: the pool would make each wait 30 s.
const FAST: Duration = Duration::from_secs(1);

async fn timed(request: reqwest::RequestBuilder) -> (reqwest::Response, Duration) {
    let began = Instant::now();
    let response = request.send().await.expect("request");
    (response, began.elapsed())
}

fn retry_after(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get("retry-after")?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ops_view_survives_an_outage_of_its_own_database() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let (proxy, proxied) = ChaosProxy::for_postgres(&db.url).await;
    let p = Pinger::spawn_with(db, |config| {
        roomy(config);
        config.database.url = Secret::new(proxied);
        // A pool that would make every request wait this long: failing fast is the breaker's.
        config.database.acquire_timeout = Duration::from_secs(30);
    })
    .await;
    let app = &p.app;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (doomed_id, doomed) = app
        .mint(
            "doomed",
            opsdeck_core::token::Grant::Role(Role::Viewer),
            None,
        )
        .await;
    p.monitor("nightly-backup").await;
    p.ok("nightly-backup").await;
    let get = |path: &str, token: &str| app.client.get(app.url(path)).bearer_auth(token);

    // Seen while the database answers: the principals, the cron list, a monitor.
    for token in [&viewer, &admin, &doomed] {
        assert_eq!(
            get("/ops/cron", token).send().await.unwrap().status(),
            StatusCode::OK
        );
    }
    let monitor_before: Value = get("/ops/cron/nightly-backup", &viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revoked = app
        .client
        .delete(app.url(&format!("/ops/tokens/{doomed_id}")))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"reason": "left the team"}))
        .send()
        .await
        .unwrap();
    assert!(revoked.status().is_success(), "{}", revoked.status());
    let (_, never_seen) = app.mint_role(Role::Admin).await;

    proxy.sever();
    let cut = Instant::now();
    wait_for_async(Duration::from_secs(5), "readyz to fail", || async {
        let response = app.get("/readyz").await;
        (response.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(())
    })
    .await;
    let noticed = cut.elapsed();
    assert!(
        noticed < Duration::from_secs(3),
        "outage noticed after {noticed:?}"
    );

    // Reads from memory, fast, marked stale.
    let mut health_times = Vec::new();
    for _ in 0..50 {
        let (response, took) = timed(get("/ops/health", &viewer)).await;
        assert!(
            response.status() == StatusCode::OK
                || response.status() == StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            response.status()
        );
        let body: Value = response.json().await.unwrap();
        assert!(body["checks"].is_object(), "{body}");
        health_times.push(took);
    }
    health_times.sort();
    let p99 = health_times[health_times.len() * 99 / 100 - 1];
    eprintln!(
        "outage: noticed after {noticed:?}; /ops/health p99 {p99:?} (max {:?})",
        health_times.last().unwrap()
    );
    assert!(*health_times.last().unwrap() < FAST, "{health_times:?}");

    let (list, took) = timed(get("/ops/cron", &viewer)).await;
    assert!(took < FAST, "cron list took {took:?}");
    assert_eq!(list.status(), StatusCode::OK);
    let stale = list
        .headers()
        .get("opsdeck-stale")
        .expect("marked stale")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        chrono::DateTime::parse_from_rfc3339(&stale).is_ok(),
        "{stale}"
    );
    let list: Value = list.json().await.unwrap();
    assert!(list.to_string().contains("nightly-backup"), "{list}");
    let (monitor, _) = timed(get("/ops/cron/nightly-backup", &viewer)).await;
    assert_eq!(monitor.status(), StatusCode::OK);
    assert!(monitor.headers().contains_key("opsdeck-stale"));

    let (page, took) = timed(get("/", &admin)).await;
    assert!(took < FAST, "overview took {took:?}");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(
        page.contains("database is unreachable since"),
        "banner missing"
    );

    // A revoked token stays refused; one never seen cannot be checked: refused too.
    let (response, took) = timed(get("/ops/cron", &doomed)).await;
    assert!(took < FAST);
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let (response, took) = timed(get("/ops/cron", &never_seen)).await;
    assert!(took < FAST);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Changes: refused at once, with Retry-After, nothing done.
    let (response, took) = timed(
        app.client
            .post(app.url("/ops/cron/nightly-backup/pause"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"reason": "maintenance"})),
    )
    .await;
    assert!(took < FAST, "pause took {took:?}");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after(&response), Some(5));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");

    // Pings: 503 with Retry-After within a second, never acknowledged.
    for method in [Method::GET, Method::POST] {
        let began = Instant::now();
        let response = p.ping(method.clone(), "nightly-backup", "").await;
        let took = began.elapsed();
        assert!(took < FAST, "{method} ping took {took:?}");
        assert_eq!(
            response.status(),
            StatusCode::SERVICE_UNAVAILABLE,
            "{method}"
        );
        assert_eq!(retry_after(&response), Some(5), "{method}");
    }
    let created = p
        .ping(Method::GET, "created-during-outage?create=1", "")
        .await;
    assert_eq!(created.status(), StatusCode::SERVICE_UNAVAILABLE);

    // Back: noticed by itself, quickly.
    proxy.restore();
    let restored = Instant::now();
    wait_for_async(Duration::from_secs(10), "readyz to pass", || async {
        (app.get("/readyz").await.status() == StatusCode::OK).then_some(())
    })
    .await;
    let recovery = restored.elapsed();
    eprintln!("outage: recovered {recovery:?} after the database answered again");
    assert!(
        recovery < Duration::from_secs(2),
        "recovery took {recovery:?}"
    );

    // Nothing changed while it was down.
    let monitor_after: Value = get("/ops/cron/nightly-backup", &viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(monitor_after["paused"], monitor_before["paused"]);
    assert_eq!(
        monitor_after["last_ping_at"],
        monitor_before["last_ping_at"]
    );
    assert!(p.record("created-during-outage").await.is_none());

    // What was served during the outage is on the chain, and the chain verifies.
    let entries = wait_for_async(
        Duration::from_secs(10),
        "the spool to be replayed",
        || async {
            let entries = app
                .state
                .store()
                .list_audit(&AuditFilter {
                    limit: 1000,
                    ..AuditFilter::default()
                })
                .await
                .ok()?;
            // Only read during the outage: each one reached the log through the spool.
            let served = entries
                .iter()
                .filter(|e| e.record.action == "GET /ops/health")
                .count();
            (served >= 50).then_some(entries)
        },
    )
    .await;
    assert!(
        entries
            .iter()
            .any(|e| e.record.action == "auth.failed" && e.record.outcome == 401),
        "the refused revoked token is audited"
    );
    let verify: Value = get("/ops/audit/verify", &admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(verify["status"], "intact", "{verify}");
    assert!(
        !app.state.config().audit.spool_file.exists(),
        "the spool is emptied"
    );
}

/// A database that stalls (packets swallowed, nothing closed) is noticed by the probe within
/// a few seconds; from then on nothing waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_database_is_noticed_and_nothing_waits_for_it() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let (proxy, proxied) = ChaosProxy::for_postgres(&db.url).await;
    let p = Pinger::spawn_with(db, |config| {
        roomy(config);
        config.database.url = Secret::new(proxied);
        config.database.acquire_timeout = Duration::from_secs(30);
    })
    .await;
    let app = &p.app;
    let (_, admin) = app.mint_role(Role::Admin).await;
    p.monitor("nightly-backup").await;
    let get = |path: &str| app.client.get(app.url(path)).bearer_auth(&admin);
    assert_eq!(
        get("/ops/cron").send().await.unwrap().status(),
        StatusCode::OK
    );

    proxy.blackhole();
    let stalled = Instant::now();
    // Detection rides on the probe: two pings in a row that time out after a second each.
    // (Requests already waiting on the database when it stalled are bounded by their pool
    // and request timeouts; the breaker spares every later one.)
    crate::support::wait_for(Duration::from_secs(15), "the stall to be noticed", || {
        app.state.store().availability().is_down().then_some(())
    })
    .await;
    let noticed = stalled.elapsed();
    eprintln!("outage: a stall noticed after {noticed:?}");
    let (readyz, took) = timed(app.client.get(app.url("/readyz"))).await;
    assert_eq!(readyz.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(took < FAST, "readyz took {took:?}");
    let (list, took) = timed(get("/ops/cron")).await;
    assert!(took < FAST, "the cron list took {took:?}");
    assert!(list.headers().contains_key("opsdeck-stale"));
    let (refused, took) = timed(
        app.client
            .post(app.url("/ops/cron/nightly-backup/pause"))
            .bearer_auth(&admin)
            .json(&serde_json::json!({"reason": "maintenance"})),
    )
    .await;
    assert!(took < FAST, "a change waited {took:?}");
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    let began = Instant::now();
    let ping = p.ping(Method::GET, "nightly-backup", "").await;
    assert!(
        began.elapsed() < FAST,
        "a ping waited {:?}",
        began.elapsed()
    );
    assert_eq!(ping.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after(&ping), Some(5));
    proxy.sever();
}

/// Item by item, under load: pings and reads keep going while PostgreSQL is cut twice and
/// restored. Every answer comes within a second and is a success or a 503 with
/// `Retry-After`; every acknowledged ping is stored; the server recovers by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_promises_hold_under_load_while_the_database_comes_and_goes() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    let (proxy, proxied) = ChaosProxy::for_postgres(&db.url).await;
    let p = Pinger::spawn_with(db, |config| {
        roomy(config);
        config.rate_limit.enabled = false;
        config.database.url = Secret::new(proxied);
        config.database.acquire_timeout = Duration::from_secs(30);
    })
    .await;
    let (_, viewer) = p.app.mint_role(Role::Viewer).await;
    let p = std::sync::Arc::new(p);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..4 {
        let (p, stop, viewer) = (p.clone(), stop.clone(), viewer.clone());
        workers.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let (mut refused, mut slowest) = (0_usize, Duration::ZERO);
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let began = Instant::now();
                let response = if worker == 0 {
                    p.app
                        .client
                        .get(p.app.url("/ops/health"))
                        .bearer_auth(&viewer)
                        .send()
                        .await
                        .expect("health")
                } else {
                    p.ping(Method::GET, &format!("load-{worker}-{i}?create=1"), "")
                        .await
                };
                slowest = slowest.max(began.elapsed());
                let status = response.status();
                if status.is_success() {
                    if worker != 0 {
                        acknowledged.push(format!("load-{worker}-{i}"));
                    }
                } else {
                    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "worker {worker}");
                    assert_eq!(retry_after(&response), Some(5), "worker {worker}");
                    refused += 1;
                }
            }
            (acknowledged, refused, slowest)
        }));
    }
    let mut recoveries = Vec::new();
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        proxy.sever();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        proxy.restore();
        let restored = Instant::now();
        wait_for_async(Duration::from_secs(10), "readyz to pass", || async {
            (p.app.get("/readyz").await.status() == StatusCode::OK).then_some(())
        })
        .await;
        recoveries.push(restored.elapsed());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut acknowledged, mut refused, mut slowest) = (Vec::new(), 0, Duration::ZERO);
    for worker in workers {
        let (acked, refusals, slow) = worker.await.unwrap();
        acknowledged.extend(acked);
        refused += refusals;
        slowest = slowest.max(slow);
    }
    let mut missing = 0;
    for slug in &acknowledged {
        if p.record(slug).await.is_none() {
            missing += 1;
        }
    }
    eprintln!(
        "outage campaign: {} pings acknowledged, {missing} missing; {refused} answers 503; \
         slowest answer {slowest:?}; recovered after {recoveries:?}",
        acknowledged.len()
    );
    assert!(refused > 0, "the cuts were felt");
    assert!(!acknowledged.is_empty());
    assert_eq!(missing, 0, "acknowledged pings lost");
    assert!(slowest < FAST, "an answer took {slowest:?}");
    for recovery in recoveries {
        assert!(
            recovery < Duration::from_secs(2),
            "recovery took {recovery:?}"
        );
    }
}

mod last_good {
    use chrono::Utc;
    use opsdeck_core::StoreError;
    use opsdeck_server::ops::LastGood;

    fn unavailable() -> StoreError {
        StoreError::Unavailable("down".into())
    }

    #[tokio::test]
    async fn the_last_good_read_is_served_only_during_an_outage() {
        let memo = LastGood::default();
        let now = Utc::now();
        let key = || Some("k".to_owned());
        let nothing_kept = memo.read::<u32, _>(key(), now, async { Err(unavailable()) });
        assert!(matches!(
            nothing_kept.await,
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(memo.read(key(), now, async { Ok(7_u32) }).await.unwrap(), 7);
        let kept = memo.read::<u32, _>(key(), now, async { Err(unavailable()) });
        assert_eq!(kept.await.unwrap(), 7);
        // Not found is an answer, not an outage: never papered over.
        let missing = memo.read::<u32, _>(key(), now, async { Err(StoreError::NotFound) });
        assert!(matches!(missing.await, Err(StoreError::NotFound)));
        // A later page is not kept.
        assert_eq!(memo.read(None, now, async { Ok(9_u32) }).await.unwrap(), 9);
        let later = memo.read::<u32, _>(None, now, async { Err(unavailable()) });
        assert!(matches!(later.await, Err(StoreError::Unavailable(_))));
    }

    #[tokio::test]
    async fn the_oldest_read_is_dropped_when_full() {
        let memo = LastGood::default();
        let t0 = Utc::now();
        for i in 0..=LastGood::CAPACITY {
            let at = t0 + chrono::Duration::seconds(i64::try_from(i).unwrap());
            memo.read(Some(format!("k{i}")), at, async move { Ok(i) })
                .await
                .unwrap();
        }
        let oldest = memo.read::<usize, _>(Some("k0".into()), t0, async { Err(unavailable()) });
        assert!(oldest.await.is_err());
        let next = memo.read::<usize, _>(Some("k1".into()), t0, async { Err(unavailable()) });
        assert_eq!(next.await.unwrap(), 1);
    }
}
