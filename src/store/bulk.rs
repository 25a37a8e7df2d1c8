//! Bulk actions: a status action on every run a query selects, or `resolve`/`unresolve` on
//! every integration error, in one transaction, each record through the single action's
//! rule (`domain::bulk`).
//!
//! A dry run is the same function on a reader with `write` off: it reads what the action
//! would read and decides what it would decide, so its answer is what the action then does
//! when nothing else writes in between. It takes no lock and no turn at SQLite's writer.

use std::collections::BTreeMap;

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, Row, query};
use super::paging::param;
use super::sql::{self, placeholders};
use super::{BulkStore, monitors, records, rows, runs, transitions};
use crate::domain::Actor;
use crate::domain::bulk::{self, MAX_BULK, Outcome, Skip};
use crate::domain::records::{Record, RecordKind};
use crate::domain::runs::{Action, RunView};
use crate::domain::transitions::{Cause, Entry};
use crate::error::{Error, Result};
use crate::query::sql::{Sql, conditions};
use crate::query::{Bind, Query};
use crate::time::{self, Timestamp};

#[async_trait]
impl<B: Backend> BulkStore for SqlStore<B> {
    async fn bulk_runs(
        &self,
        action: Action,
        selection: &Query,
        dry_run: bool,
        actor: Option<&Actor>,
    ) -> Result<Outcome<RunView>> {
        let (selection, actor) = (selection.clone(), actor.cloned());
        if dry_run {
            self.db
                .read(move |conn| {
                    Box::pin(async move {
                        act_on_runs(conn, action, &selection, false, time::now(), actor).await
                    })
                })
                .await
        } else {
            self.db
                .write(move |tx| {
                    Box::pin(async move {
                        act_on_runs(tx, action, &selection, true, time::now(), actor).await
                    })
                })
                .await
        }
    }

    async fn bulk_resolve(
        &self,
        resolved: bool,
        selection: &Query,
        dry_run: bool,
        actor: Option<&Actor>,
    ) -> Result<Outcome<Record>> {
        let (selection, actor) = (selection.clone(), actor.cloned());
        if dry_run {
            self.db
                .read(move |conn| {
                    Box::pin(async move {
                        resolve_errors(conn, resolved, &selection, false, time::now(), actor).await
                    })
                })
                .await
        } else {
            self.db
                .write(move |tx| {
                    Box::pin(async move {
                        resolve_errors(tx, resolved, &selection, true, time::now(), actor).await
                    })
                })
                .await
        }
    }
}

/// `action` on the runs `selection` matches; written only when `write` is set.
async fn act_on_runs<C: Executor>(
    conn: &mut C,
    action: Action,
    selection: &Query,
    write: bool,
    now: Timestamp,
    actor: Option<Actor>,
) -> Result<Outcome<RunView>> {
    let ids = matching(conn, "integration_runs", "integration runs", selection).await?;
    if ids.is_empty() {
        return Ok(Outcome::default());
    }
    if write {
        // The monitors first, by integration, then the runs by id: a single write and a look
        // lock a monitor before its runs, and every bulk action locks in one order, so that
        // none of them waits for another in a circle.
        let text = format!(
            "SELECT DISTINCT integration_id FROM integration_runs WHERE id IN ({}) \
             ORDER BY integration_id",
            placeholders(0, ids.len())
        );
        let integrations: Vec<i64> = query(&text)
            .bind_all(ids.iter().copied())
            .scalars(conn)
            .await?;
        for integration in integrations {
            monitors::touch(conn, integration, now).await?;
        }
    }
    let rows = still_matching(conn, sql::SELECT_RUNS, &ids, selection, write).await?;
    let mut views = rows.iter().map(rows::run).collect::<Result<Vec<_>>>()?;
    // With all of their errors: what `finish` would look at.
    runs::attach_errors(conn, &mut views).await?;
    let mut outcome = Outcome {
        matched: views.len(),
        ..Outcome::default()
    };
    for mut view in views {
        let read = view.run.clone();
        if let Some(reason) = bulk::act_on_run(&mut view, action, now)? {
            outcome.skipped.push(Skip {
                id: read.id,
                reason,
            });
            continue;
        }
        view.run.updated_by = actor.clone();
        if write {
            runs::write(conn, &read, &view.run, Cause::Bulk).await?;
        }
        outcome.changed.push(view);
    }
    Ok(outcome)
}

