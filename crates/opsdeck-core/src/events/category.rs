//! What an application audit event is about, for the tenant page's highlights.
//!
//! The application may name the `category`; one of `impersonation`, `role_change` (roles
//! and permissions), `failed_login`, `export`, `deletion` or `other`. Without it the
//! category is read from the `action`'s words (split on `.`, `_`, `-`, `:`, `/`, spaces and
//! camelCase, lower-cased), first rule that matches:
//!
//! | words of the action include | category |
//! |---|---|
//! | `impersonate`, `impersonation`, `impersonated`, `sudo`, `hijack` | `impersonation` |
//! | `login`/`signin`/`sign in`/`auth`/`authentication`/`password`/`mfa`/`2fa`/`otp` **and** `failed`/`failure`/`fail`/`denied`/`rejected`/`invalid`/`locked` | `failed_login` |
//! | `role`, `roles`, `permission`, `permissions`, `grant`, `granted`, `revoke`, `revoked`, `promote`, `demote`, `admin` | `role_change` |
//! | `export`, `exported`, `download`, `downloaded`, `dump` | `export` |
//! | `delete`, `deleted`, `destroy`, `destroyed`, `remove`, `removed`, `purge`, `purged`, `erase`, `erased` | `deletion` |
//! | anything else | `other` |
//!
//! So `user.login_failed`, `auth.failure`, `member.role_changed`, `report.exported` and
//! `project.deleted` need no category. Every category but `other` is a highlight.

use std::fmt;

use serde::Serialize;

use super::EventError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditCategory {
    Impersonation,
    RoleChange,
    FailedLogin,
    Export,
    Deletion,
    Other,
}

impl AuditCategory {
    pub const ALL: [AuditCategory; 6] = [
        AuditCategory::Impersonation,
        AuditCategory::RoleChange,
        AuditCategory::FailedLogin,
        AuditCategory::Export,
        AuditCategory::Deletion,
        AuditCategory::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditCategory::Impersonation => "impersonation",
            AuditCategory::RoleChange => "role_change",
            AuditCategory::FailedLogin => "failed_login",
            AuditCategory::Export => "export",
            AuditCategory::Deletion => "deletion",
            AuditCategory::Other => "other",
        }
    }

    /// A category as the application names it.
    pub fn parse(text: &str) -> Result<Self, EventError> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str() == text)
            .ok_or_else(|| {
                EventError::field(
                    "category",
                    "must be one of impersonation, role_change, failed_login, export, deletion, other",
                )
            })
    }

    /// The category an action's words suggest (see the module docs).
    pub fn of_action(action: &str) -> Self {
        let words = words(action);
        let has = |list: &[&str]| words.iter().any(|w| list.contains(&w.as_str()));
        let joined = words.join(" ");
        let login = has(&[
            "login",
            "logon",
            "signin",
            "auth",
            "authentication",
            "password",
            "mfa",
            "2fa",
            "otp",
        ]) || joined.contains("sign in")
            || joined.contains("log in");
        let failed = has(&[
            "failed", "failure", "fail", "fails", "denied", "rejected", "invalid", "locked",
        ]);
        if has(&[
            "impersonate",
            "impersonation",
            "impersonated",
            "impersonating",
            "sudo",
            "hijack",
        ]) {
            AuditCategory::Impersonation
        } else if login && failed {
            AuditCategory::FailedLogin
        } else if has(&[
            "role",
            "roles",
            "permission",
            "permissions",
            "grant",
            "granted",
            "revoke",
            "revoked",
            "promote",
            "promoted",
            "demote",
            "demoted",
            "admin",
        ]) {
            AuditCategory::RoleChange
        } else if has(&["export", "exported", "download", "downloaded", "dump"]) {
            AuditCategory::Export
        } else if has(&[
            "delete",
            "deleted",
            "destroy",
            "destroyed",
            "remove",
            "removed",
            "purge",
            "purged",
            "erase",
            "erased",
        ]) {
            AuditCategory::Deletion
        } else {
            AuditCategory::Other
        }
    }

    pub fn is_highlight(self) -> bool {
        self != AuditCategory::Other
    }
}

impl fmt::Display for AuditCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AuditCategory {
    type Err = EventError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// The lower-case words of an action: split on punctuation, spaces and camelCase.
fn words(action: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut previous_lower = false;
    for c in action.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            previous_lower = false;
            continue;
        }
        if c.is_uppercase() && previous_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        previous_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}
