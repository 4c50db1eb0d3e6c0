//! `opsdeck cron import`: reads the files, prints the monitors as a table with the line
//! that wires each job (`opsdeck exec …` or its ping URL), the findings grouped by kind,
//! then a summary; `--apply` hands the monitors to [`super::apply`].

use std::io::{Read as _, Write};
use std::path::Path;
use std::process::ExitCode;

use opsdeck_core::cron::import::{Finding, FindingKind, Format, Import, ImportedMonitor, Importer};

use super::ImportArgs;
use super::apply::{Target, apply};

/// Longest name shown in the table; the full one is what gets created.
const NAME_SHOWN_CHARS: usize = 60;

pub async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let target = match (args.apply, args.url.as_deref(), args.token.as_deref()) {
        (false, _, _) => None,
        (true, Some(url), Some(token)) if !token.trim().is_empty() => Some(Target {
            url: url.to_owned(),
            token: token.trim().to_owned(),
        }),
        (true, None, _) => {
            return usage("--apply needs opsdeck's URL: pass --url or set OPSDECK_URL");
        }
        (true, _, _) => {
            return usage("--apply needs an admin token: set OPSDECK_TOKEN (or pass --token)");
        }
    };
    let mut importer = match Importer::new(args.tz.as_deref()) {
        Ok(importer) => importer,
        Err(error) => return usage(&format!("--tz: {error}")),
    };
    for path in &args.files {
        let shown = path.display().to_string();
        match read(path) {
            Ok(text) => {
                let format = args.format.unwrap_or_else(|| Format::guess(path, &text));
                importer.add(&shown, format, &text);
            }
            Err(error) => importer.unreadable(&shown, &error.to_string()),
        }
    }
    let import = importer.finish();
    print_report(
        &import,
        args.files.len(),
        args.url.as_deref(),
        target.is_none(),
    )?;
    let applied_ok = match target {
        Some(target) => apply(&target, &import.monitors).await?,
        None => true,
    };
    Ok(if import.is_clean() && applied_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn usage(message: &str) -> anyhow::Result<ExitCode> {
    eprintln!("error: {message}");
    Ok(ExitCode::from(2))
}

fn read(path: &Path) -> std::io::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}

fn print_report(
    import: &Import,
    files: usize,
    url: Option<&str>,
    dry_run: bool,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if import.monitors.is_empty() {
        writeln!(out, "No monitors found.")?;
    } else {
        print_table(&mut out, &import.monitors)?;
        print_wiring(&mut out, &import.monitors, url)?;
    }
    let groups = [
        (FindingKind::Invalid, "Could not import"),
        (FindingKind::Skipped, "Skipped"),
        (FindingKind::Note, "Notes"),
    ];
    for (kind, title) in groups {
        let found: Vec<&Finding> = import.findings.iter().filter(|f| f.kind == kind).collect();
        if found.is_empty() {
            continue;
        }
        writeln!(out, "\n{title} ({}):", found.len())?;
        for finding in found {
            writeln!(out, "  {}: {}", finding.origin, finding.message)?;
        }
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    writeln!(
        out,
        "\n{} from {}; {} could not be read, {} skipped.",
        plural(import.monitors.len(), "monitor", "monitors"),
        plural(files, "file", "files"),
        plural(import.count(FindingKind::Invalid), "job", "jobs"),
        import.count(FindingKind::Skipped),
    )?;
    if dry_run {
        writeln!(
            out,
            "Dry run: nothing was created. Run again with --apply (with --url and --token, or OPSDECK_URL and OPSDECK_TOKEN) to create them."
        )?;
    }
    out.flush()
}

/// Per job, what makes it report: its crontab command wrapped in `opsdeck exec`, or the
/// URL it pings when it succeeds.
fn print_wiring(
    out: &mut impl Write,
    monitors: &[ImportedMonitor],
    url: Option<&str>,
) -> std::io::Result<()> {
    let base = url.map_or("<opsdeck URL>", |u| u.trim_end_matches('/'));
    let width = monitors
        .iter()
        .map(|m| m.spec.slug().as_str().len())
        .max()
        .unwrap_or(0);
    let wrapped = monitors.iter().filter(|m| m.command.is_some()).count();
    let header = match (wrapped, monitors.len() - wrapped) {
        (_, 0) => "Wiring: in each crontab line, put the job's line in place of its command.",
        (0, _) => "Wiring: each job calls its ping URL when it succeeds.",
        _ => {
            "Wiring: in each crontab line, put the job's line in place of its command; the \
             other jobs call their ping URL when they succeed."
        }
    };
    writeln!(out, "\n{header}")?;
    for monitor in monitors {
        let slug = monitor.spec.slug().as_str();
        let wire = monitor
            .exec_line()
            .unwrap_or_else(|| format!("{base}/ping/<ingest key>/{slug}"));
        writeln!(out, "  {slug:<width$}  {wire}")?;
    }
    let key = "an ingest key (`opsdeck token create --name jobs --scopes checkins`)";
    if wrapped > 0 {
        writeln!(
            out,
            "opsdeck exec reads opsdeck's URL from OPSDECK_URL and {key} from OPSDECK_PING_KEY."
        )?;
    } else {
        writeln!(out, "The URLs take {key}.")?;
    }
    Ok(())
}

fn print_table(out: &mut impl Write, monitors: &[ImportedMonitor]) -> std::io::Result<()> {
    let paused = monitors.iter().any(|m| m.spec.is_paused());
    let rows: Vec<[String; 6]> = monitors
        .iter()
        .map(|m| {
            let name = m.spec.name().as_str();
            let name = if name.chars().count() > NAME_SHOWN_CHARS {
                name.chars().take(NAME_SHOWN_CHARS - 1).collect::<String>() + "…"
            } else {
                name.to_owned()
            };
            [
                m.spec.slug().to_string(),
                m.expr().to_owned(),
                m.tz().to_owned(),
                if m.spec.is_paused() { "yes" } else { "" }.to_owned(),
                m.origin.to_string(),
                name,
            ]
        })
        .collect();
    let header = ["SLUG", "SCHEDULE", "TZ", "PAUSED", "SOURCE", "NAME"].map(str::to_owned);
    let width = |column: usize| {
        std::iter::once(&header)
            .chain(&rows)
            .map(|row| row[column].chars().count())
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..5).map(width).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column == 3 && !paused {
                continue;
            }
            match widths.get(column) {
                Some(&w) => line.push_str(&format!("{cell:<w$}  ")),
                None => line.push_str(cell),
            }
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}
