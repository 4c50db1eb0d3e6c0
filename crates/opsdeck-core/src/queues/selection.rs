//! Bulk actions (SPEC §5): a dry run matches jobs by a [`JobFilter`] and pins exactly the
//! ids it found in a [`Selection`], answered as a token with the count and an expiry; the
//! real run must present the token and that count, and acts on those ids only — never on a
//! job that failed after the dry run, and never twice.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rand::RngExt as _;
use serde::{Deserialize, Serialize};

use super::JobState;
use crate::ids::{JobId, QueueName, SourceName, TenantId};

/// What a bulk action does to each job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BulkAction {
    Retry,
    Discard,
}

impl BulkAction {
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Retry => "retry",
            BulkAction::Discard => "discard",
        }
    }
}

impl FromStr for BulkAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "retry" => Ok(BulkAction::Retry),
            "discard" => Ok(BulkAction::Discard),
            other => Err(format!("unknown bulk action {other:?}")),
        }
    }
}

/// Which jobs of a queue a list or a bulk action means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobFilter {
    pub state: JobState,
    /// Text the job's name, id or error contains (case-insensitive).
    pub q: Option<String>,
    pub tenant_id: Option<TenantId>,
}

impl JobFilter {
    pub const Q_MAX_CHARS: usize = 200;
}

/// The random, unguessable name of a selection: 128 bits as 32 hex digits.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SelectionToken(String);

impl SelectionToken {
    pub fn generate() -> Self {
        let bytes: [u8; 16] = rand::rng().random();
        Self(hex::encode(bytes))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SelectionToken {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 32
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(s.to_owned()))
        } else {
            Err("not a selection token: pass the `selection` a dry run answered".to_owned())
        }
    }
}

impl TryFrom<String> for SelectionToken {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<SelectionToken> for String {
    fn from(token: SelectionToken) -> Self {
        token.0
    }
}

impl fmt::Debug for SelectionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SelectionToken({}…)", &self.0[..6])
    }
}

impl fmt::Display for SelectionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The jobs a dry run matched, pinned for the real run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub token: SelectionToken,
    pub source: SourceName,
    pub queue: QueueName,
    pub action: BulkAction,
    pub filter: JobFilter,
    /// Exactly the jobs matched, in the order found.
    pub ids: Vec<JobId>,
    /// When the dry run read the queue: a job whose failure is newer was not seen by whoever
    /// asked, and is left alone.
    pub pinned_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set once the selection was acted on: a token works once.
    pub used_at: Option<DateTime<Utc>>,
}

impl Selection {
    pub fn count(&self) -> u64 {
        self.ids.len() as u64
    }
}

/// What a real run claims its selection for: a selection is taken only by the run it was
/// made for — same source, queue and action, and exactly the count the dry run answered —
/// so a mistaken call (another queue, discard for a retry's selection) leaves it usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SelectionClaim<'a> {
    pub source: &'a SourceName,
    pub queue: &'a QueueName,
    pub action: BulkAction,
    pub expected_count: u64,
}
