//! Roles and the permissions they grant: the single definition of SPEC §2's table.
//! Routes name a [`Permission`]; principals carry a [`Role`]; [`Role::allows`] decides.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A principal's role. A principal has exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Viewer,
    Operator,
    Support,
    Admin,
}

/// What a route needs. Each route in the route table names exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    /// Read health, cron, queues and job summaries.
    ReadOps,
    /// Retry / discard jobs, pause / resume queues and monitors, trigger runs, run checks.
    OperateOps,
    /// Tenant diagnostics under `/ops/tenants`.
    ReadTenants,
    /// Start and end impersonation sessions.
    Impersonate,
    /// Audit log, tokens and keys, monitor configuration.
    Administer,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::ReadOps,
        Permission::OperateOps,
        Permission::ReadTenants,
        Permission::Impersonate,
        Permission::Administer,
    ];

    /// What the permission allows, as the end of "role X may not …".
    pub fn describe(self) -> &'static str {
        match self {
            Permission::ReadOps => "read operational data",
            Permission::OperateOps => "operate jobs, queues, monitors and checks",
            Permission::ReadTenants => "read tenant diagnostics",
            Permission::Impersonate => "impersonate tenant users",
            Permission::Administer => "administer opsdeck",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ReadOps => "read_ops",
            Permission::OperateOps => "operate_ops",
            Permission::ReadTenants => "read_tenants",
            Permission::Impersonate => "impersonate",
            Permission::Administer => "administer",
        }
    }
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Support, Role::Admin];

    /// The permission table of SPEC §2.
    pub fn allows(self, permission: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Admin => true,
            Role::Viewer => matches!(permission, ReadOps),
            Role::Operator => matches!(permission, ReadOps | OperateOps),
            Role::Support => matches!(permission, ReadOps | ReadTenants | Impersonate),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Support => "support",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a principal proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    Token,
    Session,
    Oidc,
    Proxy,
    /// The server's command line (`opsdeck token …`), run by whoever can reach the database.
    Cli,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 5] = [
        AuthMethod::Token,
        AuthMethod::Session,
        AuthMethod::Oidc,
        AuthMethod::Proxy,
        AuthMethod::Cli,
    ];

    /// Reads back [`AuthMethod::as_str`] exactly, as the stores keep it.
    pub fn parse(text: &str) -> Option<AuthMethod> {
        AuthMethod::ALL.into_iter().find(|m| m.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Token => "token",
            AuthMethod::Session => "session",
            AuthMethod::Oidc => "oidc",
            AuthMethod::Proxy => "proxy",
            AuthMethod::Cli => "cli",
        }
    }
}

/// An authenticated internal user or automation, as seen by authorization and the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub method: AuthMethod,
}

/// The text was not one of `viewer`, `operator`, `support`, `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}: expected one of viewer, operator, support, admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownRole(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Permission::*;

    #[test]
    fn table_of_spec_section_two() {
        let expect = |role: Role, granted: &[Permission]| {
            for p in Permission::ALL {
                assert_eq!(role.allows(p), granted.contains(&p), "{role} / {p:?}");
            }
        };
        expect(Role::Viewer, &[ReadOps]);
        expect(Role::Operator, &[ReadOps, OperateOps]);
        expect(Role::Support, &[ReadOps, ReadTenants, Impersonate]);
        expect(Role::Admin, &Permission::ALL);
    }

    #[test]
    fn roles_parse_case_insensitively_and_reject_others() {
        assert_eq!("Operator".parse::<Role>(), Ok(Role::Operator));
        assert_eq!(" admin ".parse::<Role>(), Ok(Role::Admin));
        assert!("root".parse::<Role>().is_err());
        assert!("".parse::<Role>().is_err());
    }
}
