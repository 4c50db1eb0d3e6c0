//! Prometheus metrics, held in a registry per application (no globals, so every test app
//! counts only its own requests). Areas register their families here; `/metrics` renders
//! the registry in the Prometheus text format. Families whose values live in the database
//! (cron monitors, see `cron`) are read at scrape time: `/metrics` calls
//! [`Metrics::refresh`] before [`Metrics::render`].

mod cron;
mod process;
mod queues;

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use self::cron::CronMetrics;
pub use self::queues::QueueCollector;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoopLabels {
    r#loop: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LoopOutcomeLabels {
    r#loop: String,
    outcome: &'static str,
}

/// The outcome of one background tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickOutcome {
    Ok,
    Error,
    Timeout,
}

impl TickOutcome {
    fn as_str(self) -> &'static str {
        match self {
            TickOutcome::Ok => "ok",
            TickOutcome::Error => "error",
            TickOutcome::Timeout => "timeout",
        }
    }
}

#[derive(Debug)]
pub struct Metrics {
    registry: Mutex<Registry>,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<HttpLabels, Histogram>,
    loop_runs: Family<LoopOutcomeLabels, Counter>,
    loop_duration: Family<LoopLabels, Histogram>,
    leader: Gauge,
    cron: CronMetrics,
}

const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Metrics {
    /// The registry of one application; at most `cron_monitor_series` cron monitors get
    /// series of their own (`[metrics] cron_monitor_series`).
    pub fn new(version: &str, cron_monitor_series: u32) -> Self {
        let mut registry = Registry::default();
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "opsdeck_http_requests",
            "HTTP requests served, by method, route template and status",
            http_requests.clone(),
        );
        let http_duration = Family::<HttpLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "opsdeck_http_request_duration_seconds",
            "HTTP request latency, by method, route template and status",
            http_duration.clone(),
        );
        let loop_runs = Family::<LoopOutcomeLabels, Counter>::default();
        registry.register(
            "opsdeck_background_runs",
            "Background loop ticks run on this replica, by loop and outcome",
            loop_runs.clone(),
        );
        let loop_duration = Family::<LoopLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "opsdeck_background_run_duration_seconds",
            "Background loop tick duration on this replica",
            loop_duration.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "opsdeck_leader",
            "1 while this replica holds the leader lease and runs leader-only loops",
            leader.clone(),
        );
        registry.register(
            "opsdeck_build",
            "opsdeck build information",
            Info::new(vec![("version".to_owned(), version.to_owned())]),
        );
        registry.register_collector(Box::new(process::ProcessCollector::new()));
        let cron = CronMetrics::register(&mut registry, cron_monitor_series);
        Self {
            registry: Mutex::new(registry),
            http_requests,
            http_duration,
            loop_runs,
            loop_duration,
            leader,
            cron,
        }
    }

    /// Reads the families whose values live in the database (cron monitors), within a
    /// short timeout and at most once per few seconds however often it is called; call
    /// it before [`Metrics::render`] at each scrape.
    pub async fn refresh(&self, store: &dyn opsdeck_core::Store, clock: &dyn opsdeck_core::Clock) {
        self.cron.refresh(store, clock).await;
    }

    pub fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels = HttpLabels {
            method: method.to_owned(),
            route: route.to_owned(),
            status,
        };
        self.http_duration
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
        self.http_requests.get_or_create(&labels).inc();
    }

    pub fn observe_tick(&self, name: &str, outcome: TickOutcome, elapsed: Duration) {
        self.loop_runs
            .get_or_create(&LoopOutcomeLabels {
                r#loop: name.to_owned(),
                outcome: outcome.as_str(),
            })
            .inc();
        self.loop_duration
            .get_or_create(&LoopLabels {
                r#loop: name.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Lets an area add its own families (health checks, cron monitors, queues).
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        self.registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .register(name, help, metric);
    }

    /// Lets an area add a collector whose families it reads at scrape time (queues).
    pub fn register_collector(&self, collector: Box<dyn prometheus_client::collector::Collector>) {
        self.registry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .register_collector(collector);
    }

    /// The registry in the Prometheus text exposition format (version 0.0.4).
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        let registry = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

/// Encodes one gauge family of samples read at scrape time.
fn gauge_family<L: EncodeLabelSet>(
    encoder: &mut prometheus_client::encoding::DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, f64)>,
) -> Result<(), std::fmt::Error> {
    use prometheus_client::encoding::EncodeMetric as _;
    let mut metric = encoder.encode_descriptor(
        name,
        help,
        None,
        prometheus_client::metrics::MetricType::Gauge,
    )?;
    for (labels, value) in samples {
        prometheus_client::metrics::gauge::ConstGauge::new(value)
            .encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}
