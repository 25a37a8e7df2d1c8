//! `/api/integrations` (spec §1.3).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::conditional::Conditions;
use super::format::Format;
use super::paging::Listing;
use super::reply::Reply;
use super::{Id, Write};
use crate::app::AppState;
use crate::domain::etag;
use crate::domain::integrations::IntegrationFields;
use crate::error::Result;
use crate::query::Shape;
use crate::query::schema::INTEGRATIONS;
use crate::view::integrations::node;

const ROOT: &str = "integration";

pub async fn index(State(app): State<AppState>, format: Format, listing: Listing) -> Result<Reply> {
    let query = listing.query(&INTEGRATIONS)?;
    let page = app.store.integrations(&query).await?;
    let nodes = page.items.iter().map(node).collect();
    Ok(
        Reply::many(format, query.shape.clone(), "integrations", ROOT, nodes)
            .with_headers(listing.headers(&query, &page)),
    )
}

pub async fn show(
    State(app): State<AppState>,
    format: Format,
    conditions: Conditions,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let shape = Shape::parse(&INTEGRATIONS, query.as_deref().unwrap_or_default())?.readable()?;
    let integration = app.store.integration(id).await?;
    Ok(
        Reply::one(StatusCode::OK, format, shape, ROOT, node(&integration))
            .cached(&etag::integration(&integration), &conditions),
    )
}

pub async fn create(State(app): State<AppState>, write: Write) -> Result<Reply> {
    let shape = write.shape(&INTEGRATIONS)?;
    let new = IntegrationFields::parse(write.body())?.into_new()?;
    let integration = app
        .store
        .create_integration(new, write.author.actor())
        .await?;
    Ok(Reply::one(
        StatusCode::CREATED,
        write.format,
        shape,
        ROOT,
        node(&integration),
    )
    .tagged(&etag::integration(&integration), &write.conditions))
}

pub async fn update(State(app): State<AppState>, Id(id): Id, write: Write) -> Result<Reply> {
    let shape = write.shape(&INTEGRATIONS)?;
    let fields = IntegrationFields::parse(write.body())?;
    let integration = app
        .store
        .update_integration(id, fields, write.conditions.expect()?, write.author.actor())
        .await?;
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        shape,
        ROOT,
        node(&integration),
    )
    .tagged(&etag::integration(&integration), &write.conditions))
}
