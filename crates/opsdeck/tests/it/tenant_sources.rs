//! Tenant sources on real PostgreSQL, MariaDB and SQLite: the directory lists and searches,
//! profile and table queries read with `$1`, rows are limited, columns masked and values
//! redacted; every write is refused by the read-only transaction and changes nothing; a slow
//! query times out while the tenant's other queries answer; an unreachable database fails
//! fast without leaking its URL; and `check-config` validates `[tenants]` and, with
//! `--connect`, prepares each statement.

mod check_config;
pub(crate) mod fixture;
mod statements;
mod unreachable;

use std::time::{Duration, Instant};

use opsdeck_connectors::tenants::{
    DirectoryQuery, MASKED, QueryKind, TenantError, TenantQuery, TenantSources,
};
use opsdeck_core::ids::TenantId;
use opsdeck_core::secret::Secret;
use serde_json::{Value, json};

use fixture::{AppDb, Kind, NOTES_SECRETS};

fn tenant(id: &str) -> TenantId {
    TenantId::parse(id).unwrap()
}

fn query(db: &AppDb, name: &str, kind: QueryKind, sql: &str) -> TenantQuery {
    TenantQuery {
        name: name.to_owned(),
        url: Secret::new(db.url.clone()),
        sql: sql.to_owned(),
        kind,
        mask: Vec::new(),
        timeout: Duration::from_secs(5),
        row_limit: 50,
    }
}

/// The directory query as an application would write it for its database: exact id, or a
/// name containing the text, ignoring case.
fn directory_sql(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => {
            "SELECT id, name, plan, status FROM accounts
             WHERE $1 = '' OR id = $1 OR name ILIKE '%' || $1 || '%' ORDER BY name LIMIT $2"
        }
        Kind::Mysql => {
            "SELECT id, name, plan, status FROM accounts
             WHERE $1 = '' OR id = $1 OR LOWER(name) LIKE CONCAT('%', LOWER($1), '%')
             ORDER BY name LIMIT $2"
        }
        Kind::Sqlite => {
            "SELECT id, name, plan, status FROM accounts
             WHERE $1 = '' OR id = $1 OR name LIKE '%' || $1 || '%' ORDER BY name LIMIT $2"
        }
    }
}

fn with_directory(db: &AppDb, queries: Vec<TenantQuery>) -> TenantSources {
    TenantSources::new(
        Some(DirectoryQuery {
            url: Secret::new(db.url.clone()),
            sql: directory_sql(db.kind).to_owned(),
            timeout: Duration::from_secs(5),
        }),
        queries,
    )
}

async fn directory_lists_and_searches(db: AppDb) {
    let sources = with_directory(&db, Vec::new());
    let all = sources.directory_search("", 50).await.unwrap();
    let ids: Vec<&str> = all.tenants.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["acme", "globex", "initech"]);
    assert!(!all.truncated);
    let acme = &all.tenants[0];
    assert_eq!(acme.name.as_deref(), Some("Acme Corp"));
    assert_eq!(acme.plan.as_deref(), Some("pro"));
    assert_eq!(acme.status.as_deref(), Some("active"));

    let found = sources.directory_search("  GLOB ", 50).await.unwrap();
    let ids: Vec<&str> = found.tenants.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["globex"]);

    let first_two = sources.directory_search("", 2).await.unwrap();
    assert_eq!(first_two.tenants.len(), 2);
    assert!(first_two.truncated, "a third tenant was there");

    let none = sources
        .directory_search("no such tenant", 50)
        .await
        .unwrap();
    assert!(none.tenants.is_empty());

    let initech = sources.directory_get(&tenant("initech")).await.unwrap();
    assert_eq!(
        initech.map(|t| (t.plan, t.status)),
        Some((Some("enterprise".to_owned()), Some("suspended".to_owned())))
    );
    assert_eq!(
        sources.directory_get(&tenant("nobody")).await.unwrap(),
        None
    );
}

