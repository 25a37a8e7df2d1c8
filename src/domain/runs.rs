//! Integration runs and their status machine (spec §1.1, §1.2).
//!
//! Everything a write does to a run is decided by [`Run::apply`], a pure function of the
//! current run, the body and the action; the store only has to load, apply and write back
//! under a condition on the status it read.

use std::fmt;

use serde_json::Value;

use super::Actor;
use super::input::{Body, Checker, Field};
use super::integration_errors::IntegrationError;
use super::integrations::{Integration, IntegrationRef};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// The largest `flow` object accepted, serialized as JSON.
pub const MAX_FLOW_BYTES: usize = 16 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Pending,
    Running,
    Paused,
    Successful,
    Failed,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Pending,
        Status::Running,
        Status::Paused,
        Status::Successful,
        Status::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Successful => "successful",
            Status::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

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
    /// The status this action moves a run to.
    pub fn target(self, has_unresolved_errors: bool) -> Status {
        match self {
            Action::Run => Status::Running,
            Action::Pending => Status::Pending,
            Action::Pause => Status::Paused,
            Action::Success => Status::Successful,
            Action::Fail => Status::Failed,
            Action::Finish if has_unresolved_errors => Status::Failed,
            Action::Finish => Status::Successful,
        }
    }
}

/// What a status action does to a run in status `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// The run already has the status: a retried request, answered with the run unchanged.
    Unchanged,
    Move(Status),
}

/// The status machine. Any move out of `pending`, `running` or `paused` is allowed;
/// `successful` and `failed` are terminal; repeating the current status is a no-op.
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
}

/// A run as the API shows it: with its integration and its errors.
#[derive(Clone, Debug, PartialEq)]
pub struct RunView {
    pub run: Run,
    pub integration: Integration,
    pub errors: Vec<IntegrationError>,
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
}

impl RunFields {
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
        };
        c.finish()?;
        Ok(fields)
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

/// Flow must survive a trip through XML, so each key must be an XML element name.
fn first_bad_key(value: &Value) -> Option<&str> {
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
    /// Applies an update and, with `target`, a status move, as of `now`.
    ///
    /// Returns `false` when the action repeats the current status: the run stays exactly as
    /// it was, body and all, so that a retried request is harmless.
    pub fn apply(
        &mut self,
        fields: &RunFields,
        target: Option<Status>,
        now: Timestamp,
    ) -> Result<bool> {
        if let Some(to) = target {
            match transition(self.status, to)? {
                Transition::Unchanged => return Ok(false),
                Transition::Move(to) => self.status = to,
            }
        }
        set(&mut self.start_time, &fields.start_time);
        set(&mut self.end_time, &fields.end_time);
        set(&mut self.total_records, &fields.total_records);
        set(&mut self.records_processed, &fields.records_processed);
        set(&mut self.flow, &fields.flow);
        match target {
            Some(Status::Running) if self.start_time.is_none() => self.start_time = Some(now),
            Some(s) if s.is_terminal() && self.end_time.is_none() => self.end_time = Some(now),
            _ => {}
        }
        if let (Some(total), Some(processed)) = (self.total_records, self.records_processed)
            && processed > total
        {
            return Err(Error::invalid(format!(
                "Records processed ({processed}) must be less than or equal to total records ({total})"
            )));
        }
        self.updated_at = now;
        Ok(true)
    }
}

/// Overwrites `target` when the body named the field.
fn set<T: Clone>(target: &mut Option<T>, value: &Field<T>) {
    if let Some(v) = value {
        *target = v.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time;
    use serde_json::json;

    fn run(status: Status) -> Run {
        let t = time::parse("2026-11-28T10:00:00Z").unwrap();
        Run {
            id: 1,
            integration_id: 1,
            status,
            start_time: None,
            end_time: None,
            total_records: None,
            records_processed: None,
            flow: None,
            created_at: t,
            updated_at: t,
            created_by: None,
            updated_by: None,
        }
    }

    #[test]
    fn open_statuses_move_anywhere() {
        for from in [Status::Pending, Status::Running, Status::Paused] {
            for to in Status::ALL {
                let expected = if from == to {
                    Transition::Unchanged
                } else {
                    Transition::Move(to)
                };
                assert_eq!(transition(from, to).unwrap(), expected, "{from} → {to}");
            }
        }
    }

    #[test]
    fn terminal_statuses_only_repeat() {
        for from in [Status::Successful, Status::Failed] {
            for to in Status::ALL {
                let result = transition(from, to);
                if from == to {
                    assert_eq!(result.unwrap(), Transition::Unchanged);
                } else {
                    let message = result.unwrap_err().to_string();
                    assert_eq!(
                        message,
                        format!("Cannot move an integration run from {from} to {to}")
                    );
                }
            }
        }
    }

    #[test]
    fn finish_fails_a_run_with_unresolved_errors() {
        assert_eq!(Action::Finish.target(true), Status::Failed);
        assert_eq!(Action::Finish.target(false), Status::Successful);
    }

    #[test]
    fn run_sets_start_time_and_terminal_actions_set_end_time() {
        let now = time::parse("2026-11-28T11:00:00Z").unwrap();
        let mut r = run(Status::Pending);
        assert!(
            r.apply(&RunFields::default(), Some(Status::Running), now)
                .unwrap()
        );
        assert_eq!(r.start_time, Some(now));
        assert_eq!(r.end_time, None);
        let given = time::parse("2026-11-28T10:30:00Z").unwrap();
        let fields = RunFields {
            end_time: Some(Some(given)),
            ..Default::default()
        };
        r.apply(&fields, Some(Status::Successful), now).unwrap();
        assert_eq!(r.end_time, Some(given), "a value in the body wins");
        assert_eq!(r.updated_at, now);
    }

    #[test]
    fn a_repeated_action_changes_nothing() {
        let now = time::parse("2026-11-28T11:00:00Z").unwrap();
        let mut r = run(Status::Running);
        let before = r.clone();
        let fields = RunFields {
            total_records: Some(Some(9)),
            ..Default::default()
        };
        assert!(!r.apply(&fields, Some(Status::Running), now).unwrap());
        assert_eq!(r, before);
    }

    #[test]
    fn processed_may_not_exceed_total() {
        let now = time::now();
        let mut r = run(Status::Running);
        let fields = RunFields {
            total_records: Some(Some(5)),
            records_processed: Some(Some(6)),
            ..Default::default()
        };
        assert!(r.apply(&fields, None, now).is_err());
    }

    #[test]
    fn flow_must_be_a_small_object_with_element_names() {
        let parse = |v: Value| RunFields::parse(Body(v.as_object().unwrap()));
        assert!(parse(json!({"flow": {"step": [{"a": 1}]}})).is_ok());
        assert!(parse(json!({"flow": "text"})).is_err());
        assert!(parse(json!({"flow": {"has space": 1}})).is_err());
        assert!(parse(json!({"flow": {"big": "x".repeat(MAX_FLOW_BYTES)}})).is_err());
    }
}
