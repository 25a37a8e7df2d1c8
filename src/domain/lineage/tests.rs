use serde_json::{Value, json};

use super::kept::LineageRun;
use super::merge::{FLOW_KEY, merge};
use super::*;
use crate::domain::runs::{Run, Status};
use crate::error::Error;

const RUN: &str = "d46e465b-d358-4d32-83d4-df660ff614dd";

/// The spec's simple START example (website/docs/spec/examples.md), with `eventType` and
/// `eventTime` as given.
fn event(kind: &str, time: &str) -> Value {
    json!({
        "eventType": kind,
        "eventTime": time,
        "run": {"runId": RUN},
        "job": {"namespace": "workshop", "name": "process_taxes"},
        "inputs": [{"namespace": "postgres://workshop-db:None", "name": "workshop.public.taxes"}],
        "producer": "https://github.com/OpenLineage/OpenLineage/blob/v1-0-0/client"
    })
}

fn parsed(value: &Value) -> Event {
    match Intake::parse(value).unwrap() {
        Intake::Run(event) => *event,
        other => panic!("{other:?}"),
    }
}

fn problems(value: &Value) -> Vec<String> {
    match Intake::parse(value) {
        Err(Error::Invalid(messages)) => messages,
        other => panic!("{other:?}"),
    }
}

fn at(text: &str) -> Timestamp {
    time::parse(text).unwrap()
}

#[test]
fn the_specs_start_example_reads_with_its_time_to_the_microsecond() {
    let event = parsed(&event("START", "2020-12-28T19:52:00.001+10:00"));
    assert_eq!(event.event_type, EventType::Start);
    assert_eq!(event.run_id.as_str(), RUN);
    assert_eq!(event.job.code(), "workshop/process_taxes");
    assert_eq!(event.event_time.at(), at("2020-12-28T09:52:00Z"));
    assert_eq!(event.event_time.text(), "2020-12-28T09:52:00.001Z");
    assert!(event.error.is_none() && event.outputs.is_empty());
}

#[test]
fn every_problem_of_a_malformed_event_is_listed_at_once() {
    let bad = json!({
        "eventType": "FINISHED",
        "eventTime": "yesterday",
        "run": {"runId": "..."},
        "job": {"namespace": "", "name": 7},
        "producer": "not a uri",
        "schemaURL": 12,
    });
    assert_eq!(
        problems(&bad),
        [
            "eventTime is not an RFC 3339 date-time with a zone (2020-12-28T19:52:00.001+10:00)",
            "producer is not a URI",
            "schemaURL must be a string",
            "eventType is not included in the list (START, RUNNING, COMPLETE, ABORT, FAIL, OTHER)",
            "run.runId is not a UUID",
            "job.namespace can't be blank",
            "job.name must be a string",
        ]
    );
}

#[test]
fn an_event_without_a_type_or_schema_url_is_an_other_event() {
    let mut value = event("START", "2020-12-28T19:52:00Z");
    value.as_object_mut().unwrap().remove("eventType");
    assert_eq!(parsed(&value).event_type, EventType::Other);
}

#[test]
fn an_event_without_a_run_is_static_metadata_that_is_kept() {
    let job_event = json!({"eventTime": "2020-12-28T19:52:00Z", "producer": "https://x.io/p",
                           "job": {"namespace": "ns", "name": "j"}});
    assert!(matches!(
        Intake::parse(&job_event),
        Ok(Intake::Static(StaticEvent { job: Some(_), .. }))
    ));
    let neither = json!({"eventTime": "2020-12-28T19:52:00Z", "producer": "https://x.io/p"});
    assert_eq!(
        problems(&neither),
        ["run can't be blank", "job can't be blank"]
    );
    // A type makes it a run event, whose run is missing.
    let typed = json!({"eventType": "DONE"});
    assert_eq!(
        problems(&typed),
        [
            "eventTime can't be blank",
            "producer can't be blank",
            "eventType is not included in the list (START, RUNNING, COMPLETE, ABORT, FAIL, OTHER)",
            "run can't be blank",
            "job can't be blank",
        ]
    );
}

