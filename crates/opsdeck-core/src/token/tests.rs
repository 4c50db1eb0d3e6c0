//! Unit tests of token kinds, scopes, names and records.

use chrono::TimeZone;

use super::*;
use crate::ids::*;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0)
        .single()
        .expect("valid time")
}

fn record() -> TokenRecord {
    TokenRecord {
        id: Uuid::now_v7(),
        kind: TokenKind::Personal,
        name: "ci".into(),
        role: Some(Role::Admin),
        scopes: Vec::new(),
        display: "opsdeck_pat_AbC4…".into(),
        created_by: None,
        created_at: at(0),
        expires_at: None,
        revoked_at: None,
        last_used_at: None,
    }
}

#[test]
fn kinds_round_trip_through_their_names() {
    for kind in TokenKind::ALL {
        assert_eq!(kind.as_str().parse::<TokenKind>(), Ok(kind));
    }
    assert!("pat".parse::<TokenKind>().is_err());
}

#[test]
fn scopes_parse_from_comma_separated_text_in_canonical_order() {
    let scopes = Scopes::parse(" events, Checkins ,events,").expect("valid");
    assert_eq!(scopes.as_slice(), [Scope::Checkins, Scope::Events]);
    assert_eq!(scopes.to_string(), "checkins,events");
    assert_eq!(Scopes::parse(&scopes.to_string()), Ok(scopes.clone()));
    assert!(scopes.contains(Scope::Events) && !scopes.contains(Scope::Jobs));
    assert_eq!(
        Scopes::parse("checkins,admin"),
        Err(ScopeError::Unknown("admin".into()))
    );
    assert_eq!(Scopes::parse(" , "), Err(ScopeError::Empty));
    assert_eq!(Scopes::new([]), Err(ScopeError::Empty));
}

#[test]
fn names_are_trimmed_and_bounded() {
    assert_eq!(
        TokenName::parse("  deploy bot ").map(|n| n.to_string()),
        Ok("deploy bot".into())
    );
    assert_eq!(TokenName::parse("   "), Err(TokenNameError::Empty));
    assert!(
        TokenName::parse(&"é".repeat(100)).is_ok(),
        "counted in characters"
    );
    assert_eq!(
        TokenName::parse(&"x".repeat(101)),
        Err(TokenNameError::TooLong(101))
    );
    assert_eq!(
        TokenName::parse("a\u{7}b"),
        Err(TokenNameError::ControlCharacter)
    );
}

#[test]
fn grant_decides_kind_role_and_scopes() {
    let personal = Grant::Role(Role::Operator);
    assert_eq!(personal.kind(), TokenKind::Personal);
    assert_eq!(personal.role(), Some(Role::Operator));
    assert!(personal.scopes().is_empty());

    let key = Grant::Scopes(Scopes::new([Scope::Jobs]).expect("one scope"));
    assert_eq!(key.kind(), TokenKind::IngestKey);
    assert_eq!(key.role(), None);
    assert_eq!(key.scopes(), [Scope::Jobs]);
}

#[test]
fn active_means_neither_revoked_nor_expired() {
    let mut token = record();
    assert!(token.is_active(at(1_000_000)));

    token.expires_at = Some(at(60));
    assert!(token.is_active(at(59)));
    assert!(
        !token.is_active(at(60)),
        "expired at the instant of expires_at"
    );
    assert!(token.is_expired(at(61)));

    let mut token = record();
    token.revoked_at = Some(at(10));
    assert!(!token.is_active(at(11)));
    assert!(!token.is_expired(at(11)));
}
