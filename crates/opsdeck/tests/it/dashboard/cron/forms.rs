//! The admins' monitor forms over plain HTTP on both backends: who sees the New, Edit and
//! Delete buttons and who is refused; a refused form shows each problem next to its field
//! with everything typed kept; a saved one creates or changes the monitor with an audit
//! entry; an edit keeps what the form does not show (pause, maintenance windows); a delete
//! is confirmed with a reason; a monitor from the configuration file says that a restart
//! sets it back. And the whole flow in a real Chromium (`browser`).

use opsdeck_core::audit::AuditFilter;
use opsdeck_core::auth::Role;
use opsdeck_core::cron::Schedule;
use opsdeck_core::ids::Slug;
use opsdeck_server::config::MonitorDefinition;
use reqwest::StatusCode;
use serde_json::json;

use super::{CronApp, backup};
use crate::dashboard::{client, form_value, sign_in};
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

mod browser;

on_both_backends!(
    admins_create_edit_and_delete_monitors_and_others_see_no_such_buttons,
    an_edit_keeps_the_pause_and_maintenance_and_config_monitors_say_a_restart_resets_them,
);

/// An admin's session on `c`: posts forms with the session's cookie and CSRF token.
struct Session<'a> {
    c: &'a CronApp,
    cookie: String,
    csrf: String,
}

impl<'a> Session<'a> {
    async fn open(c: &'a CronApp) -> Session<'a> {
        let cookie = sign_in(&c.app, &c.admin).await;
        let mut session = Session {
            c,
            cookie,
            csrf: String::new(),
        };
        session.csrf = form_value(&session.get("/cron/+new").await.1, "csrf_token");
        session
    }

    async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = client()
            .get(self.c.app.url(path))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// Posts `fields` with the session's CSRF token; the status, the redirect's target
    /// (empty if none) and the page answered.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String, String) {
        let mut form = vec![("csrf_token", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let response = client()
            .post(self.c.app.url(path))
            .header("cookie", &self.cookie)
            .header("sec-fetch-site", "same-origin")
            .form(&form)
            .send()
            .await
            .unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (response.status(), location, response.text().await.unwrap())
    }
}

/// The reasons of the audit entries of `action`.
async fn reasons(c: &CronApp, action: &str) -> Vec<String> {
    let filter = AuditFilter {
        action: Some(action.into()),
        ..AuditFilter::default()
    };
    let entries = c.app.state.store().list_audit(&filter).await.unwrap();
    entries
        .into_iter()
        .filter_map(|e| e.record.reason)
        .collect()
}

async fn admins_create_edit_and_delete_monitors_and_others_see_no_such_buttons(db: TestDb) {
    let c = CronApp::spawn(db, |_| {}).await;
    c.create(backup()).await;
    for role in [Role::Viewer, Role::Operator] {
        let (_, token) = c.app.mint_role(role).await;
        for path in ["/cron", "/cron/nightly-backup"] {
            let (_, page) = c.page(&token, path).await;
            for button in ["new-monitor", "edit-monitor", "delete-monitor"] {
                assert!(!page.contains(button), "{role} sees no {button} on {path}");
            }
        }
        for path in [
            "/cron/+new",
            "/cron/nightly-backup/edit",
            "/cron/nightly-backup/delete",
        ] {
            let refused = client()
                .post(c.app.url(path))
                .bearer_auth(&token)
                .form(&[("reason", "curious"), ("slug", "mine"), ("interval", "1h")])
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), StatusCode::FORBIDDEN, "{role} {path}");
        }
    }
    let s = Session::open(&c).await;
    let (_, list) = s.get("/cron").await;
    assert!(list.contains("id=\"new-monitor\" href=\"/cron/+new\""));
    let (_, page) = s.get("/cron/nightly-backup").await;
    assert!(page.contains("href=\"/cron/nightly-backup/edit\""));
    assert!(page.contains("href=\"/cron/nightly-backup/delete\""));

