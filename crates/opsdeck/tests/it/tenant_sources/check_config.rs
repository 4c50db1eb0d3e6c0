//! `[tenants]` in the configuration: every problem at its key path without quoting a
//! secret, and `opsdeck check-config --connect` preparing each statement on its database
//! (exit 1 and the key path of each that fails), while without `--connect` nothing connects.

use std::collections::BTreeMap;
use std::process::Output;
use std::sync::atomic::Ordering;

use opsdeck_server::config::{Config, Env};

use super::fixture::AppDb;
use super::unreachable::silent_server;
use crate::support::process::command;

#[test]
fn tenant_settings_are_checked_with_key_paths() {
    let toml = r#"
[tenants]
url = "postgres://app:sekrit-default@db.internal/app"
timeout = "0s"
directory = "SELECT id, name FROM accounts; DELETE FROM accounts"

[[tenants.queries]]
name = "Account"
sql = "UPDATE accounts SET plan = 'free' WHERE id = $1"
kind = "profile"
row_limit = 5

[[tenants.queries]]
name = "dup"
url = "redis://x:sekrit-redis@cache.internal"
sql = "SELECT 1"
kind = "table"
timeout = "5m"
mask = ["email", "EMAIL"]

[[tenants.queries]]
name = "dup"
sql = "SELECT 1"
kind = "table"

[[tenants.queries]]
name = "two-params"
sql = "SELECT * FROM invoices WHERE account_id = $1 AND total > $2"
kind = "table"
row_limit = 0
"#;
    let errors = match Config::from_toml_str(toml, "test.toml", &Env::default()) {
        Ok(_) => panic!("expected errors"),
        Err(errors) => errors,
    };
    for key in [
        "tenants.timeout",
        "tenants.directory",
        "tenants.queries[0].name",
        "tenants.queries[0].sql",
        "tenants.queries[0].row_limit",
        "tenants.queries[1].url",
        "tenants.queries[1].timeout",
        "tenants.queries[1].mask",
        "tenants.queries[2].name",
        "tenants.queries[3].sql",
        "tenants.queries[3].row_limit",
    ] {
        assert!(errors.has(key), "{key} not reported:\n{errors}");
    }
    let text = errors.to_string();
    assert!(text.contains("2 statements"), "{text}");
    assert!(text.contains("uses $2"), "{text}");
    assert!(!text.contains("sekrit"), "a secret was quoted:\n{text}");

    let kinds = Config::from_toml_str(
        "[[tenants.queries]]\nname = \"a\"\nsql = \"SELECT 1\"\nkind = \"table\"\n\n\
         [[tenants.queries]]\nname = \"b\"\nurl = \"sqlite://app.db\"\nsql = \"SELECT 1\"\nkind = \"chart\"\n",
        "test.toml",
        &Env::default(),
    )
    .map(|_| ())
    .unwrap_err();
    assert!(kinds.has("tenants.queries[0].url"), "{kinds}");
    assert!(kinds.has("tenants.queries[1].kind"), "{kinds}");
    assert!(
        kinds.to_string().contains("`profile` or `table`"),
        "{kinds}"
    );
}

#[test]
fn a_valid_tenant_section_is_accepted_and_shown_without_secrets() {
    let config = Config::from_toml_str(
        r#"
[tenants]
url = "mysql://app:sekrit@db.internal/app"
directory = "SELECT id, name, plan, status FROM accounts WHERE $1 = '' OR id = $1 LIMIT $2"

[[tenants.queries]]
name = "account"
sql = "SELECT plan, billing_email FROM accounts WHERE id = $1 -- DELETE is only a comment"
kind = "profile"
mask = ["billing_email"]

[[tenants.queries]]
name = "invoices"
url = "sqlite:///var/lib/app/billing.db"
sql = "SELECT number, 'UPDATE in a string' AS note FROM invoices WHERE account_id = $1"
kind = "table"
timeout = "5s"
row_limit = 20
"#,
        "test.toml",
        &Env::default(),
    )
    .unwrap_or_else(|errors| panic!("{errors}"));
    let sources = config.tenants.sources();
    assert!(sources.has_directory());
    assert_eq!(sources.queries().len(), 2);
    let shown = serde_json::to_string(&config).unwrap();
    assert!(!shown.contains("sekrit"), "{shown}");
    assert!(
        config.summary().contains("2 queries"),
        "{}",
        config.summary()
    );
}

