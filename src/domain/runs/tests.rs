//! The status machine's rules, example by example and as properties.

use super::*;
use crate::domain::integrations::{Direction, EndSystemType};
use crate::domain::records::{ContactAlertType, RecordFields};
use crate::time;
use serde_json::json;

fn run(status: Status) -> Run {
    let t = time::parse("2026-11-28T10:00:00Z").unwrap();
    Run {
        version: 0,
        retry_of: None,
        attempt: 1,
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
    for open in [Status::Pending, Status::Running, Status::Paused] {
        assert_eq!(Action::Finish.target(open, true), Status::Failed);
        assert_eq!(Action::Finish.target(open, false), Status::Successful);
    }
}

#[test]
fn finish_on_a_finished_run_asks_for_the_status_it_has() {
    for done in [Status::Successful, Status::Failed] {
        for unresolved in [false, true] {
            assert_eq!(Action::Finish.target(done, unresolved), done);
        }
    }
    assert_eq!(
        Action::Success.target(Status::Failed, false),
        Status::Successful
    );
}

fn view(status: Status, resolved: &[bool]) -> RunView {
    let t = time::parse("2026-11-28T10:00:00Z").unwrap();
    let technical = RecordFields {
        contact_alert_type: Some(Some(ContactAlertType::Technical)),
        ..RecordFields::default()
    };
    let errors = resolved
        .iter()
        .map(|&resolved| Record {
            version: 0,
            resolved,
            ..Record::new(&technical, Some(1), false, t, None).unwrap()
        })
        .collect();
    RunView {
        run: run(status),
        integration: integration(1),
        integration_errors: errors,
    }
}

fn integration(id: i64) -> Integration {
    let t = time::parse("2026-11-28T09:00:00Z").unwrap();
    Integration {
        version: 0,
        id,
        code: format!("I{id}"),
        name: format!("Integration {id}"),
        business_object: "invoice".into(),
        direction: Direction::ToCoupa,
        end_system: "SAP".into(),
        end_system_type: EndSystemType::Erp,
        integration_type: None,
        standard: false,
        created_at: t,
        updated_at: t,
        created_by: None,
        updated_by: None,
    }
}

#[test]
fn finish_decides_by_the_runs_unresolved_errors_only() {
    let now = time::parse("2026-11-28T11:00:00Z").unwrap();
    for (resolved, expected) in [
        (&[][..], Status::Successful),
        (&[true, true][..], Status::Successful),
        (&[true, false][..], Status::Failed),
    ] {
        let mut v = view(Status::Running, resolved);
        assert!(
            v.apply(&RunFields::default(), Some(Action::Finish), None, now)
                .unwrap()
        );
        assert_eq!(v.run.status, expected, "errors resolved: {resolved:?}");
        assert_eq!(v.run.end_time, Some(now));
    }
}

#[test]
fn a_retried_finish_keeps_the_status_the_run_ended_with() {
    let now = time::parse("2026-11-28T11:00:00Z").unwrap();
    let mut v = view(Status::Successful, &[false]);
    v.run.end_time = Some(now);
    let before = v.clone();
    assert!(
        !v.apply(&RunFields::default(), Some(Action::Finish), None, now)
            .unwrap()
    );
    assert_eq!(v, before);
}

#[test]
fn moving_a_run_to_another_integration_changes_it_and_the_same_one_does_not() {
    let now = time::parse("2026-11-28T11:00:00Z").unwrap();
    let mut v = view(Status::Pending, &[]);
    let before = v.clone();
    assert!(
        !v.apply(&RunFields::default(), None, Some(integration(1)), now)
            .unwrap()
    );
    assert_eq!(v, before);
    assert!(
        v.apply(&RunFields::default(), None, Some(integration(2)), now)
            .unwrap()
    );
    assert_eq!((v.run.integration_id, v.integration.id), (2, 2));
    assert_eq!(v.run.updated_at, now);
}

#[test]
fn a_refused_move_leaves_the_view_untouched() {
    let now = time::parse("2026-11-28T11:00:00Z").unwrap();
    let mut v = view(Status::Failed, &[]);
    let before = v.clone();
    let refused = v.apply(
        &RunFields::default(),
        Some(Action::Run),
        Some(integration(2)),
        now,
    );
    assert!(refused.is_err());
    assert_eq!(v, before);
}

#[test]
fn a_new_run_needs_an_integration() {
    let refused = RunFields::default().integration_for_create().unwrap_err();
    assert_eq!(refused.to_string(), "Integration can't be blank");
    let fields = RunFields::parse(Body(
        json!({"integration": {"code": "X"}}).as_object().unwrap(),
    ))
    .unwrap();
    assert_eq!(
        fields.integration_for_create().unwrap().code.as_deref(),
        Some("X")
    );
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
fn a_repeated_action_applies_its_body_and_moves_no_status() {
    let started = time::parse("2026-11-28T10:30:00Z").unwrap();
    let now = time::parse("2026-11-28T11:00:00Z").unwrap();
    let mut r = Run {
        start_time: Some(started),
        ..run(Status::Running)
    };
    let fields = RunFields {
        total_records: Some(Some(9)),
        ..Default::default()
    };
    assert!(r.apply(&fields, Some(Status::Running), now).unwrap());
    assert_eq!(r.status, Status::Running);
    assert_eq!(r.total_records, Some(9));
    assert_eq!(r.start_time, Some(started), "a time already set stays");
    assert_eq!(r.updated_at, now);
}

#[test]
fn a_repeated_action_sets_its_time_only_when_it_is_empty() {
    let now = time::parse("2026-11-28T11:00:00Z").unwrap();
    let mut r = run(Status::Successful);
    assert!(
        r.apply(&RunFields::default(), Some(Status::Successful), now)
            .unwrap()
    );
    assert_eq!((r.status, r.end_time), (Status::Successful, Some(now)));
    let later = time::parse("2026-11-28T12:00:00Z").unwrap();
    assert!(
        !r.apply(&RunFields::default(), Some(Status::Successful), later)
            .unwrap()
    );
    assert_eq!(r.end_time, Some(now));
}

#[test]
fn a_write_that_changes_nothing_leaves_the_run_as_it_was() {
    let now = time::parse("2026-11-28T11:00:00Z").unwrap();
    let mut r = Run {
        start_time: Some(time::parse("2026-11-28T10:30:00Z").unwrap()),
        total_records: Some(9),
        flow: Some(json!({"step": 1, "files": ["a.csv"]})),
        ..run(Status::Running)
    };
    let before = r.clone();
    let same = RunFields {
        start_time: Some(before.start_time),
        end_time: Some(None),
        total_records: Some(Some(9)),
        flow: Some(Some(json!({"files": ["a.csv"], "step": 1}))),
        ..Default::default()
    };
    for target in [None, Some(Status::Running)] {
        assert!(!r.apply(&same, target, now).unwrap(), "{target:?}");
        assert_eq!(r, before, "{target:?}");
    }
}

#[test]
fn a_refused_write_leaves_the_run_as_it_was() {
    let now = time::parse("2026-11-28T11:00:00Z").unwrap();
    let mut r = Run {
        total_records: Some(5),
        ..run(Status::Successful)
    };
    let before = r.clone();
    let too_many = RunFields {
        records_processed: Some(Some(6)),
        ..Default::default()
    };
    assert!(r.apply(&too_many, Some(Status::Successful), now).is_err());
    assert!(
        r.apply(&RunFields::default(), Some(Status::Running), now)
            .is_err()
    );
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
    let nested =
        |levels: usize| (1..levels).fold(json!({"leaf": 1}), |inner, _| json!({ "a": inner }));
    assert!(parse(json!({ "flow": nested(MAX_FLOW_DEPTH) })).is_ok());
    assert!(parse(json!({ "flow": nested(MAX_FLOW_DEPTH + 1) })).is_err());
}

/// Property tests of the status machine: arbitrary sequences of writes, each checked
/// against a model of the rules that docs/api.md ("Runs") states, written from that page
/// rather than from [`Run::apply`].
mod properties {
    use super::super::*;
    use crate::time;
    use proptest::prelude::*;
    use proptest::test_runner::Config;
    use serde_json::{Map, Value, json};

    /// 2026-11-27T00:00:00Z: the day of the times that bodies carry.
    const DAY: i64 = 1_795_737_600;
    /// The clock of the first write; each later write is a minute later.
    const CLOCK: i64 = DAY + 86_400 + 10 * 3600;
    const TERMINAL: [&str; 2] = ["successful", "failed"];

    fn config() -> Config {
        Config {
            cases: 512,
            failure_persistence: None,
            ..Config::default()
        }
    }

    /// A count in a body.
    #[derive(Clone, Debug)]
    enum Count {
        Absent,
        Null,
        Number(i64),
        /// A numeric string, as XML carries every value.
        Text(i64),
        Junk,
    }

    /// A datetime in a body: hour `hour` of [`DAY`], in one of several spellings.
    #[derive(Clone, Debug)]
    enum When {
        Absent,
        Null,
        At { hour: i64, spelling: u8 },
        Junk,
    }

    #[derive(Clone, Debug)]
    enum Flow {
        Absent,
        Null,
        Step(u8),
    }

    #[derive(Clone, Debug)]
    struct BodySpec {
        start: When,
        end: When,
        total: Count,
        processed: Count,
        flow: Flow,
        /// `total_records` rather than `total-records`.
        underscored: bool,
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Act {
        Run,
        Pending,
        Pause,
        Success,
        Fail,
        Finish,
    }

    #[derive(Clone, Debug)]
    enum Step {
        /// `PUT …/<action>` with a body, or a plain `PUT`/`PATCH` without one.
        Write(Option<Act>, BodySpec),
        /// The run gets an unresolved error (true) or its errors are resolved (false):
        /// all that `finish` looks at.
        Errors(bool),
    }

    fn count() -> impl Strategy<Value = Count> {
        prop_oneof![
            4 => Just(Count::Absent),
            1 => Just(Count::Null),
            4 => (-2i64..=12).prop_map(Count::Number),
            1 => (0i64..=12).prop_map(Count::Text),
            1 => Just(Count::Junk),
        ]
    }

    fn when() -> impl Strategy<Value = When> {
        prop_oneof![
            6 => Just(When::Absent),
            1 => Just(When::Null),
            2 => (0i64..6, 0u8..4).prop_map(|(hour, spelling)| When::At { hour, spelling }),
            1 => Just(When::Junk),
        ]
    }

    fn flow() -> impl Strategy<Value = Flow> {
        prop_oneof![
            4 => Just(Flow::Absent),
            1 => Just(Flow::Null),
            1 => (0u8..3).prop_map(Flow::Step),
        ]
    }

    fn body() -> impl Strategy<Value = BodySpec> {
        (when(), when(), count(), count(), flow(), any::<bool>()).prop_map(
            |(start, end, total, processed, flow, underscored)| BodySpec {
                start,
                end,
                total,
                processed,
                flow,
                underscored,
            },
        )
    }

    fn act() -> impl Strategy<Value = Act> {
        prop_oneof![
            Just(Act::Run),
            Just(Act::Pending),
            Just(Act::Pause),
            Just(Act::Success),
            Just(Act::Fail),
            Just(Act::Finish),
        ]
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => body().prop_map(|b| Step::Write(None, b)),
            6 => (act(), body()).prop_map(|(a, b)| Step::Write(Some(a), b)),
            1 => any::<bool>().prop_map(Step::Errors),
        ]
    }

    impl Act {
        fn action(self) -> Action {
            match self {
                Act::Run => Action::Run,
                Act::Pending => Action::Pending,
                Act::Pause => Action::Pause,
                Act::Success => Action::Success,
                Act::Fail => Action::Fail,
                Act::Finish => Action::Finish,
            }
        }

        /// The status docs/api.md says the action asks for, of a run in status `from`:
        /// `finish` on a finished run repeats its status.
        fn target(self, from: &'static str, unresolved: bool) -> &'static str {
            match self {
                Act::Finish if TERMINAL.contains(&from) => from,
                Act::Run => "running",
                Act::Pending => "pending",
                Act::Pause => "paused",
                Act::Success => "successful",
                Act::Fail => "failed",
                Act::Finish if unresolved => "failed",
                Act::Finish => "successful",
            }
        }
    }

    impl When {
        fn json(&self) -> Option<Value> {
            match *self {
                When::Absent => None,
                When::Null => Some(Value::Null),
                When::Junk => Some(json!("the day after tomorrow")),
                When::At { hour: h, spelling } => Some(Value::String(match spelling {
                    0 => format!("2026-11-27T{h:02}:00:00Z"),
                    1 => format!("2026-11-27T{h:02}:00:00.999+00:00"),
                    2 => format!("2026-11-27 {h:02}:00:00"),
                    _ => format!("2026-11-27T{:02}:00:00+02:00", h + 2),
                })),
            }
        }

        /// What the field becomes: `None` to leave it, `Some(value)` to set it.
        fn model(&self) -> Option<Option<i64>> {
            match *self {
                When::Absent | When::Junk => None,
                When::Null => Some(None),
                When::At { hour, .. } => Some(Some(DAY + hour * 3600)),
            }
        }
    }

    impl Count {
        fn json(&self) -> Option<Value> {
            match *self {
                Count::Absent => None,
                Count::Null => Some(Value::Null),
                Count::Number(n) => Some(json!(n)),
                Count::Text(n) => Some(json!(n.to_string())),
                Count::Junk => Some(json!("a dozen")),
            }
        }

        fn model(&self) -> Option<Option<i64>> {
            match *self {
                Count::Absent | Count::Junk => None,
                Count::Null => Some(None),
                Count::Number(n) | Count::Text(n) => Some(Some(n)),
            }
        }

        fn valid(&self) -> bool {
            match *self {
                Count::Junk => false,
                Count::Number(n) => n >= 0,
                _ => true,
            }
        }
    }

    impl BodySpec {
        fn json(&self) -> Map<String, Value> {
            let key = |k: &str| {
                if self.underscored {
                    k.replace('-', "_")
                } else {
                    k.to_owned()
                }
            };
            let flow = match self.flow {
                Flow::Absent => None,
                Flow::Null => Some(Value::Null),
                Flow::Step(n) => Some(json!({"step": n, "files": ["a.csv"]})),
            };
            [
                ("start-time", self.start.json()),
                ("end-time", self.end.json()),
                ("total-records", self.total.json()),
                ("records-processed", self.processed.json()),
                ("flow", flow),
            ]
            .into_iter()
            .filter_map(|(k, v)| Some((key(k), v?)))
            .collect()
        }

        /// Whether the body passes validation on its own: counts are integers ≥ 0,
        /// times are datetimes.
        fn valid(&self) -> bool {
            self.total.valid()
                && self.processed.valid()
                && !matches!(self.start, When::Junk)
                && !matches!(self.end, When::Junk)
        }
    }

    /// A run as the rules see it: times in seconds.
    #[derive(Clone, Debug, PartialEq)]
    struct Model {
        status: &'static str,
        start: Option<i64>,
        end: Option<i64>,
        total: Option<i64>,
        processed: Option<i64>,
        flow: Option<Value>,
        updated: i64,
    }

    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Refusal {
        /// The body does not validate.
        Body,
        /// A move out of a terminal status.
        Status,
        /// More records processed than there are.
        Counts,
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Outcome {
        Refused(Refusal),
        /// The write leaves every value as it was: 200, the run untouched.
        Unchanged,
        Changed(Model),
    }

    /// What docs/api.md says a write does to a run in state `m` at `now`.
    fn expected(
        m: &Model,
        act: Option<Act>,
        body: &BodySpec,
        unresolved: bool,
        now: i64,
    ) -> Outcome {
        if !body.valid() {
            return Outcome::Refused(Refusal::Body);
        }
        let target = act.map(|a| a.target(m.status, unresolved));
        if let Some(to) = target
            && to != m.status
            && TERMINAL.contains(&m.status)
        {
            return Outcome::Refused(Refusal::Status);
        }
        let mut n = m.clone();
        n.status = target.unwrap_or(m.status);
        let set = |field: &mut Option<i64>, value: Option<Option<i64>>| {
            if let Some(v) = value {
                *field = v;
            }
        };
        set(&mut n.start, body.start.model());
        set(&mut n.end, body.end.model());
        set(&mut n.total, body.total.model());
        set(&mut n.processed, body.processed.model());
        match &body.flow {
            Flow::Absent => {}
            Flow::Null => n.flow = None,
            Flow::Step(k) => n.flow = Some(json!({"step": k, "files": ["a.csv"]})),
        }
        if target == Some("running") && n.start.is_none() {
            n.start = Some(now);
        }
        if target.is_some_and(|t| TERMINAL.contains(&t)) && n.end.is_none() {
            n.end = Some(now);
        }
        if let (Some(total), Some(processed)) = (n.total, n.processed)
            && processed > total
        {
            return Outcome::Refused(Refusal::Counts);
        }
        if n == *m {
            return Outcome::Unchanged;
        }
        n.updated = now;
        Outcome::Changed(n)
    }

    fn model_of(r: &Run) -> Model {
        Model {
            status: r.status.as_str(),
            start: r.start_time.map(|t| t.timestamp()),
            end: r.end_time.map(|t| t.timestamp()),
            total: r.total_records,
            processed: r.records_processed,
            flow: r.flow.clone(),
            updated: r.updated_at.timestamp(),
        }
    }

    /// What the implementation does: parse the body, apply it to a copy, and keep the
    /// copy only when it changed (as the store writes it back only then).
    fn actual(
        r: &mut Run,
        act: Option<Act>,
        body: &BodySpec,
        unresolved: bool,
        now: i64,
    ) -> Outcome {
        let json = body.json();
        let fields = match RunFields::parse(Body(&json)) {
            Ok(fields) => fields,
            Err(e) => {
                assert!(matches!(e, Error::Invalid(_)), "{e:?}");
                return Outcome::Refused(Refusal::Body);
            }
        };
        let target = act.map(|a| a.action().target(r.status, unresolved));
        let mut next = r.clone();
        let now = time::from_unix(now).unwrap();
        match next.apply(&fields, target, now) {
            Ok(true) => {
                *r = next;
                Outcome::Changed(model_of(r))
            }
            Ok(false) => {
                assert_eq!(&next, r, "a write that changed nothing changed the run");
                Outcome::Unchanged
            }
            Err(Error::Invalid(messages)) => {
                let message = messages.join("; ");
                let from = r.status.as_str();
                let to = target.map(Status::as_str).unwrap_or(from);
                if message == format!("Cannot move an integration run from {from} to {to}") {
                    Outcome::Refused(Refusal::Status)
                } else if message.starts_with("Records processed") {
                    Outcome::Refused(Refusal::Counts)
                } else {
                    panic!("unexpected refusal: {message}")
                }
            }
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }

    fn new_run() -> Run {
        let t = time::from_unix(CLOCK).unwrap();
        Run {
            version: 0,
            retry_of: None,
            attempt: 1,
            id: 7,
            ..Run::pending(3, t, None)
        }
    }

    /// Creates a run with `create` (as `POST` does: a pending run with the body applied),
    /// then plays `steps` against it and the model side by side, checking the invariants
    /// after each. Returns the run, the model's view of it and the last clock.
    fn play(create: &BodySpec, steps: &[Step]) -> Result<(Run, bool, i64), TestCaseError> {
        let mut run = new_run();
        let blank = model_of(&run);
        let want = expected(&blank, None, create, false, CLOCK);
        let got = actual(&mut run, None, create, false, CLOCK);
        prop_assert_eq!(&got, &want, "create with {:?}", create.json());
        let mut unresolved = false;
        let mut now = CLOCK;
        for (i, step) in steps.iter().enumerate() {
            let (act, body) = match step {
                Step::Errors(flag) => {
                    unresolved = *flag;
                    continue;
                }
                Step::Write(act, body) => (*act, body),
            };
            now += 60;
            let before = run.clone();
            let model = model_of(&run);
            let want = expected(&model, act, body, unresolved, now);
            let got = actual(&mut run, act, body, unresolved, now);
            let context = format!(
                "step {i}: {act:?} {:?} on {model:?} (unresolved errors: {unresolved})",
                body.json()
            );
            prop_assert_eq!(&got, &want, "{}", context);

            // The invariants, stated on their own.
            let after = model_of(&run);
            if !matches!(got, Outcome::Changed(_)) {
                prop_assert_eq!(
                    &run,
                    &before,
                    "{}: a write that did not apply changed the run",
                    context
                );
                continue;
            }
            if TERMINAL.contains(&model.status) {
                prop_assert_eq!(
                    after.status,
                    model.status,
                    "{}: a terminal status moved",
                    context
                );
            }
            match act.map(|a| a.target(model.status, unresolved)) {
                Some("running") => prop_assert!(
                    after.start.is_some(),
                    "{}: running without a start-time",
                    context
                ),
                Some(t) if TERMINAL.contains(&t) => prop_assert!(
                    after.end.is_some(),
                    "{}: {} without an end-time",
                    context,
                    t
                ),
                _ => {}
            }
            if let (Some(total), Some(processed)) = (after.total, after.processed) {
                prop_assert!(
                    processed <= total,
                    "{}: {} processed of {}",
                    context,
                    processed,
                    total
                );
            }
            if matches!(body.start, When::Absent) && model.start.is_some() {
                prop_assert_eq!(
                    after.start,
                    model.start,
                    "{}: a start-time was overwritten",
                    context
                );
            }
            if matches!(body.end, When::Absent) && model.end.is_some() {
                prop_assert_eq!(
                    after.end,
                    model.end,
                    "{}: an end-time was overwritten",
                    context
                );
            }
            prop_assert_eq!(after.updated, now, "{}", context);
            prop_assert_eq!(
                (run.id, run.integration_id, run.created_at),
                (before.id, before.integration_id, before.created_at),
                "{}",
                context
            );
        }
        Ok((run, unresolved, now))
    }

    proptest! {
        #![proptest_config(config())]

        /// Any sequence of writes does exactly what the rules say, and never breaks an
        /// invariant: only allowed moves, terminal statuses stay, times set when they
        /// must be and never overwritten, processed ≤ total, refusals change nothing.
        #[test]
        fn any_sequence_of_writes_follows_the_documented_rules(
            create in body(),
            steps in prop::collection::vec(step(), 0..40),
        ) {
            play(&create, &steps)?;
        }

        /// A retried action is harmless: once an action has moved a run, sending it again
        /// with the same body changes nothing (unless that body clears the very time the
        /// action sets: the retry sets it again). Sent with another body, the action
        /// moves no status and applies the body, as the rules say.
        #[test]
        fn a_repeated_action_is_harmless(
            steps in prop::collection::vec(step(), 0..20),
            act in act(),
            first in body(),
            again in body(),
        ) {
            let (mut run, unresolved, now) = play(&body_of_nothing(), &steps)?;
            let moved = actual(&mut run, Some(act), &first, unresolved, now + 60);
            let Outcome::Changed(_) = moved else {
                return Ok(());
            };
            let status = run.status;
            let target = act.target(status.as_str(), unresolved);
            let clears_its_time = match target {
                "running" => matches!(first.start, When::Null),
                t if TERMINAL.contains(&t) => matches!(first.end, When::Null),
                _ => false,
            };
            let before = run.clone();
            let retried = actual(&mut run, Some(act), &first, unresolved, now + 120);
            if !clears_its_time {
                let context = format!("{act:?} with {:?}", first.json());
                prop_assert_eq!(retried, Outcome::Unchanged, "{}", context);
                prop_assert_eq!(&run, &before);
            }
            let model = model_of(&run);
            let want = expected(&model, Some(act), &again, unresolved, now + 180);
            let repeated = actual(&mut run, Some(act), &again, unresolved, now + 180);
            prop_assert_eq!(&repeated, &want, "{:?} again with {:?}", act, again.json());
            prop_assert_eq!(run.status, status, "a repeated action moved the status");
        }
    }

    fn body_of_nothing() -> BodySpec {
        BodySpec {
            start: When::Absent,
            end: When::Absent,
            total: Count::Absent,
            processed: Count::Absent,
            flow: Flow::Absent,
            underscored: false,
        }
    }
}

#[test]
fn a_status_reads_back_as_written_and_only_so() {
    for status in Status::ALL {
        assert_eq!(Status::parse(status.as_str()), Some(status));
    }
    for refused in ["", "Pending", "FAILED", "done"] {
        assert_eq!(Status::parse(refused), None, "{refused:?}");
    }
}
