//! Integration errors and history records (the two kinds of record, one table each), with
//! their responses and the alerts that filing one raises.

use std::collections::HashMap;

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, query};
use super::paging::page_rows;
use super::{Effects, RecordStore, emit, integrations, monitors, rows, sql};
use crate::domain::Actor;
use crate::domain::alerts::deliveries;
use crate::domain::etag::{self, IfMatch};
use crate::domain::events::Topic;
use crate::domain::records::{
    ContactAlertType, JOB_DOCUMENT_TYPE, NewResponse, Record, RecordFields, RecordKind,
    record_integration, run_not_found,
};
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::cursor::Page;
use crate::time::{self, Timestamp};

#[async_trait]
impl<B: Backend> RecordStore for SqlStore<B> {
    async fn create_record(
        &self,
        kind: RecordKind,
        fields: RecordFields,
        effects: Effects,
        actor: Option<&Actor>,
    ) -> Result<Record> {
        fields.require_for_create(kind)?;
        let now = time::now();
        let actor = actor.cloned();
        self.db
            .write(move |tx| {
                Box::pin(async move { file(tx, kind, &fields, effects, now, actor.as_ref()).await })
            })
            .await
    }

    async fn update_record(
        &self,
        kind: RecordKind,
        id: i64,
        fields: RecordFields,
        expect: Option<&IfMatch>,
        actor: Option<&Actor>,
    ) -> Result<Record> {
        // A write that changes nothing writes nothing (see `update_run`).
        let now = time::now();
        let actor = actor.cloned();
        let expect = expect.cloned();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let (record, changed) = updated(tx, kind, id, &fields, expect.as_ref()).await?;
                    if !changed {
                        return Ok(record);
                    }
                    let r = &record;
                    query(&sql::update_record(kind.table()))
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
                        .bind(now)
                        .bind(actor.map(|a| a.id))
                        .execute(tx)
                        .await?;
                    insert_responses(tx, kind, id, &fields, now).await?;
                    changed_error(tx, kind, &record, now).await?;
                    fetch(tx, kind, id, false).await
                })
            })
            .await
    }

    async fn resolve_record(
        &self,
        kind: RecordKind,
        id: i64,
        resolved: bool,
        expect: Option<&IfMatch>,
        actor: Option<&Actor>,
    ) -> Result<Record> {
        // `resolve` on a resolved record (`unresolve` on an open one) changes nothing and
        // writes nothing (see `update_run`): the update is conditional, and the read after
        // answers either way (or 404s).
        let actor = actor.cloned();
        let expect = expect.cloned();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    if let Some(expect) = &expect {
                        expect.check(&etag::record(&fetch(tx, kind, id, true).await?))?;
                    }
                    let now = time::now();
                    let written = query(&sql::resolve_record(kind.table()))
                        .bind(id)
                        .bind(resolved)
                        .bind(now)
                        .bind(actor.map(|a| a.id))
                        .execute(tx)
                        .await?;
                    let record = fetch(tx, kind, id, false).await?;
                    if written == 1 {
                        changed_error(tx, kind, &record, now).await?;
                    }
                    Ok(record)
                })
            })
            .await
    }

    async fn record(&self, kind: RecordKind, id: i64) -> Result<Record> {
        self.db
            .read(move |conn| Box::pin(fetch(conn, kind, id, false)))
            .await
    }

    async fn records(&self, kind: RecordKind, query: &Query) -> Result<Page<Record>> {
        let page = query.clone();
        self.read_page(query, move |conn| {
            Box::pin(async move {
                let select = sql::select_records(kind.table());
                let rows = page_rows(conn, kind.table(), &select, &page).await?;
                let mut records = rows.try_map(rows::record)?;
                attach_responses(conn, kind, &mut records.items).await?;
                Ok(records)
            })
        })
        .await
    }
}

