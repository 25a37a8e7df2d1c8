//! Integration runs: created pending, moved through their statuses by the domain's rules,
//! listed with their errors.

use std::collections::HashMap;

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, query};
use super::paging::page_rows;
use super::{RunStore, integrations, monitors, rows, sql, transitions};
use crate::domain::Actor;
use crate::domain::etag::{self, IfMatch};
use crate::domain::runs::{Action, Run, RunFields, RunView};
use crate::domain::transitions::{Cause, Entry};
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::cursor::Page;
use crate::time::{self, Timestamp};

#[async_trait]
impl<B: Backend> RunStore for SqlStore<B> {
    async fn create_run(&self, fields: RunFields, actor: Option<&Actor>) -> Result<RunView> {
        // Refused before it queues for the writer, which runs one write at a time.
        let reference = fields.integration_for_create()?.clone();
        let now = time::now();
        let actor = actor.cloned();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let integration = integrations::find(tx, &reference).await?;
                    let mut run = Run::pending(integration.id, now, actor.as_ref());
                    if let Some(Some(retried)) = fields.retry_of {
                        run.retrying(&retried_run(tx, retried).await?)?;
                    }
                    run.apply(&fields, None, now)?;
                    run.version = 0;
                    run.id = insert(tx, &run, now, Cause::Create).await?;
                    monitors::touch(tx, run.integration_id, now).await?;
                    Ok(RunView {
                        run,
                        integration,
                        integration_errors: Vec::new(),
                    })
                })
            })
            .await
    }

    async fn update_run(
        &self,
        id: i64,
        fields: RunFields,
        action: Option<Action>,
        expect: Option<&IfMatch>,
        actor: Option<&Actor>,
    ) -> Result<RunView> {
        // A write that changes nothing (a retried action, a body equal to what is stored)
        // writes nothing: the write decides it, on the run as it is then, and runs no UPDATE.
        // Deciding it first on a reader would spare such a write its turn at SQLite's writer,
        // but costs every write that does change something a read more: measured, a quarter
        // of the lifecycle rate (docs/benchmarks.md).
        let actor = actor.cloned();
        let expect = expect.cloned();
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    let now = time::now();
                    // The monitor first, then the run: the order a look locks them in.
                    monitors::touch_of_run(tx, id, now).await?;
                    let (read, mut view, changed) =
                        updated(tx, id, &fields, action, expect.as_ref(), now).await?;
                    if changed {
                        view.run.updated_by = actor;
                        write(tx, &read, &view.run, Cause::of(action)).await?;
                        if read.integration_id != view.run.integration_id {
                            monitors::touch(tx, view.run.integration_id, now).await?;
                        }
                    }
                    Ok(view)
                })
            })
            .await
    }

    async fn run(&self, id: i64) -> Result<RunView> {
        self.db
            .read(move |conn| Box::pin(fetch(conn, id, false)))
            .await
    }

    async fn runs(&self, query: &Query) -> Result<Page<RunView>> {
        let page = query.clone();
        self.read_page(query, move |conn| {
            Box::pin(async move {
                let rows = page_rows(conn, "integration_runs", sql::SELECT_RUNS, &page).await?;
                let mut runs = rows.try_map(rows::run)?;
                attach_errors(conn, &mut runs.items).await?;
                Ok(runs)
            })
        })
        .await
    }

    async fn transitions(&self, run_id: Option<i64>, listing: &Query) -> Result<Page<Entry>> {
        let page = listing.clone();
        self.read_page(listing, move |conn| {
            Box::pin(async move {
                if let Some(id) = run_id {
                    // 404 for an unknown run, rather than an empty log.
                    query(sql::RUN_INTEGRATION)
                        .bind(id)
                        .scalar_optional::<i64>(conn)
                        .await?
                        .ok_or_else(|| not_found(id))?;
                }
                transitions::page(conn, &page).await
            })
        })
        .await
    }
}

fn not_found(id: i64) -> Error {
    Error::NotFound(format!("Couldn't find IntegrationRun with 'id'={id}"))
}

/// Inserts a new run made at `now` by its `created_by`, with its entry in the transition
/// log; its id.
pub(super) async fn insert(
    conn: &mut impl Executor,
    run: &Run,
    now: Timestamp,
    cause: Cause,
) -> Result<i64> {
    let id = query(sql::INSERT_RUN)
        .bind(run.integration_id)
        .bind(run.status.as_str())
        .bind(run.start_time)
        .bind(run.end_time)
        .bind(run.total_records)
        .bind(run.records_processed)
        .bind(run.flow.as_ref())
        .bind(now)
        .bind(run.created_by.as_ref().map(|a| a.id))
        .bind(run.retry_of)
        .bind(run.attempt)
        .scalar(conn)
        .await?;
    let created = Run { id, ..run.clone() };
    transitions::log_write(conn, None, &created, cause, now).await?;
    Ok(id)
}

