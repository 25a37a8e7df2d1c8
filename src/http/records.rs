//! `/api/integration_errors` and `/api/integration_history_records` (spec §1.4): one set of
//! handlers, instantiated for each kind of record.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;

use super::conditional::{Conditions, extended};
use super::format::Format;
use super::paging::Listing;
use super::reply::Reply;
use super::{Id, Write};
use crate::app::AppState;
use crate::domain::etag;
use crate::domain::records::{DocumentTypes, RecordFields, RecordKind};
use crate::error::Result;
use crate::query::Shape;
use crate::query::schema::{ERRORS, HISTORY, Resource};
use crate::store::Effects;
use crate::view::records::node;

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

/// The document types a write may name: Coupa's, and Runledger's own as well when the
/// request carries `X-Runledger-Extensions: 1`, so that a Coupa client sees Coupa's check.
pub struct Allowed(pub DocumentTypes);

impl<S: Send + Sync> FromRequestParts<S> for Allowed {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Allowed(if extended(&parts.headers) {
            DocumentTypes::Extended
        } else {
            DocumentTypes::Coupa
        }))
    }
}

pub async fn index<K: Kind>(
    State(app): State<AppState>,
    format: Format,
    listing: Listing,
) -> Result<Reply> {
    let query = listing.query(K::RESOURCE)?;
    let page = app.store.records(K::KIND, &query).await?;
    let nodes = page.items.iter().map(|r| node(K::KIND, r)).collect();
    Ok(
        Reply::many(format, query.shape.clone(), K::COLLECTION, K::ROOT, nodes)
            .with_headers(listing.headers(&query, &page)),
    )
}

pub async fn show<K: Kind>(
    State(app): State<AppState>,
    format: Format,
    conditions: Conditions,
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
    )
    .cached(&etag::record(&record), &conditions))
}

/// `POST`: files a record.
pub async fn create<K: Kind>(
    app: State<AppState>,
    allowed: Allowed,
    write: Write,
) -> Result<Reply> {
    file::<K>(app, allowed, write, Effects::default()).await
}

/// `POST …/create_alert`: files a record and alerts the integration's contacts.
pub async fn create_alert<K: Kind>(
    app: State<AppState>,
    allowed: Allowed,
    write: Write,
) -> Result<Reply> {
    file::<K>(
        app,
        allowed,
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
    allowed: Allowed,
    write: Write,
) -> Result<Reply> {
    file::<K>(
        app,
        allowed,
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
pub async fn mark_exported<K: Kind>(
    app: State<AppState>,
    allowed: Allowed,
    write: Write,
) -> Result<Reply> {
    file::<K>(
        app,
        allowed,
        write,
        Effects {
            exported: true,
            ..Effects::default()
        },
    )
    .await
}

/// `POST …/acknowledge`: files a record and resolves the open ones of its document.
pub async fn acknowledge<K: Kind>(
    app: State<AppState>,
    allowed: Allowed,
    write: Write,
) -> Result<Reply> {
    file::<K>(
        app,
        allowed,
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
    Allowed(allowed): Allowed,
    write: Write,
    effects: Effects,
) -> Result<Reply> {
    let shape = write.shape(K::RESOURCE)?;
    let fields = RecordFields::parse(write.body(), allowed)?;
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
    )
    .tagged(&etag::record(&record), &write.conditions))
}

pub async fn update<K: Kind>(
    State(app): State<AppState>,
    Id(id): Id,
    Allowed(allowed): Allowed,
    write: Write,
) -> Result<Reply> {
    let shape = write.shape(K::RESOURCE)?;
    let fields = RecordFields::parse(write.body(), allowed)?;
    fields.require_for_update(K::KIND)?;
    let record = app
        .store
        .update_record(
            K::KIND,
            id,
            fields,
            write.conditions.expect()?,
            write.author.actor(),
        )
        .await?;
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        shape,
        K::ROOT,
        node(K::KIND, &record),
    )
    .tagged(&etag::record(&record), &write.conditions))
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
        .resolve_record(
            K::KIND,
            id,
            resolved,
            write.conditions.expect()?,
            write.author.actor(),
        )
        .await?;
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        shape,
        K::ROOT,
        node(K::KIND, &record),
    )
    .tagged(&etag::record(&record), &write.conditions))
}
