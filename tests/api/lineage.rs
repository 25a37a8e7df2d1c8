//! OpenLineage intake (`/api/v1/lineage`, `/api/v1/lineage/batch`): the spec's own example
//! events, posted as an OpenLineage client posts them, and the runs they make, read through
//! Coupa's API and the lineage routes.
//!
//! The events are in `tests/fixtures/openlineage/`, public examples of the OpenLineage
//! specification (its `README.md` names the source of each and what was changed).

use reqwest::{Method, StatusCode};
use runledger::domain::clients::Scopes;
use serde_json::{Value, json};

use crate::helpers::{TestApp, integration_body, messages, spawn_app, spawn_app_with, xml_value};

/// website/docs/spec/examples.md, "START event with Facets (run and job)".
const START: &str = include_str!("../fixtures/openlineage/start.json");
/// start-simple.json half-way: the spec has no RUNNING example.
const RUNNING: &str = include_str!("../fixtures/openlineage/running.json");
/// website/docs/spec/examples.md, "COMPLETE event with Facets (dataset)", with the
/// `outputStatistics` example of spec/tests/OutputStatisticsOutputDatasetFacet/1.json.
const COMPLETE: &str = include_str!("../fixtures/openlineage/complete.json");
/// website/docs/spec/examples.md, "START event with single input".
const START_SIMPLE: &str = include_str!("../fixtures/openlineage/start-simple.json");
/// website/docs/spec/examples.md, "COMPLETE event with single output".
const COMPLETE_SIMPLE: &str = include_str!("../fixtures/openlineage/complete-simple.json");
/// spec/OpenLineage.md's START example.
const START_MD: &str = include_str!("../fixtures/openlineage/start-md.json");
/// A FAIL of that run with website/docs/spec/facets/run-facets/error_message.md's facet.
const FAIL: &str = include_str!("../fixtures/openlineage/fail.json");
/// website/docs/spec/examples.md, "COMPLETE event for `Load task`": placeholder run ids.
const ETL_LOAD_TASK: &str = include_str!("../fixtures/openlineage/etl-load-task.json");

const RUN_ID: &str = "d46e465b-d358-4d32-83d4-df660ff614dd";
const MD_RUN_ID: &str = "3b452093-782c-4ef2-9c0c-aafe2aa6f34d";

