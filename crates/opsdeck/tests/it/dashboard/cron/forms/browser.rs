//! The admins' monitor forms in a real headless Chromium: an admin creates a monitor
//! through the form (a bad schedule first, refused next to its field with everything kept),
//! edits its schedule and deletes it after the confirmation step; an operator sees none of
//! those buttons, and the server refuses the form anyway. Screenshots of each step are
//! saved as test artifacts.

use fantoccini::{Client, Locator};
use opsdeck_core::auth::Role;
use opsdeck_core::ids::Slug;

use super::super::CronApp;
use super::reasons;
use crate::dashboard::driver::{Driver, WITHIN, path_of, screenshot, sign_in, wait_for_text};
use crate::support::db::TestDb;
use crate::support::wait_for_async;

/// Clicks `selector` and waits until the browser is at `path` (with its query).
async fn click_to(browser: &Client, selector: &str, path: &str) {
    browser
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|_| panic!("no {selector} to click"))
        .click()
        .await
        .unwrap();
    let b = browser.clone();
    let want = path.to_owned();
    wait_for_async(WITHIN, &format!("to arrive at {path}"), move || {
        let (b, want) = (b.clone(), want.clone());
        async move { (path_of(&b).await == want).then_some(()) }
    })
    .await;
}

/// Replaces what the input `name` holds with `text`.
async fn type_into(browser: &Client, name: &str, text: &str) {
    let input = browser
        .find(Locator::Css(&format!("input[name={name}]")))
        .await
        .unwrap_or_else(|_| panic!("an input {name}"));
    input.clear().await.unwrap();
    input.send_keys(text).await.unwrap();
}

async fn value_of(browser: &Client, name: &str) -> String {
    let input = browser
        .find(Locator::Css(&format!("input[name={name}]")))
        .await
        .unwrap();
    input.prop("value").await.unwrap().unwrap_or_default()
}

async fn shown(browser: &Client, selector: &str) -> bool {
    match browser.find(Locator::Css(selector)).await {
        Ok(element) => element.is_displayed().await.unwrap(),
        Err(_) => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_edits_and_deletes_a_monitor_in_chromium_and_an_operator_cannot() {
    let Some(mut driver) = Driver::start("dashboard-cron-forms").await else {
        return;
    };
    let c = CronApp::spawn(TestDb::sqlite(), |_| {}).await;
    let (_, operator) = c.app.mint_role(Role::Operator).await;
    let admin = driver.session().await;
    sign_in(&admin, &c.app, &c.admin, "/cron").await;
    click_to(&admin, "#new-monitor", "/cron/+new").await;

    // Only the chosen kind's fields show; the stylesheet of the form is allowed by the CSP.
    assert!(shown(&admin, "#input-schedule").await);
    assert!(!shown(&admin, "#input-interval").await);
    admin
        .find(Locator::Id("kind-interval"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(shown(&admin, "#input-interval").await && !shown(&admin, "#input-schedule").await);
    admin
        .find(Locator::Id("kind-schedule"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    screenshot(&admin, "cron-forms-1-new").await;

    // A schedule that cannot be: refused next to its field, everything typed kept.
    for (name, text) in [
        ("slug", "db-backup"),
        ("name", "Database backup"),
        ("schedule", "0 25 * * *"),
        ("tz", "Europe/Berlin"),
        ("grace", "20m"),
        ("tags", "backups db"),
        ("reason", "the backup is monitored from now on"),
    ] {
        type_into(&admin, name, text).await;
    }
    click_to(&admin, "#save-monitor", "/cron/+new").await;
    wait_for_text(&admin, "#field-schedule .field-error", "schedule").await;
    wait_for_text(&admin, "#form-problems", "Schedule").await;
    assert_eq!(value_of(&admin, "schedule").await, "0 25 * * *");
    assert_eq!(value_of(&admin, "grace").await, "20m");
    assert_eq!(
        value_of(&admin, "reason").await,
        "the backup is monitored from now on"
    );
    screenshot(&admin, "cron-forms-2-refused").await;

    type_into(&admin, "schedule", "0 3 * * *").await;
    click_to(&admin, "#save-monitor", "/cron/db-backup?done=created").await;
    wait_for_text(&admin, ".notice", "Created").await;
    wait_for_text(&admin, "dl.settings", "every day at 03:00").await;
    screenshot(&admin, "cron-forms-3-created").await;

    // Edit: the form starts from the definition; the schedule moves.
    click_to(&admin, "#edit-monitor", "/cron/db-backup/edit").await;
    assert_eq!(value_of(&admin, "schedule").await, "0 3 * * *");
    assert_eq!(value_of(&admin, "tz").await, "Europe/Berlin");
    type_into(&admin, "schedule", "30 4 * * *").await;
    type_into(&admin, "reason", "the backup window moved").await;
    screenshot(&admin, "cron-forms-4-edit").await;
    click_to(&admin, "#save-monitor", "/cron/db-backup?done=updated").await;
    wait_for_text(&admin, "dl.settings", "every day at 04:30").await;
    screenshot(&admin, "cron-forms-5-edited").await;

    // An operator may pause the monitor but sees no way to create, edit or delete one.
    let other = driver.session().await;
    sign_in(&other, &c.app, &operator, "/cron").await;
    assert!(
        !shown(&other, "#new-monitor").await,
        "no New monitor button"
    );
    other.goto(&c.app.url("/cron/db-backup")).await.unwrap();
    wait_for_text(&other, "h1", "Database backup").await;
    assert!(
        shown(&other, "#pause-button").await,
        "operators still pause"
    );
    assert!(!shown(&other, "#edit-monitor").await && !shown(&other, "#delete-monitor").await);
    screenshot(&other, "cron-forms-6-operator").await;
    other
        .goto(&c.app.url("/cron/db-backup/edit"))
        .await
        .unwrap();
    wait_for_text(&other, "main", "Not allowed").await;
    other.close().await.unwrap();

    // Delete, after the confirmation page.
    click_to(&admin, "#delete-monitor", "/cron/db-backup/delete").await;
    wait_for_text(&admin, "main", "cannot be undone").await;
    type_into(&admin, "reason", "the database moved to a managed service").await;
    screenshot(&admin, "cron-forms-7-confirm-delete").await;
    click_to(&admin, "#confirm-delete", "/cron?deleted=db-backup").await;
    wait_for_text(&admin, ".notice", "Deleted the monitor db-backup").await;
    assert!(!shown(&admin, "[data-monitor='db-backup']").await);
    screenshot(&admin, "cron-forms-8-deleted").await;
    admin.close().await.unwrap();

    let slug = Slug::parse("db-backup").unwrap();
    assert!(
        c.app
            .state
            .store()
            .get_monitor(&slug)
            .await
            .unwrap()
            .is_none()
    );
    for (action, reason) in [
        ("cron.monitor.updated", "the backup window moved"),
        (
            "cron.monitor.deleted",
            "the database moved to a managed service",
        ),
    ] {
        assert_eq!(reasons(&c, action).await, [reason], "{action}");
    }
    assert!(
        reasons(&c, "cron.monitor.created")
            .await
            .contains(&"the backup is monitored from now on".to_owned())
    );
}
