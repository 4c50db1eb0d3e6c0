//! The Cron pages and the overview's cron widget (issue 5 item 11). Over plain HTTP on both
//! backends: the list with its status and tag filters, a monitor's page with its duration
//! chart, run paging and log excerpts, everything escaped; the operators' pause and resume
//! forms (role, session CSRF token, reason, audit entry) and the widget's counts and failing
//! monitors. The trigger form against a real HTTP job. And in a real Chromium (`browser`):
//! a monitor that fails while the overview is open appears in its widget with the error
//! snippet, and its page draws the duration chart. The admins' monitor forms have their own
//! (`forms`).

use std::time::Duration;

use opsdeck_core::audit::AuditFilter;
use opsdeck_core::auth::Role;
use opsdeck_core::cron::RunStatus;
use opsdeck_core::ids::Slug;
use opsdeck_core::token::Scope;
use opsdeck_server::config::{Config, JobDefinition};
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{client, form_value, sign_in};
use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

mod browser;
mod forms;
mod paging;
mod snippets;
mod units;

on_both_backends!(
    cron_pages_show_monitors_runs_and_logs_to_a_viewer,
    operators_pause_and_resume_from_the_page_and_viewers_cannot,
    the_overview_widget_counts_monitors_and_shows_the_failing_ones,
);

const WITHIN: Duration = Duration::from_secs(30);
/// What the failing job prints last; markup in it must reach the page as text.
const ERROR_TEXT: &str = "ERROR: disk full on /var/backups <script>alert(1)</script>";

/// An app with an admin token (to create monitors) and an ingest key (to ping them).
pub(super) struct CronApp {
    pub(super) app: TestApp,
    pub(super) admin: String,
    key: String,
}

fn quiet(config: &mut Config) {
    config.rate_limit.enabled = false;
    config.session.secure_cookie = false;
}

impl CronApp {
    pub(super) async fn spawn(db: TestDb, tweak: impl FnOnce(&mut Config)) -> Self {
        let app = TestApp::spawn_with(db, |c| {
            quiet(c);
            tweak(c);
        })
        .await;
        let (_, admin) = app.mint_role(Role::Admin).await;
        let key = crate::pings::key(&app, "jobs", &[Scope::Checkins]).await;
        Self { app, admin, key }
    }

    /// Creates a monitor through the admin API.
    pub(super) async fn create(&self, monitor: Value) {
        let mut body = monitor;
        body["reason"] = json!("dashboard test");
        let response = self
            .app
            .client
            .post(self.app.url("/ops/cron"))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED, "{body}");
    }

    /// POSTs `body` to `/ping/{key}/{rest}`.
    async fn ping(&self, rest: &str, body: &str) {
        let url = self.app.url(&format!("/ping/{}/{rest}", self.key));
        let response = self
            .app
            .client
            .post(url)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{rest}");
    }

    /// One run of `slug`: a start, then a success or a failure carrying `output`.
    pub(super) async fn run(&self, slug: &str, ok: bool, output: &str) -> uuid::Uuid {
        let rid = uuid::Uuid::new_v4();
        self.ping(&format!("{slug}/start?rid={rid}"), "").await;
        let end = if ok { "0" } else { "fail" };
        self.ping(&format!("{slug}/{end}?rid={rid}"), output).await;
        rid
    }

    async fn page(&self, token: &str, path: &str) -> (StatusCode, String) {
        let response = client()
            .get(self.app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }
}

/// The monitor of a test: expected daily at 02:30 in Berlin, with tags.
pub(super) fn backup() -> Value {
    json!({
        "slug": "nightly-backup", "name": "Nightly backup", "schedule": "30 2 * * *",
        "tz": "Europe/Berlin", "tags": ["backups", "nightly"]
    })
}

/// The number in the widget's or list's count of `status`.
fn count_of(html: &str, status: &str) -> u32 {
    let marker = format!("data-count=\"{status}\"");
    let at = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no count of {status}"));
    let rest = &html[at..];
    let start = rest.find("<strong>").unwrap() + "<strong>".len();
    rest[start..start + rest[start..].find('<').unwrap()]
        .parse()
        .unwrap()
}