async fn profile_and_table_queries_read_limit_mask_and_redact(db: AppDb) {
    let mut profile = query(
        &db,
        "account",
        QueryKind::Profile,
        "SELECT name, plan, seats, active, balance, billing_email, api_token, notes, created_at
         FROM accounts WHERE id = $1",
    );
    profile.mask = vec!["BILLING_EMAIL".to_owned()];
    let mut invoices = query(
        &db,
        "invoices",
        QueryKind::Table,
        "SELECT number, total FROM invoices WHERE account_id = $1 ORDER BY number",
    );
    invoices.row_limit = 2;
    let sources = TenantSources::new(None, vec![profile, invoices]);

    let rows = sources.run_query("account", &tenant("acme")).await.unwrap();
    assert_eq!(
        rows.columns,
        [
            "name",
            "plan",
            "seats",
            "active",
            "balance",
            "billing_email",
            "api_token",
            "notes",
            "created_at"
        ]
    );
    assert_eq!(rows.rows.len(), 1);
    assert!(!rows.truncated);
    let row = &rows.rows[0];
    assert_eq!(row[0], json!("Acme Corp"));
    assert_eq!(row[2], json!(12));
    assert_eq!(row[3], json!(true));
    match db.kind {
        Kind::Sqlite => assert_eq!(row[4], json!(1234.5)),
        Kind::Postgres | Kind::Mysql => assert_eq!(row[4], json!("1234.50")),
    }
    assert_eq!(row[5], json!(MASKED), "billing_email is in mask");
    assert_eq!(row[6], json!(MASKED), "api_token is named as a secret");
    let notes = row[7].as_str().expect("notes are text");
    for secret in NOTES_SECRETS {
        assert!(!notes.contains(secret), "{secret} shown in {notes}");
    }
    assert!(
        notes.contains("[email]") && notes.contains("db.internal"),
        "{notes}"
    );
    assert!(
        row[8]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-01-02T03:04:05")),
        "{}",
        row[8]
    );

    let table = sources
        .run_query("invoices", &tenant("acme"))
        .await
        .unwrap();
    assert_eq!(table.rows.len(), 2);
    assert!(table.truncated, "acme has three invoices, two are shown");
    assert_eq!(table.rows[0][0], json!("INV-1"));
    let globex = sources
        .run_query("invoices", &tenant("globex"))
        .await
        .unwrap();
    assert_eq!(globex.rows.len(), 1);
    assert!(!globex.truncated);

    let nobody = sources
        .run_query("account", &tenant("nobody"))
        .await
        .unwrap();
    assert!(nobody.rows.is_empty());
    assert_eq!(nobody.columns.len(), 9, "columns are known without rows");

    assert!(matches!(
        sources.run_query("missing", &tenant("acme")).await,
        Err(TenantError::UnknownQuery(_))
    ));
}

/// Writes as a careless or hostile query would try them, past the configuration's own
/// check: the database refuses each, and nothing changes.
async fn writes_are_refused_by_the_read_only_transaction(db: AppDb) {
    let mut writes = vec![
        ("update", "UPDATE accounts SET plan = 'free' WHERE id = $1"),
        ("insert", "INSERT INTO notes_log (note) VALUES ($1)"),
        ("delete", "DELETE FROM invoices WHERE account_id = $1"),
    ];
    if db.kind == Kind::Postgres {
        writes.push((
            "cte",
            "WITH gone AS (DELETE FROM invoices WHERE account_id = $1 RETURNING number)
             SELECT count(*) FROM gone",
        ));
    }
    let queries = writes
        .iter()
        .map(|(name, sql)| query(&db, name, QueryKind::Table, sql))
        .collect();
    let sources = TenantSources::new(None, queries);
    let outcomes = sources.run_all(&tenant("acme")).await;
    assert_eq!(outcomes.len(), writes.len());
    for outcome in outcomes {
        match &outcome.result {
            Err(TenantError::ReadOnly(message)) => {
                assert!(!message.contains(&db.url), "{message}");
            }
            other => panic!("{} was not refused as a write: {other:?}", outcome.name),
        }
    }
    assert_eq!(db.plan_of("acme").await, "pro");
    assert_eq!(db.count("notes_log").await, 1);
    assert_eq!(db.count("invoices").await, 4);
}

/// A statement that never ends on its own.
fn slow_sql(kind: Kind) -> &'static str {
    match kind {
        Kind::Postgres => "SELECT pg_sleep(60), $1::text AS tenant",
        Kind::Mysql => "SELECT SLEEP(60), $1 AS tenant",
        Kind::Sqlite => {
            "WITH RECURSIVE c (x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)
             SELECT count(*), $1 FROM c"
        }
    }
}

