//! The audit log: what callers append ([`AuditRecord`]), what the store keeps ([`AuditEntry`]),
//! how entries are chained ([`entry_hash`]) and how a chain is checked ([`ChainVerifier`],
//! [`verify_chain`]).
//!
//! Entries are numbered from 1 without gaps and each stores the hash of the one before it
//! ([`GENESIS_HASH`] for the first), so editing, inserting, reordering or deleting an entry
//! breaks the chain at that entry. Deleting only the newest entries cannot be seen from the
//! chain alone: the remaining prefix is a valid chain. Catching that needs the head
//! (seq and hash) kept somewhere the database's administrator cannot rewrite: a signed
//! [`checkpoint`], which [`verify_chain_to`] proves the chain still reaches. Entries appended
//! at the head by someone who can compute [`entry_hash`] (the hash has no key) still form a
//! valid chain, which later checkpoints sign like any other.
//!
//! Times are kept to the millisecond: SQLite stores unix milliseconds, so the hash covers
//! [`AuditRecord::at`] in whole milliseconds, backends store it truncated, and an entry reads
//! back exactly as [`Appended::entries`] gives it, on either backend.

pub mod checkpoint;
pub mod spool;
mod verify;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::TenantId;

pub use checkpoint::{Checkpoint, SignedCheckpoint};
pub use verify::{ChainBreak, ChainVerifier, VerifyReport, verify_chain, verify_chain_to};

/// The `prev_hash` of entry 1: 32 zero bytes, in hex.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Separates this encoding from any other SHA-256 input, and versions it.
const HASH_DOMAIN: &[u8] = b"opsdeck-audit-v1";

/// Who acted: an authenticated principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub id: String,
    pub name: String,
    /// How the principal authenticated (`token`, `session`, `oidc`, `proxy`, …).
    pub method: String,
}

/// What was acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `tenant`, `job`, `monitor`, `token`, `route`, …
    pub kind: String,
    pub id: String,
}

/// One event, as a caller appends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When it happened; kept to the millisecond (see the module documentation).
    pub at: DateTime<Utc>,
    /// `None` for anonymous requests and failed authentication.
    pub actor: Option<Actor>,
    /// `http.request`, `auth.login`, `auth.login_failed`, `token.created`, `job.retry`, …
    pub action: String,
    pub target: Option<Target>,
    /// The tenant the action concerns, when it concerns one.
    pub tenant_id: Option<TenantId>,
    /// The HTTP status answered, or 0 when there was none.
    pub outcome: u16,
    pub client_addr: Option<String>,
    pub request_id: Option<String>,
    /// The operator's reason, mandatory for write actions.
    pub reason: Option<String>,
}

/// A stored record: its place in the chain and the hashes that link it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// 1, 2, 3, … in append order, without gaps.
    pub seq: i64,
    pub record: AuditRecord,
    /// The `hash` of entry `seq - 1`, or [`GENESIS_HASH`]; lowercase hex.
    pub prev_hash: String,
    /// [`entry_hash`] of this entry; lowercase hex.
    pub hash: String,
}

impl AuditEntry {
    /// Builds the entry that follows `prev_hash` at `seq`, with `at` truncated to the
    /// millisecond and the hash computed: what a backend stores.
    pub fn chain(seq: i64, prev_hash: &str, record: &AuditRecord) -> AuditEntry {
        let record = std::slice::from_ref(record);
        let appended = continue_chain(Some((seq.saturating_sub(1), prev_hash)), record);
        let mut entries = appended.entries(record);
        // One record in, one entry out.
        entries.swap_remove(0)
    }

    /// Whether `hash` is what [`entry_hash`] gives for this entry's contents.
    pub fn hash_matches(&self) -> bool {
        entry_hash(self.seq, &self.prev_hash, &self.record) == self.hash
    }
}

/// Which entries [`AuditStore::list_audit`](crate::store::AuditStore::list_audit) returns:
/// every condition set must hold. Times compare with the stored, millisecond, times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditFilter {
    /// Matches the actor's id or name.
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub tenant_id: Option<TenantId>,
    /// Entries at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Entries strictly before this time.
    pub until: Option<DateTime<Utc>>,
    /// Cursor for the next page: entries with `seq` below this (pass the last seq received).
    pub before_seq: Option<i64>,
    /// At most this many entries.
    pub limit: u32,
}

impl AuditFilter {
    pub const DEFAULT_LIMIT: u32 = 100;
}

impl Default for AuditFilter {
    /// No conditions, [`AuditFilter::DEFAULT_LIMIT`] entries.
    fn default() -> Self {
        Self {
            actor: None,
            action: None,
            target_kind: None,
            target_id: None,
            tenant_id: None,
            since: None,
            until: None,
            before_seq: None,
            limit: Self::DEFAULT_LIMIT,
        }
    }
}

