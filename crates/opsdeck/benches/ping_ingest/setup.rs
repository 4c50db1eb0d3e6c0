//! The store's own ceiling, measured without HTTP.

use std::time::{Duration, Instant};

use chrono::Utc;
use opsdeck_core::Store;
use opsdeck_core::cron::{Ping, PingKind, RunSource, StateWrite, apply_ping};
use opsdeck_core::ids::Slug;

use super::{Settings, cpu_time};

/// The store alone, without HTTP: group commits of `settings.connections` pings (one per
/// monitor, as the writer makes them), back to back for a second. The ceiling the writer
/// can reach on this backend.
pub async fn store_ceiling(backend: &str, store: &dyn Store, settings: &Settings) -> u64 {
    let batch = settings.connections.min(settings.monitors);
    let mut known = Vec::new();
    for n in 0..batch {
        let slug = Slug::parse(&format!("job-{n:05}")).unwrap();
        known.push(store.get_monitor(&slug).await.unwrap().unwrap());
    }
    let ping = Ping::new(PingKind::Success, RunSource::Ping);
    let (started, cpu, mut pings) = (Instant::now(), cpu_time(), 0_u64);
    while started.elapsed() < Duration::from_secs(1) {
        let now = Utc::now();
        let writes: Vec<StateWrite> = known
            .iter()
            .map(|record| {
                let mut state = record.state.clone();
                let outcome = apply_ping(&record.spec, &mut state, &ping, now);
                StateWrite {
                    slug: record.spec.slug().clone(),
                    version: record.version,
                    next_check_at: state.next_check_at(&record.spec, now),
                    state,
                    outcome,
                    now,
                }
            })
            .collect();
        let results = store.apply_outcomes(&writes).await.unwrap();
        for ((record, write), version) in known.iter_mut().zip(writes).zip(results) {
            record.version = version.unwrap();
            record.state = write.state;
        }
        pings += batch as u64;
    }
    let elapsed = started.elapsed();
    let cpu = cpu
        .zip(cpu_time())
        .map(|(before, after)| after.saturating_sub(before));
    println!(
        "{backend:<9} store alone: {:.0} pings/s in group commits of {batch} ({:.2} ms each, \
         {} CPU µs/ping)",
        pings as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 * batch as f64 / pings as f64,
        cpu.map_or_else(
            || "-".to_owned(),
            |cpu| format!("{:.1}", cpu.as_secs_f64() * 1e6 / pings as f64)
        ),
    );
    pings
}
