//! Application events (SPEC §6, issue 14 items 2 and 3) over real HTTP, on both backends:
//! batches as a JSON array and as NDJSON answered event by event, duplicates, every
//! refusal of the request as a whole, redaction before storage (read back from the
//! database's own rows), grouping of errors and usage rollups across hour and day
//! boundaries. `grouping` holds the fingerprint and category rules on their own.

mod grouping;
mod refusals;
mod settings;

use chrono::{DateTime, Utc};
use opsdeck_core::events::{day_of, hour_of};
use opsdeck_core::ids::TenantId;
use opsdeck_core::store::Backend;
use opsdeck_core::token::Scope;
use reqwest::Response;
use serde_json::{Value, json};

use crate::pings::key;
use crate::support::app::TestApp;
use crate::support::contract::on_both_backends;
use crate::support::db::TestDb;

on_both_backends!(
    an_array_batch_is_answered_event_by_event_in_order,
    ndjson_batches_by_content_type_or_by_their_first_character,
    secrets_of_the_redaction_corpus_never_reach_the_stored_rows,
    errors_differing_only_by_numbers_and_ids_share_a_group,
    usage_sums_split_exactly_at_hour_and_day_boundaries,
    concurrent_resends_of_one_batch_store_each_event_once,
);

/// An app, its database's URL and an ingest key with scope `events`.
pub struct Sender {
    pub app: TestApp,
    pub url: String,
    pub backend: Backend,
    pub key: String,
}

impl Sender {
    pub async fn start(
        db: TestDb,
        tweak: impl FnOnce(&mut opsdeck_server::config::Config),
    ) -> Self {
        let (url, backend) = (db.url.clone(), db.backend);
        let app = TestApp::spawn_with(db, tweak).await;
        let key = key(&app, "app-events", &[Scope::Events]).await;
        Self {
            app,
            url,
            backend,
            key,
        }
    }

    pub async fn post(&self, content_type: Option<&str>, body: impl Into<String>) -> Response {
        let mut request = self
            .app
            .client
            .post(self.app.url("/api/v1/events"))
            .bearer_auth(&self.key)
            .body(body.into());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        request.send().await.unwrap()
    }

