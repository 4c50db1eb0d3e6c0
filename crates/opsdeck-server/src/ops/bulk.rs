//! What every bulk action shares: a dry run first, then the real run only with the
//! `expected_count` the dry run reported, so a filter that matches more than expected
//! never acts.

use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;

/// The options every bulk action takes.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
pub struct BulkGuard {
    /// Count what would be affected and change nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// For the real run: the count the dry run reported. A different count now refuses the
    /// run, so a filter that matches more than expected never acts.
    pub expected_count: Option<u64>,
}

/// What a bulk action should do after [`BulkGuard::check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkDecision {
    /// Report the count, change nothing.
    DryRun,
    /// Act on exactly the matched items.
    Proceed,
}

impl BulkGuard {
    pub fn check(&self, matched: u64) -> Result<BulkDecision, ApiError> {
        if self.dry_run {
            return Ok(BulkDecision::DryRun);
        }
        match self.expected_count {
            None => Err(ApiError::bad_request(
                "dry_run_required",
                "bulk actions run with `dry_run: true` first; then repeat with the `expected_count` it reported",
            )),
            Some(expected) if expected != matched => Err(ApiError::new(
                StatusCode::CONFLICT,
                "expected_count_mismatch",
                format!(
                    "expected_count is {expected} but {matched} items match now; run the dry run again"
                ),
            )),
            Some(_) => Ok(BulkDecision::Proceed),
        }
    }
}
