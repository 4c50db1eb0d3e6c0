//! Firing one HTTP cron job: the start ping (committed before anything is sent, so every
//! call the endpoint sees has a run), the request, and the finish ping with what the
//! endpoint answered.
//!
//! The finish ping's body becomes the run's log excerpt and, on failure, its error snippet,
//! which keeps the *tail* of at most [`ERROR_MAX_BYTES`]: the body is kept within that
//! size so the status line at its head survives. It never carries the URL, its query or a
//! header value: those may be `env:` secrets, and the endpoint may echo them back.
//!
//! A call still going when shutdown abandons it ([`crate::cron::Firings::drain`]) ends
//! as a failed run saying so, rather than a run left `running`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use opsdeck_core::Clock;
use opsdeck_core::cron::{ERROR_MAX_BYTES, Ping, PingKind, RunSource};
use opsdeck_core::ids::Slug;
use opsdeck_core::secret::REDACTED;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode};
use tokio_util::sync::CancellationToken;
use uuid::{NoContext, Timestamp, Uuid};

use crate::config::JobRequest;
use crate::cron::ingest::{Ingest, IngestError, PingRequest, Provision};
use crate::error::chain;

/// How long a call may take when the job sets no `timeout`.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The most of a response body kept for the run: the start of an error page says what
/// went wrong. Leaves room for the status line within [`ERROR_MAX_BYTES`].
const SNIPPET_BYTES: usize = 768;

/// The most of a response body read at all. The body is read to its end below this,
/// because many endpoints do their work while they write it and stop when the caller
/// hangs up; past it, the caller hangs up anyway rather than download an export.
const READ_MAX: usize = 1024 * 1024;

/// The run's text when shutdown abandoned the call.
const ABANDONED: &str = "opsdeck shut down before the endpoint answered (the shutdown grace ran out); the call was abandoned";

/// Secrets shorter than this are not searched for in the run's text: masking every `a`
/// of a one-letter header value would only garble the snippet.
const SECRET_MIN_CHARS: usize = 4;

