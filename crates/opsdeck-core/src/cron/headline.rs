//! The line of a job's output that says what went wrong ([`error_headline`]), for the places
//! that give a job one line: the Cron list, the overview's cron widget, a monitor's header.
//! A run keeps its whole redacted error; this only picks from it.
//!
//! A failing job rarely says what failed on its last line. The shapes people meet:
//! - an uncaught exception: Python's `SomethingError: message` below its traceback; Node's
//!   `Error: …` above its `at …` frames, with npm's report after them; Java's
//!   `Exception in thread "main" …` and its last `Caused by:` (the root cause); Ruby's
//!   `job.rb:3:in 'fetch': message (Class)` above its `from …` frames; Go's `panic: …`
//!   above its goroutines; Rust's `thread 'main' panicked at …:` and the message below;
//! - a line logged at error level (`ERROR`, `level=error`, `fatal: …`, `pg_dump: error: …`);
//! - a shell script stopped by `set -e`: the failing command's complaint.
//!
//! So each of the last [`WINDOW_LINES`] meaningful lines is weighed — stack frames, code
//! excerpts, `^^^` markers, bare markup and the trailers wrappers print (`npm ERR!`,
//! `make: ***`, `exit status 1`, `Node.js v20`) are not meaningful — and the heaviest
//! wins, the latest among equals: the error that ended the job comes last. It is written
//! on one line of at most [`HEADLINE_MAX_CHARS`] characters.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::{Regex, RegexSet};

/// The longest headline, in characters.
pub const HEADLINE_MAX_CHARS: usize = 200;
/// How many meaningful lines, counted from the end, may hold the headline: an error
/// logged long before the end was not what stopped the job.
const WINDOW_LINES: usize = 40;
/// Joins the two lines of a headline read from a shell-style complaint.
const JOIN: &str = " · ";

/// How strongly a line says what failed, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Weight {
    /// What a wrapper prints after the job failed: `npm ERR!`, `make: ***`, `exit status 1`.
    Trailer,
    Plain,
    /// Words of failure: `failed`, `Permission denied`, `No such file`.
    Telling,
    /// An exception, a panic, a line logged at error level.
    Error,
}

/// What a line of output is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Blank, markers, bare markup, a fragment cut off by a limit.
    Noise,
    /// A stack frame or code excerpt; `calls` for the `at …`/`from …` frames printed
    /// below the error they belong to.
    Frame {
        calls: bool,
    },
    Line(Weight),
}

#[derive(Debug)]
struct Entry<'a> {
    /// As it came, for finding it again in the text.
    raw: &'a str,
    /// Without colour codes or trailing space.
    clean: Cow<'a, str>,
    kind: Kind,
}

