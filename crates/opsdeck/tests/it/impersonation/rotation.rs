//! Key rotation as the application sees it: every replica serves the same key set from
//! the database; a new key is published before it signs; a retired key stays published
//! while its tokens may live, then drops out, and its tokens no longer verify.

use std::time::Duration;

use chrono::Utc;
use opsdeck_core::auth::Role;
use opsdeck_server::ops::impersonation::keys::RotateSigningKeysJob;

use super::{ClockedApp, enable, verify};
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

on_both_backends! {
    a_rotated_out_key_leaves_the_key_set_of_every_replica_and_its_tokens_stop_verifying,
    a_changed_sealing_key_gets_a_new_signing_key_and_earlier_tokens_still_verify,
}

fn kids(keys: &jsonwebtoken::jwk::JwkSet) -> Vec<String> {
    keys.keys
        .iter()
        .map(|k| k.common.key_id.clone().unwrap())
        .collect()
}

async fn a_rotated_out_key_leaves_the_key_set_of_every_replica_and_its_tokens_stop_verifying(
    db: TestDb,
) {
    let url = db.url.clone();
    // Far enough back that every token issued below is unexpired by real time whenever
    // the test checks it: only the key set can refuse it.
    let start = Utc::now() - chrono::Duration::minutes(50);
    let app = ClockedApp::spawn(db, start, enable).await;
    let replica = app.replica(&url, enable).await;
    let (_, support) = app.mint(Role::Support).await;
    let rotate = |app: &ClockedApp| RotateSigningKeysJob {
        store: app.state.store().clone(),
        clock: app.clock.clone(),
        config: app.state.config().impersonation.clone(),
    };

    let old = app.started(&support, "acme", "user_1", "60m").await;
    let old_token = old["token"].as_str().unwrap().to_owned();
    let old_kid = jsonwebtoken::decode_header(&old_token)
        .unwrap()
        .kid
        .unwrap();
    assert_eq!(
        kids(&replica.key_set().await),
        std::slice::from_ref(&old_kid)
    );

    // Within the rotation period, rotating does nothing, on either replica.
    rotate(&app).run_once().await.unwrap();
    rotate(&replica).run_once().await.unwrap();
    assert_eq!(kids(&app.key_set().await), std::slice::from_ref(&old_kid));

    // A rotation period later, racing replicas make one new key: published at once, not
    // yet signing.
    app.clock.advance(Duration::from_secs(3600 + 1));
    let (here, there) = (rotate(&app), rotate(&replica));
    let (a, b) = tokio::join!(here.run_once(), there.run_once());
    a.unwrap();
    b.unwrap();
    let both = app.key_set().await;
    assert_eq!(both.keys.len(), 2, "{:?}", kids(&both));
    assert_eq!(kids(&replica.key_set().await), kids(&both), "one key set");
    let new_kid = kids(&both).into_iter().find(|k| *k != old_kid).unwrap();
    let still_old = app.started(&support, "acme", "user_1", "15m").await;
    let header = jsonwebtoken::decode_header(still_old["token"].as_str().unwrap()).unwrap();
    assert_eq!(header.kid.as_deref(), Some(old_kid.as_str()));

    // Two minutes on, the new key signs; the old one is still published.
    app.clock.advance(Duration::from_secs(121));
    let new = app.started(&support, "acme", "user_1", "15m").await;
    let new_token = new["token"].as_str().unwrap();
    let keys = replica.key_set().await;
    assert_eq!(
        jsonwebtoken::decode_header(new_token)
            .unwrap()
            .kid
            .as_deref(),
        Some(new_kid.as_str())
    );
    verify(new_token, &keys).expect("the new key verifies on the other replica too");
    verify(&old_token, &keys).expect("the retired key is still published");

    // An hour and the leeway after it retired, no token it signed is alive: it leaves the
    // set (and the database) on the next rotation.
    app.clock.advance(Duration::from_secs(65 * 60 + 1));
    rotate(&replica).run_once().await.unwrap();
    let keys = app.key_set().await;
    assert!(!kids(&keys).contains(&old_kid), "{:?}", kids(&keys));
    assert!(kids(&keys).contains(&new_kid));
    assert_eq!(kids(&replica.key_set().await), kids(&keys));
    // The old token is unexpired by real time, but nothing published verifies it.
    let refused = verify(&old_token, &keys).unwrap_err();
    assert_eq!(
        refused.kind(),
        &jsonwebtoken::errors::ErrorKind::InvalidKeyFormat,
        "its kid is unknown"
    );
    for jwk in &keys.keys {
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
        validation.set_audience(&[super::AUDIENCE]);
        assert!(jsonwebtoken::decode::<serde_json::Value>(&old_token, &key, &validation).is_err());
    }
    replica.shutdown().await;
    app.shutdown().await;
}

async fn a_changed_sealing_key_gets_a_new_signing_key_and_earlier_tokens_still_verify(db: TestDb) {
    let url = db.url.clone();
    let app = ClockedApp::spawn(db, Utc::now(), enable).await;
    let (_, support) = app.mint(Role::Support).await;
    let before = app.started(&support, "acme", "user_1", "15m").await;
    let before = before["token"].as_str().unwrap().to_owned();
    // The same database under another sealing key, as after a configuration change.
    let changed = app
        .replica(&url, |config| {
            enable(config);
            config.impersonation.encryption_key = Some(opsdeck_core::secret::Secret::new(
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff".to_owned(),
            ));
        })
        .await;
    app.clock.advance(Duration::from_secs(1));
    let after = changed.started(&support, "acme", "user_1", "15m").await;
    let after = after["token"].as_str().unwrap();
    let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    assert_ne!(
        kid(&before),
        kid(after),
        "a new key, sealed with the new sealing key"
    );
    let keys = changed.key_set().await;
    assert_eq!(keys.keys.len(), 2);
    verify(after, &keys).expect("the new key verifies");
    verify(&before, &keys).expect("tokens of the replaced key stay valid until they expire");
    // It keeps signing with the new key.
    app.clock.advance(Duration::from_secs(1));
    let again = changed.started(&support, "acme", "user_1", "15m").await;
    assert_eq!(kid(again["token"].as_str().unwrap()), kid(after));
    changed.shutdown().await;
    app.shutdown().await;
}
