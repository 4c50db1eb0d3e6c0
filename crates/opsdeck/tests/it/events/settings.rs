//! `[events]` in the configuration: its defaults, its values and the problems
//! `check-config` names by key path.

use std::time::Duration;

use opsdeck_server::config::{Config, Env};

fn parse(text: &str) -> Result<Config, String> {
    Config::from_toml_str(text, "opsdeck.toml", &Env::default()).map_err(|e| e.to_string())
}

#[test]
fn events_settings_are_read_and_checked_by_key_path() {
    let config = parse(
        "[events]\nmax_body = \"8MiB\"\nmax_batch = 500\nmax_age = \"2days\"\n\
         raw_retention = \"3days\"\nhourly_retention = \"3days\"\n",
    )
    .unwrap();
    assert_eq!(config.events.max_body, 8 << 20);
    assert_eq!(config.events.max_batch, 500);
    assert_eq!(config.events.max_age, Duration::from_secs(2 * 86_400));
    assert_eq!(
        config.events.limits().max_age,
        Duration::from_secs(2 * 86_400)
    );

    let problems = parse(
        "[events]\nmax_batch = 0\nmax_body = \"1KiB\"\nmax_event_size = \"2KiB\"\n\
         hourly_retention = \"1h\"\ndaily_retention = \"7days\"\nraw_retention = \"1day\"\n\
         ingest_batch = 100000\n",
    )
    .unwrap_err();
    for key in [
        "events.max_batch",
        "events.max_event_size",
        "events.hourly_retention",
        "events.daily_retention",
        "events.raw_retention",
        "events.ingest_batch",
    ] {
        assert!(problems.contains(key), "{key} in {problems}");
    }
    let unknown = parse("[events]\nretention = \"1day\"\n").unwrap_err();
    assert!(unknown.contains("events.retention"), "{unknown}");
}
