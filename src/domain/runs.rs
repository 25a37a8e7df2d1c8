//! Integration runs and their status machine (spec §1.1, §1.2).
//!
//! Everything a write does to a run is decided by [`Run::apply`], a pure function of the
//! current run, the body and the action; the store only has to load, apply and write back
//! under a condition on the status it read.

use std::fmt;

use serde_json::Value;

use super::Actor;
use super::input::{Body, Checker, Field, humanize};
use super::integrations::{Integration, IntegrationRef};
use super::records::Record;
use super::vocabulary::vocabulary;
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// The largest `flow` object accepted, serialized as JSON.
pub const MAX_FLOW_BYTES: usize = 16 * 1024;
/// The deepest `flow` accepted, in objects and arrays: well inside what the XML reader takes
/// (32 elements, the run's own two included), so that a flow always reads back from XML.
pub const MAX_FLOW_DEPTH: usize = 16;

vocabulary! {
    pub enum Status {
        Pending = "pending",
        Running = "running",
        Paused = "paused",
        Successful = "successful",
        Failed = "failed",
    }
}

impl Status {
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Successful | Status::Failed)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The status actions, each a `PUT /api/integration_runs/:id/<action>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Run,
    Pending,
    Pause,
    Success,
    Fail,
    /// `successful` without unresolved errors, `failed` with them.
    Finish,
}

impl Action {
    /// The status this action asks for, for a run in status `from`.
    ///
    /// `finish` on a run that is already finished asks for the status it has: whatever its
    /// errors say now, it is a retry of the `finish` that ended the run, not a new move.
    pub fn target(self, from: Status, has_unresolved_errors: bool) -> Status {
        match self {
            Action::Run => Status::Running,
            Action::Pending => Status::Pending,
            Action::Pause => Status::Paused,
            Action::Success => Status::Successful,
            Action::Fail => Status::Failed,
            Action::Finish if from.is_terminal() => from,
            Action::Finish if has_unresolved_errors => Status::Failed,
            Action::Finish => Status::Successful,
        }
    }
}

/// What a status action does to a run in status `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The run already has the status: a retried request. No status moves; the body still
    /// applies, as in any update.
    Unchanged,
    Move(Status),
}

