//! `celery`: the application's Celery queues on a Redis broker (Celery 5.x with kombu's
//! Redis transport, message protocol 2; tested against Celery 5.7.0), and its failures from
//! a Redis result backend when one is named. Visibility only.
//!
//! - A queue is a Redis list named after it (kombu pushes on the left, workers pop on the
//!   right), with a sibling list per priority step: `<queue>\x06\x163`, `…6`, `…9`. Its
//!   depth is `LLEN` over the four, what kombu's own `_size` counts. Celery keeps no registry
//!   of queues, so `queues` names them (default `["celery"]`).
//! - Messages a worker holds are in the hash `unacked` (and the sorted set
//!   `unacked_index`), for every queue of the broker together. A poll reads `HLEN`; while
//!   they are few (at most [`poll::UNACKED_READ_MAX`]) it reads them to count each queue's
//!   by the routing key kept with each, else no queue gets an active count.
//! - A message carries no time it was sent: the age of a queue's oldest message is unknown.
//! - Failures are only in the result backend (`celery-task-meta-<id>`, JSON, with a TTL), with
//!   no index by queue or state: each poll advances a `SCAN` over them by a bounded amount
//!   and keeps the failures found ([`results`]). A failure's queue is known when the app sets
//!   `result_extended = True`; one without it is counted on the first queue of `queues`.
//! - Celery has no operation to retry a failed task and keeps no failed set to retry from;
//!   its only pause is per worker (`cancel_consumer`). Every action is refused with why.
//!
//! `tenant_path` reads the message as `{"id", "task", "headers", "args", "kwargs"}`:
//! `headers` are the message's (`argsrepr`, `kwargsrepr`, custom headers); `args` and
//! `kwargs` come from the body when it is JSON (`task_serializer = "json"`), or, for a
//! failure, from the result when `result_extended` put them there.
//!
//! A message that is not protocol 2 JSON, or a result that is not JSON, is refused.

mod jobs;
mod message;
mod poll;
mod results;

use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{JobDetail, JobFilter, System};
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};

use super::redis_client::{Client, redis_url_problems};
use super::{
    ActGuard, ActionReport, Capabilities, JobPage, JobQuery, Poll, Problems, QueueConnector,
    QueueError, QueueType, SourceContext,
};
use crate::health::target::shown_target;

/// The versions read.
pub const SUPPORTED: &str =
    "Celery 5.x on kombu's Redis transport, message protocol 2, JSON results";

const NO_RETRY: &str = "Celery keeps no failed set and has no operation to retry a failed task (Task.retry runs only inside the task): re-send it from the application";
const NO_DISCARD: &str = "Celery keeps no failed set to discard from: a failure is a result record that expires after result_expires";
const NO_PAUSE: &str = "Celery has no queue pause: a worker stops consuming a queue with `celery control cancel_consumer`, one worker at a time, and nothing stores it";

fn default_queues() -> Vec<String> {
    vec!["celery".to_owned()]
}

/// `type = "celery"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Celery {
    /// The broker: `redis://[[user]:PASSWORD@]HOST[:PORT][/DB]`, or `rediss://`.
    pub url: Secret,
    /// The result backend, when the application keeps results in Redis: where failures are
    /// read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_backend: Option<Secret>,
    /// The queues to show: Celery keeps no list of them.
    #[serde(default = "default_queues")]
    pub queues: Vec<String>,
    /// The broker's `global_keyprefix` (`broker_transport_options`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub global_keyprefix: Option<String>,
    /// The result backend's `global_keyprefix` (`result_backend_transport_options`), if
    /// any; Celery adds a `_` unless it ends in `:`, `_`, `-` or `.`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_keyprefix: Option<String>,
    /// For `rediss://` URLs whose server certificates a private CA issued: that CA (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl Celery {
    /// A source of the `celery` queue on the broker at `url`.
    pub fn new(url: &str) -> Self {
        Self {
            url: Secret::new(url.to_owned()),
            result_backend: None,
            queues: default_queues(),
            global_keyprefix: None,
            result_keyprefix: None,
            ca_file: None,
        }
    }
}

/// The result keys' prefix as Celery makes it from the backend's `global_keyprefix`.
fn result_prefix(keyprefix: Option<&str>) -> String {
    match keyprefix {
        Some(prefix) if !prefix.is_empty() => {
            let separator = if prefix.ends_with([':', '_', '-', '.']) {
                ""
            } else {
                "_"
            };
            format!("{prefix}{separator}celery-task-meta-")
        }
        _ => "celery-task-meta-".to_owned(),
    }
}

#[async_trait]
impl QueueType for Celery {
    const TYPE: &'static str = "celery";
    const SYSTEM: System = System::Celery;

