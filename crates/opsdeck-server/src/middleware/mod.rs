//! Middleware every request passes through, outermost first:
//! request id → access log and metrics → error envelope safety net → panic catcher →
//! request timeout → authentication → (per route) authorization → handler.

pub mod access_log;
pub mod auth;
pub mod client;
pub mod envelope;
pub mod request_id;
pub mod tenant;
