//! Stores the answers of keyed writes ([`crate::http::idempotency`]) just after they went
//! out: one worker per node takes them from a queue and stores all that are waiting in one
//! write, so that a burst of keyed requests costs one hand-off to the database, not one each.
//! Each answer's key stays held on the node ([`Flight`]) until its answer is stored.

use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{mpsc, watch};

use crate::domain::idempotency::{Answer, Fingerprint, Flight, Ticket};
use crate::store::IdempotencyStore;

/// The most answers one write stores.
const BATCH: usize = 256;

/// An answer sent, waiting to be stored for its key.
pub struct Pending {
    pub ticket: Ticket,
    pub fingerprint: Fingerprint,
    pub answer: Answer,
    /// The key, held on this node until the answer is stored.
    pub flight: Flight,
}

pub struct Answers {
    store: Arc<dyn IdempotencyStore>,
    queue: mpsc::UnboundedSender<Pending>,
    waiting: Mutex<Option<mpsc::UnboundedReceiver<Pending>>>,
}

impl Answers {
    pub fn new(store: Arc<dyn IdempotencyStore>) -> Answers {
        let (queue, waiting) = mpsc::unbounded_channel();
        Answers {
            store,
            queue,
            waiting: Mutex::new(Some(waiting)),
        }
    }

    /// Queues an answer to be stored.
    pub fn store(&self, pending: Pending) {
        if self.queue.send(pending).is_err() {
            tracing::error!("an idempotency key's answer was not stored: the worker has stopped");
        }
    }

    /// Stores queued answers until `stop` turns true, then the ones still queued.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let taken = self
            .waiting
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut waiting) = taken else {
            tracing::error!("the answers' worker was started twice");
            return;
        };
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                received = waiting.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        return;
                    }
                }
                _ = stop.changed() => {
                    while let Ok(pending) = waiting.try_recv() {
                        batch.push(pending);
                    }
                    self.write(&mut batch).await;
                    return;
                }
            }
            self.write(&mut batch).await;
        }
    }

    /// Stores `batch` in one write and releases its keys.
    async fn write(&self, batch: &mut Vec<Pending>) {
        if batch.is_empty() {
            return;
        }
        let (answers, flights): (Vec<_>, Vec<Flight>) = batch
            .drain(..)
            .map(|p| ((p.ticket, p.fingerprint, p.answer), p.flight))
            .unzip();
        let count = answers.len();
        match self.store.store_answers(answers).await {
            Ok(stored) if stored < count => tracing::warn!(
                missing = count - stored,
                "idempotency keys' rows changed before their answers were stored"
            ),
            Ok(_) => {}
            Err(error) => tracing::error!(
                %error, answers = count, "cannot store idempotency keys' answers"
            ),
        }
        // Releases the keys: a retry waiting on this node now finds the answer.
        drop(flights);
    }
}
