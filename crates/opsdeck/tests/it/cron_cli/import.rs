//! `opsdeck cron import`: the dry-run report and exit codes for each format, and
//! `--apply` against the stand-in admin API.

use super::receiver::Receiver;
use super::{run, stderr, stdout, temp_dir};

const CRONTAB: &str = "\
SHELL=/bin/sh
CRON_TZ=Europe/Berlin
# opsdeck: slug=nightly-backup
30 2 * * * /usr/local/bin/backup.sh >> /var/log/backup.log 2>&1
*/15 * * * * cd /srv/app && php artisan schedule:run
61 * * * * /usr/local/bin/broken.sh
@reboot /usr/local/bin/warm-cache.sh
";

const MANIFESTS: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: db-backup
spec:
  schedule: \"0 3 * * *\"
  timeZone: America/New_York
  suspend: true
";

const VERCEL: &str =
    r#"{ "crons": [ { "path": "/api/cron/daily-report", "schedule": "0 5 * * *" } ] }"#;

#[tokio::test]
async fn a_dry_run_lists_monitors_and_unreadable_lines_and_exits_1_when_some_failed() {
    let dir = temp_dir("dry");
    let file = dir.join("jobs.cron");
    std::fs::write(&file, CRONTAB).unwrap();
    let path = file.to_str().unwrap();
    let (out, _) = run(&["cron", "import", path], &[]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("SLUG"), "{text}");
    for column in ["SCHEDULE", "TZ", "SOURCE", "NAME"] {
        assert!(header.contains(column), "{header}");
    }
    let row = |slug: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{slug} ")))
            .unwrap_or_else(|| panic!("no row for {slug}: {text}"))
            .to_owned()
    };
    let backup = row("nightly-backup");
    assert!(
        backup.contains("30 2 * * *") && backup.contains("Europe/Berlin"),
        "{backup}"
    );
    assert!(backup.contains(&format!("{path}:4")), "{backup}");
    assert!(row("artisan-schedule-run").contains(&format!("{path}:5")));
    assert!(text.contains("Could not import (1):"), "{text}");
    // In our words: which field, its range, what was found.
    assert!(
        text.contains(&format!(
            "{path}:6: schedule minute field \"61\" is invalid: 61 is out of range (minutes are 0–59)"
        )),
        "{text}"
    );
    assert!(!text.contains("Component error"), "{text}");
    // Each job with the line that wires it, in place of its command.
    let wiring = |slug: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("  {slug} ")))
            .unwrap_or_else(|| panic!("no wiring for {slug}: {text}"))
            .split_whitespace()
            .skip(1)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(
        wiring("nightly-backup"),
        "opsdeck exec nightly-backup -- sh -c '/usr/local/bin/backup.sh >> /var/log/backup.log 2>&1'"
    );
    assert_eq!(
        wiring("artisan-schedule-run"),
        "opsdeck exec artisan-schedule-run -- sh -c 'cd /srv/app && php artisan schedule:run'"
    );
    assert!(text.contains("Skipped (1):"), "{text}");
    assert!(text.contains(&format!("{path}:7: @reboot")), "{text}");
    assert!(text.contains("2 monitors from 1 file; 1 job could not be read, 1 skipped."));
    assert!(text.contains("Dry run: nothing was created"), "{text}");
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn formats_are_guessed_per_file_and_a_clean_import_exits_0() {
    let dir = temp_dir("guess");
    let k8s = dir.join("cronjobs.yaml");
    let vercel = dir.join("vercel.json");
    std::fs::write(&k8s, MANIFESTS).unwrap();
    std::fs::write(&vercel, VERCEL).unwrap();
    let args = [
        "cron",
        "import",
        k8s.to_str().unwrap(),
        vercel.to_str().unwrap(),
        "--tz",
        "Europe/Paris",
        "--url",
        "https://ops.example.com/",
    ];
    let (out, _) = run(&args, &[]).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.lines().next().unwrap().contains("PAUSED"), "{text}");
    let db = text
        .lines()
        .find(|l| l.starts_with("db-backup "))
        .expect(&text);
    assert!(
        db.contains("America/New_York") && db.contains("yes"),
        "{db}"
    );
    let report = text
        .lines()
        .find(|l| l.starts_with("daily-report "))
        .expect(&text);
    assert!(
        report.contains("0 5 * * *") && report.contains("UTC"),
        "{report}"
    );
    assert!(
        !text.contains("web"),
        "other kinds are skipped silently: {text}"
    );
    assert!(text.contains("2 monitors from 2 files; 0 jobs could not be read, 0 skipped."));
    // Their commands are not opsdeck's to wrap: they ping.
    for slug in ["db-backup", "daily-report"] {
        let url = format!("https://ops.example.com/ping/<ingest key>/{slug}");
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("  {slug} ")) && l.ends_with(&url)),
            "{text}"
        );
    }

    // An explicit format wins over the guess.
    let (forced, _) = run(
        &[
            "cron",
            "import",
            "--format",
            "crontab",
            k8s.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert_eq!(forced.status.code(), Some(1), "{}", stdout(&forced));
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn bad_flags_and_missing_files_say_what_to_do() {
    let (no_url, _) = run(&["cron", "import", "--apply", "/dev/null"], &[]).await;
    assert_eq!(no_url.status.code(), Some(2));
    assert!(
        stderr(&no_url).contains("--apply needs opsdeck's URL"),
        "{}",
        stderr(&no_url)
    );

    let env = [("OPSDECK_URL", "http://127.0.0.1:1")];
    let (no_token, _) = run(&["cron", "import", "--apply", "/dev/null"], &env).await;
    assert_eq!(no_token.status.code(), Some(2));
    assert!(
        stderr(&no_token).contains("OPSDECK_TOKEN"),
        "{}",
        stderr(&no_token)
    );

    let (bad_tz, _) = run(&["cron", "import", "--tz", "Mars/Base", "/dev/null"], &[]).await;
    assert_eq!(bad_tz.status.code(), Some(2));
    assert!(stderr(&bad_tz).contains("Mars/Base"));

    let (bad_format, _) = run(&["cron", "import", "--format", "toml", "/dev/null"], &[]).await;
    assert_eq!(bad_format.status.code(), Some(2));
    assert!(stderr(&bad_format).contains("crontab, system-crontab, k8s or vercel"));

    let (missing, _) = run(&["cron", "import", "/nonexistent/crontab"], &[]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stdout(&missing).contains("/nonexistent/crontab: cannot read"),
        "{}",
        stdout(&missing)
    );
}

#[tokio::test]
async fn apply_creates_each_monitor_once_and_reports_existing_ones() {
    let receiver = Receiver::start().await;
    receiver.add_existing("daily-report");
    let dir = temp_dir("apply");
    let k8s = dir.join("cronjobs.yaml");
    let vercel = dir.join("vercel.json");
    std::fs::write(&k8s, MANIFESTS).unwrap();
    std::fs::write(&vercel, VERCEL).unwrap();
    let token = "opsdeck_pat_applytesttoken0123456789";
    let url = receiver.url();
    let env = [("OPSDECK_URL", url.as_str()), ("OPSDECK_TOKEN", token)];
    let args = [
        "cron",
        "import",
        "--apply",
        k8s.to_str().unwrap(),
        vercel.to_str().unwrap(),
    ];
    let (out, _) = run(&args, &env).await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains("created  db-backup (paused)"), "{text}");
    assert!(
        text.contains("exists   daily-report (left as it is)"),
        "{text}"
    );
    assert!(
        text.contains("Applied: 1 created, 1 already existed, 0 failed."),
        "{text}"
    );
    assert!(!text.contains("Dry run"), "{text}");
    assert!(!text.contains(token) && !stderr(&out).contains(token));

    let requests = receiver.admin();
    assert_eq!(requests.len(), 2, "{requests:?}");
    let bearer = format!("Bearer {token}");
    assert!(
        requests
            .iter()
            .all(|r| r.authorization.as_deref() == Some(bearer.as_str()))
    );
    let create = &requests[0];
    assert_eq!(create.path, "/ops/cron");
    assert_eq!(
        create.body,
        serde_json::json!({
            "slug": "db-backup",
            "name": "db-backup",
            "schedule": "0 3 * * *",
            "tz": "America/New_York",
            "paused": true,
            "reason": format!("imported from {}:6", k8s.display()),
        })
    );
    assert_eq!(requests[1].body["slug"], "daily-report");
    assert!(
        requests[1].body.get("paused").is_none(),
        "sent only when true"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn standard_input_is_read_as_a_crontab() {
    use tokio::io::AsyncWriteExt as _;
    let env = std::collections::BTreeMap::new();
    let mut child = crate::support::process::command(&["cron", "import", "-"], &env)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"0 6 * * 1 /opt/weekly-digest.sh\n")
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("weekly-digest ") && l.contains("-:1")),
        "{text}"
    );
}
