//! [`TenantPath`]: where a job's tenant id lives in the job as its system stores it —
//! `data.tenantId` in a BullMQ or pg-boss job, `args[0].tenant_id` or
//! `acts_as_tenant.id` in a Sidekiq job, `payload.tenantId` in a graphile-worker job.
//! Parsed once from the configuration, applied to each job's JSON.

use std::fmt;

use serde_json::Value;

use crate::ids::TenantId;

/// The longest path accepted.
const PATH_MAX_CHARS: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// A path of object keys and array indexes: `a.b[0].c`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPath {
    text: String,
    steps: Vec<Step>,
}

/// Why a tenant path was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid tenant path: {0} (write keys separated by '.', indexes as [0], e.g. data.tenantId or args[0].tenant_id)"
)]
pub struct TenantPathError(pub String);

impl TenantPath {
    pub fn parse(text: &str) -> Result<Self, TenantPathError> {
        let fail = |why: &str| Err(TenantPathError(why.to_owned()));
        if text.is_empty() || text.chars().count() > PATH_MAX_CHARS {
            return fail("it must be 1 to 200 characters");
        }
        let mut steps = Vec::new();
        for segment in text.split('.') {
            let (key, mut rest) = match segment.find('[') {
                Some(at) => (&segment[..at], &segment[at..]),
                None => (segment, ""),
            };
            if key.is_empty() && (rest.is_empty() || !steps.is_empty()) {
                return fail("a key between dots is empty");
            }
            if !key.is_empty() {
                if key.chars().any(|c| c.is_control() || c == ']' || c == ' ') {
                    return fail("a key holds a space, a control character or ']'");
                }
                steps.push(Step::Key(key.to_owned()));
            }
            while !rest.is_empty() {
                let Some(close) = rest.find(']') else {
                    return fail("a '[' is not closed");
                };
                let Ok(index) = rest[1..close].parse::<usize>() else {
                    return fail("an index is not a number");
                };
                steps.push(Step::Index(index));
                rest = &rest[close + 1..];
                if !rest.is_empty() && !rest.starts_with('[') {
                    return fail("an index is followed by something other than '.' or '['");
                }
            }
        }
        Ok(Self {
            text: text.to_owned(),
            steps,
        })
    }

    /// The value at the path, if there is one.
    pub fn find<'a>(&self, job: &'a Value) -> Option<&'a Value> {
        self.steps.iter().try_fold(job, |value, step| match step {
            Step::Key(key) => value.get(key.as_str()),
            Step::Index(index) => value.get(*index),
        })
    }

    /// The tenant of `job`: a string or integer at the path that is a valid tenant id.
    pub fn tenant_of(&self, job: &Value) -> Option<TenantId> {
        match self.find(job)? {
            Value::String(text) => TenantId::parse(text).ok(),
            Value::Number(number) if number.is_i64() || number.is_u64() => {
                TenantId::parse(&number.to_string()).ok()
            }
            _ => None,
        }
    }

    /// The path's steps as text, keys and indexes alike (`args[0].tenant_id` → `args`, `0`,
    /// `tenant_id`): what a database's JSON path operators (PostgreSQL's `#>>`) take.
    pub fn segments(&self) -> Vec<String> {
        self.steps
            .iter()
            .map(|step| match step {
                Step::Key(key) => key.clone(),
                Step::Index(index) => index.to_string(),
            })
            .collect()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for TenantPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}
