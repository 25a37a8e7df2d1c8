//! Bulk actions (ours): `POST /api/integration_runs/bulk/{fail,pause}` and
//! `POST /api/integration_errors/bulk/{resolve,unresolve}`, on every record the query string
//! selects (Coupa's query language, at least one condition), with `dry_run=true` to see what
//! would change first.

use axum::extract::State;
use axum::http::StatusCode;

use super::Write;
use super::reply::Reply;
use crate::app::AppState;
use crate::domain::records::RecordKind;
use crate::domain::runs::Action;
use crate::error::{Error, Result};
use crate::query::Shape;
use crate::query::bulk::{Selection, selection};
use crate::query::schema::{ERRORS, RUNS, Resource};
use crate::view::render::shape;
use crate::view::{bulk, records, runs};

const ROOT: &str = "bulk-action";

pub async fn fail(app: State<AppState>, write: Write) -> Result<Reply> {
    act(Action::Fail, "fail", app, write).await
}

pub async fn pause(app: State<AppState>, write: Write) -> Result<Reply> {
    act(Action::Pause, "pause", app, write).await
}

pub async fn resolve(app: State<AppState>, write: Write) -> Result<Reply> {
    set_resolved(true, "resolve", app, write).await
}

pub async fn unresolve(app: State<AppState>, write: Write) -> Result<Reply> {
    set_resolved(false, "unresolve", app, write).await
}

/// A status action on every run selected.
async fn act(
    action: Action,
    name: &str,
    State(app): State<AppState>,
    write: Write,
) -> Result<Reply> {
    let Selection { query, dry_run } = admit(&write, &RUNS)?;
    let outcome = app
        .store
        .bulk_runs(action, &query, dry_run, write.author.actor())
        .await?;
    let show = if write.conditions.extended {
        runs::extended
    } else {
        runs::node
    };
    let items = ("integration-runs", "integration-run");
    let node = bulk::node(name, dry_run, &outcome, items, |run| {
        shape(show(run), &query.shape)
    });
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        Shape::default(),
        ROOT,
        node,
    ))
}

/// `resolve` or `unresolve` on every integration error selected.
async fn set_resolved(
    resolved: bool,
    name: &str,
    State(app): State<AppState>,
    write: Write,
) -> Result<Reply> {
    let Selection { query, dry_run } = admit(&write, &ERRORS)?;
    let outcome = app
        .store
        .bulk_resolve(resolved, &query, dry_run, write.author.actor())
        .await?;
    let items = ("integration-errors", "integration-error");
    let node = bulk::node(name, dry_run, &outcome, items, |record| {
        shape(records::node(RecordKind::Error, record), &query.shape)
    });
    Ok(Reply::one(
        StatusCode::OK,
        write.format,
        Shape::default(),
        ROOT,
        node,
    ))
}

/// The selection of a bulk request. The query string says everything: a body is refused
/// rather than ignored (a `{"dry-run": true}` there must never run the real action), and so
/// is `If-Match`, which cannot name the versions of many records. A strict client, whose
/// every write must name the version it changes, may look (a dry run) but not act.
fn admit(write: &Write, resource: &'static Resource) -> Result<Selection> {
    if !write.body.is_empty() {
        return Err(Error::invalid(
            "A bulk action takes no body: the query string selects its records \
             (and dry_run=true makes it a dry run)",
        ));
    }
    if write.conditions.if_match.is_some() {
        return Err(Error::invalid(
            "A bulk action takes no If-Match: it changes many records, each by the rules \
             of the single action",
        ));
    }
    let selection = selection(resource, &write.query)?;
    if write.conditions.strict && !selection.dry_run {
        return Err(Error::PreconditionRequired(
            "This client must send If-Match with every write, which a bulk action cannot \
             carry: use a client without --require-if-match (a dry run is allowed)"
                .into(),
        ));
    }
    Ok(selection)
}
