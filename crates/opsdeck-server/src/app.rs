//! Building and running the application: connect the store (migrating it), bind the
//! listener, assemble the router with its middleware, start the background loops, and shut
//! everything down in order when told to.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::response::IntoResponse;
use opsdeck_connectors::health::ProbeContext;
use opsdeck_core::instance::InstanceInfo;
use opsdeck_core::{Clock, SystemClock};
use opsdeck_store::{DatabaseUrl, PoolSettings};
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

use crate::alerts::{AlertWorkers, Dispatcher};
use crate::audit::{AuditSink, AuditWriter, CheckpointJob, Checkpointer};
use crate::auth::oidc::{JwksRefreshJob, OidcVerifier};
use crate::auth::{TokenUsage, TokenUsageFlushJob};
use crate::background::{
    Background, HeartbeatJob, LeaderElector, LoopSpec, PruneReplicasJob, Scope,
};
use crate::config::Config;
use crate::cron::ingest::{Ingest, IngestLimits, IngestWriter};
use crate::error::ApiError;
use crate::events::{Events, EventsWriter};
use crate::health::{HealthMonitor, spawn_health_loops};
use crate::metrics::Metrics;
use crate::middleware::{access_log, envelope, outage, request_id};
use crate::ops::impersonation::keys::RotateSigningKeysJob;
use crate::queues::Queues;
use crate::ratelimit::{RateLimitSweepJob, RateLimits};
use crate::router::route_table;
use crate::state::{AppState, StateParts};
use opsdeck_core::alert::AlertEvent;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What the caller may inject besides the configuration.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    pub clock: Arc<dyn Clock>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
        }
    }
}

/// A built application: the store is migrated and the listener bound, nothing runs yet.
#[derive(Debug)]
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    elector: LeaderElector,
    audit_writer: AuditWriter,
    background: Background,
    alert_workers: AlertWorkers,
    ingest_writer: IngestWriter,
    events_writer: EventsWriter,
}

impl Application {
    /// Builds the application and binds `server.listen`, last.
    pub async fn build(config: Config, options: BuildOptions) -> anyhow::Result<Self> {
        Self::assemble(config, None, options).await
    }

    /// Like [`Application::build`], on a `listener` bound already (see
    /// [`Application::bind`]): for a caller whose configuration must name the address it
    /// really listens on before the application is built, such as the demo's probes of
    /// itself on port 0. `server.listen` becomes the listener's address.
    pub async fn build_on(
        mut config: Config,
        listener: TcpListener,
        options: BuildOptions,
    ) -> anyhow::Result<Self> {
        config.server.listen = listener
            .local_addr()
            .context("reading the listener's address")?;
        Self::assemble(config, Some(listener), options).await
    }

