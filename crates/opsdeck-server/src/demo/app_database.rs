//! The made-up shop's own database: a SQLite file beside the demo's database, with its
//! tenants, their subscriptions, users and invoices. The demo's `[tenants]` settings point
//! the directory and the tenant page's queries at it, so the Tenants pages show what a
//! configured application database gives (profile, tables, masked columns) without one.
//!
//! opsdeck only ever reads it, through the same read-only tenant sources as a real
//! application's database; the demo writes it once before serving (and rewrites its rows
//! when a demo starts again, so the dates stay recent).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::config::{Config, TenantQueryConfig};
use opsdeck_connectors::tenants::QueryKind;
use opsdeck_core::secret::Secret;

/// (id, name, plan, status, region, seats, monthly price in cents, days a customer).
type Tenant = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
    i64,
    i64,
);

/// The shop's tenants: the four its queues and events speak of, and more to search.
const TENANTS: [Tenant; 12] = [
    (
        "acme",
        "Acme Corporation",
        "enterprise",
        "active",
        "eu-west",
        120,
        240_000,
        900,
    ),
    (
        "globex", "Globex", "business", "active", "us-east", 45, 89_000, 610,
    ),
    (
        "initech", "Initech", "business", "past_due", "us-east", 30, 59_000, 420,
    ),
    (
        "umbrella",
        "Umbrella Corp",
        "starter",
        "active",
        "ap-south",
        8,
        9_900,
        75,
    ),
    (
        "hooli",
        "Hooli",
        "enterprise",
        "active",
        "us-west",
        300,
        560_000,
        1200,
    ),
    (
        "initrode",
        "Initrode",
        "starter",
        "trialing",
        "eu-central",
        3,
        0,
        9,
    ),
    (
        "soylent", "Soylent", "business", "active", "eu-west", 22, 42_000, 300,
    ),
    (
        "stark",
        "Stark Industries",
        "enterprise",
        "active",
        "us-east",
        410,
        710_000,
        1500,
    ),
    (
        "tyrell",
        "Tyrell Corporation",
        "business",
        "suspended",
        "us-west",
        15,
        29_000,
        800,
    ),
    (
        "vandelay",
        "Vandelay Industries",
        "starter",
        "active",
        "us-east",
        5,
        4_900,
        40,
    ),
    (
        "wayne",
        "Wayne Enterprises",
        "enterprise",
        "active",
        "us-east",
        250,
        480_000,
        1100,
    ),
    (
        "wonka",
        "Wonka Industries",
        "starter",
        "cancelled",
        "eu-west",
        2,
        0,
        200,
    ),
];

/// Roles of each tenant's users, in order: the first is the owner.
const ROLES: [&str; 5] = ["owner", "admin", "member", "member", "billing"];

/// Where the shop's database goes: beside the demo's own SQLite file (`x.db` → `x-app.db`),
/// or in the working directory when opsdeck's database is not a SQLite file.
pub fn path_for(database_url: &str) -> PathBuf {
    let file = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .map(|rest| rest.split('?').next().unwrap_or(rest))
        .filter(|file| !file.is_empty() && *file != ":memory:");
    match file {
        Some(file) => {
            let path = Path::new(file);
            let stem = path
                .file_stem()
                .map_or_else(|| "opsdeck-demo".into(), |s| s.to_string_lossy());
            path.with_file_name(format!("{stem}-app.db"))
        }
        None => PathBuf::from("opsdeck-demo-app.db"),
    }
}

