//! Unit tests of `cron import`: each format read from text as a user would have it, with
//! the monitors it gives and the findings (kind, line, reason) for what it cannot use.

mod crontab;
mod kubernetes;
mod slugs;
mod vercel;
mod wiring;

use std::path::Path;

use super::*;

/// Reads one file with no default zone.
pub(crate) fn import(format: Format, text: &str) -> Import {
    import_in(format, text, None)
}

pub(crate) fn import_in(format: Format, text: &str, tz: Option<&str>) -> Import {
    let mut importer = Importer::new(tz).expect("valid default zone");
    importer.add("jobs", format, text);
    importer.finish()
}

/// `slug schedule tz` of each monitor, in order.
pub(crate) fn rows(import: &Import) -> Vec<String> {
    import
        .monitors
        .iter()
        .map(|m| format!("{} {} {}", m.spec.slug(), m.expr(), m.tz()))
        .collect()
}

/// `line kind: message` of each finding.
pub(crate) fn findings(import: &Import) -> Vec<(usize, FindingKind, String)> {
    import
        .findings
        .iter()
        .map(|f| (f.origin.line, f.kind, f.message.clone()))
        .collect()
}

/// The finding on `line`, which must exist.
pub(crate) fn finding_on(import: &Import, line: usize) -> &Finding {
    import
        .findings
        .iter()
        .find(|f| f.origin.line == line)
        .unwrap_or_else(|| panic!("no finding on line {line}: {:?}", findings(import)))
}