    /// Posts `events` as a JSON array and returns the 200 answer.
    pub async fn send(&self, events: &[Value]) -> Value {
        let response = self
            .post(
                Some("application/json"),
                Value::from(events.to_vec()).to_string(),
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// Every text the database keeps of events, one string per row.
    pub async fn stored_texts(&self) -> Vec<String> {
        let queries = [
            "SELECT COALESCE(fingerprint, '') || ' ' || detail AS t FROM tenant_events",
            "SELECT fingerprint || ' ' || message || ' ' || COALESCE(route, '') || ' ' \
             || COALESCE(stack_head, '') AS t FROM tenant_error_groups",
            "SELECT action || ' ' || COALESCE(actor, '') || ' ' || COALESCE(target, '') AS t \
             FROM tenant_audit_events",
        ];
        let mut texts = Vec::new();
        for sql in queries {
            let rows: Vec<String> = match self.backend {
                Backend::Sqlite => {
                    let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
                    let rows = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
                    pool.close().await;
                    rows
                }
                Backend::Postgres => {
                    let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
                    let rows = sqlx::query_scalar(sql).fetch_all(&pool).await.unwrap();
                    pool.close().await;
                    rows
                }
            };
            texts.extend(rows);
        }
        texts
    }
}

pub fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

fn minutes_ago(minutes: i64) -> String {
    at(Utc::now() - chrono::Duration::minutes(minutes))
}

fn statuses(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap().to_owned())
        .collect()
}

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

async fn an_array_batch_is_answered_event_by_event_in_order(db: TestDb) {
    let s = Sender::start(db, |_| {}).await;
    let batch = format!(
        r#"[
        {{"id": "e1", "type": "error", "tenant_id": "acme", "at": "{now}", "message": "boom", "route": "/x"}},
        {{"id": "a1", "type": "audit", "tenant_id": "acme", "at": "{now}", "action": "user.login_failed"}},
        {{"id": "u1", "type": "usage", "tenant_id": "acme", "at": "{now}", "name": "api.requests", "value": 2}},
        {{"id": "x1", "type": "usage", "at": "{now}", "name": "api.requests", "value": 2}},
        {{"id": "x2", "type": "usage", "tenant_id": "acme", "at": "{now}", "name": "api.requests", "value": -1}},
        {{"id": "x3", "type": "error", "tenant_id": "acme", "at": "{now}", "message": "m", "mesage": "typo"}},
        {{"id": "x4", "type": "error", "tenant_id": "acme", "at": "yesterday", "message": "m"}},
        {{"id": "x5", "type": "alert", "tenant_id": "acme", "at": "{now}"}},
        {{"id": }},
        {{"id": "e1", "type": "error", "tenant_id": "acme", "at": "{now}", "message": "again"}},
        {{"id": "e1", "type": "error", "tenant_id": "globex", "at": "{now}", "message": "other tenant"}}
    ]"#,
        now = minutes_ago(1)
    );
    let response = s.post(Some("application/json"), batch).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        statuses(&answer),
        [
            "stored",
            "stored",
            "stored",
            "rejected",
            "rejected",
            "rejected",
            "rejected",
            "rejected",
            "rejected",
            "duplicate",
            "stored"
        ],
        "{answer}"
    );
    assert_eq!(
        (
            &answer["stored"],
            &answer["duplicates"],
            &answer["rejected"]
        ),
        (&json!(4), &json!(1), &json!(6))
    );
    let results = &answer["results"];
    assert_eq!(results[0]["id"], "e1");
    assert_eq!(results[3]["index"], 3);
    for (index, field) in [
        (3, "tenant_id"),
        (4, "value"),
        (5, "mesage"),
        (6, "at"),
        (7, "type"),
    ] {
        assert_eq!(results[index]["error"]["field"], field, "{answer}");
        assert!(results[index]["error"]["message"].is_string());
    }
    assert!(results[8]["error"]["field"].is_null(), "{answer}");
    assert!(
        results[8]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );

    // Sent again, everything valid is a duplicate and nothing is counted twice.
    let again = s
        .send(&[
            json!({"id": "u1", "type": "usage", "tenant_id": "acme", "at": minutes_ago(1),
                   "name": "api.requests", "value": 2}),
        ])
        .await;
    assert_eq!(statuses(&again), ["duplicate"]);
    let store = s.app.state.store();
    let totals = store
        .usage_totals(
            &tenant("acme"),
            Utc::now() - chrono::Duration::hours(24),
            Utc::now(),
        )
        .await
        .unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(totals[0].value, 2.0);
    let groups = store
        .recent_error_groups(&tenant("acme"), 10)
        .await
        .unwrap();
    assert_eq!((groups.len(), groups[0].message.as_str()), (1, "boom"));
    let bursts = store
        .failed_login_bursts(
            &tenant("acme"),
            Utc::now() - chrono::Duration::hours(2),
            1,
            10,
        )
        .await
        .unwrap();
    assert_eq!(bursts.iter().map(|b| b.count).sum::<u64>(), 1);
    let seen = store.search_event_tenants("", 10).await.unwrap();
    assert_eq!(seen.len(), 2);
    let metrics = s.app.metrics().await;
    for line in [
        r#"opsdeck_events_total{outcome="stored"} 4"#,
        r#"opsdeck_events_total{outcome="duplicate"} 2"#,
        r#"opsdeck_events_total{outcome="rejected"} 6"#,
    ] {
        assert!(metrics.contains(line), "{line} in {metrics}");
    }
    assert!(metrics.contains("opsdeck_event_commit_duration_seconds_count"));
}

