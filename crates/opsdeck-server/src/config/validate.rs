//! Semantic checks that types cannot express: zero timeouts, lower bounds, rules between
//! keys. Each section lists its own problems; [`Config::problems`] gathers them all.

use std::time::Duration;

use super::model::{
    BackgroundConfig, Config, DatabaseConfig, LogConfig, MetricsConfig, RateLimitConfig,
    ServerConfig, SessionConfig,
};

/// Problems of one section: (key within the section, message).
type Problems = Vec<(&'static str, String)>;

/// The shortest leader lease: renewed every third of it, a shorter lease would have the
/// leader hammer the database and lose leadership on any hiccup.
const MIN_LEADER_LEASE: Duration = Duration::from_secs(3);

impl Config {
    /// Every semantic problem, as (key path, message). Empty when the values make sense.
    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        let sections = [
            ("server", self.server.problems()),
            ("database", self.database.problems()),
            ("log", self.log.problems()),
            ("metrics", self.metrics.problems()),
            ("background", self.background.problems()),
            ("auth", self.auth.problems(&self.server.trusted_proxies)),
            ("rate_limit", self.rate_limit.problems()),
            ("session", self.session.problems()),
        ];
        sections
            .into_iter()
            .flat_map(|(section, problems)| {
                problems
                    .into_iter()
                    .map(move |(key, message)| (format!("{section}.{key}"), message))
            })
            .chain(
                [
                    ("audit", self.audit.problems()),
                    ("health", self.health.problems()),
                    ("alerts", self.alerts.problems()),
                    ("cron", self.cron.problems()),
                    ("queues", self.queues.problems()),
                    ("impersonation", self.impersonation.problems()),
                    ("tenants", self.tenants.problems()),
                    ("events", self.events.problems()),
                ]
                .into_iter()
                .flat_map(|(section, problems)| {
                    problems
                        .into_iter()
                        .map(move |(key, message)| (format!("{section}.{key}"), message))
                }),
            )
            .collect()
    }
}

/// Adds a problem for a zero duration.
fn positive(out: &mut Problems, key: &'static str, value: Duration) {
    if value.is_zero() {
        out.push((key, "must be greater than zero".to_owned()));
    }
}

impl ServerConfig {
    fn problems(&self) -> Problems {
        let mut out = Problems::new();
        positive(&mut out, "request_timeout", self.request_timeout);
        positive(&mut out, "shutdown_grace", self.shutdown_grace);
        positive(&mut out, "header_timeout", self.header_timeout);
        positive(&mut out, "body_timeout", self.body_timeout);
        for (key, value) in [
            ("body_limit", self.body_limit),
            ("max_connections", self.max_connections),
            (
                "max_connections_per_client",
                self.max_connections_per_client,
            ),
        ] {
            if value == 0 {
                out.push((key, "must be greater than zero".to_owned()));
            }
        }
        out
    }
}

impl DatabaseConfig {
    fn problems(&self) -> Problems {
        let mut out = Problems::new();
        // Only the scheme is named in messages: the rest of the URL may hold a password.
        let url = self.url.expose();
        let supported = ["sqlite:", "postgres://", "postgresql://"];
        if url.trim().is_empty() {
            out.push(("url", "must not be empty".to_owned()));
        } else if !supported.iter().any(|prefix| url.starts_with(prefix)) {
            out.push((
                "url",
                "unsupported database URL; expected sqlite://FILE or postgres://…".to_owned(),
            ));
        }
        if self.max_connections == 0 {
            out.push(("max_connections", "must be at least 1".to_owned()));
        }
        positive(&mut out, "acquire_timeout", self.acquire_timeout);
        out
    }
}

impl LogConfig {
    fn problems(&self) -> Problems {
        let mut out = Problems::new();
        if self.level.trim().is_empty() {
            out.push((
                "level",
                "must not be empty; e.g. \"info\" or \"opsdeck=debug,info\"".to_owned(),
            ));
        }
        out
    }
}

impl MetricsConfig {
    fn problems(&self) -> Problems {
        let mut out = Problems::new();
        if self
            .token
            .as_ref()
            .is_some_and(|t| t.expose().trim().is_empty())
        {
            // An empty token would let `Authorization: Bearer ` scrape; leave it unset instead.
            out.push((
                "token",
                "must not be empty; leave it unset to disable /metrics".to_owned(),
            ));
        }
        out
    }
}

impl BackgroundConfig {
    fn problems(&self) -> Problems {
        let mut out = Problems::new();
        if self.leader_lease < MIN_LEADER_LEASE {
            out.push((
                "leader_lease",
                format!(
                    "must be at least {} (it is renewed every third of it)",
                    humantime::format_duration(MIN_LEADER_LEASE)
                ),
            ));
        }
        positive(&mut out, "heartbeat_interval", self.heartbeat_interval);
        if self.instance_retention <= self.heartbeat_interval {
            out.push((
                "instance_retention",
                format!(
                    "must be longer than background.heartbeat_interval ({}), or live replicas are pruned",
                    humantime::format_duration(self.heartbeat_interval)
                ),
            ));
        }
        out
    }
}

impl SessionConfig {
    fn problems(&self) -> Problems {
        let mut out = Problems::new();
        positive(&mut out, "idle_timeout", self.idle_timeout);
        if self.absolute_timeout < self.idle_timeout {
            out.push((
                "absolute_timeout",
                "must be at least session.idle_timeout".to_owned(),
            ));
        }
        out
    }
}

impl RateLimitConfig {
    fn problems(&self) -> Problems {
        let mut out = Problems::new();
        // A zero rate or burst would refuse every request; `enabled = false` is the way off.
        for (key, value) in [
            ("reads_per_minute", self.reads_per_minute),
            ("read_burst", self.read_burst),
            ("writes_per_minute", self.writes_per_minute),
            ("write_burst", self.write_burst),
            ("failed_auth_per_minute", self.failed_auth_per_minute),
            ("failed_auth_burst", self.failed_auth_burst),
            ("ingest_per_minute", self.ingest_per_minute),
            ("ingest_burst", self.ingest_burst),
        ] {
            if value == 0 {
                out.push((
                    key,
                    "must be at least 1; set rate_limit.enabled = false to turn limits off"
                        .to_owned(),
                ));
            }
        }
        out
    }
}
