//! `filesystem` and `disk` probes on real directories and volumes.

use opsdeck_connectors::health::disk::Disk;
use opsdeck_connectors::health::filesystem::Filesystem;
use opsdeck_core::health::Status;

use super::{Probes, TempDir, output};

#[tokio::test]
async fn filesystem_round_trip_passes_and_leaves_nothing_behind() {
    let probes = Probes::new().await;
    let dir = TempDir::new("fs");
    let observation = probes
        .observe(&Filesystem {
            path: dir.path().to_owned(),
        })
        .await;
    assert_eq!(observation.status, Status::Pass, "{observation:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    assert!(left.is_empty(), "probe left files behind: {left:?}");
}

#[tokio::test]
async fn filesystem_fails_for_a_missing_or_unwritable_directory() {
    let probes = Probes::new().await;
    let dir = TempDir::new("fs-bad");
    let missing = probes
        .observe(&Filesystem {
            path: dir.path().join("nope"),
        })
        .await;
    assert_eq!(missing.status, Status::Fail);
    assert!(output(&missing).contains("does not exist"), "{missing:?}");

    // Permission bits do not stop root (tests may run as root), but nothing can be
    // written below a regular file.
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "x").expect("write");
    let unwritable = probes
        .observe(&Filesystem {
            path: file.join("sub"),
        })
        .await;
    assert_eq!(unwritable.status, Status::Fail, "{unwritable:?}");
    assert!(
        output(&unwritable).contains("could not access"),
        "{unwritable:?}"
    );

    let not_a_dir = probes.observe(&Filesystem { path: file }).await;
    assert_eq!(not_a_dir.status, Status::Fail);
    assert!(
        output(&not_a_dir).contains("not a directory"),
        "{not_a_dir:?}"
    );
}

fn disk(path: &std::path::Path, warn: f64, fail: f64) -> Disk {
    Disk {
        path: path.to_owned(),
        warn_free_percent: warn,
        fail_free_percent: fail,
    }
}

#[tokio::test]
async fn disk_reports_free_percent_against_thresholds() {
    let probes = Probes::new().await;
    let dir = TempDir::new("disk");

    let pass = probes.observe(&disk(dir.path(), 0.0, 0.0)).await;
    assert_eq!(pass.status, Status::Pass, "{pass:?}");
    assert_eq!(pass.observed_unit, Some("percent"));
    let free = pass.observed_value.expect("a free percent");
    assert!((0.0..=100.0).contains(&free), "free percent {free}");

    // A volume is never 100% free, so these thresholds always trip.
    let fail = probes.observe(&disk(dir.path(), 100.0, 100.0)).await;
    assert_eq!(fail.status, Status::Fail, "{fail:?}");
    let text = output(&fail);
    assert!(
        text.contains("% free (") && text.contains("below the failure threshold of 100%"),
        "{text}"
    );

    let warn = probes.observe(&disk(dir.path(), 100.0, 0.0)).await;
    assert_eq!(warn.status, Status::Warn, "{warn:?}");
    assert!(
        output(&warn).contains("below the warning threshold of 100%"),
        "{warn:?}"
    );

    let missing = probes
        .observe(&disk(&dir.path().join("nope"), 0.0, 0.0))
        .await;
    assert_eq!(missing.status, Status::Fail, "{missing:?}");
}
