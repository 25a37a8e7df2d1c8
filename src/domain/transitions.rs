//! The transition log: every change of a run, as an entry written once in the transaction
//! of the change: when, by whom, why (`cause`), its status before and after, and each value
//! that changed, from → to.

use serde_json::{Value, json};

use super::Actor;
use super::runs::{Action, Run, Status};
use super::vocabulary::vocabulary;
use crate::time::{self, Timestamp};

vocabulary! {
    /// Why a run changed: a request of the API (`create`, `update`, or the status action
    /// by its name), a bulk action (`bulk`), a ping, an OpenLineage event (`lineage`), or the
    /// sweeper (`missed`, `stuck`, `timeout`, `health`).
    pub enum Cause {
        Create = "create",
        Update = "update",
        Run = "run",
        Pending = "pending",
        Pause = "pause",
        Success = "success",
        Fail = "fail",
        Finish = "finish",
        Ping = "ping",
        Lineage = "lineage",
        Missed = "missed",
        Stuck = "stuck",
        Timeout = "timeout",
        Health = "health",
        Bulk = "bulk",
    }
}

impl Cause {
    /// The cause of an API update: the status action it carries, else `update`.
    pub fn of(action: Option<Action>) -> Cause {
        match action {
            None => Cause::Update,
            Some(Action::Run) => Cause::Run,
            Some(Action::Pending) => Cause::Pending,
            Some(Action::Pause) => Cause::Pause,
            Some(Action::Success) => Cause::Success,
            Some(Action::Fail) => Cause::Fail,
            Some(Action::Finish) => Cause::Finish,
        }
    }
}

/// One entry of the log, as it is stored and shown.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub id: i64,
    pub integration_run_id: i64,
    pub integration_id: i64,
    pub cause: Cause,
    /// None for the entry that created the run.
    pub from_status: Option<Status>,
    pub to_status: Status,
    /// `[{"field": …, "from": …, "to": …}]`, in the run document's order and spelling.
    pub changes: Value,
    pub created_at: Timestamp,
    pub created_by: Option<Actor>,
}

impl Entry {
    /// The entry of a write that took the run from `before` (none when it created it) to
    /// `after`, at `at` (not yet stored: its id is 0).
    pub fn of_write(before: Option<&Run>, after: &Run, cause: Cause, at: Timestamp) -> Entry {
        Entry {
            id: 0,
            integration_run_id: after.id,
            integration_id: after.integration_id,
            cause,
            from_status: before.map(|run| run.status),
            to_status: after.status,
            changes: Value::Array(changes(before, after)),
            created_at: at,
            created_by: after.updated_by.clone(),
        }
    }

    /// An entry that changed something beside the run's own elements (the sweeper's mark of
    /// a stuck run, a change of its monitor's health): `field` from → to, status unchanged.
    pub fn of_mark(
        run: &Run,
        cause: Cause,
        field: &str,
        from: Value,
        to: Value,
        at: Timestamp,
    ) -> Entry {
        Entry {
            id: 0,
            integration_run_id: run.id,
            integration_id: run.integration_id,
            cause,
            from_status: Some(run.status),
            to_status: run.status,
            changes: json!([{ "field": field, "from": from, "to": to }]),
            created_at: at,
            created_by: None,
        }
    }
}

impl Entry {
    /// A bulk action's entry on a run whose integration errors it resolved or unresolved
    /// (`resolved`: the errors' new value), by `by`: one change per error, in id order,
    /// `integration-error-<id>-resolved` from → to; the run's own status unchanged.
    pub fn of_errors(
        run: &Run,
        errors: &[i64],
        resolved: bool,
        at: Timestamp,
        by: Option<Actor>,
    ) -> Entry {
        let changes = errors
            .iter()
            .map(|id| {
                let field = format!("integration-error-{id}-resolved");
                json!({ "field": field, "from": !resolved, "to": resolved })
            })
            .collect();
        Entry {
            id: 0,
            integration_run_id: run.id,
            integration_id: run.integration_id,
            cause: Cause::Bulk,
            from_status: Some(run.status),
            to_status: run.status,
            changes: Value::Array(changes),
            created_at: at,
            created_by: by,
        }
    }
}

