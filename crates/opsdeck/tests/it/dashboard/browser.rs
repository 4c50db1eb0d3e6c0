//! The dashboard in a real headless Chromium: sign in with a token through the form, see the
//! checks, stop a dependency and watch its tile turn to fail without a reload, run a check
//! as an operator, find no such button as a viewer (whose request is refused anyway), and
//! sign out. Screenshots of each step are saved as test artifacts.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use opsdeck_core::auth::Role;
use tokio::net::TcpListener;

use super::driver::{Driver, WITHIN, artifacts_dir, path_of, screenshot, sign_in, wait_for_text};
use super::{alerting, fast_health};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

/// A listener that accepts (and drops) connections until the task is aborted.
async fn dependency() -> (String, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    (address, task)
}

/// Waits until the check's tile or row shows `want`, polling the page as it is (no
/// reload). On timeout, saves what the browser showed before failing.
async fn wait_for_status(browser: &Client, check: &str, want: &str) {
    let selector = format!("[data-check='{check}']");
    let deadline = Instant::now() + WITHIN;
    let mut seen = None;
    while Instant::now() < deadline {
        if let Ok(element) = browser.find(Locator::Css(&selector)).await {
            let status = element.attr("data-status").await.ok().flatten();
            // The word is shown next to the colour, not only in an attribute (the
            // browser reports it as rendered, in capitals).
            let text = element.text().await.unwrap_or_default().to_lowercase();
            if status.as_deref() == Some(want) && text.contains(want) {
                return;
            }
            seen = status;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    screenshot(browser, &format!("timeout-{check}-{want}")).await;
    let source = browser.source().await.unwrap_or_default();
    let path = artifacts_dir().join(format!("dashboard-timeout-{check}-{want}.html"));
    std::fs::write(&path, source).expect("save the page source");
    panic!(
        "{check} did not show {want} within {WITHIN:?} (last seen {seen:?}); page saved at {}",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_and_viewer_use_the_dashboard_in_chromium() {
    let Some(mut driver) = Driver::start("dashboard").await else {
        return;
    };
    eprintln!("dashboard screenshots go to {}", artifacts_dir().display());
    let (address, listening) = dependency().await;
    let receiver = crate::alerts::Receiver::start().await;
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        c.session.secure_cookie = false;
        c.rate_limit.enabled = false;
        fast_health(c, Some(address));
        alerting(c, &receiver);
    })
    .await;
    let (_, operator) = app.mint_role(Role::Operator).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;

    // The operator signs in and sees every check.
    let browser = driver.session().await;
    browser.goto(&app.url("/login")).await.unwrap();
    screenshot(&browser, "1-login").await;
    sign_in(&browser, &app, &operator, "/").await;
    wait_for_status(&browser, "dependency", "pass").await;
    wait_for_status(&browser, "opsdeck-database", "pass").await;
    let header = browser.find(Locator::Css("header .who")).await.unwrap();
    let who = header.text().await.unwrap();
    assert!(
        who.contains("operator"),
        "the header names who is signed in: {who}"
    );
    screenshot(&browser, "2-overview-passing").await;

    // The dependency stops: its tile turns to fail in place, without a reload.
    browser
        .execute("window.opsdeckSamePage = true; return true;", vec![])
        .await
        .unwrap();
    listening.abort();
    wait_for_status(&browser, "dependency", "fail").await;
    let same_page = browser
        .execute("return window.opsdeckSamePage === true;", vec![])
        .await
        .unwrap();
    assert_eq!(
        same_page,
        serde_json::Value::Bool(true),
        "refreshed in place"
    );
    let tile = browser
        .find(Locator::Css("[data-check='dependency']"))
        .await
        .unwrap();
    assert!(tile.attr("class").await.unwrap().unwrap().contains("fail"));
    wait_for_text(
        &browser,
        "#live .events",
        "health check dependency is failing",
    )
    .await;
    screenshot(&browser, "3-overview-dependency-down").await;

    // The operator runs the check now, with a reason.
    browser.goto(&app.url("/health/dependency")).await.unwrap();
    browser
        .find(Locator::Css("input[name=reason]"))
        .await
        .expect("an operator has the run form")
        .send_keys("confirming the outage")
        .await
        .unwrap();
    browser
        .find(Locator::Id("run-now-button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser
        .wait()
        .at_most(WITHIN)
        .for_element(Locator::Css(".notice"))
        .await
        .expect("the page says the check ran");
    let status = browser
        .find(Locator::Id("check-status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(status.to_lowercase(), "fail");
    screenshot(&browser, "4-check-detail-operator").await;
    browser.goto(&app.url("/health")).await.unwrap();
    wait_for_status(&browser, "dependency", "fail").await;
    screenshot(&browser, "4-health-list").await;

    // Signing out lands on the login page, and the dashboard asks to sign in again.
    browser
        .find(Locator::Css("form.logout button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let b = browser.clone();
    wait_for_async(WITHIN, "the login page after signing out", move || {
        let b = b.clone();
        async move { (path_of(&b).await == "/login").then_some(()) }
    })
    .await;
    screenshot(&browser, "5-signed-out").await;
    browser.goto(&app.url("/")).await.unwrap();
    assert!(path_of(&browser).await.starts_with("/login?next="));
    browser.close().await.unwrap();

    // A viewer sees the check but no run button, and the server refuses the run anyway.
    let browser = driver.session().await;
    sign_in(&browser, &app, &viewer, "/health/dependency").await;
    assert!(
        browser.find(Locator::Id("run-now-button")).await.is_err(),
        "a viewer has no run button"
    );
    let status = browser
        .execute(
            "const csrf = document.querySelector('input[name=csrf_token]').value;
             return fetch('/health/dependency/run', { method: 'POST',
               body: new URLSearchParams({ csrf_token: csrf, reason: 'just looking' }) })
               .then(r => r.status);",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        status,
        serde_json::json!(403),
        "the server refuses a viewer's run"
    );
    screenshot(&browser, "6-check-detail-viewer").await;
    browser.close().await.unwrap();
}
