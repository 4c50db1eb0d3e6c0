//! [`Secret`]: a configuration value that must never reach a log, a `Debug` dump or an error
//! message, and the references it may be written as.
//!
//! A secret written `env:NAME` (in the file, in an environment variable or on the command
//! line) is replaced by the value of the environment variable `NAME` at load time; one
//! written `file:/path` by the content of that file, less one trailing newline, which is how
//! container secrets arrive (Docker's `/run/secrets/…`, a Kubernetes secret volume). The
//! lookup happens inside `Deserialize`, so every `Secret` field of every section, present or
//! future, is resolved and its failures carry the field's key path without any per-field
//! code. `Deserialize` has no way to receive context, so the loader hands over the referenced
//! variables through a thread-local for the duration of one deserialization
//! ([`with_references`]); outside of it, references are refused rather than guessed at.
//!
//! Every crate that holds a secret from the configuration (the server's sections, the
//! connectors' probes and sources) takes this one type, so they all hide and resolve alike.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::io::Read as _;

use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

/// What `Debug`, `Display` and `Serialize` print instead of a secret.
pub const REDACTED: &str = "***";

/// The prefix of a reference to an environment variable.
pub const ENV_REFERENCE: &str = "env:";

/// The prefix of a reference to a file holding the secret.
pub const FILE_REFERENCE: &str = "file:";

/// A secret string (a token, a password, a DSN with credentials).
///
/// `Debug`, `Display` and `Serialize` print `***`; only [`Secret::expose`] gives the value.
/// No `PartialEq`: compare a presented credential with [`Secret::matches`], in constant time.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value as it is; a reference is kept literally (only loading resolves).
    pub fn new(value: String) -> Self {
        Self(value)
    }

    /// The secret value, for the one place that needs it (a connection, a comparison).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` equals the secret, in time independent of where they differ
    /// (the length may still leak, which a random token of fixed length makes harmless).
    pub fn matches(&self, candidate: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(candidate.as_bytes()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Serializes as `***`: a serialized configuration is a redacted view, never a round trip.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `any`, not `str`: asked for a string, some deserializers (serde_json's `Value`)
        // report a number themselves, quoting it; given whatever is there, the visitor
        // refuses it without echoing it. Configurations are always self-describing.
        deserializer.deserialize_any(SecretVisitor)
    }
}

/// Reads a string and resolves references. Non-string values are rejected without
/// echoing them: a token written as a bare number is still a token.
struct SecretVisitor;

impl SecretVisitor {
    fn hidden<E: de::Error>(&self, what: &str) -> E {
        E::invalid_type(Unexpected::Other(what), self)
    }
}

impl Visitor<'_> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, or an env:NAME or file:/path reference")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Secret, E> {
        REFERENCES
            .with(|refs| match refs.borrow().as_ref() {
                Some(vars) => resolve(value, |name| vars.get(name).cloned()),
                None if value.starts_with(ENV_REFERENCE) || value.starts_with(FILE_REFERENCE) => {
                    Err(format!(
                        "{ENV_REFERENCE} and {FILE_REFERENCE} references are resolved only while \
                         loading the configuration"
                    ))
                }
                None => Ok(Secret::new(value.to_owned())),
            })
            .map_err(E::custom)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Secret, E> {
        Err(self.hidden("a boolean"))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Secret, E> {
        Err(self.hidden("a number"))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Secret, E> {
        Err(self.hidden("a number"))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Secret, E> {
        Err(self.hidden("a number"))
    }
}

/// Turns a raw secret into its value: `env:NAME` is looked up with `env`, `file:/path` is
/// read, anything else is literal. What a reference gives is taken literally (no chains of
/// references). Errors name the variable or the file, never a value.
pub fn resolve(raw: &str, env: impl Fn(&str) -> Option<String>) -> Result<Secret, String> {
    if let Some(name) = raw.strip_prefix(ENV_REFERENCE) {
        if name.is_empty() {
            return Err(format!(
                "{ENV_REFERENCE} needs a variable name, e.g. {ENV_REFERENCE}OPSDECK_DB_URL"
            ));
        }
        return env(name)
            .map(Secret::new)
            .ok_or_else(|| format!("{ENV_REFERENCE}{name} is not set"));
    }
    match raw.strip_prefix(FILE_REFERENCE) {
        Some(path) => read_file(path),
        None => Ok(Secret::new(raw.to_owned())),
    }
}

/// The largest secret file read: a secret is one value (a PEM bundle fits), and a reference
/// to `/dev/zero` or a log file must not stall or swell the load.
const FILE_LIMIT: u64 = 64 * 1024;

/// The content of a secret file, less one trailing newline (`echo` and most editors end a
/// file with one; a password does not). Only that one: other whitespace may be the secret's.
fn read_file(path: &str) -> Result<Secret, String> {
    if path.is_empty() {
        return Err(format!(
            "{FILE_REFERENCE} needs a path, e.g. {FILE_REFERENCE}/run/secrets/db_url"
        ));
    }
    let unreadable = |err: std::io::Error| format!("{FILE_REFERENCE}{path} cannot be read: {err}");
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(FILE_LIMIT + 1).read_to_end(&mut bytes))
        .map_err(unreadable)?;
    if bytes.len() as u64 > FILE_LIMIT {
        return Err(format!(
            "{FILE_REFERENCE}{path} is larger than {} KiB; a secret file holds one value",
            FILE_LIMIT / 1024
        ));
    }
    let mut text = String::from_utf8(bytes)
        .map_err(|_| format!("{FILE_REFERENCE}{path} is not UTF-8 text"))?;
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    Ok(Secret::new(text))
}

thread_local! {
    /// The environment variables referenced by the configuration being deserialized on this
    /// thread (only those that are set), or `None` outside of loading (then no reference,
    /// `file:` included, is resolved).
    static REFERENCES: RefCell<Option<BTreeMap<String, String>>> = const { RefCell::new(None) };
}

/// Runs `f` (a deserialization) with `vars` available to [`Secret`]'s `env:` resolution and
/// `file:` references allowed.
pub fn with_references<R>(vars: BTreeMap<String, String>, f: impl FnOnce() -> R) -> R {
    /// Clears the variables even if `f` panics, so no secret outlives the load.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            REFERENCES.with(|refs| refs.borrow_mut().take());
        }
    }
    REFERENCES.with(|refs| *refs.borrow_mut() = Some(vars));
    let _clear = Clear;
    f()
}
