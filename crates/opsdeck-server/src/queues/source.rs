//! One configured source as the server runs it: its settings and its connection, made on
//! first use on each replica (the leader for polls, any replica for job lists and actions)
//! and kept. A source whose system cannot be reached fails each call until it can; nothing is
//! cached about a failed connect.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opsdeck_connectors::queues::{
    Capabilities, QueueConnector, QueueError, QueueSource, SourceContext,
};
use opsdeck_core::ids::SourceName;
use opsdeck_core::queues::{System, TenantPath};
use tokio::sync::OnceCell;

use opsdeck_core::{Clock, Store};

use super::push::PushConnector;
use crate::config::{QueuesConfig, SourceConfig, SourceKind};

/// The client of retry webhooks: redirects are not followed (a redirected POST would arrive
/// as a GET), so a 3xx fails the call.
fn webhook_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("opsdeck/", env!("CARGO_PKG_VERSION")))
        .build()?)
}

/// A configured source.
#[derive(Debug)]
pub struct Source {
    pub name: SourceName,
    pub system: System,
    pub read_only: bool,
    /// How often it is polled, or for a push source how often the application posts.
    pub poll_interval: Duration,
    pub tenant_path: Option<TenantPath>,
    pub connection: Connection,
}

/// How a source is reached.
pub enum Connection {
    /// A system opsdeck reads itself.
    System {
        keys: Arc<dyn QueueSource>,
        context: SourceContext,
        connector: OnceCell<Box<dyn QueueConnector>>,
    },
    /// Snapshots the application posts, served from the store.
    Push(PushConnector),
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Connection::System { keys, .. } => f.debug_tuple("System").field(keys).finish(),
            Connection::Push(push) => f.debug_tuple("Push").field(push).finish(),
        }
    }
}

impl Source {
    pub(super) fn from_config(
        config: &SourceConfig,
        queues: &QueuesConfig,
        store: &Arc<dyn Store>,
        clock: &Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let name = SourceName::parse(&config.name)
            .map_err(|e| anyhow::anyhow!("queue source {}: {e}", config.name))?;
        let tenant_path = config
            .tenant_path
            .as_deref()
            .map(TenantPath::parse)
            .transpose()
            .map_err(|e| anyhow::anyhow!("queue source {name}: {e}"))?;
        let (system, connection) = match &config.kind {
            SourceKind::System(keys) => {
                let keys = keys.source().map_err(|problems| {
                    anyhow::anyhow!("queue source {name}: invalid keys: {problems:?}")
                })?;
                let context = SourceContext {
                    source: name.clone(),
                    tenant_path: tenant_path.clone(),
                    read_timeout: queues.read_timeout,
                };
                (
                    keys.system(),
                    Connection::System {
                        keys: keys.clone(),
                        context,
                        connector: OnceCell::new(),
                    },
                )
            }
            SourceKind::Push(Ok(keys)) => (
                System::Push,
                Connection::Push(PushConnector {
                    source: name.clone(),
                    store: store.clone(),
                    clock: clock.clone(),
                    http: webhook_client()?,
                    webhook: keys.retry_webhook.clone().zip(keys.webhook_secret.clone()),
                    keys: keys.clone(),
                }),
            ),
            SourceKind::Push(Err(problems)) => {
                anyhow::bail!("queue source {name}: invalid keys: {problems:?}")
            }
        };
        Ok(Self {
            name,
            system,
            read_only: config.read_only,
            poll_interval: config.poll_interval.unwrap_or(queues.poll_interval),
            tenant_path,
            connection,
        })
    }

    /// Whether the application pushes this source's numbers (nothing to poll).
    pub fn connection_is_push(&self) -> bool {
        matches!(self.connection, Connection::Push(_))
    }

    /// The source's connector, connecting on first use.
    pub async fn connector(&self) -> Result<&dyn QueueConnector, QueueError> {
        match &self.connection {
            Connection::System {
                keys,
                context,
                connector,
            } => connector
                .get_or_try_init(|| keys.connect(context.clone()))
                .await
                .map(AsRef::as_ref),
            Connection::Push(push) => Ok(push),
        }
    }

    /// What the system lets opsdeck do; `None` until this replica has connected.
    pub fn capabilities(&self) -> Option<Capabilities> {
        match &self.connection {
            Connection::System { connector, .. } => connector.get().map(|c| c.capabilities()),
            Connection::Push(push) => Some(push.capabilities()),
        }
    }

    /// Where the source is, without credentials.
    pub fn target(&self) -> String {
        match &self.connection {
            Connection::System { keys, .. } => keys.target(),
            Connection::Push(_) => "snapshots posted by the application".to_owned(),
        }
    }

    /// The secret values an error of this source might quote.
    pub fn secrets(&self) -> Vec<&str> {
        match &self.connection {
            Connection::System { keys, .. } => keys.secrets(),
            Connection::Push(push) => [&push.keys.retry_webhook, &push.keys.webhook_secret]
                .into_iter()
                .flatten()
                .map(|s| s.expose())
                .collect(),
        }
    }

    /// How long without a successful poll (or post) before the source is shown stale: three
    /// intervals.
    pub fn stale_after(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.poll_interval * 3).unwrap_or(chrono::Duration::MAX)
    }
}
