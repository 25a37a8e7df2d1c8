//! What a database backend gives the store: connections to run an operation on, in a
//! transaction for a write. The store's resources ([`super::integrations`], [`super::runs`],
//! …) implement the consumer traits once, for [`SqlStore`] over any backend.

use std::future::Future;
use std::pin::Pin;

use super::claim;
use super::exec::Executor;
use crate::error::Result;
use crate::query::Query;

/// An operation's future, boxed so that a closure can return it for any connection lifetime.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A database the store runs its operations on.
pub trait Backend: Send + Sync + 'static {
    type Conn: Executor;

    /// Runs `work` in a transaction, committed (durably) before the answer, or not at all
    /// if it fails.
    fn write<T, F>(&self, work: F) -> impl Future<Output = Result<T>> + Send
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Self::Conn) -> BoxFuture<'c, Result<T>> + Send + 'static;

    /// Runs `work` on a connection that sees committed state and never waits for writers.
    fn read<T, F>(&self, work: F) -> impl Future<Output = Result<T>> + Send
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Self::Conn) -> BoxFuture<'c, Result<T>> + Send + 'static;

    /// [`Backend::read`], with every statement of `work` seeing the same committed state:
    /// for reads that must agree with each other (a page and the count of its matches). A
    /// backend whose reads are such snapshots already keeps this default.
    fn read_snapshot<T, F>(&self, work: F) -> impl Future<Output = Result<T>> + Send
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut Self::Conn) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.read(work)
    }
}

/// The store over a backend: every consumer trait of [`super`], written once.
pub struct SqlStore<B> {
    pub(super) db: Db<B>,
}

/// A backend as the store's resources use it: its writes take the idempotency key that the
/// request running on the task claims ([`claim::claiming`]), in their own transaction.
pub struct Db<B>(B);

impl<B: Backend> Db<B> {
    /// [`Backend::write`]; while the task's request claims a key that no write has taken yet,
    /// the key's row is taken first in the same transaction, and a key held by another
    /// request undoes the write ([`claim::take_in`]).
    pub async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut B::Conn) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        let Some(claim) = claim::pending_claim() else {
            return self.0.write(work).await;
        };
        let taking = claim.clone();
        let (ticket, done) = self
            .0
            .write(move |tx| {
                Box::pin(async move {
                    let ticket = claim::take_in(tx, &taking).await?;
                    Ok((ticket, work(tx).await?))
                })
            })
            .await?;
        claim::taken(&claim, ticket);
        Ok(done)
    }

    pub async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut B::Conn) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.0.read(work).await
    }

    pub async fn read_snapshot<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut B::Conn) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        self.0.read_snapshot(work).await
    }
}

impl<B: Backend> SqlStore<B> {
    pub fn new(db: B) -> Self {
        SqlStore { db: Db(db) }
    }

    /// Reads a page of `listing`: on one snapshot when its matches are counted too, so that
    /// the count and the page agree; else as any read.
    pub(super) async fn read_page<T, F>(&self, listing: &Query, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut B::Conn) -> BoxFuture<'c, Result<T>> + Send + 'static,
    {
        if listing.count {
            self.db.read_snapshot(work).await
        } else {
            self.db.read(work).await
        }
    }
}
