//! What a job reports: a [`Ping`] of some [`PingKind`], read from the tail of a
//! healthchecks.io-style URL (`/ping/{key}/{slug}/start`) or from a JSON check-in, with an
//! optional run id (`rid`) pairing a start with its finish.
//!
//! Errors say what would have been accepted and never echo the input: it is a URL
//! anyone can send.

use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::RunSource;

/// The kind of signal a job sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PingKind {
    /// The job finished well (`/ping/key/slug`).
    Success,
    /// The job started (`…/start`); its finish is paired by `rid` or by being the latest.
    Start,
    /// The job failed (`…/fail`).
    Fail,
    /// Output only (`…/log`): appended to the run's log, status untouched.
    Log,
    /// The job finished with this exit status (`…/0` to `…/255`): 0 succeeded.
    Exit(u8),
}

/// Why a ping was refused; the server answers 400 with this text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PingError {
    #[error("exit status must be an integer from 0 to 255")]
    ExitStatus,
    #[error("unknown ping kind: use start, fail, log or an exit status from 0 to 255")]
    UnknownKind,
    #[error("rid must be a UUID such as 123e4567-e89b-12d3-a456-426614174000")]
    Rid,
    #[error("status must be one of in_progress, ok, error")]
    CheckinStatus,
}

impl PingKind {
    /// Reads the part of a ping URL after the slug: `""` (success), `start`, `fail`,
    /// `log` or an exit status `0`–`255`.
    pub fn parse_tail(tail: &str) -> Result<Self, PingError> {
        match tail {
            "" => Ok(PingKind::Success),
            "start" => Ok(PingKind::Start),
            "fail" => Ok(PingKind::Fail),
            "log" => Ok(PingKind::Log),
            digits if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                // `u8::from_str` alone would also take `+1`; the digit check above refuses it.
                digits
                    .parse::<u8>()
                    .map(PingKind::Exit)
                    .map_err(|_| PingError::ExitStatus)
            }
            _ => Err(PingError::UnknownKind),
        }
    }

    /// Reads a Sentry-style check-in status: `in_progress`, `ok` or `error`.
    pub fn from_checkin_status(status: &str) -> Result<Self, PingError> {
        match status {
            "in_progress" => Ok(PingKind::Start),
            "ok" => Ok(PingKind::Success),
            "error" => Ok(PingKind::Fail),
            _ => Err(PingError::CheckinStatus),
        }
    }

    /// Whether this kind ends a run, and if so whether it succeeded.
    pub fn finish(self) -> Option<bool> {
        match self {
            PingKind::Success | PingKind::Exit(0) => Some(true),
            PingKind::Fail | PingKind::Exit(_) => Some(false),
            PingKind::Start | PingKind::Log => None,
        }
    }

    /// The exit status reported, if any.
    pub fn exit_code(self) -> Option<u8> {
        match self {
            PingKind::Exit(code) => Some(code),
            _ => None,
        }
    }
}

/// Reads a run id: a hyphenated UUID in any case. The answer prints in canonical
/// lowercase, so `rid=ABC…` and `rid=abc…` pair.
pub fn parse_rid(text: &str) -> Result<Uuid, PingError> {
    // `Uuid::try_parse` also takes braced, URN and unhyphenated forms; pings carry the
    // plain hyphenated one, and accepting more only invites mismatched pairs.
    if text.len() != 36 {
        return Err(PingError::Rid);
    }
    Uuid::try_parse(text).map_err(|_| PingError::Rid)
}

/// One signal from a job, as the domain takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    pub kind: PingKind,
    pub rid: Option<Uuid>,
    /// The request body or command output, raw: it is redacted and cut when kept.
    pub body: String,
    pub source: RunSource,
    /// A duration the client measured itself (check-ins may send one); used when opsdeck
    /// saw no start.
    pub duration: Option<Duration>,
    /// The slot the run was started for, when the sender knows it: opsdeck's own
    /// scheduler firing a `[[cron.jobs]]` slot. Otherwise the slot is inferred from when
    /// the signal arrives, which says nothing for a monitor's first run.
    pub slot: Option<DateTime<Utc>>,
}

impl Ping {
    pub fn new(kind: PingKind, source: RunSource) -> Self {
        Self {
            kind,
            rid: None,
            body: String::new(),
            source,
            duration: None,
            slot: None,
        }
    }

    pub fn with_rid(mut self, rid: Uuid) -> Self {
        self.rid = Some(rid);
        self
    }

    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    pub fn with_duration(mut self, duration: Duration) -> Self {
        self.duration = Some(duration);
        self
    }

    pub fn with_slot(mut self, slot: DateTime<Utc>) -> Self {
        self.slot = Some(slot);
        self
    }
}
