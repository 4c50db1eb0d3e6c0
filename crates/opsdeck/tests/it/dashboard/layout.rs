//! What a page shows in a real Chromium on a 1400 px wide window: identifiers people copy
//! (a token's id to revoke it, a request id to find in the logs) are shown whole, never cut
//! off; a run's log keeps its line breaks and wraps its long lines; the disk tile says the
//! space is free; the tokens page's commands name the address the browser used.

use std::time::Duration;

use fantoccini::{Client, Locator};
use opsdeck_connectors::health::disk::Disk;
use opsdeck_core::auth::Role;
use opsdeck_core::token::Scope;
use opsdeck_server::config::CheckConfig;
use serde_json::Value;

use super::cron::{CronApp, backup};
use super::driver::{Driver, screenshot, sign_in, wait_for_text};
use crate::support::db::TestDb;

/// How the cells of `column` (1-based) of `table` fit: how many clip their content, and
/// how far the table runs past the box that scrolls it. Read in one go.
async fn fit(browser: &Client, table: &str, column: usize) -> Value {
    let script = format!(
        "const table = document.querySelector('{table}');
         const wrap = table.closest('.table-wrap');
         const cells = [...table.querySelectorAll('tbody tr td:nth-child({column})')];
         const right = wrap.getBoundingClientRect().right;
         return {{
           cells: cells.length,
           clipped: cells.filter(td => td.scrollWidth > td.clientWidth + 1).length,
           beyond: cells.filter(td => td.getBoundingClientRect().right > right + 1).length,
           overflow: wrap.scrollWidth - wrap.clientWidth,
           texts: cells.map(td => td.textContent.trim()),
         }};"
    );
    browser.execute(&script, vec![]).await.unwrap()
}

fn assert_whole(what: &str, fit: &Value, full: &[String]) {
    assert!(fit["cells"].as_u64().unwrap() > 0, "{what}: {fit}");
    assert_eq!(
        fit["clipped"], 0,
        "{what}: a cell cuts its value off: {fit}"
    );
    assert_eq!(
        fit["beyond"], 0,
        "{what}: cells past the visible table: {fit}"
    );
    assert!(
        fit["overflow"].as_i64().unwrap() <= 1,
        "{what}: the table scrolls: {fit}"
    );
    for value in full {
        assert!(
            fit["texts"]
                .as_array()
                .unwrap()
                .iter()
                .any(|t| t == value.as_str()),
            "{what}: {value} is not shown whole: {fit}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_window_shows_ids_logs_and_figures_whole_in_chromium() {
    let Some(mut driver) = Driver::start("dashboard-layout").await else {
        return;
    };
    let disk_dir = std::env::temp_dir();
    let c = CronApp::spawn(TestDb::sqlite(), |config| {
        config.health.flap_threshold = 1;
        let disk = Disk {
            path: disk_dir,
            warn_free_percent: 10.0,
            fail_free_percent: 5.0,
        };
        config.health.checks = vec![CheckConfig {
            interval: Some(Duration::from_secs(1)),
            ..CheckConfig::new("scratch-disk", disk)
        }];
    })
    .await;
    let mut ids = Vec::new();
    for role in [Role::Viewer, Role::Operator, Role::Support] {
        ids.push(c.app.mint_role(role).await.0.to_string());
    }
    crate::pings::key(&c.app, "deploy-hooks", &[Scope::Checkins]).await;
    c.create(backup()).await;
    let long_line = format!("DETAIL: {}", "row-0123456789abcdef/".repeat(30));
    let output = format!(
        "Traceback (most recent call last):\n  File \"/app/export.py\", line 42, in <module>\n    main()\n{long_line}\nValueError: unexpected column tenant_id\n"
    );
    let failed = c.run("nightly-backup", false, &output).await;

    let browser = driver.session().await;
    browser.set_window_size(1400, 900).await.unwrap();
    sign_in(&browser, &c.app, &c.admin, "/").await;

    // The disk tile says what its figure is.
    let tile = "[data-check='scratch-disk']";
    wait_for_text(&browser, tile, "% free").await;
    let text = browser
        .find(Locator::Css(tile))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!text.contains("percent"), "{text}");

    // Tokens: every id whole, and commands that work as pasted.
    browser.goto(&c.app.url("/tokens")).await.unwrap();
    let tokens = fit(&browser, "table.tokens", 9).await;
    screenshot(&browser, "layout-1-tokens").await;
    assert_whole("the tokens' Id column", &tokens, &ids);
    let help = browser
        .find(Locator::Css(".help pre"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let base = c.app.url("");
    assert!(
        help.contains(&format!("curl -X POST {base}/ops/tokens")),
        "{help}"
    );
    assert!(
        help.contains(&format!("curl -X DELETE {base}/ops/tokens/<id>")),
        "{help}"
    );

    // The audit log: every request id whole.
    browser.goto(&c.app.url("/audit")).await.unwrap();
    let audit = fit(&browser, "table.audit", 10).await;
    screenshot(&browser, "layout-2-audit").await;
    let request_ids: Vec<String> = audit["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .filter(|t| !t.is_empty())
        .take(3)
        .collect();
    assert!(
        request_ids
            .iter()
            .all(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{audit}"
    );
    assert_whole("the audit log's Request column", &audit, &request_ids);

    // A run's log: line by line, the long line wrapped rather than scrolled.
    browser
        .goto(&c.app.url(&format!("/cron/nightly-backup?run={failed}")))
        .await
        .unwrap();
    let log = browser
        .execute(
            "const pre = document.getElementById('run-log');
             pre.scrollIntoView();
             const style = getComputedStyle(pre);
             return { whiteSpace: style.whiteSpace, text: pre.innerText,
                      lines: Math.round(pre.clientHeight / parseFloat(style.lineHeight)),
                      overflow: pre.scrollWidth - pre.clientWidth };",
            vec![],
        )
        .await
        .unwrap();
    screenshot(&browser, "layout-3-run-log").await;
    let text = log["text"].as_str().unwrap();
    assert!(
        text.contains("Traceback (most recent call last):\n  File \"/app/export.py\", line 42"),
        "line breaks kept: {log}"
    );
    assert!(
        log["overflow"].as_i64().unwrap() <= 1,
        "long lines wrap: {log}"
    );
    assert!(log["lines"].as_i64().unwrap() >= 6, "{log}");
    browser.close().await.unwrap();
}
