//! `http`: a request answers with the expected status and, if configured, a body that
//! contains the expected text. Header values are secrets and never appear in output.

use std::error::Error as StdError;

use super::{HttpMethod, Observation};
use opsdeck_core::secret::Secret;

/// How much of the body is searched for `expect_body`: a health endpoint answers in a few
/// bytes; a probe must not download a large page every few seconds.
const BODY_LIMIT: usize = 64 * 1024;

pub(super) async fn observe(
    client: &reqwest::Client,
    url: &Secret,
    method: HttpMethod,
    expect_status: u16,
    expect_body: Option<&str>,
    headers: &[(String, Secret)],
) -> Observation {
    let target = format!("{} {}", method.as_reqwest(), shown_url(url.expose()));
    let mut request = client.request(method.as_reqwest(), url.expose());
    for (name, value) in headers {
        request = request.header(name.as_str(), value.expose());
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(err) => return Observation::fail(format!("{target} failed: {}", error_chain(&err))),
    };
    let status = response.status();
    if status.as_u16() != expect_status {
        return Observation::fail(format!(
            "{target} answered {status}, expected {expect_status}"
        ));
    }
    let Some(expected) = expect_body else {
        return Observation::pass();
    };
    let mut body = Vec::new();
    while body.len() < BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) => break,
            Err(err) => {
                return Observation::fail(format!(
                    "{target}: reading the body failed: {}",
                    error_chain(&err)
                ));
            }
        }
    }
    body.truncate(BODY_LIMIT);
    if String::from_utf8_lossy(&body).contains(expected) {
        Observation::pass()
    } else {
        Observation::fail(format!(
            "{target} answered {status} but the body (first {} KiB) does not contain \"{expected}\"",
            BODY_LIMIT / 1024
        ))
    }
}

/// A URL for messages: scheme, host, port and path only. User-info and query strings are
/// where credentials hide (`?token=`), so neither is shown.
pub(super) fn shown_url(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(url) => {
            format!(
                "{}://{}{}",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.port().map(|p| format!(":{p}")).unwrap_or_default()
            ) + url.path()
        }
        Err(_) => "the configured URL".to_owned(),
    }
}

/// An error and its causes on one line. reqwest's own message is generic ("error sending
/// request for url (…)", with the full URL): the cause says what happened, and the URL is
/// left out because it may carry credentials.
pub(super) fn error_chain(err: &reqwest::Error) -> String {
    let top = err.to_string();
    let mut parts = Vec::new();
    if !top.contains("for url") {
        parts.push(top);
    } else if err.is_timeout() {
        parts.push("timed out".to_owned());
    }
    let mut source = err.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        "request failed".to_owned()
    } else {
        parts.join(": ")
    }
}