async fn cron_pages_show_monitors_runs_and_logs_to_a_viewer(db: TestDb) {
    let c = CronApp::spawn(db, |_| {}).await;
    let (_, viewer) = c.app.mint_role(Role::Viewer).await;
    c.create(backup()).await;
    c.create(json!({
        "slug": "report", "name": "Daily <report>", "interval": "1d", "tags": ["reports"]
    }))
    .await;
    // 27 good runs and a failing one: two pages of runs (25 a page).
    let mut rids = Vec::new();
    for i in 0..27 {
        rids.push(
            c.run("nightly-backup", true, &format!("copied {i} files"))
                .await,
        );
    }
    let failed = c.run("nightly-backup", false, ERROR_TEXT).await;
    c.run("report", true, "sent").await;

    // The list: status, schedule in words with its zone, the error escaped, tags.
    let (status, list) = c.page(&viewer, "/cron").await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("data-monitor=\"nightly-backup\" data-status=\"down\""));
    assert!(list.contains("data-monitor=\"report\" data-status=\"up\""));
    assert!(list.contains("every day at 02:30") && list.contains("(Europe/Berlin)"));
    assert!(list.contains("every 24h"), "an interval monitor");
    assert!(list.contains("disk full on /var/backups &#60;script&#62;"));
    assert!(!list.contains("<script>alert"), "the snippet is escaped");
    assert!(list.contains("Daily &#60;report&#62;"), "names are escaped");
    assert!(list.contains("href=\"/cron?tag=backups\""));
    assert!(
        list.find("data-monitor=\"nightly-backup\"").unwrap()
            < list.find("data-monitor=\"report\"").unwrap(),
        "broken monitors first"
    );
    assert_eq!(count_of(&list, "down"), 1);
    assert_eq!(count_of(&list, "up"), 1);

    // Filters by status and tag, and a refused status.
    for (query, backup_listed, report_listed) in [
        ("?status=down", true, false),
        ("?status=up", false, true),
        ("?tag=reports", false, true),
        ("?status=down&tag=reports", false, false),
    ] {
        let (status, page) = c.page(&viewer, &format!("/cron{query}")).await;
        assert_eq!(status, StatusCode::OK, "{query}");
        let rows = &page[page.find("<h1>").unwrap()..];
        assert_eq!(
            rows.contains("data-monitor=\"nightly-backup\""),
            backup_listed,
            "{query}"
        );
        assert_eq!(
            rows.contains("data-monitor=\"report\""),
            report_listed,
            "{query}"
        );
    }
    let (status, page) = c.page(&viewer, "/cron?status=sleeping").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("Status: choose one of"));

    // The monitor's page: chart, first page of runs, the latest run's log, no forms.
    let (status, detail) = c.page(&viewer, "/cron/nightly-backup").await;
    assert_eq!(status, StatusCode::OK);
    assert!(detail.contains("id=\"monitor-status\" data-status=\"down\""));
    let chart = &detail[detail.find("id=\"duration-chart\"").expect("a chart")..];
    let chart = &chart[..chart.find("</svg>").unwrap()];
    assert_eq!(chart.matches("<rect").count(), 28, "a bar per run");
    assert_eq!(chart.matches("<rect class=\"fail\"").count(), 1);
    assert_eq!(detail.matches("data-run=\"").count(), 25);
    assert!(detail.contains(&format!("data-run=\"{failed}\" data-status=\"failed\"")));
    let log = &detail[detail.find("id=\"log\"").unwrap()..];
    assert!(log.contains(&failed.to_string()), "the latest run's log");
    assert!(log.contains("disk full on /var/backups &#60;script&#62;"));
    assert!(!detail.contains("pause-button"), "a viewer has no forms");
    assert!(
        detail.contains("Europe/Berlin")
            && detail.contains("/ping/&#60;ingest key&#62;/nightly-backup")
    );

    // Older runs, then one old run's log.
    let end = detail.find("\" rel=\"next\"").expect("an older-runs link");
    let start = detail[..end].rfind("href=\"").unwrap() + "href=\"".len();
    let href = detail[start..end].split('#').next().unwrap().to_owned();
    assert!(href.starts_with("/cron/nightly-backup?cursor="), "{href}");
    let (status, older) = c.page(&viewer, &href).await;
    assert_eq!(status, StatusCode::OK, "{href}");
    assert_eq!(older.matches("data-run=\"").count(), 3, "{href}");
    assert!(older.contains(&format!("data-run=\"{}\"", rids[0])));
    assert!(older.contains("Newest runs") && !older.contains("rel=\"next\""));
    let (status, first) = c
        .page(&viewer, &format!("/cron/nightly-backup?run={}", rids[0]))
        .await;
    assert_eq!(status, StatusCode::OK);
    let log = &first[first.find("id=\"log\"").unwrap()..];
    assert!(log.contains("copied 0 files"), "the chosen run's log");
    let (_, unknown_run) = c
        .page(
            &viewer,
            &format!("/cron/nightly-backup?run={}", uuid::Uuid::new_v4()),
        )
        .await;
    assert!(unknown_run.contains("no such run"));

    // Unknown monitors get the dashboard's 404 page.
    for path in ["/cron/no-such-job", "/cron/Not%20A%20Slug"] {
        let (status, page) = c.page(&viewer, path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.contains("No such monitor"), "{path}");
    }

    // A viewer's pause is refused by the server, whatever the page shows.
    let refused = client()
        .post(c.app.url("/cron/nightly-backup/pause"))
        .bearer_auth(&viewer)
        .form(&[("reason", "curious")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
}

async fn operators_pause_and_resume_from_the_page_and_viewers_cannot(db: TestDb) {
    let c = CronApp::spawn(db, |_| {}).await;
    let (_, operator) = c.app.mint_role(Role::Operator).await;
    let (_, viewer) = c.app.mint_role(Role::Viewer).await;
    c.create(backup()).await;
    c.run("nightly-backup", true, "done").await;
    let (_, seen) = c.page(&viewer, "/cron/nightly-backup").await;
    assert!(
        !seen.contains("pause-button"),
        "a viewer has no pause button"
    );

    let cookie = sign_in(&c.app, &operator).await;
    let http = client();
    let get = |path: String| http.get(c.app.url(&path)).header("cookie", &cookie).send();
    let page = get("/cron/nightly-backup".into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("pause-button"),
        "an operator sees the pause button"
    );
    assert!(!page.contains("resume-button") && !page.contains("trigger-button"));
    let csrf = form_value(&page, "csrf_token");
    let post = |action: &'static str, fields: Vec<(&'static str, String)>| {
        http.post(c.app.url(&format!("/cron/nightly-backup/{action}")))
            .header("cookie", &cookie)
            .header("sec-fetch-site", "same-origin")
            .form(&fields)
            .send()
    };
    let forged = post(
        "pause",
        vec![("csrf_token", "forged".into()), ("reason", "x".into())],
    )
    .await
    .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let without = post("pause", vec![("reason", "no token".into())])
        .await
        .unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let reasonless = post(
        "pause",
        vec![("csrf_token", csrf.clone()), ("reason", " ".into())],
    )
    .await
    .unwrap();
    assert_eq!(reasonless.status(), StatusCode::BAD_REQUEST);
    assert!(reasonless.text().await.unwrap().contains("Say why"));
    let slug = Slug::parse("nightly-backup").unwrap();
    let paused = || async {
        let record = c.app.state.store().get_monitor(&slug).await.unwrap();
        record.unwrap().spec.is_paused()
    };
    assert!(!paused().await, "refused forms change nothing");

    let done = post(
        "pause",
        vec![
            ("csrf_token", csrf.clone()),
            ("reason", "backups moved to the new host".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let location = done.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/cron/nightly-backup?done=paused");
    assert!(paused().await);
    let page = get(location).await.unwrap().text().await.unwrap();
    assert!(page.contains("class=\"notice\""));
    assert!(page.contains("data-status=\"paused\"") && page.contains("resume-button"));

    let resumed = post(
        "resume",
        vec![("csrf_token", csrf), ("reason", "new host is live".into())],
    )
    .await
    .unwrap();
    assert_eq!(resumed.status(), StatusCode::SEE_OTHER);
    assert!(!paused().await);

    for (action, reason) in [
        ("cron.monitor.paused", "backups moved to the new host"),
        ("cron.monitor.resumed", "new host is live"),
    ] {
        let entries = wait_for_async(Duration::from_secs(10), action, || async {
            let filter = AuditFilter {
                action: Some(action.into()),
                ..AuditFilter::default()
            };
            let entries = c.app.state.store().list_audit(&filter).await.unwrap();
            (!entries.is_empty()).then_some(entries)
        })
        .await;
        let record = &entries[0].record;
        assert_eq!(record.reason.as_deref(), Some(reason));
        assert_eq!(record.target.as_ref().unwrap().id, "nightly-backup");
        assert_eq!(record.actor.as_ref().unwrap().name, "operator");
    }
    // Not an HTTP job: nothing to trigger.
    let trigger = client()
        .post(c.app.url("/cron/nightly-backup/trigger"))
        .bearer_auth(&operator)
        .form(&[("reason", "try")])
        .send()
        .await
        .unwrap();
    assert_eq!(trigger.status(), StatusCode::CONFLICT);
    assert!(trigger.text().await.unwrap().contains("not an HTTP job"));
}

async fn the_overview_widget_counts_monitors_and_shows_the_failing_ones(db: TestDb) {
    let c = CronApp::spawn(db, |_| {}).await;
    let (_, viewer) = c.app.mint_role(Role::Viewer).await;
    let (_, empty) = c.page(&viewer, "/overview/live").await;
    assert!(empty.contains("No cron monitors yet"));

    c.create(backup()).await;
    c.create(json!({"slug": "fine", "name": "Fine job", "interval": "1h"}))
        .await;
    c.create(json!({"slug": "quiet", "interval": "1h"})).await;
    c.create(json!({"slug": "held", "interval": "1h", "paused": true}))
        .await;
    c.run("fine", true, "ok").await;
    c.run("nightly-backup", false, ERROR_TEXT).await;

    for path in ["/", "/overview/live"] {
        let (status, page) = c.page(&viewer, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        for (status, n) in [
            ("down", 1),
            ("up", 1),
            ("new", 1),
            ("paused", 1),
            ("late", 0),
        ] {
            assert_eq!(count_of(&page, status), n, "{path}: {status}");
        }
        let failing = &page[page
            .find("data-monitor=\"nightly-backup\"")
            .expect("listed")..];
        let failing = &failing[..failing.find("</li>").unwrap()];
        assert!(failing.contains("href=\"/cron/nightly-backup\""));
        assert!(
            failing.contains("disk full on /var/backups &#60;script&#62;"),
            "{failing}"
        );
        assert!(!page.contains("<script>alert"));
        assert!(
            !page.contains("data-monitor=\"fine\""),
            "only failing ones are listed"
        );
        let next = &page[page.find("Next expected").expect("next runs")..];
        assert!(
            next.contains("href=\"/cron/fine\"") && next.contains("in 59 min"),
            "{next}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_trigger_an_http_job_from_its_page() {
    let receiver = crate::alerts::Receiver::start().await;
    let job: JobDefinition = JobDefinition {
        // Yearly: only the trigger fires it during the test.
        monitor: serde_json::from_value(json!({"slug": "digest", "schedule": "0 0 1 1 *"}))
            .unwrap(),
        request: serde_json::from_value(json!({"url": receiver.url("digest/send")})).unwrap(),
    };
    let c = CronApp::spawn(TestDb::sqlite(), |config| config.cron.jobs = vec![job]).await;
    let (_, operator) = c.app.mint_role(Role::Operator).await;
    let cookie = sign_in(&c.app, &operator).await;
    let http = client();
    let page = http
        .get(c.app.url("/cron/digest"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("trigger-button"), "a job can be triggered");
    let csrf = form_value(&page, "csrf_token");
    let triggered = http
        .post(c.app.url("/cron/digest/trigger"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("reason", "re-send after the fix"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(triggered.status(), StatusCode::SEE_OTHER);
    let location = triggered.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with("/cron/digest?done=triggered&run="),
        "{location}"
    );
    let run_id: uuid::Uuid = location["/cron/digest?done=triggered&run=".len()..]
        .trim_end_matches("#log")
        .parse()
        .unwrap();
    let slug = Slug::parse("digest").unwrap();
    wait_for_async(WITHIN, "the triggered run to succeed", || async {
        let run = c.app.state.store().get_run(&slug, run_id).await.unwrap()?;
        (run.status == RunStatus::Success).then_some(())
    })
    .await;
    assert_eq!(receiver.requests("digest").len(), 1);
    let page = http
        .get(c.app.url(&location))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("data-run=\"{run_id}\" data-status=\"success\"")));
    let filter = AuditFilter {
        action: Some("cron.monitor.triggered".into()),
        ..AuditFilter::default()
    };
    let entries = c.app.state.store().list_audit(&filter).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].record.reason.as_deref(),
        Some("re-send after the fix")
    );
}
