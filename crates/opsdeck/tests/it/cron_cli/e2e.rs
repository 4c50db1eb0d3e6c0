//! The CLI against a real opsdeck in-process (SQLite; the HTTP side is the same on both
//! backends): `exec` runs land in the run table with their exit status and output tail,
//! and `cron import --apply` creates monitors that the store then holds.

use chrono::Utc;
use opsdeck_core::auth::Role;
use opsdeck_core::cron::{MonitorSource, MonitorSpec, Run, RunSource, RunStatus, Schedule};
use opsdeck_core::ids::Slug;
use opsdeck_core::token::{Grant, Scope, Scopes};

use super::{run, stderr, stdout, temp_dir};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::wait_for_async;

async fn runs(app: &TestApp, slug: &str) -> Vec<Run> {
    let slug = Slug::parse(slug).unwrap();
    let page = app.state.store().list_runs(&slug, None, 100).await;
    page.expect("list runs").runs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_records_runs_with_exit_status_and_output_tail_on_a_real_server() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let grant = Grant::Scopes(Scopes::new([Scope::Checkins]).unwrap());
    let (_, key) = app.mint("exec-e2e", grant, None).await;
    let spec = MonitorSpec::auto_created(Slug::parse("e2e-backup").unwrap());
    let store = app.state.store();
    store
        .create_monitor(&spec, MonitorSource::Api, Utc::now())
        .await
        .expect("create monitor");
    let url = app.url("");
    let env = [
        ("OPSDECK_URL", url.as_str()),
        ("OPSDECK_PING_KEY", key.as_str()),
    ];

    let script = "echo first-run-output; echo the-error >&2; exit 3";
    let (failed, _) = run(&["exec", "e2e-backup", "--", "sh", "-c", script], &env).await;
    assert_eq!(failed.status.code(), Some(3), "{}", stderr(&failed));
    assert_eq!(stdout(&failed), "first-run-output\n");
    assert!(!stderr(&failed).contains("warning"), "{}", stderr(&failed));

    let (ok, _) = run(&["exec", "e2e-backup", "--", "sh", "-c", "echo fine"], &env).await;
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));

    let runs = wait_for_async(
        std::time::Duration::from_secs(10),
        "two finished runs",
        || {
            let app = &app;
            async move {
                let runs = runs(app, "e2e-backup").await;
                (runs.len() == 2 && runs.iter().all(|r| r.finished_at.is_some())).then_some(runs)
            }
        },
    )
    .await;
    // Newest first.
    let (second, first) = (&runs[0], &runs[1]);
    assert_eq!(first.status, RunStatus::Failed);
    assert_eq!(first.exit_code, Some(3));
    assert!(first.started_at.is_some(), "the start ping paired by rid");
    assert_eq!(second.status, RunStatus::Success);
    assert_eq!(second.exit_code, Some(0));
    assert!(
        runs.iter().all(|r| r.source == RunSource::Exec),
        "exec's runs are recorded as exec's: {runs:#?}"
    );
    let log = store
        .get_run_log(&Slug::parse("e2e-backup").unwrap(), first.run_id)
        .await
        .expect("run log")
        .unwrap_or_default();
    assert!(
        log.contains("first-run-output") && log.contains("the-error"),
        "{log}"
    );

    // An unknown slug: the server refuses, the command still runs and keeps its status.
    let (unknown, _) = run(
        &["exec", "no-such-monitor", "--", "sh", "-c", "exit 5"],
        &env,
    )
    .await;
    assert_eq!(unknown.status.code(), Some(5));
    let text = stderr(&unknown);
    assert!(text.contains("404") && text.contains("--create"), "{text}");
    assert!(!text.contains(&key), "{text}");

    // --create makes it on the first ping.
    let (created, _) = run(&["exec", "made-by-exec", "--create", "--", "true"], &env).await;
    assert_eq!(created.status.code(), Some(0), "{}", stderr(&created));
    let made = store
        .get_monitor(&Slug::parse("made-by-exec").unwrap())
        .await;
    assert!(made.expect("get monitor").is_some());
    app.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_apply_creates_monitors_on_a_real_server_and_a_rerun_finds_them() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let (_, token) = app.mint_role(Role::Admin).await;
    let dir = temp_dir("e2e-apply");
    let crontab = dir.join("crontab");
    std::fs::write(
        &crontab,
        "CRON_TZ=Europe/Berlin\n30 2 * * * /usr/local/bin/backup.sh\n0 * * * * /opt/sync-users\n",
    )
    .unwrap();
    let k8s = dir.join("jobs.yaml");
    std::fs::write(
        &k8s,
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: reindex\nspec:\n  schedule: \"@daily\"\n  suspend: true\n",
    )
    .unwrap();
    let url = app.url("");
    let env = [
        ("OPSDECK_URL", url.as_str()),
        ("OPSDECK_TOKEN", token.as_str()),
    ];
    let files = [crontab.to_str().unwrap(), k8s.to_str().unwrap()];
    let args = ["cron", "import", "--apply", files[0], files[1]];

    let (first, _) = run(&args, &env).await;
    let text = stdout(&first);
    assert_eq!(first.status.code(), Some(0), "{text}{}", stderr(&first));
    assert!(
        text.contains("Applied: 3 created, 0 already existed, 0 failed."),
        "{text}"
    );

    let store = app.state.store();
    let backup = store
        .get_monitor(&Slug::parse("backup").unwrap())
        .await
        .unwrap();
    let backup = backup.expect("backup created");
    match backup.spec.schedule() {
        Schedule::Cron(cron) => {
            assert_eq!(cron.expr(), "30 2 * * *");
            assert_eq!(cron.tz().name(), "Europe/Berlin");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(backup.spec.name().as_str(), "/usr/local/bin/backup.sh");
    let reindex = store
        .get_monitor(&Slug::parse("reindex").unwrap())
        .await
        .unwrap();
    assert!(
        reindex.expect("reindex created").spec.is_paused(),
        "suspend: true"
    );

    let (again, _) = run(&args, &env).await;
    let text = stdout(&again);
    assert_eq!(again.status.code(), Some(0), "{text}{}", stderr(&again));
    assert!(
        text.contains("Applied: 0 created, 3 already existed, 0 failed."),
        "{text}"
    );

    // A token without the admin role is refused once, not once per monitor.
    let (_, viewer) = app.mint_role(Role::Viewer).await;
    let env = [
        ("OPSDECK_URL", url.as_str()),
        ("OPSDECK_TOKEN", viewer.as_str()),
    ];
    let (refused, _) = run(&args, &env).await;
    let text = stdout(&refused);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(text.contains("Stopped: the token was refused"), "{text}");
    assert!(!text.contains(&viewer) && !stderr(&refused).contains(&viewer));
    std::fs::remove_dir_all(dir).ok();
    app.shutdown().await.expect("clean shutdown");
}
