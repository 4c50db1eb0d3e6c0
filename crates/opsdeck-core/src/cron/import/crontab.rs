//! Crontabs as cron reads them: user format (`m h dom mon dow command`) and system format
//! (`/etc/crontab`, `/etc/cron.d/*`: a user between the time fields and the command).
//!
//! Blank lines and comments are skipped; `NAME=value` lines set the environment, of which
//! only `CRON_TZ` matters here: it sets the zone of the lines below it, as in cronie.
//! `@hourly`-style aliases are read; `@reboot` has no times to expect and is skipped.
//! The command ends at the first unescaped `%` (cron feeds the rest to its stdin).

use super::slug::from_command;
use super::{FindingKind, Importer, Job, Origin, SlugSource};
use crate::ids::Slug;

/// Whether a crontab without a telling path is in system format: its first job has
/// `root` where a user crontab's command would begin.
pub(super) fn looks_like_system(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| is_entry(l))
        .is_some_and(|line| {
            let time_fields = if line.starts_with('@') { 1 } else { 5 };
            line.split_whitespace().nth(time_fields) == Some("root")
        })
}

/// A job line starts like a minute field or an alias; anything else with `=` sets the
/// environment.
fn is_entry(line: &str) -> bool {
    !line.is_empty()
        && !line.starts_with('#')
        && line.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '*' | '@' | ','))
}

/// The zone of the lines being read.
enum Zone {
    /// No `CRON_TZ` yet (or an empty one): the importer's default.
    Default,
    Named(String),
    /// A `CRON_TZ` that is no zone, on this line: its jobs are not imported.
    Broken(usize),
}

/// An `# opsdeck:` comment waiting for the job on the next line.
enum Directive {
    Valid {
        line: usize,
        slug: Option<Slug>,
        name: Option<String>,
    },
    /// Already reported; the job below it is left out.
    Broken,
}

pub(super) fn read(importer: &mut Importer, file: &str, text: &str, system: bool) {
    let origin = |line: usize| Origin {
        file: file.to_owned(),
        line,
    };
    let mut zone = Zone::Default;
    let mut pending: Option<Directive> = None;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if !is_entry(line)
            && let Some(Directive::Valid { line, .. }) = pending.take()
        {
            let message =
                "the opsdeck comment is not directly above a job line, so it names nothing";
            importer.finding(origin(line), FindingKind::Note, message);
        }
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(rest) = comment.trim_start().strip_prefix("opsdeck:") {
                pending = Some(match directive(rest) {
                    Ok((slug, name)) => Directive::Valid {
                        line: line_no,
                        slug,
                        name,
                    },
                    Err(problem) => {
                        let message = format!(
                            "opsdeck comment: {problem}; the job on the next line is not imported"
                        );
                        importer.finding(origin(line_no), FindingKind::Invalid, message);
                        Directive::Broken
                    }
                });
            }
            continue;
        }
        if !is_entry(line) {
            match line.split_once('=') {
                Some((name, value)) if is_env_name(name.trim()) => {
                    environment(importer, origin(line_no), &mut zone, name.trim(), value);
                }
                _ => {
                    let message = "neither a job (five time fields or an @alias, then the command) nor a NAME=value line";
                    importer.finding(origin(line_no), FindingKind::Invalid, message);
                }
            }
            continue;
        }
        let directive = pending.take();
        if matches!(directive, Some(Directive::Broken)) {
            continue;
        }
        if let Zone::Broken(at) = zone {
            let message = format!("not imported: CRON_TZ on line {at} is not a time zone");
            importer.finding(origin(line_no), FindingKind::Invalid, message);
            continue;
        }
        let tz = match &zone {
            Zone::Named(tz) => Some(tz.clone()),
            _ => None,
        };
        entry(importer, origin(line_no), line, system, tz, directive);
    }
    if let Some(Directive::Valid { line, .. }) = pending {
        let message = "the opsdeck comment is the last line, so it names nothing";
        importer.finding(origin(line), FindingKind::Note, message);
    }
}