/// The record with its responses, locked for the write that read it when `lock` is set.
/// Files a record with its side effects inside the caller's transaction: what the API's
/// create does, and what the sweeper files for a missed start, a stuck run and an alert.
pub(super) async fn file(
    tx: &mut impl Executor,
    kind: RecordKind,
    fields: &RecordFields,
    effects: Effects,
    now: Timestamp,
    actor: Option<&Actor>,
) -> Result<Record> {
    let actor_id = actor.map(|a| a.id);
    let run_id = fields.integration_run.flatten();
    // An error counts against its run's outcome bounds: the monitor looks again. Locked
    // before the insert locks the run's key, the order a look locks them in.
    if kind == RecordKind::Error
        && let Some(run_id) = run_id
    {
        monitors::touch_of_run(tx, run_id, now).await?;
    }
    let integration_id = integration_of(tx, fields, run_id, None).await?;
    let record = Record::new(fields, integration_id, effects.exported, now, actor)?;
    let r = &record;
    let id: i64 = query(&sql::insert_record(kind.table()))
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
        .bind(now)
        .bind(actor_id)
        .scalar(tx)
        .await?;
    insert_responses(tx, kind, id, fields, now).await?;
    if kind == RecordKind::Error {
        let at = (record.integration_id, record.integration_run_id);
        emit::event(tx, Topic::IntegrationError, id, at.0, at.1, now).await?;
    }
    if effects.acknowledge
        && let (Some(document_type), Some(document_id)) =
            (&record.document_type, record.document_id)
    {
        query(&sql::resolve_document(kind.table()))
            .bind(document_type)
            .bind(document_id)
            .bind(true)
            .bind(now)
            .bind(actor_id)
            .bind(false)
            .execute(tx)
            .await?;
    }
    if effects.alert {
        let record = Record { id, ..record };
        queue_alerts(tx, kind, &record, now).await?;
    }
    fetch(tx, kind, id, false).await
}

/// The event of a change of a record, when it is an integration error.
pub(super) async fn changed_error(
    tx: &mut impl Executor,
    kind: RecordKind,
    record: &Record,
    now: Timestamp,
) -> Result<()> {
    if kind != RecordKind::Error {
        return Ok(());
    }
    let (integration, run) = (record.integration_id, record.integration_run_id);
    emit::event(
        tx,
        Topic::IntegrationError,
        record.id,
        integration,
        run,
        now,
    )
    .await
}

/// The records of `kind` with these ids, with their responses, in id order.
pub(super) async fn by_ids(
    conn: &mut impl Executor,
    kind: RecordKind,
    ids: &[i64],
) -> Result<Vec<Record>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{} WHERE t0.id IN ({}) ORDER BY t0.id",
        sql::select_records(kind.table()),
        sql::placeholders(0, ids.len())
    );
    let rows = query(&sql)
        .bind_all(ids.iter().copied())
        .fetch_all(conn)
        .await?;
    let mut records = rows.iter().map(rows::record).collect::<Result<Vec<_>>>()?;
    attach_responses(conn, kind, &mut records).await?;
    Ok(records)
}

/// Files an integration error of the job (document type `Runledger::Job`, Technical) on a
/// run, with one response: what a ping's failure, the sweeper's findings and an OpenLineage
/// event's error file (`actor`: the API client that sent the event; none for the others).
pub(super) async fn file_job_error(
    tx: &mut impl Executor,
    run_id: i64,
    status: Option<&str>,
    response: NewResponse,
    now: Timestamp,
    actor: Option<&Actor>,
) -> Result<Record> {
    let fields = RecordFields {
        contact_alert_type: Some(Some(ContactAlertType::Technical)),
        integration_run: Some(Some(run_id)),
        document_type: Some(Some(JOB_DOCUMENT_TYPE.to_owned())),
        status: status.map(|s| Some(s.to_owned())),
        responses: vec![response],
        ..RecordFields::default()
    };
    file(
        tx,
        RecordKind::Error,
        &fields,
        Effects::default(),
        now,
        actor,
    )
    .await
}

