//! What the tests of every queue connector share: a principal to act as, the view's JSON and
//! a queue in it once a poll has found it, and a poll's or a job page's parts.

use std::time::Duration;

use opsdeck_connectors::queues::{JobPage, JobQuery, Poll};
use opsdeck_core::auth::{AuthMethod, Principal, Role};
use opsdeck_core::queues::{JobFilter, JobState, QueueStats};
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