#[test]
fn known_facets_are_read_and_a_malformed_one_is_a_problem() {
    let mut value = event("FAIL", "2020-12-28T20:52:00Z");
    value["run"]["facets"] = json!({
        "errorMessage": {"message": "failed", "programmingLanguage": "JAVA", "stackTrace": "at x\u{1b}[0m"},
        "nominalTime": {"nominalStartTime": "2020-12-28T09:00:00Z"},
        "parentRun": {"run": {"runId": "F99310B4-3C3C-1A1A-2B2B-C1B95C24FF11"},
                      "job": {"namespace": "dbt", "name": "dbt-job-name"}},
        "someVendor_custom": {"anything": [1, 2]},
    });
    value["outputs"] = json!([
        {"namespace": "pg", "name": "a", "outputFacets": {"outputStatistics": {"rowCount": 2000}}},
        {"namespace": "pg", "name": "b"},
    ]);
    let event = parsed(&value);
    let error = event.error.unwrap();
    assert_eq!(error.programming_language.as_deref(), Some("JAVA"));
    assert_eq!(error.stack_trace.as_deref(), Some("at x\u{FFFD}[0m"));
    assert_eq!(event.nominal.unwrap().start, at("2020-12-28T09:00:00Z"));
    let parent = event.parent.unwrap();
    assert_eq!(
        parent.run_id.as_str(),
        "f99310b4-3c3c-1a1a-2b2b-c1b95c24ff11"
    );
    assert_eq!(parent.job.name, "dbt-job-name");
    assert_eq!(event.outputs.len(), 1);
    assert_eq!(event.outputs[0].rows, 2000);

    let mut bad = value.clone();
    bad["run"]["facets"]["errorMessage"] = json!({"programmingLanguage": "JAVA"});
    bad["run"]["facets"]["parentRun"]["run"]["runId"] = json!("<job_run_id>");
    bad["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] = json!(-1);
    assert_eq!(
        problems(&bad),
        [
            "run.facets.errorMessage: missing field `message`",
            "run.facets.parentRun.run.runId is not a UUID",
            "outputs[0].outputFacets.outputStatistics.rowCount must be an integer of at least 0",
        ]
    );
}

#[test]
fn a_job_maps_to_a_code_that_fits_and_differs_by_case() {
    let job = |namespace: &str, name: &str| Job {
        namespace: namespace.into(),
        name: name.into(),
    };
    let short = job("airflow", "etl.orders");
    assert_eq!(short.code(), "airflow/etl.orders");
    assert_eq!(short.integration_name(), "etl.orders (airflow)");
    let long = job("spark", &"x".repeat(300));
    assert_eq!(long.code().chars().count(), MAX_KEY);
    assert_eq!(long.code(), long.hashed_code());
    assert_ne!(long.code(), job("spark", &"x".repeat(301)).code());
    assert_ne!(
        short.hashed_code(),
        job("airflow", "ETL.orders").hashed_code()
    );
    let new = short.new_integration(short.code(), short.integration_name());
    assert_eq!(new.end_system, "airflow");
    assert_eq!(new.business_object, BUSINESS_OBJECT);
}

#[test]
fn run_ids_are_uuids_in_form_kept_lowercase() {
    assert!(RunId::parse("3b452093-782c-4ef2-9c0c-aafe2aa6f34d").is_some());
    for bad in [
        "",
        "...",
        "3b452093782c4ef29c0caafe2aa6f34d",
        "3b452093-782c-4ef2-9c0c-aafe2aa6f34g",
    ] {
        assert!(RunId::parse(bad).is_none(), "{bad}");
    }
}

/// A run and its lineage state after `events`, each merged as the store merges them.
fn after(events: &[Value]) -> (Run, LineageRun, Vec<String>) {
    let now = at("2026-12-02T12:00:00Z");
    let first = parsed(&events[0]);
    let mut run = Run::pending(1, now, None);
    let mut state = LineageRun::new(first.run_id.clone(), first.job.clone(), now);
    let mut errors = Vec::new();
    for value in events {
        let event = parsed(value);
        if let Some(merged) = merge(&run, &state, &event) {
            run.apply(&merged.fields, merged.target, now).unwrap();
            state = merged.state;
            errors.extend(merged.error.and_then(|e| e.response_message));
        }
    }
    (run, state, errors)
}

#[test]
fn start_running_complete_make_a_successful_run_with_the_events_times() {
    let (run, state, errors) = after(&[
        event("START", "2020-12-28T19:52:00.001+10:00"),
        event("RUNNING", "2020-12-28T20:22:00+10:00"),
        event("COMPLETE", "2020-12-28T20:52:00.001+10:00"),
    ]);
    assert_eq!(run.status, Status::Successful);
    assert_eq!(run.start_time, Some(at("2020-12-28T09:52:00Z")));
    assert_eq!(run.end_time, Some(at("2020-12-28T10:52:00Z")));
    assert_eq!(run.flow.unwrap()[FLOW_KEY]["event-type"], "COMPLETE");
    assert_eq!(state.last_event.unwrap().0, EventType::Complete);
    assert!(errors.is_empty());
}

#[test]
fn a_running_heartbeat_changes_the_run_and_an_older_one_does_not() {
    let start = event("START", "2020-12-28T19:52:00Z");
    let (run, state, _) = after(&[start.clone(), event("RUNNING", "2020-12-28T20:00:00Z")]);
    assert_eq!(
        run.flow.as_ref().unwrap()[FLOW_KEY]["event-time"],
        "2020-12-28T20:00:00Z"
    );
    let older = parsed(&event("RUNNING", "2020-12-28T19:55:00Z"));
    let merged = merge(&run, &state, &older).unwrap();
    let mut again = run.clone();
    assert!(
        !again
            .apply(&merged.fields, merged.target, run.updated_at)
            .unwrap()
    );
}

#[test]
fn out_of_order_a_start_after_the_end_fills_the_start_time_and_reopens_nothing() {
    let (run, _, _) = after(&[
        event("COMPLETE", "2020-12-28T20:52:00Z"),
        event("START", "2020-12-28T19:52:00Z"),
    ]);
    assert_eq!(run.status, Status::Successful);
    assert_eq!(run.start_time, Some(at("2020-12-28T19:52:00Z")));
    assert_eq!(run.end_time, Some(at("2020-12-28T20:52:00Z")));
    assert_eq!(run.flow.unwrap()[FLOW_KEY]["event-type"], "COMPLETE");
}

#[test]
fn the_first_end_is_final_and_a_later_one_changes_nothing() {
    let (run, state, _) = after(&[event("COMPLETE", "2020-12-28T20:52:00Z")]);
    let mut fail = event("FAIL", "2020-12-28T21:00:00Z");
    fail["run"]["facets"] =
        json!({"errorMessage": {"message": "late", "programmingLanguage": "PYTHON"}});
    assert_eq!(merge(&run, &state, &parsed(&fail)), None);
}

#[test]
fn fail_files_its_error_message_and_abort_says_it_was_aborted() {
    let mut fail = event("FAIL", "2020-12-28T20:52:00Z");
    fail["run"]["facets"] = json!({"errorMessage": {"message": "Table or view not found",
        "programmingLanguage": "JAVA", "stackTrace": "at a\nat b"}});
    let (run, _, errors) = after(&[event("START", "2020-12-28T19:52:00Z"), fail]);
    assert_eq!(run.status, Status::Failed);
    assert_eq!(
        errors,
        ["Table or view not found\n\nProgramming language: JAVA\n\nStack trace:\nat a\nat b"]
    );
    let (run, _, errors) = after(&[event("ABORT", "2020-12-28T20:52:00.5Z")]);
    assert_eq!(run.status, Status::Failed);
    assert_eq!(
        errors,
        ["The run was aborted (OpenLineage ABORT event of 2020-12-28T20:52:00.500Z)"]
    );
}

#[test]
fn records_processed_sums_the_latest_row_count_of_each_output() {
    let with_rows = |kind: &str, time: &str, rows: &[(&str, i64)]| {
        let mut value = event(kind, time);
        value["outputs"] = rows
            .iter()
            .map(|(name, n)| {
                json!({"namespace": "pg", "name": name,
                "outputFacets": {"outputStatistics": {"rowCount": n}}})
            })
            .collect();
        value
    };
    let (run, _, _) = after(&[
        with_rows("RUNNING", "2020-12-28T20:00:00Z", &[("a", 10), ("b", 5)]),
        with_rows("COMPLETE", "2020-12-28T20:30:00Z", &[("a", 40)]),
        // Older statistics of `b` arrive last: the newer ones stay.
        with_rows("OTHER", "2020-12-28T19:00:00Z", &[("b", 1)]),
    ]);
    assert_eq!(run.records_processed, Some(45));
}

#[test]
fn the_nominal_time_says_how_late_the_run_started() {
    let mut start = event("START", "2020-12-28T09:52:30Z");
    start["run"]["facets"] = json!({"nominalTime": {"nominalStartTime": "2020-12-28T09:50:00Z"}});
    let (run, state, _) = after(&[start]);
    assert_eq!(state.start_delay(run.start_time), Some(150));
    assert_eq!(state.start_delay(None), None);
}
