//! `bullmq`: the application's BullMQ queues in Redis (BullMQ 5.x and 6.x).
//!
//! BullMQ keeps each queue under `<prefix>:<queue>:` (`wait`, `paused`, `active` lists;
//! `prioritized`, `delayed`, `failed`, `completed`, `waiting-children` sorted sets; a `meta`
//! hash with its `version` and `paused` flag; a hash per job). There is no registry of
//! queues: they are found by their `meta` keys ([`discovery`]), or named in `queues`.
//!
//! - A poll counts every queue with O(1) commands in one read-only script per hundred
//!   queues, all in one round trip ([`poll`]).
//! - Job lists page through a state's list or sorted set; a sorted set resumes after the
//!   previous page's last job, so a deep page costs what a first page does ([`jobs`]).
//! - Retry, discard and pause are Lua scripts written here that make the moves BullMQ's own
//!   make, atomically with respect to its workers, re-checking each job, in chunks so no
//!   script holds Redis for more than a few milliseconds ([`act`]).
//!
//! Every script first reads the queue's `meta.version`: a queue whose version is not
//! `bullmq:5.*` or `bullmq:6.*` (or that has none) is refused, nothing read or written.

mod act;
mod client;
mod discovery;
mod jobs;
mod poll;

use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{JobDetail, JobFilter, System};
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};

use super::{
    ActGuard, ActionReport, Capabilities, JobPage, JobQuery, Poll, Problems, QueueConnector,
    QueueError, QueueType, SourceContext,
};
use crate::health::target::shown_target;
use crate::queues::redis_client::redis_url_problems;
use client::Client;
use discovery::Discovery;

/// The versions read and written, as `meta.version` spells them.
pub const SUPPORTED: &str = "bullmq:5.x and bullmq:6.x";

fn default_prefix() -> String {
    "bull".to_owned()
}

/// `type = "bullmq"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bullmq {
    /// `redis://[[user]:PASSWORD@]HOST[:PORT][/DB]`, or `rediss://` for TLS; may hold
    /// credentials.
    pub url: Secret,
    /// The applications' BullMQ `prefix` option (default `bull`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// The queues to show; without it, every queue found under the prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
    /// For a `rediss://` URL whose server certificate a private CA issued: that CA's
    /// certificate (PEM), trusted instead of the public web roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl Bullmq {
    /// A source of every queue under `prefix` at `url`.
    pub fn new(url: &str, prefix: &str) -> Self {
        Self {
            url: Secret::new(url.to_owned()),
            prefix: prefix.to_owned(),
            queues: None,
            ca_file: None,
        }
    }
}

#[async_trait]
impl QueueType for Bullmq {
    const TYPE: &'static str = "bullmq";
    const SYSTEM: System = System::Bullmq;

    fn validate(&self) -> Problems {
        let mut problems = redis_url_problems("url", &self.url, self.ca_file.is_some());
        if self.prefix.is_empty() || self.prefix.chars().any(char::is_control) {
            problems.push((
                "prefix".to_owned(),
                "must be the BullMQ prefix the application uses (default bull): not empty, no control characters".to_owned(),
            ));
        }
        for (index, name) in self.queues.iter().flatten().enumerate() {
            if QueueName::parse(name).is_err() || name.contains(':') {
                problems.push((
                    format!("queues[{index}]"),
                    "is not a BullMQ queue name (1-200 printable characters, no ':')".to_owned(),
                ));
            }
        }
        problems
    }

    fn target(&self) -> String {
        format!("{} prefix {}", shown_target(self.url.expose()), self.prefix)
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
        Ok(Box::new(BullmqConnector {
            client,
            prefix: self.prefix.clone(),
            context,
            discovery: Mutex::new(Discovery::new(named)),
        }))
    }
}

/// A connection to one Redis and prefix.
#[derive(Debug)]
pub struct BullmqConnector {
    client: Client,
    prefix: String,
    context: SourceContext,
    discovery: Mutex<Discovery>,
}

impl BullmqConnector {
    /// The key prefix of `queue`'s keys: `<prefix>:<queue>:`.
    fn base(&self, queue: &QueueName) -> String {
        format!("{}:{}:", self.prefix, queue)
    }
}

/// The error of a script that found a version it does not know.
fn unsupported(queue: &QueueName, version: &str) -> QueueError {
    let found = if version.is_empty() {
        "no version in its meta hash".to_owned()
    } else {
        format!("meta.version {version:?}")
    };
    QueueError::Unsupported(format!(
        "BullMQ queue {queue} has {found}; opsdeck reads and changes {SUPPORTED} only, and leaves this queue alone"
    ))
}

#[async_trait]
impl QueueConnector for BullmqConnector {
    fn system(&self) -> System {
        System::Bullmq
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            retry: Ok(()),
            discard: Ok(()),
            pause: Ok(()),
            bulk: Ok(()),
        }
    }

    async fn poll(&self, slow: bool) -> Result<Poll, QueueError> {
        poll::poll(self, slow).await
    }

    async fn list_jobs(&self, queue: &QueueName, query: &JobQuery) -> Result<JobPage, QueueError> {
        jobs::list(self, queue, query).await
    }

    async fn get_job(
        &self,
        queue: &QueueName,
        id: &JobId,
    ) -> Result<Option<JobDetail>, QueueError> {
        jobs::get(self, queue, id).await
    }

    async fn select(
        &self,
        queue: &QueueName,
        filter: &JobFilter,
        limit: usize,
    ) -> Result<Vec<JobId>, QueueError> {
        jobs::select(self, queue, filter, limit).await
    }

    async fn retry(
        &self,
        queue: &QueueName,
        ids: &[JobId],
        guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        act::act(self, queue, ids, guard, act::Action::Retry).await
    }

    async fn discard(
        &self,
        queue: &QueueName,
        ids: &[JobId],
        guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        act::act(self, queue, ids, guard, act::Action::Discard).await
    }

    async fn set_paused(&self, queue: &QueueName, paused: bool) -> Result<(), QueueError> {
        act::set_paused(self, queue, paused).await
    }
}
