//! Seeding: failed BullMQ jobs written straight into Redis through pipelines, in the layout
//! BullMQ 6.7.6 leaves a failed job in (a `meta` hash with its version, the `id` counter,
//! one hash per job with the fields a worker writes when the job fails, the `failed` set
//! scored by `finishedOn`), so BullMQ's own `getJobCounts` and `retryJobs` work on them.

use redis::aio::MultiplexedConnection;
use serde_json::{Value, json};

/// Jobs per pipeline.
const BATCH: u64 = 2_000;
/// Pipelines in flight.
const IN_FLIGHT: usize = 4;

pub struct Seeder {
    conn: MultiplexedConnection,
    prefix: String,
}

impl Seeder {
    pub async fn connect(url: &str, prefix: &str) -> redis::RedisResult<Self> {
        let client = redis::Client::open(url)?;
        // A pipeline of thousands of writes takes longer than the default reply timeout.
        let config = redis::AsyncConnectionConfig::new().set_response_timeout(None);
        let conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        Ok(Self {
            conn,
            prefix: prefix.to_owned(),
        })
    }

    /// `count` failed jobs in `queue`, ids 1..=count, failed one millisecond apart, oldest
    /// first, ending now.
    pub async fn failed(&self, queue: &str, count: u64) {
        let base = format!("{}:{queue}:", self.prefix);
        let mut conn = self.conn.clone();
        let _: () = redis::pipe()
            .cmd("HSET")
            .arg(format!("{base}meta"))
            .arg("opts.maxLenEvents")
            .arg(10_000)
            .arg("version")
            .arg("bullmq:6.7.6")
            .ignore()
            .cmd("SET")
            .arg(format!("{base}id"))
            .arg(count)
            .ignore()
            .query_async(&mut conn)
            .await
            .unwrap();
        let now = chrono::Utc::now().timestamp_millis();
        let first_failure = now - i64::try_from(count).unwrap();
        let stack = json!([format!(
            "Error: smtp refused\n    at Worker.processFn (/srv/app/workers/mail.js:41:13)\n    at Worker.callProcessJob (/srv/app/node_modules/bullmq/dist/cjs/classes/worker.js:199:21)"
        )])
        .to_string();
        let starts: Vec<u64> = (0..count).step_by(BATCH as usize).collect();
        for group in starts.chunks(IN_FLIGHT) {
            let mut calls = Vec::new();
            for &start in group {
                let mut pipe = redis::pipe();
                for n in start..(start + BATCH).min(count) {
                    let id = n + 1;
                    let finished = first_failure + i64::try_from(n).unwrap();
                    let created = finished - 40;
                    let data = json!({"tenantId": format!("tenant-{}", n % 97), "to": format!("user{n}@example.com"), "template": "welcome"});
                    pipe.cmd("HSET")
                        .arg(format!("{base}{id}"))
                        .arg("name")
                        .arg("send")
                        .arg("data")
                        .arg(data.to_string())
                        .arg("opts")
                        .arg(r#"{"attempts":3,"backoff":{"delay":1000,"type":"exponential"}}"#)
                        .arg("timestamp")
                        .arg(created)
                        .arg("delay")
                        .arg(0)
                        .arg("priority")
                        .arg(0)
                        .arg("processedOn")
                        .arg(finished - 5)
                        .arg("ats")
                        .arg(3)
                        .arg("atm")
                        .arg(3)
                        .arg("failedReason")
                        .arg("smtp refused")
                        .arg("stacktrace")
                        .arg(&stack)
                        .arg("finishedOn")
                        .arg(finished)
                        .ignore()
                        .cmd("ZADD")
                        .arg(format!("{base}failed"))
                        .arg(finished)
                        .arg(id)
                        .ignore();
                }
                let mut conn = self.conn.clone();
                calls.push(async move {
                    let _: () = pipe.query_async(&mut conn).await.unwrap();
                });
            }
            futures_join(calls).await;
        }
    }

    /// The id at `rank` of `queue`'s failed set, newest first.
    pub async fn id_at_rank(&self, queue: &str, rank: u64) -> String {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = redis::cmd("ZREVRANGE")
            .arg(format!("{}:{queue}:failed", self.prefix))
            .arg(rank)
            .arg(rank)
            .query_async(&mut conn)
            .await
            .unwrap();
        ids.into_iter().next().unwrap()
    }
}

async fn futures_join(calls: Vec<impl Future<Output = ()> + Send + 'static>) {
    let handles: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    for handle in handles {
        handle.await.unwrap();
    }
}

/// Runs a command of the tests' BullMQ driver on `queue` and answers its JSON.
pub async fn node(prefix: &str, queue: &str, command: &str) -> Value {
    let driver = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/queues/bullmq/driver.js");
    let out = tokio::process::Command::new("node")
        .arg(driver)
        .arg("bullmq")
        .arg(command)
        .arg(json!({"prefix": prefix, "queue": queue}).to_string())
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "driver {command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the driver answers JSON")
}

/// Deletes every key under `prefix:`.
pub async fn delete_prefix(url: &str, prefix: &str) {
    let Ok(client) = redis::Client::open(url) else {
        return;
    };
    let Ok(mut conn) = client.get_multiplexed_async_connection().await else {
        return;
    };
    let mut cursor = 0u64;
    loop {
        let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(5_000)
            .query_async(&mut conn)
            .await
            .unwrap();
        if !keys.is_empty() {
            let _: () = redis::cmd("UNLINK")
                .arg(&keys)
                .query_async(&mut conn)
                .await
                .unwrap();
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// Deletes every key under `prefix:` when dropped, however the benchmark ends.
pub struct CleanUp {
    pub url: String,
    pub prefix: String,
}

impl Drop for CleanUp {
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(self.url.as_str()).and_then(|c| c.get_connection())
        else {
            return;
        };
        let mut cursor = 0u64;
        loop {
            let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", self.prefix))
                .arg("COUNT")
                .arg(5_000)
                .query(&mut conn)
            else {
                return;
            };
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("UNLINK").arg(&keys).query(&mut conn);
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }
}
