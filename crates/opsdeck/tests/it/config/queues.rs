//! `[queues]`: every problem of the sources and thresholds at its key path, secrets never
//! quoted, and a valid push source with its threshold accepted.

use opsdeck_server::config::SourceKind;

use super::{errors, parse};

#[test]
fn queue_sources_and_thresholds_are_checked_with_key_paths() {
    let toml = r#"
[queues]
poll_interval = "0s"

[[queues.sources]]
name = "Jobs"
type = "push"

[[queues.sources]]
name = "billing"
type = "push"
retry_webhook = "https://app.internal/retry?key=sekrit-in-url"
tenant_path = "data..tenantId"

[[queues.sources]]
name = "billing"
type = "beanstalk"

[[queues.thresholds]]
source = "nowhere"
queue = "emails"

[[queues.thresholds]]
name = "Bad Name"
source = "billing"
queue = "emails"
max_waiting = 10
"#;
    let found = errors(parse(toml));
    for key in [
        "queues.poll_interval",
        "queues.sources[0].name",
        "queues.sources[1].webhook_secret",
        "queues.sources[1].tenant_path",
        "queues.sources[2].name",
        "queues.sources[2].type",
        "queues.thresholds[0].source",
        "queues.thresholds[0].max_waiting",
        "queues.thresholds[1].name",
    ] {
        assert!(found.has(key), "{key} not reported:\n{found}");
    }
    let text = found.to_string();
    assert!(
        text.contains("unknown queue system \"beanstalk\""),
        "{text}"
    );
    assert!(!text.contains("sekrit"), "a secret was quoted:\n{text}");
}

#[test]
fn a_push_source_with_a_threshold_is_accepted() {
    let config = parse(
        r#"
[[queues.sources]]
name = "billing"
type = "push"
poll_interval = "1m"
tenant_path = "args[0].tenant_id"
retry_webhook = "https://app.internal/retry"
webhook_secret = "whsec"

[[queues.thresholds]]
source = "billing"
queue = "payments"
max_oldest_age = "5m"
"#,
    )
    .expect("a valid configuration");
    let source = &config.queues.sources[0];
    assert!(matches!(&source.kind, SourceKind::Push(Ok(keys)) if keys.retry_webhook.is_some()));
    assert_eq!(
        config.queues.thresholds[0].check_name().unwrap().as_str(),
        "queue-billing-payments"
    );
    let shown = serde_json::to_string(&config).unwrap();
    assert!(!shown.contains("whsec"), "{shown}");
}
