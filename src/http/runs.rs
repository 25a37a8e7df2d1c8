//! `/api/integration_runs` (spec §1.1, §1.2): the runs and their status actions.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::format::Format;
use super::paging::Listing;
use super::reply::Reply;
use super::{Id, Write};
use crate::app::AppState;
use crate::domain::runs::{Action, RunFields};
use crate::error::Result;
use crate::query::Shape;
use crate::query::schema::RUNS;
use crate::view::runs::node;

const ROOT: &str = "integration-run";

pub async fn index(State(app): State<AppState>, format: Format, listing: Listing) -> Result<Reply> {
    let query = listing.query(&RUNS)?;
    let page = app.store.runs(&query).await?;
    let nodes = page.items.iter().map(node).collect();
    Ok(
        Reply::many(format, query.shape.clone(), "integration-runs", ROOT, nodes)
            .with_headers(listing.headers(&query, &page)),
    )
}

pub async fn show(
    State(app): State<AppState>,
    format: Format,
    Id(id): Id,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let shape = Shape::parse(&RUNS, query.as_deref().unwrap_or_default())?.readable()?;
    let run = app.store.run(id).await?;
    Ok(Reply::one(StatusCode::OK, format, shape, ROOT, node(&run)))
}

pub async fn create(State(app): State<AppState>, write: Write) -> Result<Reply> {
    let shape = write.shape(&RUNS)?;
    let fields = RunFields::parse(write.body())?;
    let run = app.store.create_run(fields, write.author.actor()).await?;
    Ok(Reply::one(
        StatusCode::CREATED,
        write.format,
        shape,
        ROOT,
        node(&run),
    ))
}

pub async fn update(app: State<AppState>, id: Id, write: Write) -> Result<Reply> {
    act(None, app, id, write).await
}

pub async fn run(app: State<AppState>, id: Id, write: Write) -> Result<Reply> {
    act(Some(Action::Run), app, id, write).await
}

pub async fn pending(app: State<AppState>, id: Id, write: Write) -> Result<Reply> {
    act(Some(Action::Pending), app, id, write).await
}

pub async fn pause(app: State<AppState>, id: Id, write: Write) -> Result<Reply> {
    act(Some(Action::Pause), app, id, write).await
}

pub async fn success(app: State<AppState>, id: Id, write: Write) -> Result<Reply> {
    act(Some(Action::Success), app, id, write).await
}

pub async fn fail(app: State<AppState>, id: Id, write: Write) -> Result<Reply> {
    act(Some(Action::Fail), app, id, write).await
}

pub async fn finish(app: State<AppState>, id: Id, write: Write) -> Result<Reply> {
    act(Some(Action::Finish), app, id, write).await
}

/// An update, with or without a status action: the body is applied in the same transaction.
async fn act(
    action: Option<Action>,
    State(app): State<AppState>,
    Id(id): Id,
    write: Write,
) -> Result<Reply> {
    let shape = write.shape(&RUNS)?;
    let fields = RunFields::parse(write.body())?;
    let run = app
        .store
        .update_run(id, fields, action, write.author.actor())
        .await?;
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        shape,
        ROOT,
        node(&run),
    ))
}
