//! Figures drawn from a check's history: uptime from its status changes, latency
//! percentiles from its samples.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::{Sample, StatusChange};

/// The fraction (0 to 1) of the window `[since, until)` the check spent in pass or warn.
///
/// `changes` are one check's status changes, oldest first; each status holds until the
/// next change, the last until `until`. Pass the latest change before `since` too, or the
/// status at the start of the window is unknown: time before the first change is left out
/// of the fraction rather than guessed, so a check added an hour ago is judged on that hour.
/// `None` when no time of the window is known.
pub fn uptime(changes: &[StatusChange], window: (DateTime<Utc>, DateTime<Utc>)) -> Option<f64> {
    let (since, until) = window;
    let mut known = chrono::Duration::zero();
    let mut up = chrono::Duration::zero();
    for (i, change) in changes.iter().enumerate() {
        let next = changes.get(i + 1).map_or(until, |next| next.at);
        let start = change.at.max(since);
        let end = next.min(until);
        if end <= start {
            continue;
        }
        known += end - start;
        if change.to.is_up() {
            up += end - start;
        }
    }
    let known = known.num_milliseconds();
    (known > 0).then(|| up.num_milliseconds() as f64 / known as f64)
}

/// The `p`th percentile (0 to 100) of `samples` by nearest rank: the smallest sample with
/// at least `p` percent of the samples at or below it. Sorts `samples` in place. `None` for
/// no samples or `p` outside 0–100.
pub fn percentile(samples: &mut [f64], p: f64) -> Option<f64> {
    let rank = nearest_rank(p, samples.len() as u64)?;
    samples.sort_by(f64::total_cmp);
    samples.get(usize::try_from(rank - 1).ok()?).copied()
}

/// The `p`th latency percentile over raw and downsampled samples, by nearest rank. A raw
/// sample counts as its latency; an aggregate as `count` results at its mean, which is exact
/// while the window holds only raw samples (see [`super::Retention::raw_for`]) and an
/// estimate beyond.
pub fn latency_percentile(samples: &[Sample], p: f64) -> Option<Duration> {
    let total: u64 = samples.iter().map(|s| u64::from(s.count)).sum();
    let rank = nearest_rank(p, total)?;
    let mut weighted: Vec<(Duration, u64)> = samples
        .iter()
        .map(|s| (s.mean(), u64::from(s.count)))
        .collect();
    weighted.sort_unstable();
    let mut seen = 0;
    weighted.into_iter().find_map(|(latency, count)| {
        seen += count;
        (seen >= rank).then_some(latency)
    })
}

/// The 1-based nearest rank of the `p`th percentile among `n` values.
fn nearest_rank(p: f64, n: u64) -> Option<u64> {
    if n == 0 || !(0.0..=100.0).contains(&p) {
        return None;
    }
    let rank = (p / 100.0 * n as f64).ceil() as u64;
    Some(rank.clamp(1, n))
}

#[cfg(test)]
mod tests;
