//! The `opsdeck exec` line printed for each imported crontab job.

use super::*;

#[test]
fn crontab_jobs_are_wired_with_opsdeck_exec_and_others_by_ping() {
    let text = "\
# opsdeck: slug=nightly-backup
30 2 * * * /usr/local/bin/backup.sh --full
0 * * * * cd /srv/app && php artisan schedule:run >> /var/log/sched.log 2>&1
5 4 * * * pg_dump app | gzip > /srv/app-$(date +\\%F).gz; echo 'done'
0 6 * * * RAILS_ENV=production bin/rails runner Report.send
";
    let crontab = import(Format::Crontab, text);
    let lines: Vec<Option<String>> = crontab
        .monitors
        .iter()
        .map(ImportedMonitor::exec_line)
        .collect();
    assert_eq!(
        lines,
        [
            Some("opsdeck exec nightly-backup -- /usr/local/bin/backup.sh --full".to_owned()),
            Some(
                "opsdeck exec artisan-schedule-run -- sh -c 'cd /srv/app && php artisan schedule:run >> /var/log/sched.log 2>&1'"
                    .to_owned()
            ),
            // cron's `\%` stays escaped, and the quotes hold inside the shell's.
            Some(
                r"opsdeck exec pg_dump -- sh -c 'pg_dump app | gzip > /srv/app-$(date +\%F).gz; echo '\''done'\'''"
                    .to_owned()
            ),
            Some(
                "opsdeck exec rails -- sh -c 'RAILS_ENV=production bin/rails runner Report.send'"
                    .to_owned()
            ),
        ],
        "{:?}",
        rows(&crontab)
    );
    let vercel = import(
        Format::Vercel,
        r#"{ "crons": [ { "path": "/api/cron/report", "schedule": "0 5 * * *" } ] }"#,
    );
    assert_eq!(vercel.monitors[0].exec_line(), None, "pinged, not wrapped");
}
