use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::ids::CheckName;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

const MS: fn(u64) -> Duration = Duration::from_millis;
const SECS: fn(u64) -> Duration = Duration::from_secs;

#[test]
fn alert_backoff_doubles_from_initial_and_caps_at_max() {
    let delays: Vec<Duration> = (1..=8)
        .map(|attempt| retry_delay(attempt, SECS(2), SECS(60), Duration::ZERO))
        .collect();
    assert_eq!(
        delays,
        [2, 4, 8, 16, 32, 60, 60, 60].map(SECS),
        "2s, doubled per attempt, never above 60s"
    );
}

#[test]
fn alert_backoff_adds_jitter_after_the_cap() {
    assert_eq!(retry_delay(1, MS(50), MS(400), MS(3)), MS(53));
    assert_eq!(retry_delay(10, MS(50), MS(400), MS(7)), MS(407));
    assert_eq!(jitter_bound(SECS(60)), SECS(6));
}

#[test]
fn alert_backoff_never_overflows() {
    for attempt in [0, 1, 31, 32, 33, 1_000, u32::MAX] {
        let delay = retry_delay(attempt, SECS(2), SECS(300), Duration::ZERO);
        assert!(delay <= SECS(300), "attempt {attempt}: {delay:?}");
    }
    assert_eq!(
        retry_delay(0, SECS(2), SECS(300), Duration::ZERO),
        SECS(2),
        "attempt 0 counts as the first"
    );
    assert_eq!(
        retry_delay(5, Duration::MAX, Duration::MAX, SECS(1)),
        Duration::MAX,
        "saturates"
    );
}

#[test]
fn alert_names_round_trip() {
    for kind in AlertKind::ALL {
        assert_eq!(kind.as_str().parse::<AlertKind>(), Ok(*kind));
    }
    for source in AlertSource::ALL {
        assert_eq!(source.as_str().parse::<AlertSource>(), Ok(*source));
    }
    for state in DeliveryState::ALL {
        assert_eq!(state.as_str().parse::<DeliveryState>(), Ok(*state));
    }
    let err = "sent".parse::<DeliveryState>().unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown delivery state \"sent\": expected one of pending, delivered, failed"
    );
}

#[test]
fn alert_kind_for_check_changes() {
    use crate::health::Status::{Fail, Pass, Warn};
    assert_eq!(AlertKind::for_check(None, Pass), None, "first result pass");
    assert_eq!(AlertKind::for_check(None, Fail), Some(AlertKind::Down));
    assert_eq!(
        AlertKind::for_check(Some(Pass), Fail),
        Some(AlertKind::Down)
    );
    assert_eq!(
        AlertKind::for_check(Some(Pass), Warn),
        Some(AlertKind::Degraded)
    );
    assert_eq!(
        AlertKind::for_check(Some(Fail), Pass),
        Some(AlertKind::Recovered)
    );
    assert_eq!(
        AlertKind::for_check(Some(Fail), Warn),
        Some(AlertKind::Degraded)
    );
}

#[test]
fn alert_event_for_a_check_change_is_redacted_and_linked() {
    let change = StatusChange {
        name: CheckName::parse("db").unwrap(),
        from: Some(Status::Pass),
        to: Status::Fail,
        at: t0(),
        output: Some("connect postgres://app:hunter2@db:5432/x failed; ".repeat(50)),
    };
    let event = AlertEvent::for_check(&change).expect("a flip to fail is told");
    assert_eq!(event.source, AlertSource::Health);
    assert_eq!(event.kind, AlertKind::Down);
    assert_eq!(
        (event.from.as_deref(), event.to.as_str()),
        (Some("pass"), "fail")
    );
    assert_eq!(event.subject, "db");
    assert_eq!(event.link, "/health/db");
    assert_eq!(event.at, t0());
    assert_eq!(event.id.get_version_num(), 7);
    let detail = event.detail.expect("output kept");
    assert!(!detail.contains("hunter2"), "{detail}");
    assert!(detail.len() <= DETAIL_MAX_BYTES);

    let first = StatusChange {
        from: None,
        to: Status::Pass,
        output: None,
        ..change
    };
    assert_eq!(AlertEvent::for_check(&first), None);
}

#[test]
fn alert_summary_is_one_bounded_line() {
    let event = AlertEvent::new(
        AlertSource::Cron,
        "nightly",
        AlertKind::Down,
        "down",
        &format!(
            "  nightly failed for bob@example.com {}\nsecond line",
            "x".repeat(500)
        ),
        "/cron/nightly",
        t0(),
    )
    .with_detail("   ");
    assert!(!event.summary.contains('\n'));
    assert!(!event.summary.contains("bob@example.com"));
    assert!(event.summary.starts_with("nightly failed for [email]"));
    assert!(event.summary.len() <= SUMMARY_MAX_BYTES);
    assert_eq!(event.detail, None, "blank detail is no detail");
}

#[test]
fn alert_delivery_errors_are_redacted_and_short() {
    let long = format!("HTTP 500: token=abc123 {}", "y".repeat(2_000));
    let DeliveryOutcome::Retry { error, at } = DeliveryOutcome::retry(t0(), &long) else {
        panic!("retry");
    };
    assert_eq!(at, t0());
    assert!(error.starts_with("HTTP 500: token=***"), "{error}");
    assert!(error.len() <= LAST_ERROR_MAX_BYTES);
    assert_eq!(DeliveryOutcome::failed("x").as_str(), "failed");
}

#[test]
fn alert_cursor_round_trips_and_rejects_garbage() {
    let cursor = DeliveryCursor {
        created_at: t0() + chrono::Duration::milliseconds(123),
        id: Uuid::now_v7(),
    };
    assert_eq!(cursor.to_string().parse(), Ok(cursor));
    for bad in [
        "",
        "123",
        "abc-00000000-0000-0000-0000-000000000000",
        "1-nope",
    ] {
        assert_eq!(bad.parse::<DeliveryCursor>(), Err(InvalidCursor), "{bad}");
    }
}
