//! A `push` source: the application posts snapshots of its queues (counts, oldest age,
//! recent failures) to `POST /api/v1/queues/{queue}/snapshot`, and opsdeck keeps the latest.
//! Its connector is served from the store: the reported failures are its failed jobs, and a
//! retry calls the source's `retry_webhook` — signed with `webhook_secret` (see
//! `opsdeck_core::queues::webhook_signature`) — so the application retries the job in its
//! own queue. The webhook answers 2xx (retried), 404 (no such job: gone) or 409 (not failed
//! any more); anything else fails the action.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use opsdeck_connectors::queues::{
    ActGuard, ActionReport, Capabilities, JobPage, JobQuery, Poll, QueueConnector, QueueError, Skip,
};
use opsdeck_core::Store;
use opsdeck_core::ids::{JobId, QueueName, SourceName};
use opsdeck_core::queues::{
    Attempt, JobDetail, JobFilter, JobState, JobSummary, SIGNATURE_HEADER, System,
    webhook_signature,
};
use opsdeck_core::{Clock, secret::Secret};
use serde::Serialize;
use std::sync::Arc;

use crate::config::PushKeys;

/// The longest a retry webhook call may take.
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The connector of a push source.
pub struct PushConnector {
    pub source: SourceName,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub http: reqwest::Client,
    /// The retry webhook and its secret, when configured.
    pub webhook: Option<(Secret, Secret)>,
    /// The keys as configured (their secrets are masked in errors).
    pub keys: PushKeys,
}

impl std::fmt::Debug for PushConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushConnector")
            .field("source", &self.source)
            .field("webhook", &self.webhook.is_some())
            .finish_non_exhaustive()
    }
}

/// The body of a retry call.
#[derive(Debug, Serialize)]
struct RetryCall<'a> {
    action: &'static str,
    source: &'a str,
    queue: &'a str,
    job_id: &'a str,
}

fn matches(job: &JobSummary, filter: &JobFilter) -> bool {
    let text = filter.q.as_deref().map(str::to_lowercase);
    let found = |field: Option<&str>, q: &str| field.is_some_and(|f| f.to_lowercase().contains(q));
    job.state == filter.state
        && filter
            .tenant_id
            .as_ref()
            .is_none_or(|t| job.tenant_id.as_ref() == Some(t))
        && text.as_deref().is_none_or(|q| {
            found(Some(job.id.as_str()), q)
                || found(job.name.as_deref(), q)
                || found(job.error.as_deref(), q)
        })
}

impl PushConnector {
    async fn reported(&self, queue: &QueueName) -> Result<Vec<JobSummary>, QueueError> {
        self.store
            .pushed_jobs(&self.source, queue)
            .await
            .map_err(|e| QueueError::Other(format!("opsdeck's database: {e}")))
    }

    fn only_failed(state: JobState) -> Result<(), QueueError> {
        if state == JobState::Failed {
            Ok(())
        } else {
            Err(QueueError::NotPossible(
                "a push source lists only the recent failures the application reports".into(),
            ))
        }
    }
}

#[async_trait]
impl QueueConnector for PushConnector {
    fn system(&self) -> System {
        System::Push
    }

    fn capabilities(&self) -> Capabilities {
        let retry = if self.webhook.is_some() {
            Ok(())
        } else {
            Err("this push source names no retry_webhook: the application retries its own jobs")
        };
        Capabilities {
            retry,
            discard: Err("a push source's webhook only retries; discard in the application"),
            pause: Err("push sources have no pause"),
            bulk: retry,
        }
    }

    async fn poll(&self, _slow: bool) -> Result<Poll, QueueError> {
        Err(QueueError::NotPossible(
            "a push source is not polled: the application posts its snapshots".into(),
        ))
    }

