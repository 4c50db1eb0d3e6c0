//! What every system's measurement shares: sizes from the environment, latency samples of
//! sequential GETs and their percentiles.

use std::time::{Duration, Instant};

pub use super::common::env_or;

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `p`th percentile of `samples` (sorted in place).
pub fn percentile(samples: &mut [Duration], p: usize) -> Duration {
    samples.sort_unstable();
    let at = (samples.len() * p / 100).min(samples.len().saturating_sub(1));
    samples.get(at).copied().unwrap_or_default()
}

/// The p50 and p99 of `samples`, in milliseconds.
pub fn p50_p99_ms(samples: &mut [Duration]) -> (f64, f64) {
    (ms(percentile(samples, 50)), ms(percentile(samples, 99)))
}

/// `n` sequential GETs of `url` with `token`; their latencies. Every answer must be a 2xx.
pub async fn latencies(client: &reqwest::Client, url: &str, token: &str, n: u64) -> Vec<Duration> {
    let mut out = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
    for _ in 0..n {
        let sent = Instant::now();
        let response = client.get(url).bearer_auth(token).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        response.bytes().await.unwrap();
        out.push(sent.elapsed());
    }
    out
}
