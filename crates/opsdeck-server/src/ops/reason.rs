//! [`Reason`]: why a guarded action is taken, mandatory for every write (SPEC §2) and kept
//! in its audit entry.

use opsdeck_core::redact::redact_text;

use crate::error::ApiError;

/// A reason for a write: 1–500 characters after trimming, redacted.
#[derive(Debug, Clone)]
pub struct Reason(String);

impl Reason {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(text: &str) -> Result<Self, ApiError> {
        let trimmed = text.trim();
        match trimmed.chars().count() {
            0 => Err(ApiError::bad_request(
                "reason_required",
                "field `reason`: say why (1–500 characters); it goes to the audit log",
            )),
            // Operators paste log lines into reasons; what is kept is redacted like any
            // other free text.
            1..=Self::MAX_CHARS => Ok(Reason(redact_text(trimmed).into_owned())),
            _ => Err(ApiError::bad_request(
                "invalid_field",
                "field `reason`: at most 500 characters",
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
