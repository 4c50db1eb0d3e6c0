//! Authentication: who is calling. Every credential is resolved here, in one place: bearer
//! tokens (`opsdeck_pat_…` personal tokens, `opsdeck_key_…` ingest keys) into an
//! [`Authenticated`] principal or an [`IngestCaller`], the scrape token into a
//! [`ScrapeCaller`]; the result is attached to the request for the route table's
//! authorization step. A credential that is presented but not valid is refused with 401.
//! Token last-use times are collected in memory and written in batches by a background loop,
//! so authenticating a request never writes to the database; resolved tokens and sessions are
//! kept for a few seconds ([`cache`]), so a busy caller rarely reads it either. Revocation
//! through this process takes effect at once, elsewhere within [`cache::TTL`].

pub mod bearer;
mod bootstrap;
pub mod cache;
pub mod oidc;
pub mod proxy;
pub mod session;
mod usage;

pub use bearer::authenticate;
pub use bootstrap::ensure_bootstrap_admin;
pub use usage::{TokenUsage, TokenUsageFlushJob};

pub use crate::middleware::auth::Authenticated;

use opsdeck_core::token::Scope;

/// A Prometheus scraper that presented the configured scrape token: it may read `/metrics`
/// and nothing else.
#[derive(Debug, Clone, Copy)]
pub struct ScrapeCaller;

/// An application process calling with an ingest key: it may use the ingest API within its
/// scopes and never `/ops` or the dashboard.
#[derive(Debug, Clone)]
pub struct IngestCaller {
    pub key_id: uuid::Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
}
