//! The cron families on `/metrics` (issue 5 item 10): per monitor its status, last success,
//! last duration, next expected run and failure streak, and its stored runs by status.
//!
//! Unlike the health families, these are not kept up to date by the code that changes
//! them: pings are committed by the ingest writer of whichever replica received them, and
//! the evaluator runs on the leader only, so no replica sees every change. The values are
//! read from the store at scrape time instead ([`CronMetrics::refresh`]), which every
//! replica shares, so every replica answers the same and a deleted monitor simply stops
//! being listed. Reading is bounded three ways:
//!
//! - **Cached** for [`CACHE_TTL`]: a storm of scrapes (several Prometheus servers, a
//!   dashboard polling) costs one pair of queries, and scrapes wait on one another
//!   rather than each querying (single flight).
//! - **Timed out** after [`FETCH_TIMEOUT`]: a slow database must not hang `/metrics`,
//!   which also carries the figures needed to diagnose it. The last values are served
//!   and `opsdeck_cron_metrics_refresh_errors` counts the miss.
//! - **Forgotten** after [`MAX_STALE`]: values that old would show a monitor `up` long
//!   after anyone could know; its series then disappear, which `absent()` alerts notice.
//!
//! The status of each monitor is derived exactly as `/ops/cron` derives it, through
//! [`MonitorView::new`], so the dashboard, the API and Prometheus never disagree.
//!
//! Series per monitor are capped (`[metrics] cron_monitor_series`, the first monitors by
//! slug): with a hundred thousand monitors a scrape would otherwise be tens of megabytes,
//! and so would the server's memory while it renders one. The counts by status
//! (`opsdeck_cron_monitors`, from the same aggregate as the Cron page's counts) always cover
//! every monitor, `opsdeck_cron_monitor_series_omitted` says how many have no series, and
//! the run counts (`opsdeck_cron_runs`) are read only while no monitor is left out.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_core::cron::{MonitorCounts, MonitorFilter, MonitorStatus, RunCount};
use opsdeck_core::{Clock, Store};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

use super::gauge_family as family;

use crate::ops::cron::MonitorView;

/// How long values read from the store are served before the next scrape reads again.
pub const CACHE_TTL: Duration = Duration::from_secs(3);
/// The longest a scrape waits for the store (and for a refresh another scrape started).
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Values older than this are not served at all.
pub const MAX_STALE: Duration = Duration::from_secs(300);

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefreshErrorLabels {
    reason: &'static str,
}

/// One monitor's figures, as of the last refresh.
#[derive(Debug, Clone, PartialEq)]
struct MonitorFigures {
    slug: String,
    status: String,
    last_success: Option<f64>,
    last_duration: Option<f64>,
    next_expected: Option<f64>,
    failure_streak: u32,
}

impl MonitorFigures {
    fn of(view: &MonitorView) -> Self {
        let seconds = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_millis() as f64 / 1000.0);
        Self {
            slug: view.slug.clone(),
            status: view.status.clone(),
            last_success: seconds(view.last_success_at),
            last_duration: view
                .last_run
                .as_ref()
                .and_then(|run| run.duration_ms)
                .map(|ms| ms as f64 / 1000.0),
            next_expected: seconds(view.next_expected_at),
            failure_streak: view.failure_streak,
        }
    }
}

/// What the store said at one refresh.
#[derive(Debug, Default)]
struct Snapshot {
    /// The monitors with series of their own.
    monitors: Vec<MonitorFigures>,
    /// Every monitor, by status.
    counts: MonitorCounts,
    runs: Vec<RunCount>,
    /// When it was read; `None` before the first successful refresh.
    read_at: Option<Instant>,
}

impl Snapshot {
    fn is_servable(&self) -> bool {
        self.read_at.is_some_and(|at| at.elapsed() <= MAX_STALE)
    }
}

/// The values the collector renders, shared between it and [`CronMetrics`].
type Shared = Arc<Mutex<Arc<Snapshot>>>;

