use super::*;

#[test]
fn a_user_crontab_gives_one_monitor_per_job_with_its_line_and_command() {
    let text = "\
# m h dom mon dow command
SHELL=/bin/bash
MAILTO=ops@example.com

30 2 * * * /usr/local/bin/backup.sh --full >> /var/log/backup.log 2>&1
*/15 * * * 1-5 cd /srv/app && php artisan schedule:run
@hourly    /opt/jobs/rotate-logs.py
";
    let import = import(Format::Crontab, text);
    assert!(import.is_clean(), "{:?}", findings(&import));
    assert_eq!(
        rows(&import),
        [
            "backup 30 2 * * * UTC",
            "artisan-schedule-run */15 * * * 1-5 UTC",
            "rotate-logs @hourly UTC",
        ]
    );
    let backup = &import.monitors[0];
    assert_eq!(backup.origin.to_string(), "jobs:5");
    assert_eq!(
        backup.spec.name().as_str(),
        "/usr/local/bin/backup.sh --full >> /var/log/backup.log 2>&1"
    );
    assert_eq!(
        backup.detail.as_deref(),
        Some("/usr/local/bin/backup.sh --full >> /var/log/backup.log 2>&1")
    );
    assert_eq!(import.monitors[2].origin.line, 7);
    assert!(!backup.spec.is_paused());
}

#[test]
fn the_system_format_takes_a_user_column() {
    let text = "\
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin
17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly
0 4 * * * postgres /usr/bin/vacuumdb --all --analyze
@daily www-data /srv/app/bin/cleanup
";
    let import = import(Format::SystemCrontab, text);
    assert!(import.is_clean(), "{:?}", findings(&import));
    assert_eq!(
        rows(&import),
        [
            "run-parts-cron-hourly 17 * * * * UTC",
            "vacuumdb 0 4 * * * UTC",
            "cleanup @daily UTC",
        ]
    );
    assert_eq!(
        import.monitors[1].detail.as_deref(),
        Some("/usr/bin/vacuumdb --all --analyze (as postgres)")
    );

    // Read as a user crontab, the user would be the command: a system file needs its format.
    let wrong = super::import(Format::Crontab, "0 4 * * * postgres /usr/bin/vacuumdb\n");
    assert_eq!(rows(&wrong), ["postgres 0 4 * * * UTC"]);
    let short = super::import(Format::SystemCrontab, "0 4 * * * /usr/bin/vacuumdb\n");
    assert_eq!(
        finding_on(&short, 1).message,
        "expected 5 time fields, a user and a command (system crontab)"
    );
}

#[test]
fn cron_tz_sets_the_zone_of_the_lines_below_it_and_tz_alone_does_not() {
    let text = "\
0 1 * * * early.sh
CRON_TZ=Europe/Berlin
0 2 * * * berlin.sh
CRON_TZ=\"America/New_York\"
0 3 * * * new-york.sh
CRON_TZ=
0 4 * * * back-to-default.sh
TZ=Asia/Tokyo
0 5 * * * still-default.sh
";
    let import = import_in(Format::Crontab, text, Some("Europe/London"));
    assert_eq!(
        rows(&import),
        [
            "early 0 1 * * * Europe/London",
            "berlin 0 2 * * * Europe/Berlin",
            "new-york 0 3 * * * America/New_York",
            "back-to-default 0 4 * * * Europe/London",
            "still-default 0 5 * * * Europe/London",
        ]
    );
    let note = finding_on(&import, 8);
    assert_eq!(note.kind, FindingKind::Note);
    assert!(note.message.contains("CRON_TZ="), "{}", note.message);
    assert!(import.is_clean(), "a note does not fail the import");
}

#[test]
fn an_unknown_cron_tz_is_reported_once_and_holds_back_its_jobs() {
    let text = "\
CRON_TZ=Mars/Olympus_Mons
0 2 * * * backup.sh
CRON_TZ=UTC
0 3 * * * report.sh
";
    let import = import(Format::Crontab, text);
    assert_eq!(rows(&import), ["report 0 3 * * * UTC"]);
    let bad = finding_on(&import, 1);
    assert_eq!(bad.kind, FindingKind::Invalid);
    assert!(
        bad.message.contains("\"Mars/Olympus_Mons\""),
        "{}",
        bad.message
    );
    assert_eq!(
        finding_on(&import, 2).message,
        "not imported: CRON_TZ on line 1 is not a time zone"
    );
    assert!(!import.is_clean());
}

