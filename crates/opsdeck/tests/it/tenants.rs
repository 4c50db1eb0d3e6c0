//! Tenant diagnostics (SPEC §6) on both backends: `GET /ops/tenants` finds the tenants
//! opsdeck has seen, `GET /ops/tenants/{id}` gathers the tenant's monitors, failed jobs and
//! opsdeck's own audit entries about it, each section on its own (one that cannot answer
//! says why, the others still do); support and admin only.

use opsdeck_core::auth::Role;
use opsdeck_core::token::Scope;
use opsdeck_server::config::{PushKeys, SourceConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::pings::key;
use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

on_both_backends!(
    a_tenant_summary_gathers_its_monitors_failed_jobs_and_audit_entries,
    tenants_are_searched_and_paged_and_refused_to_viewers_and_operators,
    a_section_that_cannot_answer_says_why_and_the_others_still_do,
    the_tenant_pages_find_a_tenant_and_show_each_section,
    the_application_database_gives_the_directory_and_each_query_its_own_section,
    events_give_the_summary_its_usage_errors_and_audit_highlights,
);

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = app.client.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Posts a snapshot of the queue `payments` to the push source.
async fn post_snapshot(app: &TestApp, ingest: &str, snapshot: &Value) {
    let response = app
        .client
        .post(app.url("/api/v1/queues/payments/snapshot"))
        .bearer_auth(ingest)
        .json(snapshot)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
}

/// Monitors `acme-…` and `globex-…` with their tenants, and one without.
async fn make_monitors(app: &TestApp, admin: &str) {
    for (slug, tenant) in [
        ("acme-invoices", Some("acme")),
        ("acme-export", Some("acme")),
        ("globex-sync", Some("globex")),
        ("acme-corp-sync", Some("acme-corp")),
        ("no-tenant", None),
    ] {
        let mut body = json!({"slug": slug, "interval": "1h", "reason": "monitor it"});
        if let Some(tenant) = tenant {
            body["tenant_id"] = json!(tenant);
        }
        let (status, answer) = send(app, Method::POST, "/ops/cron", admin, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{slug}: {answer}");
    }
}

async fn a_tenant_summary_gathers_its_monitors_failed_jobs_and_audit_entries(db: TestDb) {
    let app = TestApp::spawn_with(db, |config| {
        config.queues.sources = vec![SourceConfig::push("billing", PushKeys::default())];
    })
    .await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (_, support) = app.mint_role(Role::Support).await;
    make_monitors(&app, &admin).await;
    let ingest = key(&app, "billing-worker", &[Scope::Jobs]).await;
    let snapshot = json!({
        "counts": {"waiting": 1, "failed": 3},
        "failures": [
            {"id": "m-1", "name": "charge", "tenant_id": "acme",
             "error": "CardError: card 4242 4242 4242 4242 declined for jane@example.com",
             "at": "2026-12-07T03:00:00Z"},
            {"id": "m-2", "name": "refund", "tenant_id": "globex", "error": "timeout"},
            {"id": "m-3", "name": "charge", "tenant_id": "acme", "error": "card declined",
             "at": "2026-12-07T04:00:00Z"},
        ],
    });
    post_snapshot(&app, &ingest, &snapshot).await;

    let (status, summary) = send(&app, Method::GET, "/ops/tenants/acme", &support, None).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["tenant_id"], "acme");

    let monitors = &summary["monitors"];
    assert_eq!(monitors["status"], "ok", "{monitors}");
    let slugs: Vec<&str> = monitors["data"]["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["acme-export", "acme-invoices"], "{monitors}");
    assert_eq!(monitors["data"]["more"], false);

    let jobs = &summary["jobs"];
    assert_eq!(jobs["status"], "ok", "{jobs}");
    let ids: Vec<&str> = jobs["data"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["m-3", "m-1"],
        "newest failure first, acme's only: {jobs}"
    );
    assert_eq!(jobs["data"]["jobs"][0]["source"], "billing");
    assert_eq!(jobs["data"]["gaps"], json!([]));
    let text = summary.to_string();
    for secret in ["4242 4242", "jane@example.com"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }

    // The creation of acme's monitors is in opsdeck's audit log with the tenant.
    let audit = &summary["opsdeck_audit"];
    assert_eq!(audit["status"], "ok", "{audit}");
    let actions: Vec<&str> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| a.starts_with("cron.")).count(),
        2,
        "{audit}"
    );
    let line = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"].as_str().unwrap().starts_with("cron."))
        .unwrap();
    assert_eq!(line["reason"], "monitor it", "{audit}");
    assert!(line.get("hash").is_none() && line.get("client_addr").is_none());

    // Another tenant sees its own.
    let (_, globex) = send(&app, Method::GET, "/ops/tenants/globex", &support, None).await;
    assert_eq!(globex["jobs"]["data"]["jobs"][0]["id"], "m-2", "{globex}");
    assert_eq!(
        globex["monitors"]["data"]["monitors"][0]["slug"], "globex-sync",
        "{globex}"
    );
    app.shutdown().await.unwrap();
}

