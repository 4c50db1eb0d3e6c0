//! The redactor: masks secrets and personal data in free text and JSON before opsdeck
//! stores or shows it (SPEC §2, "Minimal data"). Error messages, job errors and log
//! snippets come from the application and may carry anything; everything that keeps such
//! text passes through here first.
//!
//! # Masking scheme
//!
//! A masked secret is replaced by a placeholder that says what was there; the text around
//! it is kept so the message stays useful:
//!
//! | found | becomes |
//! |---|---|
//! | value after a secret-like label: `password=hunter2`, `"token": "abc"`, `PASSWORD: x`, `Authorization: Bearer x`, `Cookie: …`, `<password>x</password>` | `password=***`, `"token": "***"`, `PASSWORD: ***`, `Authorization: Bearer ***`, `Cookie: ***`, `<password>***</password>` |
//! | password in a URL: `postgres://app:pw@db/x` | `postgres://app:***@db/x` |
//! | `Bearer <credential>` without a label | `Bearer [token]` |
//! | opsdeck personal access token `opsdeck_pat_…`, well-known vendor tokens (`ghp_…`, `xoxb-…`, `sk_live_…`, `glpat-…`, `AIza…`) | `[token]` |
//! | opsdeck API key `opsdeck_key_…`, AWS access key id `AKIA…`/`ASIA…` | `[key]` |
//! | JWT / JWE (`eyJ…` segments) | `[jwt]` |
//! | PEM private key block | `[private-key]` |
//! | e-mail address (also `%40`-encoded) | `[email]` |
//! | card number: 13–19 digits, single spaces or dashes allowed, Luhn-valid | `[card]` |
//!
//! A label is secret-like when its name, split into words (`_`, `-`, `.`, camelCase), ends
//! in `password`, `secret`, `token`, `api_key`, `access_key`, `private_key`, `authorization`,
//! `cookie`, `session`, … (see [`is_secret_name`]). JSON objects use the same test on their
//! keys and mask the whole value ([`redact_json`]).
//!
//! Placeholders and `***` match no pattern, and the passes repeat until a round masks
//! nothing, so redaction is idempotent: `redact_text(redact_text(x)) == redact_text(x)`.
//! Every pattern is compiled once and run by the `regex` crate, whose matching is linear in
//! the input; the hand-written scans are too. No input makes it panic.
//!
//! What is deliberately left alone: UUIDs, hex commit ids, dates and timestamps, durations,
//! IP addresses, version numbers, digit runs that fail the Luhn check, and ordinary words
//! ("tokenize", "passwordless").

mod cards;
mod json;
mod labels;
mod names;
mod patterns;

use std::borrow::Cow;

pub use json::redact_json;
pub use names::is_secret_name;

/// The placeholder for a value that followed a secret-like label or sat in a URL's password.
pub const MASK: &str = "***";

/// Every placeholder a pass can write, in the form it appears in text.
const PLACEHOLDERS: [&str; 7] = [
    "[email]",
    "[card]",
    "[jwt]",
    "[token]",
    "[key]",
    "[private-key]",
    MASK,
];

/// Redacted text and how many secrets were masked in it (for metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redaction<'a> {
    /// Borrowed from the input when nothing was masked.
    pub text: Cow<'a, str>,
    pub masked: usize,
}

/// The text after one pass and how many secrets the pass masked; `None` means unchanged.
type PassResult = Option<(String, usize)>;

/// The passes, in order. Label and URL passes run first so a labelled value is masked as a
/// whole (`token=eyJ…` becomes `token=***`, not `token=[jwt]`); cards run last because
/// tokens, keys and e-mail addresses may contain digit runs.
const PASSES: [fn(&str) -> PassResult; 10] = [
    patterns::private_keys,
    patterns::url_passwords,
    labels::labelled_values,
    labels::tagged_values,
    patterns::bearer_tokens,
    patterns::jwts,
    patterns::known_tokens,
    patterns::aws_key_ids,
    patterns::emails,
    cards::card_numbers,
];

