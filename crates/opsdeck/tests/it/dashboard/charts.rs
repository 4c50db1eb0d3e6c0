//! The geometry behind the server-rendered charts, and the figures pages print: a timeline
//! covers its window exactly with the status in effect at each moment, a day of samples
//! stays a bounded number of points, and an outage is never rounded away.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use opsdeck_core::health::{Sample, Status, StatusChange};
use opsdeck_core::ids::CheckName;
use opsdeck_server::web::charts::{latency_chart, sparkline, timeline};
use opsdeck_server::web::format;

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, hour, minute, 0).unwrap()
}

fn change(from: Option<Status>, to: Status, when: DateTime<Utc>) -> StatusChange {
    StatusChange {
        name: CheckName::parse("db").unwrap(),
        from,
        to,
        at: when,
        output: None,
    }
}

fn width_sum(bands: &[opsdeck_server::web::charts::Band]) -> f64 {
    bands.iter().map(|b| b.width.parse::<f64>().unwrap()).sum()
}

#[test]
fn a_timeline_starts_with_the_status_in_effect_and_covers_its_window() {
    // Newest first, as the check detail lists them.
    let changes = vec![
        change(Some(Status::Fail), Status::Pass, at(12, 30)),
        change(Some(Status::Pass), Status::Fail, at(12, 0)),
        change(None, Status::Pass, at(9, 0)),
    ];
    let bands = timeline(&changes, at(11, 0), at(13, 0), Some(Status::Pass));
    let classes: Vec<&str> = bands.iter().map(|b| b.class).collect();
    assert_eq!(classes, ["pass", "fail", "pass"]);
    assert!((width_sum(&bands) - 1000.0).abs() < 1.0, "{bands:?}");
    assert_eq!(bands[1].x, "500.0");
    assert_eq!(bands[1].width, "250.0");
    assert!(
        bands[1]
            .title
            .starts_with("fail from 2025-03-01 12:00:00 UTC")
    );

    // Before the first result a check has no status: "no data", not "pass".
    let bands = timeline(&changes, at(8, 0), at(10, 0), Some(Status::Pass));
    let classes: Vec<&str> = bands.iter().map(|b| b.class).collect();
    assert_eq!(classes, ["none", "pass"]);

    // No change in the history given: the current status held throughout.
    let bands = timeline(&[], at(8, 0), at(10, 0), Some(Status::Warn));
    assert_eq!(bands.len(), 1);
    assert_eq!(bands[0].class, "warn");
}

#[test]
fn a_day_of_one_second_samples_is_drawn_with_a_bounded_number_of_points() {
    let start = at(0, 0);
    let samples: Vec<Sample> = (0..86_400)
        .map(|s| {
            let latency = Duration::from_micros(500 + (s % 100) * 10);
            Sample {
                at: start + chrono::Duration::seconds(s as i64),
                raw: true,
                count: 1,
                failed: u32::from(s == 43_200),
                worst: if s == 43_200 {
                    Status::Fail
                } else {
                    Status::Pass
                },
                min: latency,
                max: latency,
                total: latency,
            }
        })
        .collect();
    let chart = latency_chart(&samples, start, start + chrono::Duration::days(1)).unwrap();
    let points = chart.mean.matches(['M', 'L']).count();
    assert!((200..=300).contains(&points), "{points} points");
    assert_eq!(chart.samples, 86_400);
    assert_eq!(chart.fails.len(), 1, "the failed probe is marked");
    assert!(chart.mean.len() < 10_000, "a page stays small");
    assert!(latency_chart(&[], start, start + chrono::Duration::days(1)).is_none());
}

#[test]
fn sparklines_scale_to_the_slowest_and_mark_failures() {
    let line = sparkline(&[
        (Status::Pass, 1.0),
        (Status::Fail, 4.0),
        (Status::Pass, 2.0),
    ])
    .unwrap();
    assert_eq!(line.points, "0.0,17.0 50.0,2.0 100.0,12.0");
    assert_eq!(line.fails.len(), 1);
    assert!(line.label.contains("3 results"));
    assert!(sparkline(&[]).is_none());
}

#[test]
fn figures_are_short_and_never_hide_an_outage() {
    assert_eq!(format::percent(Some(0.999_96)), "99.99 %");
    assert_eq!(format::percent(Some(1.0)), "100 %");
    assert_eq!(format::percent(None), "—");
    assert_eq!(format::latency_ms(0.421), "0.42 ms");
    assert_eq!(format::latency_ms(12.34), "12.3 ms");
    assert_eq!(format::latency_ms(1204.0), "1.20 s");
    assert_eq!(format::interval(Duration::from_secs(15)), "15s");
    assert_eq!(format::interval(Duration::from_secs(300)), "5m");
    assert_eq!(format::ago(at(12, 0), at(12, 5)), "5 min");
    // Free disk space says it is free, not a bare "percent".
    let free = format::measured("freeSpace", Some(29.93), Some("percent"));
    assert_eq!(free.as_deref(), Some("29.9 % free"));
    let left = format::measured("certificateExpiry", Some(13.96), Some("d"));
    assert_eq!(left.as_deref(), Some("14.0 days left"));
    let expired = format::measured("certificateExpiry", Some(-2.0), Some("d"));
    assert_eq!(expired.as_deref(), Some("expired 2.0 days ago"));
    assert_eq!(
        format::measured("responseTime", Some(3.2), Some("ms")),
        None
    );
}
