//! The embedded backend: one SQLite file in WAL mode.
//!
//! Writes go through one connection, owned by a thread that commits them in groups (see
//! [`super::group_commit`]): they are serialised in the process instead of failing with
//! "database is locked", and `synchronous=FULL` makes every commit durable before any write
//! in it is answered. Reads run on a few threads of their own, each with a read-only
//! connection, and never wait for writers (WAL readers see the last committed state). Both
//! run each whole operation on the connection's thread, through [`super::lite`]; sqlx opens
//! the file and applies the migrations first.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::str::FromStr;

use rusqlite::{Connection, OpenFlags};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection as _};
use tokio::sync::oneshot;

use super::BoxFuture;
use super::group_commit::{GroupCommit, panic_text};
use super::lite::{self, query, query_scalar};

pub static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// Read-only connections, one per reader thread.
const READERS: usize = 4;

pub struct SqliteStore {
    writer: GroupCommit,
    reader: Readers,
}

impl SqliteStore {
    /// Opens `sqlite://PATH`, creating the file and applying migrations as needed.
    pub async fn open(url: &str) -> Result<Self> {
        let cannot_open =
            |e: &dyn std::fmt::Display| Error::Internal(format!("cannot open {url}: {e}"));
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let mut migrating = options.connect().await.map_err(|e| cannot_open(&e))?;
        MIGRATOR.run(&mut migrating).await?;
        migrating.close().await?;
        let path = options.get_filename();
        // The writer keeps the indexes it updates in memory: 32 MiB of page cache.
        let writer = connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE,
            "PRAGMA cache_size = -32768",
        )
        .map_err(|e| cannot_open(&e))?;
        let readers = (0..READERS)
            .map(|_| connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY, ""))
            .collect::<rusqlite::Result<_>>()
            .map_err(|e| cannot_open(&e))?;
        Ok(SqliteStore {
            writer: GroupCommit::start(writer).map_err(|e| cannot_open(&e))?,
            reader: Readers::start(readers).map_err(|e| cannot_open(&e))?,
        })
    }

    /// Queues `work` for the writer and answers once the group it joined is durable.
    async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.writer.write(work).await
    }

    /// Runs `work` on a reader thread, in one read transaction: every statement of it sees
    /// the same committed state.
    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.reader.read(work).await
    }
}

/// A connection to the migrated file, set up as every connection of the store must be.
fn connect(path: &Path, access: OpenFlags, pragmas: &str) -> rusqlite::Result<Connection> {
    // A path, never a `file:` URI: whatever the file is named, it is the file opened.
    let conn = Connection::open_with_flags(path, access | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // LIKE is case-sensitive, as it is on PostgreSQL (and it can then use indexes).
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON;",
    )?;
    conn.execute_batch(pragmas)?;
    // Room for every statement the store prepares, and the page queries' shapes.
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

type ReadWork = Box<dyn FnOnce(&mut Connection) + Send>;

/// The reader threads and the queue they take reads from.
struct Readers {
    queue: flume::Sender<ReadWork>,
}

impl Readers {
    fn start(connections: Vec<Connection>) -> std::io::Result<Readers> {
        let (queue, waiting) = flume::unbounded::<ReadWork>();
        for (i, mut conn) in connections.into_iter().enumerate() {
            let waiting = waiting.clone();
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{i}"))
                .spawn(move || {
                    while let Ok(work) = waiting.recv() {
                        work(&mut conn);
                    }
                })?;
        }
        Ok(Readers { queue })
    }

    async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let work: ReadWork = Box::new(move |conn| {
            match catch_unwind(AssertUnwindSafe(|| snapshot(conn, work))) {
                Ok(result) => {
                    let _ = reply.send(result);
                }
                Err(panic) => {
                    tracing::error!(panic = panic_text(&panic), "a read panicked");
                    // Whatever it left open, close; an error here means nothing was open.
                    let _ = conn.execute_batch("ROLLBACK");
                }
            }
        });
        self.queue
            .send_async(work)
            .await
            .map_err(|_| Error::Internal("the database readers have stopped".into()))?;
        answer
            .await
            .map_err(|_| Error::Internal("the read failed; see the server log".into()))?
    }
}

/// Runs `work` in a read transaction of its own.
fn snapshot<T>(
    conn: &mut Connection,
    work: impl for<'c> FnOnce(&'c mut Connection) -> BoxFuture<'c, Result<T>>,
) -> Result<T> {
    lite::control(conn, "BEGIN")?;
    let result = lite::ready(work(conn));
    if let Err(error) = lite::control(conn, "COMMIT") {
        // Never leave the thread's connection inside a transaction.
        let _ = conn.execute_batch("ROLLBACK");
        return Err(error.into());
    }
    result
}

/// SQLite keeps datetimes as INTEGER seconds since the epoch.
type TimeValue = i64;
type Conn = Connection;
type DbRow = lite::Row;
type Statement<'q> = lite::Query<'q>;

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
