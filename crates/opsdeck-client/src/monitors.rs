//! Cron monitors through the admin API (`/ops/cron`), as `opsdeck cron import --apply`
//! creates them. [`NewCronMonitor`] is the one place the create request's shape lives:
//! the server's `CreateMonitor` (a monitor definition plus `reason`).

use reqwest::StatusCode;
use serde::Serialize;

use crate::{Client, Error, into_api_error};

/// The body of `POST /ops/cron`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewCronMonitor {
    pub slug: String,
    pub name: String,
    /// A five-field cron expression or `@` alias.
    pub schedule: String,
    /// An IANA time zone name.
    pub tz: String,
    /// Start paused (a suspended Kubernetes CronJob); left out when false.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,
    /// Why it is created, for the audit log (1–500 characters).
    pub reason: String,
}

/// What became of a create request that opsdeck accepted or declined politely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    Created,
    /// A monitor with that slug exists already (409); it was left as it is.
    AlreadyExists,
}

impl Client {
    /// `POST /ops/cron`; needs a token of a role that may create monitors (admin).
    pub async fn create_cron_monitor(&self, monitor: &NewCronMonitor) -> Result<Created, Error> {
        let response = self.post("ops/cron")?.json(monitor).send().await?;
        match response.status() {
            status if status.is_success() => Ok(Created::Created),
            StatusCode::CONFLICT => Ok(Created::AlreadyExists),
            _ => Err(into_api_error(response).await),
        }
    }

    fn post(&self, path: &str) -> Result<reqwest::RequestBuilder, Error> {
        let request = self.http.post(self.url(path)?);
        Ok(match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        })
    }
}
