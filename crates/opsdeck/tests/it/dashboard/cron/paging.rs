//! The Cron page a page at a time, on both backends: a hundred monitors to a page by slug
//! with a "Next page" link that keeps the filter, counts by status over all pages, search
//! by slug or name, and the overview's widget from the same counts.

use opsdeck_core::auth::Role;
use reqwest::StatusCode;
use serde_json::json;

use super::{CronApp, count_of};
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

on_both_backends!(the_cron_page_pages_filters_and_searches_on_the_server);

/// The monitors listed on a page, in order.
fn listed(page: &str) -> Vec<String> {
    page.split("data-monitor=\"")
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_owned())
        .collect()
}

/// The target of the link with `id`, unescaped.
fn link(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let tag_start = page[..at].rfind("<a ").unwrap();
    let href = &page[tag_start..];
    let start = href.find("href=\"").unwrap() + "href=\"".len();
    Some(href[start..start + href[start..].find('"').unwrap()].replace("&#38;", "&"))
}

async fn the_cron_page_pages_filters_and_searches_on_the_server(db: TestDb) {
    let c = CronApp::spawn(db, |_| {}).await;
    let (_, viewer) = c.app.mint_role(Role::Viewer).await;
    // 103 monitors made by their first ping, every tenth failing: 10 down, 93 up.
    for n in 0..103 {
        let end = if n % 10 == 3 { "/fail" } else { "" };
        let url = c
            .app
            .url(&format!("/ping/{}/job-{n:03}{end}?create=1", c.key));
        let response = c.app.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    c.create(json!({"slug": "zz-named", "name": "Quarterly Invoices", "interval": "1h"}))
        .await;

    let (status, first) = c.page(&viewer, "/cron").await;
    assert_eq!(status, StatusCode::OK);
    let rows = listed(&first);
    assert_eq!(rows.len(), 100, "a hundred to a page");
    assert_eq!(rows[0], "job-000");
    assert_eq!(rows[99], "job-099");
    assert_eq!(count_of(&first, "down"), 10, "counts are over all pages");
    assert_eq!(count_of(&first, "up"), 93);
    assert_eq!(count_of(&first, "new"), 1);
    assert!(link(&first, "first-page").is_none());
    let next = link(&first, "next-page").expect("a next page");
    assert_eq!(next, "/cron?after=job-099");
    let (_, second) = c.page(&viewer, &next).await;
    assert_eq!(
        listed(&second),
        ["job-100", "job-101", "job-102", "zz-named"]
    );
    assert!(link(&second, "next-page").is_none(), "the last page");
    assert_eq!(link(&second, "first-page").as_deref(), Some("/cron"));

    // A status filter pages too, and its next link keeps it.
    let (_, down) = c.page(&viewer, "/cron?status=down").await;
    let rows = listed(&down);
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|slug| slug.ends_with('3')), "{rows:?}");
    assert!(down.contains("data-status=\"down\""));
    assert!(!down.contains("data-status=\"up\""));
    assert!(link(&down, "next-page").is_none());

    // Search by slug or name, any case; the counts follow the search.
    let (_, found) = c.page(&viewer, "/cron?q=INVOICE").await;
    assert_eq!(listed(&found), ["zz-named"]);
    assert_eq!(count_of(&found, "new"), 1);
    assert_eq!(count_of(&found, "up"), 0);
    let (_, found) = c.page(&viewer, "/cron?q=job-05&status=up").await;
    assert_eq!(listed(&found).len(), 9, "job-050 to job-059 but job-053");
    let (_, none) = c.page(&viewer, "/cron?q=nothing-like-it").await;
    assert!(listed(&none).is_empty());
    assert!(none.contains("No monitor matches this filter."));

    // A cursor that is no slug is refused with a way back.
    let (status, page) = c.page(&viewer, "/cron?after=Not%20a%20slug").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("start from the first page"));

    // The overview's widget: the same counts, the first failing monitors by name.
    let (_, overview) = c.page(&viewer, "/overview/live").await;
    assert_eq!(count_of(&overview, "down"), 10);
    assert_eq!(count_of(&overview, "up"), 93);
    assert!(overview.contains("data-monitor=\"job-003\""));
    assert!(overview.contains("and 2 more"), "10 failing, 8 listed");
}
