//! Monitor definitions read from where cron jobs already live (`opsdeck cron import`): a
//! crontab in user or system format, Kubernetes CronJob manifests, or the `crons` of a
//! `vercel.json`. An [`Importer`] reads any number of files, each in its [`Format`], and
//! [`Importer::finish`] hands back an [`Import`]: the monitors it would create, each with
//! the file and line it came from, and a [`Finding`] for everything it could not use.
//!
//! Every schedule goes through [`CronSchedule::parse`], so an expression or time zone the
//! evaluator would refuse is reported here, with its line, not after it was created.
//!
//! Slugs come from the job (a crontab command's script name, a CronJob's name, a Vercel
//! path), made slug-safe and numbered `-2`, `-3`… when two jobs would share one. A crontab
//! line can name its own with a comment directly above it:
//!
//! ```text
//! # opsdeck: slug=nightly-backup name="Nightly backup"
//! 30 2 * * * /usr/local/bin/backup.sh
//! ```
//!
//! Slugs named that way are kept as written and claimed before derived ones, so a derived
//! slug never takes a name someone chose.

mod crontab;
mod format;
mod kubernetes;
mod slug;
mod vercel;
mod wiring;

use std::collections::HashMap;
use std::fmt;

use super::{CronSchedule, MonitorSettings, MonitorSpec, Schedule, ScheduleError};
use crate::ids::{MonitorName, NAME_MAX_CHARS, Slug};

pub use format::Format;

/// Where something came from: a file as the user named it and a 1-based line (0 when
/// the whole file is meant).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Origin {
    pub file: String,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// How much a [`Finding`] matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FindingKind {
    /// A job that could not be read: nothing was imported from it. Fails the import.
    Invalid,
    /// A job read correctly that cannot be monitored (`@reboot`, a CronJob of another API).
    Skipped,
    /// Imported, or nothing to import, but worth a look (a `TZ=` that is not `CRON_TZ=`).
    Note,
}

/// Something about the input that is not a monitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub origin: Origin,
    pub kind: FindingKind,
    pub message: String,
}

/// A monitor the import would create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedMonitor {
    /// Slug, name, schedule with its zone, and `paused` for a suspended CronJob.
    pub spec: MonitorSpec,
    pub origin: Origin,
    /// What runs: the crontab command, the CronJob's image, the Vercel path.
    pub detail: Option<String>,
    /// The command cron runs, for a crontab line: what `opsdeck exec` can wrap (see
    /// [`ImportedMonitor::exec_line`]).
    pub command: Option<String>,
}

impl ImportedMonitor {
    /// The cron expression as written in the source.
    pub fn expr(&self) -> &str {
        match self.spec.schedule() {
            Schedule::Cron(cron) => cron.expr(),
            Schedule::Interval(_) => "",
        }
    }

    /// The IANA name of the schedule's zone.
    pub fn tz(&self) -> &'static str {
        match self.spec.schedule() {
            Schedule::Cron(cron) => cron.tz().name(),
            Schedule::Interval(_) => "UTC",
        }
    }
}

/// What an import produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Import {
    pub monitors: Vec<ImportedMonitor>,
    pub findings: Vec<Finding>,
}

impl Import {
    /// Whether every job was read: no [`FindingKind::Invalid`].
    pub fn is_clean(&self) -> bool {
        self.count(FindingKind::Invalid) == 0
    }

    pub fn count(&self, kind: FindingKind) -> usize {
        self.findings.iter().filter(|f| f.kind == kind).count()
    }
}

/// Where a monitor's slug comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SlugSource {
    /// Written by the user (`# opsdeck: slug=…`): kept exactly, never renumbered.
    Chosen(Slug),
    /// Derived from the job; made slug-safe and numbered when taken.
    Derived(String),
}

/// A job read by a parser, its schedule already valid; its slug is settled at the end.
#[derive(Debug, Clone)]
struct Draft {
    origin: Origin,
    slug: SlugSource,
    name: String,
    schedule: CronSchedule,
    paused: bool,
    detail: Option<String>,
    command: Option<String>,
}

/// Reads files one by one; slugs are unique across all of them.
#[derive(Debug)]
pub struct Importer {
    default_tz: Option<String>,
    drafts: Vec<Draft>,
    findings: Vec<Finding>,
}

