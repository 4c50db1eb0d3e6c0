//! Properties over generated input: the redactor never panics, is idempotent, removes every
//! generated secret from the text around it, and leaves secret-free text untouched.

use std::borrow::Cow;

use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value;

use super::*;

/// Pieces that put patterns next to each other in every order: labels, separators, quotes,
/// prefixes, digit groups, placeholders.
const FRAGMENTS: &[&str] = &[
    "password",
    "token",
    "Authorization",
    "Cookie",
    "session",
    "api_key",
    "=",
    ":",
    "::",
    "=>",
    "\"",
    "'",
    "\\",
    "\\\"",
    " ",
    "\t",
    "\n",
    "\r\n",
    "@",
    "%40",
    ".",
    "-",
    "_",
    "/",
    "://",
    "eyJ",
    "eyJhbGciOi",
    "Bearer ",
    "basic ",
    "opsdeck_pat_",
    "opsdeck_key_",
    "AKIA",
    "ghp_",
    "4111",
    "1111",
    "1",
    " 4",
    "[card]",
    "[email]",
    "[token]",
    "***",
    "example.com",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "&",
    ";",
    ",",
    "-----BEGIN PRIVATE KEY-----",
    "-----END PRIVATE KEY-----",
    "<password>",
    "</password>",
    "<",
    ">",
    "pass",
    "é",
    "✓",
    "x",
    "Z",
];

fn dense() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        select(FRAGMENTS).prop_map(str::to_owned),
        "[A-Za-z0-9]{1,24}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

/// Lowercase words and spaces: prose with nothing secret-shaped in it.
fn prose() -> impl Strategy<Value = String> {
    "[a-z]{1,12}( [a-z]{1,12}){0,12}"
}

/// A Luhn-valid number of 13 to 19 digits, in groups of four or not.
fn card() -> impl Strategy<Value = String> {
    let separator = select(&["", " ", "-"][..]);
    (prop::collection::vec(0u8..10, 12..=18), separator).prop_map(|(mut digits, separator)| {
        digits.push(check_digit(&digits));
        let groups: Vec<String> = digits
            .chunks(4)
            .map(|group| group.iter().map(|d| char::from(b'0' + d)).collect())
            .collect();
        groups.join(separator)
    })
}

/// The digit that makes `payload` followed by it pass the Luhn check.
fn check_digit(payload: &[u8]) -> u8 {
    let sum: u32 = payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &digit)| {
            let digit = u32::from(digit);
            // The check digit takes position 0, so the payload's rightmost digit is doubled.
            if i % 2 == 0 {
                (digit * 2) % 10 + (digit * 2) / 10
            } else {
                digit
            }
        })
        .sum();
    u8::try_from((10 - sum % 10) % 10).expect("a digit")
}

fn secret() -> impl Strategy<Value = String> {
    prop_oneof![
        card(),
        "opsdeck_(pat|key)_[A-Za-z0-9]{20,40}",
        "[a-z0-9][a-z0-9._+-]{0,12}@[a-z][a-z0-9-]{0,9}(\\.[a-z][a-z0-9]{0,7}){0,2}\\.[a-z]{2,6}",
        "eyJ[A-Za-z0-9_-]{5,30}\\.[A-Za-z0-9_-]{2,60}\\.[A-Za-z0-9_-]{0,50}",
        "(AKIA|ASIA)[A-Z0-9]{16}",
        "Bearer [A-Za-z0-9]{12,40}[0-9]",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        dense().prop_map(Value::String),
    ];
    let key = prop_oneof![
        select(
            &[
                "password", "name", "key", "value", "user", "a@b.io", "[email]"
            ][..]
        )
        .prop_map(str::to_owned),
        dense(),
    ];
    leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..4)
                .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn any_text_is_redacted_idempotently(input in any::<String>()) {
        let once = redact_text(&input).into_owned();
        prop_assert_eq!(redact_text(&once), once.as_str());
    }

    #[test]
    fn dense_text_is_redacted_idempotently(input in dense()) {
        let once = redact_text(&input).into_owned();
        let twice = redact(&once);
        prop_assert_eq!(&twice.text, &once);
        prop_assert_eq!(twice.masked, 0);
    }

    #[test]
    fn generated_secrets_never_survive(before in prose(), secret in secret(), after in prose()) {
        let line = format!("{before} {secret} {after}");
        let redaction = redact(&line);
        prop_assert!(!redaction.text.contains(&secret), "{} -> {}", line, redaction.text);
        prop_assert!(redaction.masked >= 1);
        prop_assert!(redaction.text.starts_with(&before));
        prop_assert!(redaction.text.ends_with(&after));
    }

    #[test]
    fn secrets_in_json_strings_never_survive(secret in secret(), word in "[a-z]{1,10}") {
        let mut value = serde_json::json!({ "error": format!("{word}: {secret}"), "list": [secret.clone()] });
        redact_json(&mut value);
        prop_assert!(!value.to_string().contains(&secret), "{}", value);
    }

    #[test]
    fn prose_is_returned_unchanged(input in prose()) {
        let redaction = redact(&input);
        prop_assert!(matches!(redaction.text, Cow::Borrowed(_)));
        prop_assert_eq!(redaction.masked, 0);
    }

    #[test]
    fn identifiers_are_returned_unchanged(
        uuid in "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        sha in "[0-9a-f]{40}",
        ip in (0u8.., 0u8.., 0u8.., 0u8.., 1u16..),
        stamp in "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{3})?Z",
        version in "v?[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}",
    ) {
        let (a, b, c, d, port) = ip;
        let line = format!("req {uuid} at {sha} from {a}.{b}.{c}.{d}:{port} on {stamp} running {version}");
        prop_assert_eq!(redact_text(&line), line.as_str());
    }

    #[test]
    fn truncation_keeps_a_prefix_within_the_limit(input in dense(), max in 0usize..80) {
        let out = truncate_redacted(&input, max);
        prop_assert!(out.len() <= max);
        let redacted = redact_text(&input);
        let kept = out.strip_suffix('…').unwrap_or(&out);
        prop_assert!(redacted.starts_with(kept) || out == redacted);
    }

    #[test]
    fn json_is_redacted_idempotently(mut value in json_value()) {
        redact_json(&mut value);
        let once = value.clone();
        prop_assert_eq!(redact_json(&mut value), 0);
        prop_assert_eq!(value, once);
    }
}
