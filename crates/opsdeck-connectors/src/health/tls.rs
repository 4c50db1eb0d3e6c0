//! `tls`: days until the server's certificate expires. The expiry is reported even when the
//! certificate does not verify (self-signed, expired, wrong name, unknown CA): the probe
//! records why verification failed, finishes the handshake anyway to read the certificate,
//! and fails with both facts. Nothing is ever sent over the connection.

use std::path::PathBuf;
use std::sync::{Arc, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use opsdeck_core::secret::Secret;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::target::needs_port;
use super::{ComponentType, Observation, ProbeContext, ProbeType, Problems};

mod trust;

use trust::{Recording, reason, roots};

const DAY_SECS: f64 = 86_400.0;

/// `type = "tls"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// `host:port`.
    pub address: String,
    /// The name to verify the certificate for (default: the host of `address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// A PEM file of CA certificates trusted besides the public web roots, for a
    /// certificate issued by a private CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Warn when the certificate expires within this many days (default 14).
    #[serde(default = "default_warn_days")]
    pub warn_days: f64,
    /// Fail when it expires within this many days (default 3).
    #[serde(default = "default_fail_days")]
    pub fail_days: f64,
}

fn default_warn_days() -> f64 {
    14.0
}

fn default_fail_days() -> f64 {
    3.0
}

impl Tls {
    /// A check of the certificate served at `address`, verified for its host, trusting the
    /// public web roots, with the default thresholds.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            server_name: None,
            ca_file: None,
            warn_days: default_warn_days(),
            fail_days: default_fail_days(),
        }
    }
}

#[async_trait]
impl ProbeType for Tls {
    const TYPE: &'static str = "tls";
    const COMPONENT: ComponentType = ComponentType::System;
    const MEASUREMENT: &'static str = "certificateExpiry";

    fn validate(&self) -> Problems {
        let mut problems = Problems::new();
        if self.fail_days > self.warn_days {
            problems.push((
                "fail_days".to_owned(),
                "must not be above warn_days".to_owned(),
            ));
        }
        problems.extend(needs_port("address", &self.address, 443));
        problems
    }

    fn target(&self) -> String {
        self.address.clone()
    }

    fn secrets(&self) -> Vec<&Secret> {
        Vec::new()
    }

    async fn run(&self, _: &ProbeContext) -> Observation {
        let (address, server_name, ca_file) = (
            self.address.as_str(),
            self.server_name.as_deref(),
            self.ca_file.as_deref(),
        );
        let (warn_days, fail_days) = (self.warn_days, self.fail_days);
        let name = server_name.unwrap_or_else(|| host_of(address)).to_owned();
        let Ok(name) = ServerName::try_from(name.clone()) else {
            return Observation::fail(format!("\"{name}\" is not a valid TLS server name"));
        };
        let roots = match roots(ca_file).await {
            Ok(roots) => roots,
            Err(message) => return Observation::fail(message),
        };
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = match Recording::new(roots, provider.clone()) {
            Ok(verifier) => Arc::new(verifier),
            Err(message) => return Observation::fail(message),
        };
        let config = match ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
        {
            Ok(builder) => builder
                .dangerous()
                .with_custom_certificate_verifier(verifier.clone())
                .with_no_client_auth(),
            Err(err) => return Observation::fail(format!("TLS is misconfigured: {err}")),
        };
        let tcp = match TcpStream::connect(address).await {
            Ok(tcp) => tcp,
            Err(err) => return Observation::fail(format!("could not connect to {address}: {err}")),
        };
        let tls = match TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
        {
            Ok(tls) => tls,
            Err(err) => {
                return Observation::fail(format!("TLS handshake with {address} failed: {err}"));
            }
        };
        let Some(leaf) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) else {
            return Observation::fail(format!("{address} presented no certificate"));
        };
        let not_after = match x509_parser::parse_x509_certificate(leaf.as_ref()) {
            Ok((_, cert)) => cert.validity().not_after.timestamp(),
            Err(err) => {
                return Observation::fail(format!(
                    "the certificate of {address} could not be parsed: {err}"
                ));
            }
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let days = (not_after as f64 - now) / DAY_SECS;
        let expiry = if days >= 0.0 {
            format!("expires in {days:.1} days")
        } else {
            format!("expired {:.1} days ago", -days)
        };
        let verify_error = verifier
            .error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let observation = if let Some(err) = verify_error {
            Observation::fail(match reason(&err) {
                // The expiry says it all: "certificate does not verify: it expired 2.0 days ago".
                None => format!("certificate does not verify: it {expiry}"),
                Some(reason) => format!("certificate does not verify: {reason}; {expiry}"),
            })
        } else if days < fail_days {
            Observation::fail(format!(
                "certificate {expiry}, within the failure threshold of {fail_days} days"
            ))
        } else if days < warn_days {
            Observation::warn(format!(
                "certificate {expiry}, within the warning threshold of {warn_days} days"
            ))
        } else {
            Observation::pass()
        };
        observation.with_value(days, "d")
    }
}

/// The host part of `host:port` (`[::1]:443` gives `::1`).
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}
