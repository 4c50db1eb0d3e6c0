//! What this process keeps about token use: last-use times, recorded in memory on every
//! authenticated request and written in one batch per interval, so the hot path never waits
//! on a database write; and the [`CredentialCache`] of recently resolved tokens and sessions,
//! so it rarely waits on a read either.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use opsdeck_core::Store;
use uuid::Uuid;

use super::cache::CredentialCache;
use crate::background::Job;

/// Pending last-use stamps, newest per token, and the credential cache.
#[derive(Debug, Default)]
pub struct TokenUsage {
    pending: Mutex<HashMap<Uuid, DateTime<Utc>>>,
    credentials: CredentialCache,
}

impl TokenUsage {
    /// With a credential cache whose entries serve reads for `outage_grace` during an
    /// outage of the store.
    pub fn with_outage_grace(outage_grace: std::time::Duration) -> Self {
        Self {
            pending: Mutex::default(),
            credentials: CredentialCache::with_outage_grace(outage_grace),
        }
    }

    /// Recently resolved tokens and sessions (see [`super::cache`]).
    pub fn credentials(&self) -> &CredentialCache {
        &self.credentials
    }

    pub fn record(&self, id: Uuid, at: DateTime<Utc>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let slot = pending.entry(id).or_insert(at);
        if at > *slot {
            *slot = at;
        }
    }

    fn take(&self) -> Vec<(Uuid, DateTime<Utc>)> {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.drain().collect()
    }

    /// Writes what was collected; on failure the stamps are kept for the next attempt.
    pub async fn flush(&self, store: &dyn Store) -> anyhow::Result<usize> {
        let uses = self.take();
        if uses.is_empty() {
            return Ok(0);
        }
        if let Err(err) = store.record_token_use(&uses).await {
            for (id, at) in uses {
                self.record(id, at);
            }
            return Err(err.into());
        }
        Ok(uses.len())
    }
}

#[derive(Debug)]
pub struct TokenUsageFlushJob {
    pub usage: Arc<TokenUsage>,
    pub store: Arc<dyn Store>,
}

#[async_trait]
impl Job for TokenUsageFlushJob {
    async fn tick(&self) -> anyhow::Result<()> {
        self.usage.flush(self.store.as_ref()).await.map(|_| ())
    }
}