    async fn list_jobs(&self, queue: &QueueName, query: &JobQuery) -> Result<JobPage, QueueError> {
        Self::only_failed(query.filter.state)?;
        let reported = self.reported(queue).await?;
        let start = query
            .cursor
            .as_deref()
            .map(|c| {
                c.parse::<usize>()
                    .map_err(|_| QueueError::NotFound("no such page".into()))
            })
            .transpose()?
            .unwrap_or(0);
        let limit = query.limit as usize;
        let matching: Vec<&JobSummary> = reported
            .iter()
            .filter(|job| matches(job, &query.filter))
            .collect();
        let jobs: Vec<JobSummary> = matching
            .iter()
            .skip(start)
            .take(limit)
            .map(|j| (*j).clone())
            .collect();
        let next = (start + limit < matching.len()).then(|| (start + limit).to_string());
        Ok(JobPage {
            jobs,
            next,
            scanned: reported.len() as u64,
            partial: false,
        })
    }

    async fn get_job(
        &self,
        queue: &QueueName,
        id: &JobId,
    ) -> Result<Option<JobDetail>, QueueError> {
        Ok(self
            .reported(queue)
            .await?
            .into_iter()
            .find(|job| &job.id == id)
            .map(|summary| JobDetail {
                attempts: vec![Attempt {
                    at: summary.at,
                    error: summary.error.clone(),
                    stack: None,
                }],
                summary,
                payload: None,
                options: Vec::new(),
            }))
    }

    async fn select(
        &self,
        queue: &QueueName,
        filter: &JobFilter,
        limit: usize,
    ) -> Result<Vec<JobId>, QueueError> {
        Self::only_failed(filter.state)?;
        Ok(self
            .reported(queue)
            .await?
            .iter()
            .filter(|job| matches(job, filter))
            .take(limit.saturating_add(1))
            .map(|job| job.id.clone())
            .collect())
    }

    async fn retry(
        &self,
        queue: &QueueName,
        ids: &[JobId],
        guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        Self::only_failed(guard.state)?;
        let Some((url, secret)) = &self.webhook else {
            return Err(QueueError::NotPossible(
                "this push source names no retry_webhook".into(),
            ));
        };
        let reported = self.reported(queue).await?;
        let mut report = ActionReport::default();
        for id in ids {
            let Some(job) = reported.iter().find(|job| &job.id == id) else {
                report.skipped.push((id.clone(), Skip::Gone));
                continue;
            };
            if guard
                .failed_not_after
                .is_some_and(|pinned| job.at.is_some_and(|at| at > pinned))
            {
                report.skipped.push((id.clone(), Skip::Newer));
                continue;
            }
            let body = serde_json::to_vec(&RetryCall {
                action: "retry",
                source: self.source.as_str(),
                queue: queue.as_str(),
                job_id: id.as_str(),
            })
            .map_err(|e| QueueError::Other(e.to_string()))?;
            let signature = webhook_signature(
                secret.expose().as_bytes(),
                self.clock.now().timestamp(),
                &body,
            );
            let started = Instant::now();
            let answer = self
                .http
                .post(url.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(SIGNATURE_HEADER, signature)
                .timeout(WEBHOOK_TIMEOUT)
                .body(body)
                .send()
                .await
                .map_err(|e| {
                    QueueError::Unreachable(format!(
                        "the retry webhook did not answer: {}",
                        e.without_url()
                    ))
                })?;
            report.longest_step = report.longest_step.max(started.elapsed());
            match answer.status().as_u16() {
                200..=299 => report.done.push(id.clone()),
                404 => report.skipped.push((id.clone(), Skip::Gone)),
                409 => report.skipped.push((id.clone(), Skip::Moved)),
                status => {
                    return Err(QueueError::Other(format!(
                        "the retry webhook answered {status} for job {id}"
                    )));
                }
            }
        }
        Ok(report)
    }

    async fn discard(
        &self,
        _queue: &QueueName,
        _ids: &[JobId],
        _guard: ActGuard,
    ) -> Result<ActionReport, QueueError> {
        Err(QueueError::NotPossible(
            "a push source's webhook only retries; discard in the application".into(),
        ))
    }
}