    /// Binds `addr` the way [`Application::build`] binds `server.listen`.
    pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
        TcpListener::bind(addr).await.with_context(|| {
            format!("could not listen on {addr}: is another process using it? Set server.listen or OPSDECK_LISTEN")
        })
    }

    async fn assemble(
        config: Config,
        listener: Option<TcpListener>,
        options: BuildOptions,
    ) -> anyhow::Result<Self> {
        let url = DatabaseUrl::parse(config.database.url.expose())?;
        let pool = PoolSettings {
            max_connections: config.database.max_connections,
            acquire_timeout: config.database.acquire_timeout,
        };
        let store = opsdeck_store::connect(&url, &pool).await?;
        tracing::info!(database = %url, backend = store.backend().as_str(), "database ready");

        let clock = options.clock;
        let metrics = Arc::new(Metrics::new(VERSION, config.metrics.cron_monitor_series));
        let instance = InstanceInfo {
            id: uuid::Uuid::now_v7(),
            hostname: hostname(),
            version: VERSION.to_owned(),
            started_at: clock.now(),
        };
        let (elector, leader) = LeaderElector::new(
            store.clone(),
            clock.clone(),
            metrics.clone(),
            instance.id.to_string(),
            config.background.leader_lease,
            config.background.leader_renew_interval(),
        );
        let (routes, openapi, _) = route_table().into_parts();
        let openapi_json = openapi
            .to_json()
            .context("rendering the OpenAPI document")?;
        let listen = config.server.listen;
        let background = Background::new(leader.clone(), metrics.clone());
        let spool = crate::audit::Spool::open(&config.audit.spool_file).with_context(|| {
            format!(
                "opening the audit spool {}",
                config.audit.spool_file.display()
            )
        })?;
        if spool.pending() > 0 {
            tracing::warn!(records = spool.pending(), file = %config.audit.spool_file.display(), "audit records spooled during an earlier outage will be appended to the log");
        }
        let (audit, audit_writer) = AuditSink::new(store.clone(), Some(spool));
        let checkpoints = Arc::new(Checkpointer::new(
            &config.audit,
            store.clone(),
            clock.clone(),
        )?);
        let rate_limits = Arc::new(RateLimits::new(&config.rate_limit));
        let oidc = OidcVerifier::from_config(&config.auth.oidc)
            .await?
            .map(Arc::new);
        let (alerts, alert_workers) = Dispatcher::new(
            store.clone(),
            &config.alerts,
            alert_http_client()?,
            clock.clone(),
            &metrics,
        );
        crate::cron::sync_config(store.as_ref(), clock.as_ref(), &config.cron)
            .await
            .context("creating the cron monitors of the configuration")?;
        let limits = IngestLimits::of(&config.cron);
        let (ingest, ingest_writer) = Ingest::new(store.clone(), alerts.clone(), &metrics, limits);
        let (events, events_writer) = Events::new(store.clone(), &config.events, &metrics);
        let queues = Queues::new(&config.queues, store.clone(), clock.clone())?;
        // Start from what the last poll found, so the view is not empty until the next one.
        if let Err(err) = queues.refresh().await {
            tracing::warn!(error = %err, "could not load the stored queue view");
        }
        metrics.register_collector(Box::new(crate::metrics::QueueCollector(queues.clone())));
        let health = build_health(&config, &store, &clock, &metrics, instance.id, &queues)?;
        {
            let alerts = alerts.clone();
            health.on_change(Arc::new(move |_spec, change| {
                if let Some(event) = AlertEvent::for_check(change) {
                    alerts.notify(event);
                }
            }));
        }
        // Carry on from the stored state: a restart neither re-reports a flip nor shows
        // "no result yet" for checks that have results.
        if let Err(err) = health.load_from_store(true).await {
            tracing::warn!(error = %err, "could not load the stored health check state");
        }
        if let Err(err) = health.refresh_uptime().await {
            tracing::warn!(error = %err, "could not compute health check uptime");
        }
        let token_usage = Arc::new(TokenUsage::with_outage_grace(config.auth.outage_grace));
        let state = AppState::new(StateParts {
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
        });
        let router = finish_router(routes, state.clone());
        let listener = match listener {
            Some(listener) => listener,
            None => Self::bind(listen).await?,
        };
        Ok(Self {
            listener,
            router,
            state,
            elector,
            audit_writer,
            background,
            alert_workers,
            ingest_writer,
            events_writer,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting, lets in-flight requests and
    /// HTTP cron job calls finish (for at most `server.shutdown_grace` from the signal; calls
    /// still going then are recorded as failed runs), commits the queued pings, stops the
    /// background loops, releases the leader lease, commits the queued audit entries, signs a
    /// checkpoint of the audit log's head and closes the database.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            router,
            state,
            elector,
            audit_writer,
            background,
            alert_workers,
            ingest_writer,
            events_writer,
        } = self;
        start_loops(&state, &background, elector);
        alert_workers.spawn(&background, state.leader_watch());
        // The audit writer drains its queue after the loops are told to stop, so every
        // request that was answered is also on the chain.
        let audit_stop = tokio_util::sync::CancellationToken::new();
        let audit_task = tokio::spawn(audit_writer.run(audit_stop.clone()));
        // Pings are answered once committed: the writer outlives the server, and commits
        // what is still queued before the loops (and the alert recorder) stop.
        let ingest_stop = tokio_util::sync::CancellationToken::new();
        let ingest_task = ingest_writer.spawn(ingest_stop.clone());
        let events_task = events_writer.spawn(ingest_stop.clone());

        let stopping = Arc::new(tokio::sync::Notify::new());
        let began = Arc::new(std::sync::OnceLock::new());
        let signal = {
            let state = state.clone();
            let stopping = stopping.clone();
            let began = began.clone();
            async move {
                shutdown.await;
                began.get_or_init(tokio::time::Instant::now);
                state.start_draining();
                tracing::info!("shutting down: no new connections, finishing in-flight requests");
                stopping.notify_one();
            }
        };
        let limits = crate::serve::Limits::of(&state.config().server);
        let mut server = tokio::spawn(crate::serve::serve(listener, router, limits, signal));
        let grace = state.config().server.shutdown_grace;
        tokio::select! {
            result = &mut server => result.context("server task")?.context("serving HTTP")?,
            () = async { stopping.notified().await; tokio::time::sleep(grace).await } => {
                tracing::warn!(grace_ms = grace.as_millis() as u64, "in-flight requests did not finish in time; closing them");
                server.abort();
            }
        }
        // HTTP cron job calls record their end through the ping writer: they finish (or are
        // abandoned, within the same grace as requests) before it stops.
        let began = began
            .get()
            .copied()
            .unwrap_or_else(tokio::time::Instant::now);
        state.firings().drain(began + grace).await;
        ingest_stop.cancel();
        if let Err(err) = ingest_task.await {
            tracing::error!(error = %err, "ping ingest writer task failed");
        }
        if let Err(err) = events_task.await {
            tracing::error!(error = %err, "event ingest writer task failed");
        }
        background.shutdown().await;
        if let Err(err) = state.token_usage().flush(state.store().as_ref()).await {
            tracing::warn!(error = %err, "could not record token last-use times at shutdown");
        }
        audit_stop.cancel();
        if let Err(err) = audit_task.await {
            tracing::error!(error = %err, "audit writer task failed");
        }
        // Every replica, leader or not: the entries it just committed are then anchored
        // even if no leader is left to make the next periodic checkpoint.
        if let Err(err) = state.checkpoints().make().await {
            tracing::warn!(
                error = format!("{err:#}"),
                "no audit checkpoint at shutdown"
            );
        }
        state.store().close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

fn start_loops(state: &AppState, background: &Background, elector: LeaderElector) {
    let config = &state.config().background;
    background.spawn_task(elector.run(background.cancellation()));
    background.spawn_task(crate::background::database_probe::run(
        state.store().clone(),
        background.cancellation(),
    ));
    background.spawn(
        LoopSpec {
            name: "token_usage_flush",
            interval: Duration::from_secs(10),
            jitter: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
            scope: Scope::EveryReplica,
        },
        Arc::new(TokenUsageFlushJob {
            usage: state.token_usage().clone(),
            store: state.store().clone(),
        }),
    );
    // Without it, every principal, address and key ever seen would stay in memory.
    background.spawn(
        LoopSpec {
            name: "rate_limit_sweep",
            interval: Duration::from_secs(60),
            jitter: Duration::from_secs(5),
            timeout: Duration::from_secs(10),
            scope: Scope::EveryReplica,
        },
        Arc::new(RateLimitSweepJob {
            limits: state.rate_limits().clone(),
        }),
    );
    if let Some(verifier) = state.oidc() {
        let refresh = state.config().auth.oidc.jwks_refresh;
        background.spawn(
            LoopSpec {
                name: "oidc_jwks_refresh",
                interval: refresh,
                jitter: refresh / 10,
                timeout: Duration::from_secs(10),
                scope: Scope::EveryReplica,
            },
            Arc::new(JwksRefreshJob {
                verifier: verifier.clone(),
                interval: refresh,
            }),
        );
    }
    crate::cron::spawn_cron_loops(state, background);
    crate::queues::spawn_queue_loops(state.queues(), background);
    crate::events::spawn_event_loops(state, background);
    spawn_health_loops(
        state.health(),
        &state.config().health,
        background,
        state.leader_watch(),
    );
    let checkpoint_every = state.config().audit.checkpoint_interval;
    background.spawn(
        LoopSpec {
            name: "audit_checkpoint",
            interval: checkpoint_every,
            jitter: checkpoint_every / 10,
            // Reading the head, a file append and a webhook call of at most 10 s.
            timeout: Duration::from_secs(30),
            scope: Scope::Leader,
        },
        Arc::new(CheckpointJob {
            checkpointer: state.checkpoints().clone(),
        }),
    );
    let impersonation = &state.config().impersonation;
    if impersonation.enabled {
        background.spawn(
            LoopSpec {
                name: "impersonation_key_rotation",
                interval: RotateSigningKeysJob::interval(impersonation),
                jitter: Duration::from_secs(5),
                timeout: Duration::from_secs(30),
                scope: Scope::Leader,
            },
            Arc::new(RotateSigningKeysJob {
                store: state.store().clone(),
                clock: state.clock().clone(),
                config: impersonation.clone(),
            }),
        );
    }
    let heartbeat = config.heartbeat_interval;
    background.spawn(
        LoopSpec {
            name: "replica_heartbeat",
            interval: heartbeat,
            jitter: heartbeat / 10,
            timeout: heartbeat,
            scope: Scope::EveryReplica,
        },
        Arc::new(HeartbeatJob {
            store: state.store().clone(),
            clock: state.clock().clone(),
            instance: state.instance().clone(),
        }),
    );
    background.spawn(
        LoopSpec {
            name: "replica_prune",
            interval: heartbeat,
            jitter: heartbeat / 10,
            timeout: heartbeat,
            scope: Scope::Leader,
        },
        Arc::new(PruneReplicasJob {
            store: state.store().clone(),
            clock: state.clock().clone(),
            retention: config.instance_retention,
        }),
    );
}

/// Wraps routes in the middleware every request passes through and the fallbacks that
/// answer unknown routes and methods with the error envelope. Public so tests can serve
/// their own routes behind exactly the production stack.
pub fn finish_router(routes: Router<AppState>, state: AppState) -> Router {
    let server = &state.config().server;
    routes
        .fallback(|| async { ApiError::not_found("no such route").into_response() })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not accept that method",
            )
            .into_response()
        })
        .layer(DefaultBodyLimit::max(server.body_limit))
        .layer(RequestBodyTimeoutLayer::new(server.body_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            server.request_timeout,
        ))
        .layer(CatchPanicLayer::new())
        .layer(from_fn_with_state(state.clone(), crate::auth::authenticate))
        .layer(from_fn_with_state(state.clone(), outage::guard))
        .layer(from_fn(envelope::ensure))
        .layer(from_fn_with_state(state.clone(), access_log::record))
        .layer(from_fn(request_id::assign))
        .with_state(state)
}

