//! `postgres`: a fresh connection (no pool, so a broken server is not hidden behind an
//! idle pooled connection) answers `SELECT 1`.

use async_trait::async_trait;
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::target::{server_address, shown_target};
use super::{ComponentType, Observation, ProbeContext, ProbeType};

/// `type = "postgres"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Postgres {
    /// `postgres://USER:PASSWORD@HOST/DB`; may hold credentials.
    pub url: Secret,
}

#[async_trait]
impl ProbeType for Postgres {
    const TYPE: &'static str = "postgres";
    const COMPONENT: ComponentType = ComponentType::Datastore;

    fn target(&self) -> String {
        shown_target(self.url.expose())
    }

    fn secrets(&self) -> Vec<&Secret> {
        vec![&self.url]
    }

    async fn run(&self, _: &ProbeContext) -> Observation {
        let url = &self.url;
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
}
