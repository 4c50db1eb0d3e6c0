//! The PostgreSQL SQL of the check stores. Buckets are computed on the epoch milliseconds, as
//! `health::bucket_start` does.

use sqlx::Postgres;

use crate::shared::checks::{CheckQueries, CheckSql};

impl CheckSql for Postgres {
    const CHECKS: CheckQueries = CheckQueries {
        insert_sample: "INSERT INTO check_samples (name, at, status, latency_us)
             VALUES ($1, $2, $3, $4)",
        insert_change: "INSERT INTO check_status_changes (name, at, from_status, to_status, output)
             VALUES ($1, $2, $3, $4, $5)",
        changes_between: "SELECT name, at, from_status, to_status, output FROM check_status_changes
             WHERE name = $1 AND at >= $2 AND at < $3 ORDER BY at, id",
        change_before: "SELECT name, at, from_status, to_status, output FROM check_status_changes
             WHERE name = $1 AND at < $2 ORDER BY at DESC, id DESC LIMIT 1",
        latest_changes: "SELECT DISTINCT ON (name) name, at, from_status, to_status, output
             FROM check_status_changes ORDER BY name, at DESC, id DESC",
        samples_between: "SELECT at, true AS raw, 1::bigint AS count,
                    (status = 2)::int::bigint AS failed, status AS worst,
                    latency_us AS min_us, latency_us AS max_us, latency_us AS total_us
             FROM check_samples WHERE name = $1 AND at >= $2 AND at < $3
             UNION ALL
             SELECT at, false AS raw, count, failed, worst, min_us, max_us, total_us
             FROM check_sample_buckets WHERE name = $1 AND at >= $2 AND at < $3
             ORDER BY at, raw DESC",
        // Epoch milliseconds, floored to the bucket width, back to a time. Two compactions
        // racing (two leaders for a moment) serialise on the bucket rows' conflict, and the
        // second finds the raw rows gone.
        compact_samples: "INSERT INTO check_sample_buckets
                 (name, at, count, failed, worst, min_us, max_us, total_us)
             SELECT name,
                    TIMESTAMPTZ 'epoch' + floor(extract(epoch FROM at) * 1000 / $2) * $2
                        * interval '1 millisecond' AS bucket,
                    count(*), count(*) FILTER (WHERE status = 2), max(status),
                    min(latency_us), max(latency_us), sum(latency_us)
             FROM check_samples WHERE at < $1 GROUP BY name, bucket
             ON CONFLICT (name, at) DO UPDATE SET
                 count = check_sample_buckets.count + excluded.count,
                 failed = check_sample_buckets.failed + excluded.failed,
                 worst = greatest(check_sample_buckets.worst, excluded.worst),
                 min_us = least(check_sample_buckets.min_us, excluded.min_us),
                 max_us = greatest(check_sample_buckets.max_us, excluded.max_us),
                 total_us = check_sample_buckets.total_us + excluded.total_us",
        delete_raw_samples: "DELETE FROM check_samples WHERE at < $1",
        expire_buckets: "DELETE FROM check_sample_buckets WHERE at < $1",
        upsert_latest: "INSERT INTO check_latest
                 (name, at, status, latency_us, observed_value, observed_unit, output)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (name) DO UPDATE SET
                 at = excluded.at, status = excluded.status, latency_us = excluded.latency_us,
                 observed_value = excluded.observed_value,
                 observed_unit = excluded.observed_unit, output = excluded.output",
        latest_results: "SELECT name, at, status, latency_us, observed_value, observed_unit, output
             FROM check_latest ORDER BY name",
    };
}
