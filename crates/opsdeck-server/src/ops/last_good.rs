//! The last good read of each view that comes from opsdeck's own database, kept so the view
//! can still be served while that database is unreachable (SPEC §8): marked stale with the
//! time it was read ([`crate::middleware::outage::served_stale`]). Only reads that do not
//! depend on who asks are kept (the permission check comes before), and only first pages of
//! lists (what an operator opens first): a bounded number of them, the oldest dropped first,
//! so what is kept stays a few megabytes whatever is paged through.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use opsdeck_core::{StoreError, StoreResult};

struct Kept {
    read_at: DateTime<Utc>,
    value: Arc<dyn Any + Send + Sync>,
}

/// See the module documentation.
#[derive(Default)]
pub struct LastGood {
    kept: Mutex<HashMap<String, Kept>>,
}

impl std::fmt::Debug for LastGood {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastGood")
            .field("kept", &self.lock().len())
            .finish()
    }
}

impl LastGood {
    /// Reads kept at most: first pages, counts and the monitors looked at recently.
    pub const CAPACITY: usize = 64;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Kept>> {
        self.kept.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `read`; keeps what it returns under `key`, or, when the database is unreachable,
    /// answers what was kept there (marking the response stale). Any other error, or an
    /// outage with nothing kept, is returned as is. Without a key (a later page) the read is
    /// only run.
    pub async fn read<T, F>(
        &self,
        key: Option<String>,
        now: DateTime<Utc>,
        read: F,
    ) -> StoreResult<T>
    where
        T: Clone + Send + Sync + 'static,
        F: Future<Output = StoreResult<T>>,
    {
        let Some(key) = key else {
            return read.await;
        };
        match read.await {
            Ok(value) => {
                self.keep(key, now, value.clone());
                Ok(value)
            }
            Err(StoreError::Unavailable(cause)) => match self.kept::<T>(&key) {
                Some((read_at, value)) => {
                    crate::middleware::outage::served_stale(read_at);
                    Ok(value)
                }
                None => Err(StoreError::Unavailable(cause)),
            },
            Err(other) => Err(other),
        }
    }

    fn keep<T: Send + Sync + 'static>(&self, key: String, read_at: DateTime<Utc>, value: T) {
        let mut kept = self.lock();
        if kept.len() >= Self::CAPACITY
            && !kept.contains_key(&key)
            && let Some(oldest) = kept
                .iter()
                .min_by_key(|(_, entry)| entry.read_at)
                .map(|(key, _)| key.clone())
        {
            kept.remove(&oldest);
        }
        kept.insert(
            key,
            Kept {
                read_at,
                value: Arc::new(value),
            },
        );
    }

    fn kept<T: Clone + 'static>(&self, key: &str) -> Option<(DateTime<Utc>, T)> {
        let kept = self.lock();
        let entry = kept.get(key)?;
        let value = entry.value.downcast_ref::<T>()?.clone();
        Some((entry.read_at, value))
    }
}
