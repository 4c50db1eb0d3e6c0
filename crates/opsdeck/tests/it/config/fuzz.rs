//! The configuration loader against hostile input (SPEC §8), on stable in every test run:
//! random bytes, and documents built from the real tables and keys with values of every
//! TOML type, out-of-range numbers, odd durations and secrets references. Loading never
//! panics, and a refusal always says something. The libFuzzer target for the same loader is
//! `fuzz/config` (by hand).

use opsdeck_server::config::{Config, Env};
use proptest::prelude::*;

const TABLES: &[&str] = &[
    "",
    "[server]",
    "[database]",
    "[log]",
    "[auth]",
    "[auth.oidc]",
    "[auth.proxy]",
    "[audit]",
    "[rate_limit]",
    "[health]",
    "[[health.checks]]",
    "[cron]",
    "[[cron.monitors]]",
    "[[cron.jobs]]",
    "[alerts]",
    "[[alerts.webhooks]]",
    "[queues]",
    "[[queues.sources]]",
    "[tenants]",
    "[events]",
    "[metrics]",
];

const KEYS: &[&str] = &[
    "listen",
    "request_timeout",
    "body_limit",
    "header_timeout",
    "max_connections",
    "url",
    "max_connections_per_client",
    "trusted_proxies",
    "acquire_timeout",
    "format",
    "level",
    "outage_grace",
    "issuer",
    "audience",
    "jwks_url",
    "role_map",
    "spool_file",
    "checkpoint_interval",
    "checkpoint_key",
    "enabled",
    "reads_per_minute",
    "flap_threshold",
    "name",
    "type",
    "address",
    "interval",
    "timeout",
    "critical",
    "slug",
    "schedule",
    "tz",
    "grace",
    "headers",
    "method",
    "max_attempts",
    "initial_backoff",
    "webhooks",
    "poll_interval",
    "tenant_path",
    "prefix",
    "queues",
    "bulk_max",
    "retention",
    "token",
    "cron_monitor_series",
    "maintenance",
    "tags",
    "paused",
    "min_runtime",
    "max_runtime",
    "dashboard_url",
];

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        any::<bool>().prop_map(|b| b.to_string()),
        "[a-z0-9 :/@._*?-]{0,24}".prop_map(|s| format!("{s:?}")),
        "-?[0-9]{1,20}(ms|s|m|h|d|days|w|y|MiB|GB|)".prop_map(|s| format!("{s:?}")),
        "(env|file):[A-Za-z_/.]{0,12}".prop_map(|s| format!("{s:?}")),
        "[0-9*/,-]{1,6}( [0-9*/,-]{1,6}){0,6}".prop_map(|s| format!("{s:?}")),
        Just("[]".to_owned()),
        Just("[\"a\", 1]".to_owned()),
        Just("{ a = 1, b = \"x\" }".to_owned()),
        Just("\"\\u0000\"".to_owned()),
        "\\PC{0,16}".prop_map(|s| format!("{s:?}")),
    ]
}

fn document() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            prop::sample::select(TABLES),
            prop::collection::vec((prop::sample::select(KEYS), value()), 0..6),
        ),
        0..8,
    )
    .prop_map(|tables| {
        let mut text = String::new();
        for (table, pairs) in tables {
            text.push_str(table);
            text.push('\n');
            for (key, value) in pairs {
                text.push_str(&format!("{key} = {value}\n"));
            }
        }
        text
    })
}

fn load(text: &str) {
    let env = Env::from([("OPSDECK_X", "y")]);
    if let Err(errors) = Config::from_toml_str(text, "fuzz.toml", &env) {
        assert!(!errors.to_string().is_empty(), "a refusal says why");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        load(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn documents_of_real_tables_and_keys_never_panic(text in document()) {
        load(&text);
    }
}
