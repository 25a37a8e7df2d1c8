//! Bulk actions: one status action (`fail`, `pause`) or `resolve`/`unresolve` applied to
//! every record a query selects, all in one transaction or not at all.
//!
//! What happens to each record is the single action's rule, decided here; a record the rule
//! leaves as it is (already failed) or refuses (a finished run cannot be paused) is skipped
//! with the reason, and the rest goes ahead.

use super::Actor;
use super::records::{Record, RecordKind};
use super::runs::{Action, RunFields, RunView};
use crate::error::{Error, Result};
use crate::time::Timestamp;

/// The most records one bulk action may touch: a query that selects more is refused whole,
/// so that a mistaken query cannot change the whole history at once.
pub const MAX_BULK: usize = 1000;

/// What a bulk action did, or would do: how many records its query matched, those it
/// changed (as they are after the action), and those it skipped, with why.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome<T> {
    pub matched: usize,
    pub changed: Vec<T>,
    pub skipped: Vec<Skip>,
}

impl<T> Default for Outcome<T> {
    fn default() -> Self {
        Outcome {
            matched: 0,
            changed: Vec::new(),
            skipped: Vec::new(),
        }
    }
}

/// A matched record that the action leaves as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skip {
    pub id: i64,
    pub reason: String,
}

/// The refusal of a query that matches more than [`MAX_BULK`] records (`noun`: plural).
pub fn too_many(matched: i64, noun: &str) -> Error {
    Error::invalid(format!(
        "The query matches {matched} {noun}, and a bulk action takes at most {MAX_BULK}: \
         narrow it down (nothing was changed)"
    ))
}

/// Applies `action` to a run as the single action would, as of `now`: `None` when the run
/// changed (`view` is then the run after it), else why it is skipped (`view` unchanged).
/// A refusal of the status machine is a reason; any other error is the whole bulk's.
pub fn act_on_run(view: &mut RunView, action: Action, now: Timestamp) -> Result<Option<String>> {
    match view.apply(&RunFields::default(), Some(action), None, now) {
        Ok(true) => Ok(None),
        Ok(false) => Ok(Some(format!(
            "Integration run {} is already {}",
            view.run.id, view.run.status
        ))),
        Err(Error::Invalid(messages)) => Ok(Some(messages.join("; "))),
        Err(other) => Err(other),
    }
}

/// Sets a record's `resolved` as `resolve`/`unresolve` do, as of `now`, by `actor`: `None`
/// when it changed (`record` is then as stored after it), else why it is skipped.
pub fn resolve_record(
    record: &mut Record,
    kind: RecordKind,
    resolved: bool,
    now: Timestamp,
    actor: Option<&Actor>,
) -> Option<String> {
    if record.resolved == resolved {
        let state = if resolved { "resolved" } else { "unresolved" };
        let noun = match kind {
            RecordKind::Error => "Integration error",
            RecordKind::History => "Integration history record",
        };
        return Some(format!("{noun} {} is already {state}", record.id));
    }
    record.resolved = resolved;
    record.updated_at = now;
    record.updated_by = actor.cloned();
    record.version += 1;
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::integrations::{Direction, EndSystemType, Integration};
    use crate::domain::records::{ContactAlertType, RecordFields};
    use crate::domain::runs::{Run, Status};
    use crate::time;

    fn at(s: &str) -> Timestamp {
        time::parse(s).unwrap()
    }

    fn view(status: Status) -> RunView {
        let mut run = Run::pending(1, at("2026-12-01T10:00:00Z"), None);
        run.id = 9;
        run.status = status;
        if status.is_terminal() {
            // As a finish leaves it: a repeat of `fail` would set an empty end time.
            run.end_time = Some(run.created_at);
        }
        let created = run.created_at;
        RunView {
            run,
            integration: Integration {
                id: 1,
                version: 0,
                code: "I1".into(),
                name: "Integration 1".into(),
                business_object: "invoice".into(),
                direction: Direction::ToCoupa,
                end_system: "SAP".into(),
                end_system_type: EndSystemType::Erp,
                integration_type: None,
                standard: false,
                created_at: created,
                updated_at: created,
                created_by: None,
                updated_by: None,
            },
            integration_errors: Vec::new(),
        }
    }

    #[test]
    fn a_bulk_fail_moves_an_open_run_and_sets_its_end_time() {
        let now = at("2026-12-01T11:00:00Z");
        let mut run = view(Status::Running);
        assert_eq!(act_on_run(&mut run, Action::Fail, now).unwrap(), None);
        assert_eq!(run.run.status, Status::Failed);
        assert_eq!(run.run.end_time, Some(now));
        assert_eq!(run.run.updated_at, now);
    }

    #[test]
    fn a_run_the_action_leaves_or_refuses_is_skipped_with_the_reason() {
        let now = at("2026-12-01T11:00:00Z");
        let mut failed = view(Status::Failed);
        let before = failed.clone();
        assert_eq!(
            act_on_run(&mut failed, Action::Fail, now).unwrap().unwrap(),
            "Integration run 9 is already failed"
        );
        assert_eq!(failed, before);
        let mut done = view(Status::Successful);
        assert_eq!(
            act_on_run(&mut done, Action::Pause, now).unwrap().unwrap(),
            "Cannot move an integration run from successful to paused"
        );
        assert_eq!(done.run.status, Status::Successful);
    }

    #[test]
    fn resolving_a_resolved_record_is_skipped_and_an_open_one_changes_with_its_author() {
        let now = at("2026-12-01T11:00:00Z");
        let technical = RecordFields {
            contact_alert_type: Some(Some(ContactAlertType::Technical)),
            ..RecordFields::default()
        };
        let mut record = Record::new(&technical, Some(1), false, now, None).unwrap();
        record.id = 4;
        let by = Actor {
            id: 2,
            login: "ops".into(),
        };
        let version = record.version;
        assert_eq!(
            resolve_record(&mut record, RecordKind::Error, true, now, Some(&by)),
            None
        );
        assert!(record.resolved);
        assert_eq!(record.updated_by, Some(by.clone()));
        assert_eq!(record.version, version + 1);
        assert_eq!(
            resolve_record(&mut record, RecordKind::Error, true, now, Some(&by)).unwrap(),
            format!("Integration error {} is already resolved", record.id)
        );
    }
}
