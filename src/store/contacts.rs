//! Integration contacts: who hears of an integration's records, by email or webhook.

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, query};
use super::paging::page_rows;
use super::{ContactStore, integrations, rows, sql};
use crate::domain::Actor;
use crate::domain::contacts::{Contact, ContactFields};
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::cursor::Page;
use crate::time;

#[async_trait]
impl<B: Backend> ContactStore for SqlStore<B> {
    async fn create_contact(
        &self,
        fields: ContactFields,
        webhook_secret: String,
        actor: Option<&Actor>,
    ) -> Result<Contact> {
        fields.require_for_create()?;
        let now = time::now();
        let actor = actor.cloned();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let named = integration_of(tx, &fields).await?;
                    let mut contact =
                        Contact::new(&fields, named, webhook_secret, now, actor.as_ref())?;
                    let c = &contact;
                    contact.id = query(sql::INSERT_CONTACT)
                        .bind(c.integration_id)
                        .bind(c.contact_alert_type.as_str())
                        .bind(c.contactable_type.as_str())
                        .bind(c.contactable_id)
                        .bind(&c.email)
                        .bind(&c.webhook_url)
                        .bind(&c.webhook_secret)
                        .bind(now)
                        .bind(actor.map(|a| a.id))
                        .scalar(tx)
                        .await?;
                    Ok(contact)
                })
            })
            .await
    }

    async fn update_contact(
        &self,
        id: i64,
        fields: ContactFields,
        actor: Option<&Actor>,
    ) -> Result<Contact> {
        // A write that changes nothing writes nothing (see `update_run`).
        let now = time::now();
        let actor = actor.cloned();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let read = fetch(tx, id, true).await?;
                    let named = integration_of(tx, &fields).await?;
                    let (mut contact, changed) = read.updated(&fields, named);
                    if !changed {
                        return Ok(contact);
                    }
                    contact.updated_at = now;
                    contact.updated_by = actor;
                    let c = &contact;
                    query(sql::UPDATE_CONTACT)
                        .bind(c.id)
                        .bind(c.integration_id)
                        .bind(c.contact_alert_type.as_str())
                        .bind(c.contactable_type.as_str())
                        .bind(c.contactable_id)
                        .bind(&c.email)
                        .bind(&c.webhook_url)
                        .bind(now)
                        .bind(c.updated_by.as_ref().map(|a| a.id))
                        .execute(tx)
                        .await?;
                    Ok(contact)
                })
            })
            .await
    }

    async fn contact(&self, id: i64) -> Result<Contact> {
        self.db
            .read(move |conn| Box::pin(fetch(conn, id, false)))
            .await
    }

    async fn contacts(&self, query: &Query) -> Result<Page<Contact>> {
        let page = query.clone();
        self.read_page(query, move |conn| {
            Box::pin(async move {
                let rows =
                    page_rows(conn, "integration_contacts", sql::SELECT_CONTACTS, &page).await?;
                rows.try_map(rows::contact)
            })
        })
        .await
    }
}

/// The contact, locked for the write that read it when `lock` is set.
pub(super) async fn fetch<C: Executor>(conn: &mut C, id: i64, lock: bool) -> Result<Contact> {
    let sql = format!(
        "{} WHERE t0.id = $1{}",
        sql::SELECT_CONTACTS,
        if lock { C::ROW_LOCK } else { "" }
    );
    let row = query(&sql).bind(id).fetch_optional(conn).await?;
    let row = row.ok_or_else(|| {
        Error::NotFound(format!("Couldn't find IntegrationContact with 'id'={id}"))
    })?;
    rows::contact(&row)
}

/// The id of the integration a contact's body names, if it names one.
async fn integration_of(conn: &mut impl Executor, fields: &ContactFields) -> Result<Option<i64>> {
    match &fields.integration {
        Some(Some(reference)) => Ok(Some(integrations::find(conn, reference).await?.id)),
        _ => Ok(None),
    }
}
