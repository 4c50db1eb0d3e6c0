//! The parsed names opsdeck keys things by: a monitor's [`Slug`], [`MonitorName`] and
//! [`Tags`], the [`TenantId`] anything may belong to, a health [`CheckName`], a
//! [`TokenName`], and a queue [`SourceName`], [`QueueName`] and [`JobId`]. Each parses its input, so a handler holds a valid value or has answered
//! 400; nothing else in the workspace defines a name type.
//!
//! Errors name the field and say what is wrong, but never repeat a tenant id: that is
//! tenant data, and errors end up in logs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A value was refused: `field` says which, `problem` what is wrong with it, so the
/// message reads "grace must be between 1s and 365days".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} {problem}")]
pub struct InvalidField {
    pub field: &'static str,
    pub problem: String,
}

impl InvalidField {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// The longest slug, as healthchecks.io allows.
pub const SLUG_MAX_CHARS: usize = 100;
/// The longest monitor name.
pub const NAME_MAX_CHARS: usize = 100;
/// The longest tag.
pub const TAG_MAX_CHARS: usize = 64;
/// The most tags one monitor carries.
pub const TAGS_MAX: usize = 32;
/// The longest tenant id.
pub const TENANT_ID_MAX_CHARS: usize = 128;

/// Checks length and characters; `allowed` decides each character, `allowed_text` says
/// which are allowed, and `echo` whether the error may quote the character it refused.
fn check(
    field: &'static str,
    text: &str,
    max: usize,
    allowed: impl Fn(char) -> bool,
    allowed_text: &str,
    echo: bool,
) -> Result<(), InvalidField> {
    if text.is_empty() {
        return Err(InvalidField::new(field, "must not be empty"));
    }
    if text.chars().count() > max {
        return Err(InvalidField::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    match text.chars().find(|&c| !allowed(c)) {
        Some(c) if echo => Err(InvalidField::new(
            field,
            format!("may only contain {allowed_text} (found {c:?})"),
        )),
        Some(_) => Err(InvalidField::new(
            field,
            format!("may only contain {allowed_text}"),
        )),
        None => Ok(()),
    }
}

macro_rules! text_newtype {
    ($ty:ident) => {
        impl $ty {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $ty {
            type Err = InvalidField;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::parse(s)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = InvalidField;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                $ty::parse(&text)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> Self {
                value.0
            }
        }
    };
}

/// A monitor's key: 1–100 characters of `a-z`, `0-9`, `_`, `-`. Uppercase is refused, not
/// folded, as healthchecks.io does: `/ping/key/Backup` is a client bug worth a 400 rather
/// than a silent second monitor.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub fn parse(text: &str) -> Result<Self, InvalidField> {
        if text.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(InvalidField::new("slug", "must be lowercase"));
        }
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-');
        check(
            "slug",
            text,
            SLUG_MAX_CHARS,
            allowed,
            "a-z, 0-9, '_' and '-'",
            true,
        )?;
        Ok(Self(text.to_owned()))
    }
}

text_newtype!(Slug);

/// A monitor's name for people: 1–100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MonitorName(String);

impl MonitorName {
    pub fn parse(text: &str) -> Result<Self, InvalidField> {
        let text = text.trim();
        let printable = |c: char| !c.is_control();
        check(
            "name",
            text,
            NAME_MAX_CHARS,
            printable,
            "printable characters",
            true,
        )?;
        Ok(Self(text.to_owned()))
    }
}

text_newtype!(MonitorName);

impl From<&Slug> for MonitorName {
    /// A slug is always a valid name: what a monitor created by its first ping is called.
    fn from(slug: &Slug) -> Self {
        Self(slug.0.clone())
    }
}

/// The tenant a monitor (and its runs) belongs to: 1–128 characters of ASCII letters,
/// digits and `_ - . : @`, which covers UUIDs, numeric ids and slugs.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(text: &str) -> Result<Self, InvalidField> {
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '@');
        check(
            "tenant_id",
            text,
            TENANT_ID_MAX_CHARS,
            allowed,
            "ASCII letters, digits, '_', '-', '.', ':' and '@'",
            // The refused id may itself be tenant data: say what is wrong, not what it was.
            false,
        )?;
        Ok(Self(text.to_owned()))
    }
}

text_newtype!(TenantId);

impl fmt::Debug for TenantId {
    /// Kept out of `Debug` output, which reaches logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TenantId(..)")
    }
}

