//! `/api/event_subscriptions`: webhooks that hear of the events of the stream a filter
//! matches, delivered through the outbox (`/api/alert_deliveries`).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::contacts::check_target;
use super::format::Format;
use super::paging::Listing;
use super::reply::Reply;
use super::{Id, Write};
use crate::app::AppState;
use crate::auth::secrets;
use crate::domain::subscriptions::SubscriptionFields;
use crate::error::{Error, Result};
use crate::query::schema::SUBSCRIPTIONS;
use crate::query::{Shape, stream_filter};
use crate::view::subscriptions::{created, node};

const ROOT: &str = "event-subscription";

pub async fn index(State(app): State<AppState>, format: Format, listing: Listing) -> Result<Reply> {
    let query = listing.query(&SUBSCRIPTIONS)?;
    let page = app.store.subscriptions(&query).await?;
    let nodes = page.items.iter().map(node).collect();
    Ok(Reply::many(
        format,
        query.shape.clone(),
        "event-subscriptions",
        ROOT,
        nodes,
    )
    .with_headers(listing.headers(&query, &page)))
}

pub async fn show(
    State(app): State<AppState>,
    format: Format,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let shape = Shape::parse(&SUBSCRIPTIONS, query.as_deref().unwrap_or_default())?.readable()?;
    let subscription = app.store.subscription(id).await?;
    Ok(Reply::one(
        StatusCode::OK,
        format,
        shape,
        ROOT,
        node(&subscription),
    ))
}

/// Creates a subscription. The answer is the only place its signing key is ever shown.
pub async fn create(State(app): State<AppState>, write: Write) -> Result<Reply> {
    let shape = write.shape(&SUBSCRIPTIONS)?;
    let fields = fields(&write)?;
    check_url(&app, &fields)?;
    let secret = secrets::new_client_secret()?;
    let subscription = app
        .store
        .create_subscription(fields, secret, write.author.actor())
        .await?;
    Ok(Reply::one(
        StatusCode::CREATED,
        write.format,
        shape,
        ROOT,
        created(&subscription),
    ))
}

pub async fn update(State(app): State<AppState>, Id(id): Id, write: Write) -> Result<Reply> {
    let shape = write.shape(&SUBSCRIPTIONS)?;
    let fields = fields(&write)?;
    check_url(&app, &fields)?;
    let subscription = app
        .store
        .update_subscription(id, fields, write.author.actor())
        .await?;
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        shape,
        ROOT,
        node(&subscription),
    ))
}

/// Reads a body, its filter checked as the event stream checks its query string.
fn fields(write: &Write) -> Result<SubscriptionFields> {
    let fields = SubscriptionFields::parse(write.body())?;
    if let Some(Some(filter)) = &fields.filter {
        stream_filter(filter).map_err(|error| match error {
            Error::Invalid(messages) => Error::Invalid(
                messages
                    .into_iter()
                    .map(|m| format!("Filter: {m}"))
                    .collect(),
            ),
            other => other,
        })?;
    }
    Ok(fields)
}

/// Refuses a URL into the server's own network, as a contact's webhook is refused.
fn check_url(app: &AppState, fields: &SubscriptionFields) -> Result<()> {
    match &fields.url {
        Some(Some(url)) => check_target(app, url, "Url"),
        _ => Ok(()),
    }
}
