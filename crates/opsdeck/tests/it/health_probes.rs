//! Every probe type against the real dependency on 127.0.0.1: PostgreSQL and Redis of this
//! machine, a local HTTP server, a TCP port that closes mid-test, an S3-compatible server
//! (moto) started by the test, files and volumes, and TLS servers with certificates made
//! in the test. Probes are called directly, the way the monitor calls them.

mod datastores;
mod local;
mod network;
mod s3;
mod tls;

use std::io::Write;
use std::path::{Path, PathBuf};

use opsdeck_connectors::health::{Observation, Probe, ProbeContext};
use tokio::net::TcpListener;

/// A probe context of its own: an HTTP client and a fresh instance id.
pub struct Probes {
    pub ctx: ProbeContext,
}

impl Probes {
    pub async fn new() -> Self {
        let ctx = ProbeContext {
            http: reqwest::Client::new(),
            instance_id: uuid::Uuid::new_v4(),
        };
        Self { ctx }
    }

    pub async fn observe(&self, probe: &dyn Probe) -> Observation {
        probe.observe(&self.ctx).await
    }
}

/// The output of a non-passing observation (panics, with the observation, if there is none).
/// Echoed to the captured test output, so `--nocapture` shows what an engineer would read.
pub fn output(observation: &Observation) -> &str {
    let text = observation
        .output
        .as_deref()
        .unwrap_or_else(|| panic!("expected an output in {observation:?}"));
    eprintln!("{:?}: {text}", observation.status);
    text
}

/// A `127.0.0.1` port nothing listens on (bound, then released).
pub async fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    listener.local_addr().expect("addr").port()
}

/// Whether a service the tests need answers at `address`. Outside CI a missing service
/// skips the test with a loud banner; on CI (`CI=true`) it fails the test.
pub async fn service_available(service: &str, address: &str, how: &str) -> bool {
    if tokio::net::TcpStream::connect(address).await.is_ok() {
        return true;
    }
    not_available(service, &format!("nothing listens on {address}"), how);
    false
}

/// Fails on CI, otherwise prints the banner of a skipped test.
pub fn not_available(service: &str, reason: &str, how: &str) {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{service} is required on CI but unavailable: {reason}. {how}");
    }
    let banner = format!(
        "\n==================================================================\n\
         {service} probe test DID NOT RUN: {reason}.\n\
         {how}\n\
         ==================================================================\n"
    );
    // libtest captures eprintln! of passing tests; the banner must be seen.
    let _ = std::io::stderr().write_all(banner.as_bytes());
}

/// A directory of its own under the system temp directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(label: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "opsdeck-probe-test-{label}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
