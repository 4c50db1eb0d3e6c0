//! Value formats (durations, byte sizes, CIDR ranges) and the annotated example file.

use std::net::IpAddr;
use std::time::Duration;

use opsdeck_server::config::{Cidr, Config, Env, env_var_name};

use super::{EXAMPLE, errors, parse};

#[test]
fn durations_and_byte_sizes_parse() {
    for (text, expected) in [
        ("\"15s\"", 15),
        ("\"5m\"", 300),
        ("\"1h30m\"", 5400),
        ("\"1h 30m\"", 5400),
    ] {
        let config = parse(&format!("[server]\nrequest_timeout = {text}\n")).expect(text);
        assert_eq!(
            config.server.request_timeout,
            Duration::from_secs(expected),
            "{text}"
        );
    }
    for (text, expected) in [
        ("\"1MiB\"", 1 << 20),
        ("\"512KiB\"", 512 << 10),
        ("\"65536\"", 65536),
        ("65536", 65536),
        ("\"2 MB\"", 2_000_000),
    ] {
        let config = parse(&format!("[server]\nbody_limit = {text}\n")).expect(text);
        assert_eq!(config.server.body_limit, expected, "{text}");
    }
    let text = errors(parse(
        "[server]\nrequest_timeout = 30\nshutdown_grace = \"soon\"\nbody_limit = \"1.5MB\"\n",
    ))
    .to_string();
    assert!(
        text.contains(
            "server.request_timeout: invalid type: integer `30`, expected a duration with a unit"
        ),
        "{text}"
    );
    assert!(
        text.contains("server.shutdown_grace: invalid duration \"soon\""),
        "{text}"
    );
    assert!(
        text.contains("server.body_limit: invalid byte size \"1.5MB\""),
        "{text}"
    );
}

#[test]
fn trusted_proxies_parse_cidrs_and_match_addresses() {
    let ip = |s: &str| s.parse::<IpAddr>().expect("ip");
    let net = Cidr::parse("10.0.0.0/8").expect("v4");
    assert!(net.contains(ip("10.255.1.2")) && !net.contains(ip("11.0.0.1")));
    assert!(net.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped IPv6");
    let single = Cidr::parse("127.0.0.1").expect("plain address");
    assert_eq!(single.to_string(), "127.0.0.1/32");
    assert!(single.contains(ip("127.0.0.1")) && !single.contains(ip("127.0.0.2")));
    let v6 = Cidr::parse("fd00::/8").expect("v6");
    assert!(
        v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")) && !v6.contains(ip("10.0.0.1"))
    );
    assert!(
        Cidr::parse("0.0.0.0/0")
            .expect("all")
            .contains(ip("8.8.8.8"))
    );
    for bad in [
        "10.0.0.0/33",
        "10.0.0.1/8",
        "10.0.0/8",
        "fd00::/129",
        "nope",
        "10.0.0.0/x",
    ] {
        assert!(Cidr::parse(bad).is_err(), "{bad} accepted");
    }
    let config = parse("[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n").expect("valid");
    assert!(config.server.trusted_proxies.contains(ip("10.1.2.3")));
    assert!(config.server.trusted_proxies.contains(ip("::1")));
    assert!(!config.server.trusted_proxies.contains(ip("192.168.0.1")));
}

#[test]
fn audit_checkpoint_settings_are_checked_without_repeating_secrets() {
    let text = errors(parse(
        "[audit]\ncheckpoint_interval = \"0s\"\ncheckpoint_key = \"sekrit-not-a-key\"\n\
         checkpoint_file = \"\"\ncheckpoint_webhook = \"ftp://hooks.example/sekrit\"\n",
    ))
    .to_string();
    for key in [
        "audit.checkpoint_interval",
        "audit.checkpoint_key",
        "audit.checkpoint_file",
        "audit.checkpoint_webhook",
    ] {
        assert!(text.contains(key), "{key} in {text}");
    }
    assert!(!text.contains("sekrit"), "{text}");
    let seed = crate::support::app::CHECKPOINT_KEY;
    let config = parse(&format!("[audit]\ncheckpoint_key = \"{seed}\"\n")).expect("a seed");
    assert!(config.audit.checkpoint_key.is_some());
}

#[test]
fn the_example_file_is_valid_complete_and_shows_the_defaults() {
    let example = Config::from_toml_str(EXAMPLE, "opsdeck.example.toml", &Env::default())
        .unwrap_or_else(|errors| panic!("opsdeck.example.toml is invalid:\n{errors}"));
    let as_json = |config: &Config| serde_json::to_value(config).expect("serialize");
    assert_eq!(
        as_json(&example),
        as_json(&Config::default()),
        "example values differ from the defaults"
    );
    assert_eq!(
        example.database.url.expose(),
        Config::default().database.url.expose()
    );

    let keys = Config::key_paths();
    assert!(
        keys.contains(&"metrics.token".to_owned()) && keys.contains(&"server.listen".to_owned())
    );
    for key in keys {
        let (section, name) = key.split_once('.').expect("section.key");
        let body = section_text(EXAMPLE, section)
            .unwrap_or_else(|| panic!("[{section}] missing from the example"));
        let present = body
            .lines()
            .map(|l| l.trim_start_matches(['#', ' ']))
            .any(|l| l.starts_with(&format!("{name} =")));
        assert!(
            present,
            "{key} is not in the example file (commented out is fine for secrets)"
        );
        let var = env_var_name(&key);
        assert!(
            body.contains(&var),
            "the example does not document {var} for {key}"
        );
    }
}

/// The text of `[section]` up to the next table header.
fn section_text<'a>(text: &'a str, section: &str) -> Option<&'a str> {
    let start = text.find(&format!("\n[{section}]\n"))? + 1;
    let rest = &text[start..];
    let end = rest[1..].find("\n[").map_or(rest.len(), |i| i + 1);
    Some(&rest[..end])
}
