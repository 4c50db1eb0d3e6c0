//! Errors of this crate. [`ConnectError`] is for start-up (bad URL, database unreachable,
//! migration failed): each message names the database (password masked) and says what to do.
//! Query failures become `opsdeck_core::StoreError` through [`store_error`], whose causes are
//! [`RedactedError`]s so no password reaches a log through them.

use opsdeck_core::{Backend, StoreError};
use sqlx::error::{DatabaseError, ErrorKind};
use sqlx::migrate::MigrateError;

use crate::database_url::DatabaseUrl;
use crate::redact::{RedactedError, Secrets};

const SUPPORTED: &str = "opsdeck supports sqlite://PATH, sqlite::memory: and \
                         postgres://USER:PASSWORD@HOST:PORT/DATABASE (or postgresql://)";

/// Why opsdeck could not open its database.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not one opsdeck can use. `url` is the input with its password masked,
    /// or `None` when it did not parse as a URL at all.
    #[error("unsupported database URL{}: {reason}; {SUPPORTED} — check OPSDECK_DATABASE_URL",
        url.as_deref().map(|u| format!(" {u}")).unwrap_or_default())]
    UnsupportedUrl { url: Option<String>, reason: String },

    /// The database did not answer, or refused us.
    #[error("could not connect to {} at {url}: {cause} — {hint}", product(*backend))]
    Unreachable {
        backend: Backend,
        url: String,
        cause: String,
        hint: &'static str,
    },

    /// Connected, but the schema could not be brought up to date.
    #[error("migrating the {} database at {url} failed: {cause} — {hint}", product(*backend))]
    Migration {
        backend: Backend,
        url: String,
        cause: String,
        hint: &'static str,
    },
}

impl ConnectError {
    pub(crate) fn unreachable(url: &DatabaseUrl, error: &sqlx::Error) -> Self {
        let (cause, hint) = match error {
            sqlx::Error::Io(e) => (e.to_string(), hint_server(url.backend())),
            sqlx::Error::Tls(e) => (
                format!("TLS failed: {e}"),
                "check sslmode and the certificates in OPSDECK_DATABASE_URL",
            ),
            sqlx::Error::Configuration(e) => (
                format!("invalid setting: {e}"),
                "check OPSDECK_DATABASE_URL",
            ),
            sqlx::Error::Database(db) => {
                (db.message().to_owned(), hint_database(url.backend(), &**db))
            }
            other => (other.to_string(), hint_server(url.backend())),
        };
        ConnectError::Unreachable {
            backend: url.backend(),
            url: url.redacted().to_owned(),
            cause: url.secrets().scrub(&cause),
            hint,
        }
    }

    pub(crate) fn timed_out(url: &DatabaseUrl, after: std::time::Duration) -> Self {
        ConnectError::Unreachable {
            backend: url.backend(),
            url: url.redacted().to_owned(),
            cause: format!("no answer within {} ms", after.as_millis()),
            hint: hint_server(url.backend()),
        }
    }

    pub(crate) fn migration(url: &DatabaseUrl, error: &MigrateError) -> Self {
        let hint = match error {
            MigrateError::VersionMissing(_) => {
                "the database was migrated by a newer opsdeck; run that version (or newer) instead"
            }
            MigrateError::VersionMismatch(_) => {
                "an applied migration differs from this build's; this opsdeck build does not \
                 match the database's history"
            }
            MigrateError::Dirty(_) => {
                "an earlier migration stopped partway; repair the database by hand, then run \
                 `opsdeck migrate` again"
            }
            MigrateError::Execute(sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut) => {
                "the connection failed during migration; check the database, then run \
                 `opsdeck migrate` again"
            }
            _ => {
                "the failing migration was rolled back; fix the cause above, then run \
                 `opsdeck migrate` again"
            }
        };
        ConnectError::Migration {
            backend: url.backend(),
            url: url.redacted().to_owned(),
            cause: url.secrets().scrub(&error.to_string()),
            hint,
        }
    }
}

/// The product name operators know, for messages.
fn product(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

fn hint_server(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "is the server running and is OPSDECK_DATABASE_URL right?",
        Backend::Sqlite => "does the directory exist and can opsdeck write to it?",
    }
}

fn hint_database(backend: Backend, error: &dyn DatabaseError) -> &'static str {
    match backend {
        Backend::Postgres => match error.code().as_deref() {
            // invalid_authorization_specification, invalid_password
            Some("28000" | "28P01") => "check the user and password in OPSDECK_DATABASE_URL",
            // invalid_catalog_name: the database does not exist
            Some("3D000") => "create the database or fix its name in OPSDECK_DATABASE_URL",
            _ => "check OPSDECK_DATABASE_URL and the server's logs",
        },
        Backend::Sqlite => match crate::sqlite::primary_code(error) {
            // SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY
            Some(14 | 3 | 8) => hint_server(Backend::Sqlite),
            // SQLITE_BUSY, SQLITE_LOCKED
            Some(5 | 6) => {
                "another process kept the database locked; is something else writing to it?"
            }
            _ => "check OPSDECK_DATABASE_URL and that the file is a SQLite database",
        },
    }
}

/// Maps a driver error to the domain's error. `unavailable` decides, per backend, which
/// database-reported errors mean "the database cannot serve right now".
pub(crate) fn store_error(
    error: sqlx::Error,
    secrets: &Secrets,
    unavailable: fn(&dyn DatabaseError) -> bool,
) -> StoreError {
    let cause = |e: &sqlx::Error| Box::new(RedactedError::new(e, secrets));
    match &error {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(cause(&error)),
        sqlx::Error::Database(db) if db.kind() == ErrorKind::UniqueViolation => {
            StoreError::Conflict(secrets.scrub(db.message()))
        }
        sqlx::Error::Database(db) if unavailable(&**db) => StoreError::Unavailable(cause(&error)),
        _ => StoreError::Other(cause(&error)),
    }
}

/// A value read back from the database that the domain cannot represent.
pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Other(format!("stored {what} is out of range").into())
}
