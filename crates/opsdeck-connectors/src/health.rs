//! Health probes (SPEC §3): what each `[[health.checks]]` type does to find out whether its
//! dependency is healthy.
//!
//! One module per type. Its struct is the type's configuration keys (deserialized with
//! `deny_unknown_fields`, so the struct's fields are the keys the type takes) and implements
//! [`ProbeType`]: its `type` name, the rules between its keys, its description (component
//! type, measurement, the target shown without credentials, the secrets to mask) and the
//! probe itself. [`registry::PROBE_TYPES`] lists every type once; the configuration, the
//! key checks and the server's monitor all go through it and the object-safe [`Probe`].
//!
//! Adding a type: its module here, and its line in [`registry::PROBE_TYPES`].
//!
//! A probe only looks. The server's health monitor times it, bounds it with the check's
//! timeout, scrubs its output and decides what the result means over time. A probe returns
//! an [`Observation`]: pass, warn or fail, an optional measurement (free disk percent, days
//! until a certificate expires) and, when not passing, what went wrong in words an on-call
//! engineer can act on.

pub mod disk;
pub mod filesystem;
pub mod http;
mod observation;
pub mod postgres;
mod probe;
pub mod redis;
pub mod registry;
pub mod s3;
pub mod sqlite;
pub mod target;
pub mod tcp;
pub mod tls;

pub use observation::Observation;
pub use probe::{
    ComponentType, Description, Probe, ProbeContext, ProbeType, Problems, RESPONSE_TIME,
};
pub use registry::{PROBE_TYPES, ProbeConfig, RegisteredType};
