//! Latency samples and their downsampling. Each probe result is kept raw (one [`Sample`] of
//! count 1) for [`Retention::raw_for`]; older ones are merged into one sample per
//! [`Retention::bucket`] (count, failures, worst status, min, max and total latency, so the
//! mean survives), and those are deleted after [`Retention::keep_for`]. Status changes are
//! never downsampled. With the defaults a check probed every 15 s keeps at most about 46,000
//! raw rows and 116,000 buckets, however long it runs.
//!
//! Merging is associative, so compacting a bucket in several passes gives what one pass
//! would: the stores rely on it when a late raw sample lands in an already compacted bucket.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{CheckResult, Status};

/// One raw probe result, or the aggregate of a bucket of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// The probe's time (raw), or the start of the bucket.
    pub at: DateTime<Utc>,
    /// One probe result as it was, not an aggregate.
    pub raw: bool,
    /// Results merged into this sample; at least one.
    pub count: u32,
    /// Of those, how many failed.
    pub failed: u32,
    pub worst: Status,
    /// Latencies are kept to the microsecond.
    pub min: Duration,
    pub max: Duration,
    /// The sum of the latencies, so that the mean survives merging.
    pub total: Duration,
}

impl Sample {
    /// The raw sample of one result, its latency truncated to the microsecond (what the
    /// stores keep).
    pub fn from_result(result: &CheckResult) -> Self {
        let latency = truncate_to_micros(result.latency);
        Self {
            at: result.at,
            raw: true,
            count: 1,
            failed: u32::from(result.status == Status::Fail),
            worst: result.status,
            min: latency,
            max: latency,
            total: latency,
        }
    }

    pub fn mean(&self) -> Duration {
        self.total / self.count.max(1)
    }

    /// Folds `other` into this one: an aggregate covering both. `at` and `raw` stay.
    pub fn merge(&mut self, other: &Sample) {
        self.count = self.count.saturating_add(other.count);
        self.failed = self.failed.saturating_add(other.failed);
        self.worst = self.worst.max(other.worst);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.total = self.total.saturating_add(other.total);
    }
}

/// The start of the `bucket`-wide slot holding `at`, slots counted from the unix epoch (so
/// every replica and both stores agree). A bucket under a millisecond is taken as one.
pub fn bucket_start(at: DateTime<Utc>, bucket: Duration) -> DateTime<Utc> {
    let width = bucket_millis(bucket);
    let millis = at.timestamp_millis();
    let start = millis - millis.rem_euclid(width);
    DateTime::from_timestamp_millis(start).unwrap_or(at)
}

/// `bucket` in whole milliseconds, at least one: the unit the stores bucket by.
pub fn bucket_millis(bucket: Duration) -> i64 {
    i64::try_from(bucket.as_millis()).unwrap_or(i64::MAX).max(1)
}

/// Merges samples (raw or aggregates, in any order) into one aggregate per bucket, oldest
/// first.
pub fn downsample(samples: &[Sample], bucket: Duration) -> Vec<Sample> {
    let mut buckets: BTreeMap<DateTime<Utc>, Sample> = BTreeMap::new();
    for sample in samples {
        let start = bucket_start(sample.at, bucket);
        buckets
            .entry(start)
            .and_modify(|merged| merged.merge(sample))
            .or_insert(Sample {
                at: start,
                raw: false,
                ..*sample
            });
    }
    buckets.into_values().collect()
}

/// How long samples are kept, and how coarsely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Raw samples younger than this are kept as they are. The default, 8 days, keeps 7-day
    /// percentiles exact.
    pub raw_for: Duration,
    /// The width of one aggregate.
    pub bucket: Duration,
    /// Aggregates older than this are deleted.
    pub keep_for: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            raw_for: Duration::from_secs(8 * 86_400),
            bucket: Duration::from_secs(5 * 60),
            keep_for: Duration::from_secs(400 * 86_400),
        }
    }
}

impl Retention {
    /// The `(raw_before, keep_after)` arguments of a compaction at `now`. `raw_before` is
    /// moved back to a bucket boundary, so a bucket is compacted whole rather than in parts.
    pub fn cutoffs(&self, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let back = |by: Duration| {
            chrono::Duration::from_std(by)
                .ok()
                .and_then(|by| now.checked_sub_signed(by))
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        (
            bucket_start(back(self.raw_for), self.bucket),
            back(self.keep_for),
        )
    }

    /// The most sample rows one check probed every `interval` can hold between compactions
    /// (plus what arrives until the next one).
    pub fn max_rows(&self, interval: Duration) -> u128 {
        let per = |span: Duration, width: Duration| span.as_millis() / width.as_millis().max(1) + 1;
        per(self.raw_for, interval) + per(self.keep_for, self.bucket)
    }
}

fn truncate_to_micros(latency: Duration) -> Duration {
    Duration::new(latency.as_secs(), latency.subsec_micros() * 1_000)
}

#[cfg(test)]
mod tests;
