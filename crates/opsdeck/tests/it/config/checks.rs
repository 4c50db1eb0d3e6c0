//! `[[health.checks]]` and `[[alerts.webhooks]]`: every entry becomes a validated spec, and
//! every mistake is reported with the entry's index and key.

use opsdeck_server::config::{Env, Overrides};
use serde_json::{Value, json};

use super::parse;

/// The messages of a failed parse, one line each.
fn problems(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(errors) => errors.to_string(),
    }
}

#[test]
fn each_check_type_becomes_its_spec_with_defaults() {
    let config = parse(
        r#"
[[health.checks]]
name = "db"
type = "postgres"
url = "postgres://app:pw@db:5432/app"

[[health.checks]]
name = "api"
type = "http"
url = "https://api.internal/healthz"
expect_body = "ok"
headers = { Authorization = "Bearer abc" }
critical = false
interval = "30s"
timeout = "2s"
warn_latency = "300ms"

[[health.checks]]
name = "root"
type = "disk"
path = "/"

[[health.checks]]
name = "cert"
type = "tls"
address = "example.com:443"
"#,
    )
    .expect("valid");
    let specs = config.health.specs().expect("specs");
    assert_eq!(specs.len(), 4);
    assert_eq!(specs[0].probe.describe().kind, "postgres");
    assert!(specs[0].critical);
    assert_eq!(specs[0].interval.as_secs(), 15);
    assert_eq!(specs[0].timeout.as_secs(), 3);
    let api = &specs[1];
    assert!(!api.critical);
    assert_eq!(api.interval.as_secs(), 30);
    assert_eq!(api.warn_latency.map(|d| d.as_millis()), Some(300));
    // What applies, defaults filled in, as the serialized configuration shows it.
    let settings = |index: usize| Value::Object(specs[index].probe.settings());
    let http = settings(1);
    assert_eq!(
        (&http["expect_status"], &http["method"]),
        (&json!(200), &json!("GET"))
    );
    assert_eq!(http["headers"], json!({ "Authorization": "***" }));
    let disk = settings(2);
    assert_eq!(
        (&disk["warn_free_percent"], &disk["fail_free_percent"]),
        (&json!(10.0), &json!(5.0))
    );
    let tls = settings(3);
    assert_eq!(
        (&tls["warn_days"], &tls["fail_days"]),
        (&json!(14.0), &json!(3.0))
    );
    // The secrets of a spec never show in its Debug form.
    let debug = format!("{specs:?}");
    assert!(
        !debug.contains("pw@") && !debug.contains("Bearer abc"),
        "{debug}"
    );
}

#[test]
fn every_mistake_in_checks_is_reported_with_its_entry_and_key() {
    let report = problems(
        r#"
[[health.checks]]
name = "Bad Name"
type = "tcp"
address = "no-port"
path = "/tmp"

[[health.checks]]
name = "web"
type = "http"

[[health.checks]]
name = "web"
type = "disk"
path = "/"
warn_free_percent = 5.0
fail_free_percent = 10.0

[[health.checks]]
name = "ftp"
type = "gopher"
"#,
    );
    for expected in [
        "health.checks[0].name",
        "health.checks[0].address",
        "health.checks[0].path",
        "not used by a tcp check",
        "health.checks[1].url",
        "required for a http check",
        "health.checks[2].name",
        "used twice",
        "health.checks[2].fail_free_percent",
        "health.checks[3]",
    ] {
        assert!(
            report.contains(expected),
            "{expected:?} missing from:\n{report}"
        );
    }
}

#[test]
fn the_own_database_check_name_is_reserved() {
    let report = problems(
        "[[health.checks]]\nname = \"opsdeck-database\"\ntype = \"tcp\"\naddress = \"db:5432\"\n",
    );
    assert!(report.contains("health.checks[0].name"), "{report}");
}

#[test]
fn webhook_mistakes_are_reported_without_echoing_the_url() {
    let env = Env::from([("HOOK", "not a url with secret-part")]);
    let errors = opsdeck_server::config::Config::from_toml_str(
        "[[alerts.webhooks]]\nname = \"ops\"\nurl = \"env:HOOK\"\n\n[[alerts.webhooks]]\nname = \"ops\"\nurl = \"https://hooks.example.com/x\"\nformat = \"slack\"\n",
        "test.toml",
        &env,
    )
    .expect_err("invalid");
    let report = errors.to_string();
    assert!(report.contains("alerts.webhooks[0].url"), "{report}");
    assert!(report.contains("alerts.webhooks[1].name"), "{report}");
    assert!(!report.contains("secret-part"), "{report}");
}

