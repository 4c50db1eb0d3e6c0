use super::*;

#[test]
fn run_statuses_and_sources_read_back() {
    for status in RunStatus::ALL {
        assert_eq!(status.as_str().parse::<RunStatus>(), Ok(*status));
        let json = serde_json::to_string(status).unwrap();
        assert_eq!(json, format!("\"{status}\""));
    }
    for source in RunSource::ALL {
        assert_eq!(source.as_str().parse::<RunSource>(), Ok(*source));
    }
    for status in MonitorStatus::ALL {
        assert_eq!(status.as_str().parse::<MonitorStatus>(), Ok(*status));
    }
    assert_eq!(RunStatus::TimedOut.as_str(), "timed_out");
    assert!("timedout".parse::<RunStatus>().is_err());
    let failures: Vec<_> = RunStatus::ALL.iter().filter(|s| s.is_failure()).collect();
    assert_eq!(
        failures,
        [&RunStatus::Failed, &RunStatus::TimedOut, &RunStatus::Missed]
    );
}

#[test]
fn error_snippets_keep_the_redacted_tail_within_a_kilobyte() {
    assert_eq!(error_snippet(" \n "), None);
    let short = error_snippet("connect failed: password=hunter2\n").unwrap();
    assert_eq!(short, "connect failed: password=***");
    let output = format!(
        "{}\nFATAL: disk full, token=abc123",
        "progress line\n".repeat(500)
    );
    let snippet = error_snippet(&output).unwrap();
    assert!(snippet.len() <= ERROR_MAX_BYTES, "{}", snippet.len());
    assert!(snippet.starts_with('…'), "cut text says so");
    assert!(
        snippet.ends_with("FATAL: disk full, token=***"),
        "{snippet}"
    );
}

#[test]
fn log_excerpts_keep_the_tail_on_char_boundaries() {
    let body = "é".repeat(LOG_MAX_BYTES); // two bytes each
    let excerpt = log_excerpt(&body);
    assert!(excerpt.len() <= LOG_MAX_BYTES);
    assert!(excerpt.starts_with('…') && excerpt.ends_with('é'));
    assert_eq!(log_excerpt("all fine\n"), "all fine\n");
    assert_eq!(log_excerpt("user=bob@example.com"), "user=[email]");
}

#[test]
fn appended_logs_keep_the_newest_output() {
    assert_eq!(append_log("one\n", "two\n"), "one\ntwo\n");
    let full = "a".repeat(LOG_MAX_BYTES);
    let appended = append_log(&full, "the end");
    assert!(appended.len() <= LOG_MAX_BYTES);
    assert!(appended.starts_with('…') && appended.ends_with("aathe end"));
}