static ANSI: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)").expect("valid")
});
static PYTHON_FRAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"^\s*File ".*", line \d+"#).expect("valid"));
static PYTHON_HEADER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^Traceback \(most recent call last\):").expect("valid"));
static PYTHON_CHAIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"^(?:During handling of the above exception|The above exception was the direct cause)",
    )
    .expect("valid")
});
static CALL_FRAME: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        r"^\s+at\s+\S.*(?:\d|\))(?: \{)?$",
        r"^\s+from\s+\S+:\d+:in\s",
        r"^\s*\.\.\. \d+ (?:more|common frames omitted)",
    ])
    .expect("valid")
});
static OTHER_FRAME: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        r"^goroutine \d+ \[.*\]:$",
        r"^\s+\S+\.go:\d+(?: \+0x[0-9a-f]+)?$",
        r"^created by \S",
        r"^\S+\.(?:[cm]?[jt]sx?):\d+$",
        r"^node:internal/\S+:\d+$",
    ])
    .expect("valid")
});
static GO_FILE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^\s+\S+\.go:\d+").expect("valid"));
static TRAILER: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        r"^npm (?:ERR!|error|warn|notice)(?:\s|$)",
        r"^make(?:\[\d+\])?: \*\*\*",
        r"^(?:exit status|exit code) \d+$",
        r"^Node\.js v\d",
        r"^error Command failed with exit code \d+",
        r"^info Visit https?://",
        r"^ELIFECYCLE\b",
        r"^ERR_PNPM_\w+",
        r"^note: run with .RUST_BACKTRACE",
        r"^Command exited with non-zero status",
        r"^\[process exited",
        r"^Process finished with exit code",
        r#"^error: script ".*" exited with code"#,
    ])
    .expect("valid")
});
static ERROR: LazyLock<RegexSet> = LazyLock::new(|| {
    RegexSet::new([
        // Exceptions by class name: `ValueError: …`, `java.io.IOException`, `Error [CODE]: …`.
        r#"^(?:Exception in thread "[^"]*" |Caused by: |Uncaught |Unhandled ?\w*: )?(?:[A-Za-z_$][\w$]*(?:\.|::))*[A-Za-z_$][\w$]*(?:Error|Exception|Exit|Interrupt|Fault)\b(?: \[[\w-]+\])?(?::.*)?$"#,
        r"^(?:panic|fatal error|fatal|FATAL|PANIC|ERROR|Error|error(?:\[[\w-]+\])?):\s",
        r"(?:^|[\s:])(?i:error|fatal)(?:\[[\w-]+\])?:\s",
        r"^thread '[^']*' panicked at ",
        r"\b(?:ERROR|FATAL|CRITICAL|CRIT|PANIC|SEVERE|EMERG)\b",
        r"(?i)\blevel=(?:error|fatal|crit(?:ical)?|panic)\b",
        r#"(?i)"(?:level|severity)"\s*:\s*"(?:error|fatal|crit(?:ical)?|panic)""#,
        r"(?i)\[(?:error|fatal|crit(?:ical)?)\]",
        r"^[EF], \[",
        r"^HTTP [45]\d\d\b",
    ])
    .expect("valid")
});
static TELLING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:errors?|fail(?:s|ed|ure)?|fatal|exception|panic(?:ked)?|denied|refused|unreachable|cannot|can't|could not|couldn't|unable|not found|no such|timed out|timeout|killed|abort(?:ed)?|segmentation fault|core dumped|out of memory|invalid|forbidden|unauthori[sz]ed)\b",
    )
    .expect("valid")
});
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"<[^>]*>").expect("valid"));
static RUST_PANIC: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^thread '[^']*' panicked at .*:$").expect("valid"));
static RUBY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\S+:\d+:in [`'][^`']*'?: (.+) \(([A-Z][\w:]*)\)$").expect("valid")
});
static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^(?:Exception in thread "[^"]*" |Caused by: )"#).expect("valid")
});

/// What `text` (a run's error or output) says went wrong, on one line of at most
/// [`HEADLINE_MAX_CHARS`] characters; `None` when it says nothing.
pub fn error_headline(text: &str) -> Option<String> {
    let entries = classify(text);
    let chosen = choose(&entries)?;
    Some(write(&entries, chosen))
}

/// The line, as it stands in `text`, that [`error_headline`] is read from.
pub(crate) fn headline_line(text: &str) -> Option<&str> {
    let entries = classify(text);
    choose(&entries).map(|index| entries[index].raw)
}

fn classify(text: &str) -> Vec<Entry<'_>> {
    let mut entries: Vec<Entry<'_>> = text
        .split('\n')
        .map(|line| {
            // A progress bar redraws its line after `\r`: what it drew last is what shows.
            let raw = line
                .rsplit('\r')
                .find(|part| !part.trim().is_empty())
                .unwrap_or("");
            let clean = match ANSI.replace_all(raw, "") {
                Cow::Borrowed(text) => Cow::Borrowed(text.trim_end()),
                Cow::Owned(text) => Cow::Owned(text.trim_end().to_owned()),
            };
            Entry {
                raw,
                clean,
                kind: Kind::Noise,
            }
        })
        .collect();
    let mut in_traceback = false;
    for index in 0..entries.len() {
        let next_is_go_file = entries
            .get(index + 1)
            .is_some_and(|next| GO_FILE.is_match(&next.clean));
        let line = entries[index].clean.as_ref();
        let indented = line.starts_with(char::is_whitespace);
        let kind = if is_noise(line) {
            Kind::Noise
        } else if PYTHON_HEADER.is_match(line) || PYTHON_FRAME.is_match(line) {
            in_traceback = true;
            Kind::Frame { calls: false }
        } else if PYTHON_CHAIN.is_match(line) {
            in_traceback = false;
            Kind::Noise
        } else if in_traceback && indented {
            Kind::Frame { calls: false }
        } else if in_traceback {
            // The first line back at the margin after a traceback is its exception.
            in_traceback = false;
            Kind::Line(Weight::Error)
        } else if CALL_FRAME.is_match(line) {
            Kind::Frame { calls: true }
        } else if OTHER_FRAME.is_match(line) || next_is_go_file {
            Kind::Frame { calls: false }
        } else {
            Kind::Line(weigh(line.trim_start()))
        };
        entries[index].kind = kind;
    }
    raise_lines_above_frames(&mut entries);
    entries
}

