//! The embedded backend: one SQLite file in WAL mode.
//!
//! Writes go through one connection, owned by a task that commits them in groups (see
//! [`super::group_commit`]): they are serialised in the process instead of failing with
//! "database is locked", and `synchronous=FULL` makes every commit durable before any write
//! in it is answered. Reads use their own small pool and never wait for writers (WAL readers
//! see the last committed state).

use std::str::FromStr;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteRow, SqliteSynchronous,
};
use sqlx::{ConnectOptions, Sqlite};

use super::group_commit::{BoxFuture, GroupCommit};

pub static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

pub struct SqliteStore {
    writer: GroupCommit,
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens `sqlite://PATH`, creating the file and applying migrations as needed.
    pub async fn open(url: &str) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            // LIKE is case-sensitive, as it is on PostgreSQL (and it can then use indexes).
            .pragma("case_sensitive_like", "ON");
        // The writer keeps the indexes it updates in memory: 32 MiB of page cache.
        let mut writer = options
            .clone()
            .pragma("cache_size", "-32768")
            .connect()
            .await
            .map_err(|e| Error::Internal(format!("cannot open {url}: {e}")))?;
        MIGRATOR.run(&mut writer).await?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await?;
        Ok(SqliteStore {
            writer: GroupCommit::start(writer),
            reader,
        })
    }

    /// Queues `work` for the writer and answers once the group it joined is durable.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.writer.write(work).await
    }
}

/// SQLite keeps datetimes as INTEGER seconds since the epoch.
type TimeValue = i64;
type Db = Sqlite;
type Conn = SqliteConnection;
type DbRow = SqliteRow;

/// SQLite serialises writers (one writer connection), so reads need no row lock.
const LOCK: &str = "";

/// SQLite plans from its indexes' shapes alone (no `ANALYZE`, so no `sqlite_stat1`): the
/// plans stay those that docs/benchmarks.md measured, whatever the data.
const ANALYZE: Option<&str> = None;

/// Seeded runs from a JSON array of `[integration_id, status, start_time, end_time,
/// total_records, records_processed, created_at, updated_at]` (times in epoch seconds).
const SEED_RUNS: &str = "INSERT INTO integration_runs (integration_id, status, start_time, \
     end_time, total_records, records_processed, created_at, updated_at) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 6, value ->> 7 FROM json_each($1) ORDER BY key RETURNING id";

/// Seeded errors from a JSON array of `[integration_run_id, integration_id, document_type,
/// document_id, resolved, created_at]`.
const SEED_ERRORS: &str = "INSERT INTO integration_errors (integration_run_id, integration_id, \
     document_type, document_id, resolved, created_at, updated_at, contact_alert_type) \
     SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, \
     value ->> 5, 'Technical' FROM json_each($1) ORDER BY key";

fn time_param(t: Timestamp) -> TimeValue {
    t.timestamp()
}

fn time_value(seconds: TimeValue) -> Option<Timestamp> {
    time::from_unix(seconds)
}

super::shared::sql_store!(SqliteStore);
