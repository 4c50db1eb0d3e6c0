//! The audit log against someone with direct access to the database: plain UPDATE and DELETE
//! are refused by the triggers, and once an administrator bypasses them (drops or disables
//! the triggers), every edit, deletion, insertion and swap is named by verification.

use std::sync::Arc;

use opsdeck_core::audit::{AuditRecord, ChainBreak, VerifyReport, entry_hash, verify_chain};
use opsdeck_core::{Backend, Store};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, SqliteConnection};

use super::{record, seed};
use crate::support::contract::contract;
use crate::support::db::TestDb;

contract! {
    store: [],
    db: [
        plain_update_and_delete_are_refused,
        edited_fields_break_at_their_entry,
        deleted_entries_are_named,
        forged_entries_are_detected,
        swapped_entries_are_detected,
    ],
}

/// A connection of its own, as a database administrator would open.
enum Raw {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Raw {
    async fn open(db: &TestDb) -> Raw {
        match db.backend {
            Backend::Sqlite => Raw::Sqlite(SqliteConnection::connect(&db.url).await.unwrap()),
            Backend::Postgres => Raw::Postgres(PgConnection::connect(&db.url).await.unwrap()),
        }
    }

    async fn run(&mut self, sql: &str) -> Result<(), sqlx::Error> {
        let sql = AssertSqlSafe(sql.to_owned());
        match self {
            Raw::Sqlite(conn) => conn.execute(sql).await.map(drop),
            Raw::Postgres(conn) => conn.execute(sql).await.map(drop),
        }
    }

    /// Opens with the append-only triggers out of the way.
    async fn bypassing_triggers(db: &TestDb) -> Raw {
        let mut raw = Raw::open(db).await;
        let bypass = match db.backend {
            Backend::Sqlite => "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete",
            Backend::Postgres => "ALTER TABLE audit_log DISABLE TRIGGER USER",
        };
        raw.run(bypass).await.expect("bypass the triggers");
        raw
    }