/// The status machine. Any move out of `pending`, `running` or `paused` is allowed;
/// `successful` and `failed` are terminal; repeating the current status moves nothing.
pub fn transition(from: Status, to: Status) -> Result<Transition> {
    if from == to {
        Ok(Transition::Unchanged)
    } else if from.is_terminal() {
        Err(Error::invalid(format!(
            "Cannot move an integration run from {from} to {to}"
        )))
    } else {
        Ok(Transition::Move(to))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Run {
    pub id: i64,
    /// Raised by one with each write: what its ETag is made of (`etag`).
    pub version: i64,
    pub integration_id: i64,
    pub status: Status,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub total_records: Option<i64>,
    pub records_processed: Option<i64>,
    /// An opaque JSON object, or none.
    pub flow: Option<Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub created_by: Option<Actor>,
    pub updated_by: Option<Actor>,
    /// The run this one retries, if it is a retry (set when it is created, never after).
    pub retry_of: Option<i64>,
    /// 1 for a first run, one more than the run it retries for a retry.
    pub attempt: i64,
}

/// A run as the API shows it: with its integration and its errors.
#[derive(Clone, Debug, PartialEq)]
pub struct RunView {
    pub run: Run,
    pub integration: Integration,
    pub integration_errors: Vec<Record>,
}

/// The writable elements of a run, each absent unless the body named it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunFields {
    pub integration: Option<IntegrationRef>,
    pub start_time: Field<Timestamp>,
    pub end_time: Field<Timestamp>,
    pub total_records: Field<i64>,
    pub records_processed: Field<i64>,
    pub flow: Field<Value>,
    /// `total-records-increment`: added to the stored count in the write itself, so that
    /// parallel workers of one run lose nothing.
    pub total_records_increment: Option<i64>,
    /// `records-processed-increment`, as `total_records_increment`.
    pub records_processed_increment: Option<i64>,
    /// `retry-of`: the run a new run retries (`{"id": …}`), none for a first run.
    pub retry_of: Field<i64>,
}

impl RunFields {
    /// The integration a new run is created in, or the refusal of a run without one.
    pub fn integration_for_create(&self) -> Result<&IntegrationRef> {
        self.integration
            .as_ref()
            .ok_or_else(|| Error::invalid("Integration can't be blank"))
    }

    /// Reads and validates the elements present in `body`.
    pub fn parse(body: Body) -> Result<Self> {
        let mut c = Checker::default();
        let integration = match body.get("integration") {
            None => None,
            Some(Value::Null) => {
                c.fail("Integration can't be blank");
                None
            }
            Some(value) => Some(IntegrationRef::parse(value)),
        };
        let fields = RunFields {
            integration,
            start_time: c.datetime(body, "start-time"),
            end_time: c.datetime(body, "end-time"),
            total_records: c.count(body, "total-records"),
            records_processed: c.count(body, "records-processed"),
            flow: parse_flow(&mut c, body),
            total_records_increment: increment(&mut c, body, "total-records"),
            records_processed_increment: increment(&mut c, body, "records-processed"),
            retry_of: parse_retry_of(&mut c, body),
        };
        c.finish()?;
        Ok(fields)
    }
}

/// `<count>-increment`: an integer, refused beside the absolute `<count>` in one body.
fn increment(c: &mut Checker, body: Body, count: &str) -> Option<i64> {
    let key = format!("{count}-increment");
    let n = c.integer(body, &key).flatten()?;
    if body.get(count).is_some() {
        c.fail(format!(
            "{} and {} can't both be given",
            humanize(count),
            humanize(&key).to_lowercase()
        ));
        return None;
    }
    Some(n)
}

/// `retry-of`: `{"id": 7}` (XML: `<retry-of><id>7</id></retry-of>`), a bare id, or null.
fn parse_retry_of(c: &mut Checker, body: Body) -> Field<i64> {
    let id = match body.get("retry-of")? {
        Value::Null => return Some(None),
        Value::Object(map) => map.get("id"),
        bare @ (Value::Number(_) | Value::String(_)) => Some(bare),
        _ => None,
    };
    let id = match id {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    };
    match id {
        Some(id) if id > 0 => Some(Some(id)),
        _ => {
            c.fail("Retry of must name an integration run by its id");
            None
        }
    }
}

fn parse_flow(c: &mut Checker, body: Body) -> Field<Value> {
    match body.get("flow")? {
        Value::Null => Some(None),
        flow @ Value::Object(_) => {
            let size = serde_json::to_vec(flow).map_or(usize::MAX, |v| v.len());
            if size > MAX_FLOW_BYTES {
                c.fail(format!(
                    "Flow is too large (maximum is {MAX_FLOW_BYTES} bytes)"
                ));
                None
            } else if depth(flow) > MAX_FLOW_DEPTH {
                c.fail(format!("Flow nests deeper than {MAX_FLOW_DEPTH} levels"));
                None
            } else if let Some(key) = first_bad_key(flow) {
                c.fail(format!("Flow key {key:?} is not a valid element name"));
                None
            } else {
                Some(Some(flow.clone()))
            }
        }
        _ => {
            c.fail("Flow must be an object");
            None
        }
    }
}

/// How many objects and arrays deep `value` nests (a scalar is 0).
fn depth(value: &Value) -> usize {
    match value {
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Flow must survive a trip through XML, so each key must be an XML element name: the first
/// key at any depth that is not one.
pub fn first_bad_key(value: &Value) -> Option<&str> {
    match value {
        Value::Object(map) => map.iter().find_map(|(key, v)| {
            if is_element_name(key) {
                first_bad_key(v)
            } else {
                Some(key.as_str())
            }
        }),
        Value::Array(items) => items.iter().find_map(first_bad_key),
        _ => None,
    }
}

/// A conservative XML name: a letter or `_`, then letters, digits, `_`, `-` or `.`.
pub fn is_element_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.to_ascii_lowercase().starts_with("xml")
}

impl Run {
    /// A run of `integration_id` as it is created: `pending`, nothing else set yet, not yet
    /// stored (its id is 0).
    pub fn pending(integration_id: i64, now: Timestamp, actor: Option<&Actor>) -> Run {
        Run {
            id: 0,
            version: 0,
            integration_id,
            status: Status::Pending,
            start_time: None,
            end_time: None,
            total_records: None,
            records_processed: None,
            flow: None,
            created_at: now,
            updated_at: now,
            created_by: actor.cloned(),
            updated_by: actor.cloned(),
            retry_of: None,
            attempt: 1,
        }
    }

    /// Makes a new run a retry of `retried`: a run of the same integration, one attempt more.
    pub fn retrying(&mut self, retried: &Run) -> Result<()> {
        if retried.integration_id != self.integration_id {
            return Err(Error::invalid(format!(
                "Retry of must be a run of the same integration (integration run {} is not)",
                retried.id
            )));
        }
        self.retry_of = Some(retried.id);
        self.attempt = retried.attempt.saturating_add(1);
        Ok(())
    }

    /// Applies an update and, with `target`, a status move, as of `now`, and says whether
    /// anything changed.
    ///
    /// An action that repeats the current status moves nothing but applies its body (its
    /// values are absolute, so a retried request is harmless), and sets the action's time
    /// only if it is empty, as a move does. A write that leaves every value as it was leaves
    /// the run exactly as it was, `updated_at` included; a refused one leaves it untouched.
    pub fn apply(
        &mut self,
        fields: &RunFields,
        target: Option<Status>,
        now: Timestamp,
    ) -> Result<bool> {
        let mut next = self.clone();
        if let Some(to) = target
            && let Transition::Move(to) = transition(self.status, to)?
        {
            next.status = to;
        }
        set(&mut next.start_time, &fields.start_time);
        set(&mut next.end_time, &fields.end_time);
        set(&mut next.total_records, &fields.total_records);
        set(&mut next.records_processed, &fields.records_processed);
        set(&mut next.flow, &fields.flow);
        if let Some(n) = fields.total_records_increment {
            next.total_records = Some(add(next.total_records, n, "total-records")?);
        }
        if let Some(n) = fields.records_processed_increment {
            next.records_processed = Some(add(next.records_processed, n, "records-processed")?);
        }
        if let Some(retry_of) = fields.retry_of
            && retry_of != self.retry_of
        {
            return Err(Error::invalid(
                "Retry of is set when an integration run is created and can't be changed",
            ));
        }
        match target {
            Some(Status::Running) if next.start_time.is_none() => next.start_time = Some(now),
            Some(s) if s.is_terminal() && next.end_time.is_none() => next.end_time = Some(now),
            _ => {}
        }
        if let (Some(total), Some(processed)) = (next.total_records, next.records_processed)
            && processed > total
        {
            return Err(Error::invalid(format!(
                "Records processed ({processed}) must be less than or equal to total records ({total})"
            )));
        }
        if next == *self {
            return Ok(false);
        }
        next.updated_at = now;
        next.version += 1;
        *self = next;
        Ok(true)
    }
}

impl RunView {
    /// Whether any of the run's errors is still open: what `finish` decides by. A stored
    /// run is read with all of its errors, resolved or not, so this sees every one.
    pub fn has_unresolved_errors(&self) -> bool {
        self.integration_errors.iter().any(|error| !error.resolved)
    }

    /// Applies an update, a status `action` and a move to the integration the body named
    /// (`moved_to`, as found), as of `now`, and says whether anything changed (see
    /// [`Run::apply`]).
    pub fn apply(
        &mut self,
        fields: &RunFields,
        action: Option<Action>,
        moved_to: Option<Integration>,
        now: Timestamp,
    ) -> Result<bool> {
        let unresolved = self.has_unresolved_errors();
        let target = action.map(|action| action.target(self.run.status, unresolved));
        let mut changed = self.run.apply(fields, target, now)?;
        if let Some(integration) = moved_to
            && integration.id != self.run.integration_id
        {
            self.run.integration_id = integration.id;
            if !changed {
                self.run.updated_at = now;
                self.run.version += 1;
            }
            self.integration = integration;
            changed = true;
        }
        Ok(changed)
    }
}

/// A count after an increment: at least 0, and within an i64.
fn add(count: Option<i64>, n: i64, key: &str) -> Result<i64> {
    match count.unwrap_or(0).checked_add(n) {
        Some(sum) if sum >= 0 => Ok(sum),
        Some(_) => Err(Error::invalid(format!(
            "{} must be greater than or equal to 0",
            humanize(key)
        ))),
        None => Err(Error::invalid(format!("{} is out of range", humanize(key)))),
    }
}

/// Overwrites `target` when the body named the field.
fn set<T: Clone>(target: &mut Option<T>, value: &Field<T>) {
    if let Some(v) = value {
        *target = v.clone();
    }
}

#[cfg(test)]
mod tests;
