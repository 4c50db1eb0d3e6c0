//! The demo's application events: the made-up shop's tenants (the ones its queues fail jobs
//! for) with a week of usage, a few recurring errors and audit events, so the Tenants pages
//! show usage, error groups and highlights at once. The events go through the same parsing,
//! redaction and store as `POST /api/v1/events`; their ids are fixed per hour, so a restarted
//! demo finds them stored already rather than counting them twice.

use chrono::{DateTime, Duration, Timelike, Utc};
use opsdeck_core::Store;
use opsdeck_core::events::{EventLimits, parse_event};
use serde_json::{Value, json};

/// Tenants, each with its share of the traffic.
const TENANTS: [(&str, u64); 4] = [
    ("acme", 40),
    ("globex", 25),
    ("initech", 10),
    ("umbrella", 5),
];

/// Hours of usage written back from now.
const HOURS: i64 = 6 * 24;

fn events_at(now: DateTime<Utc>) -> Vec<Value> {
    let mut events = Vec::new();
    let this_hour = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    for back in 0..HOURS {
        let hour = this_hour - Duration::hours(back);
        // Within the hour, never in the future.
        let at = (hour + Duration::minutes(17)).min(now);
        let stamp = hour.format("%Y%m%d%H");
        for (n, (tenant, weight)) in TENANTS.into_iter().enumerate() {
            // A daily rhythm: busier in the afternoon.
            let rhythm = 1 + (hour.hour() as u64 + 6 * n as u64) % 24 / 3;
            events.push(
                json!({"id": format!("demo-u-{tenant}-{stamp}"), "type": "usage",
                "tenant_id": tenant, "at": at.to_rfc3339(), "name": "api.requests",
                "value": weight * rhythm * 12}),
            );
            if back % 6 == n as i64 {
                events.push(json!({"id": format!("demo-e-{tenant}-{stamp}"), "type": "error",
                    "tenant_id": tenant, "at": at.to_rfc3339(), "route": "/api/checkout",
                    "message": format!("PaymentError: card declined for order {} (customer billing@{tenant}.example)", 4000 + back),
                    "stack": "PaymentError: card declined\n    at charge (payments/charge.js:41:11)\n    at checkout (routes/checkout.js:88:5)"}));
            }
        }
        if back % 24 == 3 {
            events.push(
                json!({"id": format!("demo-e-globex-timeout-{stamp}"), "type": "error",
                "tenant_id": "globex", "at": at.to_rfc3339(), "route": "/api/reports",
                "message": format!("TimeoutError: report query took {} ms", 30_000 + back)}),
            );
        }
    }
    let audit = |id: &str, tenant: &str, hours: i64, actor: &str, action: &str, target: &str| {
        json!({"id": id, "type": "audit", "tenant_id": tenant,
            "at": (now - Duration::hours(hours)).to_rfc3339(), "actor": actor,
            "action": action, "target": target})
    };
    events.push(audit(
        "demo-a-1",
        "acme",
        2,
        "owner@acme.example",
        "user.role_granted",
        "user 812: admin",
    ));
    events.push(audit(
        "demo-a-2",
        "acme",
        26,
        "ops@acme.example",
        "data.export_requested",
        "all invoices (CSV)",
    ));
    events.push(audit(
        "demo-a-3",
        "globex",
        5,
        "admin@globex.example",
        "user.deleted",
        "user 77",
    ));
    for n in 0..12 {
        events.push(audit(
            &format!("demo-a-login-{n}"),
            "initech",
            1,
            "unknown",
            "user.login_failed",
            "peter@initech.example",
        ));
    }
    events
}

/// Stores the demo's events (idempotent: a second run stores nothing new).
pub async fn seed(store: &dyn Store, now: DateTime<Utc>) -> anyhow::Result<()> {
    let limits = EventLimits::default();
    let mut events = Vec::new();
    for raw in events_at(now) {
        let bytes = serde_json::to_vec(&raw)?;
        match parse_event(&bytes, now, &limits) {
            Ok(event) => events.push(event.redacted()),
            // An hour older than the events' age limit: left out.
            Err(err) => tracing::debug!(error = ?err, "a demo event was left out"),
        }
    }
    store.ingest_events(&events, now).await?;
    Ok(())
}