/// A bound on rounds of all passes. Almost every text needs one round that masks and one
/// that finds nothing; a mask that exposes something new (see [`redact`]) adds one.
const MAX_ROUNDS: usize = 4;

/// Masks every secret found in `input`, counting them.
pub fn redact(input: &str) -> Redaction<'_> {
    let mut text = Cow::Borrowed(input);
    let mut masked = 0;
    // A mask can change how its neighbours read: in `://opsdeck_pat_…_password:x` the
    // `password:` label only stands on its own once the token before it is masked. So the
    // passes repeat until a round finds nothing, which is what makes redaction idempotent.
    // Each round only replaces unmasked text, so the rounds run out quickly.
    for _ in 0..MAX_ROUNDS {
        let Some((changed, count)) = run_passes(&text) else {
            break;
        };
        text = Cow::Owned(changed);
        masked += count;
    }
    Redaction { text, masked }
}

/// One round: every pass once, in order.
fn run_passes(text: &str) -> PassResult {
    let mut current: Option<String> = None;
    let mut masked = 0;
    for pass in PASSES {
        if let Some((changed, count)) = pass(current.as_deref().unwrap_or(text)) {
            current = Some(changed);
            masked += count;
        }
    }
    current.map(|text| (text, masked))
}

/// Masks every secret found in free text. Borrows the input when nothing was masked.
pub fn redact_text(input: &str) -> Cow<'_, str> {
    redact(input).text
}

/// Redacts, then cuts the result to at most `max_bytes` bytes on a char boundary.
///
/// Redacting first means a secret cut in half by the limit is never half-revealed: only the
/// placeholder can be cut, and a placeholder cut in half is dropped whole. A cut text ends
/// with `…` when the limit leaves room for it.
pub fn truncate_redacted(input: &str, max_bytes: usize) -> String {
    const ELLIPSIS: &str = "…";
    let redacted = redact_text(input);
    if redacted.len() <= max_bytes {
        return redacted.into_owned();
    }
    let (budget, suffix) = match max_bytes.checked_sub(ELLIPSIS.len()) {
        Some(budget) => (budget, ELLIPSIS),
        None => (max_bytes, ""),
    };
    let cut = drop_partial_placeholder(&redacted, redacted.floor_char_boundary(budget));
    let mut out = String::with_capacity(cut + suffix.len());
    out.push_str(&redacted[..cut]);
    out.push_str(suffix);
    out
}

/// Moves a cut at `cut` back to the start of a placeholder that it would split.
fn drop_partial_placeholder(text: &str, cut: usize) -> usize {
    let longest = PLACEHOLDERS.iter().map(|p| p.len()).max().unwrap_or(0);
    let window_start = text.floor_char_boundary(cut.saturating_sub(longest));
    for (offset, _) in text[window_start..cut].char_indices() {
        let start = window_start + offset;
        let rest = &text[start..];
        if PLACEHOLDERS
            .iter()
            .any(|p| rest.starts_with(p) && start + p.len() > cut)
        {
            return start;
        }
    }
    cut
}

/// Applies `mask` to every match of `re`, copying the text between matches. `mask` returns
/// the replacement, or `None` to keep a match that turned out not to be a secret.
fn replace_matches(
    text: &str,
    re: &regex::Regex,
    mut mask: impl FnMut(&regex::Captures<'_>) -> Option<Cow<'static, str>>,
) -> PassResult {
    let mut out = String::new();
    let mut copied = 0;
    let mut masked = 0;
    for caps in re.captures_iter(text) {
        let Some(replacement) = mask(&caps) else {
            continue;
        };
        let whole = caps.get_match();
        out.push_str(&text[copied..whole.start()]);
        out.push_str(&replacement);
        copied = whole.end();
        masked += 1;
    }
    if masked == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some((out, masked))
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