fn is_env_name(name: &str) -> bool {
    !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn environment(importer: &mut Importer, origin: Origin, zone: &mut Zone, name: &str, value: &str) {
    let value = unquote(value.trim());
    match name {
        "CRON_TZ" if value.is_empty() => *zone = Zone::Default,
        "CRON_TZ" => match value.parse::<chrono_tz::Tz>() {
            Ok(_) => *zone = Zone::Named(value.to_owned()),
            Err(_) => {
                let message = format!(
                    "CRON_TZ {value:?} is not an IANA time zone name such as Europe/Berlin: the jobs below it are not imported until a valid CRON_TZ"
                );
                *zone = Zone::Broken(origin.line);
                importer.finding(origin, FindingKind::Invalid, message);
            }
        },
        "TZ" => {
            let message = "TZ= sets the zone the commands see, not the zone cron reads the times in: use CRON_TZ= for that (otherwise --tz, or UTC, applies)";
            importer.finding(origin, FindingKind::Note, message);
        }
        _ => {}
    }
}

fn unquote(value: &str) -> &str {
    for quote in ['"', '\''] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

/// Reads `slug=… name="…"` from an opsdeck comment.
fn directive(text: &str) -> Result<(Option<Slug>, Option<String>), String> {
    let mut slug = None;
    let mut name = None;
    let mut rest = text.trim();
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once('=')
            .ok_or_else(|| format!("expected key=value, found {rest:?}"))?;
        let (value, after) = match after.strip_prefix('"') {
            Some(quoted) => quoted
                .split_once('"')
                .ok_or_else(|| format!("the quote after {key}= is not closed"))?,
            None => after.split_once(char::is_whitespace).unwrap_or((after, "")),
        };
        match key.trim() {
            "slug" => slug = Some(Slug::parse(value).map_err(|e| e.to_string())?),
            "name" => name = Some(value.to_owned()),
            other => return Err(format!("unknown key {other:?}: use slug= or name=")),
        }
        rest = after.trim_start();
    }
    Ok((slug, name))
}

/// Splits off `n` whitespace-separated words; the rest keeps its inner spacing.
fn split_words(text: &str, n: usize) -> (Vec<&str>, &str) {
    let mut words = Vec::with_capacity(n);
    let mut rest = text.trim_start();
    while words.len() < n && !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        words.push(&rest[..end]);
        rest = rest[end..].trim_start();
    }
    (words, rest)
}

/// The command cron runs: up to the first unescaped `%`, with `\%` made `%`.
fn command_part(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'%') => {
                out.push('%');
                chars.next();
            }
            '%' => break,
            c => out.push(c),
        }
    }
    out.trim().to_owned()
}

fn entry(
    importer: &mut Importer,
    origin: Origin,
    line: &str,
    system: bool,
    tz: Option<String>,
    directive: Option<Directive>,
) {
    let time_fields = if line.starts_with('@') { 1 } else { 5 };
    let (mut fields, rest) = split_words(line, time_fields + usize::from(system));
    let expected = match (time_fields, system) {
        (1, false) => "an @alias and a command",
        (1, true) => "an @alias, a user and a command",
        (_, false) => "5 time fields and a command",
        (_, true) => "5 time fields, a user and a command (system crontab)",
    };
    let command = command_part(rest);
    if fields.len() < time_fields + usize::from(system) || command.is_empty() {
        let message = format!("expected {expected}");
        importer.finding(origin, FindingKind::Invalid, message);
        return;
    }
    let user = system.then(|| fields.pop()).flatten();
    let expr = fields.join(" ");
    if expr.eq_ignore_ascii_case("@reboot") {
        let message = "@reboot runs once at boot, with no times to expect it at: not monitored";
        importer.finding(origin, FindingKind::Skipped, message);
        return;
    }
    let (chosen, name) = match directive {
        Some(Directive::Valid { slug, name, .. }) => (slug, name),
        _ => (None, None),
    };
    let slug = match chosen {
        Some(slug) => SlugSource::Chosen(slug),
        None => SlugSource::Derived(from_command(&command)),
    };
    let detail = match user {
        Some(user) => format!("{command} (as {user})"),
        None => command.clone(),
    };
    importer.propose(Job {
        origin,
        slug,
        name: name.unwrap_or_else(|| command.clone()),
        expr,
        tz,
        paused: false,
        detail: Some(detail),
        command: Some(command),
    });
}
