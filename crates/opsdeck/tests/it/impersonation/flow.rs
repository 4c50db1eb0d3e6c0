//! Start, verify, list, end, the revocation feed and the audit trail, on both backends.

use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::errors::ErrorKind;
use opsdeck_core::auth::Role;
use reqwest::StatusCode;
use serde_json::Value;

use super::{AUDIENCE, ClockedApp, enable, verify};
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

on_both_backends! {
    the_token_verifies_independently_and_not_once_expired,
    ending_one_lists_it_in_the_feed_and_both_ends_are_audited_with_the_tenant,
}

async fn the_token_verifies_independently_and_not_once_expired(db: TestDb) {
    // The clock starts two hours back: what is issued first is long expired by real time,
    // which is what jsonwebtoken checks `exp` against.
    let real_now = Utc::now();
    let app = ClockedApp::spawn(db, real_now - chrono::Duration::hours(2), enable).await;
    let (support_id, support) = app.mint(Role::Support).await;
    let stale = app.started(&support, "acme", "user_7", "15m").await;
    app.clock.set(real_now);
    let fresh = app.started(&support, "acme", "user_7", "15m").await;

    let response = app
        .client
        .get(app.url("/ops/impersonation/jwks.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "public, no credentials");
    let cache = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cache.contains("max-age=60"), "{cache}");
    let raw: Value = response.json().await.unwrap();
    let key = &raw["keys"][0];
    assert_eq!(raw["keys"].as_array().unwrap().len(), 1);
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
        (
            &"OKP".into(),
            &"Ed25519".into(),
            &"EdDSA".into(),
            &"sig".into()
        )
    );
    let keys: jsonwebtoken::jwk::JwkSet = serde_json::from_value(raw.clone()).unwrap();

    let token = fresh["token"].as_str().unwrap();
    let claims = verify(token, &keys).expect("a fresh token verifies");
    assert_eq!(claims["sub"], "user_7");
    assert_eq!(claims["act"]["sub"], support_id.to_string());
    assert_eq!(claims["tenant"], "acme");
    assert_eq!(claims["aud"], AUDIENCE);
    assert_eq!(claims["jti"], fresh["jti"]);
    assert_eq!(claims["iat"].as_i64().unwrap(), real_now.timestamp());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    let expires_at: chrono::DateTime<Utc> =
        serde_json::from_value(fresh["expires_at"].clone()).unwrap();
    assert_eq!(expires_at.timestamp(), claims["exp"].as_i64().unwrap());
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());

    let expired = verify(stale["token"].as_str().unwrap(), &keys).unwrap_err();
    assert_eq!(expired.kind(), &ErrorKind::ExpiredSignature);

    // Another audience, or a changed byte, does not pass.
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_audience(&["https://other.example.com"]);
    let decoding = jsonwebtoken::DecodingKey::from_jwk(&keys.keys[0]).unwrap();
    let wrong = jsonwebtoken::decode::<Value>(token, &decoding, &validation).unwrap_err();
    assert_eq!(wrong.kind(), &ErrorKind::InvalidAudience);
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{signed}.{flipped}{}", &signature[1..]);
    assert!(verify(&forged, &keys).is_err());
}

