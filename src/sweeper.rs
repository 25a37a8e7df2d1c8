//! The sweeper: a background worker that looks at every monitor whose deadline came.
//!
//! Each round reads the due monitors from the deadline's index (no run is read unless a
//! monitor is due), then looks at them a few at a time, each in a transaction of its own
//! (`store::SweepStore::look`): on PostgreSQL, nodes sweeping at once claim different monitors,
//! and a change of health is written only where the health is still the one read, so one
//! flip and one alert come of each event across all nodes. A look that fails is logged and
//! put off a minute, so that one bad monitor does not hold the others. The dispatcher is woken
//! when a look filed alerts.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{Notify, watch};

use crate::alerts::Dispatcher;
use crate::domain::monitor::sweep::Looked;
use crate::store::SweepStore;
use crate::time::Clock;

/// How long the sweeper sleeps between rounds when nothing wakes it.
const IDLE: Duration = Duration::from_secs(1);
/// How many due monitors one round reads.
const BATCH: i64 = 256;
/// How many looks run at once (SQLite commits them together; PostgreSQL spreads them).
const CONCURRENT_LOOKS: usize = 4;
/// How long a monitor whose look failed waits for the next.
const AFTER_FAILURE: Duration = Duration::from_secs(60);

pub struct Sweeper {
    store: Arc<dyn SweepStore>,
    clock: Clock,
    alerts: Arc<Dispatcher>,
    wake: Notify,
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Monitors found due; some may have been looked at by another node.
    pub due: usize,
    pub looked: usize,
    pub flips: usize,
    pub missed: usize,
    pub alerts: usize,
    pub failed: usize,
}

impl Sweeper {
    pub fn new(store: Arc<dyn SweepStore>, clock: Clock, alerts: Arc<Dispatcher>) -> Sweeper {
        Sweeper {
            store,
            clock,
            alerts,
            wake: Notify::new(),
        }
    }

    /// Asks for a round now rather than at the next tick.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Sweeps until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        while !*stop.borrow() {
            let round = self.round().await;
            // A full batch means more are due: go on at once.
            if round.due >= BATCH as usize {
                continue;
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(IDLE) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Looks at the monitors due now, up to a batch.
    pub async fn round(&self) -> Round {
        let now = self.clock.now();
        let due = match self.store.due_monitors(now, BATCH).await {
            Ok(due) => due,
            Err(error) => {
                tracing::error!(%error, "cannot read the due monitors");
                return Round::default();
            }
        };
        let mut round = Round {
            due: due.len(),
            ..Round::default()
        };
        let looks = futures_util::stream::iter(due)
            .map(|id| async move { (id, self.store.look(id, now).await) })
            .buffer_unordered(CONCURRENT_LOOKS)
            .collect::<Vec<_>>()
            .await;
        for (id, look) in looks {
            match look {
                Ok(Some(looked)) => round.add(&looked),
                Ok(None) => {}
                Err(error) => {
                    round.failed += 1;
                    tracing::error!(integration = id, %error, "the look at a monitor failed");
                    let until = now + crate::time::elapsed(AFTER_FAILURE);
                    if let Err(error) = self.store.postpone(id, until).await {
                        tracing::error!(integration = id, %error, "cannot put the monitor off");
                    }
                }
            }
        }
        if round.alerts > 0 {
            self.alerts.wake();
        }
        round
    }
}

impl std::ops::AddAssign for Round {
    fn add_assign(&mut self, other: Round) {
        self.due += other.due;
        self.looked += other.looked;
        self.flips += other.flips;
        self.missed += other.missed;
        self.alerts += other.alerts;
        self.failed += other.failed;
    }
}

impl Round {
    fn add(&mut self, looked: &Looked) {
        self.looked += 1;
        self.missed += looked.missed;
        self.alerts += looked.alerts;
        if looked.from != looked.to {
            self.flips += 1;
            tracing::info!(
                integration = looked.integration_id,
                from = looked.from.as_str(),
                to = looked.to.as_str(),
                "monitor health changed"
            );
        }
    }
}
