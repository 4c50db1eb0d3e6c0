//! Middleware every request passes through, outermost first:
//! request id → access log and metrics → error envelope safety net → panic catcher →
//! request timeout → database outage guard → authentication → (per route) authorization → handler.

pub mod access_log;
pub mod auth;
pub mod client;
pub mod envelope;
pub mod outage;
pub mod request_id;
pub mod tenant;
