//! The stored form of a monitor's spec and state, as JSON. The spec document holds
//! everything but the slug (the row's key) and the paused flag (a column of its own, so
//! pausing rewrites no document); reading it back validates it like any input, so a
//! document no longer valid fails loudly instead of producing a spec `new` would refuse.
//!
//! Durations are whole milliseconds; schedules keep the expression as written and the
//! zone's IANA name. Unknown keys are ignored and new keys get defaults, so a document
//! written by a newer opsdeck still reads.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::super::{MaintenanceWindow, MonitorSettings, MonitorSpec, MonitorState, Schedule};
use crate::ids::{InvalidField, MonitorName, Slug, Tags, TenantId};

/// A stored document could not be read back; `what` names it, `reason` says why (never
/// quoting a tenant id: field errors do not echo it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored {what} is invalid: {reason}")]
pub struct InvalidDocument {
    pub what: &'static str,
    pub reason: String,
}

#[derive(Serialize, Deserialize)]
struct SpecDoc {
    name: MonitorName,
    schedule: ScheduleDoc,
    grace_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_runtime_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    min_runtime_ms: Option<u64>,
    failure_threshold: u32,
    recovery_threshold: u32,
    #[serde(default)]
    maintenance: Vec<WindowDoc>,
    #[serde(default)]
    tags: Tags,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_id: Option<TenantId>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ScheduleDoc {
    Cron { expr: String, tz: String },
    Interval { every_ms: u64 },
}

#[derive(Serialize, Deserialize)]
struct WindowDoc {
    cron: String,
    tz: String,
    duration_ms: u64,
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The spec document of `spec`.
pub fn spec_json(spec: &MonitorSpec) -> String {
    let settings = spec.settings();
    let schedule = match spec.schedule() {
        Schedule::Cron(cron) => ScheduleDoc::Cron {
            expr: cron.expr().to_owned(),
            tz: cron.tz().name().to_owned(),
        },
        Schedule::Interval(every) => ScheduleDoc::Interval {
            every_ms: millis(every.get()),
        },
    };
    let doc = SpecDoc {
        name: spec.name().clone(),
        schedule,
        grace_ms: millis(settings.grace),
        max_runtime_ms: settings.max_runtime.map(millis),
        min_runtime_ms: settings.min_runtime.map(millis),
        failure_threshold: settings.failure_threshold,
        recovery_threshold: settings.recovery_threshold,
        maintenance: (settings.maintenance.iter())
            .map(|w| WindowDoc {
                cron: w.opens().expr().to_owned(),
                tz: w.opens().tz().name().to_owned(),
                duration_ms: millis(w.duration()),
            })
            .collect(),
        tags: settings.tags.clone(),
        tenant_id: settings.tenant_id.clone(),
    };
    // A struct of strings, numbers and lists always serialises.
    serde_json::to_string(&doc).unwrap_or_default()
}

/// The spec of the monitor `slug` from its document and paused flag.
pub fn spec_from_json(
    slug: Slug,
    paused: bool,
    json: &str,
) -> Result<MonitorSpec, InvalidDocument> {
    let invalid = |reason: String| InvalidDocument {
        what: "monitor spec",
        reason,
    };
    let field = |e: InvalidField| invalid(e.to_string());
    let doc: SpecDoc = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
    let schedule = match doc.schedule {
        ScheduleDoc::Cron { expr, tz } => Schedule::cron(&expr, Some(&tz)),
        ScheduleDoc::Interval { every_ms } => Schedule::every(Duration::from_millis(every_ms)),
    }
    .map_err(|e| field(e.into()))?;
    let maintenance = (doc.maintenance.iter())
        .map(|w| MaintenanceWindow::new(&w.cron, Some(&w.tz), Duration::from_millis(w.duration_ms)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(field)?;
    let settings = MonitorSettings {
        grace: Duration::from_millis(doc.grace_ms),
        max_runtime: doc.max_runtime_ms.map(Duration::from_millis),
        min_runtime: doc.min_runtime_ms.map(Duration::from_millis),
        failure_threshold: doc.failure_threshold,
        recovery_threshold: doc.recovery_threshold,
        maintenance,
        tags: doc.tags,
        tenant_id: doc.tenant_id,
        paused,
    };
    MonitorSpec::new(slug, doc.name, schedule, settings).map_err(field)
}

/// The state document of `state`.
pub fn state_json(state: &MonitorState) -> String {
    // Enums, times, ids, numbers and strings: always serialises.
    serde_json::to_string(state).unwrap_or_default()
}

pub fn state_from_json(json: &str) -> Result<MonitorState, InvalidDocument> {
    serde_json::from_str(json).map_err(|e| InvalidDocument {
        what: "monitor state",
        reason: e.to_string(),
    })
}
