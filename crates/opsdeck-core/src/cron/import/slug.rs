//! Slugs for imported jobs: [`slugify`] makes any text slug-safe, [`from_command`] finds
//! the part of a shell command that names the job (`/usr/local/bin/backup.sh` in
//! `cd /srv && nice -n 10 /usr/local/bin/backup.sh >> /var/log/b.log 2>&1`), and
//! [`unique`] numbers a slug that is already taken.

use crate::ids::{SLUG_MAX_CHARS, Slug};

/// The slug of a job nothing could be derived from.
const FALLBACK: &str = "cron-job";

/// Room left for a `-NNN` suffix, so a numbered slug still fits.
const BASE_MAX_CHARS: usize = SLUG_MAX_CHARS - 8;

/// Lowercase ASCII letters and digits, `_`, and `-` for every other run of characters;
/// no leading or trailing `-`. Empty text gives the fallback slug.
pub(super) fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    for c in text.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let mut slug: String = slug.chars().take(BASE_MAX_CHARS).collect();
    while slug.ends_with('-') {
        slug.pop();
    }
    if slug.is_empty() {
        FALLBACK.to_owned()
    } else {
        slug
    }
}

/// `base` slugified, or with `-2`, `-3`… appended until `taken` says no.
pub(super) fn unique(base: &str, taken: impl Fn(&Slug) -> bool) -> Slug {
    let base = slugify(base);
    (1u32..)
        .map(|n| match n {
            1 => base.clone(),
            n => format!("{base}-{n}"),
        })
        .filter_map(|candidate| Slug::parse(&candidate).ok())
        .find(|slug| !taken(slug))
        .unwrap_or_else(|| unreachable_fallback(&base))
}

/// `(1u32..)` runs out only after four billion taken slugs; answer something valid anyway.
fn unreachable_fallback(base: &str) -> Slug {
    Slug::parse(base).unwrap_or_else(|_| Slug::parse(FALLBACK).expect("fallback is a slug"))
}

/// Commands that only prepare the job; the job is what comes after them.
const PREPARATION: &[&str] = &[
    "cd", "export", "source", ".", "set", "umask", "sleep", "test", "[", "true", ":",
];

/// Programs that run the rest of their arguments: (name, options that take a value,
/// positional arguments before the command).
const WRAPPERS: &[(&str, &[&str], usize)] = &[
    ("env", &["-u", "-C", "-S"], 0),
    ("nice", &["-n"], 0),
    ("ionice", &["-c", "-n", "-p"], 0),
    ("nohup", &[], 0),
    ("exec", &[], 0),
    ("time", &["-f", "-o"], 0),
    ("chronic", &[], 0),
    ("cronic", &[], 0),
    ("run-one", &[], 0),
    ("sudo", &["-u", "-g", "-C", "-h", "-p"], 0),
    ("timeout", &["-s", "-k", "--signal", "--kill-after"], 1),
    (
        "flock",
        &["-w", "-E", "--timeout", "--conflict-exit-code"],
        1,
    ),
    ("setlock", &[], 1),
    ("xargs", &["-n", "-I", "-P", "-d"], 0),
];

/// Interpreters: the job is the script they run.
const INTERPRETERS: &[&str] = &[
    "sh", "bash", "zsh", "dash", "ksh", "python", "python2", "python3", "php", "node", "ruby",
    "perl", "deno", "bun", "uv",
];

/// Programs whose next word says which job runs (`php artisan schedule:run`).
const RUNNERS: &[&str] = &[
    "artisan",
    "manage",
    "rake",
    "npm",
    "yarn",
    "pnpm",
    "make",
    "console",
    "bundle",
    "cargo",
    "drush",
    "wp",
    "run-parts",
    "docker",
    "kubectl",
    "java",
    "mix",
    "just",
];

/// Script extensions left out of slugs.
const EXTENSIONS: &[&str] = &[
    ".sh", ".bash", ".py", ".php", ".rb", ".pl", ".js", ".ts", ".mjs",
];