/// The cron families: a collector in the registry renders the last values read, and
/// [`CronMetrics::refresh`] reads new ones before a scrape renders.
#[derive(Debug)]
pub struct CronMetrics {
    values: Shared,
    /// The most monitors with series of their own.
    series_limit: u32,
    /// When a refresh was last attempted; held while one runs, so scrapes that arrive
    /// meanwhile wait for its result instead of querying too.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
    refresh_errors: Family<RefreshErrorLabels, Counter>,
}

impl CronMetrics {
    pub(super) fn register(registry: &mut Registry, series_limit: u32) -> Self {
        let values = Shared::default();
        registry.register_collector(Box::new(CronCollector {
            values: values.clone(),
        }));
        let refresh_errors = Family::<RefreshErrorLabels, Counter>::default();
        registry.register(
            "opsdeck_cron_metrics_refresh_errors",
            "Scrapes that served older cron monitor values (or none) because reading them \
             from the database timed out or failed, by reason",
            refresh_errors.clone(),
        );
        Self {
            values,
            series_limit,
            last_attempt: tokio::sync::Mutex::new(None),
            refresh_errors,
        }
    }

    /// Reads the monitors and run counts from the store unless a refresh was attempted
    /// within [`CACHE_TTL`]; on a timeout or an error the previous values stay.
    pub async fn refresh(&self, store: &dyn Store, clock: &dyn Clock) {
        let Ok(mut last_attempt) =
            tokio::time::timeout(FETCH_TIMEOUT, self.last_attempt.lock()).await
        else {
            // Another scrape's refresh is stuck on the database: it counts its own miss.
            return;
        };
        if last_attempt.is_some_and(|at| at.elapsed() < CACHE_TTL) {
            return;
        }
        let read = tokio::time::timeout(FETCH_TIMEOUT, read(store, clock, self.series_limit)).await;
        *last_attempt = Some(Instant::now());
        let reason = match read {
            Ok(Ok(snapshot)) => {
                *self.values.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(snapshot);
                return;
            }
            Ok(Err(err)) => {
                tracing::warn!(
                    target: "opsdeck::metrics",
                    error = %crate::error::chain(&err),
                    "could not read the cron monitors for /metrics; serving the previous values"
                );
                "error"
            }
            Err(_) => {
                tracing::warn!(
                    target: "opsdeck::metrics",
                    timeout_ms = FETCH_TIMEOUT.as_millis() as u64,
                    "reading the cron monitors for /metrics timed out; serving the previous values"
                );
                "timeout"
            }
        };
        self.refresh_errors
            .get_or_create(&RefreshErrorLabels { reason })
            .inc();
    }
}

/// Monitors read per query while refreshing: the figures are kept, each page's records are
/// dropped before the next is read.
const READ_PAGE: u32 = 500;

async fn read(
    store: &dyn Store,
    clock: &dyn Clock,
    limit: u32,
) -> Result<Snapshot, opsdeck_core::StoreError> {
    let all = MonitorFilter::default();
    let (counts, monitors) = tokio::join!(
        store.count_monitors(&all),
        read_figures(store, clock, limit)
    );
    let (counts, monitors) = (counts?, monitors?);
    // Run counts come per monitor and status from one query over every monitor: only
    // while every monitor has its series.
    let runs = if counts.total() <= monitors.len() as u64 {
        store.count_runs().await?
    } else {
        Vec::new()
    };
    Ok(Snapshot {
        monitors,
        counts,
        runs,
        read_at: Some(Instant::now()),
    })
}

