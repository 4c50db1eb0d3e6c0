use super::*;

/// A monitor as an admin or the config file defines it: named, filed, with a window,
/// bounds on both runtimes, thresholds, paused, in Berlin time.
fn defined() -> MonitorSpec {
    let window = MaintenanceWindow::new("0 3 * * 0", Some("Europe/Berlin"), mins(60)).unwrap();
    let mut spec = spec_with(
        Schedule::cron("30 2 * * *", Some("Europe/Berlin")).unwrap(),
        MonitorSettings {
            grace: mins(15),
            max_runtime: Some(mins(120)),
            min_runtime: Some(mins(2)),
            failure_threshold: 3,
            recovery_threshold: 2,
            maintenance: vec![window],
            tags: Tags::parse(["db", "nightly"]).unwrap(),
            tenant_id: Some(TenantId::parse("acme").unwrap()),
            paused: false,
        },
    );
    spec.set_paused(true);
    spec
}

fn patch(schedule: Schedule, tz_sent: bool, settings: SettingsPatch) -> SpecPatch {
    SpecPatch::new(slug(), schedule, tz_sent, settings).unwrap()
}

#[test]
fn a_patch_changes_only_the_schedule_and_the_fields_sent() {
    let stored = defined();
    let sent = SettingsPatch {
        grace: Some(mins(20)),
        ..SettingsPatch::default()
    };
    let every_hour = Schedule::every(mins(60)).unwrap();
    let merged = patch(every_hour.clone(), false, sent)
        .apply_to(&stored)
        .unwrap();

    assert_eq!(merged.schedule(), &every_hour);
    assert_eq!(merged.grace(), mins(20));
    let expected = MonitorSettings {
        grace: mins(20),
        ..stored.settings().clone()
    };
    assert_eq!(merged.settings(), &expected, "everything else as stored");
    assert_eq!(merged.name(), stored.name());
    assert_eq!(merged.slug(), stored.slug());
    assert!(merged.is_paused());
}

#[test]
fn a_patch_saying_what_is_stored_changes_nothing() {
    let stored = defined();
    let same = Schedule::cron("30 2 * * *", Some("Europe/Berlin")).unwrap();
    let sent = SettingsPatch {
        grace: Some(mins(15)),
        max_runtime: Some(mins(120)),
        failure_threshold: Some(3),
        recovery_threshold: None,
    };
    assert_eq!(patch(same, true, sent).apply_to(&stored).unwrap(), stored);
    // Without a time zone, the stored one is kept rather than reset to UTC.
    let unzoned = Schedule::cron("30 2 * * *", None).unwrap();
    let kept = patch(unzoned, false, SettingsPatch::default());
    assert_eq!(kept.apply_to(&stored).unwrap(), stored);
}

#[test]
fn a_sent_time_zone_replaces_the_stored_one() {
    let stored = defined();
    let utc = Schedule::cron("0 4 * * *", Some("UTC")).unwrap();
    let merged = patch(utc.clone(), true, SettingsPatch::default());
    assert_eq!(merged.apply_to(&stored).unwrap().schedule(), &utc);

    let unzoned = patch(
        Schedule::cron("0 4 * * *", None).unwrap(),
        false,
        SettingsPatch::default(),
    );
    let berlin = Schedule::cron("0 4 * * *", Some("Europe/Berlin")).unwrap();
    assert_eq!(unzoned.apply_to(&stored).unwrap().schedule(), &berlin);
    // Creating, an unsent zone is UTC.
    assert_eq!(unzoned.created().schedule(), &utc);
}

#[test]
fn a_created_monitor_takes_the_defaults_for_what_was_not_sent() {
    let sent = SettingsPatch {
        max_runtime: Some(mins(30)),
        ..SettingsPatch::default()
    };
    let config = patch(Schedule::every(mins(10)).unwrap(), false, sent);
    let created = config.created();
    assert_eq!(created.slug(), &slug());
    assert_eq!(created.name(), &MonitorName::from(&slug()));
    let expected = MonitorSettings {
        max_runtime: Some(mins(30)),
        ..MonitorSettings::default()
    };
    assert_eq!(created.settings(), &expected);
}

#[test]
fn a_patch_refuses_what_no_monitor_may_have_and_what_contradicts_the_stored_monitor() {
    let every = || Schedule::every(mins(10)).unwrap();
    let zero = SettingsPatch {
        failure_threshold: Some(0),
        ..SettingsPatch::default()
    };
    let refused = SpecPatch::new(slug(), every(), false, zero).unwrap_err();
    assert_eq!(refused.field, "failure_threshold");

    // The stored min_runtime is 2 minutes: a max_runtime of 1 cannot apply to it.
    let short = SettingsPatch {
        max_runtime: Some(mins(1)),
        ..SettingsPatch::default()
    };
    let config = patch(every(), false, short);
    assert_eq!(
        config.apply_to(&defined()).unwrap_err().field,
        "min_runtime"
    );
}
