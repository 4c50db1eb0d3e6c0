//! Job lists, one job, and a bulk action's selection.
//!
//! A state is a queue's list (waiting) or one or two of the global sorted sets (scheduled:
//! `schedule`; retrying: `retry`; dead: `dead`; failed: `retry` then `dead`), read a batch at
//! a time and kept to the queue's own jobs. A sorted set's cursor is the last score shown and
//! how many entries of that score were shown, so a page resumes by `Z[REV]RANGEBYSCORE …
//! LIMIT` in O(log n) however deep it is, and failures added since do not repeat a page. A
//! page, a search or a queue with few of a large set's entries reads at most [`SCAN_MAX`]
//! entries and then answers what it found (`partial`).

use std::collections::HashSet;

use opsdeck_core::ids::{JobId, QueueName};
use opsdeck_core::queues::{JobDetail, JobFilter, JobState, JobSummary};
use opsdeck_core::redact::truncate_redacted;
use serde_json::Value;

use super::SidekiqConnector;
use super::entry::{Entry, Ref, digest};
use crate::queues::paging::matches;
use crate::queues::{JobPage, JobQuery, QueueError};

/// Entries a page or search reads before it answers what it found.
const SCAN_MAX: u64 = 5_000;
/// Entries a bulk dry run's selection reads at most.
const SELECT_SCAN_MAX: u64 = 2_000_000;
/// Entries read per command while searching or selecting.
const BATCH: usize = 500;
/// Waiting jobs searched for one job's page.
const LIST_SEARCH_MAX: usize = 10_000;
/// A list's error: one line.
const ERROR_MAX_BYTES: usize = 200;
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// A queue's list, head (newest) first.
    List,
    /// A sorted set, lowest score first.
    Asc,
    /// A sorted set, highest score first.
    Rev,
}

/// The keys of a state, in the order listed (`queue` stands for the queue's own list).
fn parts(state: JobState) -> &'static [(&'static str, Order)] {
    match state {
        JobState::Waiting => &[("queue", Order::List)],
        JobState::Scheduled => &[("schedule", Order::Asc)],
        JobState::Retrying => &[("retry", Order::Rev)],
        JobState::Dead => &[("dead", Order::Rev)],
        JobState::Failed => &[("retry", Order::Rev), ("dead", Order::Rev)],
        // Running jobs are in no key (each process's worker hash is a snapshot), and
        // finished ones are not kept.
        JobState::Active | JobState::Completed => &[],
    }
}

/// The state of an entry found in set `name`.
fn state_of(name: &str) -> JobState {
    match name {
        "schedule" => JobState::Scheduled,
        "retry" => JobState::Retrying,
        "dead" => JobState::Dead,
        _ => JobState::Waiting,
    }
}

/// Where a page starts: the part, and in a list the offset, in a sorted set the last score
/// shown and how many entries with it were shown.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Cursor {
    part: usize,
    skip: u64,
    score: Option<String>,
}

impl Cursor {
    fn parse(text: &str) -> Result<Self, QueueError> {
        let bad = || QueueError::NotFound("no such page: pass back the `next` of a page".into());
        let mut pieces = text.splitn(3, ':');
        let part = pieces.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let skip = pieces.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let score = pieces.next().filter(|s| !s.is_empty()).map(str::to_owned);
        if score
            .as_deref()
            .is_some_and(|s| !s.parse::<f64>().is_ok_and(f64::is_finite))
        {
            return Err(bad());
        }
        Ok(Self { part, skip, score })
    }

    fn text(&self) -> String {
        format!(
            "{}:{}:{}",
            self.part,
            self.skip,
            self.score.as_deref().unwrap_or_default()
        )
    }

    /// The cursor just past `entry`.
    fn past(&mut self, entry: &Entry) {
        match &entry.score {
            Some(score) if self.score.as_ref() == Some(score) => self.skip += 1,
            Some(score) => {
                self.score = Some(score.clone());
                self.skip = 1;
            }
            None => self.skip += 1,
        }
    }

    fn next_part(&self) -> Self {
        Self {
            part: self.part + 1,
            ..Self::default()
        }
    }
}

/// The first line of an error that says something, redacted and short.
fn error_line(error: &str) -> String {
    let line = error
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default();
    truncate_redacted(line, ERROR_MAX_BYTES)
}

