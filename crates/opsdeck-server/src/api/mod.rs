//! The JSON API's handlers, one resource per file, named verb-noun. A handler is a thin
//! adapter: it parses input with the extractors of [`crate::extract`] and the guards of
//! [`crate::guard`], calls the use-case in [`crate::ops`], and answers JSON or an
//! [`crate::ApiError`]. No handler calls the store.

pub mod alerts;
pub mod audit;
pub mod checkins;
pub mod cron;
pub mod cron_admin;
pub mod events;
pub mod health;
pub mod impersonations;
pub mod instances;
pub mod metrics;
pub mod openapi;
pub mod ping;
pub mod probes;
pub mod queue_snapshot;
pub mod queues;
pub mod session;
pub mod tenants;
pub mod tokens;
