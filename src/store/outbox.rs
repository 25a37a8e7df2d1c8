//! The alerts' outbox (`alert_deliveries`): rows written with the record that raised them,
//! leased and sent by the dispatcher, each attempt recorded.

use std::time::Duration;

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::query;
use super::paging::page_rows;
use super::{
    OutboxStore, Subject, contacts, events, integrations, records, rows, runs, sql, subscriptions,
};
use crate::domain::alerts::{Attempt, Delivery, DeliveryStatus, Recipient};
use crate::domain::events::{Change, Event};
use crate::domain::records::RecordKind;
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::cursor::Page;
use crate::time::{self, Timestamp};

#[async_trait]
impl<B: Backend> OutboxStore for SqlStore<B> {
    async fn delivery(&self, id: i64) -> Result<Delivery> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let sql = format!("{} WHERE t0.id = $1", sql::select_deliveries());
                    let row = query(&sql).bind(id).fetch_optional(conn).await?;
                    let row = row.ok_or_else(|| {
                        Error::NotFound(format!("Couldn't find AlertDelivery with 'id'={id}"))
                    })?;
                    rows::delivery(&row)
                })
            })
            .await
    }

    async fn deliveries(&self, query: &Query) -> Result<Page<Delivery>> {
        let page = query.clone();
        self.read_page(query, move |conn| {
            Box::pin(async move {
                let select = sql::select_deliveries();
                let rows = page_rows(conn, "alert_deliveries", &select, &page).await?;
                rows.try_map(rows::delivery)
            })
        })
        .await
    }

    async fn claim_deliveries(
        &self,
        now: Timestamp,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<Delivery>> {
        let until = now + time::elapsed(lease);
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let rows = query(&sql::claim_deliveries())
                        .bind(until)
                        .bind(now)
                        .bind(limit)
                        .fetch_all(tx)
                        .await?;
                    rows.iter().map(rows::delivery).collect()
                })
            })
            .await
    }

    async fn record_attempt(
        &self,
        id: i64,
        status: DeliveryStatus,
        attempt: &Attempt,
        next_attempt_at: Option<Timestamp>,
    ) -> Result<()> {
        let now = time::now();
        let error = attempt.error().map(str::to_owned);
        let code = attempt.response_code();
        let delivered = attempt.delivered().then_some(now);
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    query(sql::RECORD_ATTEMPT)
                        .bind(id)
                        .bind(status.as_str())
                        .bind(next_attempt_at)
                        .bind(error)
                        .bind(code)
                        .bind(delivered)
                        .bind(now)
                        .execute(tx)
                        .await?;
                    Ok(())
                })
            })
            .await
    }

    async fn next_due(&self) -> Result<Option<Timestamp>> {
        self.db
            .read(|conn| Box::pin(async move { query(sql::NEXT_DUE).scalar(conn).await }))
            .await
    }

    async fn subject(&self, kind: RecordKind, record_id: i64) -> Result<Subject> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let record = records::fetch(conn, kind, record_id, false).await?;
                    let run = match record.integration_run_id {
                        Some(id) => Some(runs::fetch(conn, id, false).await?),
                        None => None,
                    };
                    let integration = match (&run, record.integration_id) {
                        (None, Some(id)) => Some(integrations::fetch(conn, id, false).await?),
                        _ => None,
                    };
                    Ok(Subject {
                        record,
                        run,
                        integration,
                    })
                })
            })
            .await
    }

    async fn webhook_secret(&self, recipient: Recipient) -> Result<String> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    match recipient {
                        Recipient::Contact(id) => {
                            let contact = contacts::fetch(conn, id, false).await?;
                            Ok(contact.webhook_secret.unwrap_or_default())
                        }
                        Recipient::Subscription(id) => {
                            Ok(subscriptions::fetch(conn, id, false).await?.secret)
                        }
                    }
                })
            })
            .await
    }

    async fn event(&self, id: i64) -> Result<(Event, Option<Change>)> {
        self.db
            .read(move |conn| Box::pin(events::with_change(conn, id)))
            .await
    }
}
