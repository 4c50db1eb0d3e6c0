//! The monitor form of the dashboard (`/cron/+new` and `/cron/{slug}/edit`): its fields as
//! typed, read into the [`MonitorDefinition`] the JSON API and `[[cron.monitors]]` take and
//! validated by the same `MonitorDefinition::to_spec`, and the problems kept by the field
//! they name so the page shows each next to its input. Everything stays text, so a refused
//! form comes back exactly as typed.

use std::time::Duration;

use opsdeck_core::cron::{MonitorRecord, MonitorSource, MonitorSpec};
use serde::Deserialize;

use super::detail::is_job;
use super::span;
use crate::config::{MonitorDefinition, WindowDefinition, duration};
use crate::error::ApiError;
use crate::ops::Reason;
use crate::ops::cron::MonitorView;
use crate::state::AppState;

/// The monitor form as typed. `kind` says whether the monitor runs on a cron `schedule`
/// (with its `tz`) or at a fixed `interval`; the fields of the other kind are ignored, so
/// switching kinds needs no clearing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct MonitorFields {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub schedule: String,
    pub tz: String,
    pub interval: String,
    pub grace: String,
    pub max_runtime: String,
    pub min_runtime: String,
    pub failure_threshold: String,
    pub recovery_threshold: String,
    /// Separated by spaces (healthchecks.io's way) or commas.
    pub tags: String,
    pub tenant_id: String,
}

/// What the form does not show of a monitor: an edit keeps it as the monitor has it now
/// (the JSON API's update would reset it to the defaults).
#[derive(Debug, Clone, Default)]
pub struct Kept {
    pub maintenance: Vec<WindowDefinition>,
    pub paused: bool,
}

impl Kept {
    pub fn of(spec: &MonitorSpec) -> Self {
        Self {
            maintenance: spec
                .settings()
                .maintenance
                .iter()
                .map(|window| WindowDefinition {
                    schedule: window.opens().expr().to_owned(),
                    tz: Some(window.opens().tz().name().to_owned()),
                    duration: window.duration(),
                })
                .collect(),
            paused: spec.is_paused(),
        }
    }

    /// What is kept, in words, for the edit page.
    pub fn described(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.paused {
            out.push("It stays paused: resume it from its page.".to_owned());
        }
        for window in &self.maintenance {
            let tz = window.tz.as_deref().unwrap_or("UTC");
            let length = span(window.duration);
            out.push(format!(
                "Its maintenance window {} ({tz}) for {length} stays: change windows through \
                 the JSON API or the configuration file.",
                window.schedule,
            ));
        }
        out
    }
}

impl MonitorFields {
    /// An empty form for a new monitor, on a cron schedule.
    pub fn blank() -> Self {
        Self {
            kind: "schedule".to_owned(),
            ..Self::default()
        }
    }

    /// The form filled with a monitor's definition, as an edit starts.
    pub fn of(view: &MonitorView) -> Self {
        let optional = |seconds: Option<u64>| {
            seconds.map_or_else(String::new, |s| span(Duration::from_secs(s)))
        };
        Self {
            slug: view.slug.clone(),
            name: view.name.clone(),
            kind: if view.interval_seconds.is_some() {
                "interval"
            } else {
                "schedule"
            }
            .to_owned(),
            schedule: view.schedule.clone().unwrap_or_default(),
            tz: view.tz.clone().unwrap_or_default(),
            interval: optional(view.interval_seconds),
            grace: span(Duration::from_secs(view.grace_seconds)),
            max_runtime: optional(view.max_runtime_seconds),
            min_runtime: optional(view.min_runtime_seconds),
            failure_threshold: view.failure_threshold.to_string(),
            recovery_threshold: view.recovery_threshold.to_string(),
            tags: view.tags.join(" "),
            tenant_id: view.tenant_id.clone().unwrap_or_default(),
        }
    }

    pub fn is_interval(&self) -> bool {
        self.kind == "interval"
    }

