//! [`CheckSpec`]: one check as the monitor runs it (the keys every check has, validated, and
//! its probe), and the always-present check of opsdeck's own database.
//!
//! opsdeck's own database is probed through the store, not through a connector: it is not
//! one of the application's systems, it has no configuration keys (so it is not a
//! `[[health.checks]]` type), and the store handle belongs to the server. It implements
//! the same [`Probe`] trait, so the monitor runs, times and describes it like any other.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use opsdeck_connectors::health::{
    ComponentType, Description, Observation, Probe, ProbeContext, RESPONSE_TIME,
};
use opsdeck_core::Store;
use opsdeck_core::ids::CheckName;

/// The name of the check of opsdeck's own database, always present.
pub const OWN_DATABASE_CHECK: &str = "opsdeck-database";

/// One configured check, validated.
#[derive(Debug, Clone)]
pub struct CheckSpec {
    pub name: CheckName,
    pub interval: Duration,
    pub timeout: Duration,
    /// A failing critical check fails the service; a failing non-critical one only warns.
    pub critical: bool,
    /// A pass slower than this is reported as warn.
    pub warn_latency: Option<Duration>,
    pub probe: Arc<dyn Probe>,
}

impl CheckSpec {
    /// The check of opsdeck's own database: critical, with a short timeout, since `/readyz`
    /// and every page depend on it.
    pub(super) fn own_database(store: Arc<dyn Store>, interval: Duration) -> Self {
        Self {
            name: CheckName::parse(OWN_DATABASE_CHECK).expect("a valid constant name"),
            interval,
            timeout: Duration::from_secs(2),
            critical: true,
            warn_latency: Some(Duration::from_millis(500)),
            probe: Arc::new(OwnDatabase { store }),
        }
    }
}

/// opsdeck's own database answers a ping through the store.
struct OwnDatabase {
    store: Arc<dyn Store>,
}

impl fmt::Debug for OwnDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnDatabase").finish_non_exhaustive()
    }
}

#[async_trait]
impl Probe for OwnDatabase {
    fn describe(&self) -> Description<'_> {
        Description {
            kind: "database",
            component_type: ComponentType::Datastore,
            measurement: RESPONSE_TIME,
            target: "opsdeck's own database".to_owned(),
            // The store's errors name no credentials; the redactor runs over them anyway.
            secrets: Vec::new(),
        }
    }

    async fn observe(&self, _: &ProbeContext) -> Observation {
        match self.store.ping().await {
            Ok(()) => Observation::pass(),
            Err(err) => Observation::fail(format!("opsdeck's database did not answer: {err}")),
        }
    }
}
