//! Which [`Format`] a file is in: named by the user (`--format`) or guessed from the
//! file's path and content.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::crontab;

/// What kind of file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// A user's crontab (`crontab -l`): five time fields, then the command.
    Crontab,
    /// `/etc/crontab` or a file in `/etc/cron.d`: five time fields, a user, the command.
    SystemCrontab,
    /// Kubernetes manifests, one or more YAML documents; only `kind: CronJob` is read.
    Kubernetes,
    /// A `vercel.json`: its `crons` array, always in UTC.
    Vercel,
}

impl Format {
    pub const NAMES: &'static str = "crontab, system-crontab, k8s or vercel";

    /// The format a file probably has, from its path first and its content second.
    pub fn guess(path: &Path, text: &str) -> Format {
        let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let in_cron_d = path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|dir| dir == "cron.d");
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let first = text.trim_start();
        if file_name == "vercel.json" || (first.starts_with('{') && text.contains("\"crons\"")) {
            Format::Vercel
        } else if matches!(extension, "yaml" | "yml")
            || text.lines().any(|l| l.starts_with("apiVersion:"))
        {
            Format::Kubernetes
        } else if in_cron_d || path.ends_with("etc/crontab") || crontab::looks_like_system(text) {
            Format::SystemCrontab
        } else {
            Format::Crontab
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Crontab => "crontab",
            Format::SystemCrontab => "system-crontab",
            Format::Kubernetes => "k8s",
            Format::Vercel => "vercel",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "crontab" | "user-crontab" => Ok(Format::Crontab),
            "system-crontab" | "system" | "cron.d" | "etc-crontab" => Ok(Format::SystemCrontab),
            "k8s" | "kubernetes" | "cronjob" => Ok(Format::Kubernetes),
            "vercel" | "vercel.json" => Ok(Format::Vercel),
            other => Err(format!("unknown format {other:?}: use {}", Format::NAMES)),
        }
    }
}
