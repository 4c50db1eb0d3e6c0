//! `http`: a request answers with the expected status and, if configured, a body that
//! contains the expected text. Header values are secrets and never appear in output.

use std::collections::BTreeMap;
use std::error::Error as StdError;
use std::fmt;

use async_trait::async_trait;
use opsdeck_core::secret::Secret;
use reqwest::header::HeaderName;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::target::{shown_target, shown_url};
use super::{ComponentType, Observation, ProbeContext, ProbeType, Problems};

/// How much of the body is searched for `expect_body`: a health endpoint answers in a few
/// bytes; a probe must not download a large page every few seconds.
const BODY_LIMIT: usize = 64 * 1024;

/// `type = "http"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    /// Where to send the request; may hold credentials.
    pub url: Secret,
    /// GET (default), HEAD or POST.
    #[serde(default)]
    pub method: HttpMethod,
    /// The status that passes (default 200).
    #[serde(default = "default_status")]
    pub expect_status: u16,
    /// Text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_body: Option<String>,
    /// Request headers; every value is a secret.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, Secret>,
}

fn default_status() -> u16 {
    200
}

impl Http {
    /// A GET of `url` that passes on 200, whatever the body.
    pub fn get(url: Secret) -> Self {
        Self {
            url,
            method: HttpMethod::Get,
            expect_status: default_status(),
            expect_body: None,
            headers: BTreeMap::new(),
        }
    }
}

#[async_trait]
impl ProbeType for Http {
    const TYPE: &'static str = "http";
    const COMPONENT: ComponentType = ComponentType::Component;

    fn validate(&self) -> Problems {
        let mut problems = Problems::new();
        if !(100..=599).contains(&self.expect_status) {
            problems.push((
                "expect_status".to_owned(),
                "must be an HTTP status between 100 and 599".to_owned(),
            ));
        }
        for name in self.headers.keys() {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                problems.push((
                    format!("headers.{name}"),
                    "is not a valid HTTP header name".to_owned(),
                ));
            }
        }
        problems
    }

    fn target(&self) -> String {
        shown_target(self.url.expose())
    }

    fn secrets(&self) -> Vec<&Secret> {
        std::iter::once(&self.url)
            .chain(self.headers.values())
            .collect()
    }

    async fn run(&self, ctx: &ProbeContext) -> Observation {
        let (client, url, method) = (&ctx.http, &self.url, self.method);
        let (expect_status, expect_body) = (self.expect_status, self.expect_body.as_deref());
        let headers = &self.headers;
        let target = format!("{} {}", method.as_reqwest(), shown_url(url.expose()));
        let mut request = client.request(method.as_reqwest(), url.expose());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.expose());
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                return Observation::fail(format!("{target} failed: {}", error_chain(&err)));
            }
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
}

/// The methods an `http` check may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpMethod {
    #[default]
    Get,
    Head,
    Post,
}

impl HttpMethod {
    /// Case-insensitive: `get` works as well as `GET`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.to_ascii_uppercase().as_str() {
            "GET" => Ok(Self::Get),
            "HEAD" => Ok(Self::Head),
            "POST" => Ok(Self::Post),
            _ => Err(format!(
                "unsupported method \"{text}\"; expected GET, HEAD or POST"
            )),
        }
    }

    pub fn as_reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Head => reqwest::Method::HEAD,
            Self::Post => reqwest::Method::POST,
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_reqwest().as_str())
    }
}

impl Serialize for HttpMethod {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HttpMethod {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An error and its causes on one line. reqwest's own message is generic ("error sending
/// request for url (…)", with the full URL): the cause says what happened, and the URL is
/// left out because it may carry credentials.
fn error_chain(err: &reqwest::Error) -> String {
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
