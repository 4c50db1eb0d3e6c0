//! Unit tests of session secrets, CSRF tokens, deadlines and liveness.

use chrono::TimeZone;

use super::*;

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000 + seconds, 0)
        .single()
        .expect("valid time")
}

fn record() -> SessionRecord {
    SessionRecord {
        id: Uuid::now_v7(),
        principal_id: "token:1".into(),
        principal_name: "alice".into(),
        role: Role::Operator,
        method: AuthMethod::Token,
        token_id: Some(Uuid::now_v7()),
        csrf: generate_csrf(),
        created_at: at(0),
        last_seen_at: at(100),
        idle_timeout: Duration::from_secs(60),
        idle_expires_at: at(160),
        expires_at: at(1000),
        ended_at: None,
        client_addr: None,
        user_agent: None,
    }
}

fn new_session(idle: Duration, absolute: Duration) -> NewSession {
    NewSession {
        principal_id: "token:1".into(),
        principal_name: "alice".into(),
        role: Role::Admin,
        method: AuthMethod::Token,
        token_id: None,
        client_addr: None,
        user_agent: None,
        idle_timeout: idle,
        absolute_timeout: absolute,
    }
}

#[test]
fn secrets_are_cookie_safe_distinct_and_hash_to_what_is_stored() {
    let (secret, hash) = generate();
    let text = secret.expose();
    assert_eq!(text.len(), SECRET_LEN);
    assert!(text.bytes().all(|b| b.is_ascii_alphanumeric()), "{text}");
    assert_eq!(SessionHash::of(text), Some(hash.clone()));
    assert_eq!(hash.as_hex().len(), 64);
    assert!(hash.as_hex().bytes().all(|b| b.is_ascii_hexdigit()));

    let (other, other_hash) = generate();
    assert_ne!(other.expose(), text);
    assert_ne!(other_hash, hash);
}

#[test]
fn secrets_carry_at_least_256_bits() {
    assert!(SECRET_LEN as f64 * 62_f64.log2() >= 256.0);
}

#[test]
fn secret_and_hash_never_show_in_debug_or_display() {
    let (secret, hash) = generate();
    let text = secret.expose().to_owned();
    for shown in [format!("{secret:?}"), secret.to_string()] {
        assert!(!shown.contains(&text), "{shown}");
        assert!(!shown.contains(&text[..4]), "{shown}");
    }
    assert!(!format!("{hash:?}").contains(hash.as_hex()));
}

#[test]
fn malformed_cookie_values_have_no_hash() {
    let (secret, _) = generate();
    let text = secret.expose();
    let mut bad_char = text.to_owned();
    bad_char.replace_range(..1, "-");
    for value in [
        "",
        &text[1..],
        &format!("{text}a"),
        &format!(" {}", &text[1..]),
        &bad_char,
        &"é".repeat(SECRET_LEN),
    ] {
        assert_eq!(SessionHash::of(value), None, "{value:?}");
    }
}

#[test]
fn csrf_tokens_are_random_and_compared_exactly() {
    let session = record();
    assert_eq!(session.csrf.len(), SECRET_LEN);
    assert_ne!(generate_csrf(), session.csrf);
    assert!(session.csrf_matches(&session.csrf.clone()));
    assert!(!session.csrf_matches(&session.csrf[1..]));
    let mut flipped = session.csrf.clone();
    let last = if flipped.ends_with('0') { "1" } else { "0" };
    flipped.replace_range(SECRET_LEN - 1.., last);
    assert!(!session.csrf_matches(&flipped));
    assert!(!session.csrf_matches(""));

    let empty = SessionRecord {
        csrf: String::new(),
        ..record()
    };
    assert!(!empty.csrf_matches(""), "an empty token never matches");
}

#[test]
fn debug_and_json_leave_out_the_csrf_token() {
    let session = record();
    let debug = format!("{session:?}");
    let json = serde_json::to_string(&session).expect("serialises");
    for shown in [debug, json] {
        assert!(!shown.contains(&session.csrf), "{shown}");
        assert!(shown.contains("alice"), "{shown}");
    }
}

#[test]
fn live_until_the_first_deadline_or_the_end() {
    let session = record();
    assert!(session.is_live(at(100)));
    assert!(session.is_live(at(159)));
    assert!(!session.is_live(at(160)), "idle deadline is exclusive");

    let touched = SessionRecord {
        last_seen_at: at(990),
        idle_expires_at: at(1050),
        ..record()
    };
    assert!(touched.is_live(at(999)));
    assert!(!touched.is_live(at(1000)), "absolute deadline is exclusive");

    let ended = SessionRecord {
        ended_at: Some(at(120)),
        ..record()
    };
    assert!(
        !ended.is_live(at(110)),
        "an ended session is dead at any time"
    );
}

#[test]
fn touch_is_due_once_the_interval_has_passed() {
    let session = record();
    let minute = Duration::from_secs(60);
    assert!(!session.touch_due(at(100), minute));
    assert!(!session.touch_due(at(159), minute));
    assert!(session.touch_due(at(160), minute));
    assert!(session.touch_due(at(100), Duration::ZERO));
}

#[test]
fn deadlines_keep_whole_idle_seconds_and_fix_the_absolute_one() {
    let new = new_session(Duration::from_millis(1_500), Duration::from_secs(3_600));
    let deadlines = new.deadlines(at(0)).expect("in range");
    assert_eq!(deadlines.idle_seconds, 1);
    assert_eq!(deadlines.expires_at, at(3_600));
    assert_eq!(idle_deadline(at(10), 1), Some(at(11)));

    assert_eq!(
        new_session(Duration::from_millis(999), Duration::from_secs(60)).deadlines(at(0)),
        None,
        "an idle timeout under a second"
    );
    assert_eq!(
        new_session(Duration::from_secs(60), Duration::MAX).deadlines(at(0)),
        None
    );
    assert_eq!(idle_deadline(at(0), i64::MAX), None);
}

#[test]
fn user_agents_are_clipped_to_200_characters_without_controls() {
    let long = "é".repeat(USER_AGENT_MAX_CHARS + 50);
    assert_eq!(clip_user_agent(&long).chars().count(), USER_AGENT_MAX_CHARS);
    assert_eq!(clip_user_agent("Mozilla/5.0\r\n(X11)"), "Mozilla/5.0(X11)");
}

#[test]
fn auth_methods_read_back_from_their_names() {
    for method in [
        AuthMethod::Token,
        AuthMethod::Session,
        AuthMethod::Oidc,
        AuthMethod::Proxy,
    ] {
        assert_eq!(AuthMethod::parse(method.as_str()), Some(method));
    }
    assert_eq!(AuthMethod::parse("Token"), None);
    assert_eq!(AuthMethod::parse("password"), None);
}
