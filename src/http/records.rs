//! `/api/integration_errors` and `/api/integration_history_records` (spec §1.4): one set of
//! handlers, instantiated for each kind of record.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::format::Format;
use super::integrations::actor;
use super::render::{Node, Reply};
use super::{Id, Write};
use crate::app::AppState;
use crate::domain::integration_errors::{IntegrationError, RecordFields, RecordKind, Response};
use crate::error::Result;
use crate::query::schema::{ERRORS, HISTORY, Resource};
use crate::query::{Query, Shape};
use crate::store::Effects;

/// What differs between the two record resources.
pub trait Kind: Send + Sync + 'static {
    const KIND: RecordKind;
    const RESOURCE: &'static Resource;
    const ROOT: &'static str;
    const COLLECTION: &'static str;
}

pub struct Errors;
pub struct History;

impl Kind for Errors {
    const KIND: RecordKind = RecordKind::Error;
    const RESOURCE: &'static Resource = &ERRORS;
    const ROOT: &'static str = "integration-error";
    const COLLECTION: &'static str = "integration-errors";
}

impl Kind for History {
    const KIND: RecordKind = RecordKind::History;
    const RESOURCE: &'static Resource = &HISTORY;
    const ROOT: &'static str = "integration-history-record";
    const COLLECTION: &'static str = "integration-history-records";
}

pub async fn index<K: Kind>(
    State(app): State<AppState>,
    format: Format,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let query = Query::parse(K::RESOURCE, query.as_deref().unwrap_or_default())?;
    let records = app.store.records(K::KIND, &query).await?;
    let nodes = records.iter().map(|r| node(K::KIND, r)).collect();
    Ok(Reply::many(
        format,
        query.shape,
        K::COLLECTION,
        K::ROOT,
        nodes,
    ))
}

pub async fn show<K: Kind>(
    State(app): State<AppState>,
    format: Format,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let shape = Shape::parse(K::RESOURCE, query.as_deref().unwrap_or_default())?.readable()?;
    let record = app.store.record(K::KIND, id).await?;
    Ok(Reply::one(
        StatusCode::OK,
        format,
        shape,
        K::ROOT,
        node(K::KIND, &record),
    ))
}

/// `POST`: files a record.
pub async fn create<K: Kind>(app: State<AppState>, write: Write) -> Result<Reply> {
    file::<K>(app, write, Effects::default()).await
}

/// `POST …/create_alert`: files a record and alerts the integration's contacts.
pub async fn create_alert<K: Kind>(app: State<AppState>, write: Write) -> Result<Reply> {
    file::<K>(
        app,
        write,
        Effects {
            alert: true,
            ..Effects::default()
        },
    )
    .await
}

/// `POST …/create_alert_and_mark_exported`.
pub async fn create_alert_and_mark_exported<K: Kind>(
    app: State<AppState>,
    write: Write,
) -> Result<Reply> {
    file::<K>(
        app,
        write,
        Effects {
            alert: true,
            exported: true,
            ..Effects::default()
        },
    )
    .await
}

/// `POST …/mark_exported`: files a record that is already exported.
pub async fn mark_exported<K: Kind>(app: State<AppState>, write: Write) -> Result<Reply> {
    file::<K>(
        app,
        write,
        Effects {
            exported: true,
            ..Effects::default()
        },
    )
    .await
}

/// `POST …/acknowledge`: files a record and resolves the open ones of its document.
pub async fn acknowledge<K: Kind>(app: State<AppState>, write: Write) -> Result<Reply> {
    file::<K>(
        app,
        write,
        Effects {
            acknowledge: true,
            ..Effects::default()
        },
    )
    .await
}

async fn file<K: Kind>(
    State(app): State<AppState>,
    write: Write,
    effects: Effects,
) -> Result<Reply> {
    let shape = write.shape(K::RESOURCE)?;
    let fields = RecordFields::parse(write.body())?;
    let record = app
        .store
        .create_record(K::KIND, fields, effects, write.author.actor())
        .await?;
    if effects.alert {
        app.alerts.wake();
    }
    Ok(Reply::one(
        StatusCode::CREATED,
        write.format,
        shape,
        K::ROOT,
        node(K::KIND, &record),
    ))
}

