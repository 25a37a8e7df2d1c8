//! `/api/alert_deliveries`: the alert outbox, readable and queryable like any index.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::Id;
use super::format::Format;
use super::render::{Node, Reply};
use crate::app::AppState;
use crate::domain::alerts::Delivery;
use crate::error::Result;
use crate::query::schema::DELIVERIES;
use crate::query::{Query, Shape};

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

fn node(d: &Delivery) -> Node {
    Node::Object(vec![
        ("id", Node::Int(d.id)),
        ("created-at", Node::Time(d.created_at)),
        ("updated-at", Node::Time(d.updated_at)),
        (
            "integration-contact-id",
            Node::Int(d.integration_contact_id),
        ),
        ("integration-id", Node::opt_int(d.integration_id)),
        ("record-type", Node::text(&d.record_type)),
        ("record-id", Node::Int(d.record_id)),
        ("channel", Node::text(d.channel.as_str())),
        ("target", Node::text(&d.target)),
        ("status", Node::text(&d.status)),
        ("attempts", Node::Int(d.attempts)),
        ("next-attempt-at", Node::opt_time(d.next_attempt_at)),
        ("last-error", Node::opt_text(&d.last_error)),
        ("response-code", Node::opt_int(d.response_code)),
        ("delivered-at", Node::opt_time(d.delivered_at)),
    ])
}
