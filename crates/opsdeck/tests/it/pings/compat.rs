//! healthchecks.io's documented ping usage, replayed over real HTTP: the `curl` one-liners
//! of its docs run unchanged against opsdeck's base URL (when `curl` is installed), then
//! each part on its own: start and finish with and without `rid`, exit statuses, `/fail`,
//! `/log`, `create=1`, POST bodies and their limit, HEAD.

use opsdeck_core::cron::{MonitorSource, MonitorStatus, RunSource, RunStatus};
use reqwest::{Method, StatusCode};

use super::{Pinger, refusal, roomy};
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

on_both_backends!(
    the_curl_one_liners_of_the_healthchecks_docs_work_unchanged,
    start_and_finish_pair_with_and_without_rid,
    exit_statuses_0_to_255_succeed_or_fail_and_256_is_refused,
    log_appends_to_the_run_and_leaves_the_status_alone,
    create_answers_201_then_200,
    a_post_body_is_kept_and_cut_to_its_tail_not_refused,
    a_configured_body_limit_is_announced_and_enforced,
    source_exec_records_exec_runs,
    head_get_and_post_all_ping,
);

const RID: &str = "0b5c7a52-8f3e-4d7a-9a51-2f6f0c1d9e11";

/// Runs `script` with `sh`, `URL` and `RID` in its environment; `None` without curl.
async fn shell(url: &str, script: &str) -> Option<String> {
    let curl = tokio::process::Command::new("curl")
        .arg("--version")
        .output()
        .await;
    if curl.is_err() {
        eprintln!("skipped: curl is not installed, the one-liners were not replayed");
        return None;
    }
    let output = tokio::process::Command::new("sh")
        .args(["-ec", script])
        .env("URL", url)
        .env("RID", RID)
        .output()
        .await
        .expect("run sh");
    assert!(
        output.status.success(),
        "the script failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8(output.stdout).unwrap())
}

async fn the_curl_one_liners_of_the_healthchecks_docs_work_unchanged(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("backup").await;
    let script = r#"
        curl -fsS -m 10 --retry 5 -o /dev/null "$URL/backup"
        curl -fsS -m 10 --retry 5 -o /dev/null "$URL/backup/start?rid=$RID"
        m=$(printf 'copied 3 files\nbackup done')
        curl -fsS -m 10 --retry 5 --data-raw "$m" "$URL/backup/0?rid=$RID"
        curl -fsS -m 10 --retry 5 --data-raw "disk full" "$URL/backup/fail"
        curl -fsS -m 10 --retry 5 -o /dev/null "$URL/made-by-curl?create=1"
    "#;
    let Some(stdout) = shell(p.url("").trim_end_matches('/'), script).await else {
        return;
    };
    assert_eq!(
        stdout, "OKOK",
        "the two pings without -o print their answer"
    );

    let runs = p.runs("backup").await;
    assert_eq!(runs.len(), 3, "{runs:#?}");
    let paired = runs.iter().find(|r| r.run_id.to_string() == RID).unwrap();
    assert_eq!(paired.status, RunStatus::Success);
    assert_eq!(paired.exit_code, Some(0));
    assert!(paired.started_at.is_some() && paired.duration_ms.is_some());
    assert_eq!(paired.source, RunSource::Ping);
    assert!(p.log("backup", paired).await.ends_with("backup done"));
    let failed = runs.iter().find(|r| r.status == RunStatus::Failed).unwrap();
    assert_eq!(failed.error.as_deref(), Some("disk full"));
    let plain = runs.iter().filter(|r| r.status == RunStatus::Success);
    assert_eq!(plain.count(), 2);
    let created = p.record("made-by-curl").await.expect("create=1 created it");
    assert_eq!(created.source, MonitorSource::Ping);
}

async fn start_and_finish_pair_with_and_without_rid(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("etl").await;
    // Without rid: the finish closes the latest open run.
    p.ok("etl/start").await;
    assert_eq!(
        p.record("etl").await.unwrap().state.status,
        MonitorStatus::Running
    );
    p.ok("etl").await;
    let runs = p.runs("etl").await;
    assert_eq!(runs.len(), 1, "start and finish are one run: {runs:#?}");
    let run = &runs[0];
    assert_eq!(run.status, RunStatus::Success);
    assert!(run.started_at.unwrap() <= run.finished_at.unwrap());
    assert!(run.duration_ms.is_some());

    // With rid: overlapping runs are each paired with their own finish.
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    p.ok(&format!("etl/start?rid={a}")).await;
    p.ok(&format!("etl/start?rid={b}")).await;
    p.ok(&format!("etl/1?rid={a}")).await;
    p.ok(&format!("etl/0?rid={}", b.to_string().to_uppercase()))
        .await;
    let runs = p.runs("etl").await;
    assert_eq!(runs.len(), 3, "{runs:#?}");
    let run_a = runs.iter().find(|r| r.run_id == a).unwrap();
    assert_eq!(
        (run_a.status, run_a.exit_code),
        (RunStatus::Failed, Some(1))
    );
    assert!(run_a.started_at.is_some() && run_a.finished_at.is_some());
    let run_b = runs.iter().find(|r| r.run_id == b).unwrap();
    assert_eq!(
        (run_b.status, run_b.exit_code),
        (RunStatus::Success, Some(0))
    );
    assert!(run_b.duration_ms.is_some(), "an uppercase rid pairs too");

    // /fail without rid pairs with the latest open run as well.
    p.ok("etl/start").await;
    p.ok("etl/fail").await;
    let runs = p.runs("etl").await;
    assert_eq!(runs.len(), 4);
    assert!(
        runs.iter()
            .all(|r| r.status != RunStatus::Running && r.started_at.is_some())
    );
    assert_eq!(
        p.record("etl").await.unwrap().state.status,
        MonitorStatus::Down
    );
}

async fn exit_statuses_0_to_255_succeed_or_fail_and_256_is_refused(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("job").await;
    for status in ["0", "1", "255"] {
        p.ok(&format!("job/{status}")).await;
    }
    for (tail, code) in [
        ("256", "invalid_exit_status"),
        ("1000", "invalid_exit_status"),
        ("-1", "invalid_ping_kind"),
        ("+1", "invalid_ping_kind"),
        ("done", "invalid_ping_kind"),
    ] {
        let response = p.ping(Method::GET, &format!("job/{tail}"), "").await;
        refusal(response, StatusCode::BAD_REQUEST, code).await;
    }
    let runs = p.runs("job").await;
    let mut seen: Vec<_> = runs.iter().map(|r| (r.exit_code, r.status)).collect();
    seen.sort_by_key(|(code, _)| *code);
    assert_eq!(
        seen,
        [
            (Some(0), RunStatus::Success),
            (Some(1), RunStatus::Failed),
            (Some(255), RunStatus::Failed),
        ],
        "refused pings store nothing"
    );
    let failed = runs.iter().find(|r| r.exit_code == Some(255)).unwrap();
    assert_eq!(failed.error.as_deref(), Some("exit status 255"));
}

async fn log_appends_to_the_run_and_leaves_the_status_alone(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("import").await;
    let rid = uuid::Uuid::new_v4();
    p.ok(&format!("import/start?rid={rid}")).await;
    let logged = p
        .ping(
            Method::POST,
            &format!("import/log?rid={rid}"),
            "step 1 of 2\n",
        )
        .await;
    assert_eq!(logged.status(), StatusCode::OK);
    assert_eq!(
        p.record("import").await.unwrap().state.status,
        MonitorStatus::Running,
        "a log changes no status"
    );
    let done = p
        .ping(
            Method::POST,
            &format!("import/0?rid={rid}"),
            "step 2 of 2\n",
        )
        .await;
    assert_eq!(done.status(), StatusCode::OK);
    let runs = p.runs("import").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(
        p.log("import", &runs[0]).await,
        "step 1 of 2\nstep 2 of 2\n"
    );
    assert_eq!(
        p.record("import").await.unwrap().state.status,
        MonitorStatus::Up
    );

    // With no run open the text is kept in a run of its own; the status stays up.
    let alone = p.ping(Method::POST, "import/log", "stray output").await;
    assert_eq!(alone.status(), StatusCode::OK);
    let runs = p.runs("import").await;
    let stray = runs
        .iter()
        .find(|r| r.status == RunStatus::Unknown)
        .unwrap();
    assert_eq!(p.log("import", stray).await, "stray output");
    assert_eq!(
        p.record("import").await.unwrap().state.status,
        MonitorStatus::Up
    );
}

async fn create_answers_201_then_200(db: TestDb) {
    let p = Pinger::spawn(db).await;
    let first = p.ping(Method::GET, "new-job?create=1", "").await;
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(first.text().await.unwrap(), "Created");
    p.ok("new-job?create=1").await;
    p.ok("new-job").await;
    let record = p.record("new-job").await.unwrap();
    assert_eq!(record.source, MonitorSource::Ping);
    assert_eq!(record.spec.name().as_str(), "new-job");
    assert_eq!(p.runs("new-job").await.len(), 3);

    let refused = p.ping(Method::GET, "other-job?create=yes", "").await;
    refusal(refused, StatusCode::BAD_REQUEST, "invalid_query").await;
    let missing = p.ping(Method::GET, "other-job", "").await;
    refusal(missing, StatusCode::NOT_FOUND, "not_found").await;
    assert!(p.record("other-job").await.is_none());
}

async fn a_post_body_is_kept_and_cut_to_its_tail_not_refused(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("report").await;
    let failed = p
        .ping(Method::POST, "report/fail", "error: connection refused")
        .await;
    assert_eq!(failed.status(), StatusCode::OK);
    let limit: usize = failed.headers()["ping-body-limit"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(limit, 100 * 1024);
    let runs = p.runs("report").await;
    assert_eq!(runs[0].error.as_deref(), Some("error: connection refused"));
    assert_eq!(p.log("report", &runs[0]).await, "error: connection refused");

    // Twice the server's body limit: cut to the tail, not refused.
    let big = format!("FIRST LINE\n{}\nLAST LINE", "x".repeat(2 << 20));
    let response = p.ping(Method::POST, "report/0", &big).await;
    assert_eq!(response.status(), StatusCode::OK);
    let runs = p.runs("report").await;
    let run = runs.iter().find(|r| r.exit_code == Some(0)).unwrap();
    let log = p.log("report", run).await;
    assert!(log.len() <= limit, "{} bytes kept", log.len());
    assert!(log.ends_with("\nLAST LINE") && !log.contains("FIRST LINE"));
}

async fn a_configured_body_limit_is_announced_and_enforced(db: TestDb) {
    let p = Pinger::spawn_with(db, |config| {
        roomy(config);
        config.cron.ping_body_limit = 1024;
    })
    .await;
    p.monitor("report").await;
    let body = format!("FIRST LINE\n{}\nLAST LINE", "x".repeat(4096));
    let response = p.ping(Method::POST, "report/1", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["ping-body-limit"], "1024");
    let runs = p.runs("report").await;
    let log = p.log("report", &runs[0]).await;
    assert!(log.len() <= 1024, "{} bytes kept", log.len());
    assert!(log.len() > 900, "the limit is used: {} bytes", log.len());
    assert!(log.ends_with("\nLAST LINE") && !log.contains("FIRST LINE"));
    // Refusals announce it too, so a client can size its body before its first success.
    let refused = p.ping(Method::GET, "no-such-monitor", "").await;
    assert_eq!(refused.headers()["ping-body-limit"], "1024");
}

async fn source_exec_records_exec_runs(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("wrapped").await;
    let rid = uuid::Uuid::new_v4();
    p.ok(&format!("wrapped/start?rid={rid}&source=exec")).await;
    p.ok(&format!("wrapped/0?source=exec&rid={rid}")).await;
    p.ok("wrapped?source=ping").await;
    let runs = p.runs("wrapped").await;
    assert_eq!(runs.len(), 2, "{runs:#?}");
    let wrapped = runs.iter().find(|r| r.run_id == rid).unwrap();
    assert_eq!(wrapped.source, RunSource::Exec);
    assert_eq!(wrapped.status, RunStatus::Success);
    let plain = runs.iter().find(|r| r.run_id != rid).unwrap();
    assert_eq!(plain.source, RunSource::Ping);
}

async fn head_get_and_post_all_ping(db: TestDb) {
    let p = Pinger::spawn(db).await;
    p.monitor("heartbeat").await;
    for method in [Method::HEAD, Method::GET, Method::POST] {
        let response = p.ping(method.clone(), "heartbeat", "").await;
        assert_eq!(response.status(), StatusCode::OK, "{method}");
        let headers = response.headers().clone();
        assert_eq!(headers["ping-body-limit"], "102400", "{method}");
        assert_eq!(headers["access-control-allow-origin"], "*", "{method}");
        let body = response.text().await.unwrap();
        let expected = if method == Method::HEAD { "" } else { "OK" };
        assert_eq!(body, expected, "{method}");
    }
    assert_eq!(p.runs("heartbeat").await.len(), 3);
}