async fn ending_one_lists_it_in_the_feed_and_both_ends_are_audited_with_the_tenant(db: TestDb) {
    let app = ClockedApp::spawn(db, Utc::now(), enable).await;
    let (_, admin) = app.mint(Role::Admin).await;
    let (support_id, support) = app.mint(Role::Support).await;
    let ingest = app.ingest_key().await;
    let first = app.started(&support, "acme", "user_1", "10m").await;
    app.clock.advance(Duration::from_secs(1));
    let second = app.started(&support, "acme", "user_2", "20m").await;
    let other = app.started(&admin, "globex", "user_1", "10m").await;
    let jti = first["jti"].as_str().unwrap();

    let (status, listed) = app
        .get_json(Some(&support), "/ops/tenants/acme/impersonations")
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = listed["impersonations"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2, "globex's is not acme's");
    assert_eq!(listed[0]["jti"], second["jti"], "newest first");
    assert_eq!(listed[1]["user_id"], "user_1");
    assert_eq!(listed[1]["operator_id"], support_id.to_string());
    assert_eq!(listed[1]["reason"], "ticket 4711: cannot see invoices");
    assert!(listed[1].get("token").is_none());
    let listed_text = serde_json::to_string(&listed).unwrap();
    assert!(!listed_text.contains(first["token"].as_str().unwrap()));

    // Not through another tenant, not an unknown jti.
    let elsewhere = app.end(&support, "globex", jti).await;
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);
    let unknown = app
        .end(&support, "acme", &uuid::Uuid::new_v4().to_string())
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");

    let (status, feed) = app
        .get_json(Some(&ingest), "/api/v1/impersonations/revoked")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(feed["revoked"], Value::Array(vec![]), "nothing revoked yet");

    app.clock.advance(Duration::from_secs(30));
    let ended = app.end(&support, "acme", jti).await;
    assert_eq!(ended.status(), StatusCode::OK);
    let ended: Value = ended.json().await.unwrap();
    assert_eq!(ended["jti"], jti);
    assert_eq!(ended["revoked_by"], support_id.to_string());
    let revoked_at = ended["revoked_at"].clone();
    assert!(revoked_at.is_string());
    // Again: nothing changes, the first end stands.
    app.clock.advance(Duration::from_secs(30));
    let again = app.end(&admin, "acme", jti).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["revoked_at"], revoked_at);
    assert_eq!(again["revoked_by"], support_id.to_string());

    let (_, listed) = app
        .get_json(Some(&support), "/ops/tenants/acme/impersonations")
        .await;
    let listed = listed["impersonations"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["jti"], second["jti"]);

    let (status, feed) = app
        .get_json(Some(&ingest), "/api/v1/impersonations/revoked")
        .await;
    assert_eq!(status, StatusCode::OK);
    let revoked = feed["revoked"].as_array().unwrap();
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0]["jti"], jti);
    assert_eq!(revoked[0]["tenant_id"], "acme");
    assert_eq!(revoked[0]["revoked_at"], revoked_at);
    assert_eq!(revoked[0]["expires_at"], first["expires_at"]);
    // The cursor: the next page starts after it.
    let next = &feed["next"];
    let path = format!(
        "/api/v1/impersonations/revoked?since={}&after={}",
        urlencode(next["since"].as_str().unwrap()),
        next["after"].as_str().unwrap()
    );
    let (status, page) = app.get_json(Some(&ingest), &path).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["revoked"], Value::Array(vec![]));
    assert_eq!(page["next"], *next);
    // A personal token may not read the feed; a bad cursor is a 400.
    let (status, _) = app
        .get_json(Some(&admin), "/api/v1/impersonations/revoked")
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .get_json(
            Some(&ingest),
            "/api/v1/impersonations/revoked?since=yesterday",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "invalid_query");

    // Ten minutes and the leeway later the token is refused by its own `exp`: it leaves
    // the feed.
    app.clock.advance(Duration::from_secs(10 * 60 + 5 * 60));
    let (_, feed) = app
        .get_json(Some(&ingest), "/api/v1/impersonations/revoked")
        .await;
    assert_eq!(feed["revoked"], Value::Array(vec![]));

    // The audit log: start and end with the reason, the tenant, the jti; never the token.
    let (status, started) = app
        .get_json(Some(&admin), "/ops/audit?action=impersonation.started")
        .await;
    assert_eq!(status, StatusCode::OK);
    let started = started["entries"].as_array().unwrap();
    assert_eq!(started.len(), 3);
    let entry = started
        .iter()
        .find(|e| e["target_id"] == jti)
        .expect("the start of the ended one");
    assert_eq!(entry["target_kind"], "impersonation");
    assert_eq!(entry["tenant_id"], "acme");
    assert_eq!(entry["outcome"], 201);
    assert_eq!(entry["actor_id"], support_id.to_string());
    assert_eq!(entry["reason"], "ticket 4711: cannot see invoices");
    let (_, ended) = app
        .get_json(Some(&admin), "/ops/audit?action=impersonation.ended")
        .await;
    let ended = ended["entries"].as_array().unwrap();
    assert_eq!(ended.len(), 1, "ending it again added no second end");
    assert_eq!(ended[0]["target_id"], jti);
    assert_eq!(ended[0]["tenant_id"], "acme");
    assert_eq!(ended[0]["reason"], "done with ticket 4711");
    assert_eq!(ended[0]["outcome"], 200);
    // The request entries name the tenant too, whatever the route under it.
    let by_tenant = wait_for_async(Duration::from_secs(5), "request entries", || async {
        let (_, page) = app
            .get_json(Some(&admin), "/ops/audit?tenant_id=acme&limit=1000")
            .await;
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        let requests = entries
            .iter()
            .filter(|e| e["target_kind"] == "route")
            .count();
        // 2 starts, 2 lists, 3 ends through acme (one of an unknown jti).
        (requests >= 7).then_some(entries)
    })
    .await;
    for action in [
        "POST /ops/tenants/{id}/impersonations",
        "GET /ops/tenants/{id}/impersonations",
        "DELETE /ops/tenants/{id}/impersonations/{jti}",
    ] {
        assert!(
            by_tenant.iter().any(|e| e["action"] == action),
            "{action} is audited with tenant acme"
        );
    }
    let (_, everything) = app.get_json(Some(&admin), "/ops/audit?limit=1000").await;
    let everything = serde_json::to_string(&everything).unwrap();
    for issued in [&first, &second, &other] {
        let token = issued["token"].as_str().unwrap();
        assert!(!everything.contains(token), "a token in the audit log");
        let signature = token.rsplit('.').next().unwrap();
        assert!(!everything.contains(signature));
    }
}

fn urlencode(text: &str) -> String {
    text.replace(':', "%3A").replace('+', "%2B")
}