#[test]
fn malformed_lines_are_reported_with_their_line_and_reason() {
    let text = "\
0 2 * * * good.sh
61 * * * * bad-minute.sh
0 2 * *
* * * * *
@fortnightly fortnight.sh
0 0 31 2 * never.sh
this is not cron
0 3 * * * also-good.sh
";
    let import = import(Format::Crontab, text);
    assert_eq!(
        rows(&import),
        ["good 0 2 * * * UTC", "also-good 0 3 * * * UTC"]
    );
    let lines: Vec<usize> = import.findings.iter().map(|f| f.origin.line).collect();
    assert_eq!(lines, [2, 3, 4, 5, 6, 7]);
    assert!(
        import
            .findings
            .iter()
            .all(|f| f.kind == FindingKind::Invalid)
    );
    let reason = |line| finding_on(&import, line).message.clone();
    assert!(
        reason(2).starts_with("schedule minute field \"61\" is invalid"),
        "{}",
        reason(2)
    );
    assert_eq!(reason(3), "expected 5 time fields and a command");
    assert_eq!(reason(4), "expected 5 time fields and a command");
    assert!(
        reason(5).contains("alias \"@fortnightly\" is unknown"),
        "{}",
        reason(5)
    );
    assert!(reason(6).contains("never fires"), "{}", reason(6));
    assert!(reason(7).starts_with("neither a job"), "{}", reason(7));
}

#[test]
fn reboot_jobs_are_skipped_with_a_reason_and_do_not_fail_the_import() {
    let import = import(
        Format::Crontab,
        "@reboot /usr/local/bin/warm-cache.sh\n@daily x.sh\n",
    );
    assert_eq!(rows(&import), ["x @daily UTC"]);
    let skipped = finding_on(&import, 1);
    assert_eq!(skipped.kind, FindingKind::Skipped);
    assert!(
        skipped.message.contains("not monitored"),
        "{}",
        skipped.message
    );
    assert!(import.is_clean());
}

#[test]
fn an_opsdeck_comment_names_the_job_below_it() {
    let text = "\
# opsdeck: slug=nightly-backup name=\"Nightly backup\"
30 2 * * * /usr/local/bin/backup.sh
0 * * * * /usr/local/bin/backup.sh --incremental
# opsdeck: slug=nightly-backup
0 5 * * * other.sh

# opsdeck: slug=orphan

0 6 * * * lonely.sh
# opsdeck: slug=Bad_Slug
0 7 * * * refused.sh
# opsdeck: colour=blue
0 8 * * * also-refused.sh
";
    let import = import(Format::Crontab, text);
    assert_eq!(
        rows(&import),
        [
            "nightly-backup 30 2 * * * UTC",
            "backup 0 * * * * UTC",
            "lonely 0 6 * * * UTC",
        ]
    );
    assert_eq!(import.monitors[0].spec.name().as_str(), "Nightly backup");
    let kinds: Vec<(usize, FindingKind)> = import
        .findings
        .iter()
        .map(|f| (f.origin.line, f.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (5, FindingKind::Invalid),
            (7, FindingKind::Note),
            (10, FindingKind::Invalid),
            (12, FindingKind::Invalid),
        ]
    );
    assert!(
        finding_on(&import, 5)
            .message
            .contains("already chosen on jobs:2")
    );
    assert!(
        finding_on(&import, 10)
            .message
            .contains("must be lowercase")
    );
    assert!(
        finding_on(&import, 12)
            .message
            .contains("unknown key \"colour\"")
    );
}

#[test]
fn derived_slugs_are_numbered_when_taken_and_never_take_a_chosen_one() {
    let text = "\
0 1 * * * /opt/a/report.sh
0 2 * * * /opt/b/report.sh
0 3 * * * /opt/c/report.py
# opsdeck: slug=report
0 4 * * * /opt/d/weekly.sh
";
    let import = import(Format::Crontab, text);
    assert_eq!(
        rows(&import),
        [
            "report-2 0 1 * * * UTC",
            "report-3 0 2 * * * UTC",
            "report-4 0 3 * * * UTC",
            "report 0 4 * * * UTC",
        ]
    );
}

#[test]
fn the_command_ends_at_the_first_unescaped_percent() {
    let import = import(
        Format::Crontab,
        "0 0 * * * /usr/bin/mail -s \"date \\%d\" ops%body text%more\n",
    );
    assert_eq!(
        import.monitors[0].detail.as_deref(),
        Some("/usr/bin/mail -s \"date %d\" ops")
    );
}

#[test]
fn a_system_crontab_is_recognised_by_its_path_or_its_root_column() {
    let guess = |path: &str, text: &str| Format::guess(Path::new(path), text);
    assert_eq!(guess("/etc/crontab", ""), Format::SystemCrontab);
    assert_eq!(guess("/etc/cron.d/certbot", ""), Format::SystemCrontab);
    assert_eq!(
        guess("jobs.txt", "# x\nA=1\n0 * * * * root run.sh\n"),
        Format::SystemCrontab
    );
    assert_eq!(
        guess("jobs.txt", "@daily root run.sh\n"),
        Format::SystemCrontab
    );
    assert_eq!(
        guess("crontab.txt", "0 * * * * run.sh root\n"),
        Format::Crontab
    );
}

#[test]
fn an_unknown_default_zone_is_refused_up_front() {
    let error = Importer::new(Some("Europe/Atlantis")).unwrap_err();
    assert!(error.to_string().contains("Europe/Atlantis"), "{error}");
}
