//! Probe output as it is stored and shown: the check's own secrets masked wherever an
//! error message quotes them (a driver error may echo a whole DSN), then the general
//! redactor (passwords in URLs, tokens, `key=value` secrets), then cut to a snippet.

use opsdeck_core::redact::{MASK, truncate_redacted};

/// The longest probe output kept, in bytes.
pub const OUTPUT_MAX_BYTES: usize = 500;

/// `text` with every non-empty `secret` masked, redacted and truncated.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut masked = text.to_owned();
    // Longest first, so a secret containing another is masked whole.
    let mut secrets: Vec<&str> = secrets.iter().copied().filter(|s| s.len() >= 4).collect();
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for secret in secrets {
        masked = masked.replace(secret, MASK);
        // Drivers also quote the password part of a URL on its own.
        if let Ok(url) = url::Url::parse(secret)
            && let Some(password) = url.password().filter(|p| p.len() >= 4)
        {
            masked = masked.replace(password, MASK);
            if let Ok(decoded) = urlencoding_decode(password) {
                masked = masked.replace(&decoded, MASK);
            }
        }
    }
    truncate_redacted(&masked, OUTPUT_MAX_BYTES)
}

/// Percent-decoding of a URL component (a password such as `p%40ss` appears as `p@ss` in
/// messages that print the parsed value).
fn urlencoding_decode(text: &str) -> Result<String, std::string::FromUtf8Error> {
    let bytes: Vec<u8> = url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned().into_bytes())
        .unwrap_or_default();
    String::from_utf8(bytes)
}
