//! Unit tests of the queue domain: tenant paths, payload shapes, names and tokens.

use serde_json::json;

use super::*;
use crate::ids::{JobId, QueueName, SourceName};

#[test]
fn tenant_paths_walk_keys_and_indexes() {
    let sidekiq = json!({"class": "ChargeJob", "args": [{"tenant_id": "acme", "amount": 7}, 3]});
    let path = TenantPath::parse("args[0].tenant_id").unwrap();
    assert_eq!(path.tenant_of(&sidekiq).unwrap().as_str(), "acme");
    let bullmq = json!({"name": "send", "data": {"tenantId": 42}});
    let path = TenantPath::parse("data.tenantId").unwrap();
    assert_eq!(path.tenant_of(&bullmq).unwrap().as_str(), "42");
    let nested = json!({"m": [[{"t": "x"}]]});
    assert_eq!(
        TenantPath::parse("m[0][0].t")
            .unwrap()
            .tenant_of(&nested)
            .unwrap()
            .as_str(),
        "x"
    );
    // Missing keys, wrong types and values that are no tenant id give no tenant.
    for (path, job) in [
        ("data.tenantId", json!({"data": {}})),
        ("data.tenantId", json!({"data": {"tenantId": {"id": 1}}})),
        ("data.tenantId", json!({"data": {"tenantId": "has space"}})),
        ("args[3]", json!({"args": [1]})),
        ("data.tenantId", json!({"data": {"tenantId": 1.5}})),
    ] {
        assert_eq!(
            TenantPath::parse(path).unwrap().tenant_of(&job),
            None,
            "{path} {job}"
        );
    }
}

#[test]
fn malformed_tenant_paths_are_refused_with_a_reason() {
    for bad in ["", "a..b", "a[", "a[x]", "a[0]b", ".a", "a b", "a]"] {
        let err = TenantPath::parse(bad).unwrap_err();
        assert!(
            err.to_string().contains("invalid tenant path"),
            "{bad}: {err}"
        );
    }
    assert!(TenantPath::parse(&"a".repeat(201)).is_err());
}

#[test]
fn payload_shapes_show_types_and_sizes_never_values() {
    let payload = json!({
        "tenantId": "acme-corp",
        "amount": 1299,
        "card": "4242 4242 4242 4242",
        "items": [1, 2, 3],
        "customer": {"email": "jane@example.com", "name": "Jane"},
        "note": null,
        "paid": true,
    });
    let shape = payload_shape(&payload);
    let text = format!("{shape:?}");
    for secret in ["acme-corp", "4242", "jane@example.com", "Jane", "1299"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    let keys: Vec<(&str, &str)> = shape
        .keys
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert!(keys.contains(&("tenantId", "string (9 chars)")), "{keys:?}");
    assert!(keys.contains(&("items", "array of 3")), "{keys:?}");
    assert!(
        keys.contains(&("customer", "object with 2 keys")),
        "{keys:?}"
    );
    assert_eq!(shape.more, 0);
    // Key names are redacted too, and a huge payload is cut.
    let keyed = json!({"jane@example.com": 1});
    assert_eq!(payload_shape(&keyed).keys[0].0, "[email]");
    let wide: serde_json::Map<String, serde_json::Value> =
        (0..60).map(|i| (format!("k{i}"), json!(i))).collect();
    let shape = payload_shape(&serde_json::Value::Object(wide));
    assert_eq!((shape.keys.len(), shape.more), (PAYLOAD_KEYS_MAX, 10));
    assert_eq!(
        payload_shape(&json!([1, 2])).keys,
        [(String::new(), "array of 2".to_owned())]
    );
}

#[test]
fn queue_names_and_ids_parse() {
    assert!(SourceName::parse("billing-redis").is_ok());
    assert!(SourceName::parse("Billing").is_err());
    assert!(QueueName::parse("emails:high").is_ok());
    assert!(QueueName::parse("bad\nname").is_err());
    assert!(JobId::parse("1234").is_ok());
    assert!(JobId::parse("a b").is_err());
    assert!(JobId::parse(&"x".repeat(201)).is_err());
}

#[test]
fn states_and_systems_read_back_their_names() {
    for state in JobState::ALL {
        assert_eq!(state.as_str().parse::<JobState>().unwrap(), state);
    }
    for system in System::ALL {
        assert_eq!(system.as_str().parse::<System>().unwrap(), system);
    }
    assert!("lost".parse::<JobState>().is_err());
}

#[test]
fn selection_tokens_are_random_hex_and_parse_back() {
    let a = SelectionToken::generate();
    let b = SelectionToken::generate();
    assert_ne!(a, b);
    assert_eq!(a.as_str().parse::<SelectionToken>().unwrap(), a);
    assert!(
        !format!("{a:?}").contains(a.as_str()),
        "Debug shows a prefix only"
    );
    for bad in ["", "xyz", &"A".repeat(32), &"a".repeat(31)] {
        assert!(bad.parse::<SelectionToken>().is_err(), "{bad}");
    }
}

#[test]
fn webhook_signatures_verify_and_refuse_changes_and_old_replays() {
    let secret = b"whsec-test";
    let body = br#"{"job_id":"m-1"}"#;
    let header = webhook_signature(secret, 1_800_000_000, body);
    assert!(header.starts_with("t=1800000000,v1="), "{header}");
    assert!(verify_webhook_signature(
        secret,
        &header,
        body,
        1_800_000_100,
        300
    ));
    assert!(!verify_webhook_signature(
        secret,
        &header,
        b"{}",
        1_800_000_100,
        300
    ));
    assert!(!verify_webhook_signature(
        b"other",
        &header,
        body,
        1_800_000_100,
        300
    ));
    assert!(!verify_webhook_signature(
        secret,
        &header,
        body,
        1_800_001_000,
        300
    ));
    assert!(!verify_webhook_signature(
        secret,
        "t=x,v1=zz",
        body,
        1_800_000_000,
        300
    ));
    // The signed text is "<t>.<body>", as documented (an independent HMAC gives the same).
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let expected = aws_lc_rs::hmac::sign(&key, br#"1800000000.{"job_id":"m-1"}"#);
    assert!(header.ends_with(&hex::encode(expected.as_ref())));
}
