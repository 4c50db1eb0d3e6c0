//! One poll: the queues, the counts pg-boss caches (12.x) or its fetch index answers (10.x)
//! every time, and on a slow poll the one scan that counts every state and the failures of
//! the last hour.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_core::ids::QueueName;
use opsdeck_core::queues::{Count, JobState, QueueStats, System};

use super::sql::condition;
use super::{Layout, PgBossConnector, version_text};
use crate::queues::pg_tx::TxMode;
use crate::queues::{Poll, PollCost, QueueError};

/// The least statement timeout of the slow poll's scan.
const SLOW_TIMEOUT: Duration = Duration::from_secs(10);

/// The states the slow scan counts, in the order of its columns.
const SLOW_STATES: [JobState; 7] = [
    JobState::Waiting,
    JobState::Scheduled,
    JobState::Retrying,
    JobState::Active,
    JobState::Failed,
    JobState::Dead,
    JobState::Completed,
];

/// What the poll learnt of one queue.
#[derive(Debug, Default)]
struct Counted {
    counts: BTreeMap<JobState, Count>,
    oldest: Option<f64>,
    failures_last_hour: Option<u64>,
}

impl Counted {
    fn set(&mut self, state: JobState, value: i64, at: DateTime<Utc>) {
        let value = u64::try_from(value).unwrap_or(0);
        self.counts.insert(state, Count { value, at });
    }
}

/// A queue's row of pg-boss 12's cache: name, ready, deferred + blocked, active, failed,
/// oldest ready job's age, when the monitor counted, retrying (counted here).
type CachedRow = (
    String,
    i64,
    i64,
    i64,
    i64,
    Option<f64>,
    Option<DateTime<Utc>>,
    i64,
);

fn cached_sql(s: &str) -> String {
    format!(
        "SELECT q.name, q.ready_count::int8, (q.deferred_count + q.blocked_count)::int8, \
         q.active_count::int8, q.failed_count::int8, q.ready_oldest_seconds::float8, \
         q.monitor_on, (SELECT count(*) FROM {s}.job j WHERE j.name = q.name AND {retrying}) \
         FROM {s}.queue q ORDER BY q.name",
        retrying = condition(Layout::V12, JobState::Retrying)
    )
}

fn fetch_index_sql(s: &str) -> String {
    let waiting = condition(Layout::V10, JobState::Waiting);
    format!(
        "SELECT j.name, count(*) FILTER (WHERE {waiting}), \
         count(*) FILTER (WHERE {scheduled}), count(*) FILTER (WHERE {retrying}), \
         extract(epoch FROM now() - min(greatest(j.created_on, j.start_after)) \
         FILTER (WHERE {waiting}))::float8 \
         FROM {s}.job j WHERE j.state < 'active' GROUP BY j.name",
        scheduled = condition(Layout::V10, JobState::Scheduled),
        retrying = condition(Layout::V10, JobState::Retrying),
    )
}

/// `only`: the scan is limited to the queues bound as `$1`.
fn slow_sql(layout: Layout, s: &str, only: bool) -> String {
    let columns: Vec<String> = SLOW_STATES
        .iter()
        .map(|state| format!("count(*) FILTER (WHERE {})", condition(layout, *state)))
        .collect();
    format!(
        "SELECT j.name, {}, count(*) FILTER (WHERE j.state = 'failed' \
         AND j.completed_on > now() - interval '1 hour'), \
         extract(epoch FROM now() - min(greatest(j.created_on, j.start_after)) \
         FILTER (WHERE {})) ::float8 FROM {s}.job j {} GROUP BY j.name",
        columns.join(", "),
        condition(layout, JobState::Waiting),
        if only { "WHERE j.name = ANY($1)" } else { "" }
    )
}

