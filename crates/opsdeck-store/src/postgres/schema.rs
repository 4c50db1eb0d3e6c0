//! The schema opsdeck's tables live in: the first schema of the connection's `search_path`,
//! which the URL may set (`?options=-c%20search_path%3Dopsdeck`). SQL elsewhere never
//! qualifies names, so one database can hold several opsdeck deployments (or test runs).

use sqlx::AssertSqlSafe;
use sqlx::postgres::PgConnection;

/// When no schema on the search path exists yet (a fresh `search_path=opsdeck`), creates the
/// first one named, so migrations have somewhere to go. Run under the migration lock, so two
/// replicas starting together do not race on `CREATE SCHEMA`.
pub(super) async fn ensure_current_schema(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let (current, search_path): (Option<String>, String) =
        sqlx::query_as("SELECT current_schema(), current_setting('search_path')")
            .fetch_one(&mut *conn)
            .await?;
    if current.is_some() {
        return Ok(());
    }
    let Some(schema) = first_named_schema(&search_path) else {
        return Ok(());
    };
    tracing::info!(schema = %schema, "creating the schema named by search_path");
    sqlx::query(AssertSqlSafe(format!(
        "CREATE SCHEMA IF NOT EXISTS {}",
        quote_ident(&schema)
    )))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The first entry of a `search_path` value other than `$user`, as the identifier it denotes:
/// quoted entries unquoted, unquoted ones folded to lower case as PostgreSQL does.
fn first_named_schema(search_path: &str) -> Option<String> {
    split_entries(search_path)
        .into_iter()
        .map(|entry| entry.trim().to_owned())
        .filter(|entry| !entry.is_empty() && entry != "$user" && entry != "\"$user\"")
        .map(
            |entry| match entry.strip_prefix('"').and_then(|e| e.strip_suffix('"')) {
                Some(quoted) => quoted.replace("\"\"", "\""),
                None => entry.to_lowercase(),
            },
        )
        .next()
}

/// Splits on commas that are not inside double quotes.
fn split_entries(search_path: &str) -> Vec<String> {
    let mut entries = vec![String::new()];
    let mut quoted = false;
    for c in search_path.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                entries.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = entries.last_mut() {
            last.push(c);
        }
    }
    entries
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
