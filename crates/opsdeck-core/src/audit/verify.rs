//! Checking a chain: [`ChainVerifier`] takes entries in seq order, in as many batches as the
//! caller likes, and reports the first place the chain breaks; [`verify_chain`] feeds it
//! from a store. Given a checkpoint ([`ChainVerifier::reaching`], [`verify_chain_to`]) it
//! also proves the chain still reaches the head the checkpoint signed.

use std::fmt;

use serde::Serialize;

use super::{AuditEntry, Checkpoint, GENESIS_HASH};
use crate::store::{AuditStore, StoreResult};

/// Where and how a chain stops being intact. Each variant names the first entry found wrong;
/// an entry edited together with its own hash shows as the next entry not linking to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChainBreak {
    /// The entry's contents (or seq, or prev_hash) were changed: its hash no longer matches.
    HashMismatch { seq: i64 },
    /// The entry does not follow the one before it: an entry was inserted, replaced or moved.
    PrevHashMismatch { seq: i64 },
    /// Entries `expected_seq..found_seq` are absent: they were deleted.
    MissingEntry { expected_seq: i64, found_seq: i64 },
    /// An entry numbered at or below one already checked: duplicated or out of order.
    OutOfOrder { expected_seq: i64, found_seq: i64 },
    /// The entry at a checkpoint's seq is intact in the chain but is not the entry the
    /// checkpoint signed: entries up to it were deleted and others appended since.
    CheckpointMismatch { seq: i64 },
    /// The chain is intact but ends at `last_seq` (0: the log is empty), before the
    /// checkpoint's seq: the newest entries were deleted.
    MissingTail { last_seq: i64, checkpoint_seq: i64 },
}

impl ChainBreak {
    /// The seq of the first entry that is wrong or missing.
    pub fn seq(&self) -> i64 {
        match *self {
            ChainBreak::HashMismatch { seq } | ChainBreak::PrevHashMismatch { seq } => seq,
            ChainBreak::MissingEntry { expected_seq, .. }
            | ChainBreak::OutOfOrder { expected_seq, .. } => expected_seq,
            ChainBreak::CheckpointMismatch { seq } => seq,
            ChainBreak::MissingTail { last_seq, .. } => last_seq.saturating_add(1),
        }
    }
}

impl fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ChainBreak::HashMismatch { seq } => write!(
                f,
                "audit entry {seq} was altered: its hash does not match its contents"
            ),
            ChainBreak::PrevHashMismatch { seq: 1 } => write!(
                f,
                "audit entry 1 does not start the chain: its prev_hash is not the genesis hash"
            ),
            ChainBreak::PrevHashMismatch { seq } => write!(
                f,
                "audit entry {seq} does not link to entry {}: an entry was altered, inserted \
                 or moved",
                seq.saturating_sub(1)
            ),
            ChainBreak::MissingEntry {
                expected_seq,
                found_seq,
            } if found_seq.checked_sub(expected_seq) == Some(1) => write!(
                f,
                "audit entry {expected_seq} is missing: the next stored entry is {found_seq}"
            ),
            ChainBreak::MissingEntry {
                expected_seq,
                found_seq,
            } => write!(
                f,
                "audit entries {expected_seq} to {} are missing: the next stored entry is \
                 {found_seq}",
                found_seq.saturating_sub(1)
            ),
            ChainBreak::OutOfOrder {
                expected_seq,
                found_seq,
            } => write!(
                f,
                "audit entry {found_seq} appears where entry {expected_seq} was expected: \
                 duplicated or out of order"
            ),
            ChainBreak::CheckpointMismatch { seq } => write!(
                f,
                "audit entry {seq} is not the entry the checkpoint signed: its hash differs, so \
                 entries up to it were deleted and others appended in their place"
            ),
            ChainBreak::MissingTail {
                last_seq,
                checkpoint_seq,
            } => write!(
                f,
                "audit entries after seq {last_seq} up to the checkpoint's seq {checkpoint_seq} \
                 are missing: the newest entries were deleted"
            ),
        }
    }
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// How many entries were found intact, from entry 1 on.
    pub checked: u64,
    /// The seq of the last intact entry; `None` when there was none.
    pub last_seq: Option<i64>,
    /// The first problem found; checking stops there.
    pub first_break: Option<ChainBreak>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_break.is_none()
    }
}

/// Checks entries fed in seq order: numbering continues from 1 without gaps, each
/// `prev_hash` is the previous entry's `hash` (the genesis hash for entry 1), and each `hash`
/// matches its entry. Entries after the first break are ignored.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    next_seq: i64,
    prev_hash: String,
    checked: u64,
    last_seq: Option<i64>,
    first_break: Option<ChainBreak>,
    /// The seq and hash a checkpoint signed, which the chain must reach.
    anchor: Option<(i64, String)>,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self::new()
    }
}

