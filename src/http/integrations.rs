//! `/api/integrations` (spec §1.3).

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::format::Format;
use super::render::{Node, Reply};
use super::{Id, Write};
use crate::app::AppState;
use crate::domain::Actor;
use crate::domain::integrations::{Integration, IntegrationFields};
use crate::error::Result;
use crate::query::schema::INTEGRATIONS;
use crate::query::{Query, Shape};

const ROOT: &str = "integration";

pub async fn index(
    State(app): State<AppState>,
    format: Format,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let query = Query::parse(&INTEGRATIONS, query.as_deref().unwrap_or_default())?;
    let integrations = app.store.integrations(&query).await?;
    Ok(Reply::many(
        format,
        query.shape,
        "integrations",
        ROOT,
        integrations.iter().map(node).collect(),
    ))
}

pub async fn show(
    State(app): State<AppState>,
    format: Format,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let shape = Shape::parse(&INTEGRATIONS, query.as_deref().unwrap_or_default())?.readable()?;
    let integration = app.store.integration(id).await?;
    Ok(Reply::one(
        StatusCode::OK,
        format,
        shape,
        ROOT,
        node(&integration),
    ))
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
    ))
}

pub async fn update(State(app): State<AppState>, Id(id): Id, write: Write) -> Result<Reply> {
    let shape = write.shape(&INTEGRATIONS)?;
    let fields = IntegrationFields::parse(write.body())?;
    let integration = app
        .store
        .update_integration(id, fields, write.author.actor())
        .await?;
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        shape,
        ROOT,
        node(&integration),
    ))
}

/// An integration with every element.
pub fn node(i: &Integration) -> Node {
    let mut node = embedded(i);
    if let Node::Object(entries) = &mut node {
        entries.push(("created-by", actor(&i.created_by)));
        entries.push(("updated-by", actor(&i.updated_by)));
    }
    node
}

/// An integration as a run embeds it: without its own authors.
pub fn embedded(i: &Integration) -> Node {
    Node::Object(vec![
        ("id", Node::Int(i.id)),
        ("created-at", Node::Time(i.created_at)),
        ("updated-at", Node::Time(i.updated_at)),
        ("code", Node::text(&i.code)),
        ("name", Node::text(&i.name)),
        ("business-object", Node::text(&i.business_object)),
        ("direction", Node::text(&i.direction)),
        ("end-system", Node::text(&i.end_system)),
        ("end-system-type", Node::text(&i.end_system_type)),
        ("integration-type", Node::opt_text(&i.integration_type)),
        ("standard", Node::Bool(i.standard)),
    ])
}

/// `created-by` / `updated-by`: `{"id": …, "login": …}` or null.
pub fn actor(actor: &Option<Actor>) -> Node {
    match actor {
        Some(a) => Node::Object(vec![
            ("id", Node::Int(a.id)),
            ("login", Node::text(&a.login)),
        ]),
        None => Node::Null,
    }
}
