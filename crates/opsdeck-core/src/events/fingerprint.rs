//! Grouping errors: the fingerprint of an error event that did not bring one.
//!
//! - **With a stack** that has recognisable frames, the fingerprint is derived from its
//!   top [`TOP_FRAMES`] frames (most recent call first; Python's tracebacks, which list the
//!   most recent call last, are read bottom-up), each normalised: line and column numbers
//!   and memory addresses dropped, spaces collapsed. The same code path fails the same way
//!   whatever the message says.
//! - **Otherwise** from the message, normalised: quoted values (`'…'`, `"…"`, `` `…` ``)
//!   become `<v>`; UUIDs, hex ids (8+ hex digits with a digit among them, or `0x…`) and
//!   numbers `<n>`; spaces collapse. So `user 42 not found`, `user 7 not found` and
//!   `user 3f2a9b1c-… not found` share a group, and so do `order 'A-1' failed` and
//!   `order 'B-2' failed`.
//!
//! The fingerprint is `s:` or `m:` (stack or message) and the first 16 hex digits of the
//! SHA-256 of the normalised text: stable across releases of opsdeck as long as these
//! rules are.

use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};

/// Frames of a stack that make its fingerprint.
pub const TOP_FRAMES: usize = 5;

static QUOTED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"'[^'\n]*'|"[^"\n]*"|`[^`\n]*`"#).expect("quoted-value pattern"));
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
        .expect("uuid pattern")
});
static HEX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b0x[0-9a-f]+\b|\b[0-9a-f]*[0-9][0-9a-f]*\b").expect("hex pattern")
});
static NUMBER: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\d+").expect("number pattern"));
static SPACES: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\s+").expect("space pattern"));
/// `file.ext:12:34`, `file.ext:12`, `line 12`, `+0x1d`, `0x7f3a…`.
static LOCATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(\.[a-z0-9]+):\d+(:\d+)?|\bline \d+|\+?0x[0-9a-f]+|\bcol(umn)? \d+")
        .expect("location pattern")
});
/// A line that is a frame: `at …`, `File "…"`, `#3 …`, or anything naming `file.ext:line`.
static FRAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(at\s|File\s"|#\d+\s)|[\w/\\.-]+\.[A-Za-z0-9]+:\d+"#).expect("frame pattern")
});

/// The fingerprint of an error with this (redacted) message and stack.
pub fn derive(message: &str, stack: Option<&str>) -> String {
    match stack.and_then(stack_key) {
        Some(key) => hashed("s:", &key),
        None => hashed("m:", &normalize_message(message)),
    }
}

/// The message as it is grouped: quoted values, ids and numbers replaced.
pub fn normalize_message(message: &str) -> String {
    let text = QUOTED.replace_all(message, "<v>");
    let text = UUID.replace_all(&text, "<n>");
    let text = HEX.replace_all(&text, |caps: &regex::Captures<'_>| {
        let found = &caps[0];
        let all_digits = found.bytes().all(|b| b.is_ascii_digit());
        // Plain numbers are left to the number rule; a hex id is long or `0x`-prefixed.
        if !all_digits && (found.len() >= 8 || found.to_ascii_lowercase().starts_with("0x")) {
            "<n>".to_owned()
        } else {
            found.to_owned()
        }
    });
    let text = NUMBER.replace_all(&text, "<n>");
    SPACES.replace_all(text.trim(), " ").into_owned()
}

/// The top frames of a stack, normalised and joined; `None` when no line looks like a
/// frame.
pub fn stack_key(stack: &str) -> Option<String> {
    let most_recent_last = stack
        .lines()
        .next()
        .is_some_and(|first| first.contains("most recent call last"));
    let frames: Vec<String> = stack
        .lines()
        .map(str::trim)
        .filter(|line| FRAME.is_match(line))
        .map(normalize_frame)
        .collect();
    if frames.is_empty() {
        return None;
    }
    let top: Vec<&str> = if most_recent_last {
        frames
            .iter()
            .rev()
            .take(TOP_FRAMES)
            .map(String::as_str)
            .collect()
    } else {
        frames.iter().take(TOP_FRAMES).map(String::as_str).collect()
    };
    Some(top.join("\n"))
}

fn normalize_frame(line: &str) -> String {
    let text = LOCATION.replace_all(line, "$1");
    SPACES.replace_all(text.trim(), " ").into_owned()
}

fn hashed(prefix: &str, text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    let mut out = String::with_capacity(prefix.len() + 16);
    out.push_str(prefix);
    out.push_str(&hex::encode(&digest[..8]));
    out
}
