//! A tenant's impersonations in the dashboard (SPEC §6, §7): a support engineer starts one
//! through the form and sees its token once (it verifies against the published key set),
//! finds it listed without its token, ends it through the form and the application's
//! revocation feed lists it; viewers and operators are refused every page and form; a
//! missing reason or a bad field is shown next to the form and changes nothing; without
//! configuration the page says how to turn impersonation on. In a real Chromium
//! (`browser`), the copy button works and the token page reads without it.

mod browser;

use opsdeck_core::audit::AuditFilter;
use opsdeck_core::auth::Role;
use opsdeck_core::ids::TenantId;
use opsdeck_core::token::{Grant, Scope, Scopes};
use reqwest::StatusCode;
use serde_json::Value;

use super::{client, form_value, sign_in};
use crate::impersonation::{enable, verify};
use crate::support::app::TestApp;
use crate::support::db::TestDb;

const LIST: &str = "/tenants/acme/impersonations";

/// The text between `start` (after its first `>`) and `end`.
fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"));
    let from = at + html[at..].find('>').unwrap() + 1;
    &html[from..from + html[from..].find(end).unwrap()]
}

async fn active(app: &TestApp) -> Vec<uuid::Uuid> {
    let tenant = TenantId::parse("acme").unwrap();
    let active = app
        .state
        .store()
        .list_active_impersonations(&tenant, chrono::Utc::now())
        .await
        .unwrap();
    active.into_iter().map(|i| i.jti).collect()
}

