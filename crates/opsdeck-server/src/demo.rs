//! `serve --demo`: a separate embedded database so demo data never mixes with real data, and
//! a scrape token so a newcomer can read `/metrics` at once. Each area seeds its own demo
//! data here as it arrives.

use std::time::Duration;

use crate::config::{CheckConfig, CheckType, Config, Secret};

/// The database a demo uses when none was configured explicitly.
pub const DEMO_DATABASE_URL: &str = "sqlite://opsdeck-demo.db";

/// What the demo set up that the user needs to know.
#[derive(Debug)]
pub struct DemoNotes {
    pub metrics_token: Option<String>,
}

/// Adjusts the configuration for a demo: its own database file unless one was given, and
/// a fresh scrape token unless one was configured.
pub fn prepare(config: &mut Config, database_given: bool) -> DemoNotes {
    if !database_given {
        config.database.url = Secret::new(DEMO_DATABASE_URL.to_owned());
    }
    let mut notes = DemoNotes {
        metrics_token: None,
    };
    if config.metrics.token.is_none() {
        let token = format!("demo-{}", uuid::Uuid::new_v4().simple());
        config.metrics.token = Some(Secret::new(token.clone()));
        notes.metrics_token = Some(token);
    }
    if config.health.checks.is_empty() {
        config.health.checks = demo_checks(config);
    }
    // The demo is served over plain HTTP on this machine; a `Secure` cookie would not be
    // sent back by every browser there.
    if config.server.listen.ip().is_loopback() {
        config.session.secure_cookie = false;
    }
    notes
}

/// Probes that work on any fresh machine, so the overview is alive at once: the demo's own
/// database file, a scratch directory, the disk, this server's own `/livez`, and one
/// non-critical probe of a port nothing listens on, so a failing tile can be seen.
fn demo_checks(config: &Config) -> Vec<CheckConfig> {
    let check = |name: &str, kind: CheckType| CheckConfig {
        interval: Some(Duration::from_secs(10)),
        ..CheckConfig::new(name, kind)
    };
    let mut checks = Vec::new();
    if let Some(file) = config
        .database
        .url
        .expose()
        .strip_prefix("sqlite://")
        .filter(|file| !file.is_empty() && !file.starts_with(':'))
    {
        checks.push(CheckConfig {
            path: Some(file.split('?').next().unwrap_or(file).into()),
            ..check("demo-sqlite", CheckType::Sqlite)
        });
    }
    checks.push(CheckConfig {
        path: Some(std::env::temp_dir()),
        ..check("scratch-dir", CheckType::Filesystem)
    });
    checks.push(CheckConfig {
        path: Some(".".into()),
        ..check("disk", CheckType::Disk)
    });
    checks.push(CheckConfig {
        url: Some(Secret::new(format!(
            "http://{}/livez",
            config.server.listen
        ))),
        warn_latency: Some(Duration::from_millis(250)),
        ..check("self-livez", CheckType::Http)
    });
    checks.push(CheckConfig {
        address: Some("127.0.0.1:9".to_owned()),
        critical: Some(false),
        timeout: Some(Duration::from_secs(1)),
        ..check("legacy-billing", CheckType::Tcp)
    });
    checks
}
