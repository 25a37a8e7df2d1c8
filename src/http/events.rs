//! `GET /api/events`: the event stream, as Server-Sent Events.
//!
//! The query string filters it with Coupa's query language (`topic=run&integration[code]=…`);
//! `Last-Event-ID` resumes it after the event it names, from the table when the hub has
//! passed it. A stream without it starts with the events that come after it opened.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use tokio::sync::{broadcast, watch};

use crate::app::AppState;
use crate::domain::events::{Position, resume_id};
use crate::error::{Error, Result};
use crate::hub::{BATCH, Batch, FilterGuard, Published, frame};
use crate::query::{Query, eval, stream_filter};
use crate::store::EventStore;

/// How long a stream stays silent before it sends a comment, so that proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub async fn stream(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response> {
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
    let frames = stream::unfold(listener, |mut l| async move {
        l.next().await.map(|frame| (Ok::<_, Infallible>(frame), l))
    });
    Ok((
        [
            (CONTENT_TYPE, "text/event-stream"),
            (CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(frames),
    )
        .into_response())
}

/// Where a stream resumed after event `id` starts. An event deleted by the retention starts
/// it at the oldest kept, after a `gap` event that says so; an id that never was is a 400.
async fn resume_at(
    store: &dyn EventStore,
    id: i64,
    pending: &mut VecDeque<Bytes>,
) -> Result<Position> {
    if let Some(position) = store.event_position(id).await? {
        return Ok(position);
    }
    match store.oldest_event().await? {
        Some(oldest) if oldest.id <= id => {
            Err(Error::invalid(format!("Last-Event-ID {id} names no event")))
        }
        oldest => {
            pending.push_back(Bytes::from(format!(
                "event: gap\ndata: {{\"message\":\"events after {id} were deleted by the retention; the stream goes on from the oldest kept\"}}\n\n"
            )));
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
    rx: broadcast::Receiver<Arc<Batch>>,
    /// The last event this stream passed, sent or filtered out.
    cursor: Position,
    /// Reading from the table rather than from the hub.
    catching_up: bool,
    pending: VecDeque<Bytes>,
}

impl Listener {
    /// The next bytes to send (one frame or several); none when the stream ends (the
    /// server stops, or the database fails: the client then resumes with `Last-Event-ID`).
    async fn next(&mut self) -> Option<Bytes> {
        loop {
            if let Some(frames) = self.pending.pop_front() {
                return Some(frames);
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
                Ok(Some(frames)) => return Some(frames),
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%error, "an event stream ended");
                    return None;
                }
            }
        }
    }

    /// Reads a batch from the table; caught up when it is not full.
    async fn catch_up(&mut self) -> Result<Option<Bytes>> {
        let query = self.filter.as_ref().map(|(_, q, _)| q);
        let events = self.store.events_after(self.cursor, query, BATCH).await?;
        self.catching_up = events.len() as i64 == BATCH;
        let changes = self.store.changes(&events).await?;
        let mut frames = Vec::new();
        for (event, change) in events.iter().zip(&changes) {
            frames.extend_from_slice(&frame(event, change.as_ref()));
        }
        if let Some(last) = events.last() {
            self.cursor = last.position;
        }
        Ok((!frames.is_empty()).then(|| Bytes::from(frames)))
    }

    /// Takes the hub's next batch: what of it is new and matches. A stream without a filter
    /// that has seen none of it sends the batch's frames as they are, without a copy.
    async fn listen(&mut self) -> Result<Option<Bytes>> {
        let received = tokio::select! {
            received = self.rx.recv() => received,
            _ = tokio::time::sleep(KEEP_ALIVE) => return Ok(Some(Bytes::from_static(b":\n\n"))),
            _ = self.closing.changed() => return Ok(None),
        };
        let batch = match received {
            Ok(batch) => batch,
            Err(broadcast::error::RecvError::Lagged(_)) => {
                self.catching_up = true;
                return Ok(None);
            }
            Err(broadcast::error::RecvError::Closed) => {
                self.closing = watch::channel(true).1;
                return Ok(None);
            }
        };
        let (Some(first), Some(last)) = (batch.events.first(), batch.events.last()) else {
            return Ok(None);
        };
        let (first, last) = (first.event.position, last.event.position);
        if last <= self.cursor {
            return Ok(None);
        }
        if first > self.cursor {
            let whole = match &self.filter {
                None => Some(&batch.frames),
                Some((key, _, _)) => batch.matched.get(key),
            };
            if let Some(frames) = whole {
                self.cursor = last;
                return Ok((!frames.is_empty()).then(|| frames.clone()));
            }
        }
        // Part of the batch was passed already (the stream caught up into it), or the
        // filter was held after the hub read it: event by event.
        let mut frames = Vec::new();
        for published in batch
            .events
            .iter()
            .filter(|p| p.event.position > self.cursor)
        {
            if self.matches(published).await? {
                frames.extend_from_slice(&published.frame);
            }
        }
        self.cursor = last;
        Ok((!frames.is_empty()).then(|| Bytes::from(frames)))
    }

    async fn matches(&self, published: &Published) -> Result<bool> {
        let Some((_, query, _)) = &self.filter else {
            return Ok(true);
        };
        if let Some(matches) = eval::matches(query, &published.event) {
            return Ok(matches);
        }
        let id = published.event.position.id;
        Ok(self
            .store
            .events_matching(&[id], query)
            .await?
            .contains(&id))
    }
}
