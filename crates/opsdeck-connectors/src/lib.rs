//! Everything that talks to the application's own systems, as opposed to opsdeck's own
//! store: the health probes of `[[health.checks]]` ([`health`]) today; queue connectors
//! (`[[queues.sources]]`: BullMQ, Sidekiq, graphile-worker, pg-boss, RQ, Celery) in `queues/`
//! and read-only tenant SQL sources (`[[tenants.queries]]`) in `tenants/` beside them.
//!
//! Each kind of connector has one trait and one module per system; the module owns that
//! system's configuration keys, their validation and the code that talks to it, and one
//! registry lists the modules. What is generic (scheduling, timeouts, recording, the
//! configuration's common keys, the HTTP API) stays in the server, which calls the
//! connectors through their trait. Secrets come in as `opsdeck_core::secret::Secret`.

pub mod health;
mod keys;
pub mod queues;
pub mod tenants;
