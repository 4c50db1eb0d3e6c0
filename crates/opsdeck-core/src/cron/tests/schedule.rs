use super::*;

fn next(expr: &str, after: DateTime<Utc>) -> DateTime<Utc> {
    Schedule::cron(expr, None)
        .unwrap()
        .next_after(after)
        .unwrap()
}

#[test]
fn aliases_stand_for_their_five_fields() {
    let after = utc(2026, 3, 4, 10, 30); // a Wednesday
    assert_eq!(next("@hourly", after), utc(2026, 3, 4, 11, 0));
    assert_eq!(next("@daily", after), utc(2026, 3, 5, 0, 0));
    assert_eq!(next("@midnight", after), utc(2026, 3, 5, 0, 0));
    assert_eq!(next("@Daily", after), utc(2026, 3, 5, 0, 0), "any case");
    assert_eq!(next("@weekly", after), utc(2026, 3, 8, 0, 0), "Sunday");
    assert_eq!(next("@monthly", after), utc(2026, 4, 1, 0, 0));
    assert_eq!(next("@yearly", after), utc(2027, 1, 1, 0, 0));
    assert_eq!(next("@annually", after), utc(2027, 1, 1, 0, 0));
    let cron = CronSchedule::parse(" @daily ", Some("Europe/Berlin")).unwrap();
    assert_eq!(cron.expr(), "@daily", "kept as written");
    assert_eq!(cron.to_string(), "@daily (Europe/Berlin)");
}

#[test]
fn cron_expressions_take_names_steps_and_kubernetes_steps() {
    let monday = t0();
    assert_eq!(next("0 9 * * MON-FRI", monday), utc(2026, 1, 6, 9, 0));
    assert_eq!(next("*/15 * * * *", monday), at_min(15));
    assert_eq!(next("0/15 * * * *", monday), at_min(15), "Kubernetes style");
    assert_eq!(next("0 0 1 jan *", monday), utc(2027, 1, 1, 0, 0));
}

#[test]
fn next_after_is_strictly_after() {
    assert_eq!(next("0 * * * *", t0()), at_min(60));
    let just_after = t0() + chrono::Duration::milliseconds(300);
    assert_eq!(next("0 * * * *", just_after), at_min(60));
    let just_before = t0() - chrono::Duration::milliseconds(300);
    assert_eq!(next("0 * * * *", just_before), t0());
}

#[test]
fn parse_errors_say_what_is_wrong() {
    let error = |expr: &str| Schedule::cron(expr, None).unwrap_err();
    assert_eq!(error("  "), ScheduleError::Empty);
    assert_eq!(
        error("* * * *").to_string(),
        "schedule must have 5 fields (minute hour day-of-month month day-of-week), found 4"
    );
    assert_eq!(
        error("0 * * * * *"),
        ScheduleError::FieldCount(6),
        "no seconds"
    );
    assert!(matches!(error("@reboot"), ScheduleError::UnknownAlias(_)));
    assert!(error("@reboot").to_string().contains("use @yearly"));
    for (expr, field) in [
        ("61 * * * *", "minute"),
        ("* 24 * * *", "hour"),
        ("* * 32 * *", "day-of-month"),
        ("* * * 13 *", "month"),
        ("* * * * FUNDAY", "day-of-week"),
    ] {
        match error(expr) {
            ScheduleError::Field { field: found, .. } => assert_eq!(found, field, "{expr}"),
            other => panic!("{expr}: {other:?}"),
        }
    }
    assert_eq!(
        error("0 0 31 2 *"),
        ScheduleError::NeverFires("0 0 31 2 *".into())
    );
}

