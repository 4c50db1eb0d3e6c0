use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::ids::*;

pub(crate) fn at(seconds: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
}

/// A result of check `db` at `at(seconds)`, with output unless it passed.
pub(crate) fn result_at(status: Status, seconds: i64) -> CheckResult {
    CheckResult {
        name: CheckName::parse("db").unwrap(),
        status,
        latency: Duration::from_millis(3),
        observed_value: None,
        observed_unit: None,
        output: (status != Status::Pass).then(|| format!("{status} at {seconds}")),
        at: at(seconds),
    }
}

#[test]
fn status_orders_by_severity_and_reads_back() {
    assert!(Status::Pass < Status::Warn && Status::Warn < Status::Fail);
    for status in Status::ALL {
        assert_eq!(status.as_str().parse::<Status>(), Ok(status));
        assert_eq!(Status::from_rank(status.rank().into()), Some(status));
        let json = serde_json::to_string(&status).unwrap();
        assert_eq!(json, format!("\"{status}\""));
        assert_eq!(serde_json::from_str::<Status>(&json).unwrap(), status);
    }
    assert!("PASS".parse::<Status>().is_err());
    assert!("up".parse::<Status>().is_err());
    assert_eq!(Status::from_rank(3), None);
}

#[test]
fn check_names_are_short_lowercase_and_colon_free() {
    for good in [
        "db",
        "s3-assets",
        "api.example.com",
        "redis_1",
        "a",
        &"x".repeat(64),
    ] {
        assert_eq!(CheckName::parse(good).unwrap().as_str(), good);
    }
    for bad in ["", "DB", "a:b", "a b", "a/b", "é", &"x".repeat(65)] {
        assert_eq!(CheckName::parse(bad), Err(InvalidCheckName(bad.to_owned())));
    }
}

#[test]
fn check_name_serde_parses() {
    let name: CheckName = serde_json::from_str("\"db\"").unwrap();
    assert_eq!(serde_json::to_string(&name).unwrap(), "\"db\"");
    assert!(serde_json::from_str::<CheckName>("\"db:latency\"").is_err());
}

fn overall_of(checks: &[(Status, bool)]) -> Status {
    let results: Vec<(CheckResult, bool)> = checks
        .iter()
        .map(|&(status, critical)| (result_at(status, 0), critical))
        .collect();
    overall(results.iter().map(|(r, critical)| (r, *critical)))
}

#[test]
fn overall_follows_spec_section_three() {
    use Status::*;
    assert_eq!(overall_of(&[]), Pass);
    assert_eq!(overall_of(&[(Pass, true), (Pass, false)]), Pass);
    assert_eq!(overall_of(&[(Pass, true), (Warn, true)]), Warn);
    assert_eq!(overall_of(&[(Pass, true), (Warn, false)]), Warn);
    assert_eq!(overall_of(&[(Pass, true), (Fail, false)]), Warn);
    assert_eq!(overall_of(&[(Fail, false), (Fail, false)]), Warn);
    assert_eq!(overall_of(&[(Pass, false), (Fail, true)]), Fail);
    assert_eq!(
        overall_of(&[(Warn, true), (Fail, true), (Fail, false)]),
        Fail
    );
}
