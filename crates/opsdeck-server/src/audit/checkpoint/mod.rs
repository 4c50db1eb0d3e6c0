//! Signed checkpoints of the audit log's head (see [`opsdeck_core::audit::checkpoint`]): the
//! leader signs one every `audit.checkpoint_interval` when the head moved
//! ([`CheckpointJob`]), every replica signs one when it shuts down, and each goes to the log,
//! the checkpoint file and the webhook ([`copies`]).
//!
//! A replica remembers the checkpoints it made (the last one of its file too, when its key
//! signed it) and signs a new one only over a log that still reaches the last: after the
//! newest entries were deleted it refuses, so the latest copy kept elsewhere stays the last
//! good head, and `/ops/audit/verify` and every refused tick say what is missing.

mod copies;
mod key;

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use async_trait::async_trait;
use opsdeck_core::audit::checkpoint::{CheckpointError, CheckpointKey, PublicKey};
use opsdeck_core::audit::{AuditEntry, AuditFilter, ChainBreak, Checkpoint, SignedCheckpoint};
use opsdeck_core::{Clock, Store};

pub use copies::read_latest;
pub use key::{KeySource, load as load_key};

use crate::background::Job;
use crate::config::AuditConfig;
use copies::Copies;

/// How many of its checkpoints a replica keeps in memory for `/ops/audit/verify`.
const RECENT: usize = 20;

/// What one attempt to make a checkpoint did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Made {
    Signed(SignedCheckpoint),
    /// The head is where the last checkpoint put it.
    Unchanged,
    /// The log has no entries, and no checkpoint was made before.
    EmptyLog,
}

/// Makes, sends and remembers this replica's checkpoints.
#[derive(Debug)]
pub struct Checkpointer {
    key: CheckpointKey,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    copies: Copies,
    /// Newest first.
    recent: Mutex<VecDeque<SignedCheckpoint>>,
    /// One checkpoint at a time, so each sees the one before it.
    making: tokio::sync::Mutex<()>,
}

impl Checkpointer {
    /// Loads (or generates) the key, logs its id and public key for verifiers to pin, and
    /// takes up the checkpoint file's last checkpoint if this key signed it.
    pub fn new(
        config: &AuditConfig,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let (key, source) = load_key(config, true)?;
        tracing::info!(
            key_id = %key.public_key().id(),
            public_key = %key.public_key(),
            source = %source,
            "audit checkpoints are signed with this key; pin its public key to verify them"
        );
        let copies = Copies::of(config)?;
        let recent = copies
            .file()
            .and_then(|file| earlier_checkpoint(file, key.public_key()));
        Ok(Self {
            key,
            store,
            clock,
            copies,
            recent: Mutex::new(recent.into_iter().collect()),
            making: tokio::sync::Mutex::new(()),
        })
    }

    pub fn public_key(&self) -> &PublicKey {
        self.key.public_key()
    }

    /// The newest checkpoint this replica made or took up, if any.
    pub fn latest(&self) -> Option<SignedCheckpoint> {
        self.lock_recent().front().cloned()
    }

    /// This replica's recent checkpoints, newest first.
    pub fn recent(&self) -> Vec<SignedCheckpoint> {
        self.lock_recent().iter().cloned().collect()
    }

    /// Signs and sends a checkpoint of the head if it moved since the last one. Fails,
    /// signing nothing, when the log no longer reaches the last checkpoint.
    pub async fn make(&self) -> anyhow::Result<Made> {
        let _one_at_a_time = self.making.lock().await;
        let newest = AuditFilter {
            limit: 1,
            ..AuditFilter::default()
        };
        let head = self.store.list_audit(&newest).await?.pop();
        if let Some(last) = self.latest() {
            let last = &last.checkpoint;
            if head
                .as_ref()
                .is_some_and(|h| h.seq == last.seq && h.hash == last.hash)
            {
                return Ok(Made::Unchanged);
            }
            if let Some(broken) = self.break_since(last, head.as_ref()).await? {
                anyhow::bail!(
                    "{broken}. This replica signed seq {} at {}; it signs no checkpoint until \
                     the log reaches that one again (run `opsdeck audit verify`)",
                    last.seq,
                    last.at
                );
            }
        }
        let Some(head) = head else {
            return Ok(Made::EmptyLog);
        };
        let signed = self
            .key
            .sign(head.seq, &head.hash, self.clock.now())
            .context("signing an audit checkpoint")?;
        self.copies.send(&signed).await;
        let mut recent = self.lock_recent();
        recent.push_front(signed.clone());
        recent.truncate(RECENT);
        Ok(Made::Signed(signed))
    }

    /// How the log fails to reach `last` now that its head is `head`, if it does.
    async fn break_since(
        &self,
        last: &Checkpoint,
        head: Option<&AuditEntry>,
    ) -> anyhow::Result<Option<ChainBreak>> {
        let head_seq = head.map_or(0, |h| h.seq);
        if head_seq < last.seq {
            return Ok(Some(ChainBreak::MissingTail {
                last_seq: head_seq,
                checkpoint_seq: last.seq,
            }));
        }
        let found = self
            .store
            .scan_audit(last.seq.saturating_sub(1), 1)
            .await?
            .pop();
        Ok(match found {
            Some(entry) if entry.seq == last.seq && entry.hash == last.hash => None,
            Some(entry) if entry.seq == last.seq => {
                Some(ChainBreak::CheckpointMismatch { seq: last.seq })
            }
            Some(entry) => Some(ChainBreak::MissingEntry {
                expected_seq: last.seq,
                found_seq: entry.seq,
            }),
            // Unreachable with a head at or past it, unless entries vanish meanwhile.
            None => Some(ChainBreak::MissingTail {
                last_seq: head_seq,
                checkpoint_seq: last.seq,
            }),
        })
    }

    fn lock_recent(&self) -> std::sync::MutexGuard<'_, VecDeque<SignedCheckpoint>> {
        // The list is replaced whole under the lock: a panic elsewhere cannot leave it torn.
        self.recent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The last checkpoint of the file, if this replica's key signed it: another key's may
/// come from another replica sharing the file, and says nothing about what this one saw. A
/// file that cannot be read back is reported, not fatal: it is a copy, not the log.
fn earlier_checkpoint(file: &Path, ours: &PublicKey) -> Option<SignedCheckpoint> {
    let last = match read_latest(file) {
        Ok(last) => last?,
        Err(err) => {
            tracing::warn!(
                error = format!("{err:#}"),
                "could not read back the last audit checkpoint of the checkpoint file"
            );
            return None;
        }
    };
    match last.verify(std::slice::from_ref(ours)) {
        Ok(_) => {
            tracing::info!(checkpoint = %last, "took up the last audit checkpoint of the file");
            Some(last)
        }
        Err(CheckpointError::NotPinned { .. }) => None,
        Err(err) => {
            tracing::warn!(
                file = %file.display(),
                error = %err,
                "the last audit checkpoint of the checkpoint file does not verify"
            );
            None
        }
    }
}

/// The leader's periodic checkpoint.
#[derive(Debug)]
pub struct CheckpointJob {
    pub checkpointer: Arc<Checkpointer>,
}

#[async_trait]
impl Job for CheckpointJob {
    async fn tick(&self) -> anyhow::Result<()> {
        self.checkpointer.make().await.map(drop)
    }
}