async fn ndjson_batches_by_content_type_or_by_their_first_character(db: TestDb) {
    let s = Sender::start(db, |_| {}).await;
    let line = |id: &str| {
        json!({"id": id, "type": "usage", "tenant_id": "acme", "at": minutes_ago(1),
               "name": "logins", "value": 1})
        .to_string()
    };
    let body = format!(
        "{}\n\n{}\r\nnot json\n{}\n",
        line("n1"),
        line("n2"),
        line("n1")
    );
    for content_type in [Some("application/x-ndjson"), None, Some("text/plain")] {
        let response = s.post(content_type, body.clone()).await;
        assert_eq!(response.status(), 200, "{content_type:?}");
        let answer: Value = response.json().await.unwrap();
        let expected = if content_type == Some("application/x-ndjson") {
            ["stored", "stored", "rejected", "duplicate"]
        } else {
            ["duplicate", "duplicate", "rejected", "duplicate"]
        };
        assert_eq!(statuses(&answer), expected, "{content_type:?}: {answer}");
    }
    // A single event object is a batch of one.
    let response = s.post(Some("application/json"), line("n3")).await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(statuses(&answer), ["stored"]);
    let empty = s.post(Some("application/json"), "[]").await;
    assert_eq!(empty.status(), 200);
    let answer: Value = empty.json().await.unwrap();
    assert_eq!(answer["results"], json!([]));
}

/// Secrets of every kind the redactor masks, and a text that carries each.
const CORPUS: [(&str, &str); 8] = [
    (
        "jane.doe@example.com",
        "user jane.doe@example.com not found",
    ),
    ("4111 1111 1111 1111", "card 4111 1111 1111 1111 declined"),
    (
        "hunter2",
        "could not connect to postgres://app:hunter2@db:5432/app",
    ),
    ("s3cr3t-value", "login with password=s3cr3t-value refused"),
    (
        "AKIAIOSFODNN7EXAMPLE",
        "aws key AKIAIOSFODNN7EXAMPLE rejected",
    ),
    (
        "abcdefghij0123456789abcdefghij",
        "Authorization: Bearer abcdefghij0123456789abcdefghij",
    ),
    (
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ",
        "token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ expired",
    ),
    (
        "ghp_0123456789abcdefghijABCDEFGHIJ012345",
        "pushed with ghp_0123456789abcdefghijABCDEFGHIJ012345",
    ),
];

async fn secrets_of_the_redaction_corpus_never_reach_the_stored_rows(db: TestDb) {
    let s = Sender::start(db, |_| {}).await;
    let mut events = Vec::new();
    for (n, (_, text)) in CORPUS.iter().enumerate() {
        let now = minutes_ago(1);
        events.push(
            json!({"id": format!("e{n}"), "type": "error", "tenant_id": "acme",
            "at": now, "message": text, "stack": format!("Error: {text}\n    at f (app.js:1:2)"),
            "route": format!("/u/{text}"), "request_id": text}),
        );
        events.push(
            json!({"id": format!("f{n}"), "type": "error", "tenant_id": "acme",
            "at": now, "message": "m", "fingerprint": text}),
        );
        events.push(
            json!({"id": format!("a{n}"), "type": "audit", "tenant_id": "acme",
            "at": now, "action": format!("export {text}"), "actor": text, "target": text}),
        );
    }
    let answer = s.send(&events).await;
    assert_eq!(answer["stored"], events.len(), "{answer}");
    let texts = s.stored_texts().await;
    assert!(texts.len() >= events.len(), "{texts:?}");
    let everything = texts.join("\n");
    for (secret, _) in CORPUS {
        assert!(
            !everything.contains(secret),
            "{secret} stored: {everything}"
        );
    }
    for placeholder in ["[email]", "[card]", "***", "[key]", "[jwt]", "[token]"] {
        assert!(
            everything.contains(placeholder),
            "{placeholder} in {everything}"
        );
    }
    // What the tenant page reads is the same redacted text.
    let store = s.app.state.store();
    let shown = format!(
        "{:?}{:?}",
        store
            .recent_error_groups(&tenant("acme"), 100)
            .await
            .unwrap(),
        store.audit_highlights(&tenant("acme"), 100).await.unwrap()
    );
    for (secret, _) in CORPUS {
        assert!(!shown.contains(secret), "{secret} shown: {shown}");
    }
}

