//! Trust for the `tls` probe: the roots it verifies against (the public web roots, plus a
//! private CA's from `ca_file`) and a verifier that records why a certificate does not
//! verify instead of ending the handshake, so the probe can still read its expiry.

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore};

/// The public web roots, plus the certificates of `ca_file` (a private CA) when set.
pub(super) async fn roots(ca_file: Option<&Path>) -> Result<Arc<RootCertStore>, String> {
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
pub(super) struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    pub(super) error: Mutex<Option<rustls::Error>>,
}

impl Recording {
    pub(super) fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, String> {
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
pub(super) fn reason(err: &rustls::Error) -> Option<String> {
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
