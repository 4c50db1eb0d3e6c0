use super::*;

#[test]
fn url_tails_read_like_healthchecks() {
    use PingKind::*;
    for (tail, kind) in [
        ("", Success),
        ("start", Start),
        ("fail", Fail),
        ("log", Log),
        ("0", Exit(0)),
        ("1", Exit(1)),
        ("255", Exit(255)),
        ("007", Exit(7)),
    ] {
        assert_eq!(PingKind::parse_tail(tail), Ok(kind), "{tail:?}");
    }
    for tail in ["256", "1000", "99999999999999999999"] {
        assert_eq!(
            PingKind::parse_tail(tail),
            Err(PingError::ExitStatus),
            "{tail:?}"
        );
    }
    for tail in ["-1", "+1", "1.0", " 1", "START", "success", "fail/", "ok"] {
        assert_eq!(
            PingKind::parse_tail(tail),
            Err(PingError::UnknownKind),
            "{tail:?}"
        );
    }
}

#[test]
fn kinds_say_whether_they_finish_a_run() {
    use PingKind::*;
    assert_eq!(Success.finish(), Some(true));
    assert_eq!(Exit(0).finish(), Some(true));
    assert_eq!(Fail.finish(), Some(false));
    assert_eq!(Exit(2).finish(), Some(false));
    assert_eq!((Start.finish(), Log.finish()), (None, None));
    assert_eq!((Exit(2).exit_code(), Fail.exit_code()), (Some(2), None));
}

#[test]
fn checkin_statuses_map_to_kinds() {
    assert_eq!(
        PingKind::from_checkin_status("in_progress"),
        Ok(PingKind::Start)
    );
    assert_eq!(PingKind::from_checkin_status("ok"), Ok(PingKind::Success));
    assert_eq!(PingKind::from_checkin_status("error"), Ok(PingKind::Fail));
    assert_eq!(
        PingKind::from_checkin_status("missed"),
        Err(PingError::CheckinStatus)
    );
}

#[test]
fn rids_are_hyphenated_uuids_in_any_case() {
    let upper = parse_rid("3D8F6A52-0B1C-4E8F-9A7D-1B2C3D4E5F60").unwrap();
    let lower = parse_rid("3d8f6a52-0b1c-4e8f-9a7d-1b2c3d4e5f60").unwrap();
    assert_eq!(upper, lower);
    assert_eq!(upper.to_string(), "3d8f6a52-0b1c-4e8f-9a7d-1b2c3d4e5f60");
    for bad in [
        "",
        "not-a-uuid",
        "3d8f6a520b1c4e8f9a7d1b2c3d4e5f60",
        "{3d8f6a52-0b1c-4e8f-9a7d-1b2c3d4e5f60}",
        "3d8f6a52-0b1c-4e8f-9a7d-1b2c3d4e5fzz",
    ] {
        assert_eq!(parse_rid(bad), Err(PingError::Rid), "{bad:?}");
    }
}

#[test]
fn ping_errors_do_not_echo_the_request() {
    let text = PingError::UnknownKind.to_string();
    assert_eq!(
        text,
        "unknown ping kind: use start, fail, log or an exit status from 0 to 255"
    );
    assert!(PingError::Rid.to_string().starts_with("rid must be a UUID"));
}
