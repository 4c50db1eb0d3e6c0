//! The rules behind error groups, audit categories and batch splitting, on their own.

use opsdeck_core::events::fingerprint::{derive, normalize_message, stack_key};
use opsdeck_core::events::{AuditCategory, BatchFormat, split_batch};

#[test]
fn messages_differing_by_numbers_ids_and_quoted_values_share_a_fingerprint() {
    let same = [
        "user 42 not found in org 7",
        "user 1001 not found in org 12",
        "user 3f2a9b1c-0d4e-4f5a-8b6c-7d8e9f0a1b2c not found in org 0x7f",
        "user deadbeef42 not found in org 99",
    ];
    let fingerprints: Vec<String> = same.iter().map(|m| derive(m, None)).collect();
    assert!(
        fingerprints.windows(2).all(|w| w[0] == w[1]),
        "{fingerprints:?}"
    );
    assert_eq!(
        normalize_message("order 'A-1' failed after  3 tries"),
        normalize_message("order \"B-2\" failed after 5 tries")
    );
    assert_eq!(
        normalize_message("timeout after 30s calling `billing`"),
        "timeout after <n>s calling <v>"
    );
    assert_ne!(
        derive("user 42 not found", None),
        derive("team 42 not found", None)
    );
    let fingerprint = derive("anything", None);
    assert!(
        fingerprint.starts_with("m:") && fingerprint.len() == 18,
        "{fingerprint}"
    );
    assert_eq!(fingerprint, derive("anything", None), "stable");
}

#[test]
fn stacks_group_by_their_top_frames_without_lines_or_addresses() {
    let js = |line: u32, message: &str| {
        format!(
            "TypeError: {message}\n    at charge (/app/billing.js:{line}:5)\n    at run (/app/jobs.js:{}:1)",
            line + 7
        )
    };
    assert_eq!(
        derive("a", Some(&js(10, "a"))),
        derive("b", Some(&js(99, "b")))
    );
    assert!(derive("a", Some(&js(10, "a"))).starts_with("s:"));
    let elsewhere = "TypeError: a\n    at refund (/app/billing.js:10:5)";
    assert_ne!(
        derive("a", Some(&js(10, "a"))),
        derive("a", Some(elsewhere))
    );

    let go = |addr: &str| format!("panic: x\n\nmain.charge()\n\t/app/main.go:42 +0x{addr}");
    assert_eq!(stack_key(&go("1d")), stack_key(&go("2f")));

    // Python lists the most recent call last: its top frames are read from the bottom.
    let python = "Traceback (most recent call last):\n  File \"app.py\", line 3, in main\n  File \"billing.py\", line 8, in charge\nValueError: x";
    let key = stack_key(python).unwrap();
    assert!(key.starts_with("File \"billing.py\""), "{key}");
    assert!(!key.contains('8') && !key.contains('3'), "{key}");

    // No frame in it: the message decides.
    assert_eq!(derive("boom 1", Some("just text")), derive("boom 2", None));
}

#[test]
fn audit_categories_are_read_from_the_action_when_not_given() {
    for (action, category) in [
        ("user.login_failed", AuditCategory::FailedLogin),
        ("auth.failure", AuditCategory::FailedLogin),
        ("signInFailed", AuditCategory::FailedLogin),
        ("user.login", AuditCategory::Other),
        ("support.impersonate", AuditCategory::Impersonation),
        ("member.role_changed", AuditCategory::RoleChange),
        ("permissions.granted", AuditCategory::RoleChange),
        ("report.exported", AuditCategory::Export),
        ("project.deleted", AuditCategory::Deletion),
        ("invoice.viewed", AuditCategory::Other),
    ] {
        assert_eq!(AuditCategory::of_action(action), category, "{action}");
    }
    assert_eq!(
        AuditCategory::parse("role_change").unwrap(),
        AuditCategory::RoleChange
    );
    assert_eq!(
        AuditCategory::parse("roles").unwrap_err().field.as_deref(),
        Some("category")
    );
}

#[test]
fn arrays_are_cut_at_top_level_commas_only() {
    let body = br#" [ {"a": "x, y ] \" }"}, {"b": [1, {"c": 2}]} ,{"d": 3} ] "#;
    let items = split_batch(body, BatchFormat::Array).unwrap();
    assert_eq!(
        items,
        [
            &br#"{"a": "x, y ] \" }"}"#[..],
            &br#"{"b": [1, {"c": 2}]}"#[..],
            &br#"{"d": 3}"#[..]
        ]
    );
    assert!(split_batch(b"[]", BatchFormat::Array).unwrap().is_empty());
    for broken in [&b"[1,"[..], b"[1,,2]", b"[1] x", b"{}", b"[1}"] {
        assert!(
            split_batch(broken, BatchFormat::Array).is_err(),
            "{broken:?}"
        );
    }
    assert_eq!(
        BatchFormat::detect(Some("application/x-ndjson; charset=utf-8"), b"[1]"),
        Some(BatchFormat::Ndjson)
    );
    assert_eq!(
        BatchFormat::detect(None, b"\n [1]"),
        Some(BatchFormat::Array)
    );
    assert_eq!(BatchFormat::detect(None, b"hello"), None);
}
