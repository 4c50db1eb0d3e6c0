//! `disk`: free space on the volume holding a path, as a percentage of its size. The
//! observed value is the free percent; below `warn_free_percent` warns, below
//! `fail_free_percent` fails.

use std::path::PathBuf;

use async_trait::async_trait;
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};

use super::{ComponentType, Observation, ProbeContext, ProbeType, Problems};

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// `type = "disk"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    /// Any path on the volume.
    pub path: PathBuf,
    /// Warn below this free space, in percent (default 10).
    #[serde(default = "default_warn")]
    pub warn_free_percent: f64,
    /// Fail below this free space, in percent (default 5).
    #[serde(default = "default_fail")]
    pub fail_free_percent: f64,
}

fn default_warn() -> f64 {
    10.0
}

fn default_fail() -> f64 {
    5.0
}

impl Disk {
    /// A check of the volume holding `path`, with the default thresholds.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            warn_free_percent: default_warn(),
            fail_free_percent: default_fail(),
        }
    }
}

#[async_trait]
impl ProbeType for Disk {
    const TYPE: &'static str = "disk";
    const COMPONENT: ComponentType = ComponentType::System;
    const MEASUREMENT: &'static str = "freeSpace";

    fn validate(&self) -> Problems {
        let mut problems = Problems::new();
        let (warn, fail) = (self.warn_free_percent, self.fail_free_percent);
        for (key, value) in [("warn_free_percent", warn), ("fail_free_percent", fail)] {
            if !(0.0..=100.0).contains(&value) {
                problems.push((key.to_owned(), "must be between 0 and 100".to_owned()));
            }
        }
        if fail > warn {
            problems.push((
                "fail_free_percent".to_owned(),
                "must not be above warn_free_percent".to_owned(),
            ));
        }
        problems
    }

    fn target(&self) -> String {
        self.path.display().to_string()
    }

    fn secrets(&self) -> Vec<&Secret> {
        Vec::new()
    }

    async fn run(&self, _: &ProbeContext) -> Observation {
        let (path, warn, fail) = (&self.path, self.warn_free_percent, self.fail_free_percent);
        let owned: PathBuf = path.to_owned();
        // statvfs can block for a long time on a hung network mount: off the async threads,
        // so the monitor's timeout still fires.
        let stats = match tokio::task::spawn_blocking(move || rustix::fs::statvfs(&owned)).await {
            Ok(Ok(stats)) => stats,
            Ok(Err(err)) => {
                return Observation::fail(format!(
                    "could not read free space of {}: {err}",
                    path.display()
                ));
            }
            Err(err) => return Observation::fail(format!("free space lookup failed: {err}")),
        };
        let block = stats.f_frsize as f64;
        let total = stats.f_blocks as f64 * block;
        // `f_bavail`, not `f_bfree`: the blocks reserved for root are not there for opsdeck
        // (the same figure `df` shows as available).
        let free = stats.f_bavail as f64 * block;
        if total <= 0.0 {
            return Observation::fail(format!(
                "{} is on a volume that reports no size (a pseudo filesystem?)",
                path.display()
            ));
        }
        let percent = (free / total * 100.0).clamp(0.0, 100.0);
        let summary = format!(
            "{percent:.1}% free ({:.1} GiB of {:.1} GiB)",
            free / GIB,
            total / GIB
        );
        let observation = if percent < fail {
            Observation::fail(format!(
                "{summary} is below the failure threshold of {fail}%"
            ))
        } else if percent < warn {
            Observation::warn(format!(
                "{summary} is below the warning threshold of {warn}%"
            ))
        } else {
            Observation::pass()
        };
        observation.with_value(percent, "percent")
    }
}