#[test]
fn field_errors_say_which_field_what_range_and_what_was_found() {
    let error = |expr: &str| Schedule::cron(expr, None).unwrap_err().to_string();
    for (expr, want) in [
        (
            "61 * * * *",
            r#"schedule minute field "61" is invalid: 61 is out of range (minutes are 0–59)"#,
        ),
        (
            "0 9,24 * * *",
            r#"schedule hour field "9,24" is invalid: 24 is out of range (hours are 0–23)"#,
        ),
        (
            "0 0 0 * *",
            r#"schedule day-of-month field "0" is invalid: 0 is out of range (days of the month are 1–31)"#,
        ),
        (
            "0 0 1 13 *",
            r#"schedule month field "13" is invalid: 13 is out of range (months are 1–12 or jan–dec)"#,
        ),
        (
            "0 0 * * 8",
            r#"schedule day-of-week field "8" is invalid: 8 is out of range (days of the week are 0–7, Sunday being 0 or 7, or sun–sat)"#,
        ),
        (
            "0 0 * * funday",
            r#"schedule day-of-week field "funday" is invalid: "funday" is neither a number nor a name (days of the week are 0–7, Sunday being 0 or 7, or sun–sat)"#,
        ),
        (
            "*/0 * * * *",
            r#"schedule minute field "*/0" is invalid: a step of 0 never moves on: use 1 or more"#,
        ),
        (
            "5-70 * * * *",
            r#"schedule minute field "5-70" is invalid: 70 is out of range (minutes are 0–59)"#,
        ),
        (
            "x * * * *",
            r#"schedule minute field "x" is invalid: "x" is not a number (minutes are 0–59)"#,
        ),
    ] {
        assert_eq!(error(expr), want, "{expr}");
    }
    for expr in ["61 * * * *", "* * 1#9 * *"] {
        assert!(!error(expr).contains("Component error"), "{expr}");
    }
}

#[test]
fn time_zones_are_iana_names_and_default_to_utc() {
    let utc_default = CronSchedule::parse("0 * * * *", None).unwrap();
    assert_eq!(utc_default.tz(), chrono_tz::UTC);
    assert_eq!(
        CronSchedule::parse("0 * * * *", Some("")).unwrap().tz(),
        chrono_tz::UTC
    );
    let error = Schedule::cron("0 * * * *", Some("Mars/Olympus")).unwrap_err();
    assert_eq!(error, ScheduleError::UnknownTimeZone("Mars/Olympus".into()));
    let field = InvalidField::from(error);
    assert_eq!(field.field, "tz");
    assert!(
        field
            .to_string()
            .starts_with("tz \"Mars/Olympus\" is not an IANA")
    );
    let field = InvalidField::from(ScheduleError::FieldCount(3));
    assert_eq!(
        field.to_string(),
        "schedule must have 5 fields (minute hour day-of-month month day-of-week), found 3"
    );
}

#[test]
fn intervals_run_from_one_second_to_a_year() {
    assert!(Schedule::every(secs(1)).is_ok());
    assert!(Schedule::every(INTERVAL_MAX).is_ok());
    for bad in [
        Duration::ZERO,
        Duration::from_millis(999),
        INTERVAL_MAX + secs(1),
    ] {
        assert_eq!(Schedule::every(bad), Err(ScheduleError::IntervalOutOfRange));
    }
    assert_eq!(
        InvalidField::from(ScheduleError::IntervalOutOfRange).to_string(),
        "interval must be between 1s and 365 days"
    );
    let hourly = Schedule::every(mins(60)).unwrap();
    assert_eq!(
        hourly.next_after(at_min(7)),
        Some(at_min(67)),
        "from the last signal"
    );
}

#[test]
fn slots_between_is_half_open_and_bounded() {
    let every_15 = Schedule::cron("*/15 * * * *", None).unwrap();
    assert_eq!(
        every_15.slots_between(t0(), at_min(60), 100),
        [15, 30, 45, 60].map(at_min),
        "after excluded, until included"
    );
    assert_eq!(
        every_15.slots_between(t0(), at_min(60), 2),
        [15, 30].map(at_min)
    );
    assert!(every_15.slots_between(t0(), at_min(14), 100).is_empty());
    let every_20m = Schedule::every(mins(20)).unwrap();
    assert_eq!(
        every_20m.slots_between(at_min(5), at_min(65), 10),
        [25, 45, 65].map(at_min)
    );
}

#[test]
fn the_scheduler_aligns_intervals_to_the_epoch() {
    let every_second = Schedule::every(secs(1)).unwrap();
    let t = t0() + chrono::Duration::milliseconds(300);
    assert_eq!(
        every_second.next_fire_after(t),
        Some(t0() + chrono::Duration::seconds(1))
    );
    assert_eq!(
        every_second.next_fire_after(t0()),
        Some(t0() + chrono::Duration::seconds(1)),
        "strictly after"
    );
    let hourly = Schedule::every(mins(60)).unwrap();
    assert_eq!(
        hourly.next_fire_after(at_min(30)),
        Some(at_min(60)),
        "whatever the replica"
    );
    let cron = Schedule::cron("*/5 * * * *", None).unwrap();
    assert_eq!(cron.next_fire_after(at_min(1)), Some(at_min(5)));
}
