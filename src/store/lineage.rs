//! OpenLineage intake: each event one transaction that finds (or makes) its run, merges the
//! event into it as the domain's [`merge`] says, and keeps the event as received. The SQL,
//! which both backends run as written, is kept here, beside the one resource that uses it.

use async_trait::async_trait;
use serde_json::json;

use super::backend::{Backend, SqlStore};
use super::exec::{Executor, Row, query};
use super::{LineageStore, Receipt, integrations, monitors, records, rows, runs, sql};
use crate::domain::integrations::{Integration, IntegrationRef};
use crate::domain::lineage::kept::{
    LineageRun, LineageRunView, StoredEvent, outputs_from_json, outputs_json,
};
use crate::domain::lineage::merge::merge;
use crate::domain::lineage::{
    Event, EventTime, EventType, Intake, Job, NominalTime, Parent, RunId, StaticEvent,
};
use crate::domain::runs::Run;
use crate::domain::transitions::Cause;
use crate::error::{Error, Result};

/// Claims a run id for the transaction of its first event: no row comes back when another
/// event made it first (on PostgreSQL, after that event's transaction ended).
const CLAIM: &str = "\
    INSERT INTO lineage_runs (run_uuid, job_namespace, job_name, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $4) ON CONFLICT (run_uuid) DO NOTHING RETURNING run_uuid";

/// The lineage run's columns, from `lineage_runs t0`.
const SELECT_LINEAGE_RUNS: &str = "\
    SELECT t0.run_uuid, t0.integration_run_id, t0.job_namespace, t0.job_name, \
    t0.last_event_type, t0.last_event_time_us, t0.nominal_start_time, t0.nominal_end_time, \
    t0.parent_run_uuid, t0.parent_job_namespace, t0.parent_job_name, t0.outputs, \
    t0.created_at, t0.updated_at FROM lineage_runs t0";

const UPDATE_LINEAGE_RUN: &str = "\
    UPDATE lineage_runs SET integration_run_id = $2, last_event_type = $3, \
    last_event_time_us = $4, nominal_start_time = $5, nominal_end_time = $6, \
    parent_run_uuid = $7, parent_job_namespace = $8, parent_job_name = $9, outputs = $10, \
    updated_at = $11 WHERE run_uuid = $1";

/// Whether the event was received before: same run, type and time (`lineage_events_once`).
const SEEN: &str = "\
    SELECT id FROM lineage_events WHERE run_uuid = $1 AND event_type = $2 AND event_time_us = $3";

const INSERT_EVENT: &str = "\
    INSERT INTO lineage_events (run_uuid, event_type, event_time_us, job_namespace, job_name, \
    integration_run_id, raw, received_at, received_by_id) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id";

/// The events of a run, oldest first, without their bodies.
const EVENTS_OF_RUN: &str = "\
    SELECT id, run_uuid, event_type, event_time_us, job_namespace, job_name, \
    integration_run_id, CAST(NULL AS TEXT) AS raw, received_at FROM lineage_events \
    WHERE run_uuid = $1 ORDER BY event_time_us, id LIMIT 1000";

const EVENT: &str = "\
    SELECT id, run_uuid, event_type, event_time_us, job_namespace, job_name, \
    integration_run_id, raw, received_at FROM lineage_events WHERE id = $1";

const RUN_OF_UUID: &str = "SELECT integration_run_id FROM lineage_runs WHERE run_uuid = $1";

/// The runs a run spawned, oldest first.
const CHILDREN: &str = "\
    SELECT run_uuid, integration_run_id FROM lineage_runs WHERE parent_run_uuid = $1 \
    ORDER BY created_at, run_uuid LIMIT 1000";

/// Integrations whose code is one of two, without ASCII case (the `lower(code)` index).
const INTEGRATIONS_BY_CODES: &str = "WHERE lower(t0.code) IN ($1, $2) ORDER BY t0.id";

#[async_trait]
impl<B: Backend> LineageStore for SqlStore<B> {
    async fn lineage_event(&self, intake: Intake, receipt: Receipt) -> Result<Option<i64>> {
        self.db
            .write(move |tx| {
                Box::pin(async move {
                    match intake {
                        Intake::Run(event) => receive(tx, *event, receipt).await.map(Some),
                        Intake::Static(event) => {
                            keep_static(tx, event, receipt).await?;
                            Ok(None)
                        }
                    }
                })
            })
            .await
    }

    async fn lineage_run(&self, run_id: RunId) -> Result<LineageRunView> {
        self.db.read(move |conn| Box::pin(view(conn, run_id))).await
    }

