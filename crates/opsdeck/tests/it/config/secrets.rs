//! `env:` and `file:` references and the redaction of secrets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use opsdeck_core::secret::Secret;
use opsdeck_server::config::{Config, Env, Overrides};

use super::{errors, load, parse};
use crate::support::process::command;

/// A directory of secret files, as a container runtime mounts them; removed on drop.
struct SecretFiles(PathBuf);

impl SecretFiles {
    fn new() -> Self {
        let dir =
            std::env::temp_dir().join(format!("opsdeck-secrets-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    /// The path of `name` in the directory, as text for a `file:` reference.
    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }

    /// Writes `content` to `name` and returns its path.
    fn write(&self, name: &str, content: impl AsRef<[u8]>) -> String {
        std::fs::write(self.0.join(name), content).expect("write secret file");
        self.path(name)
    }
}

impl Drop for SecretFiles {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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

#[test]
fn file_references_read_the_file_less_one_trailing_newline_in_every_layer() {
    let files = SecretFiles::new();
    let token = files.write("scrape_token", "tok-from-file\n");
    let db = files.write("db_url", "postgres://u:pw@db/x\r\n");
    let kept = files.write("padded", " two newlines, one kept \n\n");
    let header = files.write("api_token", "Bearer from-file");
    let text = format!(
        "[metrics]\ntoken = \"file:{token}\"\n[database]\nurl = \"file:{db}\"\n\
         [[alerts.webhooks]]\nname = \"ops\"\nurl = \"https://hooks.example.com/x\"\n\
         headers = {{ X-Token = \"file:{kept}\" }}\n\
         [[health.checks]]\nname = \"api\"\ntype = \"http\"\n\
         url = \"https://api.internal/healthz\"\nheaders = {{ Authorization = \"file:{header}\" }}\n"
    );
    let config = parse(&text).expect("resolved");
    assert_eq!(
        config.metrics.token.as_ref().map(Secret::expose),
        Some("tok-from-file")
    );
    assert_eq!(config.database.url.expose(), "postgres://u:pw@db/x");
    assert_eq!(
        config.alerts.webhooks[0].headers["X-Token"].expose(),
        " two newlines, one kept \n"
    );
    // A probe type's own keys resolve too: the check masks the file's content.
    let specs = config.health.specs().expect("specs");
    assert!(
        specs[0]
            .probe
            .describe()
            .secrets
            .contains(&"Bearer from-file"),
        "{specs:?}"
    );
    assert!(!format!("{config:?}").contains("from-file"));

    let env = Env::from([("OPSDECK_METRICS_TOKEN", format!("file:{token}"))]);
    let flags = Overrides {
        database_url: Some(format!("file:{db}")),
        ..Overrides::default()
    };
    let config = load(None, &env, flags).expect("environment and flag references");
    assert_eq!(
        config.metrics.token.as_ref().map(Secret::expose),
        Some("tok-from-file")
    );
    assert_eq!(config.database.url.expose(), "postgres://u:pw@db/x");
}

#[test]
fn a_missing_or_unreadable_secret_file_is_an_error_at_its_key_naming_the_file() {
    let files = SecretFiles::new();
    let missing = files.path("nope");
    let binary = files.write("binary", [0xff, 0xfe, 0x00]);
    let large = files.write("large", vec![b'x'; 64 * 1024 + 1]);
    let directory = files.0.display().to_string();
    let text = errors(parse(&format!(
        "[metrics]\ntoken = \"file:{missing}\"\n[database]\nurl = \"file:{directory}\"\n\
         [[health.checks]]\nname = \"db\"\ntype = \"postgres\"\nurl = \"file:{binary}\"\n\
         [[health.checks]]\nname = \"cache\"\ntype = \"redis\"\nurl = \"file:\"\n\
         [[health.checks]]\nname = \"api\"\ntype = \"http\"\nurl = \"file:{large}\"\n"
    )))
    .to_string();
    for expected in [
        format!("metrics.token: file:{missing} cannot be read: "),
        format!("database.url: file:{directory} cannot be read: "),
        format!("health.checks[0].url: file:{binary} is not UTF-8 text"),
        "health.checks[1].url: file: needs a path".to_owned(),
        format!("health.checks[2].url: file:{large} is larger than 64 KiB"),
    ] {
        assert!(
            text.contains(&expected),
            "{expected:?} missing from:\n{text}"
        );
    }

    let flags = Overrides {
        database_url: Some(format!("file:{missing}")),
        ..Overrides::default()
    };
    let text = errors(load(None, &Env::default(), flags)).to_string();
    assert!(
        text.starts_with(&format!("database.url: file:{missing} cannot be read: "))
            && text.ends_with("(in flag --database-url)"),
        "{text}"
    );
}

#[tokio::test]
async fn check_config_names_the_key_of_a_missing_secret_file_and_never_a_secret() {
    let files = SecretFiles::new();
    let token = files.write("token", "s3cret-in-a-file\n");
    let db = files.path("db_url");
    let config = files.write(
        "opsdeck.toml",
        format!("[metrics]\ntoken = \"file:{token}\"\n[database]\nurl = \"file:{db}\"\n"),
    );
    let run = || async {
        command(&["check-config", &config], &BTreeMap::new())
            .output()
            .await
            .expect("run opsdeck")
    };
    let out = run().await;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("database.url: file:{db} cannot be read")),
        "{text}"
    );

    files.write("db_url", "postgres://app:pw-in-a-file@db.internal/app\n");
    let out = run().await;
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{text}");
    assert!(
        !text.contains("s3cret-in-a-file") && !text.contains("pw-in-a-file"),
        "{text}"
    );
}
