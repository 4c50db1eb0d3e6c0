//! The SQLite SQL of the cron guard store. SQLite has one writer at a time, so a claim is a
//! plain `INSERT … ON CONFLICT DO NOTHING` and the liveness check a read and a write under
//! `BEGIN IMMEDIATE`: no second writer can come between them.

use sqlx::Sqlite;

use crate::shared::cron_guard::{CronGuardSql, GuardQueries};

impl CronGuardSql for Sqlite {
    const GUARD: GuardQueries = GuardQueries {
        claim_slot: "INSERT INTO cron_slots (slug, slot_at, instance_id, claimed_at)
             VALUES (?1, ?2, ?3, ?4) ON CONFLICT (slug, slot_at) DO NOTHING",
        prune_slots: "DELETE FROM cron_slots WHERE slot_at < ?1",
        last_alive: "SELECT last_alive_at FROM liveness WHERE id = 1",
        record_alive: "UPDATE liveness SET last_alive_at = max(coalesce(last_alive_at, ?1), ?1)
             WHERE id = 1",
        insert_outage: "INSERT INTO outages (from_at, until_at) VALUES (?1, ?2)
             ON CONFLICT (from_at) DO NOTHING",
        outages_since: "SELECT from_at, until_at FROM outages WHERE until_at > ?1
             ORDER BY from_at",
        prune_outages: "DELETE FROM outages WHERE until_at < ?1",
    };
}