/// A monitor's tags: each 1–64 characters of ASCII letters, digits and `_ - . : / =`
/// (so `team:billing` and `env=prod` work), at most 32, duplicates dropped, first
/// appearance kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse<S: AsRef<str>>(tags: impl IntoIterator<Item = S>) -> Result<Self, InvalidField> {
        let allowed =
            |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/' | '=');
        let mut kept: Vec<String> = Vec::new();
        for tag in tags {
            let tag = tag.as_ref().trim();
            let allowed_text = "ASCII letters, digits and _ - . : / =";
            check("tags", tag, TAG_MAX_CHARS, allowed, allowed_text, true)?;
            if !kept.iter().any(|k| k == tag) {
                kept.push(tag.to_owned());
            }
        }
        if kept.len() > TAGS_MAX {
            return Err(InvalidField::new(
                "tags",
                format!("must be at most {TAGS_MAX}"),
            ));
        }
        Ok(Self(kept))
    }

    /// Tags written healthchecks.io's way: one string, separated by spaces.
    pub fn parse_spaced(text: &str) -> Result<Self, InvalidField> {
        Self::parse(text.split_whitespace())
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn contains(&self, tag: &str) -> bool {
        self.0.iter().any(|t| t == tag)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<String>> for Tags {
    type Error = InvalidField;

    fn try_from(tags: Vec<String>) -> Result<Self, Self::Error> {
        Tags::parse(tags)
    }
}

impl From<Tags> for Vec<String> {
    fn from(tags: Tags) -> Self {
        tags.0
    }
}

/// The longest queue source name.
pub const SOURCE_NAME_MAX_CHARS: usize = 64;
/// The longest queue name: Redis keys and PostgreSQL names of the systems opsdeck reads are
/// far shorter in practice (graphile-worker caps queue names at 128).
pub const QUEUE_NAME_MAX_CHARS: usize = 200;
/// The longest job id (BullMQ custom ids are free text; UUIDs and numbers elsewhere).
pub const JOB_ID_MAX_CHARS: usize = 200;

/// A `[[queues.sources]]` entry's name, as URLs name it (`/ops/queues/{source}/…`): 1–64
/// characters of `a-z`, `0-9`, `_`, `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceName(String);

impl SourceName {
    pub fn parse(text: &str) -> Result<Self, InvalidField> {
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-');
        check(
            "source",
            text,
            SOURCE_NAME_MAX_CHARS,
            allowed,
            "a-z, 0-9, '_' and '-'",
            true,
        )?;
        Ok(Self(text.to_owned()))
    }
}

text_newtype!(SourceName);

/// A queue's name as its system knows it (a BullMQ queue, a Sidekiq queue, a graphile-worker
/// task identifier): 1–200 printable characters. Kept as the system spells it, so it can be
/// passed back; URLs carry it percent-encoded.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueName(String);

impl QueueName {
    pub fn parse(text: &str) -> Result<Self, InvalidField> {
        let printable = |c: char| !c.is_control();
        check(
            "queue",
            text,
            QUEUE_NAME_MAX_CHARS,
            printable,
            "printable characters",
            false,
        )?;
        Ok(Self(text.to_owned()))
    }
}

text_newtype!(QueueName);

/// A job's id as its system knows it: 1–200 printable characters without whitespace.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    pub fn parse(text: &str) -> Result<Self, InvalidField> {
        let allowed = |c: char| !c.is_control() && !c.is_whitespace();
        check(
            "job id",
            text,
            JOB_ID_MAX_CHARS,
            allowed,
            "printable characters without spaces",
            false,
        )?;
        Ok(Self(text.to_owned()))
    }
}

text_newtype!(JobId);

/// The longest check name. Names key the health+json `checks` object and URL paths, so
/// they stay short.
pub const CHECK_NAME_MAX_CHARS: usize = 64;

/// The configured name of a check: 1–64 characters of `a-z`, `0-9`, `_`, `.`, `-`. No `:`,
/// since health+json keys checks `name:measurement`, and nothing that needs escaping in a
/// URL path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CheckName(String);

/// Why a check name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid check name {0:?}: use 1 to {CHECK_NAME_MAX_CHARS} characters of a-z, 0-9, '_', '.', '-'"
)]
pub struct InvalidCheckName(pub String);

impl CheckName {
    pub fn parse(text: &str) -> Result<Self, InvalidCheckName> {
        let allowed =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-');
        if text.is_empty() || text.len() > CHECK_NAME_MAX_CHARS || !text.chars().all(allowed) {
            return Err(InvalidCheckName(text.to_owned()));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for CheckName {
    type Err = InvalidCheckName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CheckName::parse(s)
    }
}

impl TryFrom<String> for CheckName {
    type Error = InvalidCheckName;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        CheckName::parse(&text)
    }
}

impl From<CheckName> for String {
    fn from(name: CheckName) -> Self {
        name.0
    }
}

/// A token's human label: 1 to 100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenNameError {
    #[error("the token name is empty")]
    Empty,
    #[error("the token name has {0} characters; at most {max} are allowed", max = TokenName::MAX_CHARS)]
    TooLong(usize),
    #[error("the token name contains a control character")]
    ControlCharacter,
}

impl TokenName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(text: &str) -> Result<Self, TokenNameError> {
        let name = text.trim();
        let chars = name.chars().count();
        if chars == 0 {
            Err(TokenNameError::Empty)
        } else if chars > Self::MAX_CHARS {
            Err(TokenNameError::TooLong(chars))
        } else if name.chars().any(char::is_control) {
            Err(TokenNameError::ControlCharacter)
        } else {
            Ok(TokenName(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests;
