//! Pings to a cron monitor over opsdeck's healthchecks.io-compatible slug URLs
//! (`{base}/ping/{key}/{slug}[/start|/fail|/log|/{exit}]?rid=…`, plus `source=exec` from
//! `opsdeck exec`), sent as POST with the body as plain text. A [`Pinger`] retries what may pass on a second try (no connection,
//! no answer in time, 408, 429, 5xx) within one time budget, and gives up on what will
//! not (a refused key, an unknown slug).
//!
//! The ping key is part of the URL, so neither a [`Pinger`]'s `Debug` output nor any
//! error text here contains the URL.

use std::fmt;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use url::Url;
use uuid::Uuid;

use crate::Error;

/// What a ping says about the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Start,
    Success,
    Fail,
    /// Output only; the run's status is unchanged.
    Log,
    /// Finished with this exit status: 0 succeeded, anything else failed.
    Exit(u8),
}

impl Signal {
    fn path(self) -> Option<String> {
        match self {
            Signal::Start => Some("start".to_owned()),
            Signal::Success => None,
            Signal::Fail => Some("fail".to_owned()),
            Signal::Log => Some("log".to_owned()),
            Signal::Exit(code) => Some(code.to_string()),
        }
    }
}

/// Who sends a pinger's pings; opsdeck records it as each run's source. Anything but a
/// plain ping adds `source=…` to the URL, a parameter healthchecks.io ignores, so the same
/// URLs still work there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Source {
    /// A job pinging by itself (no parameter: what opsdeck assumes).
    #[default]
    Ping,
    /// `opsdeck exec` wrapping a command (`source=exec`).
    Exec,
}

impl Source {
    fn param(self) -> Option<&'static str> {
        match self {
            Source::Ping => None,
            Source::Exec => Some("exec"),
        }
    }
}

/// How hard one ping tries: up to `attempts` requests, all within `budget`, waiting
/// `backoff`, then twice that, between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub budget: Duration,
    pub backoff: Duration,
}

impl Default for RetryPolicy {
    /// Three tries in four seconds: a ping must never hold up the job it reports on.
    fn default() -> Self {
        Self {
            attempts: 3,
            budget: Duration::from_secs(4),
            backoff: Duration::from_millis(250),
        }
    }
}

impl RetryPolicy {
    /// One try, for when opsdeck was just found unreachable.
    pub fn once(budget: Duration) -> Self {
        Self {
            attempts: 1,
            budget,
            backoff: Duration::ZERO,
        }
    }
}

/// opsdeck took the ping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub status: u16,
    /// The most body bytes opsdeck keeps (`Ping-Body-Limit`), when it said.
    pub body_limit: Option<usize>,
}

/// Why a ping was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PingFailure {
    /// No connection, no answer in time or a server error, after every try.
    #[error("opsdeck could not be reached: {0}")]
    Unreachable(String),
    /// opsdeck answered and said no; trying again will not help.
    #[error("opsdeck refused the ping ({status}): {message}")]
    Refused { status: u16, message: String },
}

/// Sends pings for one monitor.
#[derive(Clone)]
pub struct Pinger {
    http: reqwest::Client,
    /// `{base}/ping/{key}/{slug}`: holds the key, so it is never printed.
    endpoint: Url,
    slug: String,
    create: bool,
    source: Source,
    policy: RetryPolicy,
}

