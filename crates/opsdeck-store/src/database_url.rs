//! [`DatabaseUrl`]: the one place a database URL is parsed, its backend decided from the
//! scheme, and its password kept out of `Display`, `Debug` and every error message.

use std::fmt;
use std::str::FromStr;

use ::url::Url;
use opsdeck_core::Backend;

use crate::error::ConnectError;
use crate::redact::{MASK, Secrets};

/// A database URL opsdeck can connect to: `sqlite://PATH`, `sqlite:PATH`, `sqlite::memory:`,
/// `postgres://…` or `postgresql://…`.
///
/// `Display` and `Debug` show the URL with its password replaced by `***`; only
/// [`DatabaseUrl::expose`] gives the real text, for connecting.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    /// The URL as the driver reads it (scheme normalised to lower case for SQLite).
    raw: String,
    redacted: String,
    backend: Backend,
    secrets: Secrets,
    in_memory: bool,
}

impl DatabaseUrl {
    pub fn parse(input: &str) -> Result<DatabaseUrl, ConnectError> {
        let input = input.trim();
        let Some((scheme, rest)) = input.split_once(':') else {
            return Err(unsupported(
                input,
                "it has no scheme (for a SQLite file write sqlite://PATH)",
            ));
        };
        match scheme.to_ascii_lowercase().as_str() {
            "sqlite" => parse_sqlite(input, rest),
            "postgres" | "postgresql" => parse_postgres(input),
            "" => Err(unsupported(input, "it has no scheme")),
            other => Err(unsupported(
                input,
                &format!("the scheme {other:?} is not supported"),
            )),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with its password, for the driver only: never log or display it.
    pub fn expose(&self) -> &str {
        &self.raw
    }

    /// The URL with its password masked, the same text as `Display`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }

    /// True for SQLite databases that live only in memory (`sqlite::memory:`, `mode=memory`).
    pub fn is_in_memory(&self) -> bool {
        self.in_memory
    }

    pub(crate) fn secrets(&self) -> &Secrets {
        &self.secrets
    }
}

impl FromStr for DatabaseUrl {
    type Err = ConnectError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DatabaseUrl::parse(s)
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DatabaseUrl").field(&self.redacted).finish()
    }
}

fn parse_sqlite(input: &str, rest: &str) -> Result<DatabaseUrl, ConnectError> {
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    if path.is_empty() {
        return Err(unsupported(
            input,
            "it names no SQLite file (write sqlite://opsdeck.db or sqlite::memory:)",
        ));
    }
    let in_memory = path == ":memory:"
        || ::url::form_urlencoded::parse(query.as_bytes())
            .any(|(key, value)| key == "mode" && value == "memory");
    // The driver only recognises the lower-case prefix.
    let raw = format!("sqlite://{rest}");
    Ok(DatabaseUrl {
        redacted: raw.clone(),
        raw,
        backend: Backend::Sqlite,
        secrets: Secrets::default(),
        in_memory,
    })
}

fn parse_postgres(input: &str) -> Result<DatabaseUrl, ConnectError> {
    let url = Url::parse(input)
        .map_err(|e| unsupported(input, &format!("it is not a valid URL ({e})")))?;
    let (redacted, secrets) = redact(&url);
    Ok(DatabaseUrl {
        raw: input.to_owned(),
        redacted,
        backend: Backend::Postgres,
        secrets,
        in_memory: false,
    })
}

/// The URL's text with the userinfo password and any `password=` query value masked,
/// and those secrets for scrubbing other text.
fn redact(url: &Url) -> (String, Secrets) {
    let mut secrets = Secrets::default();
    let mut shown = url.clone();
    if let Some(password) = url.password() {
        secrets.add(password);
        // Only URLs that cannot have a password refuse one; this one has one.
        let _ = shown.set_password(Some(MASK));
    }
    let has_password_param = url.query_pairs().any(|(key, _)| key == "password");
    if has_password_param {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                if key == "password" {
                    secrets.add(&value);
                    (key.into_owned(), MASK.to_owned())
                } else {
                    (key.into_owned(), value.into_owned())
                }
            })
            .collect();
        shown.query_pairs_mut().clear().extend_pairs(pairs);
    }
    (shown.into(), secrets)
}

/// The error for a URL opsdeck cannot use. It echoes the URL only when it parses as one,
/// with its password masked; otherwise a typo'd secret could end up in a log.
fn unsupported(input: &str, reason: &str) -> ConnectError {
    let shown = Url::parse(input).ok().map(|url| redact(&url).0);
    ConnectError::UnsupportedUrl {
        url: shown,
        reason: reason.to_owned(),
    }
}