    async fn lineage_event_body(&self, id: i64) -> Result<StoredEvent> {
        self.db
            .read(move |conn| {
                Box::pin(async move {
                    let row = query(EVENT).bind(id).fetch_optional(conn).await?;
                    let row = row.ok_or_else(|| {
                        Error::NotFound(format!("Couldn't find a lineage event with 'id'={id}"))
                    })?;
                    stored_event(&row)
                })
            })
            .await
    }
}

/// One run event, in the transaction `tx`; the id of its run.
async fn receive(tx: &mut impl Executor, event: Event, receipt: Receipt) -> Result<i64> {
    let now = receipt.now;
    let claimed = query(CLAIM)
        .bind(event.run_id.as_str())
        .bind(&event.job.namespace)
        .bind(&event.job.name)
        .bind(now)
        .fetch_optional(tx)
        .await?
        .is_some();
    let run_id = if claimed {
        first_event(tx, &event, &receipt).await?
    } else {
        let state = locked_state(tx, &event.run_id).await?;
        let seen = query(SEEN)
            .bind(event.run_id.as_str())
            .bind(event.event_type.as_str())
            .bind(event.event_time.micros)
            .fetch_optional(tx)
            .await?;
        if seen.is_some() {
            // An exact repeat (a client's retry): kept once, changes nothing.
            return Ok(state.integration_run_id);
        }
        next_event(tx, &event, state, &receipt).await?
    };
    insert_event(tx, &event, run_id, &receipt).await?;
    Ok(run_id)
}

/// The first event of a run: the run is made in the job's integration (made too, if need
/// be), with the event merged into it.
async fn first_event(tx: &mut impl Executor, event: &Event, receipt: &Receipt) -> Result<i64> {
    let now = receipt.now;
    let integration = integration_of(tx, &event.job, receipt).await?;
    // A run begins: the sweeper looks at the monitor again. The monitor is locked first, the
    // order a look locks it and its runs in.
    monitors::touch(tx, integration.id, now).await?;
    let mut run = Run::pending(integration.id, now, receipt.actor.as_ref());
    let state = LineageRun::new(event.run_id.clone(), event.job.clone(), now);
    let merged = merge(&run, &state, event)
        .ok_or_else(|| Error::Internal("a new run refused its first event".into()))?;
    run.apply(&merged.fields, merged.target, now)?;
    run.version = 0;
    let run_id = runs::insert(tx, &run, now, Cause::Lineage).await?;
    if let Some(error) = merged.error {
        records::file_job_error(tx, run_id, None, error, now, receipt.actor.as_ref()).await?;
    }
    let state = LineageRun {
        integration_run_id: run_id,
        ..merged.state
    };
    save(tx, &state).await?;
    Ok(run_id)
}

/// A later event of a run: merged into it, unless the run has ended and the event ends it
/// again.
async fn next_event(
    tx: &mut impl Executor,
    event: &Event,
    state: LineageRun,
    receipt: &Receipt,
) -> Result<i64> {
    let now = receipt.now;
    if state.job != event.job {
        return Err(Error::invalid(format!(
            "run.runId {} is a run of the job {}, not of {}",
            event.run_id.as_str(),
            state.job.label(),
            event.job.label()
        )));
    }
    let run_id = state.integration_run_id;
    monitors::touch_of_run(tx, run_id, now).await?;
    let read = runs::fetch(tx, run_id, true).await?.run;
    let Some(merged) = merge(&read, &state, event) else {
        return Ok(run_id);
    };
    let mut run = read.clone();
    if run.apply(&merged.fields, merged.target, now)? {
        run.updated_by = receipt.actor.clone();
        runs::write(tx, &read, &run, Cause::Lineage).await?;
    }
    if let Some(error) = merged.error {
        records::file_job_error(tx, run_id, None, error, now, receipt.actor.as_ref()).await?;
    }
    let state = LineageRun {
        updated_at: now,
        ..merged.state
    };
    save(tx, &state).await?;
    Ok(run_id)
}

