//! `s3` against a real S3-compatible server: moto (`pip install 'moto[server]'`, installed
//! by `.ci/run`), started by the test on a free port and killed when the test ends.

use std::process::Stdio;
use std::time::Duration;

use opsdeck_connectors::health::s3::S3;
use opsdeck_core::health::Status;
use opsdeck_core::secret::Secret;
use tokio::process::{Child, Command};

use super::{Probes, closed_port, not_available, output};
use crate::support::wait_for_async;

const HOW: &str = "Install it with: python3 -m pip install 'moto[server]' (.ci/run does).";

/// A running moto server; killed on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Moto {
    /// Starts moto, or returns `None` after a banner when it is not installed (outside CI).
    async fn start() -> Option<Self> {
        let Some(mut command) = moto_command().await else {
            not_available("S3 (moto)", "moto_server is not installed", HOW);
            return None;
        };
        let port = closed_port().await;
        let mut child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let ready = wait_for_async(Duration::from_secs(60), "moto_server to answer", || {
            let request = client.get(format!("{endpoint}/")).send();
            async { request.await.ok().map(|_| ()) }
        });
        tokio::select! {
            () = ready => {}
            exit = child.wait() => panic!("moto_server exited before answering: {exit:?}"),
        }
        Some(Self { child, endpoint })
    }

    /// Creates a bucket with an unsigned request (moto does not check signatures).
    async fn create_bucket(&self, bucket: &str) {
        let response = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("create bucket");
        assert!(
            response.status().is_success(),
            "create bucket: {}",
            response.status()
        );
    }

    /// The keys under `opsdeck-probe/` in a bucket, as moto's listing XML.
    async fn probe_listing(&self, bucket: &str) -> String {
        reqwest::Client::new()
            .get(format!(
                "{}/{bucket}?list-type=2&prefix=opsdeck-probe/",
                self.endpoint
            ))
            .send()
            .await
            .expect("list bucket")
            .text()
            .await
            .expect("listing body")
    }
}

/// `moto_server` from PATH, else `python3 -m moto.server` when the module imports.
async fn moto_command() -> Option<Command> {
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("moto_server").is_file())
    });
    if on_path {
        return Some(Command::new("moto_server"));
    }
    let imports = Command::new("python3")
        .args(["-c", "import moto.server"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .is_ok_and(|status| status.success());
    imports.then(|| {
        let mut command = Command::new("python3");
        command.args(["-m", "moto.server"]);
        command
    })
}

fn s3_spec(endpoint: &str, bucket: &str, keys: Option<(&str, &str)>) -> S3 {
    S3 {
        endpoint: Some(endpoint.to_owned()),
        bucket: bucket.to_owned(),
        region: "us-east-1".to_owned(),
        access_key_id: keys.map(|(id, _)| Secret::new(id.to_owned())),
        secret_access_key: keys.map(|(_, secret)| Secret::new(secret.to_owned())),
    }
}

#[tokio::test]
async fn s3_round_trip_passes_and_fails_for_a_missing_bucket_or_a_dead_server() {
    let Some(mut moto) = Moto::start().await else {
        return;
    };
    let probes = Probes::new().await;
    moto.create_bucket("opsdeck-health").await;

    let secret = "s3-secret-key-not-for-output";
    let keys = Some(("AKIAOPSDECKTEST", secret));
    let signed = probes
        .observe(&s3_spec(&moto.endpoint, "opsdeck-health", keys))
        .await;
    assert_eq!(signed.status, Status::Pass, "{signed:?}");
    let listing = moto.probe_listing("opsdeck-health").await;
    assert!(
        !listing.contains(&probes.ctx.instance_id.to_string()),
        "the probe object was left behind: {listing}"
    );

    let missing = probes
        .observe(&s3_spec(&moto.endpoint, "no-such-bucket", keys))
        .await;
    assert_eq!(missing.status, Status::Fail);
    let text = output(&missing);
    assert!(
        text.contains("no-such-bucket") && !text.contains(secret),
        "{text}"
    );

    // Without keys the probe goes unsigned, and a private bucket refuses anonymous reads
    // (as on AWS): the probe says so instead of hanging on credential lookups.
    let anonymous = probes
        .observe(&s3_spec(&moto.endpoint, "opsdeck-health", None))
        .await;
    assert_eq!(anonymous.status, Status::Fail, "{anonymous:?}");
    output(&anonymous);

    moto.child.kill().await.expect("kill moto_server");
    let dead = tokio::time::timeout(
        Duration::from_secs(10),
        probes.observe(&s3_spec(&moto.endpoint, "opsdeck-health", keys)),
    )
    .await
    .expect("a dead S3 fails promptly, without long retries");
    assert_eq!(dead.status, Status::Fail);
    assert!(!output(&dead).contains(secret), "{dead:?}");
}