impl ChainVerifier {
    /// A verifier expecting entry 1.
    pub fn new() -> Self {
        Self {
            next_seq: 1,
            prev_hash: GENESIS_HASH.to_owned(),
            checked: 0,
            last_seq: None,
            first_break: None,
            anchor: None,
        }
    }

    /// A verifier expecting entry 1 that also requires the chain to reach `checkpoint`: the
    /// entry at its seq must exist and have its hash. (The checkpoint's signature is the
    /// caller's to check.)
    pub fn reaching(checkpoint: &Checkpoint) -> Self {
        Self {
            anchor: Some((checkpoint.seq, checkpoint.hash.clone())),
            ..Self::new()
        }
    }

    /// Checks the next entry; returns whether the chain is still intact.
    pub fn check(&mut self, entry: &AuditEntry) -> bool {
        if self.first_break.is_some() {
            return false;
        }
        let (expected_seq, found_seq) = (self.next_seq, entry.seq);
        let broken = if found_seq > expected_seq {
            Some(ChainBreak::MissingEntry {
                expected_seq,
                found_seq,
            })
        } else if found_seq < expected_seq {
            Some(ChainBreak::OutOfOrder {
                expected_seq,
                found_seq,
            })
        } else if entry.prev_hash != self.prev_hash {
            Some(ChainBreak::PrevHashMismatch { seq: found_seq })
        } else if !entry.hash_matches() {
            Some(ChainBreak::HashMismatch { seq: found_seq })
        } else if self
            .anchor
            .as_ref()
            .is_some_and(|(seq, hash)| *seq == found_seq && *hash != entry.hash)
        {
            Some(ChainBreak::CheckpointMismatch { seq: found_seq })
        } else {
            None
        };
        if let Some(broken) = broken {
            self.first_break = Some(broken);
            return false;
        }
        self.checked += 1;
        self.last_seq = Some(found_seq);
        self.next_seq = found_seq.saturating_add(1);
        self.prev_hash.clone_from(&entry.hash);
        true
    }

    /// Checks entries in order, stopping at the first break; returns whether the chain is
    /// still intact.
    pub fn check_all<'a>(&mut self, entries: impl IntoIterator<Item = &'a AuditEntry>) -> bool {
        entries.into_iter().all(|entry| self.check(entry))
    }

    pub fn is_broken(&self) -> bool {
        self.first_break.is_some()
    }

    /// The report; an intact chain that stops short of the checkpoint it must reach is
    /// reported as [`ChainBreak::MissingTail`].
    pub fn finish(self) -> VerifyReport {
        let last_seq = self.last_seq.unwrap_or(0);
        let short = match &self.anchor {
            Some((checkpoint_seq, _)) if *checkpoint_seq > last_seq => {
                Some(ChainBreak::MissingTail {
                    last_seq,
                    checkpoint_seq: *checkpoint_seq,
                })
            }
            _ => None,
        };
        VerifyReport {
            checked: self.checked,
            last_seq: self.last_seq,
            first_break: self.first_break.or(short),
        }
    }
}

/// Verifies the whole log in `store`, reading `batch` entries at a time (at least 1), and
/// stops reading at the first break. Entries appended meanwhile are checked if the scan
/// reaches them. A log whose newest entries were deleted still verifies: only
/// [`verify_chain_to`] a checkpoint tells.
pub async fn verify_chain<S>(store: &S, batch: u32) -> StoreResult<VerifyReport>
where
    S: AuditStore + Sync + ?Sized,
{
    walk(store, batch, ChainVerifier::new()).await
}

/// Like [`verify_chain`], and the chain must reach `checkpoint`: the entry at its seq exists
/// and has its hash. Deleting the newest entries is then reported as
/// [`ChainBreak::MissingTail`], or as [`ChainBreak::CheckpointMismatch`] once entries were
/// appended in their place. The checkpoint's signature is the caller's to check.
pub async fn verify_chain_to<S>(
    store: &S,
    batch: u32,
    checkpoint: &Checkpoint,
) -> StoreResult<VerifyReport>
where
    S: AuditStore + Sync + ?Sized,
{
    walk(store, batch, ChainVerifier::reaching(checkpoint)).await
}

async fn walk<S>(store: &S, batch: u32, mut verifier: ChainVerifier) -> StoreResult<VerifyReport>
where
    S: AuditStore + Sync + ?Sized,
{
    let batch = batch.max(1);
    // From the lowest possible seq rather than 0, so that rows forged below 1 are seen too.
    let mut after = i64::MIN;
    loop {
        let entries = store.scan_audit(after, batch).await?;
        let Some(last) = entries.last() else { break };
        after = last.seq;
        let full = entries.len() >= usize::try_from(batch).unwrap_or(usize::MAX);
        if !verifier.check_all(&entries) || !full {
            break;
        }
    }
    Ok(verifier.finish())
}
