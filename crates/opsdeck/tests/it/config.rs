//! Configuration: defaults, layer precedence, error reports with key paths and origins,
//! `env:` and `file:` secrets and their redaction, value formats, the annotated example file
//! and the completeness of the probe type registry.

mod checks;
mod fuzz;
mod layers;
mod probe_types;
mod queues;
mod reports;
mod secrets;
mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use opsdeck_server::config::{Config, ConfigErrors, Env, LoadOptions, Overrides};
use uuid::Uuid;

const EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../opsdeck.example.toml"
));

/// A TOML file under the temp directory, removed on drop.
struct TempToml(PathBuf);

impl TempToml {
    fn new(text: &str) -> Self {
        let path =
            std::env::temp_dir().join(format!("opsdeck-config-{}.toml", Uuid::new_v4().simple()));
        std::fs::write(&path, text).expect("write temp config");
        Self(path)
    }
}

impl Drop for TempToml {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn parse(text: &str) -> Result<Config, ConfigErrors> {
    Config::from_toml_str(text, "test.toml", &Env::default())
}

fn load(file: Option<&Path>, env: &Env, overrides: Overrides) -> Result<Config, ConfigErrors> {
    Config::load(&LoadOptions {
        file,
        env,
        overrides,
    })
}

fn errors(result: Result<Config, ConfigErrors>) -> ConfigErrors {
    match result {
        Ok(config) => panic!("expected errors, got {config:?}"),
        Err(errors) => errors,
    }
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("socket address")
}