/// Each element of the run document that differs between `before` and `after` (every one
/// that is set, for a new run), as `{"field", "from", "to"}`.
pub fn changes(before: Option<&Run>, after: &Run) -> Vec<Value> {
    let time = |t: Option<Timestamp>| t.map_or(Value::Null, |t| Value::String(time::format(&t)));
    let values = |run: &Run| -> [(&'static str, Value); 9] {
        [
            ("integration", json!(run.integration_id)),
            ("status", json!(run.status.as_str())),
            ("start-time", time(run.start_time)),
            ("end-time", time(run.end_time)),
            ("total-records", json!(run.total_records)),
            ("records-processed", json!(run.records_processed)),
            ("flow", run.flow.clone().unwrap_or(Value::Null)),
            ("retry-of", json!(run.retry_of)),
            ("attempt", json!(run.attempt)),
        ]
    };
    let new = values(after);
    let old = before.map(values);
    new.into_iter()
        .enumerate()
        .filter_map(|(i, (field, to))| {
            let from = match &old {
                Some(old) => old[i].1.clone(),
                None => Value::Null,
            };
            let new_and_default = before.is_none() && field == "attempt" && to == json!(1);
            (from != to && !new_and_default)
                .then(|| json!({ "field": field, "from": from, "to": to }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::runs::RunFields;

    fn at(s: &str) -> Timestamp {
        time::parse(s).unwrap()
    }

    #[test]
    fn a_new_run_logs_every_element_it_was_created_with() {
        let mut run = Run::pending(3, at("2026-12-01T10:00:00Z"), None);
        run.id = 9;
        run.total_records = Some(10);
        let entry = Entry::of_write(None, &run, Cause::Create, run.created_at);
        assert_eq!(entry.from_status, None);
        assert_eq!(entry.to_status, Status::Pending);
        assert_eq!(
            entry.changes,
            json!([
                {"field": "integration", "from": null, "to": 3},
                {"field": "status", "from": null, "to": "pending"},
                {"field": "total-records", "from": null, "to": 10},
            ])
        );
    }

    #[test]
    fn a_write_logs_only_what_it_changed_from_and_to() {
        let now = at("2026-12-01T10:00:00Z");
        let before = Run::pending(3, now, None);
        let mut after = before.clone();
        let fields = RunFields {
            records_processed: Some(Some(4)),
            ..RunFields::default()
        };
        after
            .apply(&fields, Some(Status::Running), at("2026-12-01T10:00:05Z"))
            .unwrap();
        let entry = Entry::of_write(Some(&before), &after, Cause::Run, after.updated_at);
        assert_eq!(entry.from_status, Some(Status::Pending));
        assert_eq!(entry.to_status, Status::Running);
        assert_eq!(
            entry.changes,
            json!([
                {"field": "status", "from": "pending", "to": "running"},
                {"field": "start-time", "from": null, "to": "2026-12-01T10:00:05+00:00"},
                {"field": "records-processed", "from": null, "to": 4},
            ])
        );
    }

    #[test]
    fn a_bulk_resolve_logs_each_error_of_the_run_with_its_author() {
        let mut run = Run::pending(3, at("2026-12-01T10:00:00Z"), None);
        run.id = 9;
        let by = Actor {
            id: 1,
            login: "ops".into(),
        };
        let at = at("2026-12-01T11:00:00Z");
        let entry = Entry::of_errors(&run, &[4, 7], true, at, Some(by.clone()));
        assert_eq!(entry.cause, Cause::Bulk);
        assert_eq!(entry.from_status, Some(Status::Pending));
        assert_eq!(entry.to_status, Status::Pending);
        assert_eq!(entry.created_by, Some(by));
        assert_eq!(
            entry.changes,
            json!([
                {"field": "integration-error-4-resolved", "from": false, "to": true},
                {"field": "integration-error-7-resolved", "from": false, "to": true},
            ])
        );
    }

    #[test]
    fn every_action_has_its_own_cause_and_a_plain_update_is_update() {
        assert_eq!(Cause::of(None), Cause::Update);
        assert_eq!(Cause::of(Some(Action::Finish)).as_str(), "finish");
        assert_eq!(Cause::of(Some(Action::Pause)).as_str(), "pause");
    }
}
