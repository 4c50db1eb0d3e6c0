use super::slug::{from_command, slugify, unique};
use crate::ids::SLUG_MAX_CHARS;

#[test]
fn slugify_keeps_slug_characters_and_joins_the_rest_with_dashes() {
    assert_eq!(slugify("Daily Report"), "daily-report");
    assert_eq!(slugify("report.weekly"), "report-weekly");
    assert_eq!(slugify("--a__b--"), "a__b");
    assert_eq!(slugify("schedule:run"), "schedule-run");
    assert_eq!(slugify("über"), "ber");
    assert_eq!(slugify("!!!"), "cron-job");
    assert_eq!(slugify(&"x".repeat(200)).len(), SLUG_MAX_CHARS - 8);
}

#[test]
fn commands_are_named_after_the_job_not_its_wrappers() {
    let cases = [
        ("/usr/local/bin/backup.sh", "backup"),
        (
            "/usr/local/bin/backup.sh --full >> /var/log/b.log 2>&1",
            "backup",
        ),
        ("cd /srv/app && ./bin/sync-users", "sync-users"),
        ("sleep $((RANDOM % 60)); /opt/jobs/rotate.py", "rotate"),
        ("FOO=1 BAR=2 /opt/x/run-me", "run-me"),
        ("nice -n 10 ionice -c 3 /opt/jobs/reindex", "reindex"),
        ("timeout -s KILL 30m /opt/jobs/export.rb", "export"),
        ("flock -n /tmp/lock /opt/jobs/import-feeds", "import-feeds"),
        (
            "/usr/bin/python3 -u /srv/app/jobs/digest.py --daily",
            "digest",
        ),
        ("python3 manage.py clearsessions", "manage-clearsessions"),
        ("php /var/www/artisan schedule:run", "artisan-schedule-run"),
        ("npm run cleanup", "npm-run-cleanup"),
        ("bash -c \"cd /x && purge.sh\"", "purge"),
        ("sh -c '/opt/jobs/vacuum.sh'", "vacuum"),
        (
            "test -x /usr/sbin/anacron || run-parts --report /etc/cron.daily",
            "run-parts-cron-daily",
        ),
        ("pg_dump app | gzip > /backups/app.sql.gz", "pg_dump"),
        ("env -u HOME PATH=/bin /usr/bin/certbot renew", "certbot"),
        ("sudo -u deploy /srv/deploy/bin/prune", "prune"),
        ("cd /", "cd"),
    ];
    for (command, slug) in cases {
        assert_eq!(from_command(command), slug, "{command}");
    }
}

#[test]
fn unique_numbers_taken_slugs() {
    let taken = ["backup", "backup-2"];
    let slug = unique("Backup", |s| taken.contains(&s.as_str()));
    assert_eq!(slug.as_str(), "backup-3");
    assert_eq!(unique("fresh", |_| false).as_str(), "fresh");
}
