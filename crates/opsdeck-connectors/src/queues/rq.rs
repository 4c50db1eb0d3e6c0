//! `rq`: the application's RQ queues in Redis (RQ 1.x to 3.x; tested against 3.0.0).
//!
//! RQ keeps everything under its key prefix (`RQ_KEY_PREFIX`, default `rq`): the set
//! `<prefix>:queues` names every queue by its key; a queue is the list
//! `<prefix>:queue:<name>` (oldest job at its head); a job is the hash `<prefix>:job:<id>`;
//! the registries of a queue are sorted sets (`wip` started, `failed`, `finished`,
//! `deferred`, `scheduled`, `canceled`); a failure's traceback is in the job's result stream
//! `<prefix>:results:<id>` (RQ 1.12 and later) as base64 of zlib, or in the job hash's
//! `exc_info` (zlib) before that.
//!
//! - A poll counts with `LLEN` and `ZCARD` only, never through RQ's `count`, which runs a
//!   cleanup that changes the registries ([`poll`]).
//! - Job arguments are pickled: opsdeck never unpickles them. What it shows of a job is RQ's
//!   own `description` (the call as Python wrote it, redacted), and it reads the literal
//!   arguments of that text (strings, numbers, booleans, `None`) for `tenant_path`:
//!   `args[0]`, `kwargs.tenant_id`, also `func`, `queue` and `id` ([`call`]). Arguments that
//!   are objects or were cut short by RQ are not readable; `meta` is pickled, so not either.
//! - The failed registry's score is when the entry expires, not when the job failed: failure
//!   times come from the job's `ended_at`.
//! - Retry and discard are Lua scripts written here, making RQ's own moves atomically and
//!   only for a job still in the failed registry, in chunks ([`act`]).
//! - RQ has no per-queue pause: its only pause is the global `<prefix>:suspended` key, which
//!   stops every worker of every queue. A queue shows as paused while it is set; opsdeck
//!   does not set it.
//!
//! RQ stores no version of its own in Redis. Its workers record theirs, which a poll reads
//! and refuses past 3.x; every job hash read must have RQ's fields (`status`, `created_at`,
//! `data`): one that does not is refused, nothing read or written.

mod act;
mod call;
mod jobs;
mod poll;
mod record;

use std::path::PathBuf;

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

/// The versions read and written.
pub const SUPPORTED: &str = "RQ 1.x to 3.x";

/// Why there is no pause.
const NO_PAUSE: &str = "RQ has no per-queue pause: its only pause is `rq suspend`, one flag that stops every worker of every queue";

pub(super) const POLL: Script = Script {
    name: "rq-poll",
    text: include_str!("rq/poll.lua"),
};
pub(super) const RETRY: Script = Script {
    name: "rq-retry",
    text: include_str!("rq/retry.lua"),
};
pub(super) const DISCARD: Script = Script {
    name: "rq-discard",
    text: include_str!("rq/discard.lua"),
};

fn default_prefix() -> String {
    "rq".to_owned()
}

/// `type = "rq"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rq {
    /// `redis://[[user]:PASSWORD@]HOST[:PORT][/DB]`, or `rediss://` for TLS.
    pub url: Secret,
    /// The application's `RQ_KEY_PREFIX` (default `rq`).
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// The queues to show; without it, every queue in `<prefix>:queues`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queues: Option<Vec<String>>,
    /// For a `rediss://` URL whose server certificate a private CA issued: that CA (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl Rq {
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

/// RQ's rule for `RQ_KEY_PREFIX`: letters, digits and `_ . : - { }`.
fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:-{}".contains(c))
}

#[async_trait]
impl QueueType for Rq {
    const TYPE: &'static str = "rq";
    const SYSTEM: System = System::Rq;

    fn validate(&self) -> Problems {
        let mut problems = redis_url_problems("url", &self.url, self.ca_file.is_some());
        if !valid_prefix(&self.prefix) {
            problems.push((
                "prefix".to_owned(),
                "must be the application's RQ_KEY_PREFIX (default rq): letters, digits and _ . : - { } only".to_owned(),
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
        Ok(Box::new(RqConnector {
            client,
            prefix: self.prefix.clone(),
            named,
            context,
        }))
    }
}

/// A connection to one Redis and prefix.
#[derive(Debug)]
pub struct RqConnector {
    client: Client,
    prefix: String,
    named: Option<Vec<QueueName>>,
    context: SourceContext,
}

impl RqConnector {
    fn key(&self, kind: &str, name: &str) -> String {
        format!("{}:{kind}:{name}", self.prefix)
    }

    fn job_key(&self, id: &str) -> String {
        self.key("job", id)
    }
}

/// A job hash without RQ's fields, or a worker of a version past those known.
fn unsupported(what: &str) -> QueueError {
    QueueError::Unsupported(format!(
        "{what}; opsdeck reads and changes the layout of {SUPPORTED} only, and leaves it alone"
    ))
}

#[async_trait]
impl QueueConnector for RqConnector {
    fn system(&self) -> System {
        System::Rq
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
        act::act(self, queue, ids, guard, RETRY).await
    }

    async fn discard(
        &self,
        queue: &QueueName,
        ids: &[JobId],
        guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        act::act(self, queue, ids, guard, DISCARD).await
    }
}
