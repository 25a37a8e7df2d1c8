//! `/api/alert_deliveries`: the alert outbox, readable and queryable like any index.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::Id;
use super::format::Format;
use super::paging::Listing;
use super::reply::Reply;
use crate::app::AppState;
use crate::error::Result;
use crate::query::Shape;
use crate::query::schema::DELIVERIES;
use crate::view::deliveries::node;

const ROOT: &str = "alert-delivery";

pub async fn index(State(app): State<AppState>, format: Format, listing: Listing) -> Result<Reply> {
    let query = listing.query(&DELIVERIES)?;
    let page = app.store.deliveries(&query).await?;
    let nodes = page.items.iter().map(node).collect();
    Ok(
        Reply::many(format, query.shape.clone(), "alert-deliveries", ROOT, nodes)
            .with_headers(listing.headers(&query, &page)),
    )
}

pub async fn show(
    State(app): State<AppState>,
    format: Format,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let shape = Shape::parse(&DELIVERIES, query.as_deref().unwrap_or_default())?.readable()?;
    let delivery = app.store.delivery(id).await?;
    Ok(Reply::one(
        StatusCode::OK,
        format,
        shape,
        ROOT,
        node(&delivery),
    ))
}
