use super::*;

#[test]
fn vercel_crons_are_read_in_utc_with_slugs_from_their_paths() {
    let text = r#"{
  "buildCommand": "next build",
  "crons": [
    { "path": "/api/cron/daily-report", "schedule": "0 5 * * *" },
    {
      "path": "/api/sync?full=1",
      "schedule": "*/30 * * * *"
    },
    { "path": "/api/cron", "schedule": "0 0 * * 0" }
  ]
}
"#;
    // Vercel runs crons in UTC: a default zone does not apply.
    let import = import_in(Format::Vercel, text, Some("Europe/Berlin"));
    assert!(import.findings.is_empty(), "{:?}", findings(&import));
    assert_eq!(
        rows(&import),
        [
            "daily-report 0 5 * * * UTC",
            "sync */30 * * * * UTC",
            "api-cron 0 0 * * 0 UTC",
        ]
    );
    let lines: Vec<usize> = import.monitors.iter().map(|m| m.origin.line).collect();
    assert_eq!(lines, [4, 6, 9]);
    assert_eq!(
        import.monitors[0].spec.name().as_str(),
        "/api/cron/daily-report"
    );
    assert_eq!(
        import.monitors[1].detail.as_deref(),
        Some("GET /api/sync?full=1")
    );
}

#[test]
fn bad_entries_and_bad_json_are_reported_with_lines() {
    let text = r#"{
  "crons": [
    { "path": "/api/a", "schedule": "0 5 * * *" },
    { "path": "/api/b" },
    { "path": "/api/c", "schedule": "0 25 * * *" }
  ]
}"#;
    let import = import(Format::Vercel, text);
    assert_eq!(rows(&import), ["a 0 5 * * * UTC"]);
    assert_eq!(
        finding_on(&import, 4).message,
        "crons[1] needs a \"path\" and a \"schedule\", both strings"
    );
    assert!(
        finding_on(&import, 5).message.contains("hour field \"25\""),
        "{:?}",
        findings(&import)
    );

    let broken = super::import(Format::Vercel, "{\n  \"crons\": [\n    {,}\n  ]\n}\n");
    let finding = finding_on(&broken, 3);
    assert_eq!(finding.kind, FindingKind::Invalid);
    assert!(
        finding.message.starts_with("not valid JSON"),
        "{}",
        finding.message
    );

    let wrong_shape = super::import(Format::Vercel, "{\n  \"crons\": {}\n}");
    assert!(
        finding_on(&wrong_shape, 2)
            .message
            .contains("must be an array")
    );
}

#[test]
fn a_vercel_json_without_crons_imports_nothing_and_says_so() {
    let import = import(Format::Vercel, r#"{ "framework": "nextjs" }"#);
    assert!(import.monitors.is_empty());
    assert_eq!(import.findings.len(), 1);
    assert_eq!(import.findings[0].kind, FindingKind::Note);
    assert!(import.is_clean());
}

#[test]
fn vercel_json_is_recognised_by_name_or_content() {
    let guess = |path: &str, text: &str| Format::guess(Path::new(path), text);
    assert_eq!(guess("site/vercel.json", ""), Format::Vercel);
    assert_eq!(guess("config.json", "{\"crons\": []}"), Format::Vercel);
    assert_eq!("vercel".parse::<Format>(), Ok(Format::Vercel));
    assert_eq!("k8s".parse::<Format>(), Ok(Format::Kubernetes));
    assert_eq!("cron.d".parse::<Format>(), Ok(Format::SystemCrontab));
    let unknown = "toml".parse::<Format>().unwrap_err();
    assert!(
        unknown.contains("crontab, system-crontab, k8s or vercel"),
        "{unknown}"
    );
}
