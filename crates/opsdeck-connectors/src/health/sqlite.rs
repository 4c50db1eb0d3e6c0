//! `sqlite`: the database file exists and reads as a database. Opened read-only and never
//! created: a probe must not conjure up an empty database where the real one went missing.

use std::path::PathBuf;

use async_trait::async_trait;
use opsdeck_core::secret::Secret;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use super::{ComponentType, Observation, ProbeContext, ProbeType};

/// `type = "sqlite"`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sqlite {
    /// The database file.
    pub path: PathBuf,
}

#[async_trait]
impl ProbeType for Sqlite {
    const TYPE: &'static str = "sqlite";
    const COMPONENT: ComponentType = ComponentType::Datastore;

    fn target(&self) -> String {
        self.path.display().to_string()
    }

    fn secrets(&self) -> Vec<&Secret> {
        Vec::new()
    }

    async fn run(&self, _: &ProbeContext) -> Observation {
        let path = &self.path;
        let shown = path.display();
        match tokio::fs::metadata(path).await {
            Ok(meta) if meta.is_file() => {}
            Ok(_) => return Observation::fail(format!("{shown} is not a file")),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Observation::fail(format!("sqlite database {shown} does not exist"));
            }
            Err(err) => return Observation::fail(format!("could not access {shown}: {err}")),
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .create_if_missing(false)
            .disable_statement_logging();
        let mut conn = match SqliteConnection::connect_with(&options).await {
            Ok(conn) => conn,
            Err(err) => {
                return Observation::fail(format!("could not open sqlite database {shown}: {err}"));
            }
        };
        // Unlike `SELECT 1`, reading the schema touches the file, so a file that is not a
        // database (or is corrupt at its first page) fails here.
        let answer = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sqlite_master")
            .fetch_one(&mut conn)
            .await;
        let _ = conn.close().await;
        match answer {
            Ok(_) => Observation::pass(),
            Err(err) => Observation::fail(format!("sqlite database {shown} cannot be read: {err}")),
        }
    }
}
