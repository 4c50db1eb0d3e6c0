//! The encoding of the audit spool: records that could not be appended to the log while
//! opsdeck's database was unreachable, kept in a local file until it answers again (SPEC §8).
//! One JSON object per line, each carrying the SHA-256 of the line before it (`prev`, the
//! first line [`super::GENESIS_HASH`]), so a line changed, removed or reordered in the file is
//! found before anything from it reaches the log.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{AuditRecord, GENESIS_HASH};

#[derive(Serialize, Deserialize)]
struct Line {
    prev: String,
    record: AuditRecord,
}

/// Where a spool's chain stands: the hash the next line carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolHead(String);

impl Default for SpoolHead {
    fn default() -> Self {
        Self(GENESIS_HASH.to_owned())
    }
}

fn hash(line: &str) -> String {
    hex::encode(Sha256::digest(line.as_bytes()))
}

/// Encodes `records` as spool lines after `head` (each ending in `\n`) and moves `head`.
pub fn encode(head: &mut SpoolHead, records: &[AuditRecord]) -> String {
    let mut out = String::new();
    for record in records {
        let line = serde_json::to_string(&Line {
            prev: head.0.clone(),
            record: record.clone(),
        })
        .expect("an audit record always serialises");
        head.0 = hash(&line);
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Why a spool file cannot be replayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpoolBreak {
    #[error("line {line} of the audit spool is not a spooled record")]
    Unreadable { line: usize },
    #[error(
        "line {line} of the audit spool does not follow the line before it (changed, removed or reordered)"
    )]
    Broken { line: usize },
}

/// The records of a spool file's text, in order, and its head; `Err` when any line does not
/// chain. A last line without its `\n` (a write cut short by a crash) was never acknowledged
/// and is left out.
pub fn decode(text: &str) -> Result<(Vec<AuditRecord>, SpoolHead), SpoolBreak> {
    let mut head = SpoolHead::default();
    let mut records = Vec::new();
    let complete = match text.rfind('\n') {
        Some(end) => &text[..=end],
        None => "",
    };
    for (index, line) in complete.lines().enumerate() {
        let number = index + 1;
        let parsed: Line =
            serde_json::from_str(line).map_err(|_| SpoolBreak::Unreadable { line: number })?;
        if parsed.prev != head.0 {
            return Err(SpoolBreak::Broken { line: number });
        }
        head.0 = hash(line);
        records.push(parsed.record);
    }
    Ok((records, head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(action: &str) -> AuditRecord {
        AuditRecord {
            at: chrono::DateTime::from_timestamp_millis(1_700_000_000_123).unwrap(),
            actor: None,
            action: action.to_owned(),
            target: None,
            tenant_id: None,
            outcome: 200,
            client_addr: None,
            request_id: Some("r1".to_owned()),
            reason: None,
        }
    }

    #[test]
    fn round_trips_in_order_across_appends() {
        let mut head = SpoolHead::default();
        let mut text = encode(&mut head, &[record("a"), record("b")]);
        text.push_str(&encode(&mut head, &[record("c")]));
        let (records, decoded_head) = decode(&text).unwrap();
        let actions: Vec<_> = records.iter().map(|r| r.action.as_str()).collect();
        assert_eq!(actions, ["a", "b", "c"]);
        assert_eq!(decoded_head, head);
        assert_eq!(records[0], record("a"));
    }

    #[test]
    fn a_changed_removed_or_reordered_line_is_found() {
        let mut head = SpoolHead::default();
        let text = encode(&mut head, &[record("a"), record("b"), record("c")]);
        let lines: Vec<&str> = text.lines().collect();
        let changed = text.replacen("\"a\"", "\"x\"", 1);
        assert_eq!(decode(&changed), Err(SpoolBreak::Broken { line: 2 }));
        let removed = format!("{}\n{}\n", lines[0], lines[2]);
        assert_eq!(decode(&removed), Err(SpoolBreak::Broken { line: 2 }));
        let reordered = format!("{}\n{}\n{}\n", lines[1], lines[0], lines[2]);
        assert_eq!(decode(&reordered), Err(SpoolBreak::Broken { line: 1 }));
        assert_eq!(decode("garbage\n"), Err(SpoolBreak::Unreadable { line: 1 }));
    }

    #[test]
    fn a_torn_last_line_is_left_out() {
        let mut head = SpoolHead::default();
        let text = encode(&mut head, &[record("a"), record("b")]);
        let torn = &text[..text.len() - 5];
        let (records, _) = decode(torn).unwrap();
        assert_eq!(records.len(), 1);
    }
}