async fn errors_differing_only_by_numbers_and_ids_share_a_group(db: TestDb) {
    let s = Sender::start(db, |_| {}).await;
    let error = |id: &str, extra: Value| {
        let mut event = json!({"id": id, "type": "error", "tenant_id": "acme",
                               "at": minutes_ago(1)});
        for (k, v) in extra.as_object().unwrap() {
            event[k] = v.clone();
        }
        event
    };
    let events = [
        error(
            "1",
            json!({"message": "order 1234 of user 5 not found (req 0x7f3a9c)"}),
        ),
        error(
            "2",
            json!({"message": "order 99 of user 6 not found (req 0x11)"}),
        ),
        error(
            "3",
            json!({"message": "order 3f2a9b1c-0d4e-4f5a-8b6c-7d8e9f0a1b2c of user 7 not found (req 0xdeadbeef)"}),
        ),
        error(
            "4",
            json!({"message": "timeout after 30s calling 'billing-eu'"}),
        ),
        error(
            "5",
            json!({"message": "timeout after 12s calling 'billing-us'"}),
        ),
        error("6", json!({"message": "completely different"})),
        error(
            "7",
            json!({"message": "order 1 of user 1 not found (req 0x1)", "fingerprint": "orders"}),
        ),
        error(
            "8",
            json!({"message": "x", "stack": "TypeError: x\n    at charge (/app/billing.js:10:5)\n    at run (/app/jobs.js:3:1)"}),
        ),
        error(
            "9",
            json!({"message": "y", "stack": "TypeError: y\n    at charge (/app/billing.js:12:9)\n    at run (/app/jobs.js:4:2)"}),
        ),
    ];
    let answer = s.send(&events).await;
    assert_eq!(answer["stored"], 9, "{answer}");
    let groups = s
        .app
        .state
        .store()
        .recent_error_groups(&tenant("acme"), 100)
        .await
        .unwrap();
    let mut counts: Vec<u64> = groups.iter().map(|g| g.count).collect();
    counts.sort_unstable();
    assert_eq!(counts, [1, 1, 2, 2, 3], "{groups:#?}");
    assert!(
        groups
            .iter()
            .any(|g| g.fingerprint == "orders" && g.count == 1)
    );
    let by_stack = groups
        .iter()
        .find(|g| g.fingerprint.starts_with("s:"))
        .unwrap();
    assert_eq!(by_stack.count, 2);
    assert!(
        by_stack
            .stack_head
            .as_deref()
            .unwrap()
            .starts_with("TypeError")
    );
}

async fn usage_sums_split_exactly_at_hour_and_day_boundaries(db: TestDb) {
    let s = Sender::start(db, |_| {}).await;
    let now = Utc::now();
    let hour = hour_of(now);
    let day = day_of(now);
    let minute = chrono::Duration::minutes(1);
    let usage = |id: &str, t: DateTime<Utc>, value: f64| {
        json!({"id": id, "type": "usage", "tenant_id": "acme", "at": at(t),
               "name": "api.requests", "value": value})
    };
    let events = [
        usage("before-day", day - minute, 1.0),
        usage("day", day, 2.0),
        usage("before-hour", hour - minute, 4.0),
        usage("hour", hour, 8.0),
        usage("yesterday", day - chrono::Duration::hours(12), 16.0),
        usage("last-week", day - chrono::Duration::days(5), 32.0),
    ];
    let answer = s.send(&events).await;
    assert_eq!(answer["stored"], 6, "{answer}");
    let store = s.app.state.store();
    let total = |since: DateTime<Utc>| {
        let store = store.clone();
        async move {
            store
                .usage_totals(&tenant("acme"), since, Utc::now())
                .await
                .unwrap()
                .first()
                .map_or(0.0, |t| t.value)
        }
    };
    // The day and hour boundaries may coincide (just after midnight): the sums below are
    // taken from the events themselves, so they hold either way.
    let sum_since = |since: DateTime<Utc>| -> f64 {
        events
            .iter()
            .filter(|e| DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap() >= since)
            .map(|e| e["value"].as_f64().unwrap())
            .sum()
    };
    assert_eq!(total(hour).await, sum_since(hour));
    assert_eq!(total(day).await, sum_since(day));
    let yesterday = day - chrono::Duration::days(1);
    assert_eq!(total(yesterday).await, sum_since(yesterday));
    assert!(sum_since(hour) >= 8.0 && sum_since(day) >= 10.0 && sum_since(yesterday) >= 27.0);
    assert_eq!(total(now - chrono::Duration::days(7)).await, 63.0);
}

