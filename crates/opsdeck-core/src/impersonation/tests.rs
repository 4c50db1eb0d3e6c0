use std::time::Duration;

use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::TimeZone as _;

use super::*;

#[test]
fn user_ids_are_bounded_printable_and_never_echoed() {
    for good in ["42", "user@example.com", "a b", &"x".repeat(256), "ünïcode"] {
        assert!(UserId::parse(good).is_ok(), "{good:?}");
    }
    for bad in ["", " 42", "42 ", "a\nb", "a\u{7}b", &"x".repeat(257)] {
        let error = UserId::parse(bad).unwrap_err();
        assert_eq!(error.field, "user_id");
        if !bad.is_empty() && bad.len() < 10 {
            assert!(!error.to_string().contains(bad.trim()), "{error}");
        }
    }
}

#[test]
fn ttl_is_between_a_minute_and_the_configured_maximum_never_above_an_hour() {
    let hour = Duration::from_secs(3600);
    assert!(Ttl::new(Duration::from_secs(60), hour).is_ok());
    assert!(Ttl::new(hour, hour).is_ok());
    assert!(Ttl::new(Duration::from_secs(59), hour).is_err());
    assert!(Ttl::new(hour + Duration::from_secs(1), hour).is_err());
    // A configured maximum above the hour is capped.
    assert!(Ttl::new(2 * hour, 3 * hour).is_err());
    let lower = Ttl::new(Duration::from_secs(20 * 60), Duration::from_secs(15 * 60));
    assert_eq!(
        lower.unwrap_err().to_string(),
        "ttl must be between 1m and 15m"
    );
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let ttl = Ttl::new(Duration::from_millis(90_500), hour).unwrap();
    assert_eq!(ttl.expiry(at), at + chrono::Duration::seconds(90));
}

#[test]
fn kid_is_the_rfc_7638_thumbprint() {
    // RFC 8037 appendix A.2 and A.3.
    let jwk = Jwk::from_x("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".to_owned());
    assert_eq!(jwk.kid, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    let json = serde_json::to_value(&jwk).unwrap();
    assert_eq!(json["kty"], "OKP");
    assert_eq!(json["crv"], "Ed25519");
    assert_eq!(json["alg"], "EdDSA");
    assert_eq!(json["use"], "sig");
}

#[test]
fn sealed_keys_open_only_with_the_same_key_and_context() {
    let key = EncryptionKey::parse(&"ab".repeat(32)).unwrap();
    let other = EncryptionKey::parse("q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=").unwrap();
    let sealed = key.seal(b"private", "kid-1").unwrap();
    assert_ne!(
        key.seal(b"private", "kid-1").unwrap(),
        sealed,
        "a fresh nonce"
    );
    assert_eq!(key.open(&sealed, "kid-1").unwrap(), b"private");
    assert_eq!(key.open(&sealed, "kid-2"), Err(SealError::WrongKey));
    assert_eq!(other.open(&sealed, "kid-1"), Err(SealError::WrongKey));
    assert_eq!(key.open("not base64!", "kid-1"), Err(SealError::WrongKey));
    for bad in [
        "",
        "short",
        &"ab".repeat(31),
        "q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQ",
    ] {
        assert_eq!(EncryptionKey::parse(bad).unwrap_err(), SealError::BadKey);
    }
    assert_eq!(format!("{key:?}"), "EncryptionKey(***)");
}

#[test]
fn a_token_carries_the_claims_and_verifies_with_the_published_key() {
    let (key, pkcs8) = SigningKey::generate().unwrap();
    assert_eq!(SigningKey::from_pkcs8(&pkcs8).unwrap().kid(), key.kid());
    let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
    let impersonation = Impersonation {
        jti: Uuid::new_v4(),
        tenant: TenantId::parse("acme").unwrap(),
        user_id: UserId::parse("user-7").unwrap(),
        operator_id: "op-1".into(),
        operator_name: "jane".into(),
        reason: "ticket 12".into(),
        kid: key.kid().to_owned(),
        issued_at: at,
        expires_at: at + chrono::Duration::minutes(15),
        revoked_at: None,
        revoked_by: None,
    };
    let claims = Claims::of(&impersonation, "https://app.example.com");
    let token = jws::sign(&claims, &key).unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], key.kid());
    let payload: Claims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(payload, claims);
    assert_eq!(payload.exp - payload.iat, 900);
    let public = URL_SAFE_NO_PAD.decode(&key.jwk().x).unwrap();
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let signed = format!("{}.{}", parts[0], parts[1]);
    let verifier = UnparsedPublicKey::new(&ED25519, public);
    assert!(verifier.verify(signed.as_bytes(), &signature).is_ok());
    assert!(verifier.verify(b"something else", &signature).is_err());
}
