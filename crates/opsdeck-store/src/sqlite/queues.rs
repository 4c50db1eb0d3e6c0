//! The SQLite SQL of the queue store.

use sqlx::Sqlite;

use crate::shared::queues::{QueueQueries, QueueSql};

impl QueueSql for Sqlite {
    const QUEUES: QueueQueries = QueueQueries {
        upsert_source: "INSERT INTO queue_sources
                 (source, system, version, last_success_at, last_attempt_at, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (source) DO UPDATE SET
                 system = excluded.system,
                 version = COALESCE(excluded.version, queue_sources.version),
                 last_success_at = COALESCE(excluded.last_success_at, queue_sources.last_success_at),
                 last_attempt_at = excluded.last_attempt_at,
                 error = excluded.error",
        upsert_stats: "INSERT INTO queue_stats (source, queue, system, stats, polled_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (source, queue) DO UPDATE SET
                 system = excluded.system, stats = excluded.stats,
                 polled_at = excluded.polled_at",
        forget_stats: "DELETE FROM queue_stats WHERE source = ?1 AND polled_at < ?2",
        insert_sample: "INSERT INTO queue_samples
                 (source, queue, at, waiting, failed, failures_last_hour, oldest_seconds)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (source, queue, at) DO NOTHING",
        upsert_pushed_jobs: "INSERT INTO queue_pushed_jobs (source, queue, jobs, received_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (source, queue) DO UPDATE SET
                 jobs = excluded.jobs, received_at = excluded.received_at",
        pushed_jobs: "SELECT jobs FROM queue_pushed_jobs WHERE source = ?1 AND queue = ?2",
        sources: "SELECT source, system, version, last_success_at, last_attempt_at, error
             FROM queue_sources ORDER BY source",
        stats: "SELECT stats FROM queue_stats ORDER BY source, queue",
        samples: "SELECT at, waiting, failed, failures_last_hour, oldest_seconds
             FROM queue_samples WHERE source = ?1 AND queue = ?2 AND at >= ?3
             ORDER BY at",
        prune_samples: "DELETE FROM queue_samples WHERE at < ?1",
        insert_selection: "INSERT INTO queue_selections
                 (token, source, queue, action, filter, ids, count, pinned_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        take_selection: "UPDATE queue_selections SET used_at = ?3
             WHERE token = ?1 AND used_at IS NULL AND count = ?2 AND expires_at > ?3
               AND source = ?4 AND queue = ?5 AND action = ?6
             RETURNING token, source, queue, action, filter, ids, pinned_at, expires_at, used_at",
        prune_selections: "DELETE FROM queue_selections WHERE expires_at < ?1",
    };
}