impl Importer {
    /// `default_tz` is the zone of jobs that name none (a crontab without `CRON_TZ`, a
    /// CronJob without `timeZone`): the zone of the machine they ran on. UTC when `None`.
    pub fn new(default_tz: Option<&str>) -> Result<Self, ScheduleError> {
        if let Some(tz) = default_tz {
            CronSchedule::parse("@daily", Some(tz))?;
        }
        Ok(Self {
            default_tz: default_tz.map(str::to_owned),
            drafts: Vec::new(),
            findings: Vec::new(),
        })
    }

    /// Reads one file's `text`; `file` is how findings and sources name it.
    pub fn add(&mut self, file: &str, format: Format, text: &str) {
        match format {
            Format::Crontab => crontab::read(self, file, text, false),
            Format::SystemCrontab => crontab::read(self, file, text, true),
            Format::Kubernetes => kubernetes::read(self, file, text),
            Format::Vercel => vercel::read(self, file, text),
        }
    }

    /// Records a file that could not be read at all.
    pub fn unreadable(&mut self, file: &str, reason: &str) {
        let origin = Origin {
            file: file.to_owned(),
            line: 0,
        };
        self.finding(
            origin,
            FindingKind::Invalid,
            format!("cannot read: {reason}"),
        );
    }

    fn finding(&mut self, origin: Origin, kind: FindingKind, message: impl Into<String>) {
        self.findings.push(Finding {
            origin,
            kind,
            message: message.into(),
        });
    }

    /// Takes a job whose schedule parses in `tz` (or the default zone); otherwise records
    /// why not.
    fn propose(&mut self, job: Job) {
        let tz = job.tz.as_deref().or(self.default_tz.as_deref());
        match CronSchedule::parse(&job.expr, tz) {
            Ok(schedule) => self.drafts.push(Draft {
                origin: job.origin,
                slug: job.slug,
                name: job.name,
                schedule,
                paused: job.paused,
                detail: job.detail,
                command: job.command,
            }),
            Err(error) => self.finding(job.origin, FindingKind::Invalid, error.to_string()),
        }
    }

    /// Settles slugs (chosen ones first) and builds the monitors.
    pub fn finish(mut self) -> Import {
        let mut taken: HashMap<Slug, Origin> = HashMap::new();
        let mut kept = Vec::with_capacity(self.drafts.len());
        for draft in std::mem::take(&mut self.drafts) {
            if let SlugSource::Chosen(slug) = &draft.slug {
                if let Some(first) = taken.get(slug) {
                    let message = format!(
                        "slug {slug} is already chosen on {first}: pick another in the opsdeck comment"
                    );
                    self.finding(draft.origin, FindingKind::Invalid, message);
                    continue;
                }
                taken.insert(slug.clone(), draft.origin.clone());
            }
            kept.push(draft);
        }
        let mut monitors = Vec::with_capacity(kept.len());
        for draft in kept {
            let slug = match draft.slug {
                SlugSource::Chosen(slug) => slug,
                SlugSource::Derived(base) => {
                    let slug = slug::unique(&base, |s| taken.contains_key(s));
                    taken.insert(slug.clone(), draft.origin.clone());
                    slug
                }
            };
            let name = display_name(&draft.name, &slug);
            let settings = MonitorSettings {
                paused: draft.paused,
                ..MonitorSettings::default()
            };
            match MonitorSpec::new(slug, name, Schedule::Cron(draft.schedule), settings) {
                Ok(spec) => monitors.push(ImportedMonitor {
                    spec,
                    origin: draft.origin,
                    detail: draft.detail,
                    command: draft.command,
                }),
                Err(error) => self.finding(draft.origin, FindingKind::Invalid, error.to_string()),
            }
        }
        self.findings.sort_by(|a, b| a.origin.cmp(&b.origin));
        Import {
            monitors,
            findings: self.findings,
        }
    }
}

/// A job as a parser read it, before its schedule is checked.
#[derive(Debug)]
struct Job {
    origin: Origin,
    slug: SlugSource,
    name: String,
    expr: String,
    tz: Option<String>,
    paused: bool,
    detail: Option<String>,
    command: Option<String>,
}

/// A monitor name from free text: whitespace runs become one space, control characters
/// go, and a long text is cut with an ellipsis. The slug stands in for an empty one.
fn display_name(text: &str, slug: &Slug) -> MonitorName {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect();
    let mut name = words.join(" ");
    if name.chars().count() > NAME_MAX_CHARS {
        name = name.chars().take(NAME_MAX_CHARS - 1).collect::<String>() + "…";
    }
    MonitorName::parse(&name).unwrap_or_else(|_| MonitorName::from(slug))
}

#[cfg(test)]
mod tests;
