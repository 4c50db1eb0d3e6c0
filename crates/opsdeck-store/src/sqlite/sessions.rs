//! The SQLite SQL of the session store. The idle deadline is
//! `last_seen_at + idle_seconds * 1000` (times are unix milliseconds).

use sqlx::Sqlite;

use crate::shared::sessions::{SessionQueries, SessionSql};

/// The columns of a session record.
macro_rules! columns {
    () => {
        "id, principal_id, principal_name, role, method, token_id, csrf, created_at, \
         last_seen_at, idle_seconds, expires_at, ended_at, client_addr, user_agent"
    };
}

/// Live at `?1`.
macro_rules! live {
    () => {
        "ended_at IS NULL AND expires_at > ?1 AND last_seen_at + idle_seconds * 1000 > ?1"
    };
}

impl SessionSql for Sqlite {
    const SESSIONS: SessionQueries = SessionQueries {
        create: concat!(
            "INSERT INTO sessions (id, hash, principal_id, principal_name, role, method,
                                   token_id, csrf, created_at, last_seen_at, idle_seconds,
                                   expires_at, client_addr, user_agent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11, ?12, ?13)
             RETURNING ",
            columns!()
        ),
        find_by_hash: concat!("SELECT ", columns!(), " FROM sessions WHERE hash = ?1"),
        touch: concat!(
            "UPDATE sessions SET last_seen_at = ?1
             WHERE id = ?2 AND last_seen_at < ?1 AND ",
            live!()
        ),
        end: "UPDATE sessions SET ended_at = ?2 WHERE id = ?1 AND ended_at IS NULL",
        end_for_token: "UPDATE sessions SET ended_at = ?2 WHERE token_id = ?1 AND ended_at IS NULL",
        list: concat!(
            "SELECT ",
            columns!(),
            " FROM sessions WHERE ",
            live!(),
            " AND (?2 IS NULL OR principal_id = ?2) ORDER BY created_at DESC, id DESC"
        ),
        prune: "DELETE FROM sessions
             WHERE ended_at < ?1 OR expires_at < ?1 OR last_seen_at + idle_seconds * 1000 < ?1",
    };
}