async fn a_slow_query_times_out_while_the_others_answer(db: AppDb) {
    let mut slow = query(&db, "slow", QueryKind::Table, slow_sql(db.kind));
    slow.timeout = Duration::from_millis(300);
    let profile = query(
        &db,
        "account",
        QueryKind::Profile,
        "SELECT name FROM accounts WHERE id = $1",
    );
    let sources = TenantSources::new(None, vec![slow, profile]);
    let started = Instant::now();
    let outcomes = sources.run_all(&tenant("acme")).await;
    let took = started.elapsed();
    assert!(
        matches!(outcomes[0].result, Err(TenantError::Timeout(_))),
        "{:?}",
        outcomes[0].result
    );
    let rows = outcomes[1].result.as_ref().expect("the profile answers");
    assert_eq!(rows.rows, vec![vec![json!("Acme Corp")]]);
    // Far below the minute the statement would take: it was stopped, not waited for.
    assert!(took < Duration::from_secs(30), "took {took:?}");

    // The pool is still good for the next page.
    let again = sources.run_query("account", &tenant("acme")).await.unwrap();
    assert_eq!(again.rows.len(), 1);
}

async fn statements_are_prepared_without_running(db: AppDb) {
    let good = query(
        &db,
        "account",
        QueryKind::Profile,
        "SELECT name FROM accounts WHERE id = $1",
    );
    let missing = query(
        &db,
        "missing",
        QueryKind::Table,
        "SELECT * FROM no_such_table WHERE id = $1",
    );
    let write = query(
        &db,
        "write",
        QueryKind::Table,
        "DELETE FROM invoices WHERE account_id = $1",
    );
    let sources = with_directory(&db, vec![good, missing, write]);
    let checks = sources.prepare_all().await;
    let verdicts: Vec<bool> = checks.iter().map(|(_, r)| r.is_ok()).collect();
    // A write prepares on PostgreSQL and SQLite (its run would be refused); MariaDB refuses
    // it in a read-only transaction already.
    let write_prepares = db.kind != Kind::Mysql;
    assert_eq!(verdicts, [true, true, false, write_prepares], "{checks:?}");
    let message = checks[2].1.as_ref().unwrap_err().to_string();
    assert!(message.contains("no_such_table"), "{message}");
    // Preparing a write runs nothing.
    assert_eq!(db.count("invoices").await, 4);
}

async fn values_decode_by_type(db: AppDb) {
    let sql = match db.kind {
        Kind::Postgres => {
            "SELECT 1::int2 AS small, 2.5::float8 AS f, NULL::text AS empty,
                '\\x0102'::bytea AS bin, DATE '2026-03-04' AS day,
                '{\"password\": \"x\", \"plan\": \"pro\"}'::jsonb AS meta,
                '11111111-2222-3333-4444-555555555555'::uuid AS uid,
                -0.000123::numeric AS tiny, 'costs $1 -- or ?' AS literal, $1 AS tenant"
        }
        Kind::Mysql => {
            "SELECT CAST(1 AS SIGNED) AS small, CAST(2.5 AS DOUBLE) AS f, NULL AS empty,
                X'0102' AS bin, DATE '2026-03-04' AS day, CAST(-0.000123 AS DECIMAL(10,6)) AS tiny,
                'costs $1 -- or ?' AS literal, $1 AS tenant"
        }
        Kind::Sqlite => {
            "SELECT 1 AS small, 2.5 AS f, NULL AS empty, X'0102' AS bin,
                'costs $1 -- or ?' AS literal, $1 AS tenant"
        }
    };
    let sources = TenantSources::new(None, vec![query(&db, "types", QueryKind::Profile, sql)]);
    let rows = sources.run_query("types", &tenant("acme")).await.unwrap();
    let value = |name: &str| -> Value {
        let at = rows.columns.iter().position(|c| c == name).unwrap();
        rows.rows[0][at].clone()
    };
    assert_eq!(value("small"), json!(1));
    assert_eq!(value("f"), json!(2.5));
    assert_eq!(value("empty"), Value::Null);
    assert_eq!(value("bin"), json!("<2 bytes>"));
    assert_eq!(value("tenant"), json!("acme"));
    assert_eq!(
        value("literal"),
        json!("costs $1 -- or ?"),
        "a string is not rewritten"
    );
    if db.kind != Kind::Sqlite {
        assert_eq!(value("day"), json!("2026-03-04"));
        assert_eq!(value("tiny"), json!("-0.000123"));
    }
    if db.kind == Kind::Postgres {
        assert_eq!(value("meta"), json!({"password": "***", "plan": "pro"}));
        assert_eq!(value("uid"), json!("11111111-2222-3333-4444-555555555555"));
    }
}

