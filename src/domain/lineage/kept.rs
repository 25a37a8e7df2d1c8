//! What Runledger keeps of OpenLineage runs and events, and how a run's lineage is shown
//! (`GET /api/v1/lineage/runs/:runId`).

use super::{EventTime, EventType, Job, NominalTime, OutputRows, Parent, RunId};
use crate::time::Timestamp;

/// What Runledger keeps of an OpenLineage run beside the run itself (`lineage_runs`).
#[derive(Clone, Debug, PartialEq)]
pub struct LineageRun {
    pub run_id: RunId,
    /// The run it maps to (0 until the run is stored).
    pub integration_run_id: i64,
    /// The job its first event named; later events must name the same one.
    pub job: Job,
    /// The latest event merged, by event time.
    pub last_event: Option<(EventType, EventTime)>,
    pub nominal: Option<NominalTime>,
    pub parent: Option<Parent>,
    /// The latest row count of each output dataset.
    pub outputs: Vec<OutputRows>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl LineageRun {
    /// The state of a run no event has been merged into yet.
    pub fn new(run_id: RunId, job: Job, now: Timestamp) -> LineageRun {
        LineageRun {
            run_id,
            integration_run_id: 0,
            job,
            last_event: None,
            nominal: None,
            parent: None,
            outputs: Vec::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// How many seconds after its nominal (scheduled) start the run started: its lateness,
    /// negative when it started early; none without both times.
    pub fn start_delay(&self, start_time: Option<Timestamp>) -> Option<i64> {
        let nominal = self.nominal.as_ref()?;
        Some((start_time? - nominal.start).num_seconds())
    }
}

/// A lineage run as `GET /api/v1/lineage/runs/:runId` shows it: its state, its run's start,
/// and its place in the lineage (the parent's run and the runs it spawned, each once known).
#[derive(Clone, Debug, PartialEq)]
pub struct LineageRunView {
    pub state: LineageRun,
    pub integration_id: i64,
    /// The run's `start-time`, for its lateness.
    pub start_time: Option<Timestamp>,
    /// The run the parent's run id maps to, once an event of it came.
    pub parent_integration_run_id: Option<i64>,
    /// The runs whose `parent` is this run: run id and the run it maps to.
    pub children: Vec<(RunId, Option<i64>)>,
    /// Its events, by event time, without their bodies.
    pub events: Vec<StoredEvent>,
}

/// An event as it was received and kept (`lineage_events`).
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub id: i64,
    /// None for a `JobEvent` or `DatasetEvent`.
    pub run_id: Option<RunId>,
    pub event_type: Option<EventType>,
    pub event_time: EventTime,
    pub job: Option<Job>,
    pub integration_run_id: Option<i64>,
    /// The event as received, re-serialized (not read by the run's view).
    pub raw: Option<String>,
    pub received_at: Timestamp,
}

/// The outputs' row counts as `lineage_runs.outputs` keeps them: `[[namespace, name, rows,
/// event time in µs], …]`.
pub fn outputs_json(outputs: &[OutputRows]) -> String {
    let rows: Vec<_> = outputs
        .iter()
        .map(|o| serde_json::json!([o.namespace, o.name, o.rows, o.at.micros]))
        .collect();
    serde_json::Value::Array(rows).to_string()
}

/// The outputs' row counts back from [`outputs_json`]; none when the text is not its form.
pub fn outputs_from_json(text: &str) -> Option<Vec<OutputRows>> {
    let rows: Vec<(String, String, i64, i64)> = serde_json::from_str(text).ok()?;
    Some(
        rows.into_iter()
            .map(|(namespace, name, rows, micros)| OutputRows {
                namespace,
                name,
                rows,
                at: EventTime::from_micros(micros),
            })
            .collect(),
    )
}
