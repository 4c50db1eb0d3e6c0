//! The proof of SPEC §2's access rules over every route the router serves (walked from the
//! route table, not a hand-kept list), for every kind of caller: nobody, an ingest key, each
//! role, a revoked token, an expired token and malformed credentials.

use chrono::Utc;
use opsdeck_core::auth::Role;
use opsdeck_core::token::{Grant, Scope, Scopes};
use opsdeck_server::router::{Access, Kind, route_table};
use reqwest::{Method, StatusCode};

use crate::support;
use crate::support::app::TestApp;
use crate::support::db::TestDb;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Nobody,
    Ingest,
    Personal(Role),
    Revoked,
    Expired,
    Malformed,
}

struct Caller {
    who: Who,
    authorization: Option<String>,
}

async fn callers(app: &TestApp) -> Vec<Caller> {
    let mut callers = vec![Caller {
        who: Who::Nobody,
        authorization: None,
    }];
    for role in Role::ALL {
        let (_, secret) = app.mint(role.as_str(), Grant::Role(role), None).await;
        callers.push(Caller {
            who: Who::Personal(role),
            authorization: Some(format!("Bearer {secret}")),
        });
    }
    let (_, key) = app
        .mint(
            "ingest",
            Grant::Scopes(Scopes::new([Scope::Checkins, Scope::Jobs, Scope::Events]).unwrap()),
            None,
        )
        .await;
    callers.push(Caller {
        who: Who::Ingest,
        authorization: Some(format!("Bearer {key}")),
    });
    let (id, revoked) = app.mint("revoked", Grant::Role(Role::Admin), None).await;
    assert!(
        app.state
            .store()
            .revoke_token(id, Utc::now())
            .await
            .unwrap()
    );
    callers.push(Caller {
        who: Who::Revoked,
        authorization: Some(format!("Bearer {revoked}")),
    });
    let (_, expired) = app
        .mint(
            "expired",
            Grant::Role(Role::Admin),
            Some(Utc::now() - chrono::Duration::seconds(1)),
        )
        .await;
    callers.push(Caller {
        who: Who::Expired,
        authorization: Some(format!("Bearer {expired}")),
    });
    let (_, admin) = app.mint("truncated", Grant::Role(Role::Admin), None).await;
    for malformed in [
        "Bearer".to_owned(),
        "Basic YWRtaW46YWRtaW4=".to_owned(),
        "Bearer not-an-opsdeck-token".to_owned(),
        format!("Bearer {}", &admin[..admin.len() - 1]),
        format!("Bearer {}x", &admin[..admin.len() - 1]),
    ] {
        callers.push(Caller {
            who: Who::Malformed,
            authorization: Some(malformed),
        });
    }
    callers
}

#[tokio::test]
async fn every_route_answers_every_kind_of_caller_as_spec_section_two_says() {
    // Dozens of bad credentials from one address would trip the failed-auth limit, which
    // rate_limits.rs proves on its own; here every answer must come from authorization.
    let app = TestApp::spawn_with(TestDb::sqlite(), |c| c.rate_limit.enabled = false).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let callers = callers(&app).await;
    let table = route_table();
    let mut checked = 0;
    for route in table.routes() {
        for caller in &callers {
            let method = Method::from_bytes(route.method.as_str().as_bytes()).unwrap();
            let mut request = client
                .request(method, app.url(&support::concrete_path(&route.path)))
                .header("content-type", "application/json")
                .body("{}");
            if let Some(value) = &caller.authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let what = format!(
                "{} {} as {:?} ({:?})",
                route.method, route.path, caller.who, caller.authorization
            );
            let bad_credentials =
                matches!(caller.who, Who::Revoked | Who::Expired | Who::Malformed);
            match route.access {
                Access::Public => {
                    if bad_credentials {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    } else {
                        assert!(
                            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                            "{what}: {status}"
                        );
                    }
                }
                Access::ScrapeToken => {
                    let allowed = matches!(caller.who, Who::Personal(role) if role.allows(opsdeck_core::auth::Permission::ReadOps));
                    if allowed {
                        assert_eq!(status, StatusCode::OK, "{what}");
                    } else if matches!(caller.who, Who::Ingest) {
                        assert_eq!(status, StatusCode::FORBIDDEN, "{what}");
                    } else {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                    }
                }
                Access::Requires(permission) => match caller.who {
                    Who::Nobody if route.kind == Kind::Html => {
                        assert_eq!(status, StatusCode::SEE_OTHER, "{what}");
                    }
                    Who::Nobody | Who::Revoked | Who::Expired | Who::Malformed => {
                        assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
                        let body: serde_json::Value = response.json().await.unwrap();
                        assert!(body["error"]["code"].is_string(), "{what}: envelope");
                    }
                    Who::Ingest => assert_eq!(status, StatusCode::FORBIDDEN, "{what}"),
                    Who::Personal(role) if role.allows(permission) => assert!(
                        status != StatusCode::UNAUTHORIZED
                            && status != StatusCode::FORBIDDEN
                            && !status.is_server_error(),
                        "{what}: the right role gets through, got {status}"
                    ),
                    Who::Personal(_) => assert_eq!(status, StatusCode::FORBIDDEN, "{what}"),
                },
            }
            checked += 1;
        }
    }
    assert!(
        checked >= table.routes().len() * 10,
        "walked {checked} route × caller pairs"
    );
}
