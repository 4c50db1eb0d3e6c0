//! A failing run's error as the pages show it, on both backends: the Cron list, the
//! overview's widget, the monitor's header and its run table give the one line that says
//! what failed (the exception of a traceback, not the traceback flattened); the run's log
//! panel and the JSON API keep all of it, line breaks included.

use opsdeck_core::auth::Role;
use reqwest::StatusCode;
use serde_json::Value;

use super::{CronApp, backup};
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

on_both_backends!(pages_show_the_line_that_says_what_failed_and_the_run_keeps_it_all);

/// What a failing Python job prints.
const TRACEBACK: &str = r#"Starting nightly export
Traceback (most recent call last):
  File "/app/export.py", line 42, in <module>
    main()
  File "/app/db.py", line 12, in fetch
    raise ValueError(f"unexpected column {name}")
ValueError: unexpected column tenant_id
"#;
const HEADLINE: &str = "ValueError: unexpected column tenant_id";

/// The part of `page` from `marker` to the next `end`.
fn part<'a>(page: &'a str, marker: &str, end: &str) -> &'a str {
    let from = &page[page.find(marker).unwrap_or_else(|| panic!("no {marker}"))..];
    &from[..from.find(end).unwrap_or(from.len())]
}

async fn pages_show_the_line_that_says_what_failed_and_the_run_keeps_it_all(db: TestDb) {
    let c = CronApp::spawn(db, |_| {}).await;
    let (_, viewer) = c.app.mint_role(Role::Viewer).await;
    c.create(backup()).await;
    c.run("nightly-backup", true, "exported 12 tables").await;
    let failed = c.run("nightly-backup", false, TRACEBACK).await;

    // The list and the overview's widget: the exception's line, none of the frames.
    let (status, list) = c.page(&viewer, "/cron").await;
    assert_eq!(status, StatusCode::OK);
    let row = part(&list, "data-monitor=\"nightly-backup\"", "</tr>");
    assert!(
        row.contains(&format!("<div class=\"output\">{HEADLINE}</div>")),
        "{row}"
    );
    assert!(
        !row.contains("Traceback") && !row.contains("export.py"),
        "{row}"
    );
    for path in ["/", "/overview/live"] {
        let (_, page) = c.page(&viewer, path).await;
        let item = part(&page, "data-monitor=\"nightly-backup\"", "</li>");
        assert!(
            item.contains(&format!("<span class=\"output\">{HEADLINE}</span>")),
            "{path}: {item}"
        );
        assert!(!item.contains("Traceback"), "{path}: {item}");
    }

    // The monitor's header and its run row: the same line.
    let (_, detail) = c.page(&viewer, "/cron/nightly-backup").await;
    let header = part(&detail, "id=\"monitor-status\"", "</section>");
    assert!(
        header.contains(&format!("<p class=\"output\">{HEADLINE}</p>")),
        "{header}"
    );
    assert!(!header.contains("Traceback"), "{header}");
    let run = part(&detail, &format!("data-run=\"{failed}\""), "</tr>");
    assert!(
        run.contains(&format!("<div class=\"output\">{HEADLINE}</div>")),
        "{run}"
    );
    // The run's log panel: the whole output, line by line.
    let log = part(&detail, "id=\"run-log\"", "</pre>");
    assert!(
        log.contains(
            "Traceback (most recent call last):\n  File &#34;/app/export.py&#34;, line 42"
        ),
        "{log}"
    );

    // The API keeps the whole redacted error.
    let runs: Value = c
        .app
        .client
        .get(c.app.url("/ops/cron/nightly-backup/runs"))
        .bearer_auth(&viewer)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let error = runs["runs"][0]["error"].as_str().expect("an error");
    assert_eq!(error, TRACEBACK.trim(), "{runs}");
}
