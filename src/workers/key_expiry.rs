//! Deletes expired idempotency keys, a batch at a time, so that the table holds about a TTL's
//! worth of keys. Expiry itself needs no deletion: a key past its TTL is free the moment it is
//! read ([`crate::domain::idempotency::standing`]); this only reclaims the space.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::domain::idempotency::Rules;
use crate::store::IdempotencyStore;
use crate::time::Clock;

/// How often the worker looks: expired keys wait at most this long to be deleted.
const EVERY: Duration = Duration::from_secs(60);
/// Keys deleted per transaction: each batch holds the writer only briefly.
const BATCH: i64 = 500;

pub struct KeyExpiry {
    store: Arc<dyn IdempotencyStore>,
    clock: Clock,
    rules: Rules,
}

impl KeyExpiry {
    pub fn new(store: Arc<dyn IdempotencyStore>, clock: Clock, rules: Rules) -> KeyExpiry {
        KeyExpiry {
            store,
            clock,
            rules,
        }
    }

    /// Deletes expired keys every minute until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            self.round().await;
            tokio::select! {
                _ = tokio::time::sleep(EVERY) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Deletes every key expired at the clock's instant, in batches; how many it deleted.
    pub async fn round(&self) -> u64 {
        let taken_by = self.rules.expired_if_taken_by(self.clock.now());
        let mut deleted = 0;
        loop {
            match self.store.delete_keys_taken_by(taken_by, BATCH).await {
                Ok(n) => {
                    deleted += n;
                    // None of the oldest keys expired, so the ones behind them (taken later)
                    // have not either: only a key taken over keeps an old id for a new time.
                    if n == 0 {
                        return deleted;
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "cannot delete expired idempotency keys");
                    return deleted;
                }
            }
        }
    }
}
