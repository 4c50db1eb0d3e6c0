//! `[alerts]`: where status changes are announced. Every `[[alerts.webhooks]]` entry gets
//! one notification per change (a check flips; later, a cron monitor goes down or
//! recovers), delivered in the background with retries.

use std::collections::BTreeMap;
use std::time::Duration;

use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};

use super::duration;

/// `[alerts]`: webhooks and delivery policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlertsConfig {
    /// Attempts per notification before it is given up as failed.
    pub max_attempts: u32,
    /// Wait before the first retry; doubled after each failed attempt.
    #[serde(with = "duration")]
    pub initial_backoff: Duration,
    /// The longest wait between attempts.
    #[serde(with = "duration")]
    pub max_backoff: Duration,
    /// Longest a webhook may take to answer one attempt.
    #[serde(with = "duration")]
    pub timeout: Duration,
    /// How long delivered and failed deliveries stay in the delivery log.
    #[serde(with = "duration")]
    pub retention: Duration,
    /// The dashboard's public address (`https://ops.example.com`), for links in
    /// notifications. Unset: notifications carry paths only.
    pub dashboard_url: Option<String>,
    /// `[[alerts.webhooks]]`: receivers.
    pub webhooks: Vec<WebhookConfig>,
}

impl Default for AlertsConfig {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            initial_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            retention: Duration::from_secs(30 * 24 * 3600),
            dashboard_url: None,
            webhooks: Vec::new(),
        }
    }
}

/// One `[[alerts.webhooks]]` receiver.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Unique; names the receiver in the delivery log.
    pub name: String,
    /// Where to POST; webhook URLs usually embed a secret, so `env:NAME` is welcome.
    pub url: Secret,
    /// `json` (opsdeck's own payload) or `slack` (Slack-compatible incoming webhook).
    #[serde(default)]
    pub format: WebhookFormat,
    /// Extra request headers; values may be `env:NAME` secrets.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    #[default]
    Json,
    Slack,
}

impl AlertsConfig {
    pub(crate) fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if self.max_attempts == 0 {
            out.push(("max_attempts".to_owned(), "must be at least 1".to_owned()));
        }
        for (key, value) in [
            ("initial_backoff", self.initial_backoff),
            ("max_backoff", self.max_backoff),
            ("timeout", self.timeout),
            ("retention", self.retention),
        ] {
            if value.is_zero() {
                out.push((key.to_owned(), "must be greater than zero".to_owned()));
            }
        }
        if self.max_backoff < self.initial_backoff {
            out.push((
                "max_backoff".to_owned(),
                "must be at least initial_backoff".to_owned(),
            ));
        }
        if let Some(base) = &self.dashboard_url
            && url::Url::parse(base).is_err()
        {
            out.push((
                "dashboard_url".to_owned(),
                format!("\"{base}\" is not an absolute URL, e.g. \"https://ops.example.com\""),
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (index, hook) in self.webhooks.iter().enumerate() {
            let prefix = format!("webhooks[{index}]");
            if hook.name.trim().is_empty() {
                out.push((format!("{prefix}.name"), "must not be empty".to_owned()));
            } else if !seen.insert(hook.name.clone()) {
                out.push((
                    format!("{prefix}.name"),
                    format!("webhook name \"{}\" is used twice", hook.name),
                ));
            }
            match url::Url::parse(hook.url.expose()) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                // The URL is a secret: say what is wrong without repeating it.
                _ => out.push((
                    format!("{prefix}.url"),
                    "must be an absolute http:// or https:// URL".to_owned(),
                )),
            }
            for name in hook.headers.keys() {
                if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    out.push((
                        format!("{prefix}.headers.{name}"),
                        "is not a valid HTTP header name".to_owned(),
                    ));
                }
            }
        }
        out
    }
}