    async fn tamper(&mut self, sql: &str) {
        if let Err(e) = self.run(sql).await {
            panic!("tampering with {sql:?} failed: {e}");
        }
    }
}

async fn seeded(db: &TestDb) -> Arc<dyn Store> {
    let store = db.store().await;
    seed(&store).await;
    store
}

async fn verify(store: &Arc<dyn Store>) -> VerifyReport {
    verify_chain(&**store, 4).await.expect("verify_chain")
}

/// Asserts the first break, and that everything before it was reported intact.
async fn assert_breaks(store: &Arc<dyn Store>, expected: ChainBreak, what: &str) {
    let report = verify(store).await;
    assert_eq!(
        report.first_break.as_ref(),
        Some(&expected),
        "{what}: {report:?}"
    );
    let intact = expected.seq() - 1;
    assert_eq!(report.checked, u64::try_from(intact).unwrap(), "{what}");
    assert_eq!(report.last_seq, (intact > 0).then_some(intact), "{what}");
}

async fn plain_update_and_delete_are_refused(db: &TestDb) {
    let store = seeded(db).await;
    let before = store.scan_audit(0, 100).await.unwrap();
    let mut raw = Raw::open(db).await;
    let mut attempts = vec![
        "UPDATE audit_log SET outcome = 500 WHERE seq = 3",
        "UPDATE audit_log SET reason = 'nothing to see'",
        "DELETE FROM audit_log WHERE seq = 3",
        "DELETE FROM audit_log",
    ];
    if db.backend == Backend::Postgres {
        attempts.push("TRUNCATE audit_log");
    }
    for sql in attempts {
        let error = raw.run(sql).await.expect_err(sql).to_string();
        assert!(error.contains("audit_log is append-only"), "{sql}: {error}");
    }
    assert_eq!(store.scan_audit(0, 100).await.unwrap(), before);
    assert!(verify(&store).await.is_intact());
}

async fn edited_fields_break_at_their_entry(db: &TestDb) {
    let store = seeded(db).await;
    let mut raw = Raw::bypassing_triggers(db).await;
    let (later, earlier) = match db.backend {
        Backend::Sqlite => ("at = at + 1", "at = at - 1"),
        Backend::Postgres => (
            "at = at + interval '1 millisecond'",
            "at = at - interval '1 millisecond'",
        ),
    };
    // Each edit is undone before the next, so every one is seen on its own.
    let edits = [
        ("outcome = 500", "outcome = 200"),
        ("actor_name = 'mallory'", "actor_name = 'alice'"),
        ("tenant_id = NULL", "tenant_id = 'globex'"),
        ("action = 'job.discard'", "action = 'job.retry'"),
        ("target_id = '3'", "target_id = '2'"),
        ("reason = 'approved'", "reason = NULL"),
        (later, earlier),
    ];
    for (edit, undo) in edits {
        raw.tamper(&format!("UPDATE audit_log SET {edit} WHERE seq = 3"))
            .await;
        assert_breaks(&store, ChainBreak::HashMismatch { seq: 3 }, edit).await;
        raw.tamper(&format!("UPDATE audit_log SET {undo} WHERE seq = 3"))
            .await;
        let report = verify(&store).await;
        assert!(report.is_intact(), "after undoing {edit}: {report:?}");
    }
}

async fn deleted_entries_are_named(db: &TestDb) {
    let store = seeded(db).await;
    let mut raw = Raw::bypassing_triggers(db).await;

    raw.tamper("DELETE FROM audit_log WHERE seq = 6").await;
    let report = verify(&store).await;
    assert!(
        report.is_intact() && report.last_seq == Some(5),
        "the chain alone cannot show that its newest entry went: {report:?}"
    );

    raw.tamper("DELETE FROM audit_log WHERE seq = 4").await;
    let gap = ChainBreak::MissingEntry {
        expected_seq: 4,
        found_seq: 5,
    };
    assert_breaks(&store, gap, "last but one").await;

    raw.tamper("DELETE FROM audit_log WHERE seq = 2").await;
    let gap = ChainBreak::MissingEntry {
        expected_seq: 2,
        found_seq: 3,
    };
    assert_breaks(&store, gap, "middle").await;

    raw.tamper("DELETE FROM audit_log WHERE seq = 1").await;
    let gap = ChainBreak::MissingEntry {
        expected_seq: 1,
        found_seq: 3,
    };
    assert_breaks(&store, gap, "first").await;
}

async fn forged_entries_are_detected(db: &TestDb) {
    let store = seeded(db).await;
    let entries = store.scan_audit(0, 100).await.unwrap();
    let mut raw = Raw::bypassing_triggers(db).await;

    // After the head, linked to it, with a hash that only looks right.
    raw.tamper(&format!(
        "INSERT INTO audit_log (seq, at, action, outcome, prev_hash, hash)
         SELECT 7, at, 'token.created', 201, hash, '{}' FROM audit_log WHERE seq = 6",
        "ab".repeat(32)
    ))
    .await;
    assert_breaks(
        &store,
        ChainBreak::HashMismatch { seq: 7 },
        "after the head",
    )
    .await;
    raw.tamper("DELETE FROM audit_log WHERE seq = 7").await;

    // In the middle, entries renumbered to make room, with a correctly computed hash: the
    // forged entry verifies, the one it displaced no longer links.
    let forged = AuditRecord {
        outcome: 201,
        ..record(entries[1].record.at, "token.created")
    };
    let hash = entry_hash(3, &entries[1].hash, &forged);
    raw.tamper("UPDATE audit_log SET seq = seq + 1000 WHERE seq >= 3")
        .await;
    raw.tamper("UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000")
        .await;
    raw.tamper(&format!(
        "INSERT INTO audit_log (seq, at, action, outcome, prev_hash, hash)
         SELECT 3, at, 'token.created', 201, hash, '{hash}' FROM audit_log WHERE seq = 2"
    ))
    .await;
    let listed = store.scan_audit(2, 1).await.unwrap();
    assert_eq!(
        listed[0].record, forged,
        "the forged entry reads back as built"
    );
    assert!(listed[0].hash_matches());
    assert_breaks(&store, ChainBreak::PrevHashMismatch { seq: 4 }, "middle").await;
}

async fn swapped_entries_are_detected(db: &TestDb) {
    let store = seeded(db).await;
    let mut raw = Raw::bypassing_triggers(db).await;

    // Contents swapped, the chain columns left in place.
    let like_2 = "action = 'job.retry', actor_id = 'tok_b', actor_name = 'bob', \
                  auth_method = 'token', target_kind = 'job', target_id = '1', tenant_id = 'acme'";
    let like_4 = "action = 'auth.login_failed', actor_id = NULL, actor_name = NULL, \
                  auth_method = NULL, target_kind = NULL, target_id = NULL, tenant_id = NULL";
    raw.tamper(&format!("UPDATE audit_log SET {like_4} WHERE seq = 2"))
        .await;
    raw.tamper(&format!("UPDATE audit_log SET {like_2} WHERE seq = 4"))
        .await;
    assert_breaks(&store, ChainBreak::HashMismatch { seq: 2 }, "contents").await;
    raw.tamper(&format!("UPDATE audit_log SET {like_2} WHERE seq = 2"))
        .await;
    raw.tamper(&format!("UPDATE audit_log SET {like_4} WHERE seq = 4"))
        .await;
    assert!(verify(&store).await.is_intact(), "swapped back");

    // Whole rows swapped, hashes and all.
    for sql in [
        "UPDATE audit_log SET seq = 1000 WHERE seq = 2",
        "UPDATE audit_log SET seq = 2 WHERE seq = 4",
        "UPDATE audit_log SET seq = 4 WHERE seq = 1000",
    ] {
        raw.tamper(sql).await;
    }
    assert_breaks(&store, ChainBreak::PrevHashMismatch { seq: 2 }, "rows").await;
}