/// The slug-worthy part of a shell command, slugified.
pub(super) fn from_command(command: &str) -> String {
    let segments = command
        .split("&&")
        .flat_map(|s| s.split("||"))
        .flat_map(|s| s.split(';'));
    for segment in segments {
        // A pipeline is named after its first program, which does the work.
        let first = segment.split('|').next().unwrap_or("");
        let named = name_words(&words(first));
        if !named.is_empty() {
            return slugify(&named.join("-"));
        }
    }
    slugify(command)
}

/// The words of one simple command: quotes dropped, redirections and their targets gone.
fn words(segment: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut skip_next = false;
    for word in segment.split_whitespace() {
        if std::mem::take(&mut skip_next) {
            continue;
        }
        let bare = word.trim_start_matches(|c: char| c.is_ascii_digit() || c == '&');
        if bare.starts_with('>') || bare.starts_with('<') {
            // `>> file` takes the next word; `>file` and `2>&1` carry their target.
            skip_next = bare.trim_start_matches(['>', '<', '&']).is_empty();
            continue;
        }
        out.push(word.trim_matches(['"', '\'']).to_owned());
    }
    out
}

/// Walks past assignments, wrappers and interpreters to the program or script, and the
/// word after it for runners; empty for a command that only prepares (`cd /srv`).
fn name_words(words: &[String]) -> Vec<String> {
    let mut rest = words;
    // `FOO=bar cmd`: assignments before the program.
    while rest.first().is_some_and(|w| is_assignment(w)) {
        rest = &rest[1..];
    }
    loop {
        let Some(first) = rest.first() else {
            return Vec::new();
        };
        // Builtins are written bare: `/opt/jobs/export.rb` is a job, `export` is not.
        if PREPARATION.contains(&first.as_str()) {
            return Vec::new();
        }
        let program = base_name(first);
        if let Some((_, valued, positional)) = WRAPPERS.iter().find(|(n, _, _)| *n == program) {
            rest = skip_options(&rest[1..], valued, *positional);
            while rest.first().is_some_and(|w| is_assignment(w)) {
                rest = &rest[1..];
            }
        } else if INTERPRETERS.contains(&program.as_str()) {
            let after = &rest[1..];
            match after.iter().position(|w| w == "-c" || w == "-m") {
                // `sh -c "backup.sh --full"`: the quoted command was split into words.
                Some(at) if after[..at].iter().all(|w| w.starts_with('-')) => {
                    rest = &after[at + 1..];
                }
                _ => {
                    let next = skip_options(after, &[], 0);
                    if next.is_empty() {
                        return vec![program];
                    }
                    rest = next;
                }
            }
        } else {
            let mut named = vec![program.clone()];
            if RUNNERS.contains(&program.as_str()) {
                let args = rest[1..].iter().filter(|w| !w.starts_with('-'));
                // `npm run cleanup`, `bundle exec rake x`: the verb alone says little.
                for arg in args.take(3) {
                    named.push(base_name(arg));
                    if !matches!(arg.as_str(), "run" | "exec" | "rake" | "-jar") {
                        break;
                    }
                }
            }
            return named;
        }
    }
}

/// Skips `-x`, `--long`, the values of the `valued` options, then `positional` words.
fn skip_options<'a>(mut rest: &'a [String], valued: &[&str], positional: usize) -> &'a [String] {
    while let Some(word) = rest.first() {
        if !word.starts_with('-') || word == "-" {
            break;
        }
        let takes_value = valued.contains(&word.as_str());
        rest = &rest[if takes_value { 2 } else { 1 }.min(rest.len())..];
    }
    &rest[positional.min(rest.len())..]
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// The last path component, without a script extension.
fn base_name(word: &str) -> String {
    let base = word
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(word);
    EXTENSIONS
        .iter()
        .find_map(|ext| base.strip_suffix(ext).filter(|s| !s.is_empty()))
        .unwrap_or(base)
        .to_owned()
}
