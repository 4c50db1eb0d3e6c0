//! The dashboard: pages, navigation, headers and assets over HTTP (`pages`), and the whole
//! flow in a real headless Chromium (`browser`): sign in, watch a check fail live, run a
//! check as an operator, sign out. The Cron pages and widget have their own (`cron`), and so
//! have the Queues pages, widget and demo (`queues`), a tenant's impersonations
//! (`impersonation`) and a tenant's page loading its sections (`tenants`).
//! Screenshots go to the test artifacts directory.

mod actions;
mod browser;
mod charts;
mod commands;
mod cron;
mod driver;
mod impersonation;
mod layout;
mod pages;
mod queues;
mod tenants;

use std::time::Duration;

use opsdeck_connectors::health::tcp::Tcp;
use opsdeck_core::secret::Secret;
use opsdeck_server::config::{CheckConfig, Config, WebhookConfig, WebhookFormat};
use reqwest::StatusCode;

use crate::support::app::TestApp;

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Probes every second, flips on the first differing result, and (with an address) a
/// critical TCP check named `dependency`.
fn fast_health(config: &mut Config, dependency: Option<String>) {
    config.health.own_database_interval = Duration::from_secs(1);
    config.health.flap_threshold = 1;
    if let Some(address) = dependency {
        config.health.checks = vec![CheckConfig {
            interval: Some(Duration::from_secs(1)),
            timeout: Some(Duration::from_secs(1)),
            ..CheckConfig::new("dependency", Tcp { address })
        }];
    }
}

/// Stands for the secret part of a webhook URL, which no page may show.
const WEBHOOK_SECRET: &str = "dashboard-hook-secret-0123456789";

/// One JSON webhook, `hook`, at `receiver`, retried quickly.
fn alerting(config: &mut Config, receiver: &crate::alerts::Receiver) {
    config.alerts.initial_backoff = Duration::from_millis(50);
    config.alerts.max_backoff = Duration::from_millis(200);
    config.alerts.webhooks = vec![WebhookConfig {
        name: "hook".to_owned(),
        url: Secret::new(receiver.url(&format!("hook/{WEBHOOK_SECRET}"))),
        format: WebhookFormat::Json,
        headers: Default::default(),
    }];
}

/// Signs in through the login form as a browser would; returns the `name=value` cookie.
async fn sign_in(app: &TestApp, token: &str) -> String {
    let response = client()
        .post(app.url("/login"))
        .header("sec-fetch-site", "same-origin")
        .form(&[("token", token), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie.split(';').next().unwrap().to_owned()
}

/// The `value` of the input named `name` in a page.
fn form_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name} in the page"))
        + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}
