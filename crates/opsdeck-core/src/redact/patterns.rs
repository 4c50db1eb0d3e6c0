//! The passes that a single pattern finds: private key blocks, URL passwords, bearer
//! credentials, JWTs, prefixed tokens and keys, AWS access key ids and e-mail addresses.
//! Word boundaries are ASCII (`(?-u:\b)`) so the fast DFA engines apply to any input.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::{MASK, PassResult, replace_matches};

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("valid regex")
}

/// A PEM private key block; a block cut short (truncated logs) is masked to the end.
static PRIVATE_KEY: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?s:.*?)(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\z)",
    )
});

/// `scheme://user:password@host`. The user may itself contain `@` (an unencoded e-mail);
/// the password runs to the last `@` of the authority. Quotes and backslashes end it so a
/// URL inside JSON does not swallow the next field.
static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    compile(r#"[A-Za-z][A-Za-z0-9+.\-]*://[^\s/?#:"'\\<>]*:(?P<pw>[^\s/?#"'\\<>]*)@"#)
});

/// `Bearer <credential>` anywhere, labelled or not.
static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"(?-u:\b)(?i:bearer)[ \t]+(?P<tok>[A-Za-z0-9._~+/\-]*[A-Za-z0-9_~+/\-]=*)")
});

/// A JWS (three segments) or JWE (five); the header is base64url JSON, so it starts `eyJ`.
/// Empty segments are allowed: unsecured JWTs have no signature, detached ones no payload.
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"(?-u:\b)eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]*(?:\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)?",
    )
});

/// Credentials recognisable by their prefix: ours first, then common vendors'. No leading
/// word boundary: the prefixes are distinctive and often follow `_` (`MY_opsdeck_pat_…`).
static KNOWN_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"opsdeck_(?P<kind>pat|key)_[A-Za-z0-9]{20,}|gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}|xox[abposr]-[A-Za-z0-9\-]{10,}|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|glpat-[A-Za-z0-9_\-]{20,}|AIza[0-9A-Za-z_\-]{35}",
    )
});

/// AWS access key ids (long-term `AKIA`, temporary `ASIA`).
static AWS_KEY_ID: LazyLock<Regex> =
    LazyLock::new(|| compile(r"(?-u:\b)(?:AKIA|ASIA)[A-Z0-9]{16}(?-u:\b)"));

/// An address with a dotted domain and an alphabetic top-level label; `%40` is `@` in a
/// query string. The local part leaves out `*` and `[`, so `***` and placeholders never
/// start a match.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    compile(
        r"[A-Za-z0-9._%+\-]+(?:@|%40)(?P<host>[A-Za-z0-9\-]+)(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}",
    )
});

fn placeholder(text: &'static str) -> Option<Cow<'static, str>> {
    Some(Cow::Borrowed(text))
}

pub(super) fn private_keys(text: &str) -> PassResult {
    if !text.contains("PRIVATE KEY-----") {
        return None;
    }
    replace_matches(text, &PRIVATE_KEY, |_| placeholder("[private-key]"))
}

pub(super) fn url_passwords(text: &str) -> PassResult {
    if !text.contains("://") {
        return None;
    }
    replace_matches(text, &URL_PASSWORD, |caps: &Captures<'_>| {
        let whole = caps.get_match().as_str();
        let password = caps.name("pw")?;
        if password.is_empty() || password.as_str() == MASK {
            return None;
        }
        let keep = password.start() - caps.get_match().start();
        Some(Cow::Owned(format!("{}{MASK}@", &whole[..keep])))
    })
}

pub(super) fn bearer_tokens(text: &str) -> PassResult {
    replace_matches(text, &BEARER, |caps: &Captures<'_>| {
        let token = caps.name("tok")?;
        if !looks_like_credential(token.as_str()) {
            return None;
        }
        let keep = token.start() - caps.get_match().start();
        let scheme = &caps.get_match().as_str()[..keep];
        Some(Cow::Owned(format!("{scheme}[token]")))
    })
}

/// Tells a credential from a word after "bearer" in prose ("bearer instruments"): long
/// enough, and with a digit, a symbol or an inner capital that words do not have.
fn looks_like_credential(token: &str) -> bool {
    token.len() >= 8
        && (token
            .bytes()
            .any(|b| b.is_ascii_digit() || b"-._~+/=".contains(&b))
            || token.bytes().skip(1).any(|b| b.is_ascii_uppercase()))
}

pub(super) fn jwts(text: &str) -> PassResult {
    if !text.contains("eyJ") {
        return None;
    }
    replace_matches(text, &JWT, |_| placeholder("[jwt]"))
}

pub(super) fn known_tokens(text: &str) -> PassResult {
    replace_matches(text, &KNOWN_TOKEN, |caps: &Captures<'_>| {
        match caps.name("kind").map(|kind| kind.as_str()) {
            Some("key") => placeholder("[key]"),
            _ => placeholder("[token]"),
        }
    })
}

pub(super) fn aws_key_ids(text: &str) -> PassResult {
    replace_matches(text, &AWS_KEY_ID, |_| placeholder("[key]"))
}

pub(super) fn emails(text: &str) -> PassResult {
    if !text.contains('@') && !text.contains("%40") {
        return None;
    }
    replace_matches(text, &EMAIL, |caps: &Captures<'_>| {
        // `icon@2x.png` is an image name, not an address.
        let host = caps.name("host")?.as_str();
        let scale_suffix = host
            .strip_suffix('x')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if scale_suffix {
            return None;
        }
        placeholder("[email]")
    })
}
