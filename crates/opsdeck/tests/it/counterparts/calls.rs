//! The world the counterparts test acts in — an app with an admin token, an HTTP job and a
//! push queue source whose retry webhook are a local listener, a BullMQ source on the
//! machine's Redis, and impersonation enabled — and one call of a row's action, by the JSON API or by its counterpart,
//! checked against the audit log.

use std::collections::{BTreeMap, BTreeSet};

use opsdeck_core::audit::{AuditFilter, AuditRecord, Target};
use opsdeck_core::auth::Role;
use opsdeck_core::cron::{MonitorSource, MonitorSpec};
use opsdeck_core::ids::{JobId, QueueName, Slug, SourceName, TenantId};
use opsdeck_core::impersonation::{Impersonation, UserId};
use opsdeck_core::queues::{BulkAction, JobFilter, JobState, Selection, SelectionToken};
use opsdeck_core::secret::Secret;
use opsdeck_core::token::Grant;
use opsdeck_server::config::{JobDefinition, PushKeys, SourceConfig};
use opsdeck_server::queues::record_snapshot;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use super::{Counterpart, Subject, Way};
use crate::alerts::Receiver;
use crate::queues_bullmq::fixture::{Bull, Lib, QUEUE as BULL_QUEUE, SOURCE as BULL_SOURCE};
use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::process::command;

/// The monitor that monitor actions act on, and the HTTP job that is triggered.
const MONITOR: &str = "subject";
const JOB: &str = "digest";
const CHECK: &str = "opsdeck-database";
/// The push source, queue and failed job that queue actions act on.
const SOURCE: &str = "billing";
const QUEUE: &str = "payments";
const FAILED_JOB: &str = "job-1";
/// The tenant impersonation acts on.
const TENANT: &str = "acme";

pub struct World {
    app: TestApp,
    admin: String,
    db_url: String,
    bull: Bull,
    // Answers the triggered job's calls for as long as the world lives.
    _listener: Receiver,
}

impl World {
    pub async fn start(db: TestDb) -> Self {
        let listener = Receiver::start().await;
        let job = JobDefinition {
            // Yearly: only the trigger fires it during the test.
            monitor: serde_json::from_value(json!({"slug": JOB, "schedule": "0 0 1 1 *"})).unwrap(),
            request: serde_json::from_value(json!({"url": listener.url("digest/send")})).unwrap(),
        };
        let keys = PushKeys {
            retry_webhook: Some(Secret::new(listener.url("app/retry"))),
            webhook_secret: Some(Secret::new("whsec-counterparts-0123456789".to_owned())),
        };
        let db_url = db.url.clone();
        let bull = Bull::new(Lib::V6);
        let bull_source = bull.source();
        let app = TestApp::spawn_with(db, |c| {
            crate::impersonation::enable(c);
            c.rate_limit.enabled = false;
            c.cron.jobs = vec![job];
            c.queues.sources = vec![SourceConfig::push(SOURCE, keys), bull_source];
        })
        .await;
        let (_, admin) = app.mint_role(Role::Admin).await;
        Self {
            app,
            admin,
            db_url,
            bull,
            _listener: listener,
        }
    }

    /// Takes `row`'s action through the JSON API (`way` = `None`) or its counterpart, with
    /// a reason of its own; asserts it succeeded and wrote exactly one audit entry carrying
    /// that reason, with the row's action and the target set up, and returns that entry.
    pub async fn take(&self, row: &Counterpart, way: Option<Way>) -> AuditRecord {
        let call = self.set_up(row.subject).await;
        let tokens_before = self.token_ids().await;
        let impersonations_before = self.impersonation_ids().await;
        let how = match way {
            None => "the JSON API",
            Some(Way::Form { .. }) => "a dashboard form",
            Some(Way::Command(_)) => "the command line",
        };
        let reason = format!("{} through {how} ({})", row.action, Uuid::new_v4());
        let what = format!("{} {} through {how}", row.api.0, row.api.1);
        match way {
            None => self.call_api(row, &call, &reason, &what).await,
            Some(Way::Form { path, fields }) => {
                let expected = if row.subject == Subject::NoImpersonation {
                    // The token is shown on the answer, once: no redirect.
                    StatusCode::OK
                } else {
                    StatusCode::SEE_OTHER
                };
                let path = call.fill(path);
                let form = (path.as_str(), fields);
                self.post_form(form, &call, &reason, expected, &what).await;
            }
            Some(Way::Command(args)) => self.run_command(args, &call, &reason, &what).await,
        }
        let target = match row.subject {
            Subject::Check => target("check", CHECK),
            Subject::Token => target("token", &call.id),
            Subject::NoToken => {
                let after = self.token_ids().await;
                let made: Vec<&Uuid> = after.difference(&tokens_before).collect();
                assert_eq!(made.len(), 1, "{what} made one token: {made:?}");
                target("token", &made[0].to_string())
            }
            Subject::NoMonitor | Subject::Monitor | Subject::PausedMonitor | Subject::Job => {
                target("monitor", call.slug)
            }
            Subject::FailedJob => target("job", &format!("{SOURCE}/{QUEUE}/{FAILED_JOB}")),
            Subject::Selection(_) => target(
                "selection",
                &format!("{SOURCE}/{QUEUE}/{} (1 jobs)", call.id),
            ),
            Subject::BullJob => target("job", &format!("{BULL_SOURCE}/{BULL_QUEUE}/{}", call.id)),
            Subject::BullSelection(_) => target(
                "selection",
                &format!("{BULL_SOURCE}/{BULL_QUEUE}/{} (1 jobs)", call.id),
            ),
            Subject::BullQueue { .. } => target("queue", &format!("{BULL_SOURCE}/{BULL_QUEUE}")),
            Subject::NoImpersonation => {
                let after = self.impersonation_ids().await;
                let made: Vec<&Uuid> = after.difference(&impersonations_before).collect();
                assert_eq!(made.len(), 1, "{what} started one: {made:?}");
                target("impersonation", &made[0].to_string())
            }
            Subject::Impersonation => {
                let active = self.impersonation_ids().await;
                assert!(
                    !active.contains(&call.jti.parse().unwrap()),
                    "{what} ended it"
                );
                target("impersonation", &call.jti)
            }
        };
        let entries = self.entries_with_reason(&reason).await;
        assert_eq!(
            entries.len(),
            1,
            "{what}: one entry carries its reason: {entries:#?}"
        );
        let entry = entries.into_iter().next().unwrap();
        assert_eq!(entry.action, row.action, "{what}");
        assert_eq!(entry.target, Some(target), "{what}");
        entry
    }