async fn check(file: &std::path::Path, connect: bool) -> Output {
    let mut args = vec!["check-config", file.to_str().unwrap()];
    if connect {
        args.push("--connect");
    }
    command(&args, &BTreeMap::new())
        .output()
        .await
        .expect("run opsdeck")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn temp_config(text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!(
        "opsdeck-tenants-{}.toml",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&path, text).unwrap();
    path
}

#[tokio::test]
async fn check_config_connect_prepares_every_statement() {
    let db = AppDb::sqlite().await.unwrap();
    let good = format!(
        r#"
[tenants]
url = "{url}"
directory = "SELECT id, name, plan, status FROM accounts WHERE $1 = '' OR id = $1 LIMIT $2"

[[tenants.queries]]
name = "account"
sql = "SELECT name, plan FROM accounts WHERE id = $1"
kind = "profile"
"#,
        url = db.url
    );
    let file = temp_config(&good);
    let out = check(&file, true).await;
    let text = stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("tenants.directory: ok"), "{text}");
    assert!(text.contains("tenants.queries[0]: ok"), "{text}");
    std::fs::remove_file(&file).ok();

    let bad = format!(
        "{good}\n[[tenants.queries]]\nname = \"usage\"\nsql = \"SELECT * FROM no_such_table WHERE id = $1\"\nkind = \"table\"\n"
    );
    let file = temp_config(&bad);
    let out = check(&file, true).await;
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("tenants.queries[0]: ok"), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("tenants.queries[1]:"))
        .unwrap_or_else(|| panic!("no line for the failing query:\n{text}"));
    assert!(line.contains("no_such_table"), "{line}");
    // Without --connect the file is only validated.
    let out = check(&file, false).await;
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::remove_file(&file).ok();
}

#[tokio::test]
async fn check_config_connects_only_when_asked_and_never_shows_the_password() {
    let (port, accepted) = silent_server().await;
    let file = temp_config(&format!(
        r#"
[tenants]
url = "postgres://app:sekrit-pw@127.0.0.1:{port}/app"
timeout = "500ms"

[[tenants.queries]]
name = "account"
sql = "SELECT name FROM accounts WHERE id = $1"
kind = "profile"
"#
    ));
    let out = check(&file, false).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        0,
        "nothing connects without --connect"
    );

    let out = check(&file, true).await;
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(accepted.load(Ordering::SeqCst) > 0);
    assert!(
        text.contains("tenants.queries[0]: database unreachable"),
        "{text}"
    );
    assert!(!text.contains("sekrit-pw"), "{text}");
    std::fs::remove_file(&file).ok();
}

#[tokio::test]
async fn check_config_connect_catches_a_parameter_postgresql_cannot_compare() {
    let Some(db) = AppDb::postgres().await else {
        return;
    };
    let file = temp_config(&format!(
        r#"
[tenants]
url = "{url}"

[[tenants.queries]]
name = "by-seats"
sql = "SELECT name FROM accounts WHERE seats = $1"
kind = "table"

[[tenants.queries]]
name = "by-seats-cast"
sql = "SELECT name FROM accounts WHERE seats = $1::int"
kind = "table"
"#,
        url = db.url
    ));
    let out = check(&file, true).await;
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("tenants.queries[0]:"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(line.contains("operator does not exist"), "{line}");
    assert!(text.contains("tenants.queries[1]: ok"), "{text}");
    std::fs::remove_file(&file).ok();
}