/// The job's integration: the one whose code is the job's (its plain code, else its hashed
/// one), or, when none is and the server makes them, a new one.
async fn integration_of<C: Executor>(
    tx: &mut C,
    job: &Job,
    receipt: &Receipt,
) -> Result<Integration> {
    if let Some(found) = job_integration(tx, job).await? {
        return Ok(found);
    }
    if !receipt.create_integrations {
        return Err(IntegrationRef::parse(&json!({ "code": job.code() })).not_found());
    }
    // Another node may be making it: look again once the keys are ours.
    integrations::lock_keys(tx).await?;
    if let Some(found) = job_integration(tx, job).await? {
        return Ok(found);
    }
    let plain = job.code();
    let code_taken = integrations::taken(tx, 0, Some(&plain), None).await?;
    // Taken without case by another job's integration ("Orders" beside "orders").
    let code = if code_taken.is_empty() {
        plain
    } else {
        job.hashed_code()
    };
    let mut name = job.integration_name();
    if !integrations::taken(tx, 0, None, Some(&name))
        .await?
        .is_empty()
    {
        name.clone_from(&code);
    }
    let taken = integrations::taken(tx, 0, Some(&code), Some(&name)).await?;
    if let Some(key) = taken.first() {
        return Err(Error::invalid(format!(
            "The integration of the job {} can't be made: {}",
            job.label(),
            key.taken()
        )));
    }
    let new = job.new_integration(code, name);
    let mut integration = Integration::new(new, receipt.now, receipt.actor.as_ref());
    integration.id = integrations::insert(tx, &integration).await?;
    Ok(integration)
}

/// The integration whose code is exactly the job's plain or hashed code.
async fn job_integration(conn: &mut impl Executor, job: &Job) -> Result<Option<Integration>> {
    let codes = [job.code(), job.hashed_code()];
    let sql = format!("{} {INTEGRATIONS_BY_CODES}", sql::SELECT_INTEGRATIONS);
    let rows = query(&sql)
        .bind(codes[0].to_ascii_lowercase())
        .bind(codes[1].to_ascii_lowercase())
        .fetch_all(conn)
        .await?;
    let found = rows
        .iter()
        .map(rows::integration)
        .collect::<Result<Vec<_>>>()?;
    Ok(codes
        .iter()
        .find_map(|code| found.iter().find(|i| i.code == *code))
        .cloned())
}

/// The state of a run an earlier event made, locked until the transaction ends.
async fn locked_state<C: Executor>(conn: &mut C, run_id: &RunId) -> Result<LineageRun> {
    let sql = format!(
        "{SELECT_LINEAGE_RUNS} WHERE t0.run_uuid = $1{}",
        C::ROW_LOCK
    );
    let row = query(&sql).bind(run_id.as_str()).fetch_one(conn).await?;
    lineage_run(&row)
}

