//! What opsdeck shows of Sidekiq: counts and lists as Sidekiq's own API reports them,
//! redacted jobs, a census of the global sets that moves a bounded slice per poll, refused
//! layouts, an unreachable Redis.

use std::time::Duration;

use opsdeck_connectors::queues::{JobQuery, QueueError};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{JobFilter, JobState};
use opsdeck_server::config::SourceConfig;
use serde_json::{Value, json};

use super::fixture::{Kiq, QUEUE, SOURCE, get_json, polled_queue, urlencoding};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

/// Every id of a state's list, page by page, two per page.
async fn listed(app: &TestApp, token: &str, state: &str) -> Vec<Value> {
    let mut jobs = Vec::new();
    let mut path = format!("/ops/queues/{SOURCE}/{QUEUE}/jobs?state={state}&limit=2");
    loop {
        let (status, page) = get_json(app, token, &path).await;
        assert_eq!(status, 200, "{page}");
        jobs.extend(page["jobs"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(next) => {
                path = format!(
                    "/ops/queues/{SOURCE}/{QUEUE}/jobs?state={state}&limit=2&cursor={}",
                    urlencoding(next)
                );
            }
            None => return jobs,
        }
    }
}

fn jids(jobs: &[Value], field: &str) -> Vec<String> {
    let mut out: Vec<String> = jobs
        .iter()
        .map(|j| j[field].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn sidekiq_counts_and_lists_match_sidekiq() {
    let kiq = Kiq::new().await;
    kiq.failed(&[(3, "acme"), (3, "globex"), (3, "acme"), (0, "acme")])
        .await;
    kiq.push(json!([
        {"class": "MailJob", "queue": QUEUE, "args": [{"tenant_id": "acme"}]},
        {"class": "MailJob", "queue": QUEUE, "args": [{"tenant_id": "globex"}]},
        {"class": "MailJob", "queue": QUEUE, "args": [], "at": 4_102_444_800.0},
    ]))
    .await;
    let sidekiq = kiq.state().await;
    let stats = &sidekiq["stats"];
    assert_eq!(
        (
            &stats["retry_size"],
            &stats["dead_size"],
            &stats["scheduled_size"],
            &stats["enqueued"]
        ),
        (&json!(3), &json!(1), &json!(1), &json!(2)),
        "{sidekiq}"
    );
    let app = kiq.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let queue = polled_queue(&app, &viewer, |q| q["counts"]["retrying"].is_object()).await;
    for (state, expected) in [
        ("waiting", &stats["enqueued"]),
        ("retrying", &stats["retry_size"]),
        ("dead", &stats["dead_size"]),
        ("scheduled", &stats["scheduled_size"]),
    ] {
        assert_eq!(
            &queue["counts"][state]["count"], expected,
            "{state}: opsdeck {queue}, sidekiq {stats}"
        );
    }
    assert_eq!(
        queue["paused"],
        Value::Null,
        "open-source Sidekiq has no pause"
    );
    assert_eq!(queue["failures_last_hour"], 4, "{queue}");
    let latency = sidekiq["latency"][QUEUE].as_f64().unwrap();
    let oldest = queue["oldest_waiting_seconds"].as_f64().unwrap();
    assert!(
        oldest >= latency - 0.5 && oldest < latency + 30.0,
        "oldest waiting {oldest} s, Sidekiq's latency {latency} s"
    );
    let (_, overview) = get_json(&app, &viewer, "/ops/queues").await;
    let source = &overview["sources"][0];
    assert_eq!(source["system"], "sidekiq", "{overview}");
    assert_eq!(
        source["unavailable"]["pause"],
        "open-source Sidekiq has no queue pause (it is a Sidekiq Pro feature)"
    );

    // The lists, page by page, are Sidekiq's sets.
    let retrying = listed(&app, &viewer, "retrying").await;
    let mut expected: Vec<String> = sidekiq["retry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["jid"].as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    let shown: Vec<String> = {
        let mut ids: Vec<String> = retrying
            .iter()
            .map(|j| {
                let id = j["id"].as_str().unwrap();
                // `<score>-<jid>-<digest>`.
                let (_, rest) = id.split_once('-').unwrap();
                rest.rsplit_once('-').unwrap().0.to_owned()
            })
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(shown, expected, "{retrying:?}");
    for job in &retrying {
        assert_eq!(job["state"], "retrying");
        assert_eq!(job["name"], "ChargeJob");
        assert_eq!(job["attempts"], 1, "retry_count 0: one failure");
        assert_eq!(job["max_attempts"], 4, "retry: 3 and the first run");
        let error = job["error"].as_str().unwrap();
        assert!(
            error.starts_with("ArgumentError: charge declined"),
            "{error}"
        );
        assert!(!error.contains("4111"), "the card is masked: {error}");
    }
    let dead = listed(&app, &viewer, "dead").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["state"], "dead");
    let failed = listed(&app, &viewer, "failed").await;
    assert_eq!(failed.len(), 4, "failed is the retry and the dead set");
    let waiting = listed(&app, &viewer, "waiting").await;
    assert_eq!(jids(&waiting, "id").len(), 2);
    let scheduled = listed(&app, &viewer, "scheduled").await;
    assert_eq!(scheduled.len(), 1);
    assert_eq!(scheduled[0]["at"], "2100-01-01T00:00:00Z", "{scheduled:?}");

    let (_, acme) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs?state=failed&tenant_id=acme"),
    )
    .await;
    assert_eq!(acme["jobs"].as_array().unwrap().len(), 3, "{acme}");
    let (_, searched) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs?state=waiting&tenant_id=globex"),
    )
    .await;
    assert_eq!(searched["jobs"].as_array().unwrap().len(), 1, "{searched}");
    // A waiting job's page, by its jid.
    let waiting_id = waiting[0]["id"].as_str().unwrap();
    let (status, page) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs/{waiting_id}"),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["summary"]["state"], "waiting", "{page}");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn sidekiq_errors_backtraces_and_arguments_come_out_redacted() {
    let kiq = Kiq::new().await;
    kiq.failed(&[(2, "acme")]).await;
    let app = kiq.app().await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let retrying = listed(&app, &viewer, "retrying").await;
    let id = retrying[0]["id"].as_str().unwrap();
    let (status, page) = get_json(
        &app,
        &viewer,
        &format!("/ops/queues/{SOURCE}/{QUEUE}/jobs/{}", urlencoding(id)),
    )
    .await;
    assert_eq!(status, 200, "{page}");
    let text = page.to_string();
    assert!(!text.contains("4111"), "no card number: {text}");
    assert!(!text.contains("sk_live_"), "no key: {text}");
    let attempt = &page["attempts"][0];
    let stack = attempt["stack"].as_str().unwrap();
    assert!(
        stack.contains("worker.rb") && stack.contains("perform"),
        "the compressed backtrace is read: {stack}"
    );
    assert!(
        attempt["error"]
            .as_str()
            .unwrap()
            .contains("charge declined")
    );
    let payload = page["payload"]["keys"].as_array().unwrap();
    assert_eq!(
        payload[0],
        json!(["args[0]", "object with 2 keys"]),
        "{page}"
    );
    assert_eq!(page["summary"]["tenant_id"], "acme", "{page}");
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn sidekiq_census_counts_a_large_set_a_bounded_slice_per_poll() {
    let kiq = Kiq::new().await;
    // 25,000 retries over two queues: more than one slow poll reads.
    let mut redis = kiq.redis();
    let mut pipe = redis::pipe();
    for n in 0..25_000u32 {
        let queue = if n % 5 == 0 { "other" } else { QUEUE };
        let member = json!({
            "class": "ChargeJob", "args": [n], "queue": queue, "retry": true,
            "jid": format!("{n:024x}"), "created_at": 1_796_600_000.5,
            "enqueued_at": 1_796_600_000.5, "failed_at": 1_796_600_001.25, "retry_count": 0,
            "error_class": "RuntimeError", "error_message": "boom",
        });
        pipe.cmd("ZADD")
            .arg("retry")
            .arg(1_796_700_000.0 + f64::from(n))
            .arg(member.to_string());
    }
    pipe.cmd("SADD").arg("queues").arg(QUEUE).arg("other");
    let _: () = pipe.query(&mut redis).unwrap();
    let connector = kiq.connector().await;
    let first = connector.poll(true).await.unwrap();
    let default = first
        .queues
        .iter()
        .find(|q| q.queue.as_str() == QUEUE)
        .unwrap();
    assert_eq!(
        default.count(JobState::Retrying),
        None,
        "one slow poll reads a bounded slice, and counts nothing before a full pass"
    );
    assert!(first.cost.commands < 40, "{:?}", first.cost);
    let mut polls = 1;
    let counted = loop {
        let poll = connector.poll(true).await.unwrap();
        polls += 1;
        let default = poll
            .queues
            .iter()
            .find(|q| q.queue.as_str() == QUEUE)
            .unwrap()
            .clone();
        if let Some(count) = default.counts.get(&JobState::Retrying) {
            break (poll, *count);
        }
        assert!(polls < 10, "the census finishes");
    };
    let (poll, count) = counted;
    assert_eq!(count.value, 20_000);
    assert!(count.at <= chrono::Utc::now());
    let other = poll
        .queues
        .iter()
        .find(|q| q.queue.as_str() == "other")
        .unwrap();
    assert_eq!(other.count(JobState::Retrying), Some(5_000));
    // A fast poll does not move the census, and keeps its counts with their time.
    let fast = connector.poll(false).await.unwrap();
    let again = fast
        .queues
        .iter()
        .find(|q| q.queue.as_str() == QUEUE)
        .unwrap();
    assert_eq!(again.counts.get(&JobState::Retrying), Some(&count));
    // A deep page costs one O(log n) read: the cursor resumes by score.
    let queue = QueueName::parse(QUEUE).unwrap();
    let mut query = JobQuery {
        filter: JobFilter {
            state: JobState::Retrying,
            q: None,
            tenant_id: None,
        },
        cursor: None,
        limit: 500,
    };
    let mut seen = std::collections::BTreeSet::new();
    loop {
        let page = connector.list_jobs(&queue, &query).await.unwrap();
        for job in &page.jobs {
            assert!(seen.insert(job.id.clone()), "no job twice");
        }
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen.len(), 20_000);
}

#[tokio::test]
async fn sidekiq_an_unknown_layout_is_refused_and_left_alone() {
    let kiq = Kiq::new().await;
    let mut redis = kiq.redis();
    let _: () = redis::cmd("ZADD")
        .arg("retry")
        .arg(1_796_700_000.5)
        .arg("--- !ruby/object:NotAJob {}")
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("SADD")
        .arg("queues")
        .arg(QUEUE)
        .query(&mut redis)
        .unwrap();
    let connector = kiq.connector().await;
    let err = connector.poll(true).await.unwrap_err();
    assert!(
        matches!(&err, QueueError::Unsupported(why) if why.contains("retry") && why.contains("not JSON")),
        "{err}"
    );
    let queue = QueueName::parse(QUEUE).unwrap();
    let query = JobQuery {
        filter: JobFilter {
            state: JobState::Retrying,
            q: None,
            tenant_id: None,
        },
        cursor: None,
        limit: 10,
    };
    let err = connector.list_jobs(&queue, &query).await.unwrap_err();
    assert!(matches!(err, QueueError::Unsupported(_)), "{err}");
    // A JSON entry that is not a job hash.
    let _: () = redis::cmd("DEL").arg("retry").query(&mut redis).unwrap();
    let _: () = redis::cmd("ZADD")
        .arg("dead")
        .arg(1_796_700_000.5)
        .arg(r#"{"id":1,"queue":"default"}"#)
        .query(&mut redis)
        .unwrap();
    let err = connector.poll(true).await.unwrap_err();
    assert!(
        matches!(&err, QueueError::Unsupported(why) if why.contains("no class")),
        "{err}"
    );
    // A key of another type where Sidekiq keeps a sorted set.
    let _: () = redis::cmd("DEL").arg("dead").query(&mut redis).unwrap();
    let _: () = redis::cmd("SET")
        .arg("retry")
        .arg("x")
        .query(&mut redis)
        .unwrap();
    let err = connector.poll(false).await.unwrap_err();
    assert!(
        matches!(&err, QueueError::Unsupported(why) if why.contains("string")),
        "{err}"
    );
    // A queue's list that is not a list.
    let _: () = redis::cmd("DEL").arg("retry").query(&mut redis).unwrap();
    let _: () = redis::cmd("SET")
        .arg(format!("queue:{QUEUE}"))
        .arg("x")
        .query(&mut redis)
        .unwrap();
    let err = connector.poll(false).await.unwrap_err();
    assert!(
        matches!(&err, QueueError::Unsupported(why) if why.contains("WRONGTYPE")),
        "{err}"
    );
    let _: () = redis::cmd("DEL")
        .arg(format!("queue:{QUEUE}"))
        .query(&mut redis)
        .unwrap();
    // A process of a version opsdeck does not know.
    let _: () = redis::cmd("DEL").arg("retry").query(&mut redis).unwrap();
    let _: () = redis::cmd("SADD")
        .arg("processes")
        .arg("host:1:abc")
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("HSET")
        .arg("host:1:abc")
        .arg("info")
        .arg(r#"{"hostname":"host","version":"9.0.0"}"#)
        .query(&mut redis)
        .unwrap();
    let err = connector.poll(false).await.unwrap_err();
    assert!(
        matches!(&err, QueueError::Unsupported(why) if why.contains("9.0.0")),
        "{err}"
    );
    let _: () = redis::cmd("HSET")
        .arg("host:1:abc")
        .arg("info")
        .arg(r#"{"hostname":"host","version":"8.1.7"}"#)
        .query(&mut redis)
        .unwrap();
    // Its busy thread, as its heartbeat writes it, is an active job of its queue.
    let _: () = redis::cmd("HSET")
        .arg("host:1:abc:workers")
        .arg("tid-1")
        .arg(json!({"queue": QUEUE, "payload": "{}", "run_at": 1_796_600_000}).to_string())
        .query(&mut redis)
        .unwrap();
    let poll = connector.poll(false).await.unwrap();
    assert_eq!(poll.version.as_deref(), Some("sidekiq 8.1.7"));
    assert_eq!(poll.queues[0].count(JobState::Active), Some(1));
    // Nothing was written.
    let _: () = redis::cmd("DEL")
        .arg("processes")
        .arg("host:1:abc")
        .arg("host:1:abc:workers")
        .query(&mut redis)
        .unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis).unwrap();
    assert_eq!(keys, vec!["queues".to_owned()]);
    let id = JobId::parse("1796700000.5-abc-0123456789ab").unwrap();
    assert_eq!(connector.get_job(&queue, &id).await.unwrap(), None);
}

#[tokio::test]
async fn sidekiq_an_unreachable_redis_is_stale_and_the_view_answers_at_once() {
    let source = SourceConfig {
        poll_interval: Some(Duration::from_secs(1)),
        ..SourceConfig::system(
            SOURCE,
            opsdeck_connectors::queues::sidekiq::Sidekiq::new("redis://127.0.0.1:1/12"),
        )
    };
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        config.queues.sources = vec![source];
    })
    .await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let source = wait_for_async(
        Duration::from_secs(15),
        "the source to be stale",
        || async {
            let (_, overview) = get_json(&app, &viewer, "/ops/queues").await;
            let source = overview["sources"][0].clone();
            (source["status"] == "stale" && source["error"].is_string()).then_some(source)
        },
    )
    .await;
    let text = source["error"].as_str().unwrap();
    assert!(
        text.contains("unreachable") || text.contains("connect"),
        "{source}"
    );
    app.shutdown().await.expect("clean shutdown");
}

#[test]
fn sidekiq_keys_are_checked_and_secrets_hidden() {
    use opsdeck_connectors::queues::SourceKeys;
    let keys = |value: Value| value.as_object().unwrap().clone();
    let parsed = SourceKeys::parse(
        "sidekiq",
        keys(json!({"url": "http://cache:6379", "namespace": "", "queues": ["ok", ""]})),
    );
    let problems = parsed.source().unwrap_err();
    let named: Vec<&str> = problems.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(named, ["url", "namespace", "queues[1]"], "{problems:?}");
    let parsed = SourceKeys::parse(
        "sidekiq",
        keys(json!({"url": "redis://127.0.0.1", "prefix": "bull"})),
    );
    assert!(parsed.source().is_err(), "an unknown key is refused");
    let parsed = SourceKeys::parse(
        "sidekiq",
        keys(json!({"url": "redis://:hunter2@cache:6379/3", "namespace": "myapp"})),
    );
    let source = parsed.source().unwrap();
    let shown = format!("{} {:?}", source.target(), source.settings());
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(source.target().contains("namespace myapp"), "{shown}");
}
