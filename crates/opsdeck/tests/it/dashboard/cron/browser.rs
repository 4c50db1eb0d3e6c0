//! The Cron widget and pages in a real headless Chromium: a monitor that fails while the
//! overview is open appears in its widget, in place, with its error snippet shown as text;
//! its page draws the duration chart, the failed run in the failure colour, and the log.

use fantoccini::Locator;
use opsdeck_core::auth::Role;
use serde_json::{Value, json};

use super::{CronApp, ERROR_TEXT, backup};
use crate::dashboard::driver::{Driver, WITHIN, path_of, screenshot, sign_in, wait_for_text};
use crate::support::db::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_monitor_shows_on_the_overview_and_its_chart_in_chromium() {
    let Some(mut driver) = Driver::start("dashboard-cron").await else {
        return;
    };
    let c = CronApp::spawn(TestDb::sqlite(), |_| {}).await;
    let (_, viewer) = c.app.mint_role(Role::Viewer).await;
    c.create(backup()).await;
    for i in 0..5 {
        c.run("nightly-backup", true, &format!("copied {i} files"))
            .await;
    }
    let browser = driver.session().await;
    sign_in(&browser, &c.app, &viewer, "/").await;
    wait_for_text(&browser, "#live #cron-widget-box", "Nightly backup").await;
    screenshot(&browser, "cron-1-overview-up").await;

    // The job fails while the overview is open: the widget shows it in place.
    browser
        .execute("window.opsdeckSamePage = true; return true;", vec![])
        .await
        .unwrap();
    c.run("nightly-backup", false, ERROR_TEXT).await;
    let failing = "#live [data-monitor='nightly-backup']";
    wait_for_text(
        &browser,
        failing,
        "disk full on /var/backups <script>alert(1)</script>",
    )
    .await;
    let same_page = browser
        .execute("return window.opsdeckSamePage === true;", vec![])
        .await
        .unwrap();
    assert_eq!(same_page, Value::Bool(true), "refreshed in place");
    // Read in one go: the region may be swapped by a refresh between two WebDriver calls.
    let item = browser
        .execute(
            "const li = document.querySelector(\"#live [data-monitor='nightly-backup']\");
             return [li.getAttribute('data-status'), li.querySelector('a').getAttribute('href')];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(item, json!(["down", "/cron/nightly-backup"]));
    screenshot(&browser, "cron-2-overview-failing").await;

    // Its page: the chart draws a bar per run, the failed one in the failure colour.
    browser
        .goto(&c.app.url("/cron/nightly-backup"))
        .await
        .unwrap();
    let chart = browser
        .wait()
        .at_most(WITHIN)
        .for_element(Locator::Id("duration-chart"))
        .await
        .expect("the duration chart");
    assert_eq!(path_of(&browser).await, "/cron/nightly-backup");
    let (_, _, width, height) = chart.rectangle().await.unwrap();
    assert!(
        width > 300.0 && height > 100.0,
        "the chart is drawn: {width}×{height}"
    );
    let bars = chart.find_all(Locator::Css("rect")).await.unwrap();
    assert_eq!(bars.len(), 6);
    let fill = browser
        .execute(
            "return getComputedStyle(document.querySelector('#duration-chart rect.fail')).fill;",
            vec![],
        )
        .await
        .unwrap();
    let pass = browser
        .execute(
            "return getComputedStyle(document.querySelector('#duration-chart rect.pass')).fill;",
            vec![],
        )
        .await
        .unwrap();
    assert_ne!(fill, pass, "failed runs are coloured apart: {fill} {pass}");
    let log = browser.find(Locator::Css("pre.log")).await.unwrap();
    assert!(
        log.text()
            .await
            .unwrap()
            .contains("<script>alert(1)</script>")
    );
    screenshot(&browser, "cron-3-monitor-detail").await;
    browser.close().await.unwrap();
}
