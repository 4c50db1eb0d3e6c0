//! What the tests of every queue connector share: a principal to act as, the view's JSON and
//! a queue in it once a poll has found it, a poll's or a job page's parts, and an operator's
//! single and bulk actions on a queue.

use std::time::Duration;

use opsdeck_connectors::queues::{JobPage, JobQuery, Poll};
use opsdeck_core::auth::{AuthMethod, Principal, Role};
use opsdeck_core::queues::{BulkAction, JobFilter, JobState, QueueStats};
use opsdeck_server::ops::queues::{self, BulkAnswer, BulkFilter, BulkOutcome, BulkRequest, DryRun};
use opsdeck_server::ops::{Caller, Reason};
use serde_json::Value;

use super::app::TestApp;
use super::wait_for_async;

/// A principal of `role` with an id of its own.
pub fn principal(role: Role) -> Principal {
    Principal {
        id: uuid::Uuid::new_v4().to_string(),
        name: role.as_str().to_owned(),
        role,
        method: AuthMethod::Token,
    }
}

/// GET `path` with `token`, as JSON (null when the body is not JSON).
pub async fn get_json(app: &TestApp, token: &str, path: &str) -> (u16, Value) {
    let response = app
        .client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Queue `queue` as `/ops/queues` shows it, once `check` holds of it.
pub async fn polled_queue(
    app: &TestApp,
    token: &str,
    queue: &str,
    check: impl Fn(&Value) -> bool,
) -> Value {
    wait_for_async(
        Duration::from_secs(15),
        "the poll to show the queue",
        || async {
            let (_, overview) = get_json(app, token, "/ops/queues").await;
            overview["queues"]
                .as_array()?
                .iter()
                .find(|q| q["queue"] == queue && check(q))
                .cloned()
        },
    )
    .await
}

/// Queue `name` of a poll.
pub fn queue_of<'a>(poll: &'a Poll, name: &str) -> &'a QueueStats {
    poll.queues
        .iter()
        .find(|q| q.queue.as_str() == name)
        .unwrap_or_else(|| panic!("no queue {name} in {poll:?}"))
}

/// The ids of a page's jobs, in its order.
pub fn ids_of(page: &JobPage) -> Vec<String> {
    page.jobs.iter().map(|j| j.id.to_string()).collect()
}

/// The first `limit` jobs in `state`, unfiltered.
pub fn query(state: JobState, limit: u32) -> JobQuery {
    JobQuery {
        filter: JobFilter {
            state,
            q: None,
            tenant_id: None,
        },
        cursor: None,
        limit,
    }
}

/// An operator acting on one queue, with one reason, through the use-cases the API and the
/// dashboard call.
pub struct Operator<'a> {
    pub app: &'a TestApp,
    pub source: &'a str,
    pub queue: &'a str,
    /// The reason given, e.g. `the mail relay is back, ticket 7`.
    pub reason: &'a str,
}

impl Operator<'_> {
    /// The reason as an action takes it.
    pub fn parsed_reason(&self) -> Reason {
        Reason::parse(self.reason).expect("a valid reason")
    }

    fn caller(&self) -> (Principal, Reason) {
        (principal(Role::Operator), self.parsed_reason())
    }

    /// Retries or discards one job: `done`, what the connector left it as, or the error's code.
    pub async fn one(&self, id: &str, action: BulkAction) -> String {
        let (operator, reason) = self.caller();
        let caller = Caller::new(&operator, None, None);
        let ops = self.app.state.ops();
        let act = ops.act(&caller, &reason);
        let state = &self.app.state;
        let result = match action {
            BulkAction::Retry => queues::retry_job(state, act, self.source, self.queue, id).await,
            BulkAction::Discard => {
                queues::discard_job(state, act, self.source, self.queue, id).await
            }
        };
        match result {
            Ok(outcome) => outcome.result.to_owned(),
            Err(err) => err.code().to_owned(),
        }
    }

    pub async fn bulk(
        &self,
        action: BulkAction,
        request: &BulkRequest,
    ) -> Result<BulkAnswer, opsdeck_server::error::ApiError> {
        let (operator, reason) = self.caller();
        let caller = Caller::new(&operator, None, None);
        let ops = self.app.state.ops();
        let act = ops.act(&caller, &reason);
        queues::run_bulk(
            &self.app.state,
            act,
            self.source,
            self.queue,
            action,
            request,
        )
        .await
    }

    /// The dry run of `action` on what `filter` selects (all failed jobs without one).
    pub async fn dry_run(&self, action: BulkAction, filter: Option<BulkFilter>) -> DryRun {
        let request = BulkRequest {
            dry_run: true,
            reason: self.reason.to_owned(),
            filter,
            selection: None,
            expected_count: None,
        };
        match self.bulk(action, &request).await.unwrap() {
            BulkAnswer::DryRun(dry) => dry,
            BulkAnswer::Done(done) => panic!("a dry run answered {done:?}"),
        }
    }

    /// The real run of `dry`'s selection, expecting `expected` jobs.
    pub fn real_run(&self, dry: &DryRun, expected: u64) -> BulkRequest {
        BulkRequest {
            dry_run: false,
            reason: self.reason.to_owned(),
            filter: None,
            selection: Some(dry.selection.clone()),
            expected_count: Some(expected),
        }
    }

    /// What a real run did.
    pub async fn done(&self, action: BulkAction, request: &BulkRequest) -> BulkOutcome {
        match self.bulk(action, request).await.unwrap() {
            BulkAnswer::Done(done) => done,
            BulkAnswer::DryRun(dry) => panic!("a real run answered {dry:?}"),
        }
    }
}