/// Posts `body` as the OpenLineage Python client does: JSON, no `Accept`.
async fn post(app: &TestApp, path: &str, body: &str) -> (StatusCode, String) {
    let response = app
        .client
        .post(app.url(path))
        .header("Content-Type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("event sent");
    (response.status(), response.text().await.expect("answer"))
}

/// Posts one event and expects Marquez's answer: 201, no body.
async fn send(app: &TestApp, event: &str) {
    let (status, text) = post(app, "/api/v1/lineage", event).await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(text, "");
}

/// The one run of the integration with `code`, as Coupa's API shows it.
async fn run_of(app: &TestApp, code: &str) -> Value {
    let (status, runs) = app
        .get_json(&format!("/api/integration_runs?integration[code]={code}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    runs[0].clone()
}

async fn transitions(app: &TestApp, run: &Value) -> Vec<Value> {
    let path = format!("/api/integration_runs/{}/transitions", run["id"]);
    let (status, log) = app.get_json(&path).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log.as_array().unwrap().clone()
}

async fn lineage_run(app: &TestApp, run_id: &str) -> Value {
    let (status, body) = app
        .get_json(&format!("/api/v1/lineage/runs/{run_id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn with(event: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut value: Value = serde_json::from_str(event).unwrap();
    change(&mut value);
    value.to_string()
}

#[tokio::test]
async fn the_specs_start_running_and_complete_events_make_a_successful_run() {
    let app = spawn_app().await;
    send(&app, START).await;
    let run = run_of(&app, "workshop/process_taxes").await;
    assert_eq!(run["status"], "running");
    assert_eq!(run["start-time"], "2020-12-28T09:52:00+00:00");
    assert_eq!(run["created-by"]["login"], "test-client");
    let integration = &run["integration"];
    assert_eq!(integration["name"], "process_taxes (workshop)");
    assert_eq!(integration["end-system"], "workshop");
    assert_eq!(integration["end-system-type"], "other");

    send(&app, RUNNING).await;
    let run = run_of(&app, "workshop/process_taxes").await;
    assert_eq!(run["status"], "running");
    let shown = &run["flow"]["openlineage"];
    assert_eq!(
        shown["event-type"], "RUNNING",
        "the heartbeat is written: {run}"
    );
    assert_eq!(shown["event-time"], "2020-12-28T10:22:00.001Z");

    send(&app, COMPLETE).await;
    let run = run_of(&app, "workshop/process_taxes").await;
    assert_eq!(run["status"], "successful");
    assert_eq!(run["start-time"], "2020-12-28T09:52:00+00:00");
    assert_eq!(run["end-time"], "2020-12-28T10:52:00+00:00");
    assert_eq!(run["records-processed"], 2000);
    assert_eq!(run["flow"]["openlineage"]["run-id"], RUN_ID);
    let log = transitions(&app, &run).await;
    let moves: Vec<_> = log
        .iter()
        .map(|e| (e["cause"].clone(), e["to-status"].clone()))
        .collect();
    assert_eq!(
        moves,
        [
            (json!("lineage"), json!("running")),
            (json!("lineage"), json!("running")),
            (json!("lineage"), json!("successful")),
        ]
    );

    // The same run in XML, as a Coupa client reads it.
    let (status, xml) = app
        .xml(
            Method::GET,
            &format!("/api/integration_runs/{}", run["id"]),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(xml_value(&xml)["status"], "successful");

    let lineage = lineage_run(&app, RUN_ID).await;
    assert_eq!(lineage["integration-run-id"], run["id"]);
    assert_eq!(
        lineage["job"],
        json!({"namespace": "workshop", "name": "process_taxes"})
    );
    assert_eq!(lineage["last-event-type"], "COMPLETE");
    assert_eq!(lineage["nominal-start-time"], "2022-07-29T14:14:31+00:00");
    // The example's run started 578 days before its nominal time: negative lateness.
    assert_eq!(lineage["start-delay"], -49_954_951);
    let types: Vec<_> = lineage["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event-type"].clone())
        .collect();
    assert_eq!(types, [json!("START"), json!("RUNNING"), json!("COMPLETE")]);
    let parent = &lineage["parent"];
    assert_eq!(parent["run-id"], "1ba6fdaa-fb80-36ce-9c5b-295f544ec462");
    assert_eq!(parent["job"]["name"], "etl_orders");
    assert_eq!(parent["integration-run-id"], Value::Null);

    // The kept event is the event as sent.
    let first = lineage["events"][0]["id"].as_i64().unwrap();
    let (status, raw) = app
        .get_json(&format!("/api/v1/lineage/events/{first}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(raw, serde_json::from_str::<Value>(START).unwrap());
}

#[tokio::test]
async fn a_parent_run_links_to_the_runs_it_spawned_once_both_are_known() {
    let app = spawn_app().await;
    send(&app, START).await;
    let parent_start = with(START_SIMPLE, |e| {
        e["run"]["runId"] = json!("1ba6fdaa-fb80-36ce-9c5b-295f544ec462");
        e["job"] = json!({"namespace": "cosmic_energy", "name": "etl_orders"});
    });
    send(&app, &parent_start).await;
    let parent_run = run_of(&app, "cosmic_energy/etl_orders").await;
    let child = lineage_run(&app, RUN_ID).await;
    assert_eq!(child["parent"]["integration-run-id"], parent_run["id"]);
    let parent = lineage_run(&app, "1ba6fdaa-fb80-36ce-9c5b-295f544ec462").await;
    assert_eq!(
        parent["children"],
        json!([{"run-id": RUN_ID, "integration-run-id": child["integration-run-id"]}])
    );
    // Lineage is not a retry: the runs stay first attempts of their own integrations.
    assert_ne!(parent_run["integration"]["id"], child["integration-id"]);

    let response = app
        .client
        .get(app.url(&format!("/api/v1/lineage/runs/{RUN_ID}")))
        .header("Accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let xml = xml_value(&response.text().await.unwrap());
    assert_eq!(xml["run-id"], RUN_ID);
    assert_eq!(xml["parent"]["job"]["namespace"], "cosmic_energy");
}

#[tokio::test]
async fn a_fail_event_files_its_error_message_as_an_integration_error() {
    let app = spawn_app().await;
    send(&app, START_MD).await;
    send(&app, FAIL).await;
    let run = run_of(&app, "my-scheduler-namespace/myjob.mytask").await;
    assert_eq!(run["status"], "failed");
    assert_eq!(run["end-time"], "2020-12-09T23:39:02+00:00");
    let errors = run["integration-errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{run}");
    let (status, error) = app
        .get_json(&format!("/api/integration_errors/{}", errors[0]["id"]))
        .await;
    assert_eq!(status, StatusCode::OK, "{error}");
    assert_eq!(error["document-type"], "Runledger::Job");
    assert_eq!(error["contact-alert-type"], "Technical");
    assert_eq!(error["created-by"]["login"], "test-client");
    let response = &error["responses"][0];
    assert_eq!(response["response-code"], "FAIL");
    let message = response["response-message"].as_str().unwrap();
    assert!(message.starts_with("org.apache.spark.sql.AnalysisException: Table or view not found"));
    assert!(
        message.contains("\n\nProgramming language: JAVA\n\nStack trace:\nException in thread")
    );
}

#[tokio::test]
async fn events_out_of_order_merge_by_event_time_and_never_reopen_a_run() {
    let app = spawn_app().await;
    send(&app, COMPLETE_SIMPLE).await;
    let run = run_of(&app, "workshop/process_taxes").await;
    assert_eq!(run["status"], "successful");
    assert_eq!(run["start-time"], Value::Null);
    send(&app, START_SIMPLE).await;
    let run = run_of(&app, "workshop/process_taxes").await;
    assert_eq!(run["status"], "successful");
    assert_eq!(run["start-time"], "2020-12-28T09:52:00+00:00");
    assert_eq!(run["end-time"], "2020-12-28T10:52:00+00:00");
    let log = transitions(&app, &run).await;
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[1]["changes"],
        json!([{"field": "start-time", "from": null, "to": "2020-12-28T09:52:00+00:00"}])
    );

    // The first end is final: a FAIL after the COMPLETE changes nothing, but is kept.
    let late_fail = with(COMPLETE_SIMPLE, |e| {
        e["eventType"] = json!("FAIL");
        e["eventTime"] = json!("2020-12-28T21:00:00+10:00");
    });
    send(&app, &late_fail).await;
    let after = run_of(&app, "workshop/process_taxes").await;
    assert_eq!(after["status"], "successful");
    assert_eq!(after["updated-at"], run["updated-at"]);
    assert_eq!(transitions(&app, &after).await.len(), 2);
    assert_eq!(
        lineage_run(&app, RUN_ID).await["events"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn a_repeated_event_is_kept_once_and_changes_nothing() {
    let app = spawn_app().await;
    send(&app, START_SIMPLE).await;
    send(&app, START_SIMPLE).await;
    let run = run_of(&app, "workshop/process_taxes").await;
    assert_eq!(transitions(&app, &run).await.len(), 1);
    assert_eq!(
        lineage_run(&app, RUN_ID).await["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (_, runs) = app.get_json("/api/integration_runs").await;
    assert_eq!(runs.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_batch_is_taken_event_by_event_and_answered_with_the_specs_details() {
    let app = spawn_app().await;
    let batch = format!("[{START_MD}, {FAIL}, {ETL_LOAD_TASK}]");
    let (status, text) = post(&app, "/api/v1/lineage/batch", &batch).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let details: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(details["status"], "partial_success");
    assert_eq!(
        details["summary"],
        json!({"received": 3, "successful": 2, "failed": 1, "retriable": 0, "non_retriable": 1})
    );
    let failed = &details["failed_events"][0];
    assert_eq!(failed["index"], 2);
    assert_eq!(failed["retriable"], false);
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("run.runId is not a UUID")
    );
    let run = run_of(&app, "my-scheduler-namespace/myjob.mytask").await;
    assert_eq!(run["status"], "failed");

    let (status, text) = post(&app, "/api/v1/lineage/batch", &format!("[{START_SIMPLE}]")).await;
    assert_eq!(status, StatusCode::OK);
    let details: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(details["status"], "success");
    assert_eq!(details["failed_events"], json!([]));

    // No event taken: the problems of each, in Coupa's error format.
    let (status, text) = post(&app, "/api/v1/lineage/batch", &format!("[{ETL_LOAD_TASK}]")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        messages(&body, "lineage-event")[0],
        "Event 0: run.runId is not a UUID"
    );
    let (status, text) = post(&app, "/api/v1/lineage/batch", START_SIMPLE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("must be a JSON array"), "{text}");
}

#[tokio::test]
async fn malformed_events_are_refused_with_every_problem_listed() {
    let app = spawn_app().await;
    let (status, text) = post(&app, "/api/v1/lineage", ETL_LOAD_TASK).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&text).expect("JSON without an Accept");
    assert_eq!(
        messages(&body, "lineage-event"),
        [
            "run.runId is not a UUID",
            "run.facets.parent.run.runId is not a UUID"
        ]
    );
    let response = app
        .client
        .post(app.url("/api/v1/lineage"))
        .header("Content-Type", "application/json")
        .header("Accept", "application/xml")
        .body(ETL_LOAD_TASK)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let xml = response.text().await.unwrap();
    assert!(
        xml.contains("<error>run.runId is not a UUID</error>"),
        "{xml}"
    );

    let (status, text) = post(&app, "/api/v1/lineage", "{\"eventType\": ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(text.contains("Invalid JSON at line 1"), "{text}");
    let (status, _) = post(&app, "/api/v1/lineage", &format!("[{START_SIMPLE}]")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for (header, value) in [
        ("Content-Type", "application/xml"),
        ("Content-Encoding", "gzip"),
    ] {
        let response = app
            .client
            .post(app.url("/api/v1/lineage"))
            .header(header, value)
            .body(START_SIMPLE)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{header}"
        );
    }
    let (_, runs) = app.get_json("/api/integration_runs").await;
    assert_eq!(runs, json!([]), "nothing refused was stored");

    // A JobEvent (static metadata, no run) is kept and changes no run.
    let job_event = json!({"eventTime": "2020-12-28T19:52:00Z", "producer": "https://example.com/p",
        "job": {"namespace": "workshop", "name": "process_taxes"}});
    send(&app, &job_event.to_string()).await;
    let (_, runs) = app.get_json("/api/integration_runs").await;
    assert_eq!(runs, json!([]));
}

#[tokio::test]
async fn with_creation_off_an_unknown_job_is_refused_until_its_integration_exists() {
    let app = spawn_app_with(|settings| {
        settings.rate_limit = None;
        settings.lineage_create_integrations = false;
    })
    .await;
    let (status, text) = post(&app, "/api/v1/lineage", START_SIMPLE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        messages(&body, "lineage-event"),
        [
            "Unable to find valid Integration record for integration with keys \
          {\"code\"=>\"workshop/process_taxes\"}. Possible keys are [\"id\", \"code\", \"name\"]."
        ]
    );
    let (_, integrations) = app.get_json("/api/integrations").await;
    assert_eq!(integrations, json!([]));

    let made = app.create_integration("workshop/process_taxes").await;
    send(&app, START_SIMPLE).await;
    let run = run_of(&app, "workshop/process_taxes").await;
    assert_eq!(run["integration"]["id"], made["id"]);
    assert_eq!(
        run["integration"]["name"],
        integration_body("workshop/process_taxes")["name"]
    );
}

#[tokio::test]
async fn jobs_whose_names_differ_only_in_case_get_an_integration_each() {
    let app = spawn_app().await;
    send(&app, START_SIMPLE).await;
    let upper = with(START_SIMPLE, |e| {
        e["run"]["runId"] = json!(MD_RUN_ID);
        e["job"]["name"] = json!("PROCESS_TAXES");
    });
    send(&app, &upper).await;
    let (_, integrations) = app.get_json("/api/integrations").await;
    let codes: Vec<_> = integrations
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 2, "{integrations}");
    assert_eq!(codes[0], "workshop/process_taxes");
    assert!(codes[1].starts_with("workshop/PROCESS_TAXES~"), "{codes:?}");
    // Each event goes on finding its own.
    let complete = with(COMPLETE_SIMPLE, |e| {
        e["run"]["runId"] = json!(MD_RUN_ID);
        e["job"]["name"] = json!("PROCESS_TAXES");
    });
    send(&app, &complete).await;
    assert_eq!(run_of(&app, &codes[1]).await["status"], "successful");
    assert_eq!(run_of(&app, &codes[0]).await["status"], "running");

    // A run id stays with the job that first named it.
    let (status, text) = post(
        &app,
        "/api/v1/lineage",
        &with(COMPLETE_SIMPLE, |e| {
            e["job"]["name"] = json!("another_job");
        }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        text.contains("is a run of the job workshop/process_taxes"),
        "{text}"
    );
}

#[tokio::test]
async fn the_lineage_routes_need_credentials_and_take_an_api_key_as_a_bearer_token() {
    let app = spawn_app().await;
    let anonymous = reqwest::Client::new();
    let response = anonymous
        .post(app.url("/api/v1/lineage"))
        .header("Content-Type", "application/json")
        .body(START_SIMPLE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert!(messages(&body, "lineage-event")[0].starts_with("Authentication required"));

    // OPENLINEAGE_API_KEY: the Python client sends it as `Authorization: Bearer <key>`.
    let key = app.register_api_key("airflow", Scopes::ALL).await;
    let airflow = app.client_with_token(&key);
    let response = airflow
        .post(app.url("/api/v1/lineage"))
        .header("Content-Type", "application/json")
        .body(START_SIMPLE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        run_of(&app, "workshop/process_taxes").await["created-by"]["login"],
        "airflow"
    );
    // Elsewhere an API key comes in X-COUPA-API-KEY only, as on Coupa.
    let response = airflow
        .get(app.url("/api/integrations"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = anonymous
        .post(app.url("/api/v1/lineage"))
        .header("X-COUPA-API-KEY", &key)
        .header("Content-Type", "application/json")
        .body(COMPLETE_SIMPLE)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn concurrent_events_of_a_new_job_make_one_integration_and_one_run_each() {
    let app = spawn_app().await;
    let runs = [RUN_ID, MD_RUN_ID, "f99310b4-3c3c-1a1a-2b2b-c1b95c24ff11"];
    let mut sends = Vec::new();
    for run_id in runs {
        for event in [START_SIMPLE, RUNNING, COMPLETE_SIMPLE] {
            let event = with(event, |e| e["run"]["runId"] = json!(run_id));
            // Each event twice, as a client that retried.
            for _ in 0..2 {
                let (app, event) = (&app, event.clone());
                sends.push(async move { post(app, "/api/v1/lineage", &event).await });
            }
        }
    }
    for (status, text) in futures_util::future::join_all(sends).await {
        assert_eq!(status, StatusCode::CREATED, "{text}");
    }
    let (_, integrations) = app.get_json("/api/integrations").await;
    assert_eq!(integrations.as_array().unwrap().len(), 1, "{integrations}");
    let (_, all) = app.get_json("/api/integration_runs").await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 3);
    for run in all {
        assert_eq!(run["status"], "successful", "{run}");
        assert_eq!(run["start-time"], "2020-12-28T09:52:00+00:00");
    }
    for run_id in runs {
        assert_eq!(
            lineage_run(&app, run_id).await["events"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
}
