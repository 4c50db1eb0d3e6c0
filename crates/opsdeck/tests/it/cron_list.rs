//! `GET /ops/cron` a page at a time over real HTTP, on both backends: pages by slug with a
//! `next` cursor that list every monitor once while monitors change status, a default and a
//! maximum `limit`, status, tag and text filters on the server, counts by status over all
//! pages, and clear 400s for what is not a page.

use opsdeck_core::auth::Role;
use opsdeck_core::token::Scope;
use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

on_both_backends!(
    the_monitor_list_pages_with_a_cursor_while_statuses_change,
    the_monitor_list_filters_searches_and_counts_on_the_server,
);

async fn get(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// A ping: 200, or 201 when it created its monitor.
async fn ping(app: &TestApp, key: &str, rest: &str) {
    let response = app
        .client
        .get(app.url(&format!("/ping/{key}/{rest}")))
        .send()
        .await
        .expect("ping");
    assert!(response.status().is_success(), "{rest}");
}

fn slugs(list: &Value) -> Vec<String> {
    list["monitors"]
        .as_array()
        .expect("monitors")
        .iter()
        .map(|m| m["slug"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_monitor_list_pages_with_a_cursor_while_statuses_change(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let key = crate::pings::key(&app, "jobs", &[Scope::Checkins]).await;
    let all: Vec<String> = (0..23).map(|n| format!("job-{n:02}")).collect();
    for slug in all.iter().rev() {
        ping(&app, &key, &format!("{slug}?create=1")).await;
    }

    // The default page holds them all, with the fields the list always had.
    let (status, list) = get(&app, &viewer, "/ops/cron").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(slugs(&list), all);
    assert_eq!(list["next"], Value::Null);
    assert_eq!(
        (list["total"].as_u64(), list["counts"]["up"].as_u64()),
        (Some(23), Some(23))
    );
    let first = &list["monitors"][0];
    for field in [
        "slug",
        "name",
        "status",
        "schedule",
        "interval_seconds",
        "last_run",
        "last_success_at",
        "next_expected_at",
        "failure_streak",
        "running",
        "tags",
        "source",
    ] {
        assert!(first.get(field).is_some(), "{field}: {first}");
    }
    assert_eq!(first["last_run"]["status"], "success");

    // Pages of 5: each page's failures, before and after the cursor, move nothing between
    // pages.
    let mut listed = Vec::new();
    let mut path = "/ops/cron?limit=5".to_owned();
    let mut pages = 0;
    loop {
        let (status, page) = get(&app, &viewer, &path).await;
        assert_eq!(status, 200, "{page}");
        assert!(slugs(&page).len() <= 5);
        listed.extend(slugs(&page));
        pages += 1;
        for n in [pages * 4, 22 - pages * 3] {
            ping(&app, &key, &format!("job-{n:02}/fail")).await;
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/ops/cron?limit=5&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(pages, 5);
    assert_eq!(listed, all, "every monitor once, in slug order");

    // A page of down monitors holds only down ones, and the counts say how many there are.
    let (_, down) = get(&app, &viewer, "/ops/cron?status=down&limit=500").await;
    let down_slugs = slugs(&down);
    assert!(!down_slugs.is_empty());
    assert!(
        down["monitors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["status"] == "down")
    );
    assert_eq!(
        down["counts"]["down"].as_u64(),
        Some(down_slugs.len() as u64)
    );
    assert_eq!(
        down["total"].as_u64(),
        Some(23),
        "counts are over every status"
    );

    // What is not a page is a 400 that names the parameter.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=Not%20a%20slug", "cursor"),
        ("status=sleepy", "status"),
    ] {
        let (status, body) = get(&app, &viewer, &format!("/ops/cron?{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.to_string().contains(field), "{query}: {body}");
    }
    let (status, page) = get(&app, &viewer, "/ops/cron?limit=500").await;
    assert_eq!((status, slugs(&page).len()), (200, 23));
}

async fn the_monitor_list_filters_searches_and_counts_on_the_server(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let key = crate::pings::key(&app, "jobs", &[Scope::Checkins]).await;
    for (slug, name, tags) in [
        ("billing-sync", "Billing sync", json!(["team:billing"])),
        ("invoice-run", "Monthly INVOICES", json!(["team:billing"])),
        ("mailer", "Mailer", json!(["team:web"])),
    ] {
        let body = json!({
            "slug": slug, "name": name, "interval": "1h", "tags": tags, "reason": "test"
        });
        let response = app
            .client
            .post(app.url("/ops/cron"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    ping(&app, &key, "billing-sync").await;
    ping(&app, &key, "invoice-run/fail").await;

    let list = async |query: &str| {
        let (status, body) = get(&app, &admin, &format!("/ops/cron?{query}")).await;
        assert_eq!(status, 200, "{query}: {body}");
        body
    };
    let billing = list("tag=team:billing").await;
    assert_eq!(slugs(&billing), ["billing-sync", "invoice-run"]);
    assert_eq!(billing["total"].as_u64(), Some(2));
    assert_eq!(billing["counts"]["down"].as_u64(), Some(1));
    assert_eq!(billing["counts"]["new"].as_u64(), Some(0));
    assert_eq!(
        slugs(&list("tag=team:billing&status=up").await),
        ["billing-sync"]
    );
    assert_eq!(slugs(&list("status=new").await), ["mailer"]);
    let found = list("q=invoice").await;
    assert_eq!(slugs(&found), ["invoice-run"]);
    assert_eq!(slugs(&list("q=SYNC").await), ["billing-sync"], "any case");
    assert_eq!(slugs(&list("q=monthly").await), ["invoice-run"], "by name");
    assert_eq!(
        slugs(&list("q=").await).len(),
        3,
        "empty text: no condition"
    );
    let all = list("").await;
    assert_eq!(
        (
            all["counts"]["up"].as_u64(),
            all["counts"]["down"].as_u64(),
            all["counts"]["new"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
}
