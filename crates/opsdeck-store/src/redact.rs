//! Keeping passwords out of text. [`Secrets`] holds what must never be shown (a URL's
//! password, raw and percent-decoded); [`RedactedError`] is an error chain rebuilt with those
//! secrets masked, so a cause can travel in `StoreError` and logs without leaking them.

use std::error::Error;
use std::fmt;

/// What replaces a secret wherever it would appear.
pub(crate) const MASK: &str = "***";

/// Strings to mask in any text derived from a database URL or a driver error.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Secrets(Vec<String>);

impl Secrets {
    /// Adds a secret as written in the URL and in its percent-decoded form.
    pub(crate) fn add(&mut self, secret: &str) {
        for form in [secret.to_owned(), percent_decode(secret)] {
            if !form.is_empty() && !self.0.contains(&form) {
                self.0.push(form);
            }
        }
        // Longest first, so a secret that contains another is masked whole.
        self.0.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    pub(crate) fn scrub(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_owned(), |text, secret| text.replace(secret, MASK))
    }
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({} masked)", self.0.len())
    }
}

/// An error and its causes, each message scrubbed of secrets. Keeps the chain's shape so
/// `{:#}`-style reporting still shows every cause.
#[derive(Debug)]
pub(crate) struct RedactedError {
    message: String,
    source: Option<Box<RedactedError>>,
}

impl RedactedError {
    pub(crate) fn new(error: &(dyn Error + 'static), secrets: &Secrets) -> Self {
        Self {
            message: secrets.scrub(&error.to_string()),
            source: error
                .source()
                .map(|cause| Box::new(RedactedError::new(cause, secrets))),
        }
    }
}

impl fmt::Display for RedactedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for RedactedError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

/// Decodes `%XX` escapes; anything malformed is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
