//! `tls` against local TLS servers whose certificates are made in the test: issued by a
//! test CA (trusted through `ca_file`) with various expiries, self-signed, and expired.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opsdeck_connectors::health::Observation;
use opsdeck_connectors::health::tls::Tls;
use opsdeck_core::health::Status;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{Probes, TempDir, output};

const DAY: u64 = 86_400;

/// A test certificate authority, its certificate written to `ca.pem` in a temp dir.
struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: TempDir,
}

impl TestCa {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        params
            .distinguished_name
            .push(DnType::CommonName, "opsdeck test CA");
        let key = KeyPair::generate().expect("ca key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("ca certificate");
        let dir = TempDir::new("tls");
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).expect("write ca.pem");
        Self { issuer, dir }
    }

    fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A leaf for `localhost` that expires `days_left` days from now (negative: expired).
    fn leaf(&self, days_left: i64) -> (CertificateDer<'static>, KeyPair) {
        let key = KeyPair::generate().expect("leaf key");
        let cert = leaf_params(days_left)
            .signed_by(&key, &self.issuer)
            .expect("leaf certificate");
        (cert.der().clone(), key)
    }
}

fn leaf_params(days_left: i64) -> CertificateParams {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let epoch = rcgen::date_time_ymd(1970, 1, 1);
    let mut params = CertificateParams::new(vec!["localhost".to_owned()]).expect("leaf params");
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.not_before = epoch + Duration::from_secs(now - 30 * DAY);
    let not_after = now.saturating_add_signed(days_left * DAY as i64);
    params.not_after = epoch + Duration::from_secs(not_after);
    params
}

/// A self-signed leaf for `localhost`, valid 90 days.
fn self_signed() -> (CertificateDer<'static>, KeyPair) {
    let key = KeyPair::generate().expect("key");
    let cert = leaf_params(90).self_signed(&key).expect("self-signed");
    (cert.der().clone(), key)
}

/// A TLS server on port 0 presenting `cert`; it completes handshakes and sends nothing.
async fn tls_server(cert: CertificateDer<'static>, key: &KeyPair) -> (String, JoinHandle<()>) {
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .expect("server certificate");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("addr").to_string();
    let task = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = acceptor.accept(tcp).await;
            });
        }
    });
    (address, task)
}

async fn probe(address: &str, server_name: Option<&str>, ca: Option<&TestCa>) -> Observation {
    let spec = Tls {
        address: address.to_owned(),
        server_name: server_name.map(str::to_owned),
        ca_file: ca.map(TestCa::ca_file),
        warn_days: 14.0,
        fail_days: 3.0,
    };
    Probes::new().await.observe(&spec).await
}

fn days(observation: &Observation) -> f64 {
    assert_eq!(observation.observed_unit, Some("d"), "{observation:?}");
    observation.observed_value.expect("days until expiry")
}

#[tokio::test]
async fn a_valid_certificate_passes_with_its_days_left() {
    let ca = TestCa::new();
    let (cert, key) = ca.leaf(90);
    let (address, server) = tls_server(cert, &key).await;
    let observation = probe(&address, Some("localhost"), Some(&ca)).await;
    assert_eq!(observation.status, Status::Pass, "{observation:?}");
    let left = days(&observation);
    assert!((89.0..=90.0).contains(&left), "{left} days");

    // Without a server name, the host of the address is the name to verify.
    let port = address.rsplit_once(':').expect("port").1;
    let by_host = probe(&format!("localhost:{port}"), None, Some(&ca)).await;
    assert_eq!(by_host.status, Status::Pass, "{by_host:?}");
    server.abort();
}

#[tokio::test]
async fn an_expiring_certificate_warns_then_fails() {
    let ca = TestCa::new();
    let (cert, key) = ca.leaf(10);
    let (address, server) = tls_server(cert, &key).await;
    let warn = probe(&address, Some("localhost"), Some(&ca)).await;
    assert_eq!(warn.status, Status::Warn, "{warn:?}");
    assert!((9.0..=10.0).contains(&days(&warn)));
    assert!(
        output(&warn).contains("warning threshold of 14 days"),
        "{warn:?}"
    );
    server.abort();

    let (cert, key) = ca.leaf(2);
    let (address, server) = tls_server(cert, &key).await;
    let fail = probe(&address, Some("localhost"), Some(&ca)).await;
    assert_eq!(fail.status, Status::Fail, "{fail:?}");
    assert!((1.0..=2.0).contains(&days(&fail)));
    assert!(output(&fail).contains("expires in 2.0 days"), "{fail:?}");
    server.abort();
}

#[tokio::test]
async fn a_certificate_that_does_not_verify_fails_but_still_reports_its_expiry() {
    let (cert, key) = self_signed();
    let (address, server) = tls_server(cert, &key).await;
    let observation = probe(&address, Some("localhost"), None).await;
    assert_eq!(observation.status, Status::Fail, "{observation:?}");
    let text = output(&observation);
    assert!(
        text.starts_with("certificate does not verify: ")
            && text.contains("unknown certificate authority"),
        "{text}"
    );
    assert!(
        (89.0..=90.0).contains(&days(&observation)),
        "{observation:?}"
    );
    server.abort();

    let ca = TestCa::new();
    let (cert, key) = ca.leaf(-5);
    let (address, server) = tls_server(cert, &key).await;
    let expired = probe(&address, Some("localhost"), Some(&ca)).await;
    assert_eq!(expired.status, Status::Fail, "{expired:?}");
    assert!(
        output(&expired).contains("certificate does not verify: it expired 5.0 days ago"),
        "{expired:?}"
    );
    assert!(days(&expired) < -4.9);

    server.abort();

    let (cert, key) = ca.leaf(90);
    let (address, server) = tls_server(cert, &key).await;
    let wrong_name = probe(&address, Some("opsdeck.example"), Some(&ca)).await;
    assert_eq!(wrong_name.status, Status::Fail, "{wrong_name:?}");
    assert!(
        output(&wrong_name).contains("not valid for \"opsdeck.example\" (it names localhost)"),
        "{wrong_name:?}"
    );
    server.abort();
}
