//! What a failed load reports: every problem with its key path and the layer it came from
//! ([`Origin`]), so an operator can fix them all in one pass.
//!
//! Messages never contain a secret value: secrets are only named by key path or by the
//! environment variable they reference.

use std::fmt;

/// The layer a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in defaults.
    Default,
    /// A configuration file (its path as given).
    File(String),
    /// An environment variable (its name).
    Env(String),
    /// A command-line flag (e.g. `--listen`).
    Flag(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Default => f.write_str("built-in defaults"),
            Self::File(path) => f.write_str(path),
            Self::Env(name) => write!(f, "environment variable {name}"),
            Self::Flag(flag) => write!(f, "flag {flag}"),
        }
    }
}

/// One problem found while loading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Key path such as `server.trusted_proxies[1]`; empty for a problem with a whole layer
    /// (an unreadable file, a TOML syntax error).
    pub path: String,
    /// What is wrong, and where possible what is expected.
    pub message: String,
    /// Where the offending value came from.
    pub origin: Origin,
}

impl ConfigIssue {
    pub(crate) fn new(path: impl Into<String>, message: impl Into<String>, origin: Origin) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
            origin,
        }
    }
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}: {}", self.origin, self.message)
        } else {
            write!(f, "{}: {} (in {})", self.path, self.message, self.origin)
        }
    }
}

/// Every problem found while loading; never empty. `Display` prints one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    issues: Vec<ConfigIssue>,
}

impl ConfigErrors {
    /// `None` when there is nothing to report.
    pub(crate) fn from_issues(issues: Vec<ConfigIssue>) -> Option<Self> {
        (!issues.is_empty()).then_some(Self { issues })
    }

    /// The problems: those of whole layers first, then unknown keys and values that do not
    /// parse, then failed semantic checks.
    pub fn issues(&self) -> &[ConfigIssue] {
        &self.issues
    }

    /// Whether some problem is at `path`.
    pub fn has(&self, path: &str) -> bool {
        self.issues.iter().any(|issue| issue.path == path)
    }
}

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, issue) in self.issues.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{issue}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl IntoIterator for ConfigErrors {
    type Item = ConfigIssue;
    type IntoIter = std::vec::IntoIter<ConfigIssue>;

    fn into_iter(self) -> Self::IntoIter {
        self.issues.into_iter()
    }
}