async fn audited(app: &TestApp, action: &str) -> Vec<Option<String>> {
    let filter = AuditFilter {
        action: Some(action.into()),
        ..AuditFilter::default()
    };
    let entries = app.state.store().list_audit(&filter).await.unwrap();
    entries.into_iter().map(|e| e.record.reason).collect()
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> (StatusCode, String) {
    let response = client()
        .get(app.url(path))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn support_starts_through_the_form_sees_the_token_once_and_ends_it() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| {
        enable(c);
        c.session.secure_cookie = false;
    })
    .await;
    let (support_id, support) = app.mint_role(Role::Support).await;
    let cookie = sign_in(&app, &support).await;

    let (status, tenant) = page(&app, "/tenants/acme", &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(tenant.contains(&format!("href=\"{LIST}\"")), "{tenant}");

    let (status, list) = page(&app, LIST, &cookie).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list.contains("No active impersonation"), "{list}");
    assert!(list.contains("id=\"start-button\""));
    assert!(list.contains("<option value=\"15m\" selected>"), "{list}");
    assert!(
        list.contains("<option value=\"1h\">"),
        "the maximum is offered"
    );
    let csrf = form_value(&list, "csrf_token");
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        client()
            .post(app.url(&path))
            .header("cookie", &cookie)
            .header("sec-fetch-site", "same-origin")
            .form(&fields)
            .send()
    };

    let forged = post(
        LIST.to_owned(),
        vec![
            ("csrf_token", "forged".into()),
            ("user_id", "user_7".into()),
            ("reason", "ticket 4711".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(active(&app).await.is_empty());

    let started = post(
        LIST.to_owned(),
        vec![
            ("csrf_token", csrf.clone()),
            ("user_id", "user_7".into()),
            ("ttl", "15m".into()),
            ("reason", "ticket 4711: cannot see invoices".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(started.status(), StatusCode::OK);
    assert_eq!(started.headers()["cache-control"], "no-store");
    let shown = started.text().await.unwrap();
    let token = between(&shown, "id=\"impersonation-token\"", "</textarea>").to_owned();
    let jti = between(&shown, "<code id=\"jti\"", "</code>").to_owned();
    assert!(shown.contains("id=\"copy-token\""), "the copy button");
    assert!(shown.contains("shown only this once"), "{shown}");
    assert!(between(&shown, "<dd id=\"expires\"", "</dd>").contains("UTC"));

    let keys: jsonwebtoken::jwk::JwkSet = client()
        .get(app.url("/ops/impersonation/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let claims = verify(&token, &keys).expect("the token shown verifies");
    assert_eq!(claims["sub"], "user_7");
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["act"]["sub"], support_id.to_string());
    assert_eq!(claims["jti"], jti.as_str());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );

    let (_, list) = page(&app, LIST, &cookie).await;
    assert!(list.contains(&format!("data-jti=\"{jti}\"")), "{list}");
    assert!(list.contains("ticket 4711: cannot see invoices"));
    assert!(!list.contains(&token), "the list never shows the token");
    let (signed, _) = token.rsplit_once('.').unwrap();
    assert!(!list.contains(signed));

    let end = format!("{LIST}/{jti}/end");
    let reasonless = post(end.clone(), vec![("csrf_token", csrf.clone())])
        .await
        .unwrap();
    assert_eq!(reasonless.status(), StatusCode::BAD_REQUEST);
    assert!(reasonless.text().await.unwrap().contains("Say why"));
    assert_eq!(active(&app).await.len(), 1, "a missing reason ends nothing");

    let ended = post(
        end,
        vec![
            ("csrf_token", csrf.clone()),
            ("reason", "ticket 4711 resolved".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(ended.status(), StatusCode::SEE_OTHER);
    let location = ended.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, format!("{LIST}?ended={jti}"));
    let (_, list) = page(&app, &location, &cookie).await;
    assert!(list.contains("id=\"notice\""), "{list}");
    assert!(!list.contains(&format!("data-jti=\"{jti}\"")));
    assert!(active(&app).await.is_empty());
    let (_, spoofed) = page(&app, &format!("{LIST}?ended=you+were+hacked"), &cookie).await;
    assert!(!spoofed.contains("hacked"), "only a jti makes a notice");

    let scopes = Scopes::new([Scope::Events]).unwrap();
    let (_, ingest) = app.mint("app", Grant::Scopes(scopes), None).await;
    let feed: Value = client()
        .get(app.url("/api/v1/impersonations/revoked"))
        .bearer_auth(&ingest)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revoked: Vec<&str> = feed["revoked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["jti"].as_str().unwrap())
        .collect();
    assert_eq!(revoked, [jti.as_str()], "{feed}");

    assert_eq!(
        audited(&app, "impersonation.started").await,
        [Some("ticket 4711: cannot see invoices".to_owned())]
    );
    assert_eq!(
        audited(&app, "impersonation.ended").await,
        [Some("ticket 4711 resolved".to_owned())]
    );
}

#[tokio::test]
async fn viewers_and_operators_are_refused_the_page_and_both_forms() {
    let app = TestApp::spawn_with(TestDb::sqlite(), enable).await;
    let (_, support) = app.mint_role(Role::Support).await;
    // One to end, started through the JSON API.
    let response = client()
        .post(app.url("/ops/tenants/acme/impersonations"))
        .bearer_auth(&support)
        .json(&serde_json::json!({"user_id": "user_7", "reason": "ticket 4711"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let jti = response.json::<Value>().await.unwrap()["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    for role in [Role::Viewer, Role::Operator] {
        let (_, bearer) = app.mint_role(role).await;
        let get = client()
            .get(app.url(LIST))
            .bearer_auth(&bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), StatusCode::FORBIDDEN, "{role:?}");
        let fields = [("user_id", "user_8"), ("ttl", "15m"), ("reason", "curious")];
        for path in [LIST.to_owned(), format!("{LIST}/{jti}/end")] {
            let post = client()
                .post(app.url(&path))
                .bearer_auth(&bearer)
                .form(&fields)
                .send()
                .await
                .unwrap();
            assert_eq!(post.status(), StatusCode::FORBIDDEN, "{role:?} {path}");
        }
    }
    assert_eq!(active(&app).await.len(), 1, "still the one, still active");
    assert!(audited(&app, "impersonation.ended").await.is_empty());
    assert_eq!(audited(&app, "impersonation.started").await.len(), 1);
}

#[tokio::test]
async fn bad_input_is_shown_next_to_the_form_and_changes_nothing() {
    let app = TestApp::spawn_with(TestDb::sqlite(), enable).await;
    let (_, support) = app.mint_role(Role::Support).await;
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("user_id", "user_7"), ("ttl", "15m")], "Say why"),
        (
            &[("user_id", "user_7"), ("ttl", "15m"), ("reason", "   ")],
            "Say why",
        ),
        (
            &[
                ("user_id", "user_7"),
                ("ttl", "2h"),
                ("reason", "ticket 4711"),
            ],
            "ttl",
        ),
        (
            &[
                ("user_id", "user_7"),
                ("ttl", "soon"),
                ("reason", "ticket 4711"),
            ],
            "ttl",
        ),
        (
            &[("user_id", ""), ("ttl", "15m"), ("reason", "ticket 4711")],
            "user_id",
        ),
    ];
    for (fields, says) in cases {
        let response = client()
            .post(app.url(LIST))
            .bearer_auth(&support)
            .form(fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{fields:?}");
        let html = response.text().await.unwrap();
        let error = between(&html, "id=\"form-error\"", "</p>");
        assert!(error.contains(says), "{fields:?}: {error}");
        assert!(html.contains("id=\"start-form\""), "the form again");
        let typed = fields.iter().find(|(k, _)| *k == "user_id").unwrap().1;
        assert!(html.contains(&format!(
            "name=\"user_id\" required maxlength=\"256\" value=\"{typed}\""
        )));
    }
    let unknown = client()
        .post(app.url(&format!("{LIST}/{}/end", uuid::Uuid::new_v4())))
        .bearer_auth(&support)
        .form(&[("reason", "ticket 4711")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert!(
        unknown
            .text()
            .await
            .unwrap()
            .contains("no impersonation with this jti")
    );
    assert!(active(&app).await.is_empty());
    assert!(audited(&app, "impersonation.started").await.is_empty());
    assert!(audited(&app, "impersonation.ended").await.is_empty());
}

#[tokio::test]
async fn without_configuration_the_page_says_how_to_enable_it() {
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| c.rate_limit.enabled = false).await;
    let (_, support) = app.mint_role(Role::Support).await;
    let response = client()
        .get(app.url(LIST))
        .bearer_auth(&support)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "a page that says how");
    let html = response.text().await.unwrap();
    assert!(html.contains("enabled = true"), "{html}");
    assert!(html.contains("encryption_key") && html.contains("audience"));
    assert!(!html.contains("id=\"start-form\""));
    let refused = client()
        .post(app.url(LIST))
        .bearer_auth(&support)
        .form(&[("user_id", "user_7"), ("reason", "ticket 4711")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert!(refused.text().await.unwrap().contains("enabled = true"));
    assert!(audited(&app, "impersonation.started").await.is_empty());
}