    fn validate(&self) -> Problems {
        let tls = self.ca_file.is_some();
        let mut problems = redis_url_problems("url", &self.url, tls);
        if let Some(backend) = &self.result_backend {
            problems.extend(redis_url_problems("result_backend", backend, tls));
        }
        if self.queues.is_empty() {
            problems.push((
                "queues".to_owned(),
                "names no queue: Celery keeps no list of its queues, so name them (default [\"celery\"])".to_owned(),
            ));
        }
        for (index, name) in self.queues.iter().enumerate() {
            if QueueName::parse(name).is_err() {
                problems.push((
                    format!("queues[{index}]"),
                    "is not a queue name (1-200 printable characters)".to_owned(),
                ));
            }
        }
        for (key, value) in [
            ("global_keyprefix", &self.global_keyprefix),
            ("result_keyprefix", &self.result_keyprefix),
        ] {
            if value
                .as_deref()
                .is_some_and(|p| p.chars().any(char::is_control))
            {
                problems.push((key.to_owned(), "holds a control character".to_owned()));
            }
        }
        problems
    }

    fn target(&self) -> String {
        let mut target = format!("broker {}", shown_target(self.url.expose()));
        if let Some(backend) = &self.result_backend {
            target.push_str(&format!(", results {}", shown_target(backend.expose())));
        }
        target
    }

    fn secrets(&self) -> Vec<&Secret> {
        let mut secrets = vec![&self.url];
        secrets.extend(self.result_backend.as_ref());
        secrets
    }

    async fn connect(&self, context: SourceContext) -> Result<Box<dyn QueueConnector>, QueueError> {
        let broker = Client::new(
            self.url.expose(),
            self.ca_file.as_deref(),
            context.read_timeout,
        )
        .await?;
        let backend = match &self.result_backend {
            Some(url) => Some(
                Client::new(url.expose(), self.ca_file.as_deref(), context.read_timeout).await?,
            ),
            None => None,
        };
        let queues = self
            .queues
            .iter()
            .filter_map(|n| QueueName::parse(n).ok())
            .collect();
        Ok(Box::new(CeleryConnector {
            broker,
            backend,
            prefix: self.global_keyprefix.clone().unwrap_or_default(),
            result_prefix: result_prefix(self.result_keyprefix.as_deref()),
            queues,
            context,
            sweep: Mutex::new(results::Sweep::default()),
        }))
    }
}

/// A connection to one broker (and result backend).
#[derive(Debug)]
pub struct CeleryConnector {
    broker: Client,
    backend: Option<Client>,
    /// The broker's global key prefix ("" without one).
    prefix: String,
    /// `…celery-task-meta-`.
    result_prefix: String,
    queues: Vec<QueueName>,
    context: SourceContext,
    sweep: Mutex<results::Sweep>,
}

impl CeleryConnector {
    /// The broker lists of `queue`: itself, then its priority siblings 3, 6, 9 (kombu's
    /// order of consumption).
    fn lists(&self, queue: &QueueName) -> [String; 4] {
        let base = format!("{}{queue}", self.prefix);
        [
            base.clone(),
            format!("{base}\x06\x163"),
            format!("{base}\x06\x166"),
            format!("{base}\x06\x169"),
        ]
    }

    fn unacked_key(&self) -> String {
        format!("{}unacked", self.prefix)
    }

    /// The queue a failure without one is counted on.
    fn first_queue(&self) -> Option<&QueueName> {
        self.queues.first()
    }

    fn knows(&self, queue: &QueueName) -> Result<(), QueueError> {
        if self.queues.contains(queue) {
            Ok(())
        } else {
            Err(QueueError::NotFound(format!(
                "queue {queue} is not among this source's queues"
            )))
        }
    }
}

fn unsupported(what: &str) -> QueueError {
    QueueError::Unsupported(format!(
        "{what}; opsdeck reads {SUPPORTED} only, and leaves it alone"
    ))
}

#[async_trait]
impl QueueConnector for CeleryConnector {
    fn system(&self) -> System {
        System::Celery
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            retry: Err(NO_RETRY),
            discard: Err(NO_DISCARD),
            pause: Err(NO_PAUSE),
            bulk: Err(NO_RETRY),
        }
    }

    async fn poll(&self, slow: bool) -> Result<Poll, QueueError> {
        poll::poll(self, slow).await
    }

    async fn list_jobs(&self, queue: &QueueName, query: &JobQuery) -> Result<JobPage, QueueError> {
        self.knows(queue)?;
        jobs::list(self, queue, query).await
    }

    async fn get_job(
        &self,
        queue: &QueueName,
        id: &JobId,
    ) -> Result<Option<JobDetail>, QueueError> {
        self.knows(queue)?;
        jobs::get(self, queue, id).await
    }

    async fn select(
        &self,
        _queue: &QueueName,
        _filter: &JobFilter,
        _limit: usize,
    ) -> Result<Vec<JobId>, QueueError> {
        Err(QueueError::NotPossible(NO_RETRY.to_owned()))
    }

    async fn retry(
        &self,
        _queue: &QueueName,
        _ids: &[JobId],
        _guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        Err(QueueError::NotPossible(NO_RETRY.to_owned()))
    }

    async fn discard(
        &self,
        _queue: &QueueName,
        _ids: &[JobId],
        _guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        Err(QueueError::NotPossible(NO_DISCARD.to_owned()))
    }
}
