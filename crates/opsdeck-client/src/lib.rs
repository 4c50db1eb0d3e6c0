//! A Rust client for opsdeck, for the application's own processes and for tooling.
//! It speaks opsdeck's HTTP API: probes, cron monitors ([`NewCronMonitor`]) and pings
//! ([`ping::Pinger`], and [`exec`], which wraps a command in them); jobs and events as
//! those APIs arrive.
//!
//! ```no_run
//! # async fn demo() -> Result<(), opsdeck_client::Error> {
//! let client = opsdeck_client::Client::new("http://127.0.0.1:8080")?;
//! if !client.ready().await?.is_ready() {
//!     eprintln!("opsdeck cannot serve right now");
//! }
//! # Ok(()) }
//! ```

pub mod exec;
mod monitors;
pub mod ping;
pub mod tail;

use std::time::Duration;

pub use monitors::{Created, NewCronMonitor};
use serde::Deserialize;
use url::Url;

/// What went wrong talking to opsdeck.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid opsdeck URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("could not reach opsdeck: {0}")]
    Transport(#[from] reqwest::Error),
    /// opsdeck answered with its error envelope.
    #[error("opsdeck answered {status}: {code}: {message} (request id {request_id})")]
    Api {
        status: u16,
        code: String,
        message: String,
        request_id: String,
    },
}

/// The outcome of a readiness probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    /// Not ready, with opsdeck's one-line reason.
    NotReady(String),
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }
}

#[derive(Debug, Deserialize)]
struct Envelope {
    error: EnvelopeDetail,
}

#[derive(Debug, Deserialize)]
struct EnvelopeDetail {
    code: String,
    message: String,
    #[serde(default)]
    request_id: String,
}

#[derive(Debug, Clone)]
pub struct Client {
    base: Url,
    http: reqwest::Client,
    token: Option<String>,
}

impl Client {
    /// A client for the opsdeck at `base_url` with a 10-second request timeout.
    pub fn new(base_url: &str) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .user_agent(concat!("opsdeck-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Self::with_http_client(base_url, http)
    }

    /// A client that reuses a configured `reqwest::Client` (timeouts, proxies, TLS roots).
    pub fn with_http_client(base_url: &str, http: reqwest::Client) -> Result<Self, Error> {
        let invalid = |reason: String| Error::InvalidUrl {
            url: base_url.to_owned(),
            reason,
        };
        let mut base = Url::parse(base_url).map_err(|e| invalid(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https".to_owned()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        Ok(Self {
            base,
            http,
            token: None,
        })
    }

    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    fn url(&self, path: &str) -> Result<Url, Error> {
        self.base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::InvalidUrl {
                url: path.to_owned(),
                reason: e.to_string(),
            })
    }

    fn get(&self, path: &str) -> Result<reqwest::RequestBuilder, Error> {
        let mut request = self.http.get(self.url(path)?);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        Ok(request)
    }

    /// Whether the opsdeck process is alive (`/livez`).
    pub async fn alive(&self) -> Result<bool, Error> {
        Ok(self.get("livez")?.send().await?.status().is_success())
    }

    /// Whether opsdeck can serve (`/readyz`): its database answers and it is not draining.
    pub async fn ready(&self) -> Result<Readiness, Error> {
        let response = self.get("readyz")?.send().await?;
        if response.status().is_success() {
            return Ok(Readiness::Ready);
        }
        match into_api_error(response).await {
            Error::Api {
                status: 503,
                message,
                ..
            } => Ok(Readiness::NotReady(message)),
            other => Err(other),
        }
    }
}

/// Turns a non-success response into [`Error::Api`], reading the envelope when present.
async fn into_api_error(response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    match response.json::<Envelope>().await {
        Ok(envelope) => Error::Api {
            status,
            code: envelope.error.code,
            message: envelope.error.message,
            request_id: envelope.error.request_id,
        },
        Err(_) => Error::Api {
            status,
            code: "unexpected_response".to_owned(),
            message: format!("HTTP {status} without an opsdeck error body"),
            request_id: String::new(),
        },
    }
}