fn is_noise(line: &str) -> bool {
    let trimmed = line.trim();
    // `…` starts text cut off by a limit: a fragment of a line, not one.
    trimmed.starts_with('…')
        || !TAG
            .replace_all(trimmed, "")
            .chars()
            .any(char::is_alphanumeric)
}

fn weigh(line: &str) -> Weight {
    if TRAILER.is_match(line) {
        Weight::Trailer
    } else if ERROR.is_match(line) {
        Weight::Error
    } else if TELLING.is_match(line) {
        Weight::Telling
    } else {
        Weight::Plain
    }
}

/// The line right above a run of `at …` or `from …` frames is the error they trace
/// (Node, Java, Ruby), whatever its words.
fn raise_lines_above_frames(entries: &mut [Entry<'_>]) {
    let mut previous: Option<usize> = None;
    for index in 0..entries.len() {
        match entries[index].kind {
            Kind::Noise => {}
            Kind::Frame { calls: true } => {
                if let Some(above) = previous.take()
                    && matches!(entries[above].kind, Kind::Line(w) if w > Weight::Trailer)
                {
                    entries[above].kind = Kind::Line(Weight::Error);
                }
            }
            Kind::Frame { calls: false } => previous = None,
            Kind::Line(_) => previous = Some(index),
        }
    }
}

/// The index of the heaviest of the last [`WINDOW_LINES`] lines, the latest among equals.
fn choose(entries: &[Entry<'_>]) -> Option<usize> {
    entries
        .iter()
        .enumerate()
        .rev()
        .filter_map(|(index, entry)| match entry.kind {
            Kind::Line(weight) => Some((weight, index)),
            _ => None,
        })
        .take(WINDOW_LINES)
        .max()
        .map(|(_, index)| index)
}

/// The headline read from line `chosen`.
fn write(entries: &[Entry<'_>], chosen: usize) -> String {
    let line = entries[chosen].clean.trim();
    let next_line = || {
        entries[chosen + 1..]
            .iter()
            .find(|entry| entry.kind != Kind::Noise)
            .filter(|entry| matches!(entry.kind, Kind::Line(_)))
    };
    let previous_line = || {
        entries[..chosen]
            .iter()
            .rev()
            .find(|entry| entry.kind != Kind::Noise)
            .filter(|entry| entry.kind == Kind::Line(Weight::Telling))
    };
    let mut joined = false;
    let text = match entries[chosen].kind {
        // Rust ≥ 1.73 prints the panic's message on the line below its location.
        _ if RUST_PANIC.is_match(line) => match next_line() {
            Some(next) => format!("{line} {}", next.clean.trim()),
            None => line.to_owned(),
        },
        Kind::Line(Weight::Error) => match RUBY.captures(line) {
            Some(ruby) => format!("{}: {}", &ruby[2], &ruby[1]),
            None => PREFIX.replace(line, "").into_owned(),
        },
        // A command's complaint often takes two lines (`tar: x: Cannot open: Permission
        // denied`, then `tar: Error is not recoverable`): both, when both tell.
        Kind::Line(Weight::Telling) => match previous_line() {
            Some(previous) => {
                joined = true;
                [previous.clean.trim(), line].join(JOIN)
            }
            None => line.to_owned(),
        },
        _ => line.to_owned(),
    };
    let one_line = single_spaced(&text);
    if joined && one_line.chars().count() > HEADLINE_MAX_CHARS {
        // Too long for both: the later line is the one that stopped the job.
        return cut(&single_spaced(line));
    }
    cut(&one_line)
}

fn single_spaced(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cut(text: &str) -> String {
    if text.chars().count() <= HEADLINE_MAX_CHARS {
        return text.to_owned();
    }
    let kept: String = text.chars().take(HEADLINE_MAX_CHARS - 1).collect();
    format!("{}…", kept.trim_end())
}
