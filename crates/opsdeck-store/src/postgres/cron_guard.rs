//! The PostgreSQL SQL of the cron guard store. A claim is `INSERT … ON CONFLICT DO NOTHING`
//! on the slot's key: of concurrent inserters, one inserts and the others wait for it to
//! commit, then insert nothing. The liveness check reads the one liveness row `FOR UPDATE`,
//! so heartbeats of several replicas take turns and only one of them sees a gap.

use sqlx::Postgres;

use crate::shared::cron_guard::{CronGuardSql, GuardQueries};

impl CronGuardSql for Postgres {
    const GUARD: GuardQueries = GuardQueries {
        claim_slot: "INSERT INTO cron_slots (slug, slot_at, instance_id, claimed_at)
             VALUES ($1, $2, $3, $4) ON CONFLICT (slug, slot_at) DO NOTHING",
        prune_slots: "DELETE FROM cron_slots WHERE slot_at < $1",
        last_alive: "SELECT last_alive_at FROM liveness WHERE id = 1 FOR UPDATE",
        record_alive: "UPDATE liveness SET last_alive_at = greatest(last_alive_at, $1)
             WHERE id = 1",
        insert_outage: "INSERT INTO outages (from_at, until_at) VALUES ($1, $2)
             ON CONFLICT (from_at) DO NOTHING",
        outages_since: "SELECT from_at, until_at FROM outages WHERE until_at > $1
             ORDER BY from_at",
        prune_outages: "DELETE FROM outages WHERE until_at < $1",
    };
}