/// The health monitor of the configured checks, its state restored from the store.
fn build_health(
    config: &Config,
    store: &Arc<dyn opsdeck_core::Store>,
    clock: &Arc<dyn Clock>,
    metrics: &Arc<Metrics>,
    instance_id: uuid::Uuid,
    queues: &Queues,
) -> anyhow::Result<HealthMonitor> {
    let mut specs = config.health.specs().map_err(|problems| {
        // Loading validated them; this only guards configurations built in code.
        anyhow::anyhow!(
            "invalid health checks: {}",
            problems
                .iter()
                .map(|(key, message)| format!("health.{key}: {message}"))
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    for check in crate::queues::threshold_checks(queues, &config.queues.thresholds)? {
        if specs.iter().any(|s| s.name == check.name) {
            anyhow::bail!(
                "the queue threshold check \"{}\" has the name of a [[health.checks]] entry; give it another `name`",
                check.name
            );
        }
        specs.push(check);
    }
    let http = reqwest::Client::builder()
        .user_agent(concat!("opsdeck-health/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the HTTP client of the health probes")?;
    let ctx = ProbeContext { http, instance_id };
    Ok(HealthMonitor::new(
        specs,
        config.health.own_database_interval,
        config.health.flap_threshold,
        ctx,
        store.clone(),
        clock.clone(),
        metrics,
    ))
}

/// The client of the alert webhooks. Redirects are not followed: a redirected POST would
/// arrive as a GET, so a 3xx counts as a failed attempt.
fn alert_http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the HTTP client of the alert webhooks")
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned())
}
