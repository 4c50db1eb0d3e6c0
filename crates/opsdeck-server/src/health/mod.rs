//! Health (SPEC §3): the configured probes, run in the background by the leader, their
//! latest results held in memory for `/ops/health`, and their history in the store.
//!
//! - `probe/`: what each check type does;
//! - [`HealthMonitor`]: the checks and what each reports now (flap damping, recording,
//!   the change hook alerts listen on);
//! - `jobs.rs`: the loops; `detail.rs`: history figures; `view.rs`: what is shown.

mod detail;
mod jobs;
mod metrics;
mod monitor;
pub mod probe;
mod scrub;
mod view;

pub use detail::{CheckDetail, WindowStats, check_detail};
pub use jobs::spawn_health_loops;
pub use monitor::{ChangeHook, HealthMonitor, RECENT_RESULTS};
pub use scrub::{OUTPUT_MAX_BYTES, scrub};
pub use view::{CheckView, HealthSnapshot, PendingFlip, RecentResult};

/// The name of the check of opsdeck's own database, always present.
pub const OWN_DATABASE_CHECK: &str = "opsdeck-database";
