//! [`HealthMonitor`]: the configured checks and what each reports now, in memory.
//!
//! The leader runs the probes (see `jobs.rs`) and records every result; other replicas
//! refresh their copy from the store. Whoever answers `/ops/health` reads memory only, so a
//! hung dependency can never slow it down.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use opsdeck_connectors::health::{Observation, ProbeContext};
use opsdeck_core::health::{
    CheckResult, Debounce, DebounceState, Status, StatusChange, aggregate, uptime,
};
use opsdeck_core::ids::CheckName;
use opsdeck_core::{Clock, Store, StoreResult};

use super::metrics::HealthMetrics;
use super::scrub::scrub;
use super::spec::CheckSpec;
use super::view::{CheckView, HealthSnapshot, PendingFlip, RecentResult};
use crate::metrics::Metrics;

/// How many results each check keeps in memory for sparklines.
pub const RECENT_RESULTS: usize = 30;

/// Called on every reported status change, a check's first result included (the listener
/// decides what is worth telling): the alert dispatcher listens here.
pub type ChangeHook = Arc<dyn Fn(&CheckSpec, &StatusChange) + Send + Sync>;

/// The configured checks and their latest state. Cheap to clone.
#[derive(Clone)]
pub struct HealthMonitor {
    inner: Arc<Inner>,
}

struct Inner {
    checks: Vec<Check>,
    index: HashMap<CheckName, usize>,
    debounce: Debounce,
    ctx: ProbeContext,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: HealthMetrics,
    hook: RwLock<Option<ChangeHook>>,
    /// Moves on every change to what a snapshot shows but the clock: a result, a status
    /// loaded from the store, a new uptime figure.
    generation: AtomicU64,
    /// The latest rendering of a snapshot (see [`HealthMonitor::rendered`]).
    rendered: Mutex<Option<Rendered>>,
}

/// A snapshot rendered (to the health document, by whoever answers `/ops/health`), kept to
/// answer again while nothing it shows has changed.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub status: Status,
    pub body: axum::body::Bytes,
    /// The snapshot's generation and the second it was taken in.
    generation: u64,
    second: i64,
}

struct Check {
    spec: CheckSpec,
    /// Held while a probe runs: a slow probe never has two runs in flight, whether the
    /// schedule or an operator's "run now" started them.
    running: tokio::sync::Mutex<()>,
    state: Mutex<CheckState>,
}

#[derive(Default)]
struct CheckState {
    debounce: DebounceState,
    latest: Option<CheckResult>,
    since: Option<DateTime<Utc>>,
    recent: VecDeque<RecentResult>,
    uptime_24h: Option<f64>,
}