#[test]
fn cron_monitors_and_jobs_become_specs_and_report_mistakes_by_key() {
    let config = parse(
        r#"
[[cron.monitors]]
slug = "nightly-backup"
schedule = "30 2 * * *"
tz = "Europe/Berlin"
grace = "15m"
max_runtime = "2h"
tags = ["backup"]
maintenance = [{ schedule = "0 3 * * 0", duration = "2h" }]

[[cron.jobs]]
slug = "digests"
interval = "15m"
url = "https://app.internal/cron/digests"
"#,
    )
    .expect("valid");
    let spec = config.cron.monitors[0].to_spec().expect("spec");
    assert_eq!(spec.slug().as_str(), "nightly-backup");
    assert_eq!(spec.grace().as_secs(), 900);
    assert_eq!(config.cron.jobs[0].monitor.slug, "digests");

    let report = problems(
        r#"
[[cron.monitors]]
slug = "Bad Slug"
schedule = "61 * * * *"

[[cron.monitors]]
slug = "both"
schedule = "@daily"
interval = "1h"

[[cron.jobs]]
slug = "both"
schedule = "@hourly"
url = "ftp://x"
"#,
    );
    for expected in [
        "cron.monitors[0].slug",
        "cron.monitors[0].schedule",
        "cron.monitors[1].interval",
        "cron.jobs[0].slug",
        "used twice",
        "cron.jobs[0].url",
    ] {
        assert!(
            report.contains(expected),
            "{expected:?} missing from:\n{report}"
        );
    }
    // A misspelt key of a job is an error naming it, not a silently ignored line.
    let report = problems(
        "[[cron.jobs]]\nslug = \"x\"\ninterval = \"1m\"\nurl = \"https://a/b\"\nmethd = \"POST\"\n",
    );
    assert!(
        report.contains("cron.jobs[0]") && report.contains("`methd`"),
        "{report}"
    );
}

#[test]
fn ping_ingest_limits_are_configurable_within_bounds() {
    let defaults = parse("").expect("defaults");
    assert_eq!(defaults.cron.ping_body_limit, 100 * 1024);
    assert_eq!(defaults.cron.ingest_batch, 256);
    assert_eq!(defaults.cron.ingest_queue, 8192);

    let config =
        parse("[cron]\nping_body_limit = \"16KiB\"\ningest_batch = 64\ningest_queue = 1024\n")
            .expect("valid");
    assert_eq!(config.cron.ping_body_limit, 16 * 1024);
    assert_eq!(config.cron.ingest_batch, 64);
    assert_eq!(config.cron.ingest_queue, 1024);

    let env = Env::from([
        ("OPSDECK_CRON__PING_BODY_LIMIT", "2KiB"),
        ("OPSDECK_CRON__INGEST_BATCH", "32"),
    ]);
    let config = super::load(None, &env, Overrides::default());
    let config = config.expect("valid from the environment");
    assert_eq!(config.cron.ping_body_limit, 2048);
    assert_eq!(config.cron.ingest_batch, 32);

    for (text, key, says) in [
        (
            "ping_body_limit = \"1MiB\"",
            "cron.ping_body_limit",
            "100KiB",
        ),
        ("ping_body_limit = 0", "cron.ping_body_limit", "between 1B"),
        (
            "ingest_batch = 0",
            "cron.ingest_batch",
            "between 1 and 10000",
        ),
        (
            "ingest_batch = 20000",
            "cron.ingest_batch",
            "between 1 and 10000",
        ),
        (
            "ingest_queue = 100",
            "cron.ingest_queue",
            "at least one batch",
        ),
        (
            "ingest_queue = 2000000",
            "cron.ingest_queue",
            "at most 1000000",
        ),
    ] {
        let report = problems(&format!("[cron]\n{text}\n"));
        assert!(
            report.contains(key) && report.contains(says),
            "{text}: {report}"
        );
    }
}
