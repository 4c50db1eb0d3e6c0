//! `tls`: days until the server's certificate expires. The expiry is reported even when the
//! certificate does not verify (self-signed, expired, wrong name, unknown CA): the probe
//! records why verification failed, finishes the handshake anyway to read the certificate,
//! and fails with both facts. Nothing is ever sent over the connection.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::Observation;

const DAY_SECS: f64 = 86_400.0;

pub(super) async fn observe(
    address: &str,
    server_name: Option<&str>,
    ca_file: Option<&Path>,
    warn_days: f64,
    fail_days: f64,
) -> Observation {
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
    let config =
        match ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
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

/// The host part of `host:port` (`[::1]:443` gives `::1`).
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// The public web roots, plus the certificates of `ca_file` (a private CA) when set.
async fn roots(ca_file: Option<&Path>) -> Result<Arc<RootCertStore>, String> {
    static WEB: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    let web = WEB.get_or_init(|| {
        Arc::new(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
    });
    let Some(ca_file) = ca_file else {
        return Ok(web.clone());
    };
    let shown = ca_file.display();
    let pem = tokio::fs::read(ca_file)
        .await
        .map_err(|err| format!("could not read ca_file {shown}: {err}"))?;
    let mut roots = RootCertStore::clone(web);
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|err| format!("ca_file {shown} is not valid PEM: {err}"))?;
        roots
            .add(cert)
            .map_err(|err| format!("ca_file {shown} holds an unusable certificate: {err}"))?;
        added += 1;
    }
    if added == 0 {
        return Err(format!("ca_file {shown} holds no PEM certificate"));
    }
    Ok(Arc::new(roots))
}

/// The standard verifier, except that a failed verification is recorded instead of ending
/// the handshake. Accepting is safe only because the probe sends nothing over the
/// connection: it exists to read the certificate. Handshake signatures are still checked.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    error: Mutex<Option<rustls::Error>>,
}

impl Recording {
    fn new(roots: Arc<RootCertStore>, provider: Arc<CryptoProvider>) -> Result<Self, String> {
        let inner = WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|err| format!("TLS verifier could not be built: {err}"))?;
        Ok(Self {
            inner,
            error: Mutex::new(None),
        })
    }
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Err(err) = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            *self.error.lock().unwrap_or_else(PoisonError::into_inner) = Some(err);
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Why a certificate did not verify, in an on-call engineer's words; `None` when it is only
/// that the certificate has expired, which the expiry itself says.
fn reason(err: &rustls::Error) -> Option<String> {
    let rustls::Error::InvalidCertificate(cert) = err else {
        return Some(err.to_string());
    };
    let text = match cert {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => return None,
        CertificateError::UnknownIssuer => "it is issued by an unknown certificate authority \
             (self-signed, or a private CA: set ca_file)"
            .to_owned(),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "it is not valid yet".to_owned()
        }
        CertificateError::Revoked => "it has been revoked".to_owned(),
        CertificateError::BadSignature => "its signature is invalid".to_owned(),
        CertificateError::NotValidForName => "it is not valid for this server name".to_owned(),
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => {
            // rustls lists the names as `DnsName("host")`; the bare names read better.
            let names: Vec<&str> = presented
                .iter()
                .map(|name| {
                    name.strip_prefix("DnsName(\"")
                        .and_then(|rest| rest.strip_suffix("\")"))
                        .unwrap_or(name)
                })
                .collect();
            format!(
                "it is not valid for \"{}\" (it names {})",
                expected.to_str(),
                if names.is_empty() {
                    "no host at all".to_owned()
                } else {
                    names.join(", ")
                }
            )
        }
        other => other.to_string(),
    };
    Some(text)
}