    // Every problem next to its field, everything typed kept, nothing created.
    let typed = [
        ("slug", "Weekly Report"),
        ("name", "Weekly <report>"),
        ("kind", "schedule"),
        ("schedule", "61 * * * *"),
        ("tz", "Mars/Olympus"),
        ("grace", "5"),
        ("failure_threshold", "many"),
        ("tags", "reports weekly"),
        ("reason", " "),
    ];
    let (status, _, page) = s.post("/cron/+new", &typed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for field in ["slug", "schedule", "grace", "failure_threshold", "reason"] {
        assert!(
            page.contains(&format!("id=\"error-{field}\"")),
            "{field}: {page}"
        );
        assert!(
            page.contains(&format!("href=\"#field-{field}\"")),
            "{field} in the summary"
        );
    }
    assert!(page.contains("value=\"Weekly Report\"") && page.contains("value=\"61 * * * *\""));
    assert!(
        page.contains("value=\"Weekly &#60;report&#62;\""),
        "kept and escaped"
    );
    assert!(page.contains("value=\"many\"") && page.contains("value=\"reports weekly\""));
    // An interval monitor without its interval: said of the interval, not the schedule.
    let no_interval = [
        ("slug", "hourly"),
        ("kind", "interval"),
        ("interval", " "),
        ("reason", "r"),
    ];
    let (status, _, page) = s.post("/cron/+new", &no_interval).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"error-interval\"") && !page.contains("id=\"error-schedule\""));
    assert!(
        page.contains("id=\"kind-interval\" checked"),
        "the kind chosen is kept"
    );
    let forged = client()
        .post(c.app.url("/cron/+new"))
        .header("cookie", &s.cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("csrf_token", "forged"),
            ("slug", "weekly-report"),
            ("schedule", "@daily"),
            ("reason", "r"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        forged.status(),
        StatusCode::FORBIDDEN,
        "the session's CSRF token or nothing"
    );
    let report = Slug::parse("weekly-report").unwrap();
    assert!(
        c.app
            .state
            .store()
            .get_monitor(&report)
            .await
            .unwrap()
            .is_none()
    );

    let good = [
        ("slug", "weekly-report"),
        ("name", "Weekly report"),
        ("kind", "schedule"),
        ("schedule", "0 6 * * 1"),
        ("tz", "Europe/Berlin"),
        ("interval", "ignored, as the kind is schedule"),
        ("grace", "15m"),
        ("max_runtime", "1h"),
        ("failure_threshold", "2"),
        ("tags", "reports, weekly"),
        ("tenant_id", "acme"),
        ("reason", "the report moves to opsdeck"),
    ];
    let (status, location, _) = s.post("/cron/+new", &good).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/cron/weekly-report?done=created");
    let record = c
        .app
        .state
        .store()
        .get_monitor(&report)
        .await
        .unwrap()
        .unwrap();
    let settings = record.spec.settings();
    assert!(matches!(record.spec.schedule(), Schedule::Cron(cron) if cron.expr() == "0 6 * * 1"));
    assert_eq!(record.spec.grace().as_secs(), 900);
    assert_eq!(settings.max_runtime.map(|d| d.as_secs()), Some(3600));
    assert_eq!(settings.failure_threshold, 2);
    assert_eq!(
        settings.tags.iter().collect::<Vec<_>>(),
        ["reports", "weekly"]
    );
    assert_eq!(settings.tenant_id.as_ref().unwrap().as_str(), "acme");
    assert_eq!(reasons(&c, "cron.monitor.created").await.len(), 2);
    assert!(
        reasons(&c, "cron.monitor.created")
            .await
            .contains(&"the report moves to opsdeck".to_owned())
    );
    let (status, _, page) = s.post("/cron/+new", &good).await;
    assert_eq!(status, StatusCode::CONFLICT, "the slug is taken");
    assert!(page.contains("id=\"error-slug\""));

    // The edit form starts from the monitor's definition; the slug stays.
    let (status, page) = s.get("/cron/weekly-report/edit").await;
    assert_eq!(status, StatusCode::OK);
    for value in [
        "0 6 * * 1",
        "Europe/Berlin",
        "15m",
        "1h",
        "reports weekly",
        "acme",
    ] {
        assert!(
            page.contains(&format!("value=\"{value}\"")),
            "{value}: {page}"
        );
    }
    assert!(
        !page.contains("id=\"from-config\""),
        "created from the dashboard"
    );
    let edit = [
        ("name", "Weekly report"),
        ("kind", "interval"),
        ("interval", "7d"),
        ("slug", "renamed"),
        ("reason", "runs every 7 days now"),
    ];
    let (status, location, _) = s.post("/cron/weekly-report/edit", &edit).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/cron/weekly-report?done=updated");
    let record = c
        .app
        .state
        .store()
        .get_monitor(&report)
        .await
        .unwrap()
        .unwrap();
    let every = match record.spec.schedule() {
        Schedule::Interval(every) => every.get().as_secs(),
        Schedule::Cron(cron) => panic!("still on a schedule: {}", cron.expr()),
    };
    assert_eq!(every, 7 * 86_400);
    assert_eq!(
        reasons(&c, "cron.monitor.updated").await,
        ["runs every 7 days now"]
    );

    // Delete: confirmed on its own page, with a reason.
    let (status, page) = s.get("/cron/weekly-report/delete").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("cannot be undone") && page.contains("id=\"confirm-delete\""));
    let (status, _, page) = s
        .post("/cron/weekly-report/delete", &[("reason", "")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"error-reason\""));
    assert!(
        c.app
            .state
            .store()
            .get_monitor(&report)
            .await
            .unwrap()
            .is_some()
    );
    let (status, location, _) = s
        .post(
            "/cron/weekly-report/delete",
            &[("reason", "the report is retired")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/cron?deleted=weekly-report");
    assert!(
        c.app
            .state
            .store()
            .get_monitor(&report)
            .await
            .unwrap()
            .is_none()
    );
    let (_, list) = s.get(&location).await;
    assert!(list.contains("Deleted the monitor <code>weekly-report</code>"));
    assert_eq!(
        reasons(&c, "cron.monitor.deleted").await,
        ["the report is retired"]
    );
    let (status, _, _) = s
        .post("/cron/weekly-report/delete", &[("reason", "again")])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn an_edit_keeps_the_pause_and_maintenance_and_config_monitors_say_a_restart_resets_them(
    db: TestDb,
) {
    let defined: MonitorDefinition =
        serde_json::from_value(json!({"slug": "from-file", "interval": "1h"})).unwrap();
    let c = CronApp::spawn(db, |config| config.cron.monitors = vec![defined]).await;
    c.create(json!({
        "slug": "held", "interval": "1h", "paused": true,
        "maintenance": [{"schedule": "0 1 * * 0", "tz": "Europe/Berlin", "duration": "2h"}]
    }))
    .await;
    let s = Session::open(&c).await;
    let (_, page) = s.get("/cron/held/edit").await;
    assert!(page.contains("id=\"kept\"") && page.contains("stays paused"));
    assert!(page.contains("0 1 * * 0 (Europe/Berlin) for 2h"), "{page}");
    let edit = [
        ("kind", "interval"),
        ("interval", "2h"),
        ("reason", "slower now"),
    ];
    let (status, _, _) = s.post("/cron/held/edit", &edit).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let held = Slug::parse("held").unwrap();
    let record = c
        .app
        .state
        .store()
        .get_monitor(&held)
        .await
        .unwrap()
        .unwrap();
    assert!(record.spec.is_paused(), "the edit keeps the pause");
    let windows = &record.spec.settings().maintenance;
    assert_eq!(windows.len(), 1, "and the maintenance window");
    assert_eq!(windows[0].opens().expr(), "0 1 * * 0");
    assert_eq!(windows[0].duration().as_secs(), 7200);

    for path in ["/cron/from-file/edit", "/cron/from-file/delete"] {
        let (status, page) = s.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(page.contains("id=\"from-config\""), "{path}");
        assert!(page.contains("[[cron.monitors]]"), "{path}");
    }
    let (_, page) = s.get("/cron/from-file/edit").await;
    assert!(page.contains("lasts only until the next restart"));
}
