//! `rediss://` with a password: a Redis of the test's own, serving TLS only, with a
//! certificate from a CA made in the test. Trusted through `ca_file`, the source polls it;
//! without it, the certificate is refused.

use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opsdeck_connectors::queues::bullmq::Bullmq;
use opsdeck_connectors::queues::{QueueError, QueueType, SourceContext};
use opsdeck_core::ids::SourceName;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::health_probes::TempDir;
use crate::support::wait_for;

const PASSWORD: &str = "tls-test-pw";

/// A `redis-server` on a TLS port only, stopped on drop.
struct TlsRedis {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl TlsRedis {
    async fn start() -> Self {
        let dir = TempDir::new("rediss");
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "opsdeck test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        std::fs::write(dir.path().join("ca.pem"), issuer.pem()).unwrap();
        std::fs::write(dir.path().join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let file = |name: &str| dir.path().join(name).display().to_string();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--tls-port", &port.to_string()])
            .args(["--tls-cert-file", &file("cert.pem")])
            .args(["--tls-key-file", &file("key.pem")])
            .args(["--tls-ca-cert-file", &file("ca.pem")])
            .args(["--tls-auth-clients", "no", "--requirepass", PASSWORD])
            .args(["--save", "", "--appendonly", "no", "--dir", &file("")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        wait_for(Duration::from_secs(10), "redis-server's TLS port", || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        })
        .await;
        Self { child, port, dir }
    }

    fn source(&self, trusted: bool) -> Bullmq {
        Bullmq {
            ca_file: trusted.then(|| self.dir.path().join("ca.pem")),
            ..Bullmq::new(
                &format!("rediss://:{PASSWORD}@localhost:{}", self.port),
                "bull",
            )
        }
    }
}

impl Drop for TlsRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn context() -> SourceContext {
    SourceContext {
        source: SourceName::parse("tls").unwrap(),
        tenant_path: None,
        read_timeout: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn bullmq_over_rediss_with_a_password_polls_with_its_ca_and_refuses_without() {
    let redis = TlsRedis::start().await;
    let seeded = Command::new("redis-cli")
        .args(["--tls", "--cacert"])
        .arg(redis.dir.path().join("ca.pem"))
        .args(["-h", "localhost", "-p", &redis.port.to_string()])
        .args(["--no-auth-warning", "-a", PASSWORD])
        .args(["HSET", "bull:mail:meta", "version", "bullmq:6.7.6"])
        .output()
        .expect("redis-cli runs");
    assert!(seeded.status.success(), "{seeded:?}");

    let trusted = redis.source(true).connect(context()).await.unwrap();
    let poll = trusted.poll(true).await.unwrap();
    let names: Vec<&str> = poll.queues.iter().map(|q| q.queue.as_str()).collect();
    assert_eq!(names, ["mail"], "{poll:?}");
    assert_eq!(poll.version.as_deref(), Some("bullmq:6.7.6"));

    let untrusted = redis.source(false).connect(context()).await.unwrap();
    let err = untrusted.poll(true).await.unwrap_err();
    assert!(
        matches!(&err, QueueError::Unreachable(text) if text.contains("certificate")),
        "{err}"
    );
    assert!(!err.to_string().contains(PASSWORD), "{err}");
}
