//! The event stream's table: a row for each change, written by the change's transaction,
//! read in commit order by every node.
//!
//! On PostgreSQL an id is drawn before its transaction commits, so a reader that went by ids
//! could pass an event whose transaction commits after a later id was read. Each row
//! therefore carries its transaction's id; readers order by (transaction, id) and take only
//! the transactions older than every one still running ([`Executor::EVENTS_SETTLED`]), whose
//! events are all there is of them. SQLite's single writer commits in id order.

use std::collections::HashMap;

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, Row, query};
use super::paging::param;
use super::sql::placeholders;
use super::{EventStore, records, rows, transitions};
use crate::domain::events::{Change, Event, Position, Topic};
use crate::domain::records::RecordKind;
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::sql::{Sql, conditions};
use crate::time::Timestamp;

const COLUMNS: &str = "\
    SELECT t0.id, t0.tx, t0.topic, t0.subject_id, t0.integration_id, t0.integration_run_id, \
    t0.created_at FROM events t0";

#[async_trait]
impl<B: Backend> EventStore for SqlStore<B> {
    async fn events_after(
        &self,
        after: Position,
        filter: Option<&Query>,
        limit: i64,
    ) -> Result<Vec<Event>> {
        let filter = filter.cloned();
        self.db
            .read(move |conn| Box::pin(after_in(conn, after, filter, limit)))
            .await
    }

    async fn events_matching(&self, ids: &[i64], filter: &Query) -> Result<Vec<i64>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        let filter = filter.clone();
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let mut sql = Sql::default();
                    let matches = conditions(&mut sql, &filter);
                    let list = placeholders(sql.binds.len(), ids.len());
                    let text = format!(
                        "SELECT t0.id FROM events t0 WHERE {matches} AND t0.id IN ({list})"
                    );
                    query(&text)
                        .bind_all(sql.binds.iter().map(param))
                        .bind_all(ids.iter().copied())
                        .scalars(conn)
                        .await
                })
            })
            .await
    }

    async fn event_position(&self, id: i64) -> Result<Option<Position>> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let tx: Option<i64> = query("SELECT tx FROM events WHERE id = $1")
                        .bind(id)
                        .scalar_optional(conn)
                        .await?;
                    Ok(tx.map(|tx| Position { tx, id }))
                })
            })
            .await
    }

    async fn latest_position(&self) -> Result<Position> {
        self.db.read(move |conn| Box::pin(latest(conn))).await
    }

    async fn oldest_event(&self) -> Result<Option<Position>> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let text = format!("{COLUMNS} ORDER BY t0.tx, t0.id LIMIT 1");
                    let row = query(&text).fetch_optional(conn).await?;
                    Ok(row.map(|r| event(&r)).transpose()?.map(|e| e.position))
                })
            })
            .await
    }

    async fn changes(&self, events: &[Event]) -> Result<Vec<Option<Change>>> {
        let events = events.to_vec();
        self.db
            .read(move |conn| Box::pin(changes_of(conn, events)))
            .await
    }

    async fn purge_events(&self, before: Timestamp, limit: i64) -> Result<u64> {
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    query(
                        "DELETE FROM events WHERE id IN \
                         (SELECT id FROM events WHERE created_at < $1 ORDER BY id LIMIT $2)",
                    )
                    .bind(before)
                    .bind(limit)
                    .execute(tx)
                    .await
                })
            })
            .await
    }
}

/// Event `id` with the change it tells of, as stored now ([`Error::NotFound`] when the event
/// is gone).
pub(super) async fn with_change(
    conn: &mut impl Executor,
    id: i64,
) -> Result<(Event, Option<Change>)> {
    let row = query(&format!("{COLUMNS} WHERE t0.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::NotFound(format!("event {id} is no longer kept")))?;
    let event = event(&row)?;
    let change = changes_of(conn, vec![event.clone()]).await?.pop().flatten();
    Ok((event, change))
}

pub(super) async fn after_in<C: Executor>(
    conn: &mut C,
    after: Position,
    filter: Option<Query>,
    limit: i64,
) -> Result<Vec<Event>> {
    let mut sql = Sql::default();
    let matches = match &filter {
        Some(filter) => conditions(&mut sql, filter),
        None => "1 = 1".to_owned(),
    };
    let n = sql.binds.len();
    // A row value, which both backends read as one seek on the (tx, id) index.
    let text = format!(
        "{COLUMNS} WHERE {matches} AND {} AND (t0.tx, t0.id) > (${}, ${}) \
         ORDER BY t0.tx, t0.id LIMIT ${}",
        C::EVENTS_SETTLED,
        n + 1,
        n + 2,
        n + 3
    );
    let rows = query(&text)
        .bind_all(sql.binds.iter().map(param))
        .bind(after.tx)
        .bind(after.id)
        .bind(limit)
        .fetch_all(conn)
        .await?;
    rows.iter().map(event).collect()
}

/// The newest settled event's position (the stream's start for a listener that does not
/// resume), or the origin when there is none.
pub(super) async fn latest<C: Executor>(conn: &mut C) -> Result<Position> {
    let text = format!(
        "{COLUMNS} WHERE {} ORDER BY t0.tx DESC, t0.id DESC LIMIT 1",
        C::EVENTS_SETTLED
    );
    let row = query(&text).fetch_optional(conn).await?;
    Ok(row
        .map(|r| event(&r))
        .transpose()?
        .map_or(Position::default(), |e| e.position))
}

async fn changes_of(conn: &mut impl Executor, events: Vec<Event>) -> Result<Vec<Option<Change>>> {
    let ids = |topic: Topic| -> Vec<i64> {
        events
            .iter()
            .filter(|e| e.topic == topic)
            .map(|e| e.subject_id)
            .collect()
    };
    let mut found: HashMap<(Topic, i64), Change> = HashMap::new();
    for entry in transitions::by_ids(conn, &ids(Topic::Run)).await? {
        found.insert((Topic::Run, entry.id), Change::Transition(entry));
    }
    for record in records::by_ids(conn, RecordKind::Error, &ids(Topic::IntegrationError)).await? {
        found.insert(
            (Topic::IntegrationError, record.id),
            Change::IntegrationError(Box::new(record)),
        );
    }
    let flips = ids(Topic::Health);
    if !flips.is_empty() {
        let text = format!(
            "SELECT id, integration_id, flipped_at, from_health, to_health, reason, \
             integration_run_id FROM monitor_flips WHERE id IN ({})",
            placeholders(0, flips.len())
        );
        for row in query(&text)
            .bind_all(flips.iter().copied())
            .fetch_all(conn)
            .await?
        {
            let flip = rows::flip(&row)?;
            found.insert((Topic::Health, flip.id), Change::Flip(flip));
        }
    }
    // A subject deleted since (retention) shows as nothing.
    Ok(events
        .iter()
        .map(|e| found.get(&(e.topic, e.subject_id)).cloned())
        .collect())
}

fn event(row: &Row) -> Result<Event> {
    let topic: String = row.get("topic")?;
    Ok(Event {
        position: Position {
            tx: row.get("tx")?,
            id: row.get("id")?,
        },
        topic: Topic::parse(&topic).ok_or_else(|| {
            Error::Internal(format!("unknown event topic {topic:?} in the database"))
        })?,
        subject_id: row.get("subject_id")?,
        integration_id: row.get("integration_id")?,
        integration_run_id: row.get("integration_run_id")?,
        created_at: row.get("created_at")?,
    })
}
