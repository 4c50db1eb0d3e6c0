//! Shutdown with HTTP cron job calls in flight: every run the scheduler started gets its end
//! recorded before the ping writer stops. A call that answers within the shutdown grace is
//! a success like any other; one that outlasts it is abandoned and recorded as failed,
//! saying why. Never a run left `running`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use opsdeck_core::auth::Role;
use opsdeck_core::cron::{Run, RunSource, RunStatus};
use opsdeck_core::ids::Slug;
use reqwest::Method;
use serde_json::json;
use tokio::task::JoinHandle;

use super::{cron_config, send};
use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::wait_for;

on_both_backends!(
    shutdown_records_the_end_of_calls_in_flight,
    shutdown_abandons_calls_that_outlast_the_grace,
);

/// How long `/slow` takes to answer: long enough to be in flight when shutdown begins.
const SLOW: Duration = Duration::from_millis(1500);

/// An endpoint that records each request's path on arrival; `/hang` never answers, any
/// other path answers 200 after [`SLOW`]. Stops serving when dropped.
struct SlowEndpoint {
    addr: std::net::SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl SlowEndpoint {
    async fn start() -> Self {
        let hits = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(answer).with_state(hits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the endpoint");
        let addr = listener.local_addr().expect("endpoint address");
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("serve the endpoint");
        });
        Self { addr, hits, task }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits
            .lock()
            .unwrap()
            .iter()
            .filter(|p| *p == path)
            .count()
    }
}

impl Drop for SlowEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(State(hits): State<Arc<Mutex<Vec<String>>>>, uri: Uri) -> Response {
    hits.lock().unwrap().push(uri.path().to_owned());
    if uri.path() == "/hang" {
        std::future::pending::<()>().await;
    }
    // The job's own slowness, not a wait of the test.
    tokio::time::sleep(SLOW).await;
    (StatusCode::OK, "warmed").into_response()
}

/// The scheduler's runs of `slug`, read straight from the database once the app is gone.
async fn scheduler_runs(db: &TestDb, slug: &str) -> Vec<Run> {
    let slug = Slug::parse(slug).unwrap();
    let page = db
        .store()
        .await
        .list_runs(&slug, None, 500)
        .await
        .expect("list runs");
    page.runs
        .into_iter()
        .filter(|run| run.source == RunSource::Scheduler)
        .collect()
}

/// Triggers `slug` as an operator; the new run's id.
async fn trigger(app: &TestApp, operator: &str, slug: &str) -> String {
    let path = format!("/ops/cron/{slug}/trigger");
    let reason = Some(json!({"reason": "shutdown test"}));
    let (status, body) = send(app, Method::POST, &path, operator, reason).await;
    assert_eq!(status, 202, "{body}");
    body["run_id"].as_str().expect("a run id").to_owned()
}

async fn shutdown_records_the_end_of_calls_in_flight(db: TestDb) {
    let endpoint = SlowEndpoint::start().await;
    // One job fired by the loop every second, one only when triggered (yearly).
    let toml = format!(
        "[[cron.jobs]]\nslug = \"slow-tick\"\ninterval = \"1s\"\nurl = \"{}\"\ntimeout = \"10s\"\n\
         [[cron.jobs]]\nslug = \"slow-report\"\nschedule = \"0 0 1 1 *\"\nurl = \"{}\"\ntimeout = \"10s\"\n",
        endpoint.url("/tick"),
        endpoint.url("/report"),
    );
    let cron = cron_config(&toml);
    // The app gets its own handle on the database, so the test can read it afterwards.
    let mut app = TestApp::spawn_replica(&db.url, |c| {
        c.cron = cron;
        c.server.shutdown_grace = Duration::from_secs(10);
    })
    .await;
    let (_, operator) = app.mint_role(Role::Operator).await;
    let run_id = trigger(&app, &operator, "slow-report").await;
    wait_for(
        Duration::from_secs(15),
        "both jobs' calls to reach the endpoint",
        || (endpoint.hits("/report") == 1 && endpoint.hits("/tick") >= 1).then_some(()),
    )
    .await;

    // Both calls are in flight (each takes SLOW): shut down now.
    app.begin_shutdown()
        .await
        .expect("app task")
        .expect("clean shutdown");

    let report = scheduler_runs(&db, "slow-report").await;
    assert_eq!(report.len(), 1, "{report:?}");
    assert_eq!(report[0].run_id.to_string(), run_id);
    assert_eq!(
        report[0].status,
        RunStatus::Success,
        "the triggered run finished: {report:?}"
    );
    let ticks = scheduler_runs(&db, "slow-tick").await;
    assert_eq!(
        ticks.len(),
        endpoint.hits("/tick"),
        "one run per call: {ticks:?}"
    );
    assert!(
        ticks.iter().all(|run| run.status == RunStatus::Success),
        "every scheduled run finished: {ticks:?}"
    );
}

async fn shutdown_abandons_calls_that_outlast_the_grace(db: TestDb) {
    let endpoint = SlowEndpoint::start().await;
    let toml = format!(
        "[[cron.jobs]]\nslug = \"stuck-report\"\nschedule = \"0 0 1 1 *\"\nurl = \"{}\"\ntimeout = \"60s\"\n",
        endpoint.url("/hang"),
    );
    let cron = cron_config(&toml);
    let mut app = TestApp::spawn_replica(&db.url, |c| {
        c.cron = cron;
        c.server.shutdown_grace = Duration::from_secs(1);
    })
    .await;
    let (_, operator) = app.mint_role(Role::Operator).await;
    let run_id = trigger(&app, &operator, "stuck-report").await;
    wait_for(
        Duration::from_secs(15),
        "the call to reach the endpoint",
        || (endpoint.hits("/hang") == 1).then_some(()),
    )
    .await;

    let stopped = tokio::time::timeout(Duration::from_secs(30), app.begin_shutdown())
        .await
        .expect("shutdown does not wait for the job's timeout");
    stopped.expect("app task").expect("clean shutdown");

    let runs = scheduler_runs(&db, "stuck-report").await;
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0].run_id.to_string(), run_id);
    assert_eq!(runs[0].status, RunStatus::Failed, "{runs:?}");
    let error = runs[0].error.as_deref().unwrap_or_default();
    assert!(
        error.contains("shut down before the endpoint answered"),
        "{error}"
    );
}
