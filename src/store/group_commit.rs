//! Group commit for the embedded backend: concurrent writes share one transaction and one
//! sync, and each is answered only after that sync.
//!
//! SQLite has one writer at a time, and with `synchronous=FULL` every commit waits for the
//! disk. Committing each request's write on its own caps writes at the disk's syncs per
//! second, however cheap the write. Instead one task owns the writer connection: it takes the
//! first waiting write, opens a transaction, runs that write and every write that queued
//! behind it (each inside its own savepoint, so a failing write undoes only itself), commits
//! once, then answers them all. Under no load a batch is one write, its savepoint statements
//! riding in the same round trips as `BEGIN` and `COMMIT`; under load a batch is as large as
//! the queue (up to `MAX_BATCH`).
//!
//! No crate does this for sqlx; the loop below is small enough to own.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;

use futures_util::FutureExt;
use sqlx::{Connection, Executor, SqliteConnection};
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The most writes that share one transaction: enough to absorb any queue a server of this
/// size builds, few enough that one batch never holds the lock for long.
const MAX_BATCH: usize = 512;

/// Writes waiting for the writer; a full queue makes callers wait (backpressure).
const QUEUE: usize = 4096;

/// One queued write: runs its statements on the writer connection, inside a transaction it
/// does not own, and returns how to answer its caller once that transaction's fate is known.
type Work = Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Ran> + Send>;

/// A write that has run: whether its statements stand, and how to answer its caller given
/// why its group did not commit, if it did not.
struct Ran {
    kept: bool,
    answer: Answer,
}

type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// The handle writes are queued through; the writer task ends when the last handle is dropped.
pub struct GroupCommit {
    queue: mpsc::Sender<Work>,
}

impl GroupCommit {
    /// Starts the writer task that owns `conn` from now on.
    pub fn start(conn: SqliteConnection) -> GroupCommit {
        let (queue, waiting) = mpsc::channel(QUEUE);
        tokio::spawn(writer(conn, waiting));
        GroupCommit { queue }
    }

    /// Runs `work` as one atomic write and answers once it is durable: its statements and
    /// its result stand together, or neither does.
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |conn| {
            Box::pin(async move {
                let result = work(conn).await;
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
            })
        });
        self.queue
            .send(work)
            .await
            .map_err(|_| Error::Internal("the database writer has stopped".into()))?;
        // A write that panicked drops its reply unanswered.
        answer
            .await
            .map_err(|_| Error::Internal("the write failed; see the server log".into()))?
    }
}

/// The writer task: one batch per turn, until every handle is gone.
async fn writer(mut conn: SqliteConnection, mut waiting: mpsc::Receiver<Work>) {
    let mut ran: Vec<Ran> = Vec::new();
    while let Some(first) = waiting.recv().await {
        let outcome = batch(&mut conn, first, &mut waiting, &mut ran).await;
        if let Err(error) = &outcome {
            tracing::error!(%error, writes = ran.len(), "a group of writes was rolled back");
            // Whatever the failure left open, close it; an error here means nothing was open.
            let _ = conn.execute("ROLLBACK").await;
        }
        let failure = outcome.err().map(|e| e.to_string());
        for write in ran.drain(..) {
            (write.answer)(failure.as_deref());
        }
    }
    let _ = conn.close().await;
}

/// Runs `first` and the writes queued behind it in one transaction, and commits it.
///
/// Every statement is a round trip to sqlx's SQLite thread, which costs more than most of the
/// statements themselves, so the control statements between two writes go in one trip:
/// ending a write's savepoint and opening the next's, or ending the last and committing.
async fn batch(
    conn: &mut SqliteConnection,
    first: Work,
    waiting: &mut mpsc::Receiver<Work>,
    ran: &mut Vec<Ran>,
) -> std::result::Result<(), sqlx::Error> {
    // IMMEDIATE takes the write lock now: another process's writer (the CLI) makes it wait
    // for `busy_timeout`, rather than failing a write half-way.
    conn.execute("BEGIN IMMEDIATE; SAVEPOINT write").await?;
    let mut next = Some(first);
    while let Some(work) = next.take() {
        let kept = match AssertUnwindSafe(work(conn)).catch_unwind().await {
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
        if ran.len() < MAX_BATCH {
            next = waiting.try_recv().ok();
        }
        let control = match (kept, next.is_some()) {
            (true, true) => "RELEASE write; SAVEPOINT write",
            (true, false) => "RELEASE write; COMMIT",
            (false, true) => "ROLLBACK TO write; RELEASE write; SAVEPOINT write",
            (false, false) => "ROLLBACK TO write; RELEASE write; COMMIT",
        };
        conn.execute(control).await?;
    }
    Ok(())
}

fn panic_text(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
