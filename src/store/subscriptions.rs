//! Webhook subscriptions to the event stream, and their fan-out: the events each one's
//! filter matches, handed to the outbox in the order of the stream, once each.
//!
//! A subscription remembers the last event it handed over. Fanning out takes the row (on
//! PostgreSQL, `SKIP LOCKED`: a node never waits for another that is at it), reads the
//! settled events after it with the filter, writes a delivery for each and moves the
//! cursor, in one transaction; a unique index on (subscription, event) backs that up.

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, Row, query};
use super::paging::page_rows;
use super::{SubscriptionStore, events, rows};
use crate::domain::Actor;
use crate::domain::alerts::{Carried, Channel};
use crate::domain::events::Position;
use crate::domain::subscriptions::{Subscription, SubscriptionFields};
use crate::error::{Error, Result};
use crate::query::cursor::Page;
use crate::query::{Query, stream_filter};
use crate::time::{self, Timestamp};

const SELECT: &str = "\
    SELECT t0.id, t0.lock_version, t0.url, t0.secret, t0.filter, t0.active, t0.cursor_tx, \
    t0.cursor_id, t0.created_at, t0.updated_at, t0.created_by_id, cb.login AS created_by_login, \
    t0.updated_by_id, ub.login AS updated_by_login \
    FROM event_subscriptions t0 \
    LEFT JOIN api_clients cb ON cb.id = t0.created_by_id \
    LEFT JOIN api_clients ub ON ub.id = t0.updated_by_id";

const INSERT: &str = "\
    INSERT INTO event_subscriptions (url, secret, filter, active, cursor_tx, cursor_id, \
    created_at, updated_at, created_by_id, updated_by_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $8) RETURNING id";

const UPDATE: &str = "\
    UPDATE event_subscriptions SET url = $2, filter = $3, active = $4, updated_at = $5, \
    updated_by_id = $6, lock_version = lock_version + 1 WHERE id = $1";

const MOVE_CURSOR: &str =
    "UPDATE event_subscriptions SET cursor_tx = $2, cursor_id = $3 WHERE id = $1";

const INSERT_DELIVERY: &str = "\
    INSERT INTO alert_deliveries (event_subscription_id, integration_id, record_type, \
    record_id, channel, target, status, attempts, next_attempt_at, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7, $7)";

/// How many events one fan-out of one subscription hands over at most.
const FAN_OUT_BATCH: i64 = 500;

#[async_trait]
impl<B: Backend> SubscriptionStore for SqlStore<B> {
    async fn create_subscription(
        &self,
        fields: SubscriptionFields,
        secret: String,
        actor: Option<&Actor>,
    ) -> Result<Subscription> {
        let url = fields.url_for_create()?.to_owned();
        let actor = actor.map(|a| a.id);
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    // It hears of what happens from now on.
                    let start = events::latest(tx).await?;
                    let filter = fields.filter.clone().flatten().unwrap_or_default();
                    let active = fields.active.flatten().unwrap_or(true);
                    let id: i64 = query(INSERT)
                        .bind(url)
                        .bind(secret)
                        .bind(filter)
                        .bind(active)
                        .bind(start.tx)
                        .bind(start.id)
                        .bind(time::now())
                        .bind(actor)
                        .scalar(tx)
                        .await?;
                    fetch(tx, id, false).await
                })
            })
            .await
    }

    async fn update_subscription(
        &self,
        id: i64,
        fields: SubscriptionFields,
        actor: Option<&Actor>,
    ) -> Result<Subscription> {
        let actor = actor.map(|a| a.id);
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let mut subscription = fetch(tx, id, true).await?;
                    if !subscription.apply(&fields) {
                        return Ok(subscription);
                    }
                    query(UPDATE)
                        .bind(id)
                        .bind(&subscription.url)
                        .bind(&subscription.filter)
                        .bind(subscription.active)
                        .bind(time::now())
                        .bind(actor)
                        .execute(tx)
                        .await?;
                    fetch(tx, id, false).await
                })
            })
            .await
    }

    async fn subscription(&self, id: i64) -> Result<Subscription> {
        self.db
            .read(move |conn| Box::pin(fetch(conn, id, false)))
            .await
    }

    async fn subscriptions(&self, listing: &Query) -> Result<Page<Subscription>> {
        let page = listing.clone();
        self.read_page(listing, move |conn| {
            Box::pin(async move {
                let rows = page_rows(conn, "event_subscriptions", SELECT, &page).await?;
                rows.try_map(subscription)
            })
        })
        .await
    }

    async fn behind(&self, head: Position) -> Result<Vec<i64>> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    query(
                        "SELECT id FROM event_subscriptions WHERE active = $1 \
                         AND (cursor_tx < $2 OR (cursor_tx = $2 AND cursor_id < $3)) ORDER BY id",
                    )
                    .bind(true)
                    .bind(head.tx)
                    .bind(head.id)
                    .scalars(conn)
                    .await
                })
            })
            .await
    }

    async fn fan_out(&self, id: i64, head: Position) -> Result<usize> {
        self.db
            .write(move |tx| Box::pin(fan_out(tx, id, head, time::now())))
            .await
    }
}

