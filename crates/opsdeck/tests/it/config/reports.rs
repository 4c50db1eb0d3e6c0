//! Error reports: every problem at once, each with its key path and its origin.

use opsdeck_server::config::{Env, Origin, Overrides, check_file_with_env};
use uuid::Uuid;

use super::{TempToml, errors, load, parse};

#[test]
fn a_missing_file_is_reported_with_its_path() {
    let path = std::env::temp_dir().join(format!("opsdeck-missing-{}.toml", Uuid::new_v4()));
    let text = errors(load(Some(&path), &Env::default(), Overrides::default())).to_string();
    assert!(
        text.starts_with(&format!("{}: cannot read", path.display())),
        "{text}"
    );
}

#[test]
fn unknown_keys_in_the_file_are_all_reported_with_their_paths() {
    let errors = errors(parse(
        "[server]\nlistne = \"x\"\nbody_limt = 1\n[serverx]\na = 1\n",
    ));
    let lines: Vec<String> = errors.issues().iter().map(ToString::to_string).collect();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(lines.contains(&"server.listne: unknown key; expected one of listen, request_timeout, body_limit, shutdown_grace, trusted_proxies, header_timeout, body_timeout, max_connections, max_connections_per_client (in test.toml)".to_owned()), "{lines:#?}");
    assert!(errors.has("server.body_limt"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("serverx: unknown key; expected one of server, database"))
    );
}

#[test]
fn unknown_generic_variables_are_errors_naming_the_variable() {
    let env = Env::from([
        ("OPSDECK_SERVER__LISTNE", "x"),
        ("OPSDECK_NOPE__KEY", "x"),
        ("OPSDECK_TEST_POSTGRES_URL", "postgres://ignored"),
        ("OPSDECK_SOMETHING_ELSE", "ignored"),
    ]);
    let errors = errors(load(None, &env, Overrides::default()));
    assert_eq!(errors.issues().len(), 2, "{errors}");
    let listne = errors
        .issues()
        .iter()
        .find(|i| i.path == "server.listne")
        .expect("listne reported");
    assert_eq!(listne.path, "server.listne");
    assert_eq!(
        listne.origin,
        Origin::Env("OPSDECK_SERVER__LISTNE".to_owned())
    );
    assert!(
        errors
            .to_string()
            .contains("(in environment variable OPSDECK_SERVER__LISTNE)")
    );
    assert!(errors.to_string().contains("nope: unknown key"), "{errors}");
}

#[test]
fn type_errors_name_the_key_path() {
    let text = errors(parse("[database]\nmax_connections = \"ten\"\n")).to_string();
    assert_eq!(
        text,
        "database.max_connections: invalid type: string \"ten\", expected u32 (in test.toml)"
    );
    let text = errors(parse("[[server]]\nlisten = \"127.0.0.1:1\"\n")).to_string();
    assert_eq!(
        text,
        "server: expected a table ([server]), found an array (in test.toml)"
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let errors = errors(parse(
        "[server]\nlisten = \"localhost:80\"\nrequest_timeout = \"0s\"\n\
         trusted_proxies = [\"10.0.0.1/8\", \"127.0.0.1\", \"300.1.1.1\"]\ncolour = \"red\"\n\
         [database]\nmax_connections = 0\nurl = \"mysql://x\"\n[log]\nformat = \"yaml\"\nlevel = \"\"\n\
         [background]\nleader_lease = \"1s\"\ninstance_retention = \"5s\"\n",
    ));
    let paths: Vec<&str> = errors.issues().iter().map(|i| i.path.as_str()).collect();
    for expected in [
        "server.listen",
        "server.request_timeout",
        "server.trusted_proxies[0]",
        "server.trusted_proxies[2]",
        "server.colour",
        "database.max_connections",
        "database.url",
        "log.format",
        "log.level",
        "background.leader_lease",
        "background.instance_retention",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from:\n{errors}"
        );
    }
    assert_eq!(paths.len(), 11, "{errors}");
    let text = errors.to_string();
    assert!(text.contains("did you mean 10.0.0.0/8?"), "{text}");
    assert!(text.contains("expected one of auto, json, text"), "{text}");
    assert!(text.contains("must be at least 3s"), "{text}");
    assert!(!text.contains("mysql://x"), "database URL echoed: {text}");
}

#[test]
fn check_file_summarizes_without_secrets() {
    let file = TempToml::new("[database]\nurl = \"env:DB\"\n[metrics]\ntoken = \"abc-secret\"\n");
    let env = Env::from([("DB", "postgres://u:hunter2@db/x"), ("OPSDECK_LOG", "warn")]);
    let summary = check_file_with_env(&file.0, &env).expect("valid");
    assert!(
        summary.contains("postgres")
            && summary.contains("token set")
            && summary.contains("OPSDECK_LOG"),
        "{summary}"
    );
    assert!(
        !summary.contains("hunter2") && !summary.contains("abc-secret"),
        "{summary}"
    );
    let bad = TempToml::new("[server]\nlistne = 1\n");
    let text = check_file_with_env(&bad.0, &Env::default())
        .expect_err("invalid")
        .to_string();
    assert!(
        text.starts_with("server.listne: unknown key")
            && text.contains(&bad.0.display().to_string()),
        "{text}"
    );
}
