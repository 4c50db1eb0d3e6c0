//! How a limiter's decision shows on the wire: `429 Too Many Requests` with the error
//! envelope and `Retry-After` (RFC 9110), and on every limited response the two headers of
//! the IETF draft *RateLimit header fields for HTTP* (-11):
//! `RateLimit-Policy: "reads";q=60;w=6` and `RateLimit: "reads";r=12`.
//!
//! A GCRA budget is a bucket of `burst` requests that refills at the configured rate, so
//! the policy is stated as that bucket: `q` is the burst and `w` the seconds it takes to
//! refill from empty; `r` is what is left of it, and `t` the seconds until one more request
//! is allowed (sent when nothing is left).

use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::Quota;

use crate::error::ApiError;

const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");
const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");

/// One named budget: what the headers call it and what a refusal tells the caller.
#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    name: &'static str,
    quota: Quota,
    refused: &'static str,
}

impl Policy {
    pub(super) fn new(name: &'static str, quota: Quota, refused: &'static str) -> Self {
        Self {
            name,
            quota,
            refused,
        }
    }

    pub(super) fn quota(&self) -> Quota {
        self.quota
    }

    pub(super) fn allowed(&self, remaining: u32) -> Allowed {
        Allowed(Some(State {
            policy: *self,
            remaining,
        }))
    }

    pub(super) fn limited(&self, wait: Duration) -> Limited {
        Limited {
            state: State {
                policy: *self,
                remaining: 0,
            },
            retry_after: whole_seconds(wait).max(1),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct State {
    policy: Policy,
    remaining: u32,
}

impl State {
    fn apply(&self, headers: &mut HeaderMap, until_more: Option<u64>) {
        let name = self.policy.name;
        let quota = self.policy.quota;
        let window = whole_seconds(quota.burst_size_replenished_in()).max(1);
        let policy = format!("\"{name}\";q={};w={window}", quota.burst_size());
        let mut state = format!("\"{name}\";r={}", self.remaining);
        if let Some(seconds) = until_more {
            state.push_str(&format!(";t={seconds}"));
        }
        for (header, value) in [(RATELIMIT_POLICY, policy), (RATELIMIT, state)] {
            // Built from a fixed name and numbers, so always a valid header value.
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(header, value);
            }
        }
    }
}

/// A request that a budget let through, or any request when limits are off.
#[derive(Debug, Clone)]
#[must_use]
pub struct Allowed(Option<State>);

impl Allowed {
    /// The outcome when limits are turned off: nothing is counted, no header is sent.
    pub(super) fn unlimited() -> Self {
        Self(None)
    }

    /// Requests still allowed at once after this one; `None` when limits are off.
    pub fn remaining(&self) -> Option<u32> {
        self.0.map(|state| state.remaining)
    }

    /// Adds `RateLimit` and `RateLimit-Policy` to a response.
    pub fn apply(&self, headers: &mut HeaderMap) {
        if let Some(state) = &self.0 {
            // With nothing left, the next request waits at most one refill interval.
            let until_more = (state.remaining == 0)
                .then(|| whole_seconds(state.policy.quota.replenish_interval()).max(1));
            state.apply(headers, until_more);
        }
    }
}

/// A request refused because its budget is spent; answers 429.
#[derive(Debug, Clone)]
#[must_use]
pub struct Limited {
    state: State,
    retry_after: u64,
}

impl Limited {
    /// Whole seconds until one more request is allowed, at least 1.
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after
    }

    /// The name of the spent budget, as in the headers (`reads`, `failed-auth`, …).
    pub fn policy(&self) -> &'static str {
        self.state.policy.name
    }
}

impl IntoResponse for Limited {
    fn into_response(self) -> Response {
        let message = format!(
            "{}; retry in {} s",
            self.state.policy.refused, self.retry_after
        );
        let mut response =
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).into_response();
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after));
        self.state.apply(headers, Some(self.retry_after));
        response
    }
}

/// Seconds, rounded up: a client that waits this long is not refused again.
fn whole_seconds(duration: Duration) -> u64 {
    duration.as_secs() + u64::from(duration.subsec_nanos() > 0)
}
