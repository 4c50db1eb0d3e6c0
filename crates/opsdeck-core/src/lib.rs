//! The opsdeck domain: identifiers, roles and permissions, time, and the storage contracts
//! that every backend implements. This crate knows nothing of HTTP or SQL.

pub mod alert;
pub mod audit;
pub mod auth;
pub mod clock;
pub mod cron;
pub mod events;
pub mod health;
pub mod ids;
pub mod impersonation;
pub mod instance;
pub mod queues;
pub mod redact;
pub mod secret;
pub mod session;
pub mod store;
pub mod token;

pub use clock::{Clock, ManualClock, SystemClock};
pub use store::{Backend, Store, StoreError, StoreResult};