async fn concurrent_resends_of_one_batch_store_each_event_once(db: TestDb) {
    let s = Sender::start(db, |_| {}).await;
    let events: Vec<Value> = (0..50)
        .map(|n| {
            json!({"id": format!("c{n}"), "type": "usage", "tenant_id": format!("t{}", n % 5),
                   "at": minutes_ago(1), "name": "api.requests", "value": 1})
        })
        .collect();
    let body = Value::from(events.clone()).to_string();
    let mut sends = Vec::new();
    for _ in 0..8 {
        let request = s
            .app
            .client
            .post(s.app.url("/api/v1/events"))
            .bearer_auth(&s.key)
            .body(body.clone());
        sends.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }));
    }
    let mut stored = 0;
    let mut duplicates = 0;
    for send in sends {
        let answer = send.await.unwrap();
        stored += answer["stored"].as_u64().unwrap();
        duplicates += answer["duplicates"].as_u64().unwrap();
    }
    assert_eq!((stored, duplicates), (50, 350));
    let store = s.app.state.store();
    let mut total = 0.0;
    for n in 0..5 {
        let since = Utc::now() - chrono::Duration::hours(1);
        let totals = store
            .usage_totals(&tenant(&format!("t{n}")), since, Utc::now())
            .await
            .unwrap();
        total += totals.iter().map(|t| t.value).sum::<f64>();
    }
    assert_eq!(total, 50.0, "each event counted once");
}

/// Two replicas on one PostgreSQL database, each with its own writer, take the same batch
/// at once: the database's unique key decides, and each event is stored once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_store_a_batch_sent_to_both_once() {
    let Some(db) = TestDb::postgres() else { return };
    let s = Sender::start(db, |_| {}).await;
    let replica = TestApp::spawn_replica(&s.url, |_| {}).await;
    let events: Vec<Value> = (0..200)
        .map(|n| {
            json!({"id": format!("r{n}"), "type": "error", "tenant_id": format!("t{}", n % 7),
                   "at": minutes_ago(1), "message": format!("failure {n}")})
        })
        .collect();
    let body = Value::from(events).to_string();
    let mut sends = Vec::new();
    for app in [&s.app, &replica, &s.app, &replica] {
        let request = app
            .client
            .post(app.url("/api/v1/events"))
            .bearer_auth(&s.key)
            .body(body.clone());
        sends.push(tokio::spawn(async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()
        }));
    }
    let mut stored = 0;
    for send in sends {
        stored += send.await.unwrap()["stored"].as_u64().unwrap();
    }
    assert_eq!(stored, 200);
    let mut count = 0;
    for n in 0..7 {
        let groups = s
            .app
            .state
            .store()
            .recent_error_groups(&tenant(&format!("t{n}")), 10)
            .await
            .unwrap();
        count += groups.iter().map(|g| g.count).sum::<u64>();
    }
    assert_eq!(count, 200, "each error counted once in its group");
}
