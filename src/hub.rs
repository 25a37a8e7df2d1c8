//! The event hub: one reader of the events table per node, and every stream of the node fed
//! from it.
//!
//! A background task reads the settled events after the last one it read (every node reads
//! them all, whichever node wrote them), shows each once as JSON, and hands it to every
//! listener through a broadcast channel. Each filter a listener holds is evaluated once per
//! batch for all listeners holding it: in memory when its conditions are on the event's own
//! columns ([`crate::query::eval`], which answers as the SQL does), else by the database, so
//! the stream's filters are exactly the query language's. A listener that falls behind the channel, or resumes from an event
//! the hub has passed, reads from the table with the same filter until it catches up: the
//! stream loses nothing and repeats nothing. Old events are deleted after the retention.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{broadcast, watch};

use crate::alerts::Dispatcher;
use crate::domain::events::{Change, Event, Position};
use crate::error::Result;
use crate::query::eval::{self, Columns};
use crate::query::{Bind, Query};
use crate::store::{EventStore, Store, SubscriptionStore};
use crate::time::Clock;
use crate::view::events::node;
use crate::view::render::json;

/// How often the hub reads new events when nothing wakes it.
const TICK: Duration = Duration::from_millis(100);
/// How many events one read takes: under load, a tick's events in one batch, so that each
/// listener wakes, and writes, once a tick.
pub const BATCH: i64 = 2000;
/// How many batches the channel holds for a slow listener before it falls back to the
/// table. The channel keeps the last this many batches whoever reads them: 128 hold some 13 s
/// of the benchmark's busiest stream (1.5 GB/s to 1,000 listeners), and at most 256,000
/// events, some 120 MB, in a burst of full batches. A listener further behind reads from the
/// table, which a thousand at once make expensive (16 batches were too few for that load:
/// its listeners fell behind together, and their reads starved the database's readers).
const CHANNEL: usize = 128;
/// How often old events are deleted, and how many at a time.
const PURGE_EVERY: Duration = Duration::from_secs(60);
const PURGE_BATCH: i64 = 1000;

/// An event as every listener receives it.
#[derive(Debug)]
pub struct Published {
    pub event: Event,
    /// The event as a Server-Sent Events frame, made once for every listener.
    pub frame: Bytes,
}

/// The events of one read, handed to every listener at once: a listener wakes once a
/// batch, not once an event, and sends what it takes of the batch without a copy.
#[derive(Debug)]
pub struct Batch {
    pub events: Vec<Published>,
    /// Every frame of the batch, one after the other: what a stream without a filter sends.
    pub frames: Bytes,
    /// For each filter held when the batch was read (by its query string): the frames of
    /// the events it matches, one after the other.
    pub matched: HashMap<Arc<str>, Bytes>,
}

impl Columns for Event {
    fn column(&self, name: &str) -> Option<Option<Bind>> {
        Some(match name {
            "id" => Some(Bind::Int(self.position.id)),
            "topic" => Some(Bind::Text(self.topic.as_str().to_owned())),
            "integration_id" => self.integration_id.map(Bind::Int),
            "integration_run_id" => self.integration_run_id.map(Bind::Int),
            "created_at" => Some(Bind::Time(self.created_at)),
            _ => return None,
        })
    }
}

pub struct EventHub {
    store: Arc<dyn EventStore>,
    subscriptions: Arc<dyn SubscriptionStore>,
    /// Woken when subscriptions' deliveries were written.
    alerts: Arc<Dispatcher>,
    sender: broadcast::Sender<Arc<Batch>>,
    /// The filters listeners hold, by their query string, with how many hold each.
    filters: Mutex<HashMap<Arc<str>, (Query, usize)>>,
    retention: Duration,
    clock: Clock,
    /// Turned true when the server begins to stop: every stream then ends, so that the
    /// connections holding them close and the server can finish.
    closing: watch::Sender<bool>,
}

impl EventHub {
    pub fn new(
        store: Arc<dyn Store>,
        alerts: Arc<Dispatcher>,
        retention: Duration,
        clock: Clock,
    ) -> EventHub {
        EventHub {
            store: store.clone(),
            subscriptions: store,
            alerts,
            sender: broadcast::channel(CHANNEL).0,
            filters: Mutex::new(HashMap::new()),
            retention,
            clock,
            closing: watch::channel(false).0,
        }
    }

