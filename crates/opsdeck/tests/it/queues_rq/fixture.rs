//! An RQ world of one test: its own `RQ_KEY_PREFIX`, the real RQ library driven by
//! `tests/fixtures/queues/python/rq_driver.py`, an app with the source, principals to act as.
//! The prefix's keys are deleted when the test ends.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use opsdeck_connectors::queues::rq::Rq;
use opsdeck_connectors::queues::{QueueConnector, QueueType, SourceContext};
use opsdeck_core::ids::SourceName;
use opsdeck_server::config::SourceConfig;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::support::app::TestApp;
use crate::support::db::TestDb;

pub use crate::queues_bullmq::fixture::{get_json, principal};

pub const REDIS: &str = "redis://127.0.0.1:6379";
pub const SOURCE: &str = "app";
pub const QUEUE: &str = "billing";

pub fn python_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/queues/python")
}

pub struct RqWorld {
    pub prefix: String,
}

impl RqWorld {
    pub fn new() -> Self {
        Self {
            prefix: format!("opsdeck-t-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Runs a driver command on the test's queue and answers its JSON.
    pub async fn py(&self, command: &str, args: Value) -> Value {
        let mut args = args;
        if args.get("queue").is_none() {
            args["queue"] = json!(QUEUE);
        }
        let dir = python_dir();
        let out = Command::new(dir.join(".venv/bin/python"))
            .arg(dir.join("rq_driver.py"))
            .arg(command)
            .arg(args.to_string())
            .current_dir(&dir)
            .env("RQ_KEY_PREFIX", &self.prefix)
            .env("OPSDECK_TEST_REDIS", format!("{REDIS}/0"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .expect("python runs");
        assert!(
            out.status.success(),
            "rq driver {command} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the driver answers JSON")
    }

    /// `jobs` enqueued with Queue.enqueue and failed by a real worker; their ids.
    pub async fn failed_jobs(&self, jobs: Value) -> Vec<String> {
        let out = self.py("fail", json!({"jobs": jobs})).await;
        serde_json::from_value(out["ids"].clone()).unwrap()
    }

    pub async fn enqueue(&self, jobs: Value) -> Vec<String> {
        let out = self.py("enqueue", json!({"jobs": jobs})).await;
        serde_json::from_value(out["ids"].clone()).unwrap()
    }

    /// A real worker in burst mode; the ids it ran.
    pub async fn work(&self) -> Vec<String> {
        let out = self.py("work", json!({})).await;
        serde_json::from_value(out["ran"].clone()).unwrap()
    }

    /// What RQ's registries and queue say.
    pub async fn counts(&self) -> Value {
        self.py("counts", json!({})).await
    }

    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(REDIS)
            .unwrap()
            .get_connection()
            .expect("the machine's redis answers")
    }

    pub fn key(&self, kind: &str, name: &str) -> String {
        format!("{}:{kind}:{name}", self.prefix)
    }

    pub fn rq(&self) -> Rq {
        Rq::new(REDIS, &self.prefix)
    }

    /// The source of this prefix, polled every second, tenants at `args[0]`.
    pub fn source(&self) -> SourceConfig {
        SourceConfig {
            poll_interval: Some(Duration::from_secs(1)),
            tenant_path: Some("args[0]".to_owned()),
            ..SourceConfig::system(SOURCE, self.rq())
        }
    }

    pub async fn connector(&self) -> Box<dyn QueueConnector> {
        self.rq()
            .connect(SourceContext {
                source: SourceName::parse(SOURCE).unwrap(),
                tenant_path: None,
                read_timeout: Duration::from_secs(2),
            })
            .await
            .unwrap()
    }

    pub async fn app(&self) -> TestApp {
        let source = self.source();
        TestApp::spawn_with(TestDb::sqlite(), |config| {
            config.queues.sources = vec![source];
        })
        .await
    }
}

impl Drop for RqWorld {
    fn drop(&mut self) {
        delete_prefix(&self.prefix);
    }
}

/// Deletes every key under `prefix:`.
pub fn delete_prefix(prefix: &str) {
    let Ok(mut conn) = redis::Client::open(REDIS).and_then(|c| c.get_connection()) else {
        return;
    };
    let mut cursor = 0u64;
    loop {
        let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(1000)
            .query(&mut conn)
        else {
            return;
        };
        if !keys.is_empty() {
            let _: redis::RedisResult<()> = redis::cmd("DEL").arg(&keys).query(&mut conn);
        }
        if next == 0 {
            return;
        }
        cursor = next;
    }
}

/// The queue as `/ops/queues` shows it, once a poll has shown it as `check` wants.
pub async fn polled_queue(app: &TestApp, token: &str, check: impl Fn(&Value) -> bool) -> Value {
    crate::support::wait_for_async(
        Duration::from_secs(10),
        "the poll to show the queue",
        || async {
            let (_, overview) = get_json(app, token, "/ops/queues").await;
            overview["queues"]
                .as_array()?
                .iter()
                .find(|q| q["queue"] == QUEUE && check(q))
                .cloned()
        },
    )
    .await
}

/// A charge that fails with secrets in its arguments and its error.
pub fn charge(tenant: &str) -> Value {
    json!({
        "func": "charge",
        "args": [tenant, 7, "4111 1111 1111 1111", "jane@example.com", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"],
    })
}
