//! `GET /api/events`: the event stream, as Server-Sent Events.
//!
//! The query string filters it with Coupa's query language (`topic=run&integration[code]=…`);
//! `Last-Event-ID` resumes it after the event it names, from the table when the hub has
//! passed it. A stream without it starts with the events that come after it opened.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use futures_util::stream;
use tokio::sync::{broadcast, watch};

use crate::app::AppState;
use crate::domain::events::{Event, Position, resume_id};
use crate::error::{Error, Result};
use crate::hub::{BATCH, FilterGuard, Published, show};
use crate::query::{Query, stream_filter};
use crate::store::EventStore;

pub async fn stream(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let raw = raw.unwrap_or_default();
    let filter = stream_filter(&raw)?;
    let hub = app.events.clone();
    let store = hub.store().clone();
    // Subscribed before the start is read, so that nothing falls between the two.
    let rx = hub.subscribe();
    let mut pending = VecDeque::new();
    let (cursor, catching_up) = match headers.get("last-event-id") {
        None => (store.latest_position().await?, false),
        Some(value) => {
            let id = resume_id(value.to_str().unwrap_or_default())?;
            (resume_at(store.as_ref(), id, &mut pending).await?, true)
        }
    };
    let filter = (!filter.conditions.is_empty()).then(|| {
        let key: Arc<str> = Arc::from(raw.as_str());
        let guard = hub.hold(key.clone(), filter.clone());
        (key, filter, guard)
    });
    let listener = Listener {
        closing: hub.closing(),
        store,
        filter,
        rx,
        cursor,
        catching_up,
        pending,
    };
    Ok(Sse::new(stream::unfold(listener, |mut l| async move {
        l.next().await.map(|event| (Ok(event), l))
    }))
    .keep_alive(KeepAlive::default()))
}

/// Where a stream resumed after event `id` starts. An event deleted by the retention starts
/// it at the oldest kept, after a `gap` event that says so; an id that never was is a 400.
async fn resume_at(
    store: &dyn EventStore,
    id: i64,
    pending: &mut VecDeque<SseEvent>,
) -> Result<Position> {
    if let Some(position) = store.event_position(id).await? {
        return Ok(position);
    }
    match store.oldest_event().await? {
        Some(oldest) if oldest.id <= id => {
            Err(Error::invalid(format!("Last-Event-ID {id} names no event")))
        }
        oldest => {
            pending.push_back(
                SseEvent::default().event("gap").data(format!(
                    "{{\"message\":\"events after {id} were deleted by the retention; the stream goes on from the oldest kept\"}}"
                )),
            );
            Ok(oldest.map_or(Position::default(), |p| Position {
                tx: p.tx,
                id: p.id - 1,
            }))
        }
    }
}

struct Listener {
    closing: watch::Receiver<bool>,
    store: Arc<dyn EventStore>,
    /// The filter as given (the hub's key), parsed, and held at the hub.
    filter: Option<(Arc<str>, Query, FilterGuard)>,
    rx: broadcast::Receiver<Arc<Published>>,
    /// The last event this stream passed, sent or filtered out.
    cursor: Position,
    /// Reading from the table rather than from the hub.
    catching_up: bool,
    pending: VecDeque<SseEvent>,
}

impl Listener {
    /// The next event to send; none when the stream ends (the server stops, or the database
    /// fails: the client then resumes with `Last-Event-ID`).
    async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if *self.closing.borrow() {
                return None;
            }
            let step = if self.catching_up {
                self.catch_up().await
            } else {
                self.listen().await
            };
            match step {
                Ok(Some(event)) => return Some(event),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "an event stream ended");
                    return None;
                }
            }
        }
    }

    /// Reads a batch from the table; caught up when it is not full.
    async fn catch_up(&mut self) -> Result<Option<SseEvent>> {
        let query = self.filter.as_ref().map(|(_, q, _)| q);
        let events = self.store.events_after(self.cursor, query, BATCH).await?;
        self.catching_up = events.len() as i64 == BATCH;
        let changes = self.store.changes(&events).await?;
        for (event, change) in events.iter().zip(&changes) {
            self.pending
                .push_back(sse(event, &show(event, change.as_ref())));
        }
        if let Some(last) = events.last() {
            self.cursor = last.position;
        }
        Ok(None)
    }

    /// Takes the hub's next event: sent if it is new and matches.
    async fn listen(&mut self) -> Result<Option<SseEvent>> {
        let received = tokio::select! {
            received = self.rx.recv() => received,
            _ = self.closing.changed() => return Ok(None),
        };
        let published = match received {
            Ok(published) => published,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                self.catching_up = true;
                return Ok(None);
            }
            Err(broadcast::error::RecvError::Closed) => {
                self.closing = watch::channel(true).1;
                return Ok(None);
            }
        };
        let event = &published.event;
        if event.position <= self.cursor {
            return Ok(None);
        }
        let matches = match &self.filter {
            None => true,
            Some((key, query, _)) => match published.matched.get(key) {
                Some(&matches) => matches,
                // Held after the hub read this batch: asked for this one event.
                None => {
                    let id = event.position.id;
                    self.store
                        .events_matching(&[id], query)
                        .await?
                        .contains(&id)
                }
            },
        };
        self.cursor = event.position;
        Ok(matches.then(|| sse(event, &published.data)))
    }
}

fn sse(event: &Event, data: &str) -> SseEvent {
    SseEvent::default()
        .id(event.position.id.to_string())
        .event(event.topic.as_str())
        .data(data)
}
