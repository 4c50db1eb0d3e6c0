//! An opsdeck application in-process, on port 0, with its own database: `TestApp::spawn`.

use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::TokenName;
use opsdeck_core::secret::Secret;
use opsdeck_core::token::{self, Grant, NewToken};
use opsdeck_server::config::Config;
use opsdeck_server::state::AppState;
use opsdeck_server::{Application, BuildOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::db::TestDb;

pub const METRICS_TOKEN: &str = "test-scrape-token-0123456789";

/// The audit checkpoint key of test apps and processes (a base64 Ed25519 seed), so that
/// starting one writes no key file.
pub const CHECKPOINT_KEY: &str = "TM0Imyj/ltqdtsNG7BFOD1uKMZ81q6Yk2oz27U+4pvs=";

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    pub state: AppState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

/// A configuration for tests: port 0, the given database, a scrape token, fast loops, the
/// test checkpoint key.
pub fn test_config(db_url: &str) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".parse().unwrap();
    config.database.url = Secret::new(db_url.to_owned());
    config.metrics.token = Some(Secret::new(METRICS_TOKEN.to_owned()));
    config.audit.checkpoint_key = Some(Secret::new(CHECKPOINT_KEY.to_owned()));
    // Each app its own spool, outside the source tree.
    config.audit.spool_file =
        std::env::temp_dir().join(format!("opsdeck-test-spool-{}.jsonl", uuid::Uuid::now_v7()));
    config
}

/// Creates a token straight in `store`; returns its id and secret.
pub async fn mint_in(
    store: &dyn opsdeck_core::Store,
    name: &str,
    grant: Grant,
    expires_at: Option<DateTime<Utc>>,
) -> (uuid::Uuid, String) {
    let new = NewToken {
        name: TokenName::parse(name).expect("valid token name"),
        grant,
        created_by: Some("test".into()),
        expires_at,
    };
    let secret = token::generate(new.kind());
    let record = store
        .create_token(&new, &secret.hash, &secret.display, Utc::now())
        .await
        .expect("create token");
    (record.id, secret.secret.expose().to_owned())
}

impl TestApp {
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, |_| {}).await
    }

    pub async fn spawn_with(db: TestDb, tweak: impl FnOnce(&mut Config)) -> Self {
        let url = db.url.clone();
        Self::spawn_owning(&url, Some(db), tweak).await
    }

    /// Another replica on a database whose [`TestDb`] someone else owns (and outlives this
    /// app).
    pub async fn spawn_replica(url: &str, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_owning(url, None, tweak).await
    }

    async fn spawn_owning(url: &str, db: Option<TestDb>, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config(url);
        tweak(&mut config);
        let app = Application::build(config, BuildOptions::default())
            .await
            .expect("build app");
        let addr = app.local_addr().expect("local addr");
        let state = app.state().clone();
        let (stop, stopped) = oneshot::channel();
        // The database lives in the app's task, so it is removed only after the app has
        // stopped writing to it.
        let task = tokio::spawn(async move {
            let result = app
                .run_until(async move {
                    let _ = stopped.await;
                })
                .await;
            drop(db);
            result
        });
        Self {
            addr,
            client: reqwest::Client::new(),
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Creates a token straight in the store; returns its id and secret.
    pub async fn mint(
        &self,
        name: &str,
        grant: Grant,
        expires_at: Option<DateTime<Utc>>,
    ) -> (uuid::Uuid, String) {
        mint_in(self.state.store().as_ref(), name, grant, expires_at).await
    }

    /// A personal token with `role`, named after it.
    pub async fn mint_role(&self, role: Role) -> (uuid::Uuid, String) {
        self.mint(role.as_str(), Grant::Role(role), None).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn metrics(&self) -> String {
        self.client
            .get(self.url("/metrics"))
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("metrics body")
    }

    /// Stops the app as SIGTERM would and waits for it to finish.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("app task"),
            None => Ok(()),
        }
    }

    /// Begins a shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) -> JoinHandle<anyhow::Result<()>> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().expect("app still running")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
