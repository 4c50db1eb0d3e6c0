//! The SQLite SQL of the liveness ping, leases and heartbeats.

use sqlx::Sqlite;

use crate::shared::database::{DatabaseQueries, DatabaseSql};

impl DatabaseSql for Sqlite {
    const DATABASE: DatabaseQueries = DatabaseQueries {
        ping: "SELECT 1",
        // One statement, under the database's single write lock. `excluded.acquired_at` is
        // `now`. A renewal by the holder of an unexpired lease keeps its original
        // acquired_at; a takeover starts afresh.
        acquire_lease: "INSERT INTO leases (name, holder, acquired_at, expires_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET
                 holder = excluded.holder,
                 acquired_at = CASE
                     WHEN leases.holder = excluded.holder
                          AND leases.expires_at > excluded.acquired_at
                     THEN leases.acquired_at
                     ELSE excluded.acquired_at
                 END,
                 expires_at = excluded.expires_at
             WHERE leases.holder = excluded.holder
                OR leases.expires_at <= excluded.acquired_at
             RETURNING name, holder, acquired_at, expires_at",
        release_lease: "DELETE FROM leases WHERE name = ?1 AND holder = ?2",
        get_lease: "SELECT name, holder, acquired_at, expires_at FROM leases WHERE name = ?1",
        record_heartbeat: "INSERT INTO instances (id, hostname, version, started_at, last_seen_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (id) DO UPDATE SET
                 hostname = excluded.hostname,
                 version = excluded.version,
                 started_at = excluded.started_at,
                 last_seen_at = excluded.last_seen_at",
        list_instances: "SELECT id, hostname, version, started_at, last_seen_at FROM instances
             ORDER BY last_seen_at DESC, id",
        prune_instances: "DELETE FROM instances WHERE last_seen_at < ?1",
    };
}
