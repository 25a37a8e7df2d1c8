//! `/api/integration_runs` (spec §1.1, §1.2): the runs and their status actions.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::conditional::Conditions;
use super::format::Format;
use super::paging::Listing;
use super::reply::Reply;
use super::{Id, Write};
use crate::app::AppState;
use crate::domain::etag;
use crate::domain::runs::{Action, RunFields, RunView};
use crate::error::Result;
use crate::query::schema::{RUNS, TRANSITIONS};
use crate::query::{Query, Shape};
use crate::view::render::Node;
use crate::view::runs::{extended, node};
use crate::view::transitions;

const ROOT: &str = "integration-run";

pub async fn index(
    State(app): State<AppState>,
    format: Format,
    conditions: Conditions,
    listing: Listing,
) -> Result<Reply> {
    let query = listing.query(&RUNS)?;
    let page = app.store.runs(&query).await?;
    let nodes = page.items.iter().map(shown(&conditions)).collect();
    Ok(
        Reply::many(format, query.shape.clone(), "integration-runs", ROOT, nodes)
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
    let shape = Shape::parse(&RUNS, query.as_deref().unwrap_or_default())?.readable()?;
    let run = app.store.run(id).await?;
    let node = shown(&conditions)(&run);
    Ok(Reply::one(StatusCode::OK, format, shape, ROOT, node).cached(&etag::run(&run), &conditions))
}

pub async fn create(State(app): State<AppState>, write: Write) -> Result<Reply> {
    let shape = write.shape(&RUNS)?;
    let fields = RunFields::parse(write.body())?;
    let run = app.store.create_run(fields, write.author.actor()).await?;
    let node = shown(&write.conditions)(&run);
    Ok(
        Reply::one(StatusCode::CREATED, write.format, shape, ROOT, node)
            .tagged(&etag::run(&run), &write.conditions),
    )
}

/// `GET /api/integration_runs/:id/transitions`: the run's transition log, oldest first
/// unless the query orders it otherwise.
pub async fn transitions(
    State(app): State<AppState>,
    format: Format,
    Id(id): Id,
    listing: Listing,
) -> Result<Reply> {
    let mut query = listing.query(&TRANSITIONS)?;
    query.hold(&TRANSITIONS, "integration_run_id", id)?;
    log(app, format, Some(id), listing, query).await
}

/// `GET /api/integration_run_transitions`: the log of every run.
pub async fn all_transitions(
    State(app): State<AppState>,
    format: Format,
    listing: Listing,
) -> Result<Reply> {
    let query = listing.query(&TRANSITIONS)?;
    log(app, format, None, listing, query).await
}

async fn log(
    app: AppState,
    format: Format,
    run_id: Option<i64>,
    listing: Listing,
    query: Query,
) -> Result<Reply> {
    let page = app.store.transitions(run_id, &query).await?;
    let nodes = page.items.iter().map(transitions::node).collect();
    let (root, item) = ("integration-run-transitions", "integration-run-transition");
    Ok(Reply::many(format, query.shape.clone(), root, item, nodes)
        .with_headers(listing.headers(&query, &page)))
}

/// How runs are shown: as Coupa shows them, or with Runledger's extensions when asked.
fn shown(conditions: &Conditions) -> fn(&RunView) -> Node {
    if conditions.extended { extended } else { node }
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
    let expect = write.conditions.expect()?;
    let run = app
        .store
        .update_run(id, fields, action, expect, write.author.actor())
        .await?;
    let node = shown(&write.conditions)(&run);
    Ok(Reply::one(StatusCode::OK, write.format, shape, ROOT, node)
        .tagged(&etag::run(&run), &write.conditions))
}