pub(super) async fn fetch<C: Executor>(
    conn: &mut C,
    kind: RecordKind,
    id: i64,
    lock: bool,
) -> Result<Record> {
    let sql = format!(
        "{} WHERE t0.id = $1{}",
        sql::select_records(kind.table()),
        if lock { C::ROW_LOCK } else { "" }
    );
    let row = query(&sql).bind(id).fetch_optional(conn).await?;
    let row = row
        .ok_or_else(|| Error::NotFound(format!("Couldn't find {} with 'id'={id}", kind.class())))?;
    let mut records = vec![rows::record(&row)?];
    attach_responses(conn, kind, &mut records).await?;
    Ok(records.remove(0))
}

/// The integration of a record as the domain decides it (see [`record_integration`]), from
/// the integration its body names and its run's, each looked up.
async fn integration_of(
    conn: &mut impl Executor,
    fields: &RecordFields,
    run_id: Option<i64>,
    current: Option<i64>,
) -> Result<Option<i64>> {
    let of_run = match run_id {
        Some(id) => {
            let found: Option<i64> = query(sql::RUN_INTEGRATION)
                .bind(id)
                .scalar_optional(conn)
                .await?;
            Some(found.ok_or_else(|| run_not_found(id))?)
        }
        None => None,
    };
    let named = match &fields.integration {
        Some(reference) => Some(integrations::find(conn, reference).await?.id),
        None => None,
    };
    record_integration(named, of_run, current)
}

/// A record as `fields` would leave it, and whether the update changes anything: a value,
/// or responses to append.
async fn updated(
    conn: &mut impl Executor,
    kind: RecordKind,
    id: i64,
    fields: &RecordFields,
    expect: Option<&IfMatch>,
) -> Result<(Record, bool)> {
    let read = fetch(conn, kind, id, true).await?;
    if let Some(expect) = expect {
        expect.check(&etag::record(&read))?;
    }
    let run_id = fields.run_after(read.integration_run_id);
    let integration_id = if fields.moves() {
        integration_of(conn, fields, run_id, read.integration_id).await?
    } else {
        read.integration_id
    };
    Ok(read.updated(fields, run_id, integration_id))
}

async fn insert_responses(
    conn: &mut impl Executor,
    kind: RecordKind,
    id: i64,
    fields: &RecordFields,
    now: Timestamp,
) -> Result<()> {
    for response in &fields.responses {
        query(sql::INSERT_RESPONSE)
            .bind(kind.owner_type())
            .bind(id)
            .bind(&response.response_code)
            .bind(&response.response_message)
            .bind(now)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Writes the outbox rows of the record's alert: one per delivery the domain decides on.
async fn queue_alerts(
    conn: &mut impl Executor,
    kind: RecordKind,
    record: &Record,
    now: Timestamp,
) -> Result<()> {
    // Only the contacts that can hear of the record's integration: the domain decides among
    // them.
    let rows = query(&sql::alert_contacts())
        .bind(record.integration_id)
        .fetch_all(conn)
        .await?;
    let contacts = rows.iter().map(rows::contact).collect::<Result<Vec<_>>>()?;
    for delivery in deliveries(kind, record, &contacts) {
        query(sql::INSERT_DELIVERY)
            .bind(delivery.integration_contact_id)
            .bind(delivery.integration_id)
            .bind(delivery.record_type.owner_type())
            .bind(delivery.record_id)
            .bind(delivery.channel.as_str())
            .bind(delivery.target)
            .bind(now)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Loads the responses of every record in one query.
pub(super) async fn attach_responses(
    conn: &mut impl Executor,
    kind: RecordKind,
    records: &mut [Record],
) -> Result<()> {
    if records.is_empty() {
        return Ok(());
    }
    let sql = sql::responses_of(records.len());
    let rows = query(&sql)
        .bind(kind.owner_type())
        .bind_all(records.iter().map(|r| r.id))
        .fetch_all(conn)
        .await?;
    let index: HashMap<i64, usize> = records.iter().enumerate().map(|(i, r)| (r.id, i)).collect();
    for row in &rows {
        let (owner, response) = rows::response(row)?;
        if let Some(&i) = index.get(&owner) {
            records[i].responses.push(response);
        }
    }
    Ok(())
}
