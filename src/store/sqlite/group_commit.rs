//! Group commit for the embedded backend: concurrent writes share one transaction and one
//! sync, and each is answered only after that sync.
//!
//! SQLite has one writer at a time, and with `synchronous=FULL` every commit waits for the
//! disk. Committing each request's write on its own caps writes at the disk's syncs per
//! second, however cheap the write. Instead one thread owns the writer connection: it takes
//! the first waiting write, opens a transaction, runs that write and every write that queued
//! behind it (each inside its own savepoint, so a failing write undoes only itself), commits
//! once, then answers them all. Under no load a batch is one write; under load a batch is as
//! large as the queue (up to `MAX_BATCH`), and the writes of one batch run back to back on
//! the thread, each whole, with no round trip between statements (see [`super::connection`]).
//!
//! No crate does this for rusqlite; the loop below is small enough to own.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::connection;
use crate::error::{Error, Result};
use crate::store::backend::BoxFuture;

/// The most writes that share one transaction: enough to absorb any queue a server of this
/// size builds, few enough that one batch never holds the lock for long.
const MAX_BATCH: usize = 512;

/// Writes waiting for the writer; a full queue makes callers wait (backpressure).
const QUEUE: usize = 4096;

/// One queued write: runs its statements on the writer connection, inside a transaction it
/// does not own, and returns how to answer its caller once that transaction's fate is known.
type Work = Box<dyn FnOnce(&mut Connection) -> Ran + Send>;

/// A write that has run: whether its statements stand, and how to answer its caller given
/// why its group did not commit, if it did not.
struct Ran {
    kept: bool,
    answer: Answer,
}

type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// The handle writes are queued through; the writer thread ends when the last handle is
/// dropped, after the writes already queued.
pub struct GroupCommit {
    queue: flume::Sender<Work>,
}

impl GroupCommit {
    /// Starts the writer thread that owns `conn` from now on.
    pub fn start(conn: Connection) -> std::io::Result<GroupCommit> {
        let (queue, waiting) = flume::bounded(QUEUE);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer(conn, waiting))?;
        Ok(GroupCommit { queue })
    }

    /// Runs `work` as one atomic write and answers once it is durable: its statements and
    /// its result stand together, or neither does.
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Connection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |conn| {
            let result = connection::ready(work(conn));
            Ran {
                kept: result.is_ok(),
                answer: Box::new(move |failure| {
                    let answer = match failure {
                        None => result,
                        Some(why) => Err(Error::Internal(format!("commit failed: {why}"))),
                    };
                    let _ = reply.send(answer);
                }),
            }
        });
        self.queue
            .send_async(work)
            .await
            .map_err(|_| Error::Internal("the database writer has stopped".into()))?;
        // A write that panicked drops its reply unanswered.
        answer
            .await
            .map_err(|_| Error::Internal("the write failed; see the server log".into()))?
    }
}

/// The writer thread: one batch per turn, until every handle is gone.
fn writer(mut conn: Connection, waiting: flume::Receiver<Work>) {
    let mut ran: Vec<Ran> = Vec::new();
    while let Ok(first) = waiting.recv() {
        let outcome = batch(&mut conn, first, &waiting, &mut ran);
        if let Err(error) = &outcome {
            tracing::error!(%error, writes = ran.len(), "a group of writes was rolled back");
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
        let failure = outcome.err().map(|e| e.to_string());
        for write in ran.drain(..) {
            (write.answer)(failure.as_deref());
        }
    }
}

/// Runs `first` and the writes queued behind it in one transaction, and commits it.
fn batch(
    conn: &mut Connection,
    first: Work,
    waiting: &flume::Receiver<Work>,
    ran: &mut Vec<Ran>,
) -> rusqlite::Result<()> {
    // IMMEDIATE takes the write lock now: another process's writer (the CLI) makes it wait
    // for `busy_timeout`, rather than failing a write half-way.
    connection::control(conn, "BEGIN IMMEDIATE")?;
    let mut next = Some(first);
    while let Some(work) = next.take() {
        connection::control(conn, "SAVEPOINT write")?;
        let kept = match catch_unwind(AssertUnwindSafe(|| work(conn))) {
            Ok(write) => {
                let kept = write.kept;
                ran.push(write);
                kept
            }
            Err(panic) => {
                tracing::error!(panic = panic_text(&panic), "a write panicked; undone");
                false
            }
        };
        if !kept {
            connection::control(conn, "ROLLBACK TO write")?;
        }
        connection::control(conn, "RELEASE write")?;
        if ran.len() < MAX_BATCH {
            next = waiting.try_recv().ok();
        }
    }
    connection::control(conn, "COMMIT")
}

pub(super) fn panic_text(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
