//! The Cron pages' pure parts without a server: schedules and durations in words, and the
//! geometry of the duration chart.

use chrono::{TimeZone, Utc};
use opsdeck_core::cron::{Run, RunSource, RunStatus};
use opsdeck_core::ids::Slug;
use opsdeck_server::web::cron::chart::duration_chart;
use opsdeck_server::web::cron::{duration_ms, schedule_words};

#[test]
fn easy_schedules_read_as_words_and_the_rest_as_written() {
    let cases = [
        ("* * * * *", Some("every minute")),
        ("*/5 * * * *", Some("every 5 minutes")),
        ("0 * * * *", Some("every hour, on the hour")),
        ("15 * * * *", Some("every hour at :15")),
        ("0 */6 * * *", Some("every 6 hours, on the hour")),
        ("30 2 * * *", Some("every day at 02:30")),
        ("0 9 * * 1-5", Some("on weekdays at 09:00")),
        (
            "0 9 * * 1,3,5",
            Some("on Monday, Wednesday and Friday at 09:00"),
        ),
        ("0 9 * * 7", Some("every Sunday at 09:00")),
        ("0 9 * * fri", Some("every Friday at 09:00")),
        ("0 3 1 * *", Some("on day 1 of every month at 03:00")),
        ("@daily", Some("every day at 00:00")),
        ("0 9 * 1 *", None),
        ("0 9 1 * 1", None),
        ("5-10 * * * *", None),
        ("*/5 3 * * *", None),
    ];
    for (expr, want) in cases {
        assert_eq!(schedule_words(expr).as_deref(), want, "{expr}");
    }
}

#[test]
fn durations_are_short_and_readable() {
    assert_eq!(duration_ms(420), "420 ms");
    assert_eq!(duration_ms(12_345), "12.3 s");
    assert_eq!(duration_ms(252_000), "4 min 12 s");
    assert_eq!(duration_ms(7_500_000), "2 h 5 min");
}

fn run(status: RunStatus, duration_ms: Option<u64>) -> Run {
    let at = Utc.with_ymd_and_hms(2025, 1, 31, 2, 30, 0).single();
    Run {
        run_id: uuid::Uuid::new_v4(),
        slug: Slug::parse("backup").unwrap(),
        status,
        source: RunSource::Ping,
        expected_at: None,
        started_at: at,
        finished_at: at,
        duration_ms,
        exit_code: None,
        error: None,
        missed_slots: 0,
        last_missed_at: None,
        in_maintenance: false,
        too_fast: false,
    }
}

#[test]
fn bars_scale_to_the_slowest_run_newest_on_the_right() {
    // Newest first, as the store lists runs.
    let runs = [
        run(RunStatus::Missed, None),
        run(RunStatus::Failed, Some(2000)),
        run(RunStatus::Success, Some(1000)),
    ];
    let chart = duration_chart(&runs).unwrap();
    assert_eq!(chart.runs, 3);
    assert_eq!(chart.failed, 2);
    assert_eq!(chart.top_label, "2.0 s");
    let classes: Vec<&str> = chart.bars.iter().map(|b| b.class.as_str()).collect();
    assert_eq!(classes, ["pass", "fail", "fail marker"]);
    let heights: Vec<&str> = chart.bars.iter().map(|b| b.height.as_str()).collect();
    assert_eq!(heights, ["76.0", "152.0", "6.0"]);
    let x: Vec<f64> = chart.bars.iter().map(|b| b.x.parse().unwrap()).collect();
    assert!(x[0] < x[1] && x[1] < x[2] && x[2] > 970.0, "{x:?}");
    assert!(
        chart.bars[1]
            .title
            .starts_with("failed · 2.0 s · 2025-01-31")
    );
    assert!(duration_chart(&[]).is_none());
}