/// The figures of the first `limit` monitors by slug, a page of records at a time.
async fn read_figures(
    store: &dyn Store,
    clock: &dyn Clock,
    limit: u32,
) -> Result<Vec<MonitorFigures>, opsdeck_core::StoreError> {
    let all = MonitorFilter::default();
    let mut figures = Vec::new();
    let mut after = None;
    while let Some(left) = limit
        .checked_sub(figures.len() as u32)
        .filter(|left| *left > 0)
    {
        let page = store
            .list_monitors(&all, after.as_ref(), READ_PAGE.min(left))
            .await?;
        let now = clock.now();
        figures.extend(
            page.monitors
                .iter()
                .map(|record| MonitorFigures::of(&MonitorView::new(record, now))),
        );
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    Ok(figures)
}

/// Renders the last snapshot at every scrape.
#[derive(Debug)]
struct CronCollector {
    values: Shared,
}

/// The label set of a per-monitor series.
fn monitor(figures: &MonitorFigures) -> [(&'static str, &str); 1] {
    [("monitor", figures.slug.as_str())]
}

impl Collector for CronCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshot = self
            .values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let empty = Snapshot::default();
        let snapshot = if snapshot.is_servable() {
            &snapshot
        } else {
            &empty
        };
        let monitors = &snapshot.monitors;
        if snapshot.read_at.is_some() {
            family(
                &mut encoder,
                "opsdeck_cron_monitors",
                "Cron monitors by the status they show now, every monitor counted",
                MonitorStatus::ALL.iter().map(|status| {
                    (
                        [("status", status.as_str())],
                        snapshot.counts.get(*status) as f64,
                    )
                }),
            )?;
            family(
                &mut encoder,
                "opsdeck_cron_monitor_series_omitted",
                "Cron monitors without series of their own, past [metrics] \
                 cron_monitor_series (the first monitors by slug have them)",
                [(
                    [] as [(&str, &str); 0],
                    snapshot
                        .counts
                        .total()
                        .saturating_sub(monitors.len() as u64) as f64,
                )],
            )?;
        }
        family(
            &mut encoder,
            "opsdeck_cron_monitor_status",
            "1 for the status each cron monitor shows now (new, up, running, late, down, \
             paused), 0 for the others",
            monitors.iter().flat_map(|m| {
                MonitorStatus::ALL.iter().map(move |status| {
                    let labels = [("monitor", m.slug.as_str()), ("status", status.as_str())];
                    (labels, f64::from(u8::from(m.status == status.as_str())))
                })
            }),
        )?;
        family(
            &mut encoder,
            "opsdeck_cron_monitor_up",
            "0 while a cron monitor is down (failed, missed or timed out past its threshold), \
             1 otherwise: new, up, running, late and paused monitors page nobody",
            monitors.iter().map(|m| {
                let up = m.status != MonitorStatus::Down.as_str();
                (monitor(m), f64::from(u8::from(up)))
            }),
        )?;
        family(
            &mut encoder,
            "opsdeck_cron_last_success_timestamp_seconds",
            "When each cron monitor's latest successful run finished, in Unix seconds \
             (absent: no success yet)",
            monitors
                .iter()
                .filter_map(|m| Some((monitor(m), m.last_success?))),
        )?;
        family(
            &mut encoder,
            "opsdeck_cron_last_duration_seconds",
            "How long each cron monitor's latest finished run took (absent: unknown, e.g. a \
             missed run or a finish without a start)",
            monitors
                .iter()
                .filter_map(|m| Some((monitor(m), m.last_duration?))),
        )?;
        family(
            &mut encoder,
            "opsdeck_cron_next_expected_timestamp_seconds",
            "When each cron monitor next expects its job, in Unix seconds (absent: nothing \
             expected yet, or paused)",
            monitors
                .iter()
                .filter_map(|m| Some((monitor(m), m.next_expected?))),
        )?;
        family(
            &mut encoder,
            "opsdeck_cron_failure_streak",
            "Consecutive failed, missed or timed-out runs of each cron monitor",
            monitors
                .iter()
                .map(|m| (monitor(m), f64::from(m.failure_streak))),
        )?;
        family(
            &mut encoder,
            "opsdeck_cron_runs",
            "Runs of each cron monitor stored now, by status. A gauge, not a counter: run \
             retention deletes old runs, so it goes down as well as up",
            snapshot.runs.iter().map(|count| {
                let labels = [
                    ("monitor", count.slug.as_str()),
                    ("status", count.status.as_str()),
                ];
                (labels, count.count as f64)
            }),
        )?;
        Ok(())
    }
}
