//! `/api/integration_runs` (spec §1.1, §1.2): the runs and their status actions.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;

use super::conditional::Conditions;
use super::format::Format;
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
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let query = Query::parse(&RUNS, query.as_deref().unwrap_or_default())?;
    let runs = app.store.runs(&query).await?;
    let show = shown(&conditions);
    Ok(Reply::many(
        format,
        query.shape,
        "integration-runs",
        ROOT,
        runs.iter().map(show).collect(),
    ))
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
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let mut listing = Query::parse(&TRANSITIONS, query.as_deref().unwrap_or_default())?;
    listing.hold(&TRANSITIONS, "integration_run_id", id)?;
    log(app, format, Some(id), listing).await
}

/// `GET /api/integration_run_transitions`: the log of every run.
pub async fn all_transitions(
    State(app): State<AppState>,
    format: Format,
    RawQuery(query): RawQuery,
) -> Result<Reply> {
    let listing = Query::parse(&TRANSITIONS, query.as_deref().unwrap_or_default())?;
    log(app, format, None, listing).await
}

async fn log(app: AppState, format: Format, run_id: Option<i64>, listing: Query) -> Result<Reply> {
    let entries = app.store.transitions(run_id, &listing).await?;
    Ok(Reply::many(
        format,
        listing.shape,
        "integration-run-transitions",
        "integration-run-transition",
        entries.iter().map(transitions::node).collect(),
    ))
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
