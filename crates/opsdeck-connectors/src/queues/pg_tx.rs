//! Transactions on the application's PostgreSQL (graphile-worker, pg-boss): how each is
//! opened, and how an action of many chunks waits for the disk once instead of once per
//! chunk.
//!
//! A bulk action commits each chunk of jobs on its own, so that no transaction holds many
//! rows for long. A commit that waits for the disk costs a flush of PostgreSQL's log
//! (milliseconds on an ordinary disk), which a hundred chunks would pay a hundred times. The
//! chunks before the last commit with `synchronous_commit = off` ([`TxMode::WriteChunk`]):
//! their changes are as visible and as atomic as any, only their flush is left to the last
//! chunk, whose commit waits for the disk ([`TxMode::Write`]) and with it for everything
//! logged before it — PostgreSQL flushes its log in order. A last chunk that changed nothing
//! writes no commit to wait for; then [`Unflushed`] waits for the log as it stood.
//! So when an action answers, whatever it reports done is on disk.

use std::time::{Duration, Instant};

use sqlx::PgPool;

/// How a transaction is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TxMode {
    /// `READ ONLY`.
    Read,
    /// `READ WRITE`; its commit returns once it is on disk.
    Write,
    /// `READ WRITE`, a chunk of an action that a later [`TxMode::Write`] commit (or
    /// [`wait_until_flushed`]) makes durable: its own commit does not wait for the disk.
    WriteChunk,
}

impl TxMode {
    /// The mode of chunk `index` of `count`.
    pub(crate) fn chunk(index: usize, count: usize) -> Self {
        if index + 1 >= count {
            TxMode::Write
        } else {
            TxMode::WriteChunk
        }
    }

    /// The statements that open the transaction, with statement and lock timeouts of
    /// `timeout`.
    pub(crate) fn begin(self, timeout: Duration) -> String {
        let millis = timeout.as_millis().max(1);
        // An action's statements name many ids at once (`id = ANY($n)`): planned for the ids
        // they carry (where PostgreSQL can read the rows in table order), not with the
        // generic plan a cached statement falls back to, made for an array of unknown size.
        let access = match self {
            TxMode::Read => "READ ONLY",
            TxMode::Write => "READ WRITE; SET LOCAL plan_cache_mode = force_custom_plan",
            TxMode::WriteChunk => {
                "READ WRITE; SET LOCAL plan_cache_mode = force_custom_plan; \
                 SET LOCAL synchronous_commit = off"
            }
        };
        format!(
            "BEGIN; SET TRANSACTION {access}; SET LOCAL statement_timeout = {millis}; \
             SET LOCAL lock_timeout = {millis}"
        )
    }
}

/// Whether an action's earlier chunks committed changes that no commit since has flushed.
#[derive(Debug, Default)]
pub(crate) struct Unflushed(bool);

impl Unflushed {
    /// After a chunk committed in `mode`, having moved jobs or not: the last chunk, if it
    /// moved nothing, waits for the flush the earlier chunks left to it.
    pub(crate) async fn after_commit(
        &mut self,
        mode: TxMode,
        moved: bool,
        pool: &PgPool,
    ) -> Result<(), sqlx::Error> {
        if mode == TxMode::WriteChunk {
            self.0 |= moved;
        } else if self.0 && !moved {
            wait_until_flushed(pool).await?;
        }
        Ok(())
    }
}

/// The longest [`wait_until_flushed`] waits: PostgreSQL's log writer flushes commits that did
/// not wait within three of its rounds (`wal_writer_delay`, 200 ms by default).
const FLUSH_WAIT_MAX: Duration = Duration::from_secs(5);

/// Waits until everything PostgreSQL has logged so far is on disk (for an action whose last
/// chunk changed nothing after earlier chunks that did). An error or a log not flushed within
/// [`FLUSH_WAIT_MAX`] is answered as an error: the action's changes are made, but not known to
/// be on disk.
async fn wait_until_flushed(pool: &PgPool) -> Result<(), sqlx::Error> {
    let logged: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
        .fetch_one(pool)
        .await?;
    let deadline = Instant::now() + FLUSH_WAIT_MAX;
    loop {
        let flushed: bool = sqlx::query_scalar("SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn")
            .bind(&logged)
            .fetch_one(pool)
            .await?;
        if flushed {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(sqlx::Error::Protocol(format!(
                "PostgreSQL did not flush its log up to {logged} within {} s",
                FLUSH_WAIT_MAX.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
