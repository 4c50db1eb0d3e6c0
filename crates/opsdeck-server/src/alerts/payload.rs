//! What a webhook receives: opsdeck's own JSON document, or a Slack-compatible message.
//!
//! # The JSON document (`format = "json"`)
//!
//! A stable shape; fields are only ever added. `detail` and `from` may be `null`; `link` is
//! absolute when `alerts.dashboard_url` is set, else a dashboard path.
//!
//! ```json
//! {
//!   "type": "opsdeck.alert",
//!   "event": {
//!     "id": "0193…",            // UUIDv7; the same for every webhook and every retry
//!     "source": "health",       // health | cron
//!     "subject": "db",          // check name or monitor slug
//!     "kind": "down",           // down | degraded | recovered
//!     "from": "pass", "to": "fail",
//!     "summary": "health check db is failing",
//!     "detail": "connection refused",
//!     "link": "https://ops.example.com/health/db",
//!     "at": "2026-01-01T12:00:00Z"
//!   },
//!   "delivery": { "id": "0193…", "webhook": "ops", "attempt": 1 },
//!   "opsdeck": { "version": "0.1.0" }
//! }
//! ```
//!
//! Receivers deduplicate by `event.id`: delivery is at least once. The same ids travel in
//! the `X-Opsdeck-Event` and `X-Opsdeck-Delivery` headers.
//!
//! # Slack-compatible (`format = "slack"`)
//!
//! `text` (the notification line, with a status emoji) and one legacy `attachments` entry
//! with a colour, the link, the status change and the detail in a code block: the form that
//! Slack, Mattermost, Rocket.Chat and Discord's `/slack` endpoint all render.

use opsdeck_core::alert::{AlertEvent, AlertKind, Delivery};
use serde_json::{Value, json};

use crate::config::WebhookFormat;

/// The body for `format`, as bytes ready to send.
pub fn body(format: WebhookFormat, delivery: &Delivery, dashboard_url: Option<&str>) -> Vec<u8> {
    let value = match format {
        WebhookFormat::Json => json_document(delivery, dashboard_url),
        WebhookFormat::Slack => slack_message(&delivery.event, dashboard_url),
    };
    // Serializing a `Value` cannot fail.
    serde_json::to_vec(&value).unwrap_or_default()
}

/// opsdeck's own document; `delivery.attempts` is the count before this attempt.
pub fn json_document(delivery: &Delivery, dashboard_url: Option<&str>) -> Value {
    let event = &delivery.event;
    json!({
        "type": "opsdeck.alert",
        "event": {
            "id": event.id,
            "source": event.source.as_str(),
            "subject": event.subject,
            "kind": event.kind.as_str(),
            "from": event.from,
            "to": event.to,
            "summary": event.summary,
            "detail": event.detail,
            "link": absolute_link(&event.link, dashboard_url),
            "at": event.at,
        },
        "delivery": {
            "id": delivery.id,
            "webhook": delivery.webhook,
            "attempt": delivery.attempts.saturating_add(1),
        },
        "opsdeck": { "version": crate::app::VERSION },
    })
}

/// A Slack-compatible incoming-webhook message.
pub fn slack_message(event: &AlertEvent, dashboard_url: Option<&str>) -> Value {
    let (emoji, color) = match event.kind {
        AlertKind::Down => (":red_circle:", "#d0312d"),
        AlertKind::Degraded => (":large_yellow_circle:", "#e8a317"),
        AlertKind::Recovered => (":large_green_circle:", "#2e8540"),
    };
    let subject = escape(&event.subject);
    let headline = format!(
        "{emoji} {subject} is {}: {}",
        event.kind.as_str(),
        escape(&event.summary)
    );
    let link = absolute_link(&event.link, dashboard_url);
    let linked = link.starts_with("http://") || link.starts_with("https://");
    let mut text = escape(&event.summary);
    if let Some(detail) = &event.detail {
        // A fence inside the detail would end the code block early.
        text.push_str(&format!(
            "\n```{}```",
            escape(&detail.replace("```", "'''"))
        ));
    }
    if !linked {
        text.push_str(&format!("\n{}", escape(&link)));
    }
    let change = match &event.from {
        Some(from) => format!("{} → {}", escape(from), escape(&event.to)),
        None => escape(&event.to),
    };
    let mut attachment = json!({
        "fallback": headline,
        "color": color,
        "title": format!("{subject} is {}", event.kind.as_str()),
        "text": text,
        "fields": [
            { "title": "Status", "value": change, "short": true },
            { "title": "Source", "value": event.source.as_str(), "short": true },
        ],
        "footer": "opsdeck",
        "ts": event.at.timestamp(),
        "mrkdwn_in": ["text"],
    });
    if linked {
        attachment["title_link"] = Value::String(link);
    }
    json!({ "text": headline, "attachments": [attachment] })
}

/// The event's link made absolute with the dashboard's address, when it is a path and the
/// address is configured.
pub fn absolute_link(link: &str, dashboard_url: Option<&str>) -> String {
    match dashboard_url {
        Some(base) if link.starts_with('/') && !link.starts_with("//") => {
            format!("{}{link}", base.trim_end_matches('/'))
        }
        _ => link.to_owned(),
    }
}

/// Slack's three control characters in message text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