/// Queries on one URL share its small pool: six at once open no more than two connections,
/// and wait their turn rather than fail.
#[tokio::test]
async fn queries_on_one_url_share_a_pool_of_two_connections() {
    let Some(db) = AppDb::mysql().await else {
        return;
    };
    let queries = (0..6)
        .map(|i| {
            query(
                &db,
                &format!("q{i}"),
                QueryKind::Profile,
                "SELECT SLEEP(0.2) AS slept, $1 AS tenant",
            )
        })
        .collect();
    let sources = with_directory(&db, queries);
    let outcomes = sources.run_all(&tenant("acme")).await;
    for outcome in &outcomes {
        assert!(
            outcome.result.is_ok(),
            "{}: {:?}",
            outcome.name,
            outcome.result
        );
    }
    sources.directory_search("", 10).await.unwrap();
    let open = db.mysql_connections().await;
    assert!((1..=2).contains(&open), "{open} connections open");
}

/// `mariadb://` names the same server as `mysql://`.
#[tokio::test]
async fn a_mariadb_url_is_a_mysql_url() {
    let Some(db) = AppDb::mysql().await else {
        return;
    };
    let mut account = query(
        &db,
        "account",
        QueryKind::Profile,
        "SELECT name FROM accounts WHERE id = $1",
    );
    account.url = Secret::new(db.url.replacen("mysql://", "mariadb://", 1));
    let sources = TenantSources::new(None, vec![account]);
    let rows = sources.run_query("account", &tenant("acme")).await.unwrap();
    assert_eq!(rows.rows, vec![vec![json!("Acme Corp")]]);
}

/// A SQLite application database in WAL mode, as a live application keeps it, is read
/// while the application holds it open and writes.
#[tokio::test]
async fn a_sqlite_database_in_wal_mode_is_read_while_the_application_writes() {
    use sqlx::{Connection, Executor};
    let db = AppDb::sqlite().await.unwrap();
    let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse().unwrap();
    let mut app = sqlx::SqliteConnection::connect_with(
        &options.journal_mode(sqlx::sqlite::SqliteJournalMode::Wal),
    )
    .await
    .unwrap();
    app.execute("BEGIN IMMEDIATE").await.unwrap();
    app.execute("UPDATE accounts SET plan = 'business' WHERE id = 'acme'")
        .await
        .unwrap();
    let sources = TenantSources::new(
        None,
        vec![query(
            &db,
            "account",
            QueryKind::Profile,
            "SELECT plan FROM accounts WHERE id = $1",
        )],
    );
    // The application's transaction is open: the last committed plan is read.
    let before = sources.run_query("account", &tenant("acme")).await.unwrap();
    assert_eq!(before.rows, vec![vec![json!("pro")]]);
    app.execute("COMMIT").await.unwrap();
    let after = sources.run_query("account", &tenant("acme")).await.unwrap();
    assert_eq!(after.rows, vec![vec![json!("business")]]);
}

/// The database's own error message is shown, redacted: here it quotes a table name that is
/// an e-mail address.
async fn error_messages_are_redacted(db: AppDb) {
    let sql = match db.kind {
        Kind::Mysql => "SELECT * FROM `jane.doe@example.com` WHERE id = $1",
        Kind::Postgres | Kind::Sqlite => "SELECT * FROM \"jane.doe@example.com\" WHERE id = $1",
    };
    let sources = TenantSources::new(None, vec![query(&db, "broken", QueryKind::Table, sql)]);
    match sources.run_query("broken", &tenant("acme")).await {
        Err(TenantError::Query(message)) => {
            assert!(!message.contains("jane.doe"), "{message}");
            assert!(message.contains("[email]"), "{message}");
        }
        other => panic!("expected a query error: {other:?}"),
    }
}

macro_rules! on_every_database {
    ($($scenario:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(db) = super::AppDb::postgres().await else { return };
                    super::$scenario(db).await;
                }
            )*
        }
        mod mariadb {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(db) = super::AppDb::mysql().await else { return };
                    super::$scenario(db).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test]
                async fn $scenario() {
                    let Some(db) = super::AppDb::sqlite().await else { return };
                    super::$scenario(db).await;
                }
            )*
        }
    };
}

on_every_database!(
    directory_lists_and_searches,
    profile_and_table_queries_read_limit_mask_and_redact,
    writes_are_refused_by_the_read_only_transaction,
    a_slow_query_times_out_while_the_others_answer,
    statements_are_prepared_without_running,
    values_decode_by_type,
    error_messages_are_redacted,
);
