//! `/api/integration_contacts` (spec §1.4): who an integration's alerts reach.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::format::Format;
use super::paging::Listing;
use super::reply::Reply;
use super::{Id, Write};
use crate::app::AppState;
use crate::auth::secrets;
use crate::domain::contacts::ContactFields;
use crate::egress;
use crate::error::{Error, Result};
use crate::query::Shape;
use crate::query::schema::CONTACTS;
use crate::view::contacts::{created, node};

const ROOT: &str = "integration-contact";

pub async fn index(State(app): State<AppState>, format: Format, listing: Listing) -> Result<Reply> {
    let query = listing.query(&CONTACTS)?;
    let page = app.store.contacts(&query).await?;
    let nodes = page.items.iter().map(node).collect();
    Ok(Reply::many(
        format,
        query.shape.clone(),
        "integration-contacts",
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
    let shape = Shape::parse(&CONTACTS, query.as_deref().unwrap_or_default())?.readable()?;
    let contact = app.store.contact(id).await?;
    Ok(Reply::one(
        StatusCode::OK,
        format,
        shape,
        ROOT,
        node(&contact),
    ))
}

/// Creates a contact. The answer is the only place its webhook secret is ever shown.
pub async fn create(State(app): State<AppState>, write: Write) -> Result<Reply> {
    let shape = write.shape(&CONTACTS)?;
    let fields = ContactFields::parse(write.body())?;
    check_webhook(&app, &fields)?;
    let secret = secrets::new_client_secret()?;
    let contact = app
        .store
        .create_contact(fields, secret, write.author.actor())
        .await?;
    Ok(Reply::one(
        StatusCode::CREATED,
        write.format,
        shape,
        ROOT,
        created(&contact),
    ))
}

pub async fn update(State(app): State<AppState>, Id(id): Id, write: Write) -> Result<Reply> {
    let shape = write.shape(&CONTACTS)?;
    let fields = ContactFields::parse(write.body())?;
    check_webhook(&app, &fields)?;
    let contact = app
        .store
        .update_contact(id, fields, write.author.actor())
        .await?;
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        shape,
        ROOT,
        node(&contact),
    ))
}

/// Refuses a webhook URL that points into the server's own network, as far as can be told
/// without resolving it; the dispatcher checks again, after resolution, before every send.
fn check_webhook(app: &AppState, fields: &ContactFields) -> Result<()> {
    match &fields.webhook_url {
        Some(Some(url)) => check_target(app, url, "Webhook url"),
        _ => Ok(()),
    }
}

/// Refuses a webhook target (`element`, as the message names it) that is not a web URL or
/// that points into the server's own network, as far as can be told without resolving it.
/// Contacts and event subscriptions alike: the dispatcher checks again before every send.
pub(super) fn check_target(app: &AppState, url: &str, element: &str) -> Result<()> {
    match egress::check_contact_url(url, app.allow_private_webhooks) {
        Ok(_) => Ok(()),
        Err(egress::Refusal::NotHttp) => Err(Error::invalid(format!(
            "{element} must be an http:// or https:// URL"
        ))),
        Err(refusal) => Err(Error::invalid(format!(
            "{element} is refused: {refusal}{}",
            refusal.hint()
        ))),
    }
}
