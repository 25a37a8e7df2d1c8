//! A request's claim on its idempotency key: the HTTP layer runs the handler with it
//! ([`claiming`]), and every write of the request until one commits takes the key's row
//! first, in the write's own transaction ([`super::backend::Db::write`]). A row that another
//! request holds fails the write, so a request's effect and its key commit together or not
//! at all: a request that never wrote holds no row, and a row without an answer is one whose
//! effect committed.

use std::sync::{Arc, Mutex, PoisonError};

use super::exec::{Executor, Statement, query};
use crate::domain::idempotency::{Identity, Rules, Ticket};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// Takes a key that no row holds, or whose row is forgotten ($6: taken at or before it;
/// $7: answered and taken at or before it); changes no row when another request holds it.
/// (Without `RETURNING`, which SQLite runs through a table of its own for every row.)
const TAKE_KEY: &str = "\
    INSERT INTO idempotency_keys AS k (client_id, method, path, idempotency_key, taken_at) \
    VALUES ($1, $2, $3, $4, $5) \
    ON CONFLICT (client_id, method, path, idempotency_key) DO UPDATE SET \
    taken_at = excluded.taken_at, status = NULL, fingerprint = NULL, content_type = NULL, \
    body = NULL, messages = NULL \
    WHERE k.taken_at <= $6 OR (k.status IS NOT NULL AND k.taken_at <= $7)";

tokio::task_local! {
    /// The key that the request running on this task claims ([`claiming`]).
    static CLAIM: Arc<Claim>;
}

/// Runs `work` (a request's handler) with its writes taking `claim`'s key, until one commits.
pub async fn claiming<F: Future>(claim: Arc<Claim>, work: F) -> F::Output {
    CLAIM.scope(claim, work).await
}

/// A request's claim on its key, and what became of it.
#[derive(Debug)]
pub struct Claim {
    identity: Identity,
    now: Timestamp,
    rules: Rules,
    state: Mutex<Claimed>,
}

/// What became of a claim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claimed {
    /// No write of the request has committed (or none was made).
    Open,
    /// A write committed, and took the key with it.
    Taken(Ticket),
    /// A write met the key held by another request, and was undone.
    Held,
}

impl Claim {
    pub fn new(identity: Identity, now: Timestamp, rules: Rules) -> Arc<Claim> {
        Arc::new(Claim {
            identity,
            now,
            rules,
            state: Mutex::new(Claimed::Open),
        })
    }

    pub fn state(&self) -> Claimed {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set(&self, state: Claimed) {
        *self.state.lock().unwrap_or_else(PoisonError::into_inner) = state;
    }
}

/// The claim of the request running on this task, until a write of it has taken the key.
pub(super) fn pending_claim() -> Option<Arc<Claim>> {
    CLAIM
        .try_with(Arc::clone)
        .ok()
        .filter(|claim| !matches!(claim.state(), Claimed::Taken(_)))
}

/// Takes `claim`'s key in the write transaction `tx`, before the write's own work: the
/// ticket, or [`Error::Conflict`] (the claim marked held) when another request holds it. A
/// claim met held once fails every later write of its request too (a handler that goes on
/// after a failed write, as a lineage batch does, writes nothing under a key not its own).
pub(super) async fn take_in<C: Executor>(tx: &mut C, claim: &Claim) -> Result<Ticket> {
    if claim.state() == Claimed::Held {
        return Err(held());
    }
    let taken = bind_key(query(TAKE_KEY), &claim.identity, claim.now, &claim.rules)
        .execute(tx)
        .await?;
    match taken {
        1 => Ok(Ticket {
            identity: claim.identity.clone(),
            taken_at: claim.now,
        }),
        _ => {
            claim.set(Claimed::Held);
            Err(held())
        }
    }
}

fn held() -> Error {
    Error::Conflict(
        "A request with this Idempotency-Key is in progress: retry it in a moment".into(),
    )
}

/// What the claim's write committed: the key is taken.
pub(super) fn taken(claim: &Claim, ticket: Ticket) {
    claim.set(Claimed::Taken(ticket));
}

/// Binds a key's identity, the instant it is taken at and the two conditions of a forgotten
/// row: `$1` to `$7` of [`TAKE_KEY`] and of `store::idempotency`'s statement that takes a
/// key with its answer.
pub(super) fn bind_key<'q>(
    statement: Statement<'q>,
    identity: &Identity,
    now: Timestamp,
    rules: &Rules,
) -> Statement<'q> {
    statement
        .bind(identity.client_id)
        .bind(identity.method.as_str())
        .bind(identity.path.as_str())
        .bind(identity.key.as_str())
        .bind(now)
        .bind(rules.expired_if_taken_by(now))
        .bind(rules.answered_expired_if_taken_by(now))
}