/// The run a new run retries; a 400 when there is none.
async fn retried_run(conn: &mut impl Executor, id: i64) -> Result<Run> {
    match fetch(conn, id, false).await {
        Ok(view) => Ok(view.run),
        Err(Error::NotFound(_)) => Err(Error::invalid(format!(
            "Retry of names integration run {id}, which does not exist"
        ))),
        Err(other) => Err(other),
    }
}

/// The run with its errors, locked for the write that read it when `lock` is set.
pub(super) async fn fetch<C: Executor>(conn: &mut C, id: i64, lock: bool) -> Result<RunView> {
    let sql = format!(
        "{} WHERE t0.id = $1{}",
        sql::SELECT_RUNS,
        if lock { C::ROW_LOCK } else { "" }
    );
    let row = query(&sql).bind(id).fetch_optional(conn).await?;
    let row = row.ok_or_else(|| not_found(id))?;
    let mut runs = vec![rows::run(&row)?];
    attach_errors(conn, &mut runs).await?;
    Ok(runs.remove(0))
}

/// A run as a write would leave it, as of `now`: the run as read, the run as the write
/// leaves it (with its integration), and whether the two differ. A refusal is an error.
/// With `expect`, the run as read must have one of the versions it names (412).
pub(super) async fn updated(
    conn: &mut impl Executor,
    id: i64,
    fields: &RunFields,
    action: Option<Action>,
    expect: Option<&IfMatch>,
    now: Timestamp,
) -> Result<(Run, RunView, bool)> {
    let mut view = fetch(conn, id, true).await?;
    if let Some(expect) = expect {
        expect.check(&etag::run(&view))?;
    }
    let moved_to = match &fields.integration {
        Some(reference) => Some(integrations::find(conn, reference).await?),
        None => None,
    };
    // The run was read with all of its errors: all that `finish` looks at.
    let read = view.run.clone();
    let changed = view.apply(fields, action, moved_to, now)?;
    Ok((read, view, changed))
}

/// Writes the columns of `run` that differ from `read`, if its status is still the one read,
/// and logs the change as caused by `cause`.
pub(super) async fn write(
    conn: &mut impl Executor,
    read: &Run,
    run: &Run,
    cause: Cause,
) -> Result<()> {
    let changed = [
        run.integration_id != read.integration_id,
        run.status != read.status,
        run.start_time != read.start_time,
        run.end_time != read.end_time,
        run.total_records != read.total_records,
        run.records_processed != read.records_processed,
        run.flow != read.flow,
    ];
    let sql = sql::update_run(changed);
    let mut update = query(&sql).bind(run.id).bind(read.status.as_str());
    if changed[0] {
        update = update.bind(run.integration_id);
    }
    if changed[1] {
        update = update.bind(run.status.as_str());
    }
    if changed[2] {
        update = update.bind(run.start_time);
    }
    if changed[3] {
        update = update.bind(run.end_time);
    }
    if changed[4] {
        update = update.bind(run.total_records);
    }
    if changed[5] {
        update = update.bind(run.records_processed);
    }
    if changed[6] {
        update = update.bind(run.flow.as_ref());
    }
    let written = update
        .bind(run.updated_at)
        .bind(run.updated_by.as_ref().map(|a| a.id))
        .execute(conn)
        .await?;
    if written != 1 {
        return Err(Error::Conflict(format!(
            "Integration run {} changed while it was being updated; retry the request",
            run.id
        )));
    }
    transitions::log_write(conn, Some(read), run, cause, run.updated_at).await
}

/// Loads the errors of every run in one query.
pub(super) async fn attach_errors(conn: &mut impl Executor, runs: &mut [RunView]) -> Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let sql = sql::errors_of_runs(runs.len());
    let rows = query(&sql)
        .bind_all(runs.iter().map(|view| view.run.id))
        .fetch_all(conn)
        .await?;
    let index: HashMap<i64, usize> = runs
        .iter()
        .enumerate()
        .map(|(i, v)| (v.run.id, i))
        .collect();
    for row in &rows {
        let error = rows::record(row)?;
        if let Some(&i) = error
            .integration_run_id
            .as_ref()
            .and_then(|id| index.get(id))
        {
            runs[i].integration_errors.push(error);
        }
    }
    Ok(())
}
