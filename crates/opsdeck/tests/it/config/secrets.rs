//! `env:` references and the redaction of secrets.

use opsdeck_core::secret::Secret;
use opsdeck_server::config::{Config, Env, Overrides};

use super::{errors, load, parse};

#[test]
fn env_references_resolve_secrets_from_every_layer() {
    let text = "[metrics]\ntoken = \"env:SCRAPE_TOKEN\"\n[database]\nurl = \"env:DB_URL\"\n";
    let env = Env::from([
        ("SCRAPE_TOKEN", "s3cret-token"),
        ("DB_URL", "postgres://u:pw@db/x"),
    ]);
    let config = Config::from_toml_str(text, "test.toml", &env).expect("resolved");
    assert_eq!(
        config.metrics.token.as_ref().map(Secret::expose),
        Some("s3cret-token")
    );
    assert_eq!(config.database.url.expose(), "postgres://u:pw@db/x");

    let env = Env::from([
        ("OPSDECK_METRICS_TOKEN", "env:OTHER"),
        ("OTHER", "from-other"),
        ("FLAG_DB", "sqlite://flag.db"),
    ]);
    let flags = Overrides {
        database_url: Some("env:FLAG_DB".to_owned()),
        ..Overrides::default()
    };
    let config = load(None, &env, flags).expect("env and flag references");
    assert_eq!(
        config.metrics.token.as_ref().map(Secret::expose),
        Some("from-other")
    );
    assert_eq!(config.database.url.expose(), "sqlite://flag.db");
}

#[test]
fn an_unset_reference_is_an_error_at_its_key() {
    let text = errors(parse(
        "[metrics]\ntoken = \"env:SCRAPE_TOKEN\"\n[database]\nurl = \"env:\"\n",
    ))
    .to_string();
    assert!(
        text.contains("metrics.token: env:SCRAPE_TOKEN is not set (in test.toml)"),
        "{text}"
    );
    assert!(
        text.contains("database.url: env: needs a variable name"),
        "{text}"
    );
    let flags = Overrides {
        database_url: Some("env:NOPE".to_owned()),
        ..Overrides::default()
    };
    let text = errors(load(None, &Env::default(), flags)).to_string();
    assert_eq!(
        text,
        "database.url: env:NOPE is not set (in flag --database-url)"
    );
}

#[test]
fn secrets_never_show_in_debug_display_or_errors() {
    let env = Env::from([
        ("OPSDECK_METRICS_TOKEN", "tok-123-secret"),
        ("OPSDECK_DATABASE_URL", "postgres://app:hunter2@db/ops"),
    ]);
    let config = load(None, &env, Overrides::default()).expect("valid");
    for shown in [
        format!("{config:?}"),
        format!("{env:?}"),
        config.summary(),
        format!("{}", config.database.url),
        serde_json::to_string(&config).expect("serialize"),
    ] {
        assert!(
            !shown.contains("tok-123-secret") && !shown.contains("hunter2"),
            "secret in: {shown}"
        );
    }
    assert!(format!("{config:?}").contains("***"));
    let token = config.metrics.token.as_ref().expect("token");
    assert!(token.matches("tok-123-secret") && !token.matches("tok-123-secreT"));
    let flags = Overrides {
        database_url: Some("postgres://a:hunter2@h/d".to_owned()),
        ..Overrides::default()
    };
    assert!(!format!("{flags:?}").contains("hunter2"));

    let text = errors(parse("[metrics]\ntoken = 98765432\n")).to_string();
    assert!(
        text.starts_with("metrics.token: invalid type") && !text.contains("98765432"),
        "{text}"
    );
    let text = errors(parse("[metrics]\ntoken = \"tok-123-secret\n")).to_string();
    assert!(
        text.contains("syntax error at line 2") && !text.contains("tok-123-secret"),
        "{text}"
    );
}
