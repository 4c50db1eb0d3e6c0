//! A BullMQ world of one test: its own Redis key prefix, the real BullMQ library (6.7.6 or
//! 5.81.5) driven by `tests/fixtures/queues/bullmq/driver.js`, an app with the source, and an
//! operator and a viewer to act as. The prefix's keys are deleted when the test ends.

use std::process::Stdio;
use std::time::Duration;

use opsdeck_connectors::queues::bullmq::Bullmq;
use opsdeck_connectors::queues::{QueueConnector, QueueType, SourceContext};
use opsdeck_core::ids::SourceName;
use opsdeck_server::config::SourceConfig;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::support::app::TestApp;
use crate::support::db::TestDb;

pub const REDIS: &str = "redis://127.0.0.1:6379";
pub const SOURCE: &str = "app";
pub const QUEUE: &str = "mail";

/// The two BullMQ majors opsdeck supports, as the fixtures' package names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lib {
    V6,
    V5,
}

impl Lib {
    fn package(self) -> &'static str {
        match self {
            Lib::V6 => "bullmq",
            Lib::V5 => "bullmq5",
        }
    }
}

pub struct Bull {
    pub lib: Lib,
    pub prefix: String,
}

fn driver() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/queues/bullmq/driver.js")
}

impl Bull {
    pub fn new(lib: Lib) -> Self {
        Self {
            lib,
            prefix: format!("opsdeck-t-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    fn command(&self, command: &str, args: &Value) -> Command {
        let mut args = args.clone();
        args["prefix"] = json!(self.prefix);
        if args.get("queue").is_none() {
            args["queue"] = json!(QUEUE);
        }
        let mut node = Command::new("node");
        node.arg(driver())
            .arg(self.lib.package())
            .arg(command)
            .arg(args.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        node
    }

    /// Runs a driver command and answers its JSON.
    pub async fn node(&self, command: &str, args: Value) -> Value {
        let out = self
            .command(command, &args)
            .output()
            .await
            .expect("node runs");
        assert!(
            out.status.success(),
            "driver {command} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("the driver answers JSON")
    }

    /// Starts a driver command in the background.
    pub fn spawn_node(&self, command: &str, args: Value) -> Child {
        self.command(command, &args).spawn().expect("node starts")
    }

    /// `jobs` added and failed by a real worker; their ids.
    pub async fn failed_jobs(&self, jobs: Value, error: &str) -> Vec<String> {
        let out = self
            .node("fail", json!({"jobs": jobs, "error": error}))
            .await;
        serde_json::from_value(out["ids"].clone()).unwrap()
    }

    /// What BullMQ itself reports: getJobCounts(), isPaused(), failed and waiting ids.
    pub async fn counts(&self) -> Value {
        self.node("counts", json!({})).await
    }

    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(REDIS)
            .unwrap()
            .get_connection()
            .expect("the machine's redis answers")
    }

    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{QUEUE}:{suffix}", self.prefix)
    }

    /// The source of this prefix, polled every second, tenants at `data.tenantId`.
    pub fn source(&self) -> SourceConfig {
        SourceConfig {
            poll_interval: Some(Duration::from_secs(1)),
            tenant_path: Some("data.tenantId".to_owned()),
            ..SourceConfig::system(SOURCE, Bullmq::new(REDIS, &self.prefix))
        }
    }

    /// A connector of this prefix, straight from the connector crate.
    pub async fn connector(&self) -> Box<dyn QueueConnector> {
        Bullmq::new(REDIS, &self.prefix)
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

impl Drop for Bull {
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(REDIS).and_then(|c| c.get_connection()) else {
            return;
        };
        let mut cursor = 0u64;
        loop {
            let Ok((next, keys)): redis::RedisResult<(u64, Vec<String>)> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}:*", self.prefix))
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

pub use crate::support::queues::{get_json, principal};

/// The queue as `/ops/queues` shows it, once `check` holds.
pub async fn polled_queue(app: &TestApp, token: &str, check: impl Fn(&Value) -> bool) -> Value {
    crate::support::queues::polled_queue(app, token, QUEUE, check).await
}
