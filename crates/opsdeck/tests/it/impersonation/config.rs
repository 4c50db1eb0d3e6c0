//! `[impersonation]` in the configuration: required keys when enabled, bounds, and a
//! sealing key read from `env:` or `file:` and never repeated in an error.

use opsdeck_server::config::{Config, Env};

use super::SEALING_KEY;

fn parse(text: &str, env: &Env) -> Result<Config, opsdeck_server::config::ConfigErrors> {
    Config::from_toml_str(text, "test.toml", env)
}

#[test]
fn enabled_needs_an_audience_and_a_sealing_key() {
    let errors = parse("[impersonation]\nenabled = true\n", &Env::default()).unwrap_err();
    assert!(errors.has("impersonation.audience"), "{errors}");
    assert!(errors.has("impersonation.encryption_key"), "{errors}");
    let text = errors.to_string();
    assert!(text.contains("openssl rand -base64 32"), "{text}");
}

#[test]
fn the_sealing_key_comes_from_env_or_file_and_is_never_echoed() {
    let env = Env::from([("IMP_KEY", SEALING_KEY)]);
    let text = "[impersonation]\nenabled = true\naudience = \"https://app\"\n\
                encryption_key = \"env:IMP_KEY\"\n";
    let config = parse(text, &env).expect("valid");
    assert!(config.impersonation.sealing_key().is_some());

    let dir = std::env::temp_dir().join(format!("opsdeck-imp-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("key");
    std::fs::write(&file, format!("{}\n", hex_of_key())).unwrap();
    let text = format!(
        "[impersonation]\nenabled = true\naudience = \"https://app\"\nencryption_key = \"file:{}\"\n",
        file.display()
    );
    let config = parse(&text, &Env::default()).expect("hex from a file");
    assert!(config.impersonation.sealing_key().is_some());
    std::fs::remove_dir_all(&dir).unwrap();

    let short = "c2hvcnQtYnV0LXNlY3JldA==";
    let env = Env::from([("IMP_KEY", short)]);
    let text = "[impersonation]\nencryption_key = \"env:IMP_KEY\"\n";
    let errors = parse(text, &env).unwrap_err();
    assert!(errors.has("impersonation.encryption_key"), "{errors}");
    let text = errors.to_string();
    assert!(text.contains("32 random bytes"), "{text}");
    assert!(!text.contains(short), "{text}");
    let missing = parse(text_with_missing_env(), &Env::default()).unwrap_err();
    assert!(missing.has("impersonation.encryption_key"), "{missing}");
}

fn text_with_missing_env() -> &'static str {
    "[impersonation]\nencryption_key = \"env:NOT_SET_ANYWHERE\"\n"
}

fn hex_of_key() -> String {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(SEALING_KEY)
        .unwrap();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn ttls_are_bounded_by_the_hour_and_rotation_by_an_hour() {
    let errors = parse(
        "[impersonation]\nmax_ttl = \"2h\"\ndefault_ttl = \"30s\"\nrotate_every = \"10m\"\n",
        &Env::default(),
    )
    .unwrap_err();
    for key in [
        "impersonation.max_ttl",
        "impersonation.default_ttl",
        "impersonation.rotate_every",
    ] {
        assert!(errors.has(key), "{key}: {errors}");
    }
    let errors = parse(
        "[impersonation]\nmax_ttl = \"10m\"\ndefault_ttl = \"15m\"\n",
        &Env::default(),
    )
    .unwrap_err();
    assert!(errors.has("impersonation.default_ttl"), "{errors}");
    assert!(!errors.has("impersonation.max_ttl"), "{errors}");
}