    /// The validated monitor, or every problem as (field, message). A field that cannot
    /// even be read (a duration without a unit, a threshold that is not a number) is
    /// reported here; everything else by `MonitorDefinition::to_spec`.
    pub fn to_spec(&self, kept: Kept) -> Result<MonitorSpec, Problems> {
        let mut read = Reader::default();
        let (schedule, tz, interval) = if self.is_interval() {
            let interval = read.span("interval", &self.interval);
            if text(&self.interval).is_none() {
                read.problem(
                    "interval",
                    "interval is required: a period such as 10m or 1h",
                );
            }
            (None, None, interval)
        } else {
            (text(&self.schedule), text(&self.tz), None)
        };
        let definition = MonitorDefinition {
            slug: self.slug.trim().to_owned(),
            name: text(&self.name),
            schedule,
            tz,
            interval,
            grace: read.span("grace", &self.grace),
            max_runtime: read.span("max_runtime", &self.max_runtime),
            min_runtime: read.span("min_runtime", &self.min_runtime),
            failure_threshold: read.count("failure_threshold", &self.failure_threshold),
            recovery_threshold: read.count("recovery_threshold", &self.recovery_threshold),
            maintenance: kept.maintenance,
            tenant_id: text(&self.tenant_id),
            tags: self
                .tags
                .split(|c: char| c.is_whitespace() || c == ',')
                .filter(|tag| !tag.is_empty())
                .map(str::to_owned)
                .collect(),
            paused: Some(kept.paused),
        };
        let mut problems = read.problems;
        match definition.to_spec() {
            Ok(spec) if problems.is_empty() => Ok(spec),
            Ok(_) => Err(problems),
            Err(more) => {
                // An interval monitor has no schedule by design: the only schedule problem
                // `to_spec` can see then is the missing interval, already reported.
                let interval = self.is_interval();
                problems.extend(
                    more.into_iter()
                        .filter(|(key, _)| !(interval && key == "schedule")),
                );
                Err(problems)
            }
        }
    }
}

/// A field's text, trimmed; `None` when empty (the definition's default applies).
fn text(value: &str) -> Option<String> {
    Some(value.trim().to_owned()).filter(|v| !v.is_empty())
}

/// Reads the fields that are not text, collecting what it cannot read.
#[derive(Debug, Default)]
struct Reader {
    problems: Problems,
}

impl Reader {
    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push((key.to_owned(), message.into()));
    }

    /// A duration with a unit, as the configuration file writes it.
    fn span(&mut self, key: &str, value: &str) -> Option<Duration> {
        let parsed = duration::parse(&text(value)?);
        parsed
            .map_err(|e| self.problem(key, format!("{key}: {e}")))
            .ok()
    }

    fn count(&mut self, key: &str, value: &str) -> Option<u32> {
        let parsed = text(value)?.parse::<u32>();
        let message = format!("{key} must be a whole number such as 1 or 3");
        parsed.map_err(|_| self.problem(key, message)).ok()
    }
}

/// Problems as (field, message), as `MonitorDefinition::to_spec` reports them.
pub type Problems = Vec<(String, String)>;

/// A refused form's problems, by the field they name; `reason` is one of them.
#[derive(Debug, Clone, Default)]
pub struct FormErrors(Problems);

impl FormErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push((field.to_owned(), message.into()));
    }

    pub fn extend(&mut self, problems: Problems) {
        self.0.extend(problems);
    }

    /// The problem of `field`, shown next to its input (the first, if it has several).
    pub fn of(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == field)
            .map(|(_, message)| message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every problem for the summary above the form: the field's label and anchor (none for
    /// what the form does not show, such as a kept maintenance window), and the message.
    pub fn summary(&self) -> Vec<(String, Option<String>, String)> {
        self.0
            .iter()
            .map(|(key, message)| {
                let label = label_of(key);
                let anchor = label.is_some().then(|| format!("#field-{key}"));
                let label = label.unwrap_or(key).to_owned();
                (label, anchor, message.clone())
            })
            .collect()
    }
}

/// The label of a field of the form.
fn label_of(field: &str) -> Option<&'static str> {
    Some(match field {
        "slug" => "Slug",
        "name" => "Name",
        "schedule" => "Schedule",
        "tz" => "Time zone",
        "interval" => "Interval",
        "grace" => "Grace",
        "max_runtime" => "Max runtime",
        "min_runtime" => "Min runtime",
        "failure_threshold" => "Failure threshold",
        "recovery_threshold" => "Recovery threshold",
        "tags" => "Tags",
        "tenant_id" => "Tenant",
        "reason" => "Reason",
        _ => return None,
    })
}

/// The configuration section a monitor is defined in, for a monitor opsdeck sets back to
/// the file's definition at every start (`source` = `config`).
pub fn defined_in(state: &AppState, record: &MonitorRecord) -> Option<&'static str> {
    (record.source == MonitorSource::Config).then(|| {
        if is_job(state, record.spec.slug()) {
            "[[cron.jobs]]"
        } else {
            "[[cron.monitors]]"
        }
    })
}

/// The form's reason, or its problem added to `errors`.
pub fn checked(parsed: Result<Reason, ApiError>, errors: &mut FormErrors) -> Option<Reason> {
    let problem = "Say why in 1–500 characters: the reason goes to the audit log.";
    parsed.map_err(|_| errors.add("reason", problem)).ok()
}
