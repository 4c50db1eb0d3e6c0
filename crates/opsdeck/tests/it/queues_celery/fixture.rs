//! A Celery world of one test: its own key prefix for the broker and the result backend in
//! Redis database 2, the real Celery app of `tests/fixtures/queues/python/celery_app.py`
//! driven by `celery_driver.py`, real workers (`celery worker --pool=solo`), an app with the
//! source. The prefix's keys are deleted when the test ends.

use std::process::Stdio;
use std::time::Duration;

use opsdeck_connectors::queues::celery::Celery;
use opsdeck_core::secret::Secret;
use opsdeck_server::config::SourceConfig;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::queues_rq::fixture::python_dir;
use crate::support::app::TestApp;
use crate::support::db::TestDb;

pub use crate::queues_bullmq::fixture::{get_json, principal};

/// Database 2: the Celery tests' own (other tests use 0 and 10-15).
pub const REDIS: &str = "redis://127.0.0.1:6379/2";
pub const SOURCE: &str = "tasks";
pub const QUEUES: [&str; 3] = ["billing", "reports", "slow"];

pub struct CeleryWorld {
    pub prefix: String,
    workers: Vec<u32>,
}

impl CeleryWorld {
    pub fn new() -> Self {
        Self {
            prefix: format!("opsdeck-t-{}:", uuid::Uuid::new_v4().simple()),
            workers: Vec::new(),
        }
    }

    pub async fn py(&self, command: &str, args: Value) -> Value {
        let dir = python_dir();
        let out = Command::new(dir.join(".venv/bin/python"))
            .arg(dir.join("celery_driver.py"))
            .arg(command)
            .arg(args.to_string())
            .current_dir(&dir)
            .env("OPSDECK_CELERY_REDIS", REDIS)
            .env("OPSDECK_CELERY_PREFIX", &self.prefix)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .expect("python runs");
        assert!(
            out.status.success(),
            "celery driver {command} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the driver answers JSON")
    }

    /// Sends `tasks` with apply_async; their ids.
    pub async fn send(&self, tasks: Value) -> Vec<String> {
        let out = self.py("send", json!({"tasks": tasks})).await;
        serde_json::from_value(out["ids"].clone()).unwrap()
    }

    /// A real worker on `queues` until every id is done; their states.
    pub async fn work(&self, queues: &[&str], ids: &[String]) -> Value {
        self.py("work", json!({"queues": queues, "ids": ids})).await["states"].clone()
    }

    /// A real worker on `queues` in the background, stopped by [`Self::stop_workers`] or
    /// when the test ends.
    pub async fn start_worker(&mut self, queues: &[&str]) {
        let out = self.py("start_worker", json!({"queues": queues})).await;
        self.workers.push(out["pid"].as_u64().unwrap() as u32);
    }

    pub fn stop_workers(&mut self) {
        for pid in self.workers.drain(..) {
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
    }

    /// kombu's own `_size` of each queue and the broker's unacknowledged count.
    pub async fn depth(&self) -> Value {
        self.py("depth", json!({"queues": QUEUES})).await
    }

    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(REDIS)
            .unwrap()
            .get_connection()
            .expect("the machine's redis answers")
    }

    pub fn celery(&self) -> Celery {
        Celery {
            result_backend: Some(Secret::new(REDIS.to_owned())),
            queues: QUEUES.iter().map(|q| (*q).to_owned()).collect(),
            global_keyprefix: Some(self.prefix.clone()),
            result_keyprefix: Some(self.prefix.clone()),
            ..Celery::new(REDIS)
        }
    }

    /// The source of this prefix, polled every second, tenants at `args[0]`.
    pub fn source(&self) -> SourceConfig {
        SourceConfig {
            poll_interval: Some(Duration::from_secs(1)),
            tenant_path: Some("args[0]".to_owned()),
            ..SourceConfig::system(SOURCE, self.celery())
        }
    }

    pub async fn app(&self) -> TestApp {
        let source = self.source();
        TestApp::spawn_with(TestDb::sqlite(), |config| {
            config.queues.sources = vec![source];
        })
        .await
    }
}

impl Drop for CeleryWorld {
    fn drop(&mut self) {
        self.stop_workers();
        let Ok(mut conn) = redis::Client::open(REDIS).and_then(|c| c.get_connection()) else {
            return;
        };
        let mut cursor = 0u64;
        loop {
            let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", self.prefix))
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
}

/// A charge that fails with secrets in its arguments and its error.
pub fn charge(tenant: &str) -> Value {
    json!({
        "task": "charge",
        "queue": "billing",
        "args": [tenant, 7],
        "kwargs": {"card": "4111 1111 1111 1111", "email": "jane@example.com", "token": "sk_live_4eC39HqLyjWDarjtT1zdp7dc"},
    })
}

/// A queue as `/ops/queues` shows it, once a poll has shown it as `check` wants.
pub async fn polled_queue(
    app: &TestApp,
    token: &str,
    queue: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    crate::support::wait_for_async(
        Duration::from_secs(20),
        "the poll to show the queue",
        || async {
            let (_, overview) = get_json(app, token, "/ops/queues").await;
            overview["queues"]
                .as_array()?
                .iter()
                .find(|q| q["queue"] == queue && check(q))
                .cloned()
        },
    )
    .await
}
