//! A Sidekiq world of one test: a Redis database of its own among 10 to 15 (Sidekiq 6.4.1
//! without redis-namespace cannot prefix its keys), claimed with a lock key in database 0 so
//! parallel tests and processes never share one, flushed when claimed and when the test ends;
//! the real Sidekiq client and server through `driver.rb`; an app with the source.

use std::process::Stdio;
use std::time::Duration;

use opsdeck_connectors::queues::sidekiq::Sidekiq;
use opsdeck_connectors::queues::{QueueConnector, QueueType, SourceContext};
use opsdeck_core::ids::SourceName;
use opsdeck_core::queues::TenantPath;
use opsdeck_server::config::SourceConfig;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

pub const REDIS: &str = "redis://127.0.0.1:6379";
pub const SOURCE: &str = "app";
pub const QUEUE: &str = "default";
/// The databases Sidekiq tests and the benchmark may use.
pub const DATABASES: std::ops::RangeInclusive<u8> = 10..=15;
const LOCK_TTL_SECONDS: u64 = 600;

pub struct Kiq {
    pub db: u8,
    token: String,
}

fn driver() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/queues/sidekiq/driver.rb")
}

fn lock_key(db: u8) -> String {
    format!("opsdeck-sidekiq-db-lock:{db}")
}

impl Kiq {
    /// Claims a free database (waiting for one), empty.
    pub async fn new() -> Self {
        let token = uuid::Uuid::new_v4().to_string();
        let db = wait_for_async(Duration::from_secs(120), "a free Redis database", || {
            let token = token.clone();
            async move {
                let mut conn = redis::Client::open(REDIS).ok()?.get_connection().ok()?;
                DATABASES.clone().find(|db| {
                    let claimed: Option<String> = redis::cmd("SET")
                        .arg(lock_key(*db))
                        .arg(&token)
                        .arg("NX")
                        .arg("EX")
                        .arg(LOCK_TTL_SECONDS)
                        .query(&mut conn)
                        .unwrap_or(None);
                    claimed.is_some()
                })
            }
        })
        .await;
        let kiq = Self { db, token };
        let _: () = redis::cmd("FLUSHDB").query(&mut kiq.redis()).unwrap();
        kiq
    }

    pub fn url(&self) -> String {
        format!("{REDIS}/{}", self.db)
    }

    pub fn redis(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .unwrap()
            .get_connection()
            .expect("the machine's redis answers")
    }

    /// Runs a driver command against this database and answers its JSON.
    pub async fn ruby(&self, command: &str, mut args: Value) -> Value {
        args["url"] = json!(self.url());
        let out = Command::new("ruby")
            .arg(driver())
            .arg(command)
            .arg(args.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .output()
            .await
            .expect("ruby runs");
        assert!(
            out.status.success(),
            "driver {command} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "driver {command} answered no JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Pushes `jobs` with Sidekiq's own client; their jids.
    pub async fn push(&self, jobs: Value) -> Vec<String> {
        let out = self.ruby("push", json!({ "jobs": jobs })).await;
        serde_json::from_value(out["jids"].clone()).unwrap()
    }

    /// Runs the real Sidekiq server until `until` (retry, dead, ran counts) holds and the
    /// queue is empty; Sidekiq's own view afterwards.
    pub async fn work(&self, until: Value) -> Value {
        let mut args = until;
        args["timeout"] = json!(20);
        self.ruby("work", args).await
    }

    /// Sidekiq's own view: Stats, the sets, the jobs run.
    pub async fn state(&self) -> Value {
        self.ruby("state", json!({})).await
    }

    /// Charge jobs that fail with a card number and a key in their error: each with the
    /// retries given (0: straight to the dead set), run by the real server until they land.
    pub async fn failed(&self, retries: &[(u32, &str)]) -> Vec<String> {
        let jobs: Vec<Value> = retries
            .iter()
            .map(|(retry, tenant)| {
                json!({
                    "class": "ChargeJob",
                    "queue": QUEUE,
                    "args": [{"card": "4111 1111 1111 1111", "tenant_id": tenant}],
                    "retry": retry,
                    "backtrace": true,
                })
            })
            .collect();
        let jids = self.push(json!(jobs)).await;
        let before = self.state().await;
        let count = |set: &str| before[set].as_array().map_or(0, Vec::len);
        let retry = count("retry") + retries.iter().filter(|(r, _)| *r > 0).count();
        let dead = count("dead") + retries.iter().filter(|(r, _)| *r == 0).count();
        self.work(json!({"retry": retry, "dead": dead})).await;
        jids
    }

    /// Lets `ChargeJob` succeed from now on.
    pub fn heal(&self) {
        let _: () = redis::cmd("SET")
            .arg("opsdeck:heal")
            .arg(1)
            .query(&mut self.redis())
            .unwrap();
    }

    pub fn sidekiq(&self) -> Sidekiq {
        Sidekiq::new(&self.url())
    }

    /// The source of this database, polled every second, tenants at `args[0].tenant_id`.
    pub fn source(&self) -> SourceConfig {
        SourceConfig {
            poll_interval: Some(Duration::from_secs(1)),
            tenant_path: Some("args[0].tenant_id".to_owned()),
            ..SourceConfig::system(SOURCE, self.sidekiq())
        }
    }

    pub async fn connector_of(&self, sidekiq: Sidekiq) -> Box<dyn QueueConnector> {
        self.connector_with(sidekiq, "args[0].tenant_id").await
    }

    /// A connector of `sidekiq`'s keys with tenants at `tenant_path`.
    pub async fn connector_with(
        &self,
        sidekiq: Sidekiq,
        tenant_path: &str,
    ) -> Box<dyn QueueConnector> {
        sidekiq
            .connect(SourceContext {
                source: SourceName::parse(SOURCE).unwrap(),
                tenant_path: Some(TenantPath::parse(tenant_path).unwrap()),
                read_timeout: Duration::from_secs(2),
            })
            .await
            .unwrap()
    }

    /// A connector of this database, straight from the connector crate.
    pub async fn connector(&self) -> Box<dyn QueueConnector> {
        self.connector_of(self.sidekiq()).await
    }

    pub async fn app(&self) -> TestApp {
        let source = self.source();
        TestApp::spawn_with(TestDb::sqlite(), |config| {
            config.queues.sources = vec![source];
        })
        .await
    }
}

impl Drop for Kiq {
    fn drop(&mut self) {
        let Ok(mut conn) = redis::Client::open(self.url()).and_then(|c| c.get_connection()) else {
            return;
        };
        let _: redis::RedisResult<()> = redis::cmd("FLUSHDB").query(&mut conn);
        let Ok(mut zero) = redis::Client::open(REDIS).and_then(|c| c.get_connection()) else {
            return;
        };
        let held: Option<String> = redis::cmd("GET")
            .arg(lock_key(self.db))
            .query(&mut zero)
            .unwrap_or(None);
        if held.as_deref() == Some(self.token.as_str()) {
            let _: redis::RedisResult<()> =
                redis::cmd("DEL").arg(lock_key(self.db)).query(&mut zero);
        }
    }
}

pub use crate::support::queues::{get_json, principal};

/// The queue as `/ops/queues` shows it, once `check` holds.
pub async fn polled_queue(app: &TestApp, token: &str, check: impl Fn(&Value) -> bool) -> Value {
    crate::support::queues::polled_queue(app, token, QUEUE, check).await
}

/// `text` for a query string.
pub fn urlencoding(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
