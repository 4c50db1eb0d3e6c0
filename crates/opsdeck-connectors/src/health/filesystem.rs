//! `filesystem`: a probe file `.opsdeck-probe-<instance id>` can be written to the
//! directory, flushed to disk, read back unchanged and deleted. This catches a full,
//! read-only or unmounted volume that a mere `stat` would not.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::{ComponentType, Observation, ProbeContext, ProbeType};

/// `type = "filesystem"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    /// A directory to write the probe file in.
    pub path: PathBuf,
}

#[async_trait]
impl ProbeType for Filesystem {
    const TYPE: &'static str = "filesystem";
    const COMPONENT: ComponentType = ComponentType::System;

    fn target(&self) -> String {
        self.path.display().to_string()
    }

    fn secrets(&self) -> Vec<&Secret> {
        Vec::new()
    }

    async fn run(&self, ctx: &ProbeContext) -> Observation {
        let (dir, instance_id) = (self.path.as_path(), ctx.instance_id);
        let shown = dir.display();
        match tokio::fs::metadata(dir).await {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => return Observation::fail(format!("{shown} is not a directory")),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Observation::fail(format!("directory {shown} does not exist"));
            }
            Err(err) => return Observation::fail(format!("could not access {shown}: {err}")),
        }
        // Named per replica, so replicas sharing a volume do not race on one file; a file left
        // behind by a cancelled run is simply overwritten by the next.
        let file = dir.join(format!(".opsdeck-probe-{instance_id}"));
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let content = format!("opsdeck health probe {instance_id} {nanos}\n");
        let result = round_trip(&file, content.as_bytes()).await;
        let removed = tokio::fs::remove_file(&file).await;
        match (result, removed) {
            (Err(message), _) => Observation::fail(format!("{shown}: {message}")),
            (Ok(()), Err(err)) => {
                Observation::fail(format!("{shown}: could not delete the probe file: {err}"))
            }
            (Ok(()), Ok(())) => Observation::pass(),
        }
    }
}

async fn round_trip(file: &Path, content: &[u8]) -> Result<(), String> {
    let mut handle = tokio::fs::File::create(file)
        .await
        .map_err(|err| format!("could not create a probe file: {err}"))?;
    handle
        .write_all(content)
        .await
        .map_err(|err| format!("could not write the probe file: {err}"))?;
    // The flush to the device is what fails on a dying disk or a full volume with
    // delayed allocation.
    handle
        .sync_all()
        .await
        .map_err(|err| format!("could not flush the probe file to disk: {err}"))?;
    drop(handle);
    let read = tokio::fs::read(file)
        .await
        .map_err(|err| format!("could not read the probe file back: {err}"))?;
    if read == content {
        Ok(())
    } else {
        Err("the probe file read back differs from what was written".to_owned())
    }
}
