//! The storage implementation both backends share, written once.
//!
//! The SQL is the same on SQLite and PostgreSQL (see [`super::sql`]); what differs is how a
//! datetime is stored, how a row is locked for update, and the driver. Each backend module
//! defines those few items — `Conn`, `DbRow`, `Statement`, `query` and `query_scalar` in
//! sqlx's shape, `TimeValue`, `time_param`, `time_value`, `LOCK`, `ANALYZE`,
//! the seeding statements, and a store type whose `write` and `read` run an operation on a
//! connection — and expands [`sql_store!`] to get the whole [`super::Store`] implementation
//! for its types. PostgreSQL runs it on sqlx; SQLite on rusqlite through [`super::lite`], on
//! the thread that owns the connection.
//!
//! A macro rather than generic code: sqlx's traits make a store generic over the database
//! need bounds on every function (executors for every lifetime, encodings for every type),
//! while the expansion type-checks each backend with its concrete types. rustfmt does not
//! format the body of this macro (it is marked `rustfmt::skip`, as rustfmt would indent the
//! whole body one level deeper): keep its lines as `cargo fmt` would, by hand.

#[rustfmt::skip]
macro_rules! sql_store {
    ($store:ty) => {
use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use sqlx::types::Json;

use $crate::domain::{Actor, stored_word};
use $crate::domain::alerts::{Attempt, Channel, Delivery, DeliveryStatus, deliveries};
use $crate::domain::clients::{self, Client, ClientKind, NewClient, Scopes};
use $crate::domain::contacts::{Contact, ContactFields, ContactableType};
use $crate::domain::integration_errors::{
    ContactAlertType, IntegrationError, IntegrationKeys, RecordFields, RecordKind, Response,
    record_integration, run_not_found,
};
use $crate::domain::integrations::{
    Direction, EndSystemType, Integration, IntegrationFields, IntegrationRef, IntegrationType,
    NewIntegration, UniqueKey, refuse_taken,
};
use $crate::domain::runs::{Action, Run, RunFields, RunView, Status};
use $crate::error::{Error, Result};
use $crate::query::{Bind, Query, sql::page};
use $crate::store::seed::{self, SeedRun};
use $crate::store::sql::{self as q, errors_of_runs};
use $crate::store::{Effects, Store, on_unique};
use $crate::time::{self, Timestamp};

/// Unique keys and the domain's message for each one's violation (SQLite names the columns,
/// PostgreSQL the constraints).
const INTEGRATION_KEYS: &[(&str, &str)] = &[
    ("integrations.code", UniqueKey::Code.taken()),
    ("integrations_code_key", UniqueKey::Code.taken()),
    ("integrations.name", UniqueKey::Name.taken()),
    ("integrations_name_key", UniqueKey::Name.taken()),
];
const CLIENT_KEYS: &[(&str, &str)] = &[
    ("api_clients.login", clients::NAME_TAKEN),
    ("api_clients_login_key", clients::NAME_TAKEN),
];
#[async_trait]
impl Store for $store {
    async fn create_integration(
        &self,
        new: NewIntegration,
        actor: Option<&Actor>,
    ) -> Result<Integration> {
        let now = time::now();
        let actor_id = actor.map(|a| a.id);
        let actor = actor.cloned();
        self.write(move |tx| {
            Box::pin(async move {
                let mut integration = Integration::new(new, now, actor.as_ref());
                let i = &integration;
                check_unique(tx, 0, Some(&i.code), Some(&i.name)).await?;
                integration.id = query_scalar(q::INSERT_INTEGRATION)
                    .bind(&i.code)
                    .bind(&i.name)
                    .bind(&i.business_object)
                    .bind(i.direction.as_str())
                    .bind(&i.end_system)
                    .bind(i.end_system_type.as_str())
                    .bind(i.integration_type.map(IntegrationType::as_str))
                    .bind(i.standard)
                    .bind(time_param(now))
                    .bind(actor_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| on_unique(e, INTEGRATION_KEYS))?;
                Ok(integration)
            })
        })
        .await
    }

    async fn update_integration(
        &self,
        id: i64,
        fields: IntegrationFields,
        actor: Option<&Actor>,
    ) -> Result<Integration> {
        // A write that changes nothing writes nothing (see `update_run`).
        let actor = actor.cloned();
        self.write(move |tx| {
            Box::pin(async move {
                let actor = actor.as_ref();
                let (mut integration, changed) = integration_update(tx, id, &fields).await?;
                if !changed {
                    return Ok(integration);
                }
                integration.updated_at = time::now();
                integration.updated_by = actor.cloned();
                let i = &integration;
                query(q::UPDATE_INTEGRATION)
                    .bind(i.id)
                    .bind(&i.code)
                    .bind(&i.name)
                    .bind(&i.business_object)
                    .bind(i.direction.as_str())
                    .bind(&i.end_system)
                    .bind(i.end_system_type.as_str())
                    .bind(i.integration_type.map(IntegrationType::as_str))
                    .bind(time_param(i.updated_at))
                    .bind(actor.map(|a| a.id))
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| on_unique(e, INTEGRATION_KEYS))?;
                Ok(integration)
            })
        })
        .await
    }

    async fn integration(&self, id: i64) -> Result<Integration> {
        self.read(move |conn| Box::pin(fetch_integration(conn, id, false))).await
    }

    async fn integrations(&self, query: &Query) -> Result<Vec<Integration>> {
        let page = query.clone();
        self.read(move |conn| {
            Box::pin(async move {
                let rows = page_rows(conn, "integrations", q::SELECT_INTEGRATIONS, &page).await?;
                rows.iter().map(integration_row).collect()
            })
        })
        .await
    }

    async fn create_run(&self, fields: RunFields, actor: Option<&Actor>) -> Result<RunView> {
        // Refused before it queues for the writer, which runs one write at a time.
        let reference = fields.integration_for_create()?.clone();
        let now = time::now();
        let actor = actor.cloned();
        self.write(move |tx| {
            Box::pin(async move {
                let actor = actor.as_ref();
                let integration = find_integration(tx, &reference).await?;
                let mut run = Run::pending(integration.id, now, actor);
                run.apply(&fields, None, now)?;
                run.id = query_scalar(q::INSERT_RUN)
                    .bind(run.integration_id)
                    .bind(run.status.as_str())
                    .bind(run.start_time.map(time_param))
                    .bind(run.end_time.map(time_param))
                    .bind(run.total_records)
                    .bind(run.records_processed)
                    .bind(run.flow.as_ref().map(Json))
                    .bind(time_param(now))
                    .bind(actor.map(|a| a.id))
                    .fetch_one(&mut *tx)
                    .await?;
                Ok(RunView {
                    run,
                    integration,
                    errors: Vec::new(),
                })
            })
        })
        .await
    }

    async fn update_run(
        &self,
        id: i64,
        fields: RunFields,
        action: Option<Action>,
        actor: Option<&Actor>,
    ) -> Result<RunView> {
        // A write that changes nothing (a retried action, a body equal to what is stored)
        // writes nothing: the write decides it, on the run as it is then, and runs no UPDATE.
        // Deciding it first on a reader would spare such a write its turn at SQLite's writer,
        // but costs every write that does change something a read more: measured, a quarter
        // of the lifecycle rate (docs/benchmarks.md).
        let actor = actor.cloned();
        self.write(move |tx| {
            Box::pin(async move {
                let actor = actor.as_ref();
                let (read, mut view, changed) =
                    run_update(tx, id, &fields, action, time::now()).await?;
                if !changed {
                    return Ok(view);
                }
                view.run.updated_by = actor.cloned();
                let run = &view.run;
                let changed = [
                    run.integration_id != read.integration_id,
                    run.status != read.status,
                    run.start_time != read.start_time,
                    run.end_time != read.end_time,
                    run.total_records != read.total_records,
                    run.records_processed != read.records_processed,
                    run.flow != read.flow,
                ];
                let sql = q::update_run(changed);
                let mut update = query(&sql).bind(run.id).bind(read.status.as_str());
                if changed[0] {
                    update = update.bind(run.integration_id);
                }
                if changed[1] {
                    update = update.bind(run.status.as_str());
                }
                if changed[2] {
                    update = update.bind(run.start_time.map(time_param));
                }
                if changed[3] {
                    update = update.bind(run.end_time.map(time_param));
                }
                if changed[4] {
                    update = update.bind(run.total_records);
                }
                if changed[5] {
                    update = update.bind(run.records_processed);
                }
                if changed[6] {
                    update = update.bind(run.flow.as_ref().map(Json));
                }
                let written = update
                    .bind(time_param(run.updated_at))
                    .bind(actor.map(|a| a.id))
                    .execute(&mut *tx)
                    .await?;
                if written.rows_affected() != 1 {
                    return Err(Error::Conflict(format!(
                        "Integration run {id} changed while it was being updated; \
                         retry the request"
                    )));
                }
                Ok(view)
            })
        })
        .await
    }

    async fn run(&self, id: i64) -> Result<RunView> {
        self.read(move |conn| Box::pin(fetch_run(conn, id, false))).await
    }

    async fn runs(&self, query: &Query) -> Result<Vec<RunView>> {
        let page = query.clone();
        self.read(move |conn| {
            Box::pin(async move {
                let rows = page_rows(conn, "integration_runs", q::SELECT_RUNS, &page).await?;
                let mut runs = rows.iter().map(run_row).collect::<Result<Vec<_>>>()?;
                attach_errors(conn, &mut runs).await?;
                Ok(runs)
            })
        })
        .await
    }

    async fn create_record(
        &self,
        kind: RecordKind,
        fields: RecordFields,
        effects: Effects,
        actor: Option<&Actor>,
    ) -> Result<IntegrationError> {
        fields.require_for_create(kind)?;
        let now = time::now();
        let actor_id = actor.map(|a| a.id);
        let actor = actor.cloned();
        self.write(move |tx| {
            Box::pin(async move {
                let actor = actor.as_ref();
                let run_id = fields.integration_run.flatten();
                let integration_id = integration_of_record(tx, &fields, run_id, None).await?;
                let mut record =
                    IntegrationError::new(&fields, integration_id, effects.exported, now, actor)?;
                let r = &record;
                record.id = query_scalar(&q::insert_record(kind.table()))
                    .bind(r.integration_run_id)
                    .bind(r.integration_id)
                    .bind(r.contact_alert_type.as_str())
                    .bind(&r.document_type)
                    .bind(r.document_id)
                    .bind(r.document_revision)
                    .bind(&r.document_status)
                    .bind(&r.external_id)
                    .bind(&r.integration_filename)
                    .bind(&r.creation_method)
                    .bind(&r.status)
                    .bind(false)
                    .bind(r.exported)
                    .bind(time_param(now))
                    .bind(actor_id)
                    .fetch_one(&mut *tx)
                    .await?;
                insert_responses(tx, kind, record.id, &fields, now).await?;
                if effects.acknowledge
                    && let (Some(document_type), Some(document_id)) =
                        (&record.document_type, record.document_id)
                {
                    query(&q::resolve_document(kind.table()))
                        .bind(document_type)
                        .bind(document_id)
                        .bind(true)
                        .bind(time_param(now))
                        .bind(actor_id)
                        .bind(false)
                        .execute(&mut *tx)
                        .await?;
                }
                if effects.alert {
                    queue_alerts(tx, kind, &record, now).await?;
                }
                let record = fetch_record(tx, kind, record.id, false).await?;
                Ok(record)
            })
        })
        .await
    }

    async fn update_record(
        &self,
        kind: RecordKind,
        id: i64,
        fields: RecordFields,
        actor: Option<&Actor>,
    ) -> Result<IntegrationError> {
        // A write that changes nothing writes nothing (see `update_run`).
        let now = time::now();
        let actor = actor.cloned();
        self.write(move |tx| {
            Box::pin(async move {
                let actor = actor.as_ref();
                let (record, changed) = record_update(tx, kind, id, &fields).await?;
                if !changed {
                    return Ok(record);
                }
                let r = &record;
                query(&q::update_record(kind.table()))
                    .bind(r.id)
                    .bind(r.integration_run_id)
                    .bind(r.integration_id)
                    .bind(r.contact_alert_type.as_str())
                    .bind(&r.document_type)
                    .bind(r.document_id)
                    .bind(r.document_revision)
                    .bind(&r.document_status)
                    .bind(&r.external_id)
                    .bind(&r.integration_filename)
                    .bind(&r.creation_method)
                    .bind(&r.status)
                    .bind(time_param(now))
                    .bind(actor.map(|a| a.id))
                    .execute(&mut *tx)
                    .await?;
                insert_responses(tx, kind, id, &fields, now).await?;
                let record = fetch_record(tx, kind, id, false).await?;
                Ok(record)
            })
        })
        .await
    }

    async fn resolve_record(
        &self,
        kind: RecordKind,
        id: i64,
        resolved: bool,
        actor: Option<&Actor>,
    ) -> Result<IntegrationError> {
        // `resolve` on a resolved record (`unresolve` on an open one) changes nothing and
        // writes nothing (see `update_run`).
        let actor = actor.cloned();
        self.write(move |tx| {
            Box::pin(async move {
                let actor = actor.as_ref();
                // Conditional: a record already so touches nothing; the read after answers
                // either way (or 404s).
                query(&q::resolve_record(kind.table()))
                    .bind(id)
                    .bind(resolved)
                    .bind(time_param(time::now()))
                    .bind(actor.map(|a| a.id))
                    .execute(&mut *tx)
                    .await?;
                fetch_record(tx, kind, id, false).await
            })
        })
        .await
    }

    async fn record(&self, kind: RecordKind, id: i64) -> Result<IntegrationError> {
        self.read(move |conn| Box::pin(fetch_record(conn, kind, id, false))).await
    }

    async fn records(&self, kind: RecordKind, query: &Query) -> Result<Vec<IntegrationError>> {
        let page = query.clone();
        self.read(move |conn| {
            Box::pin(async move {
                let select = q::select_records(kind.table());
                let rows = page_rows(conn, kind.table(), &select, &page).await?;
                let mut records = rows.iter().map(error_row).collect::<Result<Vec<_>>>()?;
                attach_responses(conn, kind, &mut records).await?;
                Ok(records)
            })
        })
        .await
    }

    async fn create_contact(
        &self,
        fields: ContactFields,
        webhook_secret: String,
        actor: Option<&Actor>,
    ) -> Result<Contact> {
        fields.require_for_create()?;
        let now = time::now();
        let actor = actor.cloned();
        self.write(move |tx| {
            Box::pin(async move {
                let actor = actor.as_ref();
                let named = contact_integration(tx, &fields).await?;
                let mut contact = Contact::new(&fields, named, webhook_secret, now, actor)?;
                let c = &contact;
                contact.id = query_scalar(q::INSERT_CONTACT)
                    .bind(c.integration_id)
                    .bind(c.contact_alert_type.as_str())
                    .bind(c.contactable_type.as_str())
                    .bind(c.contactable_id)
                    .bind(&c.email)
                    .bind(&c.webhook_url)
                    .bind(&c.webhook_secret)
                    .bind(time_param(now))
                    .bind(actor.map(|a| a.id))
                    .fetch_one(&mut *tx)
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
        self.write(move |tx| {
            Box::pin(async move {
                let actor = actor.as_ref();
                let (mut contact, changed) = contact_update(tx, id, &fields).await?;
                if !changed {
                    return Ok(contact);
                }
                contact.updated_at = now;
                contact.updated_by = actor.cloned();
                let c = &contact;
                query(q::UPDATE_CONTACT)
                    .bind(c.id)
                    .bind(c.integration_id)
                    .bind(c.contact_alert_type.as_str())
                    .bind(c.contactable_type.as_str())
                    .bind(c.contactable_id)
                    .bind(&c.email)
                    .bind(&c.webhook_url)
                    .bind(time_param(now))
                    .bind(actor.map(|a| a.id))
                    .execute(&mut *tx)
                    .await?;
                Ok(contact)
            })
        })
        .await
    }

    async fn contact(&self, id: i64) -> Result<Contact> {
        self.read(move |conn| Box::pin(fetch_contact(conn, id, false))).await
    }

    async fn contacts(&self, query: &Query) -> Result<Vec<Contact>> {
        let page = query.clone();
        self.read(move |conn| {
            Box::pin(async move {
                let rows =
                    page_rows(conn, "integration_contacts", q::SELECT_CONTACTS, &page).await?;
                rows.iter().map(contact_row).collect()
            })
        })
        .await
    }

    async fn delivery(&self, id: i64) -> Result<Delivery> {
        self.read(move |conn| {
            Box::pin(async move {
                let sql = format!("{} WHERE t0.id = $1", q::select_deliveries());
                let row = query(&sql).bind(id).fetch_optional(conn).await?;
                let row = row.ok_or_else(|| {
                    Error::NotFound(format!("Couldn't find AlertDelivery with 'id'={id}"))
                })?;
                delivery_row(&row)
            })
        })
        .await
    }

    async fn deliveries(&self, query: &Query) -> Result<Vec<Delivery>> {
        let page = query.clone();
        self.read(move |conn| {
            Box::pin(async move {
                let select = q::select_deliveries();
                let rows = page_rows(conn, "alert_deliveries", &select, &page).await?;
                rows.iter().map(delivery_row).collect()
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
        let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
        self.write(move |tx| {
            Box::pin(async move {
                let rows = query(&q::claim_deliveries())
                    .bind(time_param(until))
                    .bind(time_param(now))
                    .bind(limit)
                    .fetch_all(tx)
                    .await?;
                rows.iter().map(delivery_row).collect()
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
        let now = time_param(time::now());
        let error = attempt.error().map(str::to_owned);
        let code = attempt.response_code();
        let delivered = attempt.delivered().then_some(now);
        self.write(move |tx| {
            Box::pin(async move {
                query(q::RECORD_ATTEMPT)
                    .bind(id)
                    .bind(status.as_str())
                    .bind(next_attempt_at.map(time_param))
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
        let next: Option<TimeValue> = self
            .read(|conn| Box::pin(async move { Ok(query_scalar(q::NEXT_DUE).fetch_one(conn).await?) }))
            .await?;
        Ok(next.and_then(time_value))
    }

    async fn seed_runs(&self, runs: Vec<SeedRun>) -> Result<()> {
        // Each table gets one statement that reads its rows from one JSON array (one bind):
        // a statement per row costs a round trip each, and a multi-row VALUES statement costs
        // SQLite a by-name lookup per parameter (sqlx binds by name), quadratic in its size.
        self.write(move |tx| {
            Box::pin(async move {
                let mut ids: Vec<i64> = query_scalar(SEED_RUNS)
                    .bind(seed::runs_json(&runs))
                    .fetch_all(&mut *tx)
                    .await?;
                // Ids are assigned in the array's order; RETURNING's order is not promised, so
                // sort them back into it.
                ids.sort_unstable();
                query(SEED_ERRORS)
                    .bind(seed::errors_json(&ids, &runs))
                    .execute(tx)
                    .await?;
                Ok(())
            })
        })
        .await
    }

    async fn analyze(&self) -> Result<()> {
        if let Some(analyze) = ANALYZE {
            self.write(move |tx| {
                Box::pin(async move {
                    query(analyze).execute(tx).await?;
                    Ok(())
                })
            })
            .await?;
        }
        Ok(())
    }

    async fn create_client(&self, new: NewClient) -> Result<Client> {
        let now = time::now();
        self.write(move |tx| {
            Box::pin(async move {
                let id: i64 = query_scalar(q::INSERT_CLIENT)
                    .bind(&new.login)
                    .bind(new.kind.as_str())
                    .bind(&new.client_id)
                    .bind(&new.secret_hash)
                    .bind(new.scopes.to_string())
                    .bind(time_param(now))
                    .fetch_one(tx)
                    .await
                    .map_err(|e| on_unique(e, CLIENT_KEYS))?;
                Ok(Client {
                    id,
                    login: new.login,
                    kind: new.kind,
                    client_id: new.client_id,
                    scopes: new.scopes,
                    created_at: now,
                    revoked_at: None,
                })
            })
        })
        .await
    }

    async fn clients(&self, kind: ClientKind) -> Result<Vec<Client>> {
        self.read(move |conn| {
            Box::pin(async move {
                let sql = format!("{} WHERE kind = $1 ORDER BY id", q::SELECT_CLIENTS);
                let rows = query(&sql).bind(kind.as_str()).fetch_all(conn).await?;
                rows.iter().map(client_row).collect()
            })
        })
        .await
    }

    async fn revoke_client(&self, kind: ClientKind, key: &str) -> Result<Client> {
        let key = key.to_owned();
        let revoked = self.write(move |tx| {
            Box::pin(async move {
                let id: Option<i64> = query_scalar(q::REVOKE_CLIENT)
                    .bind(kind.as_str())
                    .bind(&key)
                    .bind(time_param(time::now()))
                    .fetch_optional(tx)
                    .await?;
                Ok((id, key))
            })
        });
        let (id, key) = revoked.await?;
        let id =
            id.ok_or_else(|| Error::NotFound(format!("No {} with id {key}", kind.as_str())))?;
        self.client(id)
            .await?
            .ok_or_else(|| Error::Internal("revoked client vanished".into()))
    }

    async fn client(&self, id: i64) -> Result<Option<Client>> {
        self.read(move |conn| {
            Box::pin(async move {
                let sql = format!("{} WHERE id = $1", q::SELECT_CLIENTS);
                let row = query(&sql).bind(id).fetch_optional(conn).await?;
                row.as_ref().map(client_row).transpose()
            })
        })
        .await
    }

    async fn client_by_client_id(&self, client_id: &str) -> Result<Option<(Client, Vec<u8>)>> {
        let client_id = client_id.to_owned();
        self.read(move |conn| {
            Box::pin(async move {
                let sql = format!(
                    "{} WHERE client_id = $1",
                    q::SELECT_CLIENTS.replace(" FROM", ", secret_hash FROM")
                );
                let row = query(&sql).bind(&client_id).fetch_optional(conn).await?;
                row.map(|row| Ok((client_row(&row)?, row.try_get("secret_hash")?)))
                    .transpose()
            })
        })
        .await
    }

    async fn client_by_secret_hash(&self, hash: &[u8]) -> Result<Option<Client>> {
        let hash = hash.to_vec();
        self.read(move |conn| {
            Box::pin(async move {
                let sql = format!("{} WHERE secret_hash = $1", q::SELECT_CLIENTS);
                let row = query(&sql).bind(&hash).fetch_optional(conn).await?;
                row.as_ref().map(client_row).transpose()
            })
        })
        .await
    }

    async fn signing_key(&self, fresh: Vec<u8>) -> Result<Vec<u8>> {
        self.write(move |tx| {
            Box::pin(async move {
                query(q::INSERT_SIGNING_KEY)
                    .bind(fresh)
                    .bind(time_param(time::now()))
                    .execute(&mut *tx)
                    .await?;
                Ok(query_scalar(q::SELECT_SIGNING_KEY)
                    .fetch_one(tx)
                    .await?)
            })
        })
        .await
    }
}

/// The rows of one page of an index query on `table`, read through `select` (which aliases
/// the table `t0`), in the query's order.
///
/// The page's ids come first, from a query that touches only `t0` and, mostly, its indexes;
/// then the rows of those ids, with their joins. Filtering, sorting and skipping whole joined
/// rows instead cost up to a hundred times more at a million runs (see docs/benchmarks.md).
async fn page_rows(
    conn: &mut Conn,
    table: &str,
    select: &str,
    listing: &Query,
) -> Result<Vec<DbRow>> {
    let sql = page(&format!("SELECT t0.id FROM {table} t0"), listing);
    let ids = bind_all(query(&sql.text), &sql.binds).fetch_all(&mut *conn).await?;
    let ids: Vec<i64> = ids.iter().map(|row| row.try_get(0)).collect::<Result<_, _>>()?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("{select} WHERE t0.id IN ({})", q::placeholders(0, ids.len()));
    let mut rows = query(&sql);
    for id in &ids {
        rows = rows.bind(*id);
    }
    let mut by_id: HashMap<i64, DbRow> = HashMap::with_capacity(ids.len());
    for row in rows.fetch_all(&mut *conn).await? {
        by_id.insert(row.try_get("id")?, row);
    }
    // A row deleted between the two reads is simply not on the page.
    Ok(ids.iter().filter_map(|id| by_id.remove(id)).collect())
}

fn bind_all<'q>(mut query: Statement<'q>, binds: &'q [Bind]) -> Statement<'q> {
    for value in binds {
        query = match value {
            Bind::Int(n) => query.bind(*n),
            Bind::Text(s) => query.bind(s.as_str()),
            Bind::Time(t) => query.bind(time_param(*t)),
            Bind::Bool(b) => query.bind(*b),
        };
    }
    query
}


/// Refuses a code or name (each `None` when it is not being set) that another integration has
/// without ASCII case (the domain words the refusal). Only the keys a write sets are checked,
/// so that an integration of an older database with a case twin can still be updated.
///
/// Unique without case is a check, not a constraint (a database may hold older twins, which
/// a unique index on `lower(code)` would refuse to build on): `KEYS_LOCK` serialises the
/// writers that check, where the backend has concurrent writers.
async fn check_unique(
    conn: &mut Conn,
    id: i64,
    code: Option<&str>,
    name: Option<&str>,
) -> Result<()> {
    if let Some(lock) = KEYS_LOCK {
        query(lock).execute(&mut *conn).await?;
    }
    let taken = query(q::INTEGRATION_KEYS_TAKEN)
        .bind(id)
        .bind(code.map(str::to_ascii_lowercase))
        .bind(name.map(str::to_ascii_lowercase))
        .fetch_one(conn)
        .await?;
    let (code_taken, name_taken): (bool, bool) = (taken.try_get(0)?, taken.try_get(1)?);
    let keys = [(code_taken, UniqueKey::Code), (name_taken, UniqueKey::Name)];
    let taken: Vec<UniqueKey> = keys
        .iter()
        .filter(|(taken, _)| *taken)
        .map(|(_, key)| *key)
        .collect();
    refuse_taken(&taken)
}

async fn fetch_integration(conn: &mut Conn, id: i64, lock: bool) -> Result<Integration> {
    let sql = format!("{} WHERE t0.id = $1{}", q::SELECT_INTEGRATIONS, lock_clause(lock));
    let row = query(&sql).bind(id).fetch_optional(conn).await?;
    let row =
        row.ok_or_else(|| Error::NotFound(format!("Couldn't find Integration with 'id'={id}")))?;
    integration_row(&row)
}

/// An integration as `fields` would leave it, and whether that differs from what is stored.
/// Uniqueness is checked only when something changes.
async fn integration_update(
    conn: &mut Conn,
    id: i64,
    fields: &IntegrationFields,
) -> Result<(Integration, bool)> {
    let read = fetch_integration(conn, id, true).await?;
    let mut next = read.clone();
    if !next.apply(fields) {
        return Ok((read, false));
    }
    let code = (next.code != read.code).then_some(next.code.as_str());
    let name = (next.name != read.name).then_some(next.name.as_str());
    check_unique(conn, id, code, name).await?;
    Ok((next, true))
}

/// The integration a reference names, or Coupa's "Unable to find" 400.
async fn find_integration(
    conn: &mut Conn,
    reference: &IntegrationRef,
) -> Result<Integration> {
    if reference.is_empty() {
        return Err(reference.not_found());
    }
    // Only the keys given, so that each is an index lookup (`lower(code)` and `lower(name)`
    // are indexed); text without ASCII case, as queries match it. The domain picks among
    // the candidates.
    let mut conditions = Vec::new();
    let mut binds = Vec::new();
    if reference.id.is_some() {
        conditions.push(format!("t0.id = ${}", conditions.len() + 1));
    }
    for (column, key) in [("code", &reference.code), ("name", &reference.name)] {
        if let Some(key) = key {
            conditions.push(format!("lower(t0.{column}) = ${}", conditions.len() + 1));
            binds.push(key.to_ascii_lowercase());
        }
    }
    let sql = format!(
        "{} WHERE {} ORDER BY t0.id LIMIT 16",
        q::SELECT_INTEGRATIONS,
        conditions.join(" AND ")
    );
    let mut select = query(&sql);
    if let Some(id) = reference.id {
        select = select.bind(id);
    }
    for key in &binds {
        select = select.bind(key);
    }
    let rows = select.fetch_all(conn).await?;
    let candidates = rows.iter().map(integration_row).collect::<Result<Vec<_>>>()?;
    reference.pick(candidates)
}

async fn fetch_run(conn: &mut Conn, id: i64, lock: bool) -> Result<RunView> {
    let sql = format!("{} WHERE t0.id = $1{}", q::SELECT_RUNS, lock_clause(lock));
    let row = query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let row =
        row.ok_or_else(|| Error::NotFound(format!("Couldn't find IntegrationRun with 'id'={id}")))?;
    let mut runs = vec![run_row(&row)?];
    attach_errors(conn, &mut runs).await?;
    Ok(runs.remove(0))
}

/// A run as a write would leave it, as of `now`: the run as read, the run as the write
/// leaves it (with its integration), and whether the two differ. A refusal is an error.
async fn run_update(
    conn: &mut Conn,
    id: i64,
    fields: &RunFields,
    action: Option<Action>,
    now: Timestamp,
) -> Result<(Run, RunView, bool)> {
    let mut view = fetch_run(conn, id, true).await?;
    let moved_to = match &fields.integration {
        Some(reference) => Some(find_integration(conn, reference).await?),
        None => None,
    };
    // The run was read with all of its errors: all that `finish` looks at.
    let read = view.run.clone();
    let changed = view.apply(fields, action, moved_to, now)?;
    Ok((read, view, changed))
}

/// Loads the errors of every run in one query.
async fn attach_errors(conn: &mut Conn, runs: &mut [RunView]) -> Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let sql = errors_of_runs(runs.len());
    let mut query = query(&sql);
    for view in runs.iter() {
        query = query.bind(view.run.id);
    }
    let index: HashMap<i64, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, v)| (v.run.id, i))
        .collect();
    for row in query.fetch_all(conn).await? {
        let error = error_row(&row)?;
        if let Some(&i) = error
            .integration_run_id
            .as_ref()
            .and_then(|id| index.get(id))
        {
            runs[i].errors.push(error);
        }
    }
    Ok(())
}



/// The columns of a row's author: its client's id and login.
const CREATED_BY: [&str; 2] = ["created_by_id", "created_by_login"];
const UPDATED_BY: [&str; 2] = ["updated_by_id", "updated_by_login"];

fn actor(row: &DbRow, [id, login]: [&str; 2]) -> Result<Option<Actor>> {
    let id: Option<i64> = row.try_get(id)?;
    let login: Option<String> = row.try_get(login)?;
    Ok(id.zip(login).map(|(id, login)| Actor { id, login }))
}

fn integration_row(row: &DbRow) -> Result<Integration> {
    Ok(Integration {
        created_by: actor(row, CREATED_BY)?,
        updated_by: actor(row, UPDATED_BY)?,
        ..integration_columns(row, INTEGRATION_COLUMNS)?
    })
}

/// An integration's own columns as `integrations` names them, and as the runs query joins
/// them (prefixed `i_`).
const INTEGRATION_COLUMNS: [&str; 11] = [
    "id", "code", "name", "business_object", "direction", "end_system", "end_system_type",
    "integration_type", "standard", "created_at", "updated_at",
];
const JOINED_INTEGRATION_COLUMNS: [&str; 11] = [
    "i_id", "i_code", "i_name", "i_business_object", "i_direction", "i_end_system",
    "i_end_system_type", "i_integration_type", "i_standard", "i_created_at", "i_updated_at",
];

/// An integration's own columns, named by `names`, without its authors.
fn integration_columns(row: &DbRow, names: [&str; 11]) -> Result<Integration> {
    let [
        id,
        code,
        name,
        business_object,
        direction,
        end_system,
        end_system_type,
        integration_type,
        standard,
        created_at,
        updated_at,
    ] = names;
    Ok(Integration {
        id: row.try_get(id)?,
        code: row.try_get(code)?,
        name: row.try_get(name)?,
        business_object: row.try_get(business_object)?,
        direction: word(row, direction, &Direction::ALL, Direction::as_str)?,
        end_system: row.try_get(end_system)?,
        end_system_type: word(
            row,
            end_system_type,
            &EndSystemType::ALL,
            EndSystemType::as_str,
        )?,
        integration_type: optional_word(
            row,
            integration_type,
            &IntegrationType::ALL,
            IntegrationType::as_str,
        )?,
        standard: row.try_get(standard)?,
        created_at: timestamp(row, created_at)?,
        updated_at: timestamp(row, updated_at)?,
        created_by: None,
        updated_by: None,
    })
}

fn run_row(row: &DbRow) -> Result<RunView> {
    let status: String = row.try_get("status")?;
    let flow: Option<Json<Value>> = row.try_get("flow")?;
    let run = Run {
        id: row.try_get("id")?,
        integration_id: row.try_get("integration_id")?,
        status: Status::parse(&status).ok_or_else(|| {
            Error::Internal(format!("unknown run status {status:?} in the database"))
        })?,
        start_time: optional_timestamp(row, "start_time")?,
        end_time: optional_timestamp(row, "end_time")?,
        total_records: row.try_get("total_records")?,
        records_processed: row.try_get("records_processed")?,
        flow: flow.map(|Json(value)| value),
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        created_by: actor(row, CREATED_BY)?,
        updated_by: actor(row, UPDATED_BY)?,
    };
    let integration = integration_columns(row, JOINED_INTEGRATION_COLUMNS)?;
    Ok(RunView {
        run,
        integration,
        errors: Vec::new(),
    })
}

fn error_row(row: &DbRow) -> Result<IntegrationError> {
    let integration_id: Option<i64> = row.try_get("integration_id")?;
    let code: Option<String> = row.try_get("i_code")?;
    let name: Option<String> = row.try_get("i_name")?;
    let integration = match (integration_id, code, name) {
        (Some(id), Some(code), Some(name)) => Some(IntegrationKeys { id, code, name }),
        _ => None,
    };
    Ok(IntegrationError {
        integration,
        responses: Vec::new(),
        id: row.try_get("id")?,
        integration_run_id: row.try_get("integration_run_id")?,
        integration_id: row.try_get("integration_id")?,
        contact_alert_type: word(
            row,
            "contact_alert_type",
            &ContactAlertType::ALL,
            ContactAlertType::as_str,
        )?,
        document_type: row.try_get("document_type")?,
        document_id: row.try_get("document_id")?,
        document_revision: row.try_get("document_revision")?,
        document_status: row.try_get("document_status")?,
        external_id: row.try_get("external_id")?,
        integration_filename: row.try_get("integration_filename")?,
        creation_method: row.try_get("creation_method")?,
        status: row.try_get("status")?,
        resolved: row.try_get("resolved")?,
        exported: row.try_get("exported")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        created_by: actor(row, CREATED_BY)?,
        updated_by: actor(row, UPDATED_BY)?,
    })
}

fn record_not_found(kind: RecordKind, id: i64) -> Error {
    Error::NotFound(format!("Couldn't find {} with 'id'={id}", kind.class()))
}

/// The integration of a record as the domain decides it (see [`record_integration`]), from
/// the integration its body names and its run's, each looked up.
async fn integration_of_record(
    conn: &mut Conn,
    fields: &RecordFields,
    run_id: Option<i64>,
    current: Option<i64>,
) -> Result<Option<i64>> {
    let of_run = match run_id {
        Some(id) => {
            let found: Option<i64> = query_scalar(q::RUN_INTEGRATION)
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
            Some(found.ok_or_else(|| run_not_found(id))?)
        }
        None => None,
    };
    let named = match &fields.integration {
        Some(reference) => Some(find_integration(conn, reference).await?.id),
        None => None,
    };
    record_integration(named, of_run, current)
}

/// A record as `fields` would leave it, and whether the update changes anything: a value,
/// or responses to append.
async fn record_update(
    conn: &mut Conn,
    kind: RecordKind,
    id: i64,
    fields: &RecordFields,
) -> Result<(IntegrationError, bool)> {
    let read = fetch_record(conn, kind, id, true).await?;
    let run_id = fields.run_after(read.integration_run_id);
    let integration_id = if fields.moves() {
        integration_of_record(conn, fields, run_id, read.integration_id).await?
    } else {
        read.integration_id
    };
    Ok(read.updated(fields, run_id, integration_id))
}

async fn insert_responses(
    conn: &mut Conn,
    kind: RecordKind,
    id: i64,
    fields: &RecordFields,
    now: Timestamp,
) -> Result<()> {
    for response in &fields.responses {
        query(q::INSERT_RESPONSE)
            .bind(kind.owner_type())
            .bind(id)
            .bind(&response.response_code)
            .bind(&response.response_message)
            .bind(time_param(now))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Writes the outbox rows of the record's alert: one per delivery the domain decides on.
async fn queue_alerts(
    conn: &mut Conn,
    kind: RecordKind,
    record: &IntegrationError,
    now: Timestamp,
) -> Result<()> {
    // Only the contacts that can hear of the record's integration: the domain decides among
    // them.
    let rows = query(&q::alert_contacts())
        .bind(record.integration_id)
        .fetch_all(&mut *conn)
        .await?;
    let contacts = rows.iter().map(contact_row).collect::<Result<Vec<_>>>()?;
    for delivery in deliveries(kind, record, &contacts) {
        query(q::INSERT_DELIVERY)
            .bind(delivery.integration_contact_id)
            .bind(delivery.integration_id)
            .bind(delivery.record_type.owner_type())
            .bind(delivery.record_id)
            .bind(delivery.channel.as_str())
            .bind(delivery.target)
            .bind(time_param(now))
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn fetch_record(
    conn: &mut Conn,
    kind: RecordKind,
    id: i64,
    lock: bool,
) -> Result<IntegrationError> {
    let sql = format!("{} WHERE t0.id = $1{}", q::select_records(kind.table()), lock_clause(lock));
    let row = query(&sql)
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    let mut records = vec![error_row(&row.ok_or_else(|| record_not_found(kind, id))?)?];
    attach_responses(conn, kind, &mut records).await?;
    Ok(records.remove(0))
}

/// Loads the responses of every record in one query.
async fn attach_responses(
    conn: &mut Conn,
    kind: RecordKind,
    records: &mut [IntegrationError],
) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let sql = q::responses_of(records.len());
    let mut query = query(&sql).bind(kind.owner_type());
    for record in records.iter() {
        query = query.bind(record.id);
    }
    let index: HashMap<i64, usize> = records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    for row in query.fetch_all(conn).await? {
        let owner: i64 = row.try_get("owner_id")?;
        if let Some(&i) = index.get(&owner) {
            records[i].responses.push(Response {
                id: row.try_get("id")?,
                response_code: row.try_get("response_code")?,
                response_message: row.try_get("response_message")?,
                created_at: timestamp(&row, "created_at")?,
                updated_at: timestamp(&row, "updated_at")?,
            });
        }
    }
    Ok(())
}

async fn fetch_contact(conn: &mut Conn, id: i64, lock: bool) -> Result<Contact> {
    let sql = format!("{} WHERE t0.id = $1{}", q::SELECT_CONTACTS, lock_clause(lock));
    let row = query(&sql).bind(id).fetch_optional(conn).await?;
    let row = row.ok_or_else(|| {
        Error::NotFound(format!("Couldn't find IntegrationContact with 'id'={id}"))
    })?;
    contact_row(&row)
}

/// A contact as `fields` would leave it, and whether that differs from what is stored.
async fn contact_update(
    conn: &mut Conn,
    id: i64,
    fields: &ContactFields,
) -> Result<(Contact, bool)> {
    let read = fetch_contact(conn, id, true).await?;
    let named = contact_integration(conn, fields).await?;
    Ok(read.updated(fields, named))
}

/// The id of the integration a contact's body names, if it names one.
async fn contact_integration(conn: &mut Conn, fields: &ContactFields) -> Result<Option<i64>> {
    match &fields.integration {
        Some(Some(reference)) => Ok(Some(find_integration(conn, reference).await?.id)),
        _ => Ok(None),
    }
}

fn contact_row(row: &DbRow) -> Result<Contact> {
    Ok(Contact {
        id: row.try_get("id")?,
        integration_id: row.try_get("integration_id")?,
        contact_alert_type: word(
            row,
            "contact_alert_type",
            &ContactAlertType::ALL,
            ContactAlertType::as_str,
        )?,
        contactable_type: word(
            row,
            "contactable_type",
            &ContactableType::ALL,
            ContactableType::as_str,
        )?,
        contactable_id: row.try_get("contactable_id")?,
        email: row.try_get("email")?,
        webhook_url: row.try_get("webhook_url")?,
        webhook_secret: row.try_get("webhook_secret")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
        created_by: actor(row, CREATED_BY)?,
        updated_by: actor(row, UPDATED_BY)?,
    })
}

fn delivery_row(row: &DbRow) -> Result<Delivery> {
    let channel: String = row.try_get("channel")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        integration_contact_id: row.try_get("integration_contact_id")?,
        integration_id: row.try_get("integration_id")?,
        record_type: word(row, "record_type", &RecordKind::ALL, RecordKind::owner_type)?,
        record_id: row.try_get("record_id")?,
        channel: Channel::parse(&channel)
            .ok_or_else(|| Error::Internal(format!("unknown channel {channel:?}")))?,
        target: row.try_get("target")?,
        status: word(row, "status", &DeliveryStatus::ALL, DeliveryStatus::as_str)?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: optional_timestamp(row, "next_attempt_at")?,
        last_error: row.try_get("last_error")?,
        response_code: row.try_get("response_code")?,
        delivered_at: optional_timestamp(row, "delivered_at")?,
        created_at: timestamp(row, "created_at")?,
        updated_at: timestamp(row, "updated_at")?,
    })
}

fn client_row(row: &DbRow) -> Result<Client> {
    let kind: String = row.try_get("kind")?;
    let scopes: String = row.try_get("scopes")?;
    Ok(Client {
        id: row.try_get("id")?,
        login: row.try_get("login")?,
        kind: ClientKind::parse(&kind)
            .ok_or_else(|| Error::Internal(format!("unknown client kind {kind:?}")))?,
        client_id: row.try_get("client_id")?,
        scopes: Scopes::parse(&scopes)
            .map_err(|s| Error::Internal(format!("unknown stored scope {s:?}")))?,
        created_at: timestamp(row, "created_at")?,
        revoked_at: optional_timestamp(row, "revoked_at")?,
    })
}

/// The row-lock clause that makes a read-then-write safe against other nodes.
fn lock_clause(lock: bool) -> &'static str {
    if lock { LOCK } else { "" }
}

fn timestamp(row: &DbRow, column: &str) -> Result<Timestamp> {
    optional_timestamp(row, column)?
        .ok_or_else(|| Error::Internal(format!("column {column} holds no valid timestamp")))
}

fn optional_timestamp(row: &DbRow, column: &str) -> Result<Option<Timestamp>> {
    let value: Option<TimeValue> = row.try_get(column)?;
    Ok(value.and_then(time_value))
}

/// A column of a closed vocabulary (`all`, each spelt by `spelling`), read as the domain
/// reads a stored word ([`stored_word`]). Any other text was not written by Runledger: a
/// bug or a foreign write, not a client's mistake.
fn word<T: Copy>(
    row: &DbRow,
    column: &str,
    all: &[T],
    spelling: fn(T) -> &'static str,
) -> Result<T> {
    let text: String = row.try_get(column)?;
    known_word(column, &text, all, spelling)
}

fn optional_word<T: Copy>(
    row: &DbRow,
    column: &str,
    all: &[T],
    spelling: fn(T) -> &'static str,
) -> Result<Option<T>> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|text| known_word(column, &text, all, spelling))
        .transpose()
}

fn known_word<T: Copy>(
    column: &str,
    text: &str,
    all: &[T],
    spelling: fn(T) -> &'static str,
) -> Result<T> {
    stored_word(all, spelling, text)
        .ok_or_else(|| Error::Internal(format!("unknown {column} {text:?} in the database")))
}
    };
}

pub(crate) use sql_store;