impl SidekiqConnector {
    /// One batch of `part` from `cursor`.
    async fn batch(
        &self,
        queue: &QueueName,
        (name, order): (&str, Order),
        cursor: &Cursor,
        count: usize,
    ) -> Result<Vec<Entry>, QueueError> {
        if order == Order::List {
            let key = self.queue_key(queue.as_str());
            let start = cursor.skip;
            let raws: Vec<String> = self
                .client
                .command(
                    redis::cmd("LRANGE")
                        .arg(&key)
                        .arg(start)
                        .arg(start + count as u64 - 1),
                )
                .await?;
            return raws
                .into_iter()
                .map(|raw| Entry::parse(raw, None, &key))
                .collect();
        }
        let key = self.key(name);
        let (command, from, to) = match order {
            Order::Rev => ("ZREVRANGEBYSCORE", "+inf", "-inf"),
            _ => ("ZRANGEBYSCORE", "-inf", "+inf"),
        };
        let from = cursor.score.as_deref().unwrap_or(from);
        let pairs: Vec<String> = self
            .client
            .command(
                redis::cmd(command)
                    .arg(&key)
                    .arg(from)
                    .arg(to)
                    .arg("WITHSCORES")
                    .arg("LIMIT")
                    .arg(cursor.skip)
                    .arg(count),
            )
            .await?;
        let mut out = Vec::with_capacity(pairs.len() / 2);
        let mut pairs = pairs.into_iter();
        while let (Some(member), Some(score)) = (pairs.next(), pairs.next()) {
            out.push(Entry::parse(member, Some(score), &key)?);
        }
        Ok(out)
    }

    fn summary(&self, state: JobState, entry: &Entry) -> Option<JobSummary> {
        let id = entry.id()?;
        let queue = QueueName::parse(entry.queue()).ok()?;
        let tenant_id = self.context.tenant_path.as_ref().and_then(|path| {
            let doc = Value::Object(entry.doc.clone());
            path.tenant_of(&doc)
        });
        let at = match state {
            JobState::Scheduled => entry.score().and_then(super::entry::time_of_score),
            JobState::Waiting => entry.time("enqueued_at"),
            _ => entry.last_failure(),
        };
        let attempts = match entry.retry_count() {
            Some(n) => u32::try_from(n + 1).ok(),
            None if entry.doc.contains_key("error_class") => Some(1),
            None => Some(0),
        };
        Some(JobSummary {
            id,
            queue,
            state,
            name: Some(truncate_redacted(entry.class(), 200)),
            attempts,
            max_attempts: entry.max_attempts(),
            created_at: entry.time("created_at"),
            at,
            error: entry.error().as_deref().map(error_line),
            tenant_id,
        })
    }
}

/// A page of `query.filter.state`'s jobs of `queue`, from `query.cursor`.
pub(super) async fn list(
    connector: &SidekiqConnector,
    queue: &QueueName,
    query: &JobQuery,
) -> Result<JobPage, QueueError> {
    let filter = &query.filter;
    let parts = parts(filter.state);
    let limit = query.limit.max(1) as usize;
    let mut cursor = match query.cursor.as_deref() {
        Some(text) => Cursor::parse(text)?,
        None => Cursor::default(),
    };
    let mut jobs = Vec::new();
    let mut scanned = 0u64;
    while let Some(part) = parts.get(cursor.part) {
        // One more than the page, so a full page knows whether another follows.
        let want = (limit + 1 - jobs.len()).clamp(1, BATCH);
        let batch = connector.batch(queue, *part, &cursor, want).await?;
        scanned += batch.len() as u64;
        for entry in &batch {
            if jobs.len() == limit {
                return Ok(JobPage {
                    jobs,
                    next: Some(cursor.text()),
                    scanned,
                    partial: false,
                });
            }
            cursor.past(entry);
            if entry.queue() != queue.as_str() {
                continue;
            }
            let Some(job) = connector.summary(state_of(part.0), entry) else {
                continue;
            };
            if matches(&job, filter) {
                jobs.push(job);
            }
        }
        if batch.len() < want {
            cursor = cursor.next_part();
            continue;
        }
        if scanned >= SCAN_MAX {
            return Ok(JobPage {
                jobs,
                next: Some(cursor.text()),
                scanned,
                partial: true,
            });
        }
    }
    Ok(JobPage {
        jobs,
        next: None,
        scanned,
        partial: false,
    })
}