pub async fn update<K: Kind>(
    State(app): State<AppState>,
    Id(id): Id,
    write: Write,
) -> Result<Reply> {
    let shape = write.shape(K::RESOURCE)?;
    let fields = RecordFields::parse(write.body())?;
    fields.require_for_update(K::KIND)?;
    let record = app
        .store
        .update_record(K::KIND, id, fields, write.author.actor())
        .await?;
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        shape,
        K::ROOT,
        node(K::KIND, &record),
    ))
}

pub async fn resolve<K: Kind>(app: State<AppState>, id: Id, write: Write) -> Result<Reply> {
    set_resolved::<K>(app, id, write, true).await
}

pub async fn unresolve<K: Kind>(app: State<AppState>, id: Id, write: Write) -> Result<Reply> {
    set_resolved::<K>(app, id, write, false).await
}

async fn set_resolved<K: Kind>(
    State(app): State<AppState>,
    Id(id): Id,
    write: Write,
    resolved: bool,
) -> Result<Reply> {
    let shape = write.shape(K::RESOURCE)?;
    let record = app
        .store
        .resolve_record(K::KIND, id, resolved, write.author.actor())
        .await?;
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        shape,
        K::ROOT,
        node(K::KIND, &record),
    ))
}

/// The elements every record shows, wherever it is shown.
fn document(e: &IntegrationError) -> Vec<(&'static str, Node)> {
    vec![
        ("id", Node::Int(e.id)),
        ("created-at", Node::Time(e.created_at)),
        ("updated-at", Node::Time(e.updated_at)),
        ("contact-alert-type", Node::text(&e.contact_alert_type)),
        ("document-type", Node::opt_text(&e.document_type)),
        ("document-id", Node::opt_int(e.document_id)),
        ("document-revision", Node::opt_int(e.document_revision)),
        ("document-status", Node::opt_text(&e.document_status)),
        ("external-id", Node::opt_text(&e.external_id)),
        (
            "integration-filename",
            Node::opt_text(&e.integration_filename),
        ),
        ("creation-method", Node::opt_text(&e.creation_method)),
        ("status", Node::opt_text(&e.status)),
        ("resolved", Node::Bool(e.resolved)),
    ]
}

/// A record as its own resource shows it: with its run, integration and responses.
pub fn node(kind: RecordKind, e: &IntegrationError) -> Node {
    let mut entries = document(e);
    if kind == RecordKind::History {
        entries.push(("exported", Node::Bool(e.exported)));
    }
    let run = e
        .integration_run_id
        .map_or(Node::Null, |id| Node::Object(vec![("id", Node::Int(id))]));
    let integration = e.integration.as_ref().map_or(Node::Null, |i| {
        Node::Object(vec![
            ("id", Node::Int(i.id)),
            ("code", Node::text(&i.code)),
            ("name", Node::text(&i.name)),
        ])
    });
    entries.extend([
        ("integration-run", run),
        ("integration", integration),
        ("responses", responses(e)),
        ("created-by", actor(&e.created_by)),
        ("updated-by", actor(&e.updated_by)),
    ]);
    Node::Object(entries)
}

/// An error as a run embeds it.
pub fn embedded(e: &IntegrationError) -> Node {
    let mut entries = document(e);
    entries.extend([
        ("integration-run-id", Node::opt_int(e.integration_run_id)),
        ("created-by", actor(&e.created_by)),
        ("updated-by", actor(&e.updated_by)),
    ]);
    Node::Object(entries)
}

/// A record's responses, as a list.
pub fn responses(e: &IntegrationError) -> Node {
    Node::List("response", e.responses.iter().map(response).collect())
}

fn response(r: &Response) -> Node {
    Node::Object(vec![
        ("id", Node::Int(r.id)),
        ("created-at", Node::Time(r.created_at)),
        ("updated-at", Node::Time(r.updated_at)),
        ("response-code", Node::opt_text(&r.response_code)),
        ("response-message", Node::opt_text(&r.response_message)),
    ])
}
