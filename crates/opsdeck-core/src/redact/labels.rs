//! Values after secret-like labels: `password=hunter2`, `"token": "abc"`, `PASSWORD: x`,
//! `Authorization: Bearer x`, `Cookie: a=b; c=d`, as found in query strings, logs, env
//! dumps, YAML and JSON bodies (also JSON escaped inside a string), and between XML tags
//! (`<password>x</password>`). The value becomes `***`.
//!
//! A label is found first and judged by [`is_secret_name`]; only then is its value matched,
//! with an anchored pattern. A rejected label resumes the scan right after its separator,
//! so `https://x/?token=abc` still finds `token`, and each byte is scanned a bounded number
//! of times.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Captures, Regex};

use super::{MASK, PLACEHOLDERS, PassResult, is_secret_name, replace_matches};

/// A name and its separator (`=`, `:`, `=>`, `:=`, `==`), with the closing quote of a JSON
/// key (`"password":`, `\"password\":`) between them.
static LABEL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?P<name>[A-Za-z][A-Za-z0-9_.\-]*)\\?["']?[ \t]*(?:=>|==|:=|:|=)[ \t]*"#)
        .expect("valid regex")
});

/// A value, quoted (to the closing quote, or the end of the line when it is missing) or
/// bare (to whitespace or a delimiter of query strings, lists and cookies). A bare value
/// never starts with `:` (a Rust path, `token::verify`), a bracket or a placeholder.
/// An `Authorization` scheme in front of a bare value is captured so it can be kept, and a
/// placeholder after it (`Bearer [token]`) is recognised as done.
static VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^(?:"(?P<dq>(?:[^"\\\r\n]|\\.)*)(?:"|(?mR:$))|'(?P<sq>[^'\r\n]*)(?:'|(?mR:$))|\\"(?P<eq>(?:[^"\\\r\n]|\\[^"\r\n])*)(?:\\"|(?mR:$))|(?P<scheme>(?i:bearer|basic|digest|token|negotiate|ntlm|apikey)[ \t]+)?(?:(?P<bare>[^\s"'&,;<>{}()\[\]\\:=][^\s"'&,;<>]*)|(?P<done>\[[a-z\-]+\])))"#,
    )
    .expect("valid regex")
});

/// A cookie header's value: all the pairs to the end of the line.
static LINE_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^(?:"(?P<dq>(?:[^"\\\r\n]|\\.)*)(?:"|(?mR:$))|'(?P<sq>[^'\r\n]*)(?:'|(?mR:$))|\\"(?P<eq>(?:[^"\\\r\n]|\\[^"\r\n])*)(?:\\"|(?mR:$))|(?P<bare>[^\s"'\\][^\r\n"]*))"#,
    )
    .expect("valid regex")
});

/// Auth schemes kept in front of a masked credential (`Authorization: Bearer ***`).
const SCHEMES: [&str; 7] = [
    "bearer",
    "basic",
    "digest",
    "token",
    "negotiate",
    "ntlm",
    "apikey",
];

/// How a label's value is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValueKind {
    Plain,
    /// A scheme word in front of the credential is kept.
    Authorization,
    /// Everything to the end of the line: a cookie header carries several pairs.
    Line,
}

impl ValueKind {
    fn for_name(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with("authorization") {
            ValueKind::Authorization
        } else if lower.ends_with("cookie") {
            ValueKind::Line
        } else {
            ValueKind::Plain
        }
    }
}

pub(super) fn labelled_values(text: &str) -> PassResult {
    let mut out = String::new();
    let mut copied = 0;
    let mut masked = 0;
    let mut pos = 0;
    while let Some(label) = LABEL.captures_at(text, pos) {
        let name = label.name("name").map_or("", |m| m.as_str());
        let name_start = label.get_match().start();
        pos = label.get_match().end();
        // URL user info (`https://token:pw@host`) belongs to the URL pass.
        if text[..name_start].ends_with("://") || !is_secret_name(name) {
            continue;
        }
        let kind = ValueKind::for_name(name);
        let Some((start, end, resume)) = secret_span(&text[pos..], kind) else {
            continue;
        };
        out.push_str(&text[copied..pos + start]);
        out.push_str(MASK);
        copied = pos + end;
        pos += resume;
        masked += 1;
    }
    if masked == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some((out, masked))
}

