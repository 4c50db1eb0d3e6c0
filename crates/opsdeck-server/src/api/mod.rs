//! HTTP handlers, one resource per file, named verb-noun. Handlers hold no SQL and no HTML:
//! they parse input with the extractors of [`crate::extract`], call the store or a domain
//! service, and return JSON or an [`crate::ApiError`].

pub mod alerts;
pub mod audit;
pub mod checkins;
pub mod cron;
pub mod cron_admin;
pub mod guard;
pub mod health;
pub mod instances;
pub mod metrics;
pub mod openapi;
pub mod ping;
pub mod probes;
pub mod session;
pub mod tokens;
