//! `/api/alert_deliveries`: the alert outbox, readable and queryable like any index.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::Id;
use super::format::Format;
use super::reply::Reply;
use crate::app::AppState;
use crate::error::Result;
use crate::query::schema::DELIVERIES;
use crate::query::{Query, Shape};
use crate::view::deliveries::node;

const ROOT: &str = "alert-delivery";

pub async fn index(
    State(app): State<AppState>,
    format: Format,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let query = Query::parse(&DELIVERIES, query.as_deref().unwrap_or_default())?;
    let deliveries = app.store.deliveries(&query).await?;
    Ok(Reply::many(
        format,
        query.shape,
        "alert-deliveries",
        ROOT,
        deliveries.iter().map(node).collect(),
    ))
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
