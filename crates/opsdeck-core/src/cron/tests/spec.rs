use super::*;

fn build(settings: MonitorSettings) -> Result<MonitorSpec, InvalidField> {
    let name = MonitorName::parse("Backup").unwrap();
    MonitorSpec::new(slug(), name, Schedule::every(mins(60)).unwrap(), settings)
}

fn refused(settings: MonitorSettings) -> String {
    build(settings).unwrap_err().to_string()
}

#[test]
fn defaults_follow_the_spec() {
    let spec = build(MonitorSettings::default()).unwrap();
    let settings = spec.settings();
    assert_eq!(spec.grace(), mins(5));
    assert_eq!(
        (settings.failure_threshold, settings.recovery_threshold),
        (1, 1)
    );
    assert_eq!((settings.max_runtime, settings.min_runtime), (None, None));
    assert!(!spec.is_paused() && settings.maintenance.is_empty() && settings.tenant_id.is_none());
}

#[test]
fn invalid_settings_name_their_field() {
    let with = |f: fn(&mut MonitorSettings)| {
        let mut settings = MonitorSettings::default();
        f(&mut settings);
        refused(settings)
    };
    assert_eq!(
        with(|s| s.grace = Duration::ZERO),
        "grace must be between 1s and 365 days"
    );
    assert_eq!(
        with(|s| s.max_runtime = Some(DURATION_MAX + secs(1))),
        "max_runtime must be between 1s and 365 days"
    );
    assert_eq!(
        with(|s| s.min_runtime = Some(Duration::from_millis(10))),
        "min_runtime must be between 1s and 365 days"
    );
    assert_eq!(
        with(|s| {
            s.min_runtime = Some(mins(10));
            s.max_runtime = Some(mins(10));
        }),
        "min_runtime must be shorter than max_runtime"
    );
    assert_eq!(
        with(|s| s.failure_threshold = 0),
        "failure_threshold must be between 1 and 720"
    );
    assert_eq!(
        with(|s| s.recovery_threshold = THRESHOLD_MAX + 1),
        "recovery_threshold must be between 1 and 720"
    );
    assert_eq!(
        with(|s| {
            let window = MaintenanceWindow::new("0 2 * * *", None, mins(30)).unwrap();
            s.maintenance = vec![window; WINDOWS_MAX + 1];
        }),
        "maintenance must list at most 16 windows"
    );
}

#[test]
fn maintenance_windows_validate_their_cron_and_duration() {
    let error = MaintenanceWindow::new("0 25 * * *", None, mins(30)).unwrap_err();
    assert_eq!(error.field, "maintenance");
    assert!(error.problem.contains("hour field"), "{error}");
    let error = MaintenanceWindow::new("0 2 * * *", Some("Nowhere"), mins(30)).unwrap_err();
    assert_eq!(error.field, "maintenance");
    let error = MaintenanceWindow::new("0 2 * * *", None, Duration::ZERO).unwrap_err();
    assert_eq!(
        error.to_string(),
        "maintenance duration must be between 1s and 31 days"
    );
    assert!(MaintenanceWindow::new("0 2 * * *", None, WINDOW_MAX + secs(1)).is_err());
}

#[test]
fn a_window_is_open_from_its_start_for_its_duration() {
    let nightly = MaintenanceWindow::new("0 23 * * *", None, mins(120)).unwrap();
    let day = |h, m| utc(2026, 1, 5, h, m);
    assert!(!nightly.contains(day(22, 59)));
    assert!(nightly.contains(day(23, 0)), "opening instant included");
    assert!(nightly.contains(utc(2026, 1, 6, 0, 59)), "across midnight");
    assert!(
        !nightly.contains(utc(2026, 1, 6, 1, 0)),
        "closing instant excluded"
    );
    let spec = hourly(MonitorSettings {
        maintenance: vec![nightly],
        ..MonitorSettings::default()
    });
    assert!(spec.in_maintenance(day(23, 30)) && !spec.in_maintenance(day(12, 0)));
}

#[test]
fn auto_created_monitors_are_named_after_their_slug_and_expected_daily() {
    let spec = MonitorSpec::auto_created(Slug::parse("new-job").unwrap());
    assert_eq!(spec.name().as_str(), "new-job");
    assert_eq!(spec.schedule(), &Schedule::every(mins(24 * 60)).unwrap());
    assert_eq!(spec.settings(), &MonitorSettings::default());
}

#[test]
fn pausing_needs_no_rebuild() {
    let mut spec = build(MonitorSettings::default()).unwrap();
    spec.set_paused(true);
    assert!(spec.is_paused());
}
