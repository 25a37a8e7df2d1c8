//! The embedded backend: one SQLite file in WAL mode.
//!
//! Writes go through one connection, owned by a thread that commits them in groups (see
//! [`super::group_commit`]): they are serialised in the process instead of failing with
//! "database is locked", and `synchronous=FULL` makes every commit durable before any write
//! in it is answered. Reads run on a few threads of their own, each with a read-only
//! connection, and never wait for writers (WAL readers see the last committed state). Both
//! run each whole operation on the connection's thread, through the executor of
//! [`connection`]. Before either starts, a connection of its own creates the file if needed
//! and applies the migrations ([`migrations`]).

mod connection;
mod group_commit;
mod migrations;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::oneshot;

use self::group_commit::{GroupCommit, panic_text};
use super::backend::{Backend, BoxFuture};
use crate::error::{Error, Result};

/// Read-only connections, one per reader thread.
const READERS: usize = 4;

pub struct Sqlite {
    writer: GroupCommit,
    reader: Readers,
}

impl Sqlite {
    /// Opens `sqlite://PATH`, creating the file and applying migrations as needed.
    pub async fn open(url: &str) -> Result<Self> {
        let cannot_open =
            |e: &dyn std::fmt::Display| Error::Internal(format!("cannot open {url}: {e}"));
        let path = &file_of(url)?;
        // Once, at start, on this thread, as the connections below are opened: WAL is a
        // property of the file, kept by every later connection.
        let mut migrating = connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
            "PRAGMA journal_mode = WAL",
        )
        .map_err(|e| cannot_open(&e))?;
        migrations::run(&mut migrating)?;
        migrating.close().map_err(|(_, e)| e)?;
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
        Ok(Sqlite {
            writer: GroupCommit::start(writer).map_err(|e| cannot_open(&e))?,
            reader: Readers::start(readers).map_err(|e| cannot_open(&e))?,
        })
    }
}

impl Backend for Sqlite {
    type Conn = Connection;

    /// Queues `work` for the writer and answers once the group it joined is durable.
    fn write<T, F>(&self, work: F) -> impl Future<Output = Result<T>> + Send
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.writer.write(work)
    }

    /// Runs `work` on a reader thread, in one read transaction: every statement of it sees
    /// the same committed state.
    fn read<T, F>(&self, work: F) -> impl Future<Output = Result<T>> + Send
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.reader.read(work)
    }
}

/// The file that `sqlite://PATH` names (percent-decoded, as sqlx read it). `?mode=rwc` and
/// `?mode=rw` are accepted and change nothing: the file is always created when missing.
fn file_of(url: &str) -> Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"));
    let (path, params) = match rest.map(|rest| rest.split_once('?').unwrap_or((rest, ""))) {
        Some((path, params)) if !path.is_empty() && path != ":memory:" => (path, params),
        _ => {
            return Err(Error::Internal(format!(
                "unsupported database URL '{url}': use sqlite://PATH"
            )));
        }
    };
    for (key, value) in form_urlencoded::parse(params.as_bytes()) {
        if !(key == "mode" && (value == "rwc" || value == "rw")) {
            return Err(Error::Internal(format!(
                "unsupported parameter '{key}={value}' in '{url}': use sqlite://PATH"
            )));
        }
    }
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex.map(|h| u8::from_str_radix(h, 16)) {
            Some(Ok(byte)) if bytes[i] == b'%' => {
                decoded.push(byte);
                i += 3;
            }
            _ => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded)
        .map(PathBuf::from)
        .map_err(|_| Error::Internal(format!("the path in '{url}' is not UTF-8")))
}

/// A connection to the migrated file, set up as every connection of the store must be.
fn connect(path: &Path, access: OpenFlags, pragmas: &str) -> rusqlite::Result<Connection> {
    // A path, never a `file:` URI: whatever the file is named, it is the file opened.
    let conn = Connection::open_with_flags(path, access | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    // LIKE is case-sensitive, as it is on PostgreSQL (and it can then use indexes). The
    // savepoint that each write of a group commit runs in keeps the pages it changes in a
    // statement journal: in memory, not in a temporary file written for every write (it is
    // never needed after a crash; the WAL is).
    conn.execute_batch(
        "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON; \
         PRAGMA temp_store = MEMORY;",
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
    connection::control(conn, "BEGIN").map_err(Error::storage)?;
    let result = connection::ready(work(conn));
    if let Err(error) = connection::control(conn, "COMMIT") {
        // Never leave the thread's connection inside a transaction.
        let _ = conn.execute_batch("ROLLBACK");
        return Err(Error::storage(error));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::file_of;

    #[test]
    fn a_url_names_its_file_percent_decoded_and_refuses_what_would_be_ignored() {
        let file = |url| file_of(url).map(|p| p.display().to_string());
        assert_eq!(file("sqlite://runledger.db").unwrap(), "runledger.db");
        assert_eq!(
            file("sqlite:///var/lib/a%20b.db").unwrap(),
            "/var/lib/a b.db"
        );
        assert_eq!(file("sqlite://x.db?mode=rwc").unwrap(), "x.db");
        assert_eq!(file("sqlite://100%+1.db").unwrap(), "100%+1.db");
        assert!(file("sqlite://x.db?cache=shared").is_err());
        assert!(file("sqlite::memory:").is_err());
        assert!(file("sqlite://").is_err());
    }
}
