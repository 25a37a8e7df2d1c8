//! Pings: each one transaction that logs the ping and does what the domain's
//! [`plan`](crate::domain::pings::plan) says to the run it pairs with. The SQL, which both
//! backends run as written, is kept here, beside the one resource that uses it.

use async_trait::async_trait;

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, Row, query};
use super::paging::page_rows;
use super::{PingStore, integrations, monitors, records, runs};
use crate::domain::pings::{LoggedPing, Outcome, Ping, PingKind, Plan, plan};
use crate::domain::records::NewResponse;
use crate::domain::runs::{Action, Run, RunFields, Status};
use crate::domain::transitions::Cause;
use crate::domain::vocabulary::stored_word;
use crate::error::{Error, Result};
use crate::query::Query;
use crate::query::cursor::Page;
use crate::time::Timestamp;

/// The integration whose monitor has the ping key `$1`, through the key's unique index.
const MONITOR_BY_KEY: &str = "SELECT integration_id FROM monitors WHERE ping_key = $1";

/// The open run of integration `$1` that the latest start ping with rid `$2` created: from
/// the few open runs (their partial index) to their start pings (`monitor_pings_run`).
const OPEN_RUN_OF_RID: &str = "\
    SELECT r.id FROM integration_runs r JOIN monitor_pings p ON p.run_id = r.id \
    WHERE r.integration_id = $1 AND r.status IN ('pending', 'running', 'paused') \
    AND p.kind = 'start' AND p.rid = $2 ORDER BY p.id DESC LIMIT 1";

/// The open run of integration `$1` that the latest start ping without a rid created.
const OPEN_RUN_WITHOUT_RID: &str = "\
    SELECT r.id FROM integration_runs r JOIN monitor_pings p ON p.run_id = r.id \
    WHERE r.integration_id = $1 AND r.status IN ('pending', 'running', 'paused') \
    AND p.kind = 'start' AND p.rid IS NULL ORDER BY p.id DESC LIMIT 1";

const INSERT_PING: &str = "\
    INSERT INTO monitor_pings (integration_id, kind, rid, run_id, exit_status, body, user_agent, \
    received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";

/// The ping log's columns, from `monitor_pings t0`.
const SELECT_PINGS: &str = "\
    SELECT t0.id, t0.integration_id, t0.kind, t0.rid, t0.run_id, t0.exit_status, t0.body, \
    t0.user_agent, t0.received_at FROM monitor_pings t0";

#[async_trait]
impl<B: Backend> PingStore for SqlStore<B> {
    async fn ping(&self, key: String, ping: Ping, now: Timestamp) -> Result<LoggedPing> {
        self.db
            .write(move |tx| Box::pin(receive(tx, key, ping, now)))
            .await
    }

    async fn pings(&self, integration_id: i64, listing: &Query) -> Result<Page<LoggedPing>> {
        let page = listing.clone();
        self.read_page(listing, move |conn| {
            Box::pin(async move {
                // 404 for an unknown integration, rather than an empty log.
                integrations::fetch(conn, integration_id, false).await?;
                let rows = page_rows(conn, "monitor_pings", SELECT_PINGS, &page).await?;
                rows.try_map(logged_ping)
            })
        })
        .await
    }
}

/// One ping, in the transaction `tx`: find the monitor, carry out the plan, log the ping.
async fn receive(
    tx: &mut impl Executor,
    key: String,
    ping: Ping,
    now: Timestamp,
) -> Result<LoggedPing> {
    let integration_id: i64 = query(MONITOR_BY_KEY)
        .bind(key)
        .scalar_optional(tx)
        .await?
        .ok_or_else(|| Error::NotFound("not found".into()))?;
    let open = if ping.ends_a_run() {
        let found = match &ping.rid {
            Some(rid) => query(OPEN_RUN_OF_RID)
                .bind(integration_id)
                .bind(rid.as_str()),
            None => query(OPEN_RUN_WITHOUT_RID).bind(integration_id),
        };
        found.scalar_optional(tx).await?
    } else {
        None
    };
    let plan = plan(&ping, open);
    if plan != Plan::Record {
        // A run begins or ends: the sweeper looks at the monitor again. The monitor is
        // locked before the run, the order a look locks them in.
        monitors::touch(tx, integration_id, now).await?;
    }
    let run_id = match plan {
        Plan::Record => None,
        Plan::Start => Some(insert_run(tx, integration_id, Status::Running, now).await?),
        Plan::End { run_id, outcome } => {
            if end_run(tx, run_id, &outcome, now).await? {
                Some(run_id)
            } else {
                Some(start_and_end(tx, integration_id, &outcome, now).await?)
            }
        }
        Plan::StartAndEnd(outcome) => Some(start_and_end(tx, integration_id, &outcome, now).await?),
    };
    let logged = LoggedPing {
        id: 0,
        integration_id,
        kind: ping.signal.kind(),
        rid: ping.rid.map(|rid| rid.as_str().to_owned()),
        run_id,
        exit_status: ping.signal.exit_status().map(i64::from),
        body: ping.body,
        user_agent: ping.user_agent,
        received_at: now,
    };
    let id = query(INSERT_PING)
        .bind(logged.integration_id)
        .bind(logged.kind.as_str())
        .bind(&logged.rid)
        .bind(logged.run_id)
        .bind(logged.exit_status)
        .bind(&logged.body)
        .bind(&logged.user_agent)
        .bind(now)
        .scalar(tx)
        .await?;
    Ok(LoggedPing { id, ..logged })
}

