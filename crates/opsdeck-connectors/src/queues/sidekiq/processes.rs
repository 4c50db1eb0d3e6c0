//! The running Sidekiq processes: the set `processes` of their identities, each with a hash
//! `<identity>` (its `info`, which carries `version` from Sidekiq 7 on) and a hash
//! `<identity>:workers` that its heartbeat rewrites every few seconds with the job each busy
//! thread runs (`{"queue", "payload", "run_at"}`). From them: the version, refused when its
//! major is not 6 to 8, and the busy jobs per queue.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use serde_json::Value as Json;

use super::{SUPPORTED, SidekiqConnector};
use crate::queues::{PollCost, QueueError};

/// Processes whose version is read.
const VERSIONS_MAX: usize = 20;
/// Processes read at most; past this, busy jobs are not counted.
const PROCESSES_MAX: usize = 1_000;
/// Identities read per `SSCAN`.
const SSCAN_COUNT: u64 = 500;

#[derive(Debug, Clone, Default)]
pub(super) struct Processes {
    pub version: Option<String>,
    /// Busy jobs by queue, when every process was read.
    pub busy: Option<HashMap<String, u64>>,
}

pub(super) async fn read(
    connector: &SidekiqConnector,
    cost: &mut PollCost,
) -> Result<Processes, QueueError> {
    let key = connector.key("processes");
    let mut identities = BTreeSet::new();
    let mut cursor = 0u64;
    let mut complete = true;
    loop {
        let started = Instant::now();
        let (next, found): (u64, Vec<String>) = connector
            .client
            .command(
                redis::cmd("SSCAN")
                    .arg(&key)
                    .arg(cursor)
                    .arg("COUNT")
                    .arg(SSCAN_COUNT),
            )
            .await?;
        cost.commands += 1;
        cost.elapsed += started.elapsed();
        identities.extend(found);
        if identities.len() >= PROCESSES_MAX {
            complete = next == 0;
            break;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    if identities.is_empty() {
        return Ok(Processes {
            version: None,
            busy: Some(HashMap::new()),
        });
    }
    let mut pipe = redis::pipe();
    for identity in identities.iter().take(VERSIONS_MAX) {
        pipe.cmd("HGET").arg(connector.key(identity)).arg("info");
    }
    for identity in &identities {
        pipe.cmd("HVALS")
            .arg(connector.key(&format!("{identity}:workers")));
    }
    let started = Instant::now();
    let values: Vec<redis::Value> = connector.client.query(&pipe).await?;
    cost.commands += values.len() as u64;
    cost.elapsed += started.elapsed();
    let versions = identities.len().min(VERSIONS_MAX);
    let infos: Vec<Option<String>> = values[..versions.min(values.len())]
        .iter()
        .map(|v| redis::from_redis_value(v.clone()).ok())
        .collect();
    let version = version_of(&infos)?;
    let mut busy = HashMap::new();
    for workers in values.iter().skip(versions) {
        let threads: Vec<String> = redis::from_redis_value(workers.clone()).unwrap_or_default();
        for thread in threads {
            let queue = serde_json::from_str::<Json>(&thread)
                .ok()
                .and_then(|t| t.get("queue").and_then(Json::as_str).map(str::to_owned));
            if let Some(queue) = queue {
                *busy.entry(queue).or_insert(0) += 1;
            }
        }
    }
    Ok(Processes {
        version,
        busy: complete.then_some(busy),
    })
}

fn version_of(infos: &[Option<String>]) -> Result<Option<String>, QueueError> {
    let mut found = BTreeSet::new();
    let mut unversioned = false;
    for info in infos.iter().flatten() {
        let version = serde_json::from_str::<Json>(info)
            .ok()
            .and_then(|i| i.get("version").and_then(Json::as_str).map(str::to_owned));
        match version {
            Some(version) => {
                let major = version.split('.').next().unwrap_or_default();
                if !matches!(major, "6" | "7" | "8") {
                    return Err(QueueError::Unsupported(format!(
                        "a Sidekiq process reports version {version:?}; opsdeck reads and changes {SUPPORTED} only, and leaves this source alone"
                    )));
                }
                found.insert(format!("sidekiq {version}"));
            }
            None => unversioned = true,
        }
    }
    if unversioned {
        found.insert("sidekiq 6.x (its processes report no version)".to_owned());
    }
    Ok((!found.is_empty()).then(|| found.into_iter().collect::<Vec<_>>().join(", ")))
}
