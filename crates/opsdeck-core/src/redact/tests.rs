//! The corpus: realistic lines with each kind of secret and the exact text expected back,
//! and lines with secret-looking but harmless content that must come back unchanged.

use std::borrow::Cow;

use super::*;

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";

/// (input, expected) pairs, grouped by what they mask.
const MASKED: &[(&str, &str)] = &[
    // e-mail addresses
    (
        "user jane.doe@example.com not found",
        "user [email] not found",
    ),
    (
        "DETAIL:  Key (email)=(John.Smith+billing@mail.example.co.uk) already exists.",
        "DETAIL:  Key (email)=([email]) already exists.",
    ),
    (
        "GET /reset?email=bob%40example.org&next=/ 302",
        "GET /reset?email=[email]&next=/ 302",
    ),
    (
        r#"<a href="mailto:ops@opsdeck.io">mail</a>"#,
        r#"<a href="mailto:[email]">mail</a>"#,
    ),
    (
        "to: a@b.io, cc: c.d@e-f.example",
        "to: [email], cc: [email]",
    ),
    // bearer credentials
    (
        "upstream rejected Bearer d8f7a6b5c4e3f2a1 (401)",
        "upstream rejected Bearer [token] (401)",
    ),
    (
        "sent bearer abc.DEF-ghi_jkl~mno+pq/rs== upstream",
        "sent bearer [token] upstream",
    ),
    (
        "curl -H 'Authorization: Bearer abc123.def-456_ghi' https://api.example.com",
        "curl -H 'Authorization: Bearer ***' https://api.example.com",
    ),
    (
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "Authorization: Basic ***",
    ),
    (
        "proxy-authorization: Negotiate YIIGhgYGKwYBBQUC",
        "proxy-authorization: Negotiate ***",
    ),
    (
        r#"{"headers":{"Authorization":"Bearer sk-abc-123"}}"#,
        r#"{"headers":{"Authorization":"Bearer ***"}}"#,
    ),
    // opsdeck and vendor tokens, keys
    (
        "token opsdeck_pat_4fG7hJ2kL9mN3pQ5rS8tV1wX rejected",
        "token [token] rejected",
    ),
    (
        "OPSDECK_KEY=opsdeck_key_AbCdEfGhIjKlMnOpQrStUvWxYz0123",
        "OPSDECK_KEY=[key]",
    ),
    (
        "retry with MY_opsdeck_pat_0123456789abcdefghij.",
        "retry with MY_[token].",
    ),
    (
        "clone via ghp_0123456789abcdefghijABCDEFGHIJabcdef ok",
        "clone via [token] ok",
    ),
    (
        "slack xoxb-123456789012-abcdefABCDEF failed",
        "slack [token] failed",
    ),
    (
        "stripe key sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "stripe key [token]",
    ),
    // JWTs
    (
        "verify failed for eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c: expired",
        "verify failed for [jwt]: expired",
    ),
    (
        "unsecured eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. accepted",
        "unsecured [jwt] accepted",
    ),
    // card numbers
    (
        "charge failed for card 4111 1111 1111 1111 (exp 12/27)",
        "charge failed for card [card] (exp 12/27)",
    ),
    ("pan=5555-5555-5555-4444", "pan=[card]"),
    ("Amex 378282246310005.", "Amex [card]."),
    ("Amex 3782 822463 10005 declined", "Amex [card] declined"),
    (
        "order 1042 4111111111111111 declined",
        "order 1042 [card] declined",
    ),
    (
        "INSERT INTO payments VALUES (42, '6011111111111117', 'USD')",
        "INSERT INTO payments VALUES (42, '[card]', 'USD')",
    ),
    ("card_4222222222222 on file", "card_[card] on file"),
    // AWS keys
    (
        "aws_access_key_id = AKIAIOSFODNN7EXAMPLE",
        "aws_access_key_id = [key]",
    ),
    (
        "using ASIAY34FZKBOKMUTVV7A for s3:GetObject",
        "using [key] for s3:GetObject",
    ),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "aws_secret_access_key = ***",
    ),
    (
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "AWS_SECRET_ACCESS_KEY=***",
    ),
    // passwords in URLs
    (
        "connect postgres://app:s3cr3t@db.internal:5432/opsdeck?sslmode=require failed",
        "connect postgres://app:***@db.internal:5432/opsdeck?sslmode=require failed",
    ),
    ("redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
    (
        "amqp://guest:p@ss@rabbit/vhost",
        "amqp://guest:***@rabbit/vhost",
    ),
    (
        "https://x-access-token:ghs_abc123@github.com/org/repo.git",
        "https://x-access-token:***@github.com/org/repo.git",
    ),
    (
        r#"{"dsn":"mysql://root:toor@10.0.0.5/app","next":"a"}"#,
        r#"{"dsn":"mysql://root:***@10.0.0.5/app","next":"a"}"#,
    ),
    // labelled values
    ("PASSWORD=hunter2", "PASSWORD=***"),
    (
        "login failed: password: hunter2 for user bob",
        "login failed: password: *** for user bob",
    ),
    (
        r#"{"user":"bob","password":"hunter2"}"#,
        r#"{"user":"bob","password":"***"}"#,
    ),
    (r#""token": "abc""#, r#""token": "***""#),
    (
        "GET /cb?code=x&access_token=ya29.a0AfH6S&state=1",
        "GET /cb?code=x&access_token=***&state=1",
    ),
    ("client_secret='s3cr3t!'", "client_secret='***'"),
    ("export GITHUB_TOKEN=ghp_abc", "export GITHUB_TOKEN=***"),
    ("X-Api-Key: 0a1b2c3d", "X-Api-Key: ***"),
    ("$db_passwd => 'x y'", "$db_passwd => '***'"),
    ("pwd=secret123&user=root", "pwd=***&user=root"),
    (
        "apiKey=abc,apikey=def;api_key=ghi",
        "apiKey=***,apikey=***;api_key=***",
    ),
    (
        "spring.datasource.password=Secr3t",
        "spring.datasource.password=***",
    ),
    ("SECRET_KEY_BASE=abcdef0123", "SECRET_KEY_BASE=***"),
    ("(password=x)", "(password=***)"),
    ("user=bob&pass=hunter2", "user=bob&pass=***"),
    (
        "SMTP_PASS=hunter2 MYSQL_PWD=x",
        "SMTP_PASS=*** MYSQL_PWD=***",
    ),
    ("<password>hunter2</password>", "<password>***</password>"),
    (
        "<ns:ClientSecret type=\"x\"> s3cr3t </ns:ClientSecret><user>bob</user>",
        "<ns:ClientSecret type=\"x\"> *** </ns:ClientSecret><user>bob</user>",
    ),
    (
        "  password: correct-horse\n  user: admin",
        "  password: ***\n  user: admin",
    ),
    ("Cookie: session=abc123; theme=dark", "Cookie: ***"),
    (
        "Set-Cookie: sid=31d4d96e407aad42; Path=/; Secure\r\nX-Id: 1",
        "Set-Cookie: ***\r\nX-Id: 1",
    ),
    (
        r#"payload="{\"email\":\"a@b.io\",\"password\":\"pa ss\"}""#,
        r#"payload="{\"email\":\"[email]\",\"password\":\"***\"}""#,
    ),
    ("password=\"unterminated", "password=\"***"),
    // a mask that exposes a label: the token hides `password=` from the first round
    (
        "://opsdeck_pat_0123456789abcdefghij_password=hunter2",
        "://[token]_password=***",
    ),
    // private keys
    (
        "key: -----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----\ndone",
        "key: [private-key]\ndone",
    ),
    // several kinds in one stack trace
    (
        "Error: request to https://admin:pw@api.example.com/v1 failed\n    at login (auth.js:12)\n    context: {\"email\":\"x@y.dev\",\"card\":\"4111-1111-1111-1111\"}",
        "Error: request to https://admin:***@api.example.com/v1 failed\n    at login (auth.js:12)\n    context: {\"email\":\"[email]\",\"card\":\"[card]\"}",
    ),
];

/// Harmless text that looks a little like a secret.
const UNCHANGED: &[&str] = &[
    "request 550e8400-e29b-41d4-a716-446655440000 done",
    "id 12345678-1234-1234-1234-123456789012",
    "commit 3f2c1a9b8e7d6c5b4a39281706f5e4d3c2b1a098 merged",
    "deployed 9fceb02d0ae598e95dc970b74767f19372d61af8",
    "at 2024-06-01T12:34:56.789Z and 2024-06-01 12:34:56+00:00",
    "took 1h23m45s, timeout after 30s, interval PT15M",
    "connect to 192.168.10.254:5432 refused; tried [2001:db8::1]:443",
    "upgrade to v1.12.3 from 1.9.0-rc.2",
    "call +1 415 555 2671 or +44 20 7946 0958",
    "order 4111111111111112 shipped",
    "epoch_ms=1718900000001",
    "invoice 1234 5678 9012 3456 sent",
    "We tokenize input before parsing.",
    "Enable passwordless login for admins.",
    "contact user@ for access, or ping @oncall",
    "the bearer of this note; Bearer authentication is required",
    "token_count=1532 max_tokens=4096 tokens: 512",
    "password_changed_at: 2024-01-01",
    "secret_name: prod-db, token_type: bearer",
    "session_count: 12 possession: 3",
    "at opsdeck_core::token::verify (src/token.rs:42)",
    "SELECT * FROM sessions WHERE id = 42",
    "retina icon@2x.png missing",
    "npm ERR! lodash@4.17.21 and @scope/pkg@1.0.0",
    "price 12.50 EUR, qty 3, pi 3.14159265358979323",
    "error: expected `,` found `}`",
    "https://example.com:8443/path?q=1#frag",
    "password=",
    "password: [email] already masked",
    "Authorization: Bearer ***",
    "SyntaxError: Unexpected token: '}' at line 3",
    "password=****** (masked by the app)",
    "bypass: true, compass: north",
    "<secret_name>prod</secret_name>",
];

#[test]
fn masks_every_kind_in_the_corpus() {
    for (input, expected) in MASKED {
        assert_eq!(redact_text(input), *expected, "input: {input}");
    }
}

#[test]
fn corpus_outputs_are_fixed_points() {
    for (input, _) in MASKED {
        let once = redact_text(input).into_owned();
        let twice = redact(&once);
        assert_eq!(twice.text, once, "input: {input}");
        assert_eq!(twice.masked, 0, "input: {input}");
    }
}

#[test]
fn leaves_harmless_text_alone() {
    for input in UNCHANGED {
        let redaction = redact(input);
        assert!(
            matches!(redaction.text, Cow::Borrowed(_)),
            "changed: {input} -> {}",
            redaction.text
        );
        assert_eq!(redaction.masked, 0, "input: {input}");
    }
}

#[test]
fn counts_what_it_masked() {
    let line = format!("user a@b.io sent {JWT} with password=x and card 4111111111111111");
    let redaction = redact(&line);
    assert_eq!(redaction.masked, 4);
    assert_eq!(
        redaction.text,
        "user [email] sent [jwt] with password=*** and card [card]"
    );
}

#[test]
fn truncation_happens_after_redaction() {
    let input = "card 4111 1111 1111 1111 declined";
    assert_eq!(truncate_redacted(input, 100), "card [card] declined");
    // The cut falls inside the placeholder: it is dropped, never half a card number.
    assert_eq!(truncate_redacted(input, 12), "card …");
    assert_eq!(truncate_redacted(input, 14), "card [card]…");
    assert_eq!(truncate_redacted("password=hunter2", 11), "password…");
    assert_eq!(truncate_redacted("abcdef", 2), "ab");
    assert_eq!(truncate_redacted("abcdef", 0), "");
}

#[test]
fn truncation_cuts_on_char_boundaries() {
    let input = "héllo wörld ✓✓✓";
    for max in 0..=input.len() + 1 {
        let out = truncate_redacted(input, max);
        assert!(out.len() <= max, "{max}: {out}");
    }
    assert_eq!(truncate_redacted("ééé", 5), "é…");
    assert_eq!(truncate_redacted("✓✓✓", 8), "✓…");
}

#[test]
fn survives_hostile_input() {
    let long_label = "a:".repeat(50_000);
    let long_digits = "1 ".repeat(50_000);
    let nested_quotes = "password=\"".repeat(10_000);
    for input in [
        long_label,
        long_digits,
        nested_quotes,
        "\u{0}\u{FFFF}é@é.é".to_owned(),
    ] {
        let once = redact_text(&input).into_owned();
        assert_eq!(redact_text(&once), once);
    }
}