/// A run of the integration made by a ping (no API client), moved at once to `status` as the
/// status machine moves a new run: started now, and ended now if `status` is terminal.
async fn insert_run(
    tx: &mut impl Executor,
    integration_id: i64,
    status: Status,
    now: Timestamp,
) -> Result<i64> {
    let mut run = Run::pending(integration_id, now, None);
    run.apply(&RunFields::default(), Some(Status::Running), now)?;
    if status != Status::Running {
        run.apply(&RunFields::default(), Some(status), now)?;
    }
    runs::insert(tx, &run, now, Cause::Ping).await
}

/// A run that starts and ends now, with the failure's integration error: an end that found
/// no open run to pair with.
async fn start_and_end(
    tx: &mut impl Executor,
    integration_id: i64,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<i64> {
    let status = match outcome {
        Outcome::Success => Status::Successful,
        Outcome::Failure(_) => Status::Failed,
    };
    let run_id = insert_run(tx, integration_id, status, now).await?;
    file_failure(tx, run_id, outcome, now).await?;
    Ok(run_id)
}

/// Ends an open run as the API's actions would: a failure files its integration error first
/// and then `fail`s the run; a success `finish`es it, which fails a run that has unresolved
/// integration errors (filed by the job itself through the API). `false` when the run ended
/// between the search and its lock (another node's ping, or an API call): nothing is written.
async fn end_run(
    tx: &mut impl Executor,
    run_id: i64,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<bool> {
    let mut view = runs::fetch(tx, run_id, true).await?;
    if view.run.status.is_terminal() {
        return Ok(false);
    }
    file_failure(tx, run_id, outcome, now).await?;
    let action = match outcome {
        Outcome::Success => Action::Finish,
        Outcome::Failure(_) => Action::Fail,
    };
    let read = view.run.clone();
    if view.apply(&RunFields::default(), Some(action), None, now)? {
        view.run.updated_by = None;
        runs::write(tx, &read, &view.run, Cause::Ping).await?;
    }
    Ok(true)
}

/// Files the `Runledger::Job` integration error of a failure on the run (nothing for a
/// success), with one response: `exit 3` or `fail`, and the body or what failed.
async fn file_failure(
    tx: &mut impl Executor,
    run_id: i64,
    outcome: &Outcome,
    now: Timestamp,
) -> Result<()> {
    let Outcome::Failure(failure) = outcome else {
        return Ok(());
    };
    let response = NewResponse {
        response_code: Some(failure.code.clone()),
        response_message: Some(failure.message.clone()),
    };
    records::file_job_error(tx, run_id, None, response, now, None).await?;
    Ok(())
}

fn logged_ping(row: &Row) -> Result<LoggedPing> {
    let kind: String = row.get("kind")?;
    Ok(LoggedPing {
        id: row.get("id")?,
        integration_id: row.get("integration_id")?,
        kind: stored_word(&PingKind::ALL, PingKind::as_str, &kind).ok_or_else(|| {
            Error::Internal(format!("unknown ping kind {kind:?} in the database"))
        })?,
        rid: row.get("rid")?,
        run_id: row.get("run_id")?,
        exit_status: row.get("exit_status")?,
        body: row.get("body")?,
        user_agent: row.get("user_agent")?,
        received_at: row.get("received_at")?,
    })
}
