//! Defaults and the precedence of defaults, file, environment and flags.

use std::time::Duration;

use opsdeck_server::config::{Env, LogFormat, Overrides};

use super::{TempToml, addr, errors, load};

#[test]
fn defaults_match_the_documented_values() {
    let config = load(None, &Env::default(), Overrides::default()).expect("defaults are valid");
    assert_eq!(config.server.listen, addr("127.0.0.1:8080"));
    assert_eq!(config.server.request_timeout, Duration::from_secs(30));
    assert_eq!(config.server.body_limit, 1024 * 1024);
    assert_eq!(config.server.shutdown_grace, Duration::from_secs(20));
    assert!(config.server.trusted_proxies.is_empty());
    assert_eq!(config.database.url.expose(), "sqlite://opsdeck.db");
    assert_eq!(config.database.max_connections, 10);
    assert_eq!(config.database.acquire_timeout, Duration::from_secs(5));
    assert_eq!(config.log.format, LogFormat::Auto);
    assert_eq!(config.log.level, "info");
    assert!(config.metrics.token.is_none());
    assert_eq!(config.background.leader_lease, Duration::from_secs(15));
    assert_eq!(
        config.background.leader_renew_interval(),
        Duration::from_secs(5)
    );
    assert_eq!(
        config.background.heartbeat_interval,
        Duration::from_secs(10)
    );
    assert_eq!(
        config.background.instance_retention,
        Duration::from_secs(600)
    );
}

#[test]
fn each_layer_overrides_the_one_below() {
    let file = TempToml::new(
        "[server]\nlisten = \"127.0.0.1:1001\"\nrequest_timeout = \"45s\"\n\
         [log]\nformat = \"text\"\nlevel = \"debug\"\n[database]\nmax_connections = 3\n",
    );
    let env = Env::from([
        ("OPSDECK_LISTEN", "127.0.0.1:1002"),
        ("OPSDECK_LOG_FORMAT", "json"),
    ]);
    let flags = Overrides {
        listen: Some(addr("127.0.0.1:1003")),
        database_url: Some("sqlite://flag.db".to_owned()),
        log_format: None,
    };

    let from_file = load(Some(&file.0), &Env::default(), Overrides::default()).expect("file");
    assert_eq!(from_file.server.listen, addr("127.0.0.1:1001"));
    assert_eq!(from_file.log.format, LogFormat::Text);
    assert_eq!(
        from_file.server.shutdown_grace,
        Duration::from_secs(20),
        "default kept"
    );

    let with_env = load(Some(&file.0), &env, Overrides::default()).expect("file + env");
    assert_eq!(with_env.server.listen, addr("127.0.0.1:1002"));
    assert_eq!(with_env.log.format, LogFormat::Json);
    assert_eq!(
        with_env.server.request_timeout,
        Duration::from_secs(45),
        "file kept"
    );
    assert_eq!(with_env.log.level, "debug");

    let with_flags = load(Some(&file.0), &env, flags).expect("file + env + flags");
    assert_eq!(with_flags.server.listen, addr("127.0.0.1:1003"));
    assert_eq!(with_flags.log.format, LogFormat::Json, "no flag: env kept");
    assert_eq!(with_flags.database.max_connections, 3);
    assert_eq!(with_flags.database.url.expose(), "sqlite://flag.db");
    let text_flag = Overrides {
        log_format: Some(LogFormat::Text),
        ..Overrides::default()
    };
    let config = load(Some(&file.0), &env, text_flag).expect("--log-format");
    assert_eq!(config.log.format, LogFormat::Text, "flag beats env");
}

#[test]
fn the_file_comes_from_the_flag_or_else_opsdeck_config() {
    let named = TempToml::new("[server]\nlisten = \"127.0.0.1:2001\"\n");
    let flagged = TempToml::new("[server]\nlisten = \"127.0.0.1:2002\"\n");
    let env = Env::from([("OPSDECK_CONFIG", named.0.to_str().expect("utf-8 path"))]);
    let config = load(None, &env, Overrides::default()).expect("OPSDECK_CONFIG");
    assert_eq!(config.server.listen, addr("127.0.0.1:2001"));
    let config = load(Some(&flagged.0), &env, Overrides::default()).expect("--config");
    assert_eq!(config.server.listen, addr("127.0.0.1:2002"));
}

#[test]
fn environment_values_are_typed_by_the_key() {
    let env = Env::from([
        ("OPSDECK_DATABASE__MAX_CONNECTIONS", "20"),
        ("opsdeck_server__request_timeout", "1h30m"),
        ("OPSDECK_SERVER__BODY_LIMIT", "65536"),
        ("OPSDECK_SERVER__TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
        ("OPSDECK_LOG", "opsdeck=debug,info"),
    ]);
    let config = load(None, &env, Overrides::default()).expect("valid env");
    assert_eq!(config.database.max_connections, 20);
    assert_eq!(config.server.request_timeout, Duration::from_secs(5400));
    assert_eq!(config.server.body_limit, 65536);
    assert_eq!(config.server.trusted_proxies.ranges().len(), 2);
    assert_eq!(config.log.level, "opsdeck=debug,info");

    let bad = Env::from([("OPSDECK_DATABASE__MAX_CONNECTIONS", "ten")]);
    let text = errors(load(None, &bad, Overrides::default())).to_string();
    assert_eq!(
        text,
        "database.max_connections: invalid type: string \"ten\", expected u32 (in environment variable OPSDECK_DATABASE__MAX_CONNECTIONS)"
    );
}

#[test]
fn two_variables_for_one_key_are_refused() {
    let env = Env::from([
        ("OPSDECK_LISTEN", "127.0.0.1:1"),
        ("OPSDECK_SERVER__LISTEN", "127.0.0.1:2"),
    ]);
    let errors = errors(load(None, &env, Overrides::default()));
    assert!(
        errors
            .to_string()
            .contains("server.listen: also set by OPSDECK_LISTEN"),
        "{errors}"
    );
}