/// Builds the client that fires jobs. Redirects are not followed: a redirected POST
/// arrives as a GET elsewhere, so a 3xx is an answer like any other (a failure, unless it
/// is the `expect_status`).
pub(super) fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("opsdeck-scheduler/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// What firing a job needs; cheap to clone into each firing's task.
#[derive(Debug, Clone)]
pub(super) struct Firer {
    pub ingest: Ingest,
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
    /// Cancelled when shutdown abandons the calls in flight.
    pub abandoned: CancellationToken,
}

impl Firer {
    /// Records the start of a new run of `slug` (source `scheduler`), expected at `slot`
    /// when it fires one (`None` for a manual trigger), and answers its id once committed.
    pub async fn start(
        &self,
        slug: &Slug,
        slot: Option<DateTime<Utc>>,
    ) -> Result<Uuid, IngestError> {
        let now = self.clock.now();
        let rid = run_id(now);
        let mut ping = Ping::new(PingKind::Start, RunSource::Scheduler).with_rid(rid);
        if let Some(slot) = slot {
            // The monitor cannot tell which slot a run is for until it has heard from the
            // job once; the scheduler knows, and says so (as the call's header does).
            ping = ping.with_slot(slot);
        }
        let accepted = self.submit(slug, ping, now).await?;
        Ok(accepted.unwrap_or(rid))
    }

    /// Calls the endpoint and records how the run `rid` ended. Meant for a task of its
    /// own: it takes as long as the endpoint does, up to the job's timeout, unless
    /// shutdown abandons it sooner. `slot` is the scheduled time the call is for (`None`
    /// for a manual trigger).
    pub async fn finish(
        self,
        slug: Slug,
        request: Arc<JobRequest>,
        rid: Uuid,
        slot: Option<DateTime<Utc>>,
    ) {
        let answered = tokio::select! {
            // An abandoned firing does not start its call.
            biased;
            () = self.abandoned.cancelled() => Err(ABANDONED.to_owned()),
            answered = call(&self.http, &request, rid, slot) => answered,
        };
        let (kind, text) = match answered {
            Ok(text) => (PingKind::Success, text),
            Err(text) => (PingKind::Fail, text),
        };
        let body = cut(&scrub(&text, &request), ERROR_MAX_BYTES);
        let ping = Ping::new(kind, RunSource::Scheduler)
            .with_rid(rid)
            .with_body(body);
        match self.submit(&slug, ping, self.clock.now()).await {
            // The run carries the details, and a failing job alerts: no log line per run.
            Ok(_) => tracing::debug!(
                slug = %slug, run_id = %rid, success = kind == PingKind::Success,
                "HTTP cron job run recorded"
            ),
            // The run stays `running` until its max_runtime, if any, times it out.
            Err(err) => tracing::warn!(
                slug = %slug, run_id = %rid, error = %err,
                "could not record how an HTTP cron job run ended"
            ),
        }
    }

    async fn submit(
        &self,
        slug: &Slug,
        ping: Ping,
        now: DateTime<Utc>,
    ) -> Result<Option<Uuid>, IngestError> {
        let request = PingRequest {
            slug: slug.clone(),
            ping,
            provision: Provision::Existing,
            received_at: now,
        };
        Ok(self.ingest.submit(request).await?.run_id)
    }
}

/// A UUIDv7 stamped by the injected clock, like the run ids opsdeck makes elsewhere, so
/// runs sort by when they started.
fn run_id(now: DateTime<Utc>) -> Uuid {
    let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
    Uuid::new_v7(Timestamp::from_unix(
        NoContext,
        seconds,
        now.timestamp_subsec_nanos(),
    ))
}

/// Tells the endpoint which run a call is (`X-Opsdeck-Run-Id`) and, for a scheduled call,
/// which slot (`X-Opsdeck-Scheduled-For`, RFC 3339): an endpoint that must not act twice for
/// one slot can key on it.
const RUN_ID_HEADER: &str = "x-opsdeck-run-id";
const SLOT_HEADER: &str = "x-opsdeck-scheduled-for";

/// Makes the call: `Ok` with the answer when it counts as success, `Err` with why not.
async fn call(
    http: &reqwest::Client,
    request: &JobRequest,
    rid: Uuid,
    slot: Option<DateTime<Utc>>,
) -> Result<String, String> {
    let method = match request.method.as_deref() {
        None => Method::POST,
        Some(name) => Method::from_bytes(name.to_ascii_uppercase().as_bytes())
            .map_err(|_| "the job's method is not a valid HTTP method".to_owned())?,
    };
    let url = reqwest::Url::parse(request.url.expose())
        .map_err(|err| format!("the job's url is not a valid URL: {err}"))?;
    let mut headers = HeaderMap::new();
    for (name, value) in &request.headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("header `{name}` is not a valid HTTP header name"))?;
        let mut value = HeaderValue::from_str(value.expose())
            .map_err(|_| format!("the value of header `{name}` is not valid in HTTP"))?;
        value.set_sensitive(true);
        headers.append(header, value);
    }
    let ours = std::iter::once((RUN_ID_HEADER, rid.to_string())).chain(slot.map(|slot| {
        (
            SLOT_HEADER,
            slot.to_rfc3339_opts(SecondsFormat::Millis, true),
        )
    }));
    for (name, value) in ours {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    let timeout = request.timeout.unwrap_or(DEFAULT_TIMEOUT);
    let mut builder = http
        .request(method.clone(), url)
        .headers(headers)
        .timeout(timeout);
    if matches!(method, Method::POST | Method::PUT | Method::PATCH) {
        // An explicit empty body sends `Content-Length: 0`, which some servers demand.
        builder = builder.body(Vec::new());
    }
    let mut response = builder.send().await.map_err(|err| describe(err, timeout))?;
    let status = response.status();
    let (start, unread) = read_start(&mut response, timeout).await;
    let snippet = String::from_utf8_lossy(&start);
    let snippet = snippet.trim();
    let success = match request.expect_status {
        Some(expected) => status.as_u16() == expected,
        None => status.is_success(),
    };
    let mut text = status_line(status);
    if !success {
        let expected = request
            .expect_status
            .map_or_else(|| "2xx".to_owned(), |s| s.to_string());
        text.push_str(&format!(" (expected {expected})"));
    }
    if let Some(why) = &unread {
        text.push_str(&format!(", then the response failed: {why}"));
    }
    if !snippet.is_empty() {
        text.push_str(": ");
        text.push_str(snippet);
    }
    if success && unread.is_none() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// `HTTP 503 Service Unavailable`.
fn status_line(status: StatusCode) -> String {
    match status.canonical_reason() {
        Some(reason) => format!("HTTP {} {reason}", status.as_u16()),
        None => format!("HTTP {}", status.as_u16()),
    }
}

/// The first [`SNIPPET_BYTES`] of the body, reading on to its end (or [`READ_MAX`]); and
/// why the body broke off, if it did.
async fn read_start(
    response: &mut reqwest::Response,
    timeout: Duration,
) -> (Vec<u8>, Option<String>) {
    let mut start = Vec::new();
    let mut read = 0usize;
    while read < READ_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = SNIPPET_BYTES.saturating_sub(start.len());
                start.extend_from_slice(&chunk[..chunk.len().min(room)]);
                read = read.saturating_add(chunk.len());
            }
            Ok(None) => break,
            Err(err) => return (start, Some(describe(err, timeout))),
        }
    }
    (start, None)
}

/// A transport error in words, without the URL (which may carry a secret).
fn describe(err: reqwest::Error, timeout: Duration) -> String {
    let err = err.without_url();
    if err.is_timeout() {
        format!("no answer within {}", humantime::format_duration(timeout))
    } else if err.is_connect() {
        format!("could not connect: {}", chain(&err))
    } else {
        chain(&err)
    }
}

/// `text` with the job's URL, its query, its credentials and every header value masked.
fn scrub(text: &str, request: &JobRequest) -> String {
    let url = request.url.expose();
    let mut secrets = vec![url.to_owned()];
    if let Ok(parsed) = url::Url::parse(url) {
        secrets.extend(parsed.query().map(str::to_owned));
        secrets.extend(parsed.password().map(str::to_owned));
        secrets.push(parsed.username().to_owned());
    }
    secrets.extend(request.headers.values().map(|v| v.expose().to_owned()));
    secrets.retain(|s| s.chars().count() >= SECRET_MIN_CHARS);
    // Longest first, so a secret containing another is masked whole.
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let mut out = text.to_owned();
    for secret in &secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    out
}

/// `text` within `max` bytes, cut at a character boundary and marked with `…`.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let end = text.floor_char_boundary(max.saturating_sub('…'.len_utf8()));
    format!("{}…", &text[..end])
}