/// `resolve` (`resolved`) or `unresolve` on the integration errors `selection` matches;
/// written, each changed error's run with its entry in the log, only when `write` is set.
async fn resolve_errors<C: Executor>(
    conn: &mut C,
    resolved: bool,
    selection: &Query,
    write: bool,
    now: Timestamp,
    actor: Option<Actor>,
) -> Result<Outcome<Record>> {
    let kind = RecordKind::Error;
    let ids = matching(conn, kind.table(), "integration errors", selection).await?;
    if ids.is_empty() {
        return Ok(Outcome::default());
    }
    let select = sql::select_records(kind.table());
    let rows = still_matching(conn, &select, &ids, selection, write).await?;
    let mut found = rows.iter().map(rows::record).collect::<Result<Vec<_>>>()?;
    records::attach_responses(conn, kind, &mut found).await?;
    let mut outcome = Outcome {
        matched: found.len(),
        ..Outcome::default()
    };
    // The errors each run saw change, in id order.
    let mut of_run: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for mut record in found {
        if let Some(reason) = bulk::resolve_record(&mut record, kind, resolved, now, actor.as_ref())
        {
            outcome.skipped.push(Skip {
                id: record.id,
                reason,
            });
            continue;
        }
        if write {
            let written = query(&sql::resolve_record(kind.table()))
                .bind(record.id)
                .bind(resolved)
                .bind(now)
                .bind(actor.as_ref().map(|a| a.id))
                .execute(conn)
                .await?;
            if written != 1 {
                return Err(Error::Conflict(format!(
                    "Integration error {} changed while it was being resolved; retry the request",
                    record.id
                )));
            }
            records::changed_error(conn, kind, &record, now).await?;
        }
        if let Some(run) = record.integration_run_id {
            of_run.entry(run).or_default().push(record.id);
        }
        outcome.changed.push(record);
    }
    if write && !of_run.is_empty() {
        // After their errors, in id order, locked: each entry says the status its run has.
        let run_ids: Vec<i64> = of_run.keys().copied().collect();
        let text = format!(
            "{} WHERE t0.id IN ({}) ORDER BY t0.id{}",
            sql::SELECT_RUNS,
            placeholders(0, run_ids.len()),
            C::ROW_LOCK
        );
        let rows = query(&text)
            .bind_all(run_ids.iter().copied())
            .fetch_all(conn)
            .await?;
        for row in &rows {
            let run = rows::run(row)?.run;
            let errors = of_run.get(&run.id).map_or(&[][..], Vec::as_slice);
            let entry = Entry::of_errors(&run, errors, resolved, now, actor.clone());
            transitions::log(conn, &entry).await?;
        }
    }
    Ok(outcome)
}

/// The ids of the rows of `table` that `selection` matches, in id order; a query that
/// matches more than [`MAX_BULK`] is refused, naming how many it matches (`noun`).
async fn matching(
    conn: &mut impl Executor,
    table: &str,
    noun: &str,
    selection: &Query,
) -> Result<Vec<i64>> {
    let mut sql = Sql::default();
    let filter = conditions(&mut sql, selection);
    // One more than the cap tells whether it is passed, without counting every match.
    let limit = sql.bind(Bind::Int(MAX_BULK as i64 + 1));
    let text = format!("SELECT t0.id FROM {table} t0 WHERE {filter} ORDER BY t0.id LIMIT {limit}");
    let ids: Vec<i64> = query(&text)
        .bind_all(sql.binds.iter().map(param))
        .scalars(conn)
        .await?;
    if ids.len() <= MAX_BULK {
        return Ok(ids);
    }
    let mut sql = Sql::default();
    let filter = conditions(&mut sql, selection);
    let count: i64 = query(&format!("SELECT count(*) FROM {table} t0 WHERE {filter}"))
        .bind_all(sql.binds.iter().map(param))
        .scalar(conn)
        .await?;
    Err(bulk::too_many(count, noun))
}

/// The rows of `select` (which aliases its table `t0`) among `ids` that `selection` still
/// matches, in id order; locked for the write, in that order, when `lock` is set. A row a
/// concurrent write took out of the selection (on PostgreSQL, while this waited for its lock)
/// is no longer a match.
async fn still_matching<C: Executor>(
    conn: &mut C,
    select: &str,
    ids: &[i64],
    selection: &Query,
    lock: bool,
) -> Result<Vec<Row>> {
    let mut sql = Sql::default();
    let filter = conditions(&mut sql, selection);
    let text = format!(
        "{select} WHERE t0.id IN ({}) AND {filter} ORDER BY t0.id{}",
        placeholders(sql.binds.len(), ids.len()),
        if lock { C::ROW_LOCK } else { "" }
    );
    query(&text)
        .bind_all(sql.binds.iter().map(param))
        .bind_all(ids.iter().copied())
        .fetch_all(conn)
        .await
}
