//! `disk`: free space on the volume holding a path, as a percentage of its size. The
//! observed value is the free percent; below `warn_free_percent` warns, below
//! `fail_free_percent` fails.

use std::path::{Path, PathBuf};

use super::Observation;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

pub(super) async fn observe(path: &Path, warn: f64, fail: f64) -> Observation {
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