/// The byte range of the secret in `rest` (which starts at a label's value) and where the
/// scan resumes; `None` when there is no value or it is masked already (`***`, `[email]`).
fn secret_span(rest: &str, kind: ValueKind) -> Option<(usize, usize, usize)> {
    let re = if kind == ValueKind::Line {
        &*LINE_VALUE
    } else {
        &*VALUE
    };
    let caps = re.captures(rest)?;
    if caps.name("done").is_some() {
        return None;
    }
    let resume = caps.get_match().end();
    let (start, end) = quoted_span(&caps, kind).or_else(|| bare_span(&caps, kind))?;
    let secret = &rest[start..end];
    if !hides_something(secret) {
        return None;
    }
    Some((start, end, resume))
}

fn quoted_span(caps: &Captures<'_>, kind: ValueKind) -> Option<(usize, usize)> {
    let content = caps
        .name("dq")
        .or_else(|| caps.name("sq"))
        .or_else(|| caps.name("eq"))?;
    let skip = if kind == ValueKind::Authorization {
        scheme_prefix_len(content.as_str())
    } else {
        0
    };
    let trailing = content.as_str().len() - content.as_str().trim_end().len();
    Some((content.start() + skip, content.end() - trailing))
}

fn bare_span(caps: &Captures<'_>, kind: ValueKind) -> Option<(usize, usize)> {
    let bare = caps.name("bare")?;
    let start = match caps.name("scheme") {
        Some(scheme) if kind != ValueKind::Authorization => scheme.start(),
        _ => bare.start(),
    };
    // Closing brackets and a trailing backslash after a bare value are the syntax around
    // it (`(password=x)`, an escaped quote); trailing blanks end a cookie line.
    let kept = bare
        .as_str()
        .trim_end_matches(|c: char| matches!(c, ')' | ']' | '}' | '\\') || c.is_whitespace());
    Some((start, bare.start() + kept.len()))
}

/// The length of a leading `Bearer `-like scheme inside a quoted credential, kept visible.
fn scheme_prefix_len(content: &str) -> usize {
    let Some((word, rest)) = content.split_once([' ', '\t']) else {
        return 0;
    };
    let credential = rest.trim_start_matches([' ', '\t']);
    if credential.is_empty() || !SCHEMES.iter().any(|s| word.eq_ignore_ascii_case(s)) {
        return 0;
    }
    content.len() - credential.len()
}

/// Whether a value is worth masking: not masked already, and with a letter or digit in it
/// (`token: '}'` in a parser error, or `password=******` masked by the application, hide
/// nothing).
fn hides_something(value: &str) -> bool {
    !PLACEHOLDERS.contains(&value) && value.chars().any(char::is_alphanumeric)
}

/// `<password>x</password>`, `<ns:Secret attr="1">x</ns:Secret>`: the text of an element
/// whose tag name is secret-like.
static TAGGED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"<(?P<name>[A-Za-z_][A-Za-z0-9_.:\-]*)(?:\s[^<>]*)?>(?P<value>[^<]*)</")
        .expect("valid regex")
});

pub(super) fn tagged_values(text: &str) -> PassResult {
    if !text.contains("</") {
        return None;
    }
    replace_matches(text, &TAGGED, |caps: &Captures<'_>| {
        let name = caps.name("name")?;
        let value = caps.name("value")?;
        let secret = value.as_str().trim();
        if !is_secret_name(name.as_str()) || !hides_something(secret) {
            return None;
        }
        let whole = caps.get_match();
        let leading = value.as_str().len() - value.as_str().trim_start().len();
        let trailing = value.as_str().len() - value.as_str().trim_end().len();
        let before = &text[whole.start()..value.start() + leading];
        let after = &text[value.end() - trailing..whole.end()];
        Some(Cow::Owned(format!("{before}{MASK}{after}")))
    })
}
