//! What one OpenLineage event does to its run. Events are merged by their event time, not by
//! their arrival, so that they may come out of order or twice: a run's status follows the
//! spec's lifecycle (START → RUNNING → COMPLETE, FAIL or ABORT), and its first end is final.

use serde_json::{Map, Value};

use super::kept::LineageRun;
use super::{Event, EventType, OutputRows, flow_entry};
use crate::domain::records::NewResponse;
use crate::domain::runs::{Run, RunFields, Status};

/// The key of a run's `flow` under which its latest event is shown.
pub const FLOW_KEY: &str = "openlineage";

/// What the store does for one event: apply `fields` and the move to `target` to the run,
/// file `error` on it as a `Runledger::Job` integration error, and keep `state`.
#[derive(Clone, Debug, PartialEq)]
pub struct Merge {
    pub fields: RunFields,
    pub target: Option<Status>,
    pub error: Option<NewResponse>,
    pub state: LineageRun,
}

/// What `event` does to `run`, which `state` maps its run id to; `None` when it changes
/// nothing at all: a terminal event (COMPLETE, FAIL, ABORT) for a run that has ended.
///
/// - START and RUNNING make an open run `running`, COMPLETE `successful`, FAIL and ABORT
///   `failed`; OTHER (and an event without a type) moves no status. A run that has ended
///   moves no more, whatever comes after.
/// - `start-time` is the earliest START's event time (a RUNNING's while no START came), and
///   fills in even after the end; `end-time` is the terminal event's time.
/// - The latest event by time is shown in the run's `flow`, so a RUNNING heartbeat moves the
///   run's `updated-at`; an event older than the latest does not.
/// - `records-processed` is the sum over output datasets of each one's latest `rowCount`.
/// - `nominalTime` and `parent` are kept from the latest event that has them.
/// - An `errorMessage` facet files an integration error, and so does an ABORT without one,
///   so that the failed run says it was aborted.
pub fn merge(run: &Run, state: &LineageRun, event: &Event) -> Option<Merge> {
    let ended = run.status.is_terminal();
    if ended && event.event_type.is_terminal() {
        return None;
    }
    let at = event.event_time.at();
    let newest = state
        .last_event
        .as_ref()
        .is_none_or(|(_, latest)| event.event_time >= *latest);
    let mut next = state.clone();
    let mut fields = RunFields::default();

    let target = match event.event_type {
        _ if ended => None,
        EventType::Start | EventType::Running => Some(Status::Running),
        EventType::Complete => Some(Status::Successful),
        EventType::Fail | EventType::Abort => Some(Status::Failed),
        EventType::Other => None,
    };
    let earlier_start = match event.event_type {
        EventType::Start => run.start_time.is_none_or(|start| at < start),
        EventType::Running => run.start_time.is_none(),
        _ => false,
    };
    if earlier_start {
        fields.start_time = Some(Some(at));
    }
    if target.is_some_and(Status::is_terminal) && run.end_time.is_none() {
        fields.end_time = Some(Some(at));
    }

    for output in &event.outputs {
        let same =
            |kept: &&mut OutputRows| kept.namespace == output.namespace && kept.name == output.name;
        match next.outputs.iter_mut().find(same) {
            Some(kept) if output.at >= kept.at => *kept = output.clone(),
            Some(_) => {}
            None => next.outputs.push(output.clone()),
        }
    }
    if !next.outputs.is_empty() {
        let sum = next
            .outputs
            .iter()
            .fold(0i64, |sum, output| sum.saturating_add(output.rows));
        if run.records_processed != Some(sum) {
            fields.records_processed = Some(Some(sum));
        }
    }

    if newest {
        next.last_event = Some((event.event_type, event.event_time.clone()));
        // After the end, only OTHER (metadata sent late, as the spec allows) is shown.
        if !ended || event.event_type == EventType::Other {
            let mut flow = match &run.flow {
                Some(Value::Object(flow)) => flow.clone(),
                _ => Map::new(),
            };
            let entry = flow_entry(&state.run_id, event.event_type, &event.event_time);
            flow.insert(FLOW_KEY.into(), entry);
            fields.flow = Some(Some(Value::Object(flow)));
        }
    }
    if let Some(nominal) = &event.nominal
        && (newest || next.nominal.is_none())
    {
        next.nominal = Some(nominal.clone());
    }
    if let Some(parent) = &event.parent
        && (newest || next.parent.is_none())
    {
        next.parent = Some(parent.clone());
    }

    let error = match (&event.error, event.event_type) {
        (Some(error), kind) => Some(NewResponse {
            response_code: Some(kind.as_str().to_owned()),
            response_message: Some(error.text()),
        }),
        (None, EventType::Abort) => Some(NewResponse {
            response_code: Some(EventType::Abort.as_str().to_owned()),
            response_message: Some(format!(
                "The run was aborted (OpenLineage ABORT event of {})",
                event.event_time.text()
            )),
        }),
        (None, _) => None,
    };
    Some(Merge {
        fields,
        target,
        error,
        state: next,
    })
}
