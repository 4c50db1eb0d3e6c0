//! A monitor's configuration ([`MonitorSpec`]): what is expected of the job (schedule,
//! grace, runtime bounds), how many results in a row flip its status (thresholds), when
//! not to alert ([`MaintenanceWindow`]s, paused) and how it is filed (tags, tenant).
//!
//! A spec is valid once built: [`MonitorSpec::new`] checks the [`MonitorSettings`] and
//! names the field it refuses.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::schedule::CronSchedule;
use super::span::plus;
use super::{Interval, Schedule};
use crate::ids::{InvalidField, MonitorName, Slug, Tags, TenantId};

/// How late a job may be by default before its slot counts as missed.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(5 * 60);
/// The bounds of grace and of the runtime limits.
pub const DURATION_MIN: Duration = Duration::from_secs(1);
pub const DURATION_MAX: Duration = Duration::from_secs(365 * 24 * 3600);
/// The largest failure or recovery threshold, as Sentry bounds them.
pub const THRESHOLD_MAX: u32 = 720;
/// The most maintenance windows per monitor.
pub const WINDOWS_MAX: usize = 16;
/// The longest maintenance window.
pub const WINDOW_MAX: Duration = Duration::from_secs(31 * 24 * 3600);

/// A recurring window during which misses and failures are recorded but do not count
/// towards `down` and so do not alert: a cron expression for when it opens, and how long
/// it stays open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    opens: CronSchedule,
    duration: Duration,
}

impl MaintenanceWindow {
    pub fn new(expr: &str, tz: Option<&str>, duration: Duration) -> Result<Self, InvalidField> {
        let opens = CronSchedule::parse(expr, tz).map_err(|e| InvalidField {
            field: "maintenance",
            ..InvalidField::from(e)
        })?;
        if !(DURATION_MIN..=WINDOW_MAX).contains(&duration) {
            return Err(InvalidField::new(
                "maintenance duration",
                "must be between 1s and 31 days",
            ));
        }
        Ok(Self { opens, duration })
    }

    pub fn opens(&self) -> &CronSchedule {
        &self.opens
    }

    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Whether the window is open at `t`: it opened at or before `t`, less than its
    /// duration ago. The latest opening decides, as all openings last equally long.
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.opens
            .last_at_or_before(t)
            .is_some_and(|opened| t < plus(opened, self.duration))
    }
}

/// The tunable part of a monitor, with the defaults of SPEC §4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSettings {
    /// How long after its expected time a job may start before the slot is missed.
    pub grace: Duration,
    /// How long a started run may last before it is timed out; `None` never times out.
    pub max_runtime: Option<Duration>,
    /// A successful run faster than this is flagged as suspicious (`too_fast`).
    pub min_runtime: Option<Duration>,
    /// Consecutive failed, missed or timed-out runs before the monitor is down.
    pub failure_threshold: u32,
    /// Consecutive successful runs before a down monitor is up again.
    pub recovery_threshold: u32,
    pub maintenance: Vec<MaintenanceWindow>,
    pub tags: Tags,
    pub tenant_id: Option<TenantId>,
    /// Paused monitors record what arrives but expect nothing and judge nothing.
    pub paused: bool,
}

impl Default for MonitorSettings {
    fn default() -> Self {
        Self {
            grace: DEFAULT_GRACE,
            max_runtime: None,
            min_runtime: None,
            failure_threshold: 1,
            recovery_threshold: 1,
            maintenance: Vec::new(),
            tags: Tags::default(),
            tenant_id: None,
            paused: false,
        }
    }
}

impl MonitorSettings {
    fn validate(&self) -> Result<(), InvalidField> {
        let within = |field: &'static str, d: Duration| {
            if (DURATION_MIN..=DURATION_MAX).contains(&d) {
                Ok(())
            } else {
                Err(InvalidField::new(field, "must be between 1s and 365 days"))
            }
        };
        within("grace", self.grace)?;
        if let Some(max) = self.max_runtime {
            within("max_runtime", max)?;
        }
        if let Some(min) = self.min_runtime {
            within("min_runtime", min)?;
            if self.max_runtime.is_some_and(|max| min >= max) {
                return Err(InvalidField::new(
                    "min_runtime",
                    "must be shorter than max_runtime",
                ));
            }
        }
        for (field, n) in [
            ("failure_threshold", self.failure_threshold),
            ("recovery_threshold", self.recovery_threshold),
        ] {
            if !(1..=THRESHOLD_MAX).contains(&n) {
                let problem = format!("must be between 1 and {THRESHOLD_MAX}");
                return Err(InvalidField::new(field, problem));
            }
        }
        if self.maintenance.len() > WINDOWS_MAX {
            let problem = format!("must list at most {WINDOWS_MAX} windows");
            return Err(InvalidField::new("maintenance", problem));
        }
        Ok(())
    }
}

/// A valid monitor configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonitorSpec {
    slug: Slug,
    name: MonitorName,
    schedule: Schedule,
    settings: MonitorSettings,
}

impl MonitorSpec {
    pub fn new(
        slug: Slug,
        name: MonitorName,
        schedule: Schedule,
        settings: MonitorSettings,
    ) -> Result<Self, InvalidField> {
        settings.validate()?;
        Ok(Self {
            slug,
            name,
            schedule,
            settings,
        })
    }

    /// The monitor a ping with `create=1` makes: named after its slug, expected once a
    /// day (healthchecks.io's default period), default settings.
    pub fn auto_created(slug: Slug) -> Self {
        Self {
            name: MonitorName::from(&slug),
            slug,
            schedule: Schedule::Interval(Interval::DAY),
            settings: MonitorSettings::default(),
        }
    }

    pub fn slug(&self) -> &Slug {
        &self.slug
    }

    pub fn name(&self) -> &MonitorName {
        &self.name
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    pub fn settings(&self) -> &MonitorSettings {
        &self.settings
    }

    pub fn grace(&self) -> Duration {
        self.settings.grace
    }

    pub fn is_paused(&self) -> bool {
        self.settings.paused
    }

    /// Pausing needs no validation, so it needs no rebuild.
    pub fn set_paused(&mut self, paused: bool) {
        self.settings.paused = paused;
    }

    /// Whether any maintenance window is open at `t`.
    pub fn in_maintenance(&self, t: DateTime<Utc>) -> bool {
        self.settings.maintenance.iter().any(|w| w.contains(t))
    }
}
