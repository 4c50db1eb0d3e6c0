//! Sidekiq 7.x (float seconds) and 8.x (integer milliseconds) entries, written from their
//! documented format into the sets: read in their own time format, retried with every byte
//! kept but what Sidekiq's retry changes, and then run by the real 6.4.1 server.

use chrono::{TimeZone, Utc};
use opsdeck_connectors::queues::{ActGuard, JobQuery};
use opsdeck_core::ids::QueueName;
use opsdeck_core::queues::{JobFilter, JobState};
use serde_json::Value;

use super::fixture::{Kiq, QUEUE};

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/queues/sidekiq")
        .join(name);
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

fn query(state: JobState) -> JobQuery {
    JobQuery {
        filter: JobFilter {
            state,
            q: None,
            tenant_id: None,
        },
        cursor: None,
        limit: 10,
    }
}

#[tokio::test]
async fn sidekiq_7_and_8_payloads_are_read_and_retried_in_their_own_format() {
    let kiq = Kiq::new().await;
    let seven = fixture("sidekiq7-retry.json");
    let eight = fixture("sidekiq8-retry.json");
    let eight_dead = fixture("sidekiq8-dead.json");
    let mut redis = kiq.redis();
    let _: () = redis::pipe()
        .cmd("ZADD")
        .arg("retry")
        .arg("1796603400.125")
        .arg(&seven)
        .cmd("ZADD")
        .arg("retry")
        .arg("1796603500.5")
        .arg(&eight)
        .cmd("ZADD")
        .arg("dead")
        .arg("1796603600.75")
        .arg(&eight_dead)
        .cmd("SADD")
        .arg("queues")
        .arg(QUEUE)
        .query(&mut redis)
        .unwrap();
    let connector = kiq.connector().await;
    let queue = QueueName::parse(QUEUE).unwrap();
    let page = connector
        .list_jobs(&queue, &query(JobState::Retrying))
        .await
        .unwrap();
    assert_eq!(page.jobs.len(), 2);
    // Highest score first: the 8.x entry.
    let (eight_job, seven_job) = (&page.jobs[0], &page.jobs[1]);
    assert_eq!(eight_job.name.as_deref(), Some("ChargeJob"));
    assert_eq!(
        eight_job.at,
        Utc.timestamp_millis_opt(1_796_603_300_250).single(),
        "8.x retried_at is milliseconds"
    );
    assert_eq!(
        eight_job.created_at,
        Utc.timestamp_millis_opt(1_796_603_179_085).single()
    );
    assert_eq!(eight_job.attempts, Some(3));
    assert_eq!(eight_job.max_attempts, Some(6));
    assert_eq!(
        seven_job.name.as_deref(),
        Some("InvoiceJob"),
        "the wrapped ActiveJob class"
    );
    assert_eq!(
        seven_job.at,
        Utc.timestamp_millis_opt(1_796_603_300_250).single(),
        "7.x retried_at is float seconds"
    );
    assert_eq!(
        seven_job.max_attempts,
        Some(26),
        "retry: true is 25 retries"
    );
    assert!(
        !seven_job.error.as_deref().unwrap().contains("hunter2"),
        "{:?}",
        seven_job.error
    );
    let detail = connector
        .get_job(&queue, &eight_job.id)
        .await
        .unwrap()
        .unwrap();
    let stack = detail.attempts[0].stack.as_deref().unwrap();
    assert!(stack.contains("charge_job.rb:12"), "{stack}");
    assert!(
        detail.options.contains(&(
            "time format".to_owned(),
            "integer milliseconds (Sidekiq 8.x)".to_owned()
        )),
        "{:?}",
        detail.options
    );
    assert!(!format!("{detail:?}").contains("4111"), "{detail:?}");
    let keys: Vec<&str> = detail
        .payload
        .as_ref()
        .unwrap()
        .keys
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        keys,
        ["amount", "big", "cattr"],
        "no args; the app's own keys"
    );
    let dead = connector
        .list_jobs(&queue, &query(JobState::Dead))
        .await
        .unwrap();
    assert_eq!(dead.jobs.len(), 1);
    assert_eq!(
        dead.jobs[0].at,
        Utc.timestamp_millis_opt(1_796_603_300_250).single()
    );
    assert_eq!(
        dead.jobs[0].tenant_id.as_ref().map(ToString::to_string),
        Some("globex".to_owned())
    );

    // Retried: pushed back with only retry_count and enqueued_at changed.
    let before = Utc::now().timestamp_millis();
    let report = connector
        .retry(
            &queue,
            &[eight_job.id.clone(), seven_job.id.clone()],
            ActGuard {
                state: JobState::Retrying,
                failed_not_after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(report.done.len(), 2, "{report:?}");
    let pushed: Vec<String> = redis::cmd("LRANGE")
        .arg(format!("queue:{QUEUE}"))
        .arg(0)
        .arg(-1)
        .query(&mut redis)
        .unwrap();
    // LPUSH: the last pushed is at the head.
    let (seven_out, eight_out) = (&pushed[0], &pushed[1]);
    let parsed: Value = serde_json::from_str(eight_out).unwrap();
    let enqueued = parsed["enqueued_at"].as_i64().expect("8.x: integer ms");
    assert!(enqueued >= before && enqueued <= Utc::now().timestamp_millis());
    assert_eq!(parsed["retry_count"], 1);
    let expected = eight
        .replace("\"retry_count\":2", "\"retry_count\":1")
        .replace(
            "\"enqueued_at\":1796603180123",
            &format!("\"enqueued_at\":{enqueued}"),
        );
    assert_eq!(eight_out, &expected, "every other byte as stored");
    assert!(eight_out.contains("\"args\":[]") && eight_out.contains("1796603179.0859184"));
    assert!(eight_out.contains("12345678901234567"));
    let parsed: Value = serde_json::from_str(seven_out).unwrap();
    let enqueued = parsed["enqueued_at"].as_f64().expect("7.x: float seconds");
    assert!(enqueued > 1e9 && enqueued < 1e11, "{seven_out}");
    assert!(seven_out.contains("\"enqueued_at\":1") && seven_out.contains('.'));
    assert!(seven_out.contains("\"created_at\":1796603179.0859184"));
    let retry_size: u64 = redis::cmd("ZCARD").arg("retry").query(&mut redis).unwrap();
    assert_eq!(retry_size, 0);

    // With no process to say, the version is told from the oldest waiting job: the 8.x one,
    // pushed first.
    let poll = connector.poll(false).await.unwrap();
    assert_eq!(
        poll.version.as_deref(),
        Some("sidekiq 8.x (no process running; jobs in milliseconds)")
    );
    // The real 6.4.1 server runs them (its worker classes are in worker.rb; the ActiveJob
    // wrapper is not, so that one lands back in retry: what matters is that it was read).
    let _: () = redis::cmd("DEL")
        .arg(format!("queue:{QUEUE}"))
        .query(&mut redis)
        .unwrap();
    let _: () = redis::cmd("LPUSH")
        .arg(format!("queue:{QUEUE}"))
        .arg(eight_out)
        .query(&mut redis)
        .unwrap();
    kiq.heal();
    kiq.work(serde_json::json!({"ran": 1})).await;
    let state = kiq.state().await;
    assert_eq!(
        state["ran"],
        serde_json::json!(["a1b2c3d4e5f6a7b8c9d0e1f2"]),
        "{state}"
    );
}

#[tokio::test]
async fn sidekiq_under_a_redis_namespace_reads_and_writes_only_its_keys() {
    let kiq = Kiq::new().await;
    let seven = fixture("sidekiq7-retry.json");
    let mut redis = kiq.redis();
    let _: () = redis::pipe()
        .cmd("ZADD")
        .arg("myapp:retry")
        .arg("1796603400.125")
        .arg(&seven)
        .cmd("SADD")
        .arg("myapp:queues")
        .arg(QUEUE)
        // Another application's Sidekiq in the same database, without a namespace.
        .cmd("ZADD")
        .arg("retry")
        .arg("1796603400.125")
        .arg(&seven)
        .query(&mut redis)
        .unwrap();
    let mut sidekiq = kiq.sidekiq();
    sidekiq.namespace = Some("myapp".to_owned());
    // A tenant a middleware put at the top level (acts_as_tenant), an integer.
    let connector = kiq.connector_with(sidekiq, "acts_as_tenant.id").await;
    let poll = connector.poll(true).await.unwrap();
    assert_eq!(poll.queues.len(), 1);
    assert_eq!(poll.queues[0].count(JobState::Retrying), Some(1));
    assert_eq!(poll.queues[0].count(JobState::Waiting), Some(0));
    let queue = QueueName::parse(QUEUE).unwrap();
    let page = connector
        .list_jobs(&queue, &query(JobState::Failed))
        .await
        .unwrap();
    assert_eq!(
        page.jobs[0].tenant_id.as_ref().map(ToString::to_string),
        Some("42".to_owned())
    );
    let report = connector
        .retry(
            &queue,
            &[page.jobs[0].id.clone()],
            ActGuard {
                state: JobState::Failed,
                failed_not_after: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(report.done.len(), 1, "{report:?}");
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut redis).unwrap();
    keys.sort();
    assert_eq!(keys, ["myapp:queue:default", "myapp:queues", "retry"]);
}

#[tokio::test]
async fn sidekiq_a_plain_backtrace_is_read_and_redacted() {
    let kiq = Kiq::new().await;
    let old = fixture("sidekiq5-plain-backtrace.json");
    let mut redis = kiq.redis();
    let _: () = redis::cmd("ZADD")
        .arg("retry")
        .arg("1546300900.5")
        .arg(&old)
        .query(&mut redis)
        .unwrap();
    let connector = kiq.connector().await;
    let queue = QueueName::parse(QUEUE).unwrap();
    let page = connector
        .list_jobs(&queue, &query(JobState::Retrying))
        .await
        .unwrap();
    let job = &page.jobs[0];
    assert_eq!(
        job.created_at,
        Utc.timestamp_millis_opt(1_546_300_800_123).single()
    );
    let detail = connector.get_job(&queue, &job.id).await.unwrap().unwrap();
    let stack = detail.attempts[0].stack.as_deref().unwrap();
    assert!(stack.contains("sync_job.rb:9"), "{stack}");
    let shown = format!("{detail:?}");
    assert!(!shown.contains("s3cretpw"), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert_eq!(
        detail.options.last().map(|(_, v)| v.as_str()),
        Some("float seconds (Sidekiq 6.x/7.x)")
    );
}
