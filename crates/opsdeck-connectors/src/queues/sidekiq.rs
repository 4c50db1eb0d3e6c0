//! `sidekiq`: the application's Sidekiq queues in Redis (open-source Sidekiq 6.x, 7.x and
//! 8.x; keys optionally under a redis-namespace prefix, as older applications have them).
//!
//! Sidekiq keeps the set `queues` of queue names, a list `queue:<name>` per queue (clients
//! push on its head, workers pop its tail), and three global sorted sets of JSON job hashes:
//! `schedule` (due time), `retry` (next retry time) and `dead` (time of death). Each job is a
//! JSON object with at least `class`, `jid` and `queue`.
//!
//! - A poll reads the queue names, each queue's length and its oldest job's `enqueued_at`,
//!   the sizes of the three sets, and the busy jobs and version the running processes
//!   report ([`processes`]), in a few pipelines of O(1) commands ([`poll`]). The per-queue
//!   split of the sets, which have no index by queue, is counted by a [`census`] that walks
//!   each set with a bounded `ZSCAN` on slow polls and shows when its last full pass ended.
//! - Job lists page through a list or a sorted set and resume a sorted set by score, so a
//!   deep page costs what the first does ([`jobs`]); a job's page is [`detail`].
//! - Retry and discard move exactly the entry that was read, by a compare-and-move script
//!   written here, in chunks of a few milliseconds each ([`act`]). The job pushed back is
//!   rebuilt in Rust from the stored text, changing only what Sidekiq's own retry changes.
//! - Open-source Sidekiq has no pause (Sidekiq Pro's lives in Pro's own code), so none here.
//!
//! Timestamps come in two formats, told apart per job: float seconds (6.x, 7.x) and integer
//! milliseconds (8.x). An entry that is not a Sidekiq job hash, a key of another type, or a
//! process reporting a major version other than 6 to 8 is refused with
//! [`QueueError::Unsupported`], never read as something it may not be.

mod act;
mod census;
mod detail;
mod entry;
mod jobs;
mod poll;
mod processes;

use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{JobDetail, JobFilter, System};
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};

use super::redis_client::{Client, Script, redis_url_problems};
use super::{
    ActGuard, ActionReport, Capabilities, JobPage, JobQuery, Poll, Problems, QueueConnector,
    QueueError, QueueType, SourceContext,
};
use crate::health::target::shown_target;
use census::Census;

/// The versions read and written.
pub const SUPPORTED: &str = "Sidekiq 6.x, 7.x and 8.x (open source)";

/// Why there is no pause.
const NO_PAUSE: &str = "open-source Sidekiq has no queue pause (it is a Sidekiq Pro feature)";

pub(super) const MOVE: Script = Script {
    name: "sidekiq-move",
    text: include_str!("sidekiq/move.lua"),
};

/// `type = "sidekiq"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sidekiq {
    /// `redis://[[user]:PASSWORD@]HOST[:PORT][/DB]`, or `rediss://` for TLS; may hold
    /// credentials.
    pub url: Secret,
    /// The redis-namespace prefix the application's Sidekiq uses (`<namespace>:queues`, …),
    /// for applications that still run one; none by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The queues to show; without it, every queue in Sidekiq's `queues` set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
    /// For a `rediss://` URL whose server certificate a private CA issued: that CA's
    /// certificate (PEM), trusted instead of the public web roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl Sidekiq {
    /// A source of every queue of the Sidekiq at `url`, without a namespace.
    pub fn new(url: &str) -> Self {
        Self {
            url: Secret::new(url.to_owned()),
            namespace: None,
            queues: None,
            ca_file: None,
        }
    }
}

#[async_trait]
impl QueueType for Sidekiq {
    const TYPE: &'static str = "sidekiq";
    const SYSTEM: System = System::Sidekiq;

    fn validate(&self) -> Problems {
        let mut problems = redis_url_problems("url", &self.url, self.ca_file.is_some());
        if let Some(namespace) = &self.namespace
            && (namespace.is_empty()
                || namespace.len() > 200
                || namespace.chars().any(char::is_control))
        {
            problems.push((
                "namespace".to_owned(),
                "must be the redis-namespace the application's Sidekiq uses: 1-200 characters, no control characters".to_owned(),
            ));
        }
        for (index, name) in self.queues.iter().flatten().enumerate() {
            if QueueName::parse(name).is_err() {
                problems.push((
                    format!("queues[{index}]"),
                    "is not a queue name (1-200 printable characters)".to_owned(),
                ));
            }
        }
        problems
    }