impl std::fmt::Debug for HealthMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthMonitor")
            .field(
                "checks",
                &self
                    .inner
                    .checks
                    .iter()
                    .map(|c| c.spec.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl HealthMonitor {
    /// opsdeck's own database check first, then the configured ones in order. `store` is
    /// where results are recorded and the database the own check pings.
    pub fn new(
        configured: Vec<CheckSpec>,
        own_database_interval: Duration,
        flap_threshold: u32,
        ctx: ProbeContext,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: &Metrics,
    ) -> Self {
        let own = CheckSpec::own_database(store.clone(), own_database_interval);
        let checks: Vec<Check> = std::iter::once(own)
            .chain(configured)
            .map(|spec| Check {
                spec,
                running: tokio::sync::Mutex::new(()),
                state: Mutex::new(CheckState::default()),
            })
            .collect();
        let index = checks
            .iter()
            .enumerate()
            .map(|(i, check)| (check.spec.name.clone(), i))
            .collect();
        Self {
            inner: Arc::new(Inner {
                checks,
                index,
                debounce: Debounce::new(flap_threshold),
                store,
                ctx,
                clock,
                metrics: HealthMetrics::register(metrics),
                hook: RwLock::new(None),
                generation: AtomicU64::new(0),
                rendered: Mutex::new(None),
            }),
        }
    }

    /// Sets who hears about status flips.
    pub fn on_change(&self, hook: ChangeHook) {
        *self.inner.hook.write().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }

    pub fn specs(&self) -> impl Iterator<Item = &CheckSpec> {
        self.inner.checks.iter().map(|check| &check.spec)
    }

    pub fn spec(&self, name: &CheckName) -> Option<&CheckSpec> {
        self.check(name).map(|check| &check.spec)
    }

    fn check(&self, name: &CheckName) -> Option<&Check> {
        self.inner.index.get(name).map(|&i| &self.inner.checks[i])
    }

    /// Every check as shown now, and the overall status (SPEC §3).
    pub fn snapshot(&self) -> HealthSnapshot {
        // Read first: a change made while the views are taken moves it past this value, so
        // a rendering of this snapshot is never taken for a rendering of the newer state.
        let generation = self.inner.generation.load(Ordering::Acquire);
        let now = self.inner.clock.now();
        let checks: Vec<CheckView> = self
            .inner
            .checks
            .iter()
            .map(|check| view(check, now, self.inner.debounce))
            .collect();
        let status = overall_of(&checks);
        HealthSnapshot {
            status,
            at: now,
            checks,
            generation,
        }
    }

    /// The rendering of the latest snapshot kept by [`HealthMonitor::keep_rendered`], if
    /// nothing has changed since and it was taken in the current second (the one thing
    /// that moves with the clock alone, a result turning stale, is then at most a second
    /// late). `/ops/health` is asked for far more often than its answer changes.
    pub fn rendered(&self) -> Option<Rendered> {
        let second = self.inner.clock.now().timestamp();
        let generation = self.inner.generation.load(Ordering::Acquire);
        let kept = self
            .inner
            .rendered
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        kept.as_ref()
            .filter(|kept| kept.generation == generation && kept.second == second)
            .cloned()
    }

    /// Keeps `body`, the rendering of `snapshot`, for [`HealthMonitor::rendered`].
    pub fn keep_rendered(&self, snapshot: &HealthSnapshot, body: axum::body::Bytes) {
        *self
            .inner
            .rendered
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(Rendered {
            status: snapshot.status,
            body,
            generation: snapshot.generation,
            second: snapshot.at.timestamp(),
        });
    }

    /// Marks what snapshots show as changed.
    fn changed(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// One check as shown now.
    pub fn view(&self, name: &CheckName) -> Option<CheckView> {
        let now = self.inner.clock.now();
        self.check(name)
            .map(|check| view(check, now, self.inner.debounce))
    }

    /// Runs one check now and records the result; waits for a run already in flight to
    /// end first. `None` for an unknown check.
    pub async fn run_now(&self, name: &CheckName) -> Option<CheckView> {
        let index = *self.inner.index.get(name)?;
        self.run(index).await;
        self.view(name)
    }

    pub(super) fn len(&self) -> usize {
        self.inner.checks.len()
    }

    pub(super) fn spec_at(&self, index: usize) -> &CheckSpec {
        &self.inner.checks[index].spec
    }

    /// Runs the probe of check `index` within its timeout, then records what it found.
    pub(super) async fn run(&self, index: usize) {
        let check = &self.inner.checks[index];
        let _running = check.running.lock().await;
        let spec = &check.spec;
        let started = Instant::now();
        let observed =
            tokio::time::timeout(spec.timeout, spec.probe.observe(&self.inner.ctx)).await;
        let latency = started.elapsed();
        let observation = match observed {
            Ok(observation) => observation,
            Err(_) => Observation::fail(format!(
                "no answer within the timeout of {}",
                humantime::format_duration(spec.timeout)
            )),
        };
        let mut status = observation.status;
        let mut output = observation.output;
        if let Some(limit) = spec.warn_latency
            && status == Status::Pass
            && latency > limit
        {
            status = Status::Warn;
            output = Some(format!(
                "slow: answered in {} ms, above the warn_latency of {} ms",
                latency.as_millis(),
                limit.as_millis()
            ));
        }
        let result = CheckResult {
            name: spec.name.clone(),
            status,
            latency,
            observed_value: observation.observed_value,
            observed_unit: observation.observed_unit.map(str::to_owned),
            output: output.map(|text| scrub(&text, &spec.probe.describe().secrets)),
            at: self.inner.clock.now(),
        };
        self.record(check, result).await;
    }

    async fn record(&self, check: &Check, result: CheckResult) {
        self.inner.metrics.observe(&result);
        let change = {
            let mut state = check.state.lock().unwrap_or_else(|e| e.into_inner());
            let change = self.inner.debounce.observe(&mut state.debounce, &result);
            if let Some(change) = &change {
                state.since = Some(change.at);
            }
            push_recent(&mut state.recent, &result);
            state.latest = Some(result.clone());
            if let Some(reported) = state.debounce.reported() {
                self.inner
                    .metrics
                    .set_status(result.name.as_str(), reported);
            }
            change
        };
        self.changed();
        if let Err(err) = self
            .inner
            .store
            .record_check_result(&result, change.as_ref())
            .await
        {
            tracing::warn!(check = %result.name, error = %err, "could not record a health check result");
        }
        if let Some(change) = change {
            tracing::info!(
                check = %change.name,
                from = change.from.map(Status::as_str),
                to = change.to.as_str(),
                "health check status changed"
            );
            let hook = self
                .inner
                .hook
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some(hook) = hook {
                hook(&check.spec, &change);
            }
        }
    }

    /// Loads what the store knows: after a restart (so flips are neither re-reported nor
    /// lost) and, on replicas that do not run the probes, to follow the leader's results.
    pub async fn load_from_store(&self, latest_results: bool) -> StoreResult<()> {
        let changes = self.inner.store.latest_status_changes().await?;
        let results = if latest_results {
            self.inner.store.latest_check_results().await?
        } else {
            Vec::new()
        };
        for change in changes {
            let Some(check) = self.check(&change.name) else {
                continue;
            };
            let mut state = check.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.since.is_none_or(|since| since <= change.at) {
                state.debounce = DebounceState::resume(change.to);
                state.since = Some(change.at);
                self.inner
                    .metrics
                    .set_status(change.name.as_str(), change.to);
            }
        }
        for result in results {
            let Some(check) = self.check(&result.name) else {
                continue;
            };
            let mut state = check.state.lock().unwrap_or_else(|e| e.into_inner());
            if state
                .latest
                .as_ref()
                .is_none_or(|latest| latest.at < result.at)
            {
                push_recent(&mut state.recent, &result);
                state.latest = Some(result);
            }
        }
        self.changed();
        Ok(())
    }

    /// Recomputes each check's 24 h uptime from its stored status changes.
    pub async fn refresh_uptime(&self) -> StoreResult<()> {
        let now = self.inner.clock.now();
        let since = now - chrono::Duration::hours(24);
        for check in &self.inner.checks {
            let figure =
                window_uptime(self.inner.store.as_ref(), &check.spec.name, since, now).await?;
            check
                .state
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .uptime_24h = figure;
        }
        self.changed();
        Ok(())
    }

    pub(super) fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub(super) fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }
}

/// Uptime of one check over `[since, until)`, counting the status in effect at `since`.
pub(super) async fn window_uptime(
    store: &dyn Store,
    name: &CheckName,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> StoreResult<Option<f64>> {
    let mut changes: Vec<StatusChange> = store
        .status_change_before(name, since)
        .await?
        .into_iter()
        .collect();
    changes.extend(store.status_changes(name, since, until).await?);
    Ok(uptime(&changes, (since, until)))
}

fn push_recent(recent: &mut VecDeque<RecentResult>, result: &CheckResult) {
    if recent.back().is_some_and(|last| last.at >= result.at) {
        return;
    }
    if recent.len() == RECENT_RESULTS {
        recent.pop_front();
    }
    recent.push_back(RecentResult {
        at: result.at,
        status: result.status,
        latency_ms: result.latency.as_secs_f64() * 1000.0,
    });
}

fn view(check: &Check, now: DateTime<Utc>, debounce: Debounce) -> CheckView {
    let spec = &check.spec;
    let state = check.state.lock().unwrap_or_else(|e| e.into_inner());
    let latest = state.latest.as_ref();
    // Three missed runs (and their timeouts) before a result counts as stale.
    let allowed = (spec.interval + spec.timeout) * 3;
    let stale =
        latest.is_some_and(|result| (now - result.at).to_std().is_ok_and(|age| age > allowed));
    let described = spec.probe.describe();
    let (observed_value, observed_unit) = match latest {
        Some(result) if result.observed_value.is_some() => {
            (result.observed_value, result.observed_unit.clone())
        }
        Some(result) => (
            Some((result.latency.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0),
            Some("ms".to_owned()),
        ),
        None => (None, None),
    };
    CheckView {
        name: spec.name.clone(),
        kind: described.kind,
        target: described.target,
        critical: spec.critical,
        component_type: described.component_type,
        measurement: described.measurement,
        interval: spec.interval,
        status: state.debounce.reported(),
        latest_status: latest.map(|r| r.status),
        latency_ms: latest.map(|r| r.latency.as_secs_f64() * 1000.0),
        observed_value,
        observed_unit,
        output: latest.and_then(|r| r.output.clone()),
        pending: pending(state.debounce, latest, debounce),
        checked_at: latest.map(|r| r.at),
        since: state.since,
        uptime_24h: state.uptime_24h,
        stale,
        recent: state.recent.iter().copied().collect(),
    }
}

/// The flip the damping holds back, if the latest result differs from what is reported.
fn pending(
    state: DebounceState,
    latest: Option<&CheckResult>,
    debounce: Debounce,
) -> Option<PendingFlip> {
    let (reported, latest) = (state.reported()?, latest?.status);
    (reported != latest).then(|| PendingFlip {
        to: latest,
        results: state.streak(),
        needed: debounce.threshold(),
    })
}

/// SPEC §3 aggregation over what is shown: a critical check failing fails the service.
fn overall_of(checks: &[CheckView]) -> Status {
    aggregate(
        checks
            .iter()
            .map(|check| (check.effective_status(), check.critical)),
    )
}