/// Where an append put its records, in order: the first one's seq, the hash it continues
/// from, and each one's hash. With the records it gives the stored entries; on its own it is
/// all a backend needs besides them, so an append copies no record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The seq of the first record; the others follow without gaps.
    pub first_seq: i64,
    /// The hash of the entry before the first record, or [`GENESIS_HASH`].
    pub prev_hash: String,
    /// [`entry_hash`] of each record, in order.
    pub hashes: Vec<String>,
}

impl Appended {
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// The seq of the `index`th record.
    pub fn seq(&self, index: usize) -> i64 {
        // An append holds far fewer than i64::MAX records.
        self.first_seq.saturating_add(index as i64)
    }

    /// The hash the `index`th record's entry stores as its predecessor's.
    pub fn prev_hash(&self, index: usize) -> &str {
        match index.checked_sub(1) {
            None => &self.prev_hash,
            Some(before) => &self.hashes[before],
        }
    }

    /// The stored entries, given the records this append was made of.
    pub fn entries(&self, records: &[AuditRecord]) -> Vec<AuditEntry> {
        records
            .iter()
            .zip(&self.hashes)
            .enumerate()
            .map(|(index, (record, hash))| AuditEntry {
                seq: self.seq(index),
                record: AuditRecord {
                    at: truncate_to_millis(record.at),
                    ..record.clone()
                },
                prev_hash: self.prev_hash(index).to_owned(),
                hash: hash.clone(),
            })
            .collect()
    }
}

/// How `records`, in order, continue a chain whose newest entry has `head` (its seq and
/// hash; `None` for an empty log): what an append stores besides the records.
pub fn continue_chain(head: Option<(i64, &str)>, records: &[AuditRecord]) -> Appended {
    let (last_seq, head_hash) = head.unwrap_or((0, GENESIS_HASH));
    let first_seq = last_seq.saturating_add(1);
    let mut hashes: Vec<String> = Vec::with_capacity(records.len());
    for (index, record) in records.iter().enumerate() {
        let prev_hash = hashes.last().map_or(head_hash, String::as_str);
        let seq = first_seq.saturating_add(index as i64);
        hashes.push(entry_hash(seq, prev_hash, record));
    }
    Appended {
        first_seq,
        prev_hash: head_hash.to_owned(),
        hashes,
    }
}

/// `at` without its sub-millisecond part: the precision the audit log keeps.
pub fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    // Every DateTime<Utc> has a unix-millisecond value in range, so this never falls back.
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

/// SHA-256, in lowercase hex, of an unambiguous encoding of `seq`, `prev_hash` and every field
/// of `record`: a version tag, then each field in declaration order, integers big-endian,
/// strings as a u64 byte length then UTF-8, optional values as a 0 byte (absent) or a 1 byte
/// followed by the value. `at` enters as unix milliseconds.
pub fn entry_hash(seq: i64, prev_hash: &str, record: &AuditRecord) -> String {
    // Encoded whole, then hashed in one pass: feeding the hasher field by field costs more
    // than the copy.
    let mut m: Vec<u8> = Vec::with_capacity(256);
    m.extend_from_slice(HASH_DOMAIN);
    m.extend_from_slice(&seq.to_be_bytes());
    text(&mut m, prev_hash);
    m.extend_from_slice(&record.at.timestamp_millis().to_be_bytes());
    optional(&mut m, record.actor.as_ref(), |m, actor| {
        text(m, &actor.id);
        text(m, &actor.name);
        text(m, &actor.method);
    });
    text(&mut m, &record.action);
    optional(&mut m, record.target.as_ref(), |m, target| {
        text(m, &target.kind);
        text(m, &target.id);
    });
    optional_text(&mut m, record.tenant_id.as_ref().map(TenantId::as_str));
    m.extend_from_slice(&record.outcome.to_be_bytes());
    optional_text(&mut m, record.client_addr.as_deref());
    optional_text(&mut m, record.request_id.as_deref());
    optional_text(&mut m, record.reason.as_deref());
    hex::encode(Sha256::digest(&m))
}

fn text(m: &mut Vec<u8>, value: &str) {
    // usize always fits in u64 on the platforms Rust supports.
    m.extend_from_slice(&(value.len() as u64).to_be_bytes());
    m.extend_from_slice(value.as_bytes());
}

fn optional<T: ?Sized>(m: &mut Vec<u8>, value: Option<&T>, encode: impl FnOnce(&mut Vec<u8>, &T)) {
    match value {
        None => m.push(0),
        Some(value) => {
            m.push(1);
            encode(m, value);
        }
    }
}

fn optional_text(m: &mut Vec<u8>, value: Option<&str>) {
    optional(m, value, text);
}

#[cfg(test)]
mod tests;