    fn target(&self) -> String {
        match &self.namespace {
            Some(namespace) => format!("{} namespace {namespace}", shown_target(self.url.expose())),
            None => shown_target(self.url.expose()),
        }
    }

    fn secrets(&self) -> Vec<&Secret> {
        vec![&self.url]
    }

    async fn connect(&self, context: SourceContext) -> Result<Box<dyn QueueConnector>, QueueError> {
        let client = Client::new(
            self.url.expose(),
            self.ca_file.as_deref(),
            context.read_timeout,
        )
        .await?;
        let named = self.queues.as_ref().map(|names| {
            names
                .iter()
                .filter_map(|n| QueueName::parse(n).ok())
                .collect()
        });
        Ok(Box::new(SidekiqConnector {
            client,
            namespace: self.namespace.clone(),
            named,
            context,
            census: Mutex::new(Census::default()),
        }))
    }
}

/// A connection to one Sidekiq's Redis.
#[derive(Debug)]
pub struct SidekiqConnector {
    client: Client,
    namespace: Option<String>,
    /// The queues configured, else every queue of the `queues` set.
    named: Option<Vec<QueueName>>,
    context: SourceContext,
    census: Mutex<Census>,
}

impl SidekiqConnector {
    /// A Sidekiq key (`retry`, `queue:default`) as stored, under the namespace if any.
    fn key(&self, name: &str) -> String {
        match &self.namespace {
            Some(namespace) => format!("{namespace}:{name}"),
            None => name.to_owned(),
        }
    }

    /// The list of `queue`'s waiting jobs.
    fn queue_key(&self, queue: &str) -> String {
        self.key(&format!("queue:{queue}"))
    }

    /// Whether `queue` is one this source shows.
    fn shows(&self, queue: &QueueName) -> bool {
        self.named
            .as_ref()
            .is_none_or(|named| named.iter().any(|n| n == queue))
    }
}

/// A Redis refusal of a command on a key of another type (a queue's list that is not a list,
/// a process's workers that are not a hash) is a layout opsdeck does not know.
fn refuse_wrong_type(err: QueueError) -> QueueError {
    match err {
        QueueError::Other(message) if message.contains("WRONGTYPE") => {
            QueueError::Unsupported(format!(
                "a key holds another type than {SUPPORTED} keeps there ({message}); opsdeck leaves this source alone"
            ))
        }
        other => other,
    }
}

#[async_trait]
impl QueueConnector for SidekiqConnector {
    fn system(&self) -> System {
        System::Sidekiq
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            retry: Ok(()),
            discard: Ok(()),
            pause: Err(NO_PAUSE),
            bulk: Ok(()),
        }
    }

    async fn poll(&self, slow: bool) -> Result<Poll, QueueError> {
        poll::poll(self, slow).await.map_err(refuse_wrong_type)
    }

    async fn list_jobs(&self, queue: &QueueName, query: &JobQuery) -> Result<JobPage, QueueError> {
        jobs::list(self, queue, query)
            .await
            .map_err(refuse_wrong_type)
    }

    async fn get_job(
        &self,
        queue: &QueueName,
        id: &JobId,
    ) -> Result<Option<JobDetail>, QueueError> {
        jobs::get(self, queue, id).await.map_err(refuse_wrong_type)
    }

    async fn select(
        &self,
        queue: &QueueName,
        filter: &JobFilter,
        limit: usize,
    ) -> Result<Vec<JobId>, QueueError> {
        jobs::select(self, queue, filter, limit)
            .await
            .map_err(refuse_wrong_type)
    }

    async fn retry(
        &self,
        queue: &QueueName,
        ids: &[JobId],
        guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        act::act(self, queue, ids, guard, act::Action::Retry)
            .await
            .map_err(refuse_wrong_type)
    }

    async fn discard(
        &self,
        queue: &QueueName,
        ids: &[JobId],
        guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        act::act(self, queue, ids, guard, act::Action::Discard)
            .await
            .map_err(refuse_wrong_type)
    }
}