    /// Puts the subject in the state the action expects, straight in the store (which
    /// writes no audit entry).
    async fn set_up(&self, subject: Subject) -> Call {
        let store = self.app.state.store();
        let slug = if subject == Subject::Job {
            JOB
        } else {
            MONITOR
        };
        let bull = matches!(
            subject,
            Subject::BullJob | Subject::BullSelection(_) | Subject::BullQueue { .. }
        );
        let mut call = Call {
            slug,
            id: String::new(),
            jti: String::new(),
            source: if bull { BULL_SOURCE } else { SOURCE },
            queue: if bull { BULL_QUEUE } else { QUEUE },
        };
        let parsed = Slug::parse(slug).unwrap();
        let now = chrono::Utc::now();
        match subject {
            Subject::Check | Subject::Job | Subject::NoToken => {}
            Subject::NoMonitor => {
                store.delete_monitor(&parsed).await.unwrap();
            }
            Subject::Monitor | Subject::PausedMonitor => {
                store.delete_monitor(&parsed).await.unwrap();
                let spec = MonitorSpec::auto_created(parsed.clone());
                store
                    .create_monitor(&spec, MonitorSource::Api, now)
                    .await
                    .unwrap();
                if subject == Subject::PausedMonitor {
                    store.set_monitor_paused(&parsed, true, now).await.unwrap();
                }
            }
            Subject::Token => {
                let grant = Grant::Role(Role::Viewer);
                call.id = self.app.mint("to-revoke", grant, None).await.0.to_string();
            }
            Subject::FailedJob => {
                self.report_failed_job().await;
                call.id = FAILED_JOB.to_owned();
            }
            Subject::Selection(action) => {
                self.report_failed_job().await;
                call.id = self.pin(&call, action, FAILED_JOB).await;
            }
            Subject::BullJob => call.id = self.fail_bull_job().await,
            Subject::BullSelection(action) => {
                let job = self.fail_bull_job().await;
                call.id = self.pin(&call, action, &job).await;
            }
            Subject::BullQueue { paused } => {
                // The queue exists once a job went through it.
                self.fail_bull_job().await;
                let state = self
                    .bull
                    .node(if paused { "pause" } else { "resume" }, json!({}))
                    .await;
                assert_eq!(state["paused"], paused, "BullMQ says: {state}");
            }
            Subject::NoImpersonation => call.id = TENANT.to_owned(),
            Subject::Impersonation => {
                call.id = TENANT.to_owned();
                call.jti = self.record_impersonation().await.to_string();
            }
        }
        call
    }

    /// An active impersonation of [`TENANT`], recorded straight in the store; its jti.
    async fn record_impersonation(&self) -> Uuid {
        let now = chrono::Utc::now();
        let impersonation = Impersonation {
            jti: Uuid::new_v4(),
            tenant: TenantId::parse(TENANT).unwrap(),
            user_id: UserId::parse("user_7").unwrap(),
            operator_id: "set-up".to_owned(),
            operator_name: "set-up".to_owned(),
            reason: "set up for the counterparts test".to_owned(),
            kid: "set-up".to_owned(),
            issued_at: now,
            expires_at: now + chrono::Duration::minutes(15),
            revoked_at: None,
            revoked_by: None,
        };
        self.app
            .state
            .store()
            .record_impersonation(&impersonation)
            .await
            .unwrap();
        impersonation.jti
    }