/// For a bulk action: the ids of `queue`'s retrying, dead or failed (both) jobs that
/// `filter` matches, in list order, at most `limit + 1`.
pub(super) async fn select(
    connector: &SidekiqConnector,
    queue: &QueueName,
    filter: &JobFilter,
    limit: usize,
) -> Result<Vec<JobId>, QueueError> {
    if !matches!(
        filter.state,
        JobState::Retrying | JobState::Dead | JobState::Failed
    ) {
        return Err(QueueError::NotPossible(format!(
            "bulk actions take Sidekiq's retrying, dead or failed (both) jobs, not {} ones",
            filter.state
        )));
    }
    let parts = parts(filter.state);
    let wanted = limit.saturating_add(1);
    let mut cursor = Cursor::default();
    let mut ids = Vec::new();
    let mut seen = HashSet::new();
    let mut scanned = 0u64;
    while let Some(part) = parts.get(cursor.part) {
        let batch = connector.batch(queue, *part, &cursor, BATCH).await?;
        scanned += batch.len() as u64;
        for entry in &batch {
            cursor.past(entry);
            if entry.queue() != queue.as_str() {
                continue;
            }
            let Some(job) = connector.summary(state_of(part.0), entry) else {
                continue;
            };
            if matches(&job, filter) && seen.insert(job.id.clone()) {
                ids.push(job.id);
                if ids.len() == wanted {
                    return Ok(ids);
                }
            }
        }
        if batch.len() < BATCH {
            cursor = cursor.next_part();
        } else if scanned >= SELECT_SCAN_MAX {
            return Err(QueueError::NotPossible(format!(
                "the search read {SELECT_SCAN_MAX} entries without reaching the end: narrow the search"
            )));
        }
    }
    Ok(ids)
}

/// The entry of one of `sets` with score `score`, jid `jid` and text digest `wanted`, with
/// the set it is in.
async fn find_in_sets(
    connector: &SidekiqConnector,
    sets: &[&'static str],
    score: &str,
    jid: &str,
    wanted: &str,
) -> Result<Option<(&'static str, Entry)>, QueueError> {
    let mut pipe = redis::pipe();
    for name in sets {
        pipe.cmd("ZRANGEBYSCORE")
            .arg(connector.key(name))
            .arg(score)
            .arg(score)
            .arg("WITHSCORES");
    }
    let found: Vec<Vec<String>> = connector.client.query(&pipe).await?;
    for (&name, pairs) in sets.iter().zip(found) {
        let mut pairs = pairs.into_iter();
        while let (Some(member), Some(at)) = (pairs.next(), pairs.next()) {
            if digest(&member) == wanted {
                let entry = Entry::parse(member, Some(at), &connector.key(name))?;
                if entry.jid() == jid {
                    return Ok(Some((name, entry)));
                }
            }
        }
    }
    Ok(None)
}

/// A waiting job of `queue` by jid, among the first [`LIST_SEARCH_MAX`] of its list.
async fn find_waiting(
    connector: &SidekiqConnector,
    queue: &QueueName,
    jid: &str,
) -> Result<Option<Entry>, QueueError> {
    let mut cursor = Cursor::default();
    let mut read = 0;
    while read < LIST_SEARCH_MAX {
        let batch = connector
            .batch(queue, ("queue", Order::List), &cursor, BATCH)
            .await?;
        read += batch.len();
        let done = batch.len() < BATCH;
        for entry in batch {
            cursor.past(&entry);
            if entry.jid() == jid {
                return Ok(Some(entry));
            }
        }
        if done {
            break;
        }
    }
    Ok(None)
}

/// One job: a sorted-set entry by its exact text, or a waiting job by jid.
pub(super) async fn get(
    connector: &SidekiqConnector,
    queue: &QueueName,
    id: &JobId,
) -> Result<Option<JobDetail>, QueueError> {
    let (state, entry) = match Ref::parse(id) {
        Ref::Set { score, jid, digest } => {
            match find_in_sets(
                connector,
                &["retry", "dead", "schedule"],
                &score,
                &jid,
                &digest,
            )
            .await?
            {
                Some((name, entry)) => (state_of(name), entry),
                None => return Ok(None),
            }
        }
        Ref::List { jid } => match find_waiting(connector, queue, &jid).await? {
            Some(entry) => (JobState::Waiting, entry),
            None => return Ok(None),
        },
    };
    if entry.queue() != queue.as_str() {
        return Ok(None);
    }
    let Some(summary) = connector.summary(state, &entry) else {
        return Ok(None);
    };
    Ok(Some(super::detail::detail(summary, &entry)))
}
