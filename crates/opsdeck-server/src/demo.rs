//! `serve --demo`: a separate embedded database so demo data never mixes with real data, and
//! a scrape token so a newcomer can read `/metrics` at once. Each area seeds its own demo
//! data here as it arrives.

use crate::config::{Config, Secret};

/// The database a demo uses when none was configured explicitly.
pub const DEMO_DATABASE_URL: &str = "sqlite://opsdeck-demo.db";

/// What the demo set up that the user needs to know.
#[derive(Debug)]
pub struct DemoNotes {
    pub metrics_token: Option<String>,
}

/// Adjusts the configuration for a demo: its own database file unless one was given, and
/// a fresh scrape token unless one was configured.
pub fn prepare(config: &mut Config, database_given: bool) -> DemoNotes {
    if !database_given {
        config.database.url = Secret::new(DEMO_DATABASE_URL.to_owned());
    }
    let mut notes = DemoNotes {
        metrics_token: None,
    };
    if config.metrics.token.is_none() {
        let token = format!("demo-{}", uuid::Uuid::new_v4().simple());
        config.metrics.token = Some(Secret::new(token.clone()));
        notes.metrics_token = Some(token);
    }
    notes
}