pub(super) async fn poll(conn: &PgBossConnector, slow: bool) -> Result<Poll, QueueError> {
    let started = Instant::now();
    let timeout = conn.context.read_timeout;
    let s = conn.sql.s().to_owned();
    // BEGIN, SET TRANSACTION, two SET LOCAL, the version, the queues and counts, COMMIT.
    let mut commands = 7;
    let (mut tx, layout) = conn.begin(TxMode::Read, timeout).await?;
    // Every path, a cancelled scan's included, ends the transaction with a rollback.
    let counting = async {
        let mut counted: HashMap<String, Counted> = HashMap::new();
        let mut names = Vec::new();
        match layout {
            Layout::V12 => {
                let rows: Vec<CachedRow> = sqlx::query_as(sqlx::AssertSqlSafe(cached_sql(&s)))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(|e| conn.fail(e))?;
                let now = Utc::now();
                for (name, ready, deferred, active, failed, oldest, monitor_on, retrying) in rows {
                    let entry = counted.entry(name.clone()).or_default();
                    // Never counted by pg-boss's monitor: its zeros mean nothing, so only a slow
                    // poll counts this queue.
                    if let Some(at) = monitor_on {
                        entry.set(JobState::Waiting, ready, at);
                        entry.set(JobState::Scheduled, deferred, at);
                        entry.set(JobState::Active, active, at);
                        entry.set(JobState::Failed, failed, at);
                        entry.oldest = oldest.map(|age| age.max(0.0));
                    }
                    entry.set(JobState::Retrying, retrying, now);
                    names.push(name);
                }
            }
            Layout::V10 => {
                commands += 1;
                let queues: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM {s}.queue ORDER BY name"
                )))
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| conn.fail(e))?;
                let rows: Vec<(String, i64, i64, i64, Option<f64>)> =
                    sqlx::query_as(sqlx::AssertSqlSafe(fetch_index_sql(&s)))
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(|e| conn.fail(e))?;
                let at = Utc::now();
                for (name,) in queues {
                    let entry = counted.entry(name.clone()).or_default();
                    entry.set(JobState::Waiting, 0, at);
                    entry.set(JobState::Scheduled, 0, at);
                    entry.set(JobState::Retrying, 0, at);
                    names.push(name);
                }
                for (name, waiting, scheduled, retrying, oldest) in rows {
                    if let Some(entry) = counted.get_mut(&name) {
                        entry.set(JobState::Waiting, waiting, at);
                        entry.set(JobState::Scheduled, scheduled, at);
                        entry.set(JobState::Retrying, retrying, at);
                        entry.oldest = oldest.map(|age| age.max(0.0));
                    }
                }
            }
        }
        if slow {
            commands += 2;
            // The scan grows with the tables, not with the backlog: it gets a longer timeout than
            // the reads around it; the poller spaces slow polls by what they cost.
            let millis = timeout.max(SLOW_TIMEOUT).as_millis();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SET LOCAL statement_timeout = {millis}"
            )))
            .execute(&mut *tx)
            .await
            .map_err(|e| conn.fail(e))?;
            let sql = slow_sql(layout, &s, conn.only.is_some());
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            if let Some(only) = &conn.only {
                query = query.bind(only);
            }
            let rows = query.fetch_all(&mut *tx).await;
            match rows {
                Ok(rows) => {
                    let at = Utc::now();
                    for entry in counted.values_mut() {
                        for state in SLOW_STATES {
                            entry.set(state, 0, at);
                        }
                        entry.failures_last_hour = Some(0);
                    }
                    for row in rows {
                        use sqlx::Row;
                        let name: String = row.try_get(0).map_err(|e| conn.fail(e))?;
                        let Some(entry) = counted.get_mut(&name) else {
                            continue;
                        };
                        for (i, state) in SLOW_STATES.into_iter().enumerate() {
                            let value: i64 = row.try_get(i + 1).map_err(|e| conn.fail(e))?;
                            entry.set(state, value, at);
                        }
                        let recent: i64 = row.try_get(8).map_err(|e| conn.fail(e))?;
                        entry.failures_last_hour = Some(u64::try_from(recent).unwrap_or(0));
                        let oldest: Option<f64> = row.try_get(9).map_err(|e| conn.fail(e))?;
                        entry.oldest = oldest.map(|age| age.max(0.0));
                    }
                }
                // Past its statement timeout the scan is given up: the fast counts still stand,
                // and the slow ones keep their last values and the time they were taken.
                Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("57014") => {}
                Err(err) => return Err(conn.fail(err)),
            }
        }
        Ok::<_, QueueError>((names, counted))
    }
    .await;
    let _ = tx.rollback().await;
    let (names, mut counted) = counting?;
    let polled_at = Utc::now();
    let queues = names
        .into_iter()
        .filter(|name| conn.shows(name))
        .filter_map(|name| {
            let queue = QueueName::parse(&name).ok()?;
            let found = counted.remove(&name).unwrap_or_default();
            Some(QueueStats {
                source: conn.context.source.clone(),
                queue,
                system: System::PgBoss,
                counts: found.counts,
                oldest_waiting_seconds: found.oldest,
                failures_last_hour: found.failures_last_hour,
                paused: None,
                polled_at,
            })
        })
        .collect();
    Ok(Poll {
        version: Some(version_text(layout)),
        queues,
        cost: PollCost {
            commands,
            elapsed: started.elapsed(),
        },
    })
}
