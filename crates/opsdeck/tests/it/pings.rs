//! Pings and check-ins (SPEC §4, issue 5 items 3 and 4) over real HTTP, on both backends:
//! healthchecks.io's documented usage replayed (`compat`), every refusal (`refusals`), no
//! ping lost under concurrency, conflicts and two replicas (`concurrency`), and the
//! Sentry-style JSON check-ins (`checkins`). Runs are read back from the store.

mod checkins;
mod compat;
mod concurrency;
mod refusals;

use chrono::Utc;
use opsdeck_core::cron::{MonitorRecord, MonitorSource, MonitorSpec, Run};
use opsdeck_core::ids::Slug;
use opsdeck_core::token::{Grant, Scope, Scopes};
use opsdeck_server::config::Config;
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::db::TestDb;

/// An app and an ingest key with scope `checkins`.
pub struct Pinger {
    pub app: TestApp,
    pub key: String,
}

/// Room for the several wrong keys a test presents on purpose; the limiter stays on.
pub fn roomy(config: &mut Config) {
    config.rate_limit.failed_auth_burst = 1000;
    config.rate_limit.failed_auth_per_minute = 1000;
}

impl Pinger {
    pub async fn spawn(db: TestDb) -> Self {
        Self::spawn_with(db, roomy).await
    }

    pub async fn spawn_with(db: TestDb, tweak: impl FnOnce(&mut Config)) -> Self {
        let app = TestApp::spawn_with(db, tweak).await;
        let key = key(&app, "pinger", &[Scope::Checkins]).await;
        Self { app, key }
    }

    /// The full URL of `/ping/{key}/{rest}` (`rest` is `slug`, `slug/start`, `slug?rid=…`).
    pub fn url(&self, rest: &str) -> String {
        self.app.url(&format!("/ping/{}/{rest}", self.key))
    }

    pub async fn ping(&self, method: Method, rest: &str, body: &str) -> Response {
        self.app
            .client
            .request(method, self.url(rest))
            .body(body.to_owned())
            .send()
            .await
            .expect("ping")
    }

    /// GETs `/ping/{key}/{rest}` and expects `200 OK` with body `OK`.
    pub async fn ok(&self, rest: &str) {
        let response = self.ping(Method::GET, rest, "").await;
        assert_eq!(response.status(), StatusCode::OK, "{rest}");
        assert_eq!(response.text().await.unwrap(), "OK", "{rest}");
    }

    /// Stores a monitor expected once a day (as `create=1` would make it).
    pub async fn monitor(&self, slug: &str) -> MonitorRecord {
        let spec = MonitorSpec::auto_created(Slug::parse(slug).unwrap());
        self.app
            .state
            .store()
            .create_monitor(&spec, MonitorSource::Api, Utc::now())
            .await
            .expect("create monitor")
    }

    pub async fn record(&self, slug: &str) -> Option<MonitorRecord> {
        let slug = Slug::parse(slug).unwrap();
        self.app.state.store().get_monitor(&slug).await.unwrap()
    }

    /// Every run of `slug`, newest first.
    pub async fn runs(&self, slug: &str) -> Vec<Run> {
        let slug = Slug::parse(slug).unwrap();
        let page = self.app.state.store().list_runs(&slug, None, 1000).await;
        page.expect("list runs").runs
    }

    pub async fn log(&self, slug: &str, run: &Run) -> String {
        let slug = Slug::parse(slug).unwrap();
        let log = self.app.state.store().get_run_log(&slug, run.run_id).await;
        log.expect("run log").unwrap_or_default()
    }
}

/// An ingest key with `scopes`.
pub async fn key(app: &TestApp, name: &str, scopes: &[Scope]) -> String {
    let grant = Grant::Scopes(Scopes::new(scopes.iter().copied()).unwrap());
    app.mint(name, grant, None).await.1
}

/// The error envelope of a refusal, with its code.
pub async fn refusal(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("envelope");
    assert_eq!(body["error"]["code"], code, "{body}");
    body
}
