//! Several replicas on one PostgreSQL, as real processes: leader-only loops run on exactly
//! one; when it dies the other takes over within seconds; logs are JSON lines with request
//! ids and never carry the database password; SIGTERM stops a replica cleanly.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::app::METRICS_TOKEN;
use crate::support::db::TestDb;
use crate::support::process::ServerProcess;
use crate::support::wait_for_async;

const PASSWORD: &str = "pw-that-must-never-be-logged";

/// The value of a metric line that starts with `series`, or 0.
fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}

pub(crate) struct Scrape {
    pub(crate) leader: bool,
    prune_runs: f64,
}

/// A replica's leadership and leader-only loop runs, from its metrics; `None` when it does
/// not answer.
pub(crate) async fn scrape(client: &reqwest::Client, server: &ServerProcess) -> Option<Scrape> {
    let text = client
        .get(server.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    Some(Scrape {
        leader: metric(&text, "opsdeck_leader ") == 1.0,
        prune_runs: metric(
            &text,
            r#"opsdeck_background_runs_total{loop="replica_prune",outcome="ok"} "#,
        ),
    })
}

#[tokio::test]
async fn leader_only_loops_run_on_one_replica_and_fail_over() {
    let Some(db) = TestDb::postgres() else {
        return;
    };
    // Trust authentication ignores the password, so it can be added to prove it is never logged.
    let url = db
        .url
        .replacen("://postgres@", &format!("://postgres:{PASSWORD}@"), 1);
    let env: BTreeMap<String, String> = [
        ("OPSDECK_DATABASE_URL", url.as_str()),
        ("OPSDECK_METRICS_TOKEN", METRICS_TOKEN),
        ("OPSDECK_BACKGROUND__LEADER_LEASE", "3s"),
        ("OPSDECK_BACKGROUND__HEARTBEAT_INTERVAL", "1s"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let mut a = ServerProcess::start(&env).await;
    let mut b = ServerProcess::start(&env).await;
    let client = reqwest::Client::new();

    // Exactly one leads, and only the leader runs the leader-only loop.
    let (leader_is_a, _) = wait_for_async(
        Duration::from_secs(20),
        "one leader running the loop",
        || async {
            let (sa, sb) = (scrape(&client, &a).await?, scrape(&client, &b).await?);
            match (sa.leader, sb.leader) {
                (true, false) if sa.prune_runs >= 2.0 && sb.prune_runs == 0.0 => Some((true, ())),
                (false, true) if sb.prune_runs >= 2.0 && sa.prune_runs == 0.0 => Some((false, ())),
                _ => None,
            }
        },
    )
    .await;
    let (leader, follower) = if leader_is_a {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };

    // Access log: one JSON line per request with its id, template, status and latency.
    let response = client
        .get(leader.url("/livez"))
        .header("x-request-id", "replica-test-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let line = wait_for_async(Duration::from_secs(5), "the access log line", || async {
        leader.log.lock().unwrap().iter().find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["request_id"] == "replica-test-42").then_some(v)
        })
    })
    .await;
    assert_eq!(line["route"], "/livez");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].is_number(), "{line}");

    // The leader dies without a chance to release its lease.
    leader.signal("KILL").await;
    leader.wait_exit(Duration::from_secs(10)).await;
    let before = scrape(&client, follower).await.unwrap().prune_runs;
    wait_for_async(
        Duration::from_secs(20),
        "the follower to take over",
        || async {
            let s = scrape(&client, follower).await?;
            (s.leader && s.prune_runs > before).then_some(())
        },
    )
    .await;

    // SIGTERM: a clean stop.
    follower.signal("TERM").await;
    let status = follower.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "graceful exit, got {status}");

    for server in [&a, &b] {
        let log = server.log_text();
        assert!(
            !log.contains(PASSWORD),
            "the database password never appears in logs"
        );
        let json_lines = log.lines().filter(|l| l.starts_with('{'));
        assert!(
            json_lines
                .clone()
                .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()),
            "log lines are JSON:\n{log}"
        );
        assert!(json_lines.count() > 5);
    }
    assert!(a.log_text().contains("became leader") || b.log_text().contains("became leader"));
    // The first replica created the bootstrap admin token; the second found it.
    assert!(a.log_text().contains("shown only now"), "{}", a.log_text());
    assert!(!b.log_text().contains("shown only now"), "printed once");
}
