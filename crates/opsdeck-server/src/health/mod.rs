//! Health (SPEC §3): the configured probes, run in the background by the leader, their
//! latest results held in memory for `/ops/health`, and their history in the store.
//!
//! - the probes themselves live in `opsdeck_connectors::health`, one module per check type;
//!   [`CheckSpec`] pairs one with the keys every check has, and `spec.rs` holds the check
//!   of opsdeck's own database;
//! - [`HealthMonitor`]: the checks and what each reports now (flap damping, recording,
//!   the change hook alerts listen on);
//! - `jobs.rs`: the loops; `detail.rs`: history figures; `view.rs`: what is shown.

mod detail;
mod jobs;
mod metrics;
mod monitor;
mod scrub;
mod spec;
mod view;

pub use detail::{CheckDetail, WindowStats, check_detail};
pub use jobs::spawn_health_loops;
pub use monitor::{ChangeHook, HealthMonitor, RECENT_RESULTS};
pub use scrub::{OUTPUT_MAX_BYTES, scrub};
pub use spec::{CheckSpec, OWN_DATABASE_CHECK};
pub use view::{CheckView, HealthSnapshot, PendingFlip, RecentResult};
