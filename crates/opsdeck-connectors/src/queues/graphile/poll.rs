//! One poll: the tasks (queues), the counts `jobs_main_index` answers every time, and on a
//! slow poll the one scan that counts failed, retrying and active jobs and the failures of
//! the last hour.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use chrono::Utc;
use opsdeck_core::ids::QueueName;
use opsdeck_core::queues::{Count, JobState, QueueStats};

use super::{GraphileConnector, version_text};
use crate::queues::pg_tx::TxMode;
use crate::queues::{Poll, PollCost, QueueError};

/// What one task's rows of the counting statements said.
#[derive(Debug, Default)]
struct Counted {
    waiting: u64,
    scheduled: u64,
    oldest: Option<f64>,
    slow: Option<[u64; 4]>,
}

/// The least statement timeout of the slow poll's scan.
const SLOW_TIMEOUT: Duration = Duration::from_secs(10);

/// A task's row of the slow count: task, active, failed, retrying, failed in the last hour.
type SlowRow = (i32, i64, i64, i64, i64);

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

pub(super) async fn poll(conn: &GraphileConnector, slow: bool) -> Result<Poll, QueueError> {
    let started = Instant::now();
    let timeout = conn.context.read_timeout;
    // BEGIN, SET TRANSACTION, two SET LOCAL, the migration, the tasks, the counts, COMMIT.
    let mut commands = 8;
    let (mut tx, migration) = conn.begin(TxMode::Read, timeout).await?;
    // Every path, an early error's included, ends the transaction with a rollback (a
    // cancelled statement leaves it aborted anyway): a transaction merely dropped would leave
    // its session idle in it.
    let read = async {
        let tasks: Vec<(i32, String)> =
            sqlx::query_as(sqlx::AssertSqlSafe(conn.sql.tasks.as_str()))
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| conn.fail(e))?;
        let fast: Vec<(i32, i64, i64, Option<f64>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(conn.sql.fast_counts.as_str()))
                .fetch_all(&mut *tx)
                .await
                .map_err(|e| conn.fail(e))?;
        let fast_at = Utc::now();
        let mut counted: HashMap<i32, Counted> = HashMap::new();
        for (task, waiting, scheduled, oldest) in fast {
            let entry = counted.entry(task).or_default();
            entry.waiting = count(waiting);
            entry.scheduled = count(scheduled);
            entry.oldest = oldest.map(|age| age.max(0.0));
        }
        let mut slow_at = None;
        if slow {
            commands += 2;
            // The scan grows with the table, not with the backlog: it gets a longer timeout than
            // the reads around it; the poller spaces slow polls by what they cost.
            let millis = timeout.max(SLOW_TIMEOUT).as_millis();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SET LOCAL statement_timeout = {millis}"
            )))
            .execute(&mut *tx)
            .await
            .map_err(|e| conn.fail(e))?;
            let rows: Result<Vec<SlowRow>, _> =
                sqlx::query_as(sqlx::AssertSqlSafe(conn.sql.slow_counts.as_str()))
                    .fetch_all(&mut *tx)
                    .await;
            match rows {
                Ok(rows) => {
                    slow_at = Some(Utc::now());
                    for (task, active, failed, retrying, recent) in rows {
                        counted.entry(task).or_default().slow =
                            Some([active, failed, retrying, recent].map(count));
                    }
                }
                // Past its statement timeout the scan is given up: the fast counts still stand,
                // and the slow ones keep their last values and the time they were taken.
                Err(sqlx::Error::Database(db)) if db.code().as_deref() == Some("57014") => {}
                Err(err) => return Err(conn.fail(err)),
            }
        }
        Ok::<_, QueueError>((tasks, fast_at, counted, slow_at))
    }
    .await;
    let _ = tx.rollback().await;
    let (tasks, fast_at, mut counted, slow_at) = read?;
    let polled_at = Utc::now();
    let queues = tasks
        .into_iter()
        .filter_map(|(id, identifier)| {
            let queue = QueueName::parse(&identifier).ok()?;
            let found = counted.remove(&id).unwrap_or_default();
            let mut counts = BTreeMap::new();
            counts.insert(
                JobState::Waiting,
                Count {
                    value: found.waiting,
                    at: fast_at,
                },
            );
            counts.insert(
                JobState::Scheduled,
                Count {
                    value: found.scheduled,
                    at: fast_at,
                },
            );
            let mut failures_last_hour = None;
            if let Some(at) = slow_at {
                let [active, failed, retrying, recent] = found.slow.unwrap_or_default();
                for (state, value) in [
                    (JobState::Active, active),
                    (JobState::Failed, failed),
                    (JobState::Retrying, retrying),
                ] {
                    counts.insert(state, Count { value, at });
                }
                failures_last_hour = Some(recent);
            }
            Some(QueueStats {
                source: conn.context.source.clone(),
                queue,
                system: opsdeck_core::queues::System::GraphileWorker,
                counts,
                oldest_waiting_seconds: found.oldest,
                failures_last_hour,
                paused: None,
                polled_at,
            })
        })
        .collect();
    Ok(Poll {
        version: Some(version_text(migration)),
        queues,
        cost: PollCost {
            commands,
            elapsed: started.elapsed(),
        },
    })
}
