//! Unit tests of the stored forms: documents read back what was written and refuse what
//! no spec could be; cursors read back what they print.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use uuid::Uuid;

use super::super::{
    MaintenanceWindow, MonitorSettings, MonitorSpec, MonitorState, MonitorStatus, Schedule,
};
use super::{RunCursor, spec_from_json, spec_json, state_from_json, state_json};
use crate::ids::{MonitorName, Slug, Tags, TenantId};

fn slug() -> Slug {
    Slug::parse("backup").unwrap()
}

fn full() -> MonitorSpec {
    let settings = MonitorSettings {
        grace: Duration::from_secs(90),
        max_runtime: Some(Duration::from_secs(3600)),
        min_runtime: Some(Duration::from_millis(1500)),
        failure_threshold: 3,
        recovery_threshold: 2,
        maintenance: vec![
            MaintenanceWindow::new("@daily", Some("America/New_York"), Duration::from_secs(600))
                .unwrap(),
        ],
        tags: Tags::parse(["env=prod", "team:ops"]).unwrap(),
        tenant_id: Some(TenantId::parse("acme").unwrap()),
        paused: true,
    };
    let schedule = Schedule::cron("*/15 9-17 * * 1-5", Some("Europe/Berlin")).unwrap();
    MonitorSpec::new(
        slug(),
        MonitorName::parse("Backup").unwrap(),
        schedule,
        settings,
    )
    .unwrap()
}

#[test]
fn spec_documents_read_back_what_was_written() {
    let spec = full();
    let json = spec_json(&spec);
    assert!(
        !json.contains("paused") && !json.contains("backup\""),
        "{json}"
    );
    assert_eq!(spec_from_json(slug(), true, &json).unwrap(), spec);
    let resumed = spec_from_json(slug(), false, &json).unwrap();
    assert!(!resumed.is_paused());

    let every = MonitorSpec::auto_created(slug());
    assert_eq!(
        spec_from_json(slug(), false, &spec_json(&every)).unwrap(),
        every
    );
}

#[test]
fn spec_documents_are_validated_when_read() {
    let json = spec_json(&full());
    let bad_threshold = json.replace("\"failure_threshold\":3", "\"failure_threshold\":0");
    let error = spec_from_json(slug(), false, &bad_threshold).unwrap_err();
    assert_eq!(error.what, "monitor spec");
    assert!(error.reason.contains("failure_threshold"), "{error}");
    let bad_zone = json.replace("Europe/Berlin", "Mars/Olympus");
    assert!(spec_from_json(slug(), false, &bad_zone).is_err());
    assert!(spec_from_json(slug(), false, "{}").is_err());
    let newer = json.replacen('{', "{\"added_later\":1,", 1);
    assert_eq!(spec_from_json(slug(), true, &newer).unwrap(), full());
}

#[test]
fn state_documents_read_back_exactly() {
    let at = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
    let state = MonitorState {
        status: MonitorStatus::Late,
        cursor: Some(at + chrono::Duration::nanoseconds(1)),
        failure_streak: 2,
        ..MonitorState::default()
    };
    assert_eq!(state_from_json(&state_json(&state)).unwrap(), state);
    assert!(state_from_json("[]").is_err());
}

#[test]
fn cursors_read_back_what_they_print() {
    let cursor = RunCursor {
        at: Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap(),
        run_id: Uuid::new_v4(),
    };
    assert_eq!(cursor.to_string().parse::<RunCursor>().unwrap(), cursor);
    for bad in ["", "12", "x-y", "1-not-a-uuid"] {
        assert!(bad.parse::<RunCursor>().is_err(), "{bad}");
    }
}