async fn save(conn: &mut impl Executor, state: &LineageRun) -> Result<()> {
    let (last_type, last_time) = match &state.last_event {
        Some((kind, at)) => (Some(kind.as_str()), Some(at.micros)),
        None => (None, None),
    };
    let parent = state.parent.as_ref();
    query(UPDATE_LINEAGE_RUN)
        .bind(state.run_id.as_str())
        .bind(state.integration_run_id)
        .bind(last_type)
        .bind(last_time)
        .bind(state.nominal.as_ref().map(|n| n.start))
        .bind(state.nominal.as_ref().and_then(|n| n.end))
        .bind(parent.map(|p| p.run_id.as_str()))
        .bind(parent.map(|p| p.job.namespace.as_str()))
        .bind(parent.map(|p| p.job.name.as_str()))
        .bind(outputs_json(&state.outputs))
        .bind(state.updated_at)
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert_event(
    conn: &mut impl Executor,
    event: &Event,
    run_id: i64,
    receipt: &Receipt,
) -> Result<()> {
    query(INSERT_EVENT)
        .bind(event.run_id.as_str())
        .bind(event.event_type.as_str())
        .bind(event.event_time.micros)
        .bind(&event.job.namespace)
        .bind(&event.job.name)
        .bind(run_id)
        .bind(&receipt.raw)
        .bind(receipt.now)
        .bind(receipt.actor.as_ref().map(|a| a.id))
        .scalar::<i64>(conn)
        .await?;
    Ok(())
}

/// A `JobEvent` or `DatasetEvent`: kept, nothing else.
async fn keep_static(conn: &mut impl Executor, event: StaticEvent, receipt: Receipt) -> Result<()> {
    let job = event.job.as_ref();
    query(INSERT_EVENT)
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(event.event_time.micros)
        .bind(job.map(|j| j.namespace.as_str()))
        .bind(job.map(|j| j.name.as_str()))
        .bind(None::<i64>)
        .bind(&receipt.raw)
        .bind(receipt.now)
        .bind(receipt.actor.as_ref().map(|a| a.id))
        .scalar::<i64>(conn)
        .await?;
    Ok(())
}

/// A lineage run with its run's start, its parent's run, its children and its events.
async fn view(conn: &mut impl Executor, run_id: RunId) -> Result<LineageRunView> {
    let sql = format!("{SELECT_LINEAGE_RUNS} WHERE t0.run_uuid = $1");
    let row = query(&sql)
        .bind(run_id.as_str())
        .fetch_optional(conn)
        .await?;
    let row = row.ok_or_else(|| {
        Error::NotFound(format!(
            "Couldn't find a lineage run with runId {}",
            run_id.as_str()
        ))
    })?;
    let state = lineage_run(&row)?;
    let run = runs::fetch(conn, state.integration_run_id, false)
        .await?
        .run;
    let parent_integration_run_id = match &state.parent {
        Some(parent) => query(RUN_OF_UUID)
            .bind(parent.run_id.as_str())
            .scalar_optional::<Option<i64>>(conn)
            .await?
            .flatten(),
        None => None,
    };
    let mut children = Vec::new();
    for row in query(CHILDREN)
        .bind(run_id.as_str())
        .fetch_all(conn)
        .await?
    {
        children.push((stored_run_id(&row.get::<String>(0)?)?, row.get(1)?));
    }
    let events = query(EVENTS_OF_RUN)
        .bind(run_id.as_str())
        .fetch_all(conn)
        .await?
        .iter()
        .map(stored_event)
        .collect::<Result<Vec<_>>>()?;
    Ok(LineageRunView {
        state,
        integration_id: run.integration_id,
        start_time: run.start_time,
        parent_integration_run_id,
        children,
        events,
    })
}

fn stored_run_id(text: &str) -> Result<RunId> {
    RunId::parse(text)
        .ok_or_else(|| Error::Internal(format!("a stored run id is not a UUID: {text:?}")))
}

fn stored_type(text: &str) -> Result<EventType> {
    EventType::parse(text)
        .ok_or_else(|| Error::Internal(format!("unknown event type {text:?} in the database")))
}

fn lineage_run(row: &Row) -> Result<LineageRun> {
    let job = |namespace: Option<String>, name: Option<String>| match (namespace, name) {
        (Some(namespace), Some(name)) => Some(Job { namespace, name }),
        _ => None,
    };
    let last_type: Option<String> = row.get("last_event_type")?;
    let last_time: Option<i64> = row.get("last_event_time_us")?;
    let last_event = match (last_type, last_time) {
        (Some(kind), Some(micros)) => Some((stored_type(&kind)?, EventTime::from_micros(micros))),
        _ => None,
    };
    let parent_id: Option<String> = row.get("parent_run_uuid")?;
    let parent_job = job(
        row.get("parent_job_namespace")?,
        row.get("parent_job_name")?,
    );
    let parent = match (parent_id, parent_job) {
        (Some(id), Some(job)) => Some(Parent {
            run_id: stored_run_id(&id)?,
            job,
        }),
        _ => None,
    };
    let outputs: String = row.get("outputs")?;
    Ok(LineageRun {
        run_id: stored_run_id(&row.get::<String>("run_uuid")?)?,
        integration_run_id: row
            .get::<Option<i64>>("integration_run_id")?
            .ok_or_else(|| Error::Internal("a lineage run without its run".into()))?,
        job: Job {
            namespace: row.get("job_namespace")?,
            name: row.get("job_name")?,
        },
        last_event,
        nominal: row
            .get::<Option<_>>("nominal_start_time")?
            .map(|start| -> Result<NominalTime> {
                Ok(NominalTime {
                    start,
                    end: row.get("nominal_end_time")?,
                })
            })
            .transpose()?,
        parent,
        outputs: outputs_from_json(&outputs)
            .ok_or_else(|| Error::Internal("unreadable lineage_runs.outputs".into()))?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
    })
}

fn stored_event(row: &Row) -> Result<StoredEvent> {
    let run_id: Option<String> = row.get("run_uuid")?;
    let event_type: Option<String> = row.get("event_type")?;
    let namespace: Option<String> = row.get("job_namespace")?;
    let name: Option<String> = row.get("job_name")?;
    Ok(StoredEvent {
        id: row.get("id")?,
        run_id: run_id.as_deref().map(stored_run_id).transpose()?,
        event_type: event_type.as_deref().map(stored_type).transpose()?,
        event_time: EventTime::from_micros(row.get("event_time_us")?),
        job: namespace
            .zip(name)
            .map(|(namespace, name)| Job { namespace, name }),
        integration_run_id: row.get("integration_run_id")?,
        raw: row.get("raw")?,
        received_at: row.get("received_at")?,
    })
}