    /// The jtis of the tenant's active impersonations.
    async fn impersonation_ids(&self) -> BTreeSet<Uuid> {
        let tenant = TenantId::parse(TENANT).unwrap();
        let active = self
            .app
            .state
            .store()
            .list_active_impersonations(&tenant, chrono::Utc::now())
            .await
            .unwrap();
        active.iter().map(|i| i.jti).collect()
    }

    /// A job of the BullMQ queue, failed by a real worker; its id.
    async fn fail_bull_job(&self) -> String {
        let ids = self
            .bull
            .failed_jobs(json!([{"data": {}}]), "card declined")
            .await;
        ids.into_iter().next().expect("one job failed")
    }

    /// A dry run's selection of `job` for `action`, taken straight in the store; its token.
    async fn pin(&self, call: &Call, action: BulkAction, job: &str) -> String {
        let now = chrono::Utc::now();
        let selection = Selection {
            token: SelectionToken::generate(),
            source: SourceName::parse(call.source).unwrap(),
            queue: QueueName::parse(call.queue).unwrap(),
            action,
            filter: JobFilter {
                state: JobState::Failed,
                q: None,
                tenant_id: None,
            },
            ids: vec![JobId::parse(job).unwrap()],
            pinned_at: now,
            expires_at: now + chrono::Duration::minutes(10),
            used_at: None,
        };
        self.app
            .state
            .store()
            .create_selection(&selection)
            .await
            .unwrap();
        selection.token.to_string()
    }

    /// The application reports the failed job, as its snapshot would (unaudited).
    async fn report_failed_job(&self) {
        let snapshot = serde_json::from_value(json!({
            "counts": {"failed": 1},
            "failures": [{"id": FAILED_JOB, "error": "card declined"}],
        }))
        .unwrap();
        record_snapshot(self.app.state.queues(), QUEUE, snapshot)
            .await
            .unwrap();
    }

    async fn call_api(&self, row: &Counterpart, call: &Call, reason: &str, what: &str) {
        let mut body: Value = serde_json::from_str(&call.fill(row.body)).unwrap();
        body["reason"] = json!(reason);
        let method = Method::from_bytes(row.api.0.as_bytes()).unwrap();
        let response = self
            .app
            .client
            .request(method, self.app.url(&call.fill(row.api.1)))
            .bearer_auth(&self.admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(
            status.is_success(),
            "{what}: {status} {:?}",
            response.text().await
        );
    }

    /// Posts the form as a script would, with the admin's bearer token: it sends no
    /// cookie, so the form needs no CSRF token. A form that did what it was asked
    /// answers `expected`: most redirect (303).
    async fn post_form(
        &self,
        (path, fields): (&str, &[(&str, &str)]),
        call: &Call,
        reason: &str,
        expected: StatusCode,
        what: &str,
    ) {
        let mut form: Vec<(&str, String)> =
            fields.iter().map(|(k, v)| (*k, call.fill(v))).collect();
        form.push(("reason", reason.to_owned()));
        let response = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(self.app.url(path))
            .bearer_auth(&self.admin)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(status, expected, "{what}: {:?}", response.text().await);
    }

    /// Runs the real binary on the app's database, as an admin at the server would.
    async fn run_command(&self, args: &[&str], call: &Call, reason: &str, what: &str) {
        let mut args: Vec<String> = args.iter().map(|a| call.fill(a)).collect();
        args.extend(["--reason".to_owned(), reason.to_owned()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env = BTreeMap::from([("OPSDECK_DATABASE_URL".to_owned(), self.db_url.clone())]);
        let out = command(&args, &env).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {stderr}");
    }

    async fn token_ids(&self) -> BTreeSet<Uuid> {
        let tokens = self.app.state.store().list_tokens().await.unwrap();
        tokens.iter().map(|t| t.id).collect()
    }

    /// Every audit entry whose reason is `reason`, through the whole log, page by page.
    /// Actions commit their entry before they answer (the command line before it exits),
    /// so nothing is waited for.
    async fn entries_with_reason(&self, reason: &str) -> Vec<AuditRecord> {
        let mut found = Vec::new();
        let mut filter = AuditFilter::default();
        loop {
            let page = self.app.state.store().list_audit(&filter).await.unwrap();
            let Some(last) = page.last() else {
                return found;
            };
            filter.before_seq = Some(last.seq);
            found.extend(
                page.into_iter()
                    .map(|e| e.record)
                    .filter(|r| r.reason.as_deref() == Some(reason)),
            );
        }
    }
}

/// What one call acts on: the values of a row's `{slug}`, `{id}` and `{jti}` (`{name}` is
/// always the database's own check).
struct Call {
    slug: &'static str,
    id: String,
    jti: String,
    source: &'static str,
    queue: &'static str,
}

impl Call {
    fn fill(&self, text: &str) -> String {
        text.replace("{name}", CHECK)
            .replace("{source}", self.source)
            .replace("{queue}", self.queue)
            .replace("{slug}", self.slug)
            .replace("{id}", &self.id)
            .replace("{jti}", &self.jti)
    }
}

fn target(kind: &str, id: &str) -> Target {
    Target {
        kind: kind.to_owned(),
        id: id.to_owned(),
    }
}
