//! Unit tests of the parsed names.

use super::*;

#[test]
fn slugs_are_lowercase_healthchecks_slugs() {
    let long = "a".repeat(SLUG_MAX_CHARS);
    for good in ["backup", "db-backup_2", "0", long.as_str()] {
        assert_eq!(Slug::parse(good).unwrap().as_str(), good);
    }
    let error = Slug::parse("Backup").unwrap_err();
    assert_eq!(error.to_string(), "slug must be lowercase");
    assert_eq!(error.field, "slug");
    assert_eq!(
        Slug::parse("").unwrap_err().to_string(),
        "slug must not be empty"
    );
    assert_eq!(
        Slug::parse("a b").unwrap_err().to_string(),
        "slug may only contain a-z, 0-9, '_' and '-' (found ' ')"
    );
    for bad in ["é", "a/b", "a.b", &"a".repeat(SLUG_MAX_CHARS + 1)] {
        assert!(Slug::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn slugs_parse_through_serde() {
    let slug: Slug = serde_json::from_str("\"nightly\"").unwrap();
    assert_eq!(serde_json::to_string(&slug).unwrap(), "\"nightly\"");
    assert!(serde_json::from_str::<Slug>("\"Nightly\"").is_err());
}

#[test]
fn names_are_trimmed_and_printable() {
    assert_eq!(
        MonitorName::parse("  Nightly backup ").unwrap().as_str(),
        "Nightly backup"
    );
    assert_eq!(
        MonitorName::parse("   ").unwrap_err().to_string(),
        "name must not be empty"
    );
    assert!(MonitorName::parse("a\u{7}b").is_err());
    assert!(MonitorName::parse(&"x".repeat(NAME_MAX_CHARS + 1)).is_err());
    assert_eq!(
        MonitorName::from(&Slug::parse("backup").unwrap()).as_str(),
        "backup"
    );
}

#[test]
fn tags_are_validated_and_deduplicated_in_order() {
    let tags = Tags::parse(["prod", "team:billing", "prod", "env=eu"]).unwrap();
    assert_eq!(
        tags.iter().collect::<Vec<_>>(),
        ["prod", "team:billing", "env=eu"]
    );
    assert!(tags.contains("team:billing") && !tags.contains("billing"));
    let spaced = Tags::parse_spaced(" prod  nightly ").unwrap();
    assert_eq!(spaced.iter().collect::<Vec<_>>(), ["prod", "nightly"]);
    assert!(Tags::parse_spaced("").unwrap().is_empty());
    assert_eq!(
        Tags::parse(["a b"]).unwrap_err().field,
        "tags",
        "a space cannot hide inside one tag"
    );
    let many: Vec<String> = (0..=TAGS_MAX).map(|n| format!("t{n}")).collect();
    assert_eq!(
        Tags::parse(&many).unwrap_err().to_string(),
        "tags must be at most 32"
    );
    assert!(serde_json::from_str::<Tags>(r#"["ok", "not ok"]"#).is_err());
}

#[test]
fn tenant_ids_never_appear_in_errors_or_debug() {
    let tenant = TenantId::parse("acme-42").unwrap();
    assert_eq!(tenant.as_str(), "acme-42");
    assert_eq!(format!("{tenant:?}"), "TenantId(..)");
    let error = TenantId::parse("secret tenant").unwrap_err().to_string();
    assert!(
        !error.contains("secret") && !error.contains("' '"),
        "{error}"
    );
    assert!(error.starts_with("tenant_id may only contain"), "{error}");
    assert!(TenantId::parse(&"t".repeat(TENANT_ID_MAX_CHARS + 1)).is_err());
    assert!(TenantId::parse("123e4567-e89b-12d3-a456-426614174000").is_ok());
}
