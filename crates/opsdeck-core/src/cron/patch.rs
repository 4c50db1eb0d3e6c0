//! What a check-in's monitor config says about a monitor ([`SpecPatch`]): the schedule,
//! always, and whichever tunables the client sent. It creates a monitor with defaults
//! for the rest, or changes only what it carries of a stored one: a monitor defined in
//! the config file or by an admin keeps its name, tags, tenant, maintenance windows,
//! `min_runtime` and paused flag when an SDK reports on it.

use std::time::Duration;

use super::{MonitorSettings, MonitorSpec, Schedule};
use crate::ids::{InvalidField, MonitorName, Slug};

/// The tunables a check-in may set; `None` is a field the client did not send, which
/// keeps the stored value (or takes the default when creating).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsPatch {
    pub grace: Option<Duration>,
    pub max_runtime: Option<Duration>,
    pub failure_threshold: Option<u32>,
    pub recovery_threshold: Option<u32>,
}

impl SettingsPatch {
    /// `base` with the sent fields replaced.
    pub fn over(&self, base: &MonitorSettings) -> MonitorSettings {
        MonitorSettings {
            grace: self.grace.unwrap_or(base.grace),
            max_runtime: self.max_runtime.or(base.max_runtime),
            failure_threshold: self.failure_threshold.unwrap_or(base.failure_threshold),
            recovery_threshold: self.recovery_threshold.unwrap_or(base.recovery_threshold),
            ..base.clone()
        }
    }
}

/// A valid monitor config from a check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecPatch {
    /// The monitor it creates: named after its slug, defaults for what was not sent.
    /// Building it checks every sent field once, so creating cannot fail later.
    created: MonitorSpec,
    /// Whether a cron schedule came with its time zone; without one it is read in UTC
    /// when it creates the monitor and in the stored schedule's zone when it changes one.
    tz_sent: bool,
    settings: SettingsPatch,
}

impl SpecPatch {
    /// The config for monitor `slug`; refuses (naming the spec field) a sent value that
    /// no monitor may have.
    pub fn new(
        slug: Slug,
        schedule: Schedule,
        tz_sent: bool,
        settings: SettingsPatch,
    ) -> Result<Self, InvalidField> {
        let name = MonitorName::from(&slug);
        let defaults = settings.over(&MonitorSettings::default());
        let created = MonitorSpec::new(slug, name, schedule, defaults)?;
        Ok(Self {
            created,
            tz_sent,
            settings,
        })
    }

    /// The spec of the monitor this config creates when none exists.
    pub fn created(&self) -> &MonitorSpec {
        &self.created
    }

    /// `stored` with the schedule and the sent tunables of this config; everything else
    /// stays as stored. Equal to `stored` when the config changes nothing. Refused when a
    /// sent value contradicts one the config cannot change (a `max_runtime` not longer
    /// than the stored `min_runtime`).
    pub fn apply_to(&self, stored: &MonitorSpec) -> Result<MonitorSpec, InvalidField> {
        let schedule = match (self.created.schedule(), stored.schedule()) {
            (Schedule::Cron(sent), Schedule::Cron(kept))
                if !self.tz_sent && sent.tz() != kept.tz() =>
            {
                Schedule::cron(sent.expr(), Some(kept.tz().name()))?
            }
            (sent, _) => sent.clone(),
        };
        let settings = self.settings.over(stored.settings());
        let (slug, name) = (stored.slug().clone(), stored.name().clone());
        MonitorSpec::new(slug, name, schedule, settings)
    }
}