async fn tenants_are_searched_and_paged_and_refused_to_viewers_and_operators(db: TestDb) {
    let app = TestApp::spawn(db).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (_, support) = app.mint_role(Role::Support).await;
    make_monitors(&app, &admin).await;

    let ids = |list: &Value| -> Vec<String> {
        list["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, all) = send(&app, Method::GET, "/ops/tenants", &support, None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(ids(&all), ["acme", "acme-corp", "globex"], "{all}");
    assert_eq!(all["tenants"][0]["seen_in"], json!(["cron"]));
    assert_eq!(all["next"], Value::Null);

    let (_, found) = send(&app, Method::GET, "/ops/tenants?q=ACME", &admin, None).await;
    assert_eq!(
        ids(&found),
        ["acme", "acme-corp"],
        "ASCII case ignored: {found}"
    );
    let (_, none) = send(&app, Method::GET, "/ops/tenants?q=%25", &admin, None).await;
    assert_eq!(ids(&none), Vec::<String>::new(), "% is literal: {none}");

    let (_, first) = send(&app, Method::GET, "/ops/tenants?limit=2", &support, None).await;
    assert_eq!(ids(&first), ["acme", "acme-corp"]);
    assert_eq!(first["next"], "acme-corp");
    let (_, second) = send(
        &app,
        Method::GET,
        "/ops/tenants?limit=2&after=acme-corp",
        &support,
        None,
    )
    .await;
    assert_eq!(ids(&second), ["globex"]);
    assert_eq!(second["next"], Value::Null);

    for (path, what) in [
        (
            "/ops/tenants?q=".to_owned() + &"x".repeat(200),
            "parameter `q`",
        ),
        ("/ops/tenants/has%20space".to_owned(), "tenant id"),
        ("/ops/tenants?after=has%20space".to_owned(), "tenant id"),
    ] {
        let (status, error) = send(&app, Method::GET, &path, &support, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {error}");
        assert_eq!(error["error"]["code"], "invalid_field", "{error}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(what),
            "{error}"
        );
    }

    for role in [Role::Viewer, Role::Operator] {
        let (_, token) = app.mint_role(role).await;
        for path in ["/ops/tenants", "/ops/tenants/acme"] {
            let (status, error) = send(&app, Method::GET, path, &token, None).await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{role:?} {path}: {error}");
            assert_eq!(error["error"]["code"], "forbidden");
        }
    }
    app.shutdown().await.unwrap();
}

async fn a_section_that_cannot_answer_says_why_and_the_others_still_do(db: TestDb) {
    // No queue source knows its jobs' tenants: the jobs section says what to configure.
    let app = TestApp::spawn(db).await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    make_monitors(&app, &admin).await;
    let (status, summary) = send(&app, Method::GET, "/ops/tenants/acme", &admin, None).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["jobs"]["status"], "unavailable", "{summary}");
    assert!(
        summary["jobs"]["error"]
            .as_str()
            .unwrap()
            .contains("tenant_path"),
        "{summary}"
    );
    assert_eq!(summary["monitors"]["status"], "ok");
    assert_eq!(summary["opsdeck_audit"]["status"], "ok");
    // A tenant nothing knows has an empty summary, not an error.
    let (status, unknown) = send(&app, Method::GET, "/ops/tenants/nobody", &admin, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(unknown["monitors"]["data"]["monitors"], json!([]));
    app.shutdown().await.unwrap();
}

async fn page(app: &TestApp, path: &str, token: &str) -> (StatusCode, String) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

async fn the_tenant_pages_find_a_tenant_and_show_each_section(db: TestDb) {
    let app = TestApp::spawn_with(db, |config| {
        config.queues.sources = vec![SourceConfig::push("billing", PushKeys::default())];
    })
    .await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (_, support) = app.mint_role(Role::Support).await;
    make_monitors(&app, &admin).await;
    let ingest = key(&app, "billing-worker", &[Scope::Jobs]).await;
    let snapshot = json!({
        "counts": {"failed": 1},
        "failures": [{"id": "m-9", "name": "charge", "tenant_id": "acme",
                      "error": "CardError: card 4242 4242 4242 4242 declined"}],
    });
    post_snapshot(&app, &ingest, &snapshot).await;

    let (status, search) = page(&app, "/tenants?q=acm", &support).await;
    assert_eq!(status, StatusCode::OK, "{search}");
    assert!(search.contains("href=\"/tenants/acme\""), "{search}");
    assert!(search.contains("href=\"/tenants/acme-corp\""), "{search}");
    assert!(!search.contains("data-tenant=\"globex\""), "{search}");
    let (_, nothing) = page(&app, "/tenants?q=zzz", &support).await;
    assert!(nothing.contains("No tenant id contains"), "{nothing}");

    let (status, html) = page(&app, "/tenants/acme", &support).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for part in [
        "data-section=\"monitors\" data-section-status=\"ok\"",
        "data-section=\"jobs\" data-section-status=\"ok\"",
        "data-section=\"opsdeck_audit\" data-section-status=\"ok\"",
        "data-monitor=\"acme-invoices\"",
        "data-job=\"m-9\"",
        "href=\"/queues/billing/payments/jobs/m-9\"",
    ] {
        assert!(html.contains(part), "{part}: {html}");
    }
    assert!(!html.contains("data-monitor=\"globex-sync\""), "{html}");
    assert!(!html.contains("4242 4242"), "redacted: {html}");

    let (status, bad) = page(&app, "/tenants/has%20space", &support).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let (status, refused) = page(&app, "/tenants/acme", &viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(refused.contains("Not allowed"), "{refused}");
    app.shutdown().await.unwrap();
}

async fn the_application_database_gives_the_directory_and_each_query_its_own_section(db: TestDb) {
    use opsdeck_connectors::tenants::QueryKind;
    use opsdeck_core::secret::Secret;
    use opsdeck_server::config::TenantQueryConfig;

    use crate::tenant_sources::fixture::{AppDb, NOTES_SECRETS};

    let app_db = AppDb::sqlite().await.unwrap();
    let query = |name: &str, kind: QueryKind, sql: &str| TenantQueryConfig {
        name: name.to_owned(),
        url: None,
        sql: sql.to_owned(),
        kind,
        mask: Vec::new(),
        timeout: None,
        row_limit: None,
    };
    let url = app_db.url.clone();
    let app = TestApp::spawn_with(db, move |config| {
        config.tenants.url = Some(Secret::new(url));
        config.tenants.directory = Some(
            "SELECT id, name, plan, status FROM accounts \
             WHERE id = $1 OR name LIKE '%' || $1 || '%' ORDER BY id LIMIT $2"
                .to_owned(),
        );
        config.tenants.queries = vec![
            query(
                "account",
                QueryKind::Profile,
                "SELECT name, billing_email, api_token, notes, seats FROM accounts WHERE id = $1",
            ),
            query(
                "invoices",
                QueryKind::Table,
                "SELECT number, total FROM invoices WHERE account_id = $1 ORDER BY number",
            ),
            query(
                "broken",
                QueryKind::Table,
                "SELECT nope FROM no_such_table WHERE id = $1",
            ),
        ];
    })
    .await;
    let (_, support) = app.mint_role(Role::Support).await;

    let (status, found) = send(&app, Method::GET, "/ops/tenants?q=Glob", &support, None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["source"], "directory");
    assert_eq!(found["tenants"][0]["id"], "globex", "{found}");
    assert_eq!(found["tenants"][0]["facts"]["name"], "Globex", "{found}");
    assert_eq!(found["tenants"].as_array().unwrap().len(), 1, "{found}");
    let (status, paged) = send(&app, Method::GET, "/ops/tenants?after=acme", &support, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{paged}");

    let (status, summary) = send(&app, Method::GET, "/ops/tenants/acme", &support, None).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(summary["directory"]["status"], "ok", "{summary}");
    assert_eq!(summary["directory"]["data"]["plan"], "pro", "{summary}");
    let answers = summary["queries"]["data"].as_array().unwrap();
    let answer = |name: &str| answers.iter().find(|a| a["name"] == name).unwrap().clone();
    let account = answer("account");
    assert_eq!(account["status"], "ok", "{account}");
    assert_eq!(account["kind"], "profile");
    assert_eq!(account["rows"][0][0], "Acme Corp", "{account}");
    let invoices = answer("invoices");
    assert_eq!(invoices["rows"].as_array().unwrap().len(), 3, "{invoices}");
    let broken = answer("broken");
    assert_eq!(broken["status"], "query_failed", "{broken}");
    assert!(
        broken["error"].as_str().unwrap().contains("no_such_table"),
        "{broken}"
    );
    assert_eq!(
        summary["monitors"]["status"], "ok",
        "the others still answer"
    );
    let text = summary.to_string();
    for secret in NOTES_SECRETS
        .iter()
        .copied()
        .chain(["tok_live_4eC39HqLyjWDarjtT1zdp7dc", "billing@acme.example"])
    {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }

    let (status, html) = page(&app, "/tenants/acme", &support).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    // The page does not wait for the application's queries: each card loads on its own.
    for part in [
        "data-section=\"directory\" data-section-status=\"ok\"",
        "data-query=\"account\" data-query-status=\"deferred\" data-load=\"/tenants/acme/queries/account\"",
        "data-query=\"broken\" data-query-status=\"deferred\"",
        "Acme Corp",
    ] {
        assert!(html.contains(part), "{part}: {html}");
    }
    assert!(!html.contains("INV-2"), "no query ran for the page: {html}");
    for (name, parts) in [
        ("account", &["data-query-status=\"ok\"", "Acme Corp"][..]),
        ("invoices", &["data-query-status=\"ok\"", "INV-2"][..]),
        (
            "broken",
            &["data-query-status=\"query_failed\"", "no_such_table"][..],
        ),
    ] {
        let (status, card) = page(&app, &format!("/tenants/acme/queries/{name}"), &support).await;
        assert_eq!(status, StatusCode::OK, "{card}");
        assert!(card.contains(&format!("id=\"query-{name}\"")), "{card}");
        for part in parts {
            assert!(card.contains(part), "{name}: {part}: {card}");
        }
        assert!(!card.contains("tok_live_"), "masked: {card}");
    }
    let (status, unknown) = page(&app, "/tenants/acme/queries/nope", &support).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
    let (status, one) = send(
        &app,
        Method::GET,
        "/ops/tenants/acme/queries/invoices",
        &support,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["rows"].as_array().unwrap().len(), 3, "{one}");
    let (_, operator) = app.mint_role(Role::Operator).await;
    let (status, _) = send(
        &app,
        Method::GET,
        "/ops/tenants/acme/queries/invoices",
        &operator,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, missing) = send(&app, Method::GET, "/ops/tenants/nobody", &support, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    let (_, search_page) = page(&app, "/tenants?q=init", &support).await;
    assert!(
        search_page.contains("href=\"/tenants/initech\""),
        "{search_page}"
    );
    app.shutdown().await.unwrap();
}

async fn events_give_the_summary_its_usage_errors_and_audit_highlights(db: TestDb) {
    // Events up to 25 days old are taken, so the 30-day window differs from the 7-day one.
    let app = TestApp::spawn_with(db, |config| {
        config.events.max_age = std::time::Duration::from_secs(25 * 86_400);
    })
    .await;
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (_, support) = app.mint_role(Role::Support).await;
    make_monitors(&app, &admin).await;
    let ingest = key(&app, "my-app", &[Scope::Events]).await;
    let now = chrono::Utc::now();
    let hours_ago = |h: i64| (now - chrono::Duration::hours(h)).to_rfc3339();
    let days_ago = |d: i64| (now - chrono::Duration::days(d)).to_rfc3339();
    let events = json!([
        {"id": "e1", "type": "error", "tenant_id": "acme", "at": hours_ago(2),
         "message": "order 1234 failed for jane.doe@example.com", "route": "/checkout"},
        {"id": "e2", "type": "error", "tenant_id": "acme", "at": hours_ago(1),
         "message": "order 98765 failed for jane.doe@example.com", "route": "/checkout"},
        {"id": "u1", "type": "usage", "tenant_id": "acme", "at": hours_ago(1),
         "name": "api.requests", "value": 5},
        {"id": "u2", "type": "usage", "tenant_id": "acme", "at": days_ago(3),
         "name": "api.requests", "value": 7},
        {"id": "u3", "type": "usage", "tenant_id": "acme", "at": days_ago(20),
         "name": "api.requests", "value": 11},
        {"id": "a1", "type": "audit", "tenant_id": "acme", "at": hours_ago(3),
         "action": "user.role_granted", "actor": "owner@acme", "target": "user-7"},
        {"id": "a2", "type": "audit", "tenant_id": "acme", "at": hours_ago(3),
         "action": "invoice.viewed"},
        {"id": "i1", "type": "error", "tenant_id": "initech", "at": hours_ago(1),
         "message": "only in events"},
    ]);
    let response = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&ingest)
        .json(&events)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(
        answer["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "stored"),
        "{answer}"
    );

    let (status, summary) = send(&app, Method::GET, "/ops/tenants/acme", &support, None).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    let usage = &summary["usage"]["data"];
    let total = |window: &str| usage[window][0]["value"].as_f64().unwrap();
    assert_eq!(usage["last_24h"][0]["name"], "api.requests", "{usage}");
    assert_eq!(
        (total("last_24h"), total("last_7d"), total("last_30d")),
        (5.0, 12.0, 23.0),
        "{usage}"
    );
    let errors = summary["errors"]["data"].as_array().unwrap();
    assert_eq!(
        errors.len(),
        1,
        "numbers normalised into one group: {errors:?}"
    );
    assert_eq!(errors[0]["count"], 2);
    let highlights = &summary["audit_highlights"]["data"]["events"];
    assert_eq!(highlights.as_array().unwrap().len(), 1, "{highlights}");
    assert_eq!(highlights[0]["action"], "user.role_granted");
    assert_eq!(summary["impersonations"]["status"], "unavailable");
    assert!(
        !summary.to_string().contains("jane.doe@example.com"),
        "{summary}"
    );

    let (status, html) = page(&app, "/tenants/acme", &support).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    for part in [
        "data-section=\"errors\" data-section-status=\"ok\"",
        "data-section=\"usage\" data-section-status=\"ok\"",
        "data-counter=\"api.requests\"",
        "data-category=\"role_change\"",
        "data-section=\"impersonations\" data-section-status=\"unavailable\"",
    ] {
        assert!(html.contains(part), "{part}: {html}");
    }
    assert!(!html.contains("jane.doe@example.com"), "{html}");

    let (_, all) = send(&app, Method::GET, "/ops/tenants", &support, None).await;
    let seen: Vec<(String, Value)> = all["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), t["seen_in"].clone()))
        .collect();
    assert!(
        seen.contains(&("acme".to_owned(), json!(["events", "cron"]))),
        "{all}"
    );
    assert!(
        seen.contains(&("initech".to_owned(), json!(["events"]))),
        "{all}"
    );
    app.shutdown().await.unwrap();
}

/// `serve --demo` gives its tenants usage, error groups and audit highlights; seeding again
/// (a restarted demo) counts nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_has_tenants_with_usage_errors_and_highlights() {
    let mut notes = None;
    let app = TestApp::spawn_with(TestDb::sqlite(), |config| {
        notes = Some(opsdeck_server::demo::prepare(config, true));
    })
    .await;
    let notes = notes.expect("prepared");
    opsdeck_server::demo::seed(&app.state, &notes)
        .await
        .unwrap();
    let (_, support) = app.mint_role(Role::Support).await;

    let (status, all) = send(&app, Method::GET, "/ops/tenants", &support, None).await;
    assert_eq!(status, StatusCode::OK, "{all}");
    let ids: Vec<&str> = all["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    for tenant in ["acme", "globex", "initech", "umbrella", "stark", "wonka"] {
        assert!(ids.contains(&tenant), "{tenant}: {all}");
    }
    assert_eq!(
        all["source"], "directory",
        "the shop's database lists them: {all}"
    );
    let (_, found) = send(
        &app,
        Method::GET,
        "/ops/tenants?q=Industries",
        &support,
        None,
    )
    .await;
    let names: Vec<&str> = found["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["facts"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Stark Industries",
            "Vandelay Industries",
            "Wonka Industries"
        ],
        "{found}"
    );
    let (_, acme) = send(&app, Method::GET, "/ops/tenants/acme", &support, None).await;
    assert_eq!(acme["directory"]["data"]["plan"], "enterprise", "{acme}");
    let answers = acme["queries"]["data"].as_array().unwrap();
    let answer = |name: &str| answers.iter().find(|a| a["name"] == name).unwrap().clone();
    let account = answer("account");
    assert_eq!(account["status"], "ok", "{account}");
    assert_eq!(account["rows"][0][0], "Acme Corporation", "{account}");
    let users = answer("users");
    assert_eq!(users["status"], "ok", "{users}");
    assert_eq!(users["rows"].as_array().unwrap().len(), 5, "{users}");
    assert_eq!(answer("invoices")["rows"].as_array().unwrap().len(), 6);
    for masked in ["billing@acme.example", "user0@acme.example"] {
        assert!(!acme.to_string().contains(masked), "{masked}: {acme}");
    }
    let (status, missing) = send(&app, Method::GET, "/ops/tenants/nosuch", &support, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    assert!(
        !acme["usage"]["data"]["last_7d"]
            .as_array()
            .unwrap()
            .is_empty(),
        "{acme}"
    );
    let errors = acme["errors"]["data"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 1, "one group for the recurring error: {acme}");
    let categories: Vec<&str> = acme["audit_highlights"]["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["category"].as_str().unwrap())
        .collect();
    assert_eq!(
        categories,
        ["role_change", "export"],
        "newest first: {acme}"
    );
    assert!(!acme.to_string().contains("billing@acme.example"), "{acme}");
    let (_, initech) = send(&app, Method::GET, "/ops/tenants/initech", &support, None).await;
    assert_eq!(
        initech["audit_highlights"]["data"]["failed_login_bursts"][0]["count"], 12,
        "{initech}"
    );

    opsdeck_server::demo::seed(&app.state, &notes)
        .await
        .unwrap();
    let (_, again) = send(&app, Method::GET, "/ops/tenants/acme", &support, None).await;
    assert_eq!(
        again["errors"]["data"][0]["count"], errors[0]["count"],
        "{again}"
    );
    let (status, html) = page(&app, "/tenants/acme", &support).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-counter=\"api.requests\""), "{html}");
    for part in [
        "data-query=\"account\" data-query-status=\"deferred\"",
        "data-query=\"users\" data-query-status=\"deferred\"",
    ] {
        assert!(html.contains(part), "{part}: {html}");
    }
    let (_, invoices) = page(&app, "/tenants/acme/queries/invoices", &support).await;
    assert!(invoices.contains("INV-ACME-120"), "{invoices}");
    // Wherever a monitor, job or audit entry carries a tenant, support and admins get a link
    // to its page; a viewer, who would be refused that page, sees the id as text.
    let link = "<a href=\"/tenants/acme\" data-tenant-link>acme</a>";
    let (_, monitor) = page(&app, "/cron/warehouse-import", &support).await;
    assert!(monitor.contains(link), "{monitor}");
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let (status, monitor) = page(&app, "/cron/warehouse-import", &viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        monitor.contains(">acme<") && !monitor.contains("data-tenant-link"),
        "{monitor}"
    );
    let (_, admin) = app.mint_role(Role::Admin).await;
    let (_, audit) = page(&app, "/audit", &admin).await;
    assert!(audit.contains(link), "the views of acme's page: {audit}");
    let shop = opsdeck_server::demo::app_database_path(app.state.config().database.url.expose());
    app.shutdown().await.unwrap();
    std::fs::remove_file(shop).unwrap();
}