/// Points `[tenants]` at the shop's database at `path`: the directory, the account profile
/// (billing e-mail masked), users (e-mails masked) and recent invoices.
pub fn configure(config: &mut Config, path: &Path) {
    let tenants = &mut config.tenants;
    tenants.url = Some(Secret::new(format!("sqlite://{}", path.display())));
    tenants.directory = Some(
        "SELECT id, name, plan, status FROM tenants \
         WHERE $1 = '' OR id LIKE '%' || $1 || '%' OR name LIKE '%' || $1 || '%' \
         ORDER BY name LIMIT $2"
            .to_owned(),
    );
    let query = |name: &str, kind: QueryKind, sql: &str, mask: &[&str]| TenantQueryConfig {
        name: name.to_owned(),
        url: None,
        sql: sql.to_owned(),
        kind,
        mask: mask.iter().map(|column| (*column).to_owned()).collect(),
        timeout: None,
        row_limit: None,
    };
    tenants.queries = vec![
        query(
            "account",
            QueryKind::Profile,
            "SELECT t.name, t.plan, t.status, t.region, t.created_at AS customer_since, \
             s.seats, printf('%.2f', s.price_cents / 100.0) AS monthly_price_usd, \
             s.renews_at, s.card_last4, s.billing_email \
             FROM tenants t LEFT JOIN subscriptions s ON s.tenant_id = t.id WHERE t.id = $1",
            &["billing_email"],
        ),
        query(
            "users",
            QueryKind::Table,
            "SELECT id AS user_id, email, role, last_login_at, mfa FROM users \
             WHERE tenant_id = $1 ORDER BY last_login_at DESC",
            &["email"],
        ),
        query(
            "invoices",
            QueryKind::Table,
            "SELECT number, printf('%.2f', amount_cents / 100.0) AS amount_usd, status, issued_at \
             FROM invoices WHERE tenant_id = $1 ORDER BY issued_at DESC LIMIT 6",
            &[],
        ),
    ];
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tenants (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, plan TEXT NOT NULL, status TEXT NOT NULL,
    region TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id), seats INTEGER NOT NULL,
    price_cents INTEGER NOT NULL, renews_at TEXT, card_last4 TEXT, billing_email TEXT);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id), email TEXT NOT NULL,
    role TEXT NOT NULL, last_login_at TEXT, mfa BOOLEAN NOT NULL);
CREATE INDEX IF NOT EXISTS users_by_tenant ON users (tenant_id, last_login_at);
CREATE TABLE IF NOT EXISTS invoices (
    number TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants(id),
    amount_cents INTEGER NOT NULL, status TEXT NOT NULL, issued_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS invoices_by_tenant ON invoices (tenant_id, issued_at);
";

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

fn minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M").to_string()
}

/// Writes (or rewrites) the shop's database at `path`, its dates counted back from `now`.
pub async fn write(path: &Path, now: DateTime<Utc>) -> anyhow::Result<()> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .disable_statement_logging();
    let mut conn = options.connect().await?;
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(SCHEMA).execute(&mut *tx).await?;
    for (n, (id, name, plan, status, region, seats, price, age)) in TENANTS.into_iter().enumerate()
    {
        let n = i64::try_from(n)?;
        sqlx::query("INSERT OR REPLACE INTO tenants VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(name)
            .bind(plan)
            .bind(status)
            .bind(region)
            .bind(day(now - Duration::days(age)))
            .execute(&mut *tx)
            .await?;
        let renews = (status != "cancelled").then(|| day(now + Duration::days(3 + n * 2)));
        sqlx::query("INSERT OR REPLACE INTO subscriptions VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(id)
            .bind(seats)
            .bind(price)
            .bind(renews)
            .bind(format!("{:04}", 4242 + n * 1111 % 5000))
            .bind(format!("billing@{id}.example"))
            .execute(&mut *tx)
            .await?;
        for (u, role) in ROLES.into_iter().enumerate() {
            let u = i64::try_from(u)?;
            let seen = now - Duration::minutes(37 * (u + 1) * (n + 1) + u * 600);
            sqlx::query("INSERT OR REPLACE INTO users VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(format!("u_{id}_{}", 100 + u))
                .bind(id)
                .bind(format!("user{u}@{id}.example"))
                .bind(role)
                .bind(minute(seen))
                .bind(u < 2 || n % 2 == 0)
                .execute(&mut *tx)
                .await?;
        }
        for month in 0..6_i64 {
            let issued = now - Duration::days(30 * month + 1);
            let paid = if month == 0 && status == "past_due" {
                "overdue"
            } else if month == 0 {
                "open"
            } else {
                "paid"
            };
            sqlx::query("INSERT OR REPLACE INTO invoices VALUES ($1, $2, $3, $4, $5)")
                .bind(format!("INV-{}-{:03}", id.to_uppercase(), 120 - month))
                .bind(id)
                .bind(price + (month * 731) % 2_000 * i64::from(price > 0))
                .bind(paid)
                .bind(day(issued))
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    conn.close().await?;
    Ok(())
}