impl fmt::Debug for Pinger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pinger")
            .field("slug", &self.slug)
            .field("create", &self.create)
            .field("source", &self.source)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Pinger {
    /// Pings `slug` with ingest key `key` at the opsdeck at `base_url`.
    pub fn new(base_url: &str, key: &str, slug: &str) -> Result<Self, Error> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: base_url.to_owned(),
            reason: reason.to_owned(),
        };
        let mut endpoint = Url::parse(base_url).map_err(|e| invalid(&e.to_string()))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(invalid("the scheme must be http or https"));
        }
        endpoint
            .path_segments_mut()
            .map_err(|()| invalid("it cannot be a base URL"))?
            .pop_if_empty()
            .extend(["ping", key, slug]);
        let http = reqwest::Client::builder()
            .user_agent(concat!("opsdeck-exec/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            endpoint,
            slug: slug.to_owned(),
            create: false,
            source: Source::default(),
            policy: RetryPolicy::default(),
        })
    }

    /// Asks opsdeck to create the monitor on its first ping (`?create=1`).
    pub fn create(mut self, create: bool) -> Self {
        self.create = create;
        self
    }

    /// Says who sends the pings (see [`Source`]).
    pub fn source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    pub fn slug(&self) -> &str {
        &self.slug
    }

    fn url(&self, signal: Signal, rid: Option<Uuid>) -> Url {
        let mut url = self.endpoint.clone();
        if let (Some(tail), Ok(mut segments)) = (signal.path(), url.path_segments_mut()) {
            segments.push(&tail);
        }
        {
            let mut query = url.query_pairs_mut();
            if let Some(rid) = rid {
                query.append_pair("rid", &rid.hyphenated().to_string());
            }
            if self.create {
                query.append_pair("create", "1");
            }
            if let Some(source) = self.source.param() {
                query.append_pair("source", source);
            }
        }
        if url.query() == Some("") {
            url.set_query(None);
        }
        url
    }

    /// Sends one ping with this pinger's policy.
    pub async fn send(
        &self,
        signal: Signal,
        rid: Option<Uuid>,
        body: Vec<u8>,
    ) -> Result<Delivered, PingFailure> {
        self.send_with(signal, rid, body, self.policy).await
    }

    /// Sends one ping, retrying as `policy` allows.
    pub async fn send_with(
        &self,
        signal: Signal,
        rid: Option<Uuid>,
        body: Vec<u8>,
        policy: RetryPolicy,
    ) -> Result<Delivered, PingFailure> {
        let url = self.url(signal, rid);
        let started = Instant::now();
        let attempts = policy.attempts.max(1);
        let slice = policy.budget / attempts;
        let mut backoff = policy.backoff;
        let mut last = String::from("no attempt was made");
        for attempt in 1..=attempts {
            let left = policy.budget.saturating_sub(started.elapsed());
            if left.is_zero() {
                break;
            }
            let timeout = slice.min(left);
            let request = self
                .http
                .post(url.clone())
                .timeout(timeout)
                .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(body.clone());
            match request.send().await {
                Ok(response) if response.status().is_success() => {
                    return Ok(Delivered {
                        status: response.status().as_u16(),
                        body_limit: body_limit(&response),
                    });
                }
                Ok(response) if retryable(response.status()) => {
                    last = format!("opsdeck answered {}", response.status());
                }
                Ok(response) => return Err(self.refused(response).await),
                Err(error) => last = describe(&error, timeout),
            }
            let left = policy.budget.saturating_sub(started.elapsed());
            if attempt < attempts && backoff < left {
                tokio::time::sleep(backoff).await;
                backoff *= 2;
            }
        }
        Err(PingFailure::Unreachable(last))
    }

    async fn refused(&self, response: reqwest::Response) -> PingFailure {
        let status = response.status();
        let message = match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                "the ping key was refused: check --key or OPSDECK_PING_KEY (an ingest key with the checkins scope)".to_owned()
            }
            StatusCode::NOT_FOUND => format!(
                "no monitor {:?}: create it (opsdeck cron import, POST /ops/cron) or pass --create",
                self.slug
            ),
            _ => {
                let text = response.text().await.unwrap_or_default();
                // Refusals come in opsdeck's error envelope; other servers send text.
                let message = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned))
                    .unwrap_or(text);
                let first = message.lines().next().unwrap_or("").trim();
                first.chars().take(200).collect()
            }
        };
        PingFailure::Refused {
            status: status.as_u16(),
            message,
        }
    }
}

fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

fn body_limit(response: &reqwest::Response) -> Option<usize> {
    response
        .headers()
        .get("ping-body-limit")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A transport error in a few words, without the URL (it holds the key).
fn describe(error: &reqwest::Error, timeout: Duration) -> String {
    if error.is_timeout() {
        return format!("no answer within {} ms", timeout.as_millis());
    }
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let what = if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    if std::ptr::addr_eq(cause, error) {
        what.to_owned()
    } else {
        format!("{what}: {cause}")
    }
}
