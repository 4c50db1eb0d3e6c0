//! The bulk retry in a real headless Chromium: an operator opens a queue, starts a retry of
//! its failed jobs, sees on the confirmation how many the dry run pinned, gives the reason
//! and confirms; the application's webhook receives exactly those retries and the audit log
//! holds the action with the reason.

use fantoccini::{Client, Locator};
use opsdeck_core::auth::Role;

use super::{QUEUE_PAGE, app_with_queues, entries, post_snapshot};
use crate::alerts::Receiver;
use crate::dashboard::driver::{Driver, WITHIN, path_of, screenshot, sign_in, wait_for_text};
use crate::support::db::TestDb;
use crate::support::wait_for;

async fn type_into(browser: &Client, selector: &str, text: &str) {
    let field = browser
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|_| panic!("no {selector}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn click(browser: &Client, selector: &str) {
    browser
        .find(Locator::Css(selector))
        .await
        .unwrap_or_else(|_| panic!("no {selector}"))
        .click()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_bulk_retries_failed_jobs_through_the_dialog_in_chromium() {
    let Some(mut driver) = Driver::start("queues").await else {
        return;
    };
    let receiver = Receiver::start().await;
    let app = app_with_queues(TestDb::sqlite(), &receiver).await;
    post_snapshot(&app).await;
    let (_, operator) = app.mint_role(Role::Operator).await;
    let browser = driver.session().await;
    sign_in(&browser, &app, &operator, QUEUE_PAGE).await;
    wait_for_text(&browser, "table.jobs", "m-3").await;
    screenshot(&browser, "queues-1-queue").await;

    type_into(
        &browser,
        "form.bulk-form[data-action=retry] input[name=reason]",
        "provider outage over",
    )
    .await;
    click(&browser, "#bulk-retry").await;
    wait_for_text(&browser, "#bulk-count", "3 job(s) match").await;
    let count = browser
        .find(Locator::Id("bulk-count"))
        .await
        .unwrap()
        .attr("data-count")
        .await
        .unwrap();
    assert_eq!(count.as_deref(), Some("3"), "the dry run's count is shown");
    assert!(
        receiver.requests("app").is_empty(),
        "nothing is retried before the confirmation"
    );
    screenshot(&browser, "queues-2-confirm").await;

    let reason = "retrying after the PSP outage, INC-4711";
    type_into(&browser, "#bulk-confirm input[name=reason]", reason).await;
    click(&browser, "#bulk-confirm-button").await;
    wait_for_text(&browser, "#notice", "Retried 3 job(s).").await;
    assert!(path_of(&browser).await.starts_with(QUEUE_PAGE));
    screenshot(&browser, "queues-3-done").await;

    let calls = wait_for(WITHIN, "the webhook to receive three retries", || {
        let calls = receiver.requests("app");
        (calls.len() >= 3).then_some(calls)
    })
    .await;
    let mut ids: Vec<&str> = calls
        .iter()
        .map(|c| c.body["job_id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, ["m-1", "m-2", "m-3"]);
    let audited = entries(&app, "queue.jobs.retried").await;
    assert_eq!(
        audited
            .iter()
            .filter(|e| e.reason.as_deref() == Some(reason))
            .count(),
        1,
        "one entry carries the reason: {audited:#?}"
    );
    browser.close().await.unwrap();
    app.shutdown().await.unwrap();
}