    /// Ends every stream: the server is stopping.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// What a stream watches to end when the server stops.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    /// The batches published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Batch>> {
        self.sender.subscribe()
    }

    /// Holds `filter` (known by `key`, its query string) for a listener, until the guard
    /// is dropped.
    pub fn hold(self: &Arc<Self>, key: Arc<str>, filter: Query) -> FilterGuard {
        let mut filters = self.filters.lock().unwrap_or_else(PoisonError::into_inner);
        filters.entry(key.clone()).or_insert((filter, 0)).1 += 1;
        FilterGuard {
            hub: Arc::clone(self),
            key,
        }
    }

    pub fn store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    /// Reads and publishes events until `stop` turns true.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut head = match self.store.latest_position().await {
            Ok(position) => position,
            Err(error) => {
                tracing::error!(%error, "the event hub could not find the latest event");
                Position::default()
            }
        };
        let mut purged = tokio::time::Instant::now();
        while !*stop.borrow() {
            match self.publish_after(head).await {
                Ok((next, full)) => {
                    head = next;
                    self.fan_out(head).await;
                    if full {
                        continue;
                    }
                }
                Err(error) => tracing::error!(%error, "the event hub could not read events"),
            }
            if purged.elapsed() >= PURGE_EVERY {
                purged = tokio::time::Instant::now();
                self.purge().await;
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Publishes the events after `head`; the new head, and whether the read was full.
    async fn publish_after(&self, head: Position) -> Result<(Position, bool)> {
        let events = self.store.events_after(head, None, BATCH).await?;
        let Some(last) = events.last() else {
            return Ok((head, false));
        };
        let last = last.position;
        let full = events.len() as i64 == BATCH;
        let changes = self.store.changes(&events).await?;
        let filters: Vec<(Arc<str>, Query)> = {
            let held = self.filters.lock().unwrap_or_else(PoisonError::into_inner);
            held.iter()
                .map(|(k, (q, _))| (k.clone(), q.clone()))
                .collect()
        };
        // Every frame written once, into one buffer that each event's frame is a slice of.
        let mut frames = Vec::new();
        let mut ranges = Vec::with_capacity(events.len());
        for (event, change) in events.iter().zip(&changes) {
            let start = frames.len();
            frames.extend_from_slice(&frame(event, change.as_ref()));
            ranges.push(start..frames.len());
        }
        let frames = Bytes::from(frames);
        let published: Vec<Published> = events
            .into_iter()
            .zip(ranges)
            .map(|(event, range)| Published {
                event,
                frame: frames.slice(range),
            })
            .collect();
        let mut matched = HashMap::with_capacity(filters.len());
        for (key, filter) in filters {
            let frames = self.matching_frames(&published, &filter).await?;
            matched.insert(key, frames);
        }
        // No listener is not an error: the next one starts from the table.
        let _ = self.sender.send(Arc::new(Batch {
            events: published,
            frames,
            matched,
        }));
        Ok((last, full))
    }

    /// The frames of the events that `filter` matches, one after the other: decided in
    /// memory when it can be, else by one query for the whole batch.
    async fn matching_frames(&self, published: &[Published], filter: &Query) -> Result<Bytes> {
        let decided: Option<Vec<bool>> = published
            .iter()
            .map(|p| eval::matches(filter, &p.event))
            .collect();
        let decided = match decided {
            Some(decided) => decided,
            None => {
                let ids: Vec<i64> = published.iter().map(|p| p.event.position.id).collect();
                let found: HashSet<i64> = self
                    .store
                    .events_matching(&ids, filter)
                    .await?
                    .into_iter()
                    .collect();
                ids.iter().map(|id| found.contains(id)).collect()
            }
        };
        let mut frames = Vec::new();
        for (p, _) in published.iter().zip(decided).filter(|(_, m)| *m) {
            frames.extend_from_slice(&p.frame);
        }
        Ok(Bytes::from(frames))
    }

    /// Hands the events up to `head` to the outbox for every subscription behind it.
    async fn fan_out(&self, head: Position) {
        let behind = match self.subscriptions.behind(head).await {
            Ok(behind) => behind,
            Err(error) => {
                tracing::error!(%error, "subscriptions could not be read");
                return;
            }
        };
        let mut handed = 0;
        for id in behind {
            match self.subscriptions.fan_out(id, head).await {
                Ok(n) => handed += n,
                Err(error) => tracing::error!(%error, subscription = id, "fan-out failed"),
            }
        }
        if handed > 0 {
            self.alerts.wake();
        }
    }

    async fn purge(&self) {
        let Ok(window) = chrono::Duration::from_std(self.retention) else {
            return;
        };
        let before = self.clock.now() - window;
        loop {
            match self.store.purge_events(before, PURGE_BATCH).await {
                Ok(n) if n as i64 == PURGE_BATCH => continue,
                Ok(_) => break,
                Err(error) => {
                    tracing::error!(%error, "old events could not be deleted");
                    break;
                }
            }
        }
    }
}

/// The event as the stream sends it: a Server-Sent Events frame (the JSON has no line
/// break, so it is one `data` line).
pub fn frame(event: &Event, change: Option<&Change>) -> Bytes {
    let data = json(&node(event, change));
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {data}\n\n",
        event.position.id,
        event.topic.as_str()
    ))
}

/// A filter held by a listener; released when dropped.
pub struct FilterGuard {
    hub: Arc<EventHub>,
    key: Arc<str>,
}

impl Drop for FilterGuard {
    fn drop(&mut self) {
        let mut filters = self
            .hub
            .filters
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some((_, count)) = filters.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                filters.remove(&self.key);
            }
        }
    }
}
