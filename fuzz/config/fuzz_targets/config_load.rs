//! A configuration file as opsdeck reads it (TOML, then every section's own checks, `env:`
//! references resolved from a fixed environment): loading never panics, and a refusal
//! always says why.
#![no_main]

use libfuzzer_sys::fuzz_target;
use opsdeck_server::config::{Config, Env};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = Env::from([("OPSDECK_X", "y"), ("SECRET", "s3cr3t")]);
    if let Err(errors) = Config::from_toml_str(text, "fuzz.toml", &env) {
        assert!(!errors.to_string().is_empty());
    }
});
