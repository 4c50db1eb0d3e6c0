//! Periodic work: one mechanism for every background loop (interval, jitter, timeout,
//! clean shutdown), and leader election through the database so that leader-only loops run
//! on exactly one replica. Loops never overlap themselves: a tick runs to completion (or its
//! timeout) before the next is scheduled.

pub mod database_probe;
pub(crate) mod group_commit;
mod leader;
mod replicas;
mod runner;

pub use leader::{LEADER_LEASE, LeaderElector};
pub use replicas::{HeartbeatJob, PruneReplicasJob};
pub use runner::{Background, Job, LoopSpec, Scope};
