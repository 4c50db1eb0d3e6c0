//! The opsdeck HTTP server: the route table, the middleware every request passes through,
//! background loops with leader election, configuration and telemetry.
//!
//! [`app::Application`] builds everything from a [`config::Config`] and a bound listener, so
//! tests start it on port 0; the `opsdeck` binary only parses flags and calls in here.

pub mod alerts;
pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod background;
pub mod config;
pub mod cron;
pub mod demo;
pub mod error;
pub mod events;
pub mod extract;
pub mod guard;
pub mod health;
pub mod metrics;
pub mod middleware;
pub mod ops;
pub mod queues;
pub mod ratelimit;
pub mod router;
pub mod serve;
pub mod state;
pub mod telemetry;
pub mod web;

pub use app::{Application, BuildOptions};
pub use error::ApiError;
