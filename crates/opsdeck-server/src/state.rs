//! The state every handler and middleware can reach: configuration, the store, metrics,
//! the clock, this replica's identity and whether it leads the background loops; and the
//! HTTP cron job calls in flight ([`Firings`]), which shutdown waits for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use opsdeck_connectors::tenants::TenantSources;
use opsdeck_core::instance::InstanceInfo;
use opsdeck_core::{Clock, Store};
use tokio::sync::watch;

use crate::alerts::Dispatcher;
use crate::audit::{AuditSink, Checkpointer};
use crate::auth::TokenUsage;
use crate::auth::oidc::OidcVerifier;
use crate::config::Config;
use crate::cron::Firings;
use crate::cron::ingest::Ingest;
use crate::events::Events;
use crate::health::HealthMonitor;
use crate::metrics::Metrics;
use crate::queues::Queues;
use crate::ratelimit::RateLimits;

#[derive(Clone, Debug)]
pub struct AppState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: Config,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
    instance: InstanceInfo,
    leader: watch::Receiver<bool>,
    draining: AtomicBool,
    openapi_json: String,
    audit: AuditSink,
    checkpoints: Arc<Checkpointer>,
    token_usage: Arc<TokenUsage>,
    rate_limits: Arc<RateLimits>,
    oidc: Option<Arc<OidcVerifier>>,
    health: HealthMonitor,
    alerts: Dispatcher,
    ingest: Ingest,
    events: Events,
    queues: Queues,
    /// The application's database as a source of tenant facts (`[tenants]`).
    tenant_sources: TenantSources,
    firings: Firings,
    /// The last good read of the views served from the store, for an outage of it.
    last_good: crate::ops::LastGood,
}

/// Everything an [`AppState`] is made of.
#[derive(Debug)]
pub struct StateParts {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub metrics: Arc<Metrics>,
    pub clock: Arc<dyn Clock>,
    pub instance: InstanceInfo,
    pub leader: watch::Receiver<bool>,
    pub openapi_json: String,
    pub audit: AuditSink,
    /// Signs checkpoints of the audit log's head.
    pub checkpoints: Arc<Checkpointer>,
    pub token_usage: Arc<TokenUsage>,
    pub rate_limits: Arc<RateLimits>,
    /// The OIDC bearer token verifier, when `[auth.oidc]` is configured.
    pub oidc: Option<Arc<OidcVerifier>>,
    /// The health checks and their latest results.
    pub health: HealthMonitor,
    /// Raises alerts to the configured webhooks.
    pub alerts: Dispatcher,
    /// Commits pings and check-ins (SPEC §4).
    pub ingest: Ingest,
    /// Commits application events (SPEC §6).
    pub events: Events,
    /// The application's queue sources and what is known of them (SPEC §5).
    pub queues: Queues,
}

impl AppState {
    pub fn new(parts: StateParts) -> Self {
        let StateParts {
            config,
            store,
            metrics,
            clock,
            instance,
            leader,
            openapi_json,
            audit,
            checkpoints,
            token_usage,
            rate_limits,
            oidc,
            health,
            alerts,
            ingest,
            events,
            queues,
        } = parts;
        let tenant_sources = config.tenants.sources();
        Self {
            inner: Arc::new(Inner {
                config,
                store,
                metrics,
                clock,
                instance,
                leader,
                draining: AtomicBool::new(false),
                last_good: crate::ops::LastGood::default(),
                openapi_json,
                audit,
                checkpoints,
                token_usage,
                rate_limits,
                oidc,
                health,
                alerts,
                ingest,
                events,
                queues,
                tenant_sources,
                firings: Firings::default(),
            }),
        }
    }

    pub fn audit(&self) -> &AuditSink {
        &self.inner.audit
    }

    /// This replica's signed checkpoints of the audit log's head.
    pub fn checkpoints(&self) -> &Arc<Checkpointer> {
        &self.inner.checkpoints
    }

    pub fn token_usage(&self) -> &Arc<TokenUsage> {
        &self.inner.token_usage
    }

    /// The request budgets of this process (SPEC §2 rate limits).
    pub fn rate_limits(&self) -> &Arc<RateLimits> {
        &self.inner.rate_limits
    }

    /// The OIDC bearer token verifier; `None` when `[auth.oidc]` is not configured.
    pub fn oidc(&self) -> Option<&Arc<OidcVerifier>> {
        self.inner.oidc.as_ref()
    }

    /// The health checks and what each reports now (SPEC §3).
    pub fn health(&self) -> &HealthMonitor {
        &self.inner.health
    }

    /// Raises alerts: status changes sent to the configured webhooks (SPEC §4).
    pub fn alerts(&self) -> &Dispatcher {
        &self.inner.alerts
    }

    /// Commits pings and check-ins, group-committed by one writer (SPEC §4).
    pub fn ingest(&self) -> &Ingest {
        &self.inner.ingest
    }

    /// The application's queue sources and what is known of them (SPEC §5).
    pub fn events(&self) -> &Events {
        &self.inner.events
    }

    pub fn queues(&self) -> &Queues {
        &self.inner.queues
    }

    pub fn tenant_sources(&self) -> &TenantSources {
        &self.inner.tenant_sources
    }

    /// The HTTP cron job calls in flight on this replica, which shutdown waits for.
    /// The last good read of each view served from the store (SPEC §8).
    pub fn last_good(&self) -> &crate::ops::LastGood {
        &self.inner.last_good
    }

    pub fn firings(&self) -> &Firings {
        &self.inner.firings
    }

    /// Follows leadership changes: leader-only work that must start at once on gaining the
    /// lease waits on this.
    pub fn leader_watch(&self) -> watch::Receiver<bool> {
        self.inner.leader.clone()
    }

    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn instance(&self) -> &InstanceInfo {
        &self.inner.instance
    }

    /// Whether this replica currently holds the leader lease.
    pub fn is_leader(&self) -> bool {
        *self.inner.leader.borrow()
    }

    /// Set once shutdown begins: `/readyz` then answers 503 so load balancers stop sending.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::SeqCst)
    }

    /// The OpenAPI document, rendered once at start-up.
    pub fn openapi_json(&self) -> &str {
        &self.inner.openapi_json
    }
}
