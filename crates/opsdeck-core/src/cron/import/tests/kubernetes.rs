use super::*;

const MANIFESTS: &str = "\
# A chart's rendered output: a Deployment among the CronJobs.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  paused: false
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: db-backup
  namespace: prod
spec:
  schedule: \"30 2 * * *\"
  timeZone: Europe/Berlin
  jobTemplate:
    spec:
      template:
        spec:
          containers:
            - name: backup
              image: registry.example/backup:1.4
          restartPolicy: OnFailure
---
apiVersion: batch/v1beta1
kind: CronJob
metadata:
  name: report.weekly
spec:
  schedule: '@weekly'
  suspend: true
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  schedule: not a cron job
";

#[test]
fn cron_jobs_are_read_and_other_kinds_skipped_silently() {
    let import = import_in(Format::Kubernetes, MANIFESTS, Some("America/Chicago"));
    assert!(import.findings.is_empty(), "{:?}", findings(&import));
    assert_eq!(
        rows(&import),
        [
            "db-backup 30 2 * * * Europe/Berlin",
            "report-weekly @weekly America/Chicago",
        ]
    );
    let backup = &import.monitors[0];
    assert_eq!(backup.origin.line, 10, "the document's first line");
    assert_eq!(backup.spec.name().as_str(), "prod/db-backup");
    assert_eq!(
        backup.detail.as_deref(),
        Some("image registry.example/backup:1.4")
    );
    assert!(!backup.spec.is_paused());
    let report = &import.monitors[1];
    assert!(report.spec.is_paused(), "suspend: true");
    assert_eq!(report.origin.line, 27);
}

#[test]
fn broken_documents_are_reported_with_the_line_in_the_file() {
    let text = "\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: fine
spec:
  schedule: \"0 * * * *\"
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: no-schedule
spec:
  jobTemplate: {}
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: bad-zone
spec:
  schedule: \"0 3 * * *\"
  timeZone: Moon/Tranquility
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: broken
  labels: [unclosed
spec:
  schedule: \"0 4 * * *\"
---
- just
- a list
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: bad-suspend
spec:
  schedule: \"0 5 * * *\"
  suspend: sometimes
---
apiVersion: batch/v1
kind: CronJob
spec:
  schedule: \"0 6 * * *\"
";
    let import = import(Format::Kubernetes, text);
    assert_eq!(rows(&import), ["fine 0 * * * * UTC"]);
    let found = findings(&import);
    let lines: Vec<usize> = found.iter().map(|f| f.0).collect();
    assert!(
        found.iter().all(|f| f.1 == FindingKind::Invalid),
        "{found:?}"
    );
    assert_eq!(lines.len(), 6, "{found:?}");
    assert_eq!(lines[0], 8);
    assert_eq!(found[0].2, "CronJob no-schedule: spec.schedule is missing");
    assert_eq!(lines[1], 15);
    assert!(found[1].2.contains("Moon/Tranquility"), "{}", found[1].2);
    assert!(
        (26..=30).contains(&lines[2]),
        "a YAML error points into its document: {found:?}"
    );
    assert!(found[2].2.starts_with("not valid YAML"), "{}", found[2].2);
    assert!(
        !found[2].2.contains("at line"),
        "no document-relative line: {}",
        found[2].2
    );
    assert_eq!(lines[3], 31);
    assert!(found[3].2.contains("not a mapping"), "{}", found[3].2);
    assert_eq!(lines[4], 34);
    assert_eq!(
        found[4].2,
        "CronJob bad-suspend: spec.suspend must be true or false"
    );
    assert_eq!(lines[5], 42);
    assert_eq!(found[5].2, "CronJob without metadata.name");
}

#[test]
fn a_kubectl_list_is_read_item_by_item() {
    let text = "\
apiVersion: v1
kind: List
items:
- apiVersion: batch/v1
  kind: CronJob
  metadata:
    name: cleanup
    namespace: default
  spec:
    schedule: \"*/10 * * * *\"
- apiVersion: v1
  kind: Service
  metadata:
    name: web
- apiVersion: batch/v1
  kind: CronJob
  metadata:
    name: sync
  spec:
    schedule: \"0 0 * * *\"
    timeZone: Asia/Tokyo
";
    let import = import(Format::Kubernetes, text);
    assert!(import.findings.is_empty(), "{:?}", findings(&import));
    assert_eq!(
        rows(&import),
        ["cleanup */10 * * * * UTC", "sync 0 0 * * * Asia/Tokyo"]
    );
    assert_eq!(import.monitors[0].origin.line, 7, "the item's name line");
    assert_eq!(import.monitors[1].origin.line, 18);
}

#[test]
fn other_cron_job_apis_are_skipped_with_a_reason_and_old_zone_prefixes_read() {
    let text = "\
apiVersion: stable.example.com/v1
kind: CronJob
metadata:
  name: custom
spec:
  cronSpec: \"* * * * */5\"
---
apiVersion: batch/v1
kind: CronJob
metadata:
  name: legacy-zone
spec:
  schedule: \"CRON_TZ=Europe/Paris 0 6 * * *\"
";
    let import = import(Format::Kubernetes, text);
    assert_eq!(rows(&import), ["legacy-zone 0 6 * * * Europe/Paris"]);
    assert_eq!(import.findings.len(), 1);
    let skipped = finding_on(&import, 1);
    assert_eq!(skipped.kind, FindingKind::Skipped);
    assert!(
        skipped.message.contains("stable.example.com/v1"),
        "{}",
        skipped.message
    );
    assert!(import.is_clean());
}

#[test]
fn names_shared_across_namespaces_get_numbered_slugs() {
    let doc = |ns: &str| {
        format!(
            "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: backup\n  namespace: {ns}\nspec:\n  schedule: \"0 1 * * *\"\n"
        )
    };
    let text = format!("{}---\n{}", doc("staging"), doc("prod"));
    let import = import(Format::Kubernetes, &text);
    assert_eq!(
        rows(&import),
        ["backup 0 1 * * * UTC", "backup-2 0 1 * * * UTC"]
    );
    assert_eq!(import.monitors[1].spec.name().as_str(), "prod/backup");
}

#[test]
fn yaml_files_and_manifests_are_recognised() {
    let guess = |path: &str, text: &str| Format::guess(Path::new(path), text);
    assert_eq!(guess("deploy/cronjobs.yaml", ""), Format::Kubernetes);
    assert_eq!(guess("all.yml", ""), Format::Kubernetes);
    assert_eq!(
        guess("manifest", "---\napiVersion: batch/v1\n"),
        Format::Kubernetes
    );
}
