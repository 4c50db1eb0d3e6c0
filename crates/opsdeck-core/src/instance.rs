//! Replicas of opsdeck: each announces itself with a heartbeat so operators can see which
//! processes share the database and which one leads the background loops.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// What a running replica says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceInfo {
    pub id: Uuid,
    pub hostname: String,
    pub version: String,
    pub started_at: DateTime<Utc>,
}

/// A replica as last seen in the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceRecord {
    pub info: InstanceInfo,
    pub last_seen_at: DateTime<Utc>,
}

/// A named lease: the holder runs the work the lease guards until `expires_at`,
/// and must renew before then to keep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub acquired_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}
