//! The PostgreSQL SQL of the event store.

use sqlx::Postgres;

use crate::shared::events::{EventQueries, EventSql};

impl EventSql for Postgres {
    const EVENTS: EventQueries = EventQueries {
        insert_events: "INSERT INTO tenant_events
             (tenant_id, event_id, kind, at, received_at, fingerprint, detail) ",
        insert_events_end: " ON CONFLICT (tenant_id, event_id) DO NOTHING
             RETURNING tenant_id, event_id",
        upsert_error_groups: "INSERT INTO tenant_error_groups
             (tenant_id, fingerprint, count, first_seen, last_seen, message, route, stack_head) ",
        upsert_error_groups_end: " ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET
                 count = tenant_error_groups.count + excluded.count,
                 first_seen = LEAST(tenant_error_groups.first_seen, excluded.first_seen),
                 last_seen = GREATEST(tenant_error_groups.last_seen, excluded.last_seen),
                 message = CASE WHEN excluded.last_seen >= tenant_error_groups.last_seen
                     THEN excluded.message ELSE tenant_error_groups.message END,
                 route = CASE WHEN excluded.last_seen >= tenant_error_groups.last_seen
                     THEN excluded.route ELSE tenant_error_groups.route END,
                 stack_head = CASE WHEN excluded.last_seen >= tenant_error_groups.last_seen
                     THEN excluded.stack_head ELSE tenant_error_groups.stack_head END",
        upsert_usage_hourly: "INSERT INTO tenant_usage_hourly (tenant_id, hour, name, value) ",
        upsert_usage_hourly_end: " ON CONFLICT (tenant_id, hour, name) DO UPDATE SET
                 value = tenant_usage_hourly.value + excluded.value",
        upsert_usage_daily: "INSERT INTO tenant_usage_daily (tenant_id, day, name, value) ",
        upsert_usage_daily_end: " ON CONFLICT (tenant_id, day, name) DO UPDATE SET
                 value = tenant_usage_daily.value + excluded.value",
        insert_audit: "INSERT INTO tenant_audit_events
             (tenant_id, event_id, at, category, action, actor, target) ",
        insert_audit_end: " ON CONFLICT (tenant_id, event_id) DO NOTHING",
        upsert_audit_hourly: "INSERT INTO tenant_audit_hourly (tenant_id, category, hour, count) ",
        upsert_audit_hourly_end: " ON CONFLICT (tenant_id, category, hour) DO UPDATE SET
                 count = tenant_audit_hourly.count + excluded.count",
        upsert_tenants: "INSERT INTO tenant_event_tenants (tenant_id, first_seen, last_seen) ",
        upsert_tenants_end: " ON CONFLICT (tenant_id) DO UPDATE SET
                 first_seen = LEAST(tenant_event_tenants.first_seen, excluded.first_seen),
                 last_seen = GREATEST(tenant_event_tenants.last_seen, excluded.last_seen)",
        usage_totals: "SELECT name, SUM(value) AS value FROM (
                 SELECT name, value FROM tenant_usage_hourly
                 WHERE tenant_id = $1 AND hour >= $2 AND hour < $3
                 UNION ALL
                 SELECT name, value FROM tenant_usage_daily
                 WHERE tenant_id = $1 AND day >= $3 AND day < $4
                 UNION ALL
                 SELECT name, value FROM tenant_usage_hourly
                 WHERE tenant_id = $1 AND hour >= $4 AND hour < $5
             ) AS usage GROUP BY name ORDER BY name",
        error_groups: "SELECT fingerprint, count, first_seen, last_seen, message, route, stack_head
             FROM tenant_error_groups WHERE tenant_id = $1
             ORDER BY last_seen DESC, fingerprint LIMIT $2",
        audit_highlights: "SELECT event_id, at, category, action, actor, target
             FROM tenant_audit_events WHERE tenant_id = $1 AND category <> 'other'
             ORDER BY at DESC, event_id DESC LIMIT $2",
        login_bursts: "SELECT hour, count FROM tenant_audit_hourly
             WHERE tenant_id = $1 AND category = 'failed_login' AND hour >= $2 AND count >= $3
             ORDER BY hour DESC LIMIT $4",
        search_tenants: "SELECT tenant_id, first_seen, last_seen FROM tenant_event_tenants
             WHERE lower(tenant_id) LIKE $1 ESCAPE '\\'
             ORDER BY CASE WHEN lower(tenant_id) LIKE $2 ESCAPE '\\' THEN 0 ELSE 1 END, tenant_id COLLATE \"C\"
             LIMIT $3",
        prune_raw: "DELETE FROM tenant_events WHERE received_at < $1",
        prune_usage_hourly: "DELETE FROM tenant_usage_hourly WHERE hour < $1",
        prune_audit_hourly: "DELETE FROM tenant_audit_hourly WHERE hour < $1",
        prune_usage_daily: "DELETE FROM tenant_usage_daily WHERE day < $1",
        prune_error_groups: "DELETE FROM tenant_error_groups WHERE last_seen < $1",
        prune_tenants: "DELETE FROM tenant_event_tenants WHERE last_seen < $1",
        prune_audit: "DELETE FROM tenant_audit_events WHERE at < $1",
    };
}
