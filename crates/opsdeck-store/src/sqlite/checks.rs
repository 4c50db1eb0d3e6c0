//! The SQLite SQL of the check stores. Times are unix milliseconds, so buckets are computed
//! on the stored value, as `health::bucket_start` does.

use sqlx::Sqlite;

use crate::shared::checks::{CheckQueries, CheckSql};

impl CheckSql for Sqlite {
    const CHECKS: CheckQueries = CheckQueries {
        insert_sample: "INSERT INTO check_samples (name, at, status, latency_us)
             VALUES (?1, ?2, ?3, ?4)",
        insert_change: "INSERT INTO check_status_changes (name, at, from_status, to_status, output)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        changes_between: "SELECT name, at, from_status, to_status, output FROM check_status_changes
             WHERE name = ?1 AND at >= ?2 AND at < ?3 ORDER BY at, id",
        change_before: "SELECT name, at, from_status, to_status, output FROM check_status_changes
             WHERE name = ?1 AND at < ?2 ORDER BY at DESC, id DESC LIMIT 1",
        latest_changes: "SELECT name, at, from_status, to_status, output FROM (
                 SELECT *, row_number() OVER (PARTITION BY name ORDER BY at DESC, id DESC) AS n
                 FROM check_status_changes
             ) WHERE n = 1 ORDER BY name",
        samples_between: "SELECT at, 1 AS raw, 1 AS count, status = 2 AS failed, status AS worst,
                    latency_us AS min_us, latency_us AS max_us, latency_us AS total_us
             FROM check_samples WHERE name = ?1 AND at >= ?2 AND at < ?3
             UNION ALL
             SELECT at, 0 AS raw, count, failed, worst, min_us, max_us, total_us
             FROM check_sample_buckets WHERE name = ?1 AND at >= ?2 AND at < ?3
             ORDER BY at, raw DESC",
        // `at - (at % w + w) % w` floors towards minus infinity, like `rem_euclid`. (An
        // upsert from a SELECT needs a WHERE clause to parse; this one has it.)
        compact_samples: "INSERT INTO check_sample_buckets
                 (name, at, count, failed, worst, min_us, max_us, total_us)
             SELECT name, at - (at % ?2 + ?2) % ?2 AS bucket, count(*), sum(status = 2),
                    max(status), min(latency_us), max(latency_us), sum(latency_us)
             FROM check_samples WHERE at < ?1 GROUP BY name, bucket
             ON CONFLICT (name, at) DO UPDATE SET
                 count = count + excluded.count,
                 failed = failed + excluded.failed,
                 worst = max(worst, excluded.worst),
                 min_us = min(min_us, excluded.min_us),
                 max_us = max(max_us, excluded.max_us),
                 total_us = total_us + excluded.total_us",
        delete_raw_samples: "DELETE FROM check_samples WHERE at < ?1",
        expire_buckets: "DELETE FROM check_sample_buckets WHERE at < ?1",
        upsert_latest: "INSERT INTO check_latest
                 (name, at, status, latency_us, observed_value, observed_unit, output)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (name) DO UPDATE SET
                 at = excluded.at, status = excluded.status, latency_us = excluded.latency_us,
                 observed_value = excluded.observed_value,
                 observed_unit = excluded.observed_unit, output = excluded.output",
        latest_results: "SELECT name, at, status, latency_us, observed_value, observed_unit, output
             FROM check_latest ORDER BY name",
    };
}
