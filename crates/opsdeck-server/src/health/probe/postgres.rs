//! `postgres`: a fresh connection (no pool, so a broken server is not hidden behind an
//! idle pooled connection) answers `SELECT 1`.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::Observation;
use opsdeck_core::secret::Secret;

pub(super) async fn observe(url: &Secret) -> Observation {
    let at = server_address(url.expose(), 5432);
    let options: PgConnectOptions = match url.expose().parse() {
        Ok(options) => options,
        Err(err) => return Observation::fail(format!("the postgres URL is not valid: {err}")),
    };
    // A probe runs every few seconds: statement logs would only be noise.
    let options = options.disable_statement_logging();
    let mut conn = match PgConnection::connect_with(&options).await {
        Ok(conn) => conn,
        Err(err) => {
            return Observation::fail(format!("could not connect to postgres at {at}: {err}"));
        }
    };
    let answer = sqlx::query_scalar::<_, i32>("SELECT 1")
        .fetch_one(&mut conn)
        .await;
    // Closing politely spares the server an "unexpected EOF" log line per probe run.
    let _ = conn.close().await;
    match answer {
        Ok(1) => Observation::pass(),
        Ok(other) => Observation::fail(format!(
            "postgres at {at} answered {other} to SELECT 1; is this really PostgreSQL?"
        )),
        Err(err) => Observation::fail(format!("postgres at {at} did not run SELECT 1: {err}")),
    }
}

/// `host:port` of a connection URL, for messages: never the user-info or query, which may
/// hold credentials.
pub(super) fn server_address(url: &str, default_port: u16) -> String {
    match url::Url::parse(url) {
        Ok(url) => match url.host_str().filter(|host| !host.is_empty()) {
            Some(host) => format!("{host}:{}", url.port().unwrap_or(default_port)),
            None => "the configured local socket".to_owned(),
        },
        Err(_) => "the configured URL".to_owned(),
    }
}