/// Hands subscription `id`'s next events to the outbox, if no other node is at it; how many.
/// `head` is a settled position: once every match up to it is handed over, the cursor moves
/// there, so that a filter that matches little is not read again for the same events.
async fn fan_out<C: Executor>(
    tx: &mut C,
    id: i64,
    head: Position,
    now: Timestamp,
) -> Result<usize> {
    let claim = format!(
        "SELECT id FROM event_subscriptions WHERE id = $1 AND active = $2{}",
        C::SKIP_LOCKED
    );
    let claimed: Option<i64> = query(&claim)
        .bind(id)
        .bind(true)
        .scalar_optional(tx)
        .await?;
    if claimed.is_none() {
        return Ok(0);
    }
    let subscription = fetch(tx, id, false).await?;
    // A filter that no longer parses (written by an older version) hears of nothing.
    let filter = match stream_filter(&subscription.filter) {
        Ok(filter) => filter,
        Err(error) => {
            tracing::warn!(%error, subscription = id, "a subscription's filter is refused");
            return Ok(0);
        }
    };
    let due = events::after_in(tx, subscription.cursor, Some(filter), FAN_OUT_BATCH).await?;
    let mut last = due.last().map_or(subscription.cursor, |e| e.position);
    if (due.len() as i64) < FAN_OUT_BATCH {
        last = last.max(head);
    }
    if last == subscription.cursor {
        return Ok(0);
    }
    for event in &due {
        query(INSERT_DELIVERY)
            .bind(id)
            .bind(event.integration_id)
            .bind(Carried::Event.as_str())
            .bind(event.position.id)
            .bind(Channel::Webhook.as_str())
            .bind(&subscription.url)
            .bind(now)
            .execute(tx)
            .await?;
    }
    query(MOVE_CURSOR)
        .bind(id)
        .bind(last.tx)
        .bind(last.id)
        .execute(tx)
        .await?;
    Ok(due.len())
}

pub(super) async fn fetch<C: Executor>(conn: &mut C, id: i64, lock: bool) -> Result<Subscription> {
    let sql = format!(
        "{SELECT} WHERE t0.id = $1{}",
        if lock { C::ROW_LOCK } else { "" }
    );
    let row = query(&sql)
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| {
            Error::NotFound(format!("Couldn't find EventSubscription with 'id'={id}"))
        })?;
    subscription(&row)
}

fn subscription(row: &Row) -> Result<Subscription> {
    Ok(Subscription {
        id: row.get("id")?,
        version: row.get("lock_version")?,
        url: row.get("url")?,
        secret: row.get("secret")?,
        filter: row.get("filter")?,
        active: row.get("active")?,
        cursor: Position {
            tx: row.get("cursor_tx")?,
            id: row.get("cursor_id")?,
        },
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        created_by: rows::created_by(row)?,
        updated_by: rows::updated_by(row)?,
    })
}
