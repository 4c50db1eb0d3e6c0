//! The one integration-test binary of the workspace: store contract suite on both backends,
//! the HTTP server in-process and as real processes, configuration and the CLI.

mod support;

mod access;
mod alerts;
mod audit_checkpoints;
mod audit_log;
mod cli;
mod config;
mod counterparts;
mod crash;
mod cron_cli;
mod cron_list;
mod cron_metrics;
mod cron_ops;
mod cron_restart;
mod cron_scheduler;
mod dashboard;
mod events;
mod fuzz_api;
mod health;
mod health_probes;
mod http_basics;
mod impersonation;
mod outage;
mod pings;
mod queues_bullmq;
mod queues_celery;
mod queues_graphile;
mod queues_pgboss;
mod queues_push;
mod queues_rq;
mod queues_sidekiq;
mod rate_limits;
mod readiness;
mod replicas;
mod routes;
mod secrecy;
mod sessions;
mod slow_clients;
mod sso;
mod store_contract;
mod tenant_sources;
mod tenants;
