//! `/api/integration_runs`: the lifecycle of a run, every status action, in JSON and XML.

use reqwest::{Method, StatusCode};
use runledger::domain::clients::Scopes;
use runledger::domain::runs::Status;
use runledger::store::seed::SeedRun;
use runledger::time;
use serde_json::{Value, json};

use crate::helpers::{TestApp, messages, spawn_app, xml_value};

const ACTIONS: [(&str, &str); 5] = [
    ("run", "running"),
    ("pending", "pending"),
    ("pause", "paused"),
    ("success", "successful"),
    ("fail", "failed"),
];

async fn act(app: &TestApp, id: i64, action: &str) -> (StatusCode, Value) {
    app.put_json(&format!("/api/integration_runs/{id}/{action}"), None)
        .await
}

/// A new run of a fresh integration moved to `status` through the API.
async fn run_in(app: &TestApp, status: &str) -> i64 {
    let id = app.create_run("JOB").await;
    let action = ACTIONS.iter().find(|(_, s)| *s == status).unwrap().0;
    if status != "pending" {
        let (code, body) = act(app, id, action).await;
        assert_eq!(code, StatusCode::OK, "{body}");
    }
    id
}

#[tokio::test]
async fn create_makes_a_pending_run_of_the_referenced_integration() {
    let app = spawn_app().await;
    let integration = app.create_integration("PO_TO_ERP").await;
    let int_id = integration["id"].as_i64().unwrap();
    for reference in [
        json!({"code": "PO_TO_ERP"}),
        json!({"id": int_id}),
        json!({"name": "PO_TO_ERP integration"}),
    ] {
        let (status, body) = app
            .post_json("/api/integration_runs", json!({"integration": reference}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["status"], "pending");
        assert_eq!(body["integration"]["id"], int_id);
        assert_eq!(body["integration"]["code"], "PO_TO_ERP");
        assert_eq!(body["integration-errors"], json!([]));
        for key in [
            "start-time",
            "end-time",
            "total-records",
            "records-processed",
            "flow",
        ] {
            assert_eq!(body[key], Value::Null, "{key}");
        }
    }
}

#[tokio::test]
async fn create_returns_400_when_integration_is_missing() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({"integration": null}),
        json!({"total-records": 5}),
    ] {
        let (status, answer) = app.post_json("/api/integration_runs", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            messages(&answer, "integration-run"),
            ["Integration can't be blank"]
        );
    }
}

#[tokio::test]
async fn create_answers_coupas_message_when_no_integration_matches() {
    let app = spawn_app().await;
    app.create_integration("REAL").await;
    let (status, body) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "NOPE"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration-run"),
        [
            "Unable to find valid Integration record for integration with keys {\"code\"=>\"NOPE\"}. \
          Possible keys are [\"id\", \"code\", \"name\"]."
        ]
    );
    // Keys that all have to match: a right code with a wrong name matches nothing.
    let (status, _) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "REAL", "name": "wrong"}}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, list) = app.get_json("/api/integration_runs").await;
    assert_eq!(list, json!([]), "nothing was written");
}

#[tokio::test]
async fn a_run_moves_through_its_lifecycle_with_bodies_applied() {
    let app = spawn_app().await;
    app.create_integration("LIFE").await;
    let (status, created) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "LIFE"}, "status": "failed"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["status"], "pending", "status is read-only");
    let id = created["id"].as_i64().unwrap();

    let (status, running) = app
        .put_json(
            &format!("/api/integration_runs/{id}/run"),
            Some(json!({"total_records": 50})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(running["status"], "running");
    assert_eq!(running["total-records"], 50);
    assert!(running["start-time"].is_string(), "run sets start-time");
    assert_eq!(running["end-time"], Value::Null);

    let (status, patched) = app
        .json(
            Method::PATCH,
            &format!("/api/integration_runs/{id}"),
            Some(json!({"records-processed": 50})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["records-processed"], 50);
    assert_eq!(patched["status"], "running");

    let (status, done) = act(&app, id, "success").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["status"], "successful");
    assert!(done["end-time"].is_string(), "success sets end-time");
    assert_eq!(done["start-time"], running["start-time"]);

    let (status, body) = act(&app, id, "run").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration-run"),
        ["Cannot move an integration run from successful to running"]
    );

    let (status, shown) = app.get_json(&format!("/api/integration_runs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(shown, done);
}

#[tokio::test]
async fn every_open_status_accepts_every_action() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    for from in ["pending", "running", "paused"] {
        for (action, to) in ACTIONS {
            let id = run_in(&app, from).await;
            let (status, body) = act(&app, id, action).await;
            assert_eq!(status, StatusCode::OK, "{from} → {action}: {body}");
            assert_eq!(body["status"], to, "{from} → {action}");
        }
    }
}

#[tokio::test]
async fn terminal_statuses_refuse_every_other_action_and_accept_their_repeat() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    for terminal in ["successful", "failed"] {
        let id = run_in(&app, terminal).await;
        let (_, before) = app.get_json(&format!("/api/integration_runs/{id}")).await;
        for (action, to) in ACTIONS {
            let (status, body) = act(&app, id, action).await;
            if to == terminal {
                assert_eq!(status, StatusCode::OK, "a retried {action} must not fail");
                assert_eq!(body, before, "a repeat leaves the run unchanged");
            } else {
                assert_eq!(status, StatusCode::BAD_REQUEST, "{terminal} → {action}");
                assert_eq!(
                    messages(&body, "integration-run"),
                    [format!(
                        "Cannot move an integration run from {terminal} to {to}"
                    )]
                );
            }
        }
        let (_, after) = app.get_json(&format!("/api/integration_runs/{id}")).await;
        assert_eq!(after, before);
    }
}

/// The formats a write is sent and answered in.
#[derive(Clone, Copy, Debug)]
pub enum Format {
    Json,
    Xml,
}

pub const FORMATS: [Format; 2] = [Format::Json, Format::Xml];

/// `PUT path` with `body` (an object of scalars and objects) sent and answered in `format`,
/// the answer read back into JSON either way.
pub async fn put_in(
    app: &TestApp,
    format: Format,
    path: &str,
    root: &str,
    body: Value,
) -> (StatusCode, Value) {
    match format {
        Format::Json => app.put_json(path, Some(body)).await,
        Format::Xml => {
            let document = format!("<{root}>{}</{root}>", xml_elements(&body));
            let (status, text) = app.xml(Method::PUT, path, Some(&document)).await;
            (status, xml_value(&text))
        }
    }
}

/// The elements of a JSON object in Rails' XML: `type="integer"`, `nil="true"`, nesting.
fn xml_elements(object: &Value) -> String {
    let mut xml = String::new();
    for (key, value) in object.as_object().expect("an object") {
        xml.push_str(&match value {
            Value::Null => format!("<{key} nil=\"true\"/>"),
            Value::Number(n) => format!("<{key} type=\"integer\">{n}</{key}>"),
            Value::String(s) => format!("<{key}>{s}</{key}>"),
            Value::Object(_) => format!("<{key}>{}</{key}>", xml_elements(value)),
            other => panic!("no XML spelling for {other} in these tests"),
        });
    }
    xml
}

/// Makes every later request of `app` come from another API client, `name`: a write it
/// makes shows in `updated-by`, and one that is not made leaves the first author there.
pub async fn write_as(app: &mut TestApp, name: &str) {
    let (client_id, secret) = app.register_client(name, Scopes::ALL).await;
    let token = app.token(&client_id, &secret, None).await;
    app.client = app.client_with_token(&token);
}

/// Sends back the record at `path` exactly as it reads, in JSON and in XML, and checks that
/// nothing moved: the answer and the record are what they were, `updated-at` and
/// `updated-by` included (send it as another client than its author, see [`write_as`]).
/// `leave_out` names elements not to send back.
pub async fn put_back_changes_nothing(app: &TestApp, path: &str, leave_out: &[&str]) {
    let (_, before) = app.get_json(path).await;
    let mut body = before.clone();
    for key in leave_out {
        body.as_object_mut().expect("a record").remove(*key);
    }
    let (status, answer) = app.put_json(path, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, before, "JSON: the answer is the record as stored");
    let (_, text) = app.xml(Method::GET, path, None).await;
    let mut document = text.clone();
    for key in leave_out {
        let (start, end) = (format!("<{key}"), format!("</{key}>"));
        if let (Some(a), Some(b)) = (document.find(&start), document.find(&end)) {
            document.replace_range(a..b + end.len(), "");
        }
    }
    let (status, answer) = app.xml(Method::PUT, path, Some(&document)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, text, "XML: the answer is the record as stored");
    let (_, after) = app.get_json(path).await;
    assert_eq!(after, before, "the record did not move");
}

/// A running run, started at 08:00 of 2020-06-01, written straight to the store as of that
/// morning: its `updated-at` is a known instant long past, so a write that moves it shows
/// without waiting for the clock. Returns its path and the run as it reads.
async fn seeded_run(app: &TestApp) -> (String, Value) {
    let integration = app.create_integration("OLD").await;
    let at = |t: &str| time::parse(t).expect("a time");
    let seeded = SeedRun {
        integration_id: integration["id"].as_i64().expect("id"),
        status: Status::Running,
        created_at: at("2020-06-01T07:59:00Z"),
        start_time: Some(at("2020-06-01T08:00:00Z")),
        end_time: None,
        total_records: Some(100),
        records_processed: Some(40),
        error: None,
    };
    app.store.seed_runs(vec![seeded]).await.expect("seeded");
    let (_, list) = app
        .get_json("/api/integration_runs?integration[code]=OLD")
        .await;
    let run = list[0].clone();
    assert_eq!(run["updated-at"], "2020-06-01T07:59:00+00:00");
    (format!("/api/integration_runs/{}", run["id"]), run)
}

#[tokio::test]
async fn a_repeated_run_applies_its_count_and_moves_nothing_else() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    for format in FORMATS {
        let id = run_in(&app, "running").await;
        let path = format!("/api/integration_runs/{id}");
        let (_, first) = app.get_json(&path).await;
        let (status, again) = put_in(
            &app,
            format,
            &format!("{path}/run"),
            "integration-run",
            json!({"records-processed": 50}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{format:?}: {again}");
        assert_eq!(
            again["records-processed"], 50,
            "{format:?}: the body applies"
        );
        assert_eq!(again["status"], "running", "{format:?}");
        assert_eq!(
            again["start-time"], first["start-time"],
            "{format:?}: start-time stays"
        );
        let (_, shown) = app.get_json(&path).await;
        assert_eq!(shown["records-processed"], 50, "{format:?}: and is stored");
        assert_eq!(shown["start-time"], first["start-time"], "{format:?}");
    }
}

#[tokio::test]
async fn a_repeated_success_applies_its_body_to_the_successful_run() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    for format in FORMATS {
        let id = run_in(&app, "successful").await;
        let path = format!("/api/integration_runs/{id}");
        let (_, done) = app.get_json(&path).await;
        let (status, again) = put_in(
            &app,
            format,
            &format!("{path}/success"),
            "integration-run",
            json!({"total-records": 12, "records-processed": 12, "flow": {"step": "sent"}}),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{format:?}: {again}");
        assert_eq!(again["status"], "successful", "{format:?}");
        assert_eq!(
            (&again["total-records"], &again["records-processed"]),
            (&json!(12), &json!(12)),
            "{format:?}"
        );
        assert_eq!(again["flow"], json!({"step": "sent"}), "{format:?}");
        assert_eq!(
            again["end-time"], done["end-time"],
            "{format:?}: end-time stays"
        );
        let (_, shown) = app.get_json(&path).await;
        assert_eq!(shown, again, "{format:?}: the answer is the run as stored");
    }
}

#[tokio::test]
async fn a_repeated_action_still_refuses_what_the_run_refuses_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    for format in FORMATS {
        for (from, action) in [
            ("running", "run"),
            ("successful", "success"),
            ("failed", "fail"),
        ] {
            let id = run_in(&app, from).await;
            let path = format!("/api/integration_runs/{id}");
            app.put_json(
                &path,
                Some(json!({"total-records": 10, "records-processed": 4})),
            )
            .await;
            let (_, before) = app.get_json(&path).await;
            let mut refused = vec![
                (action, json!({"records-processed": 11})),
                (action, json!({"total-records": 3})),
            ];
            if from != "running" {
                // Any other move out of a terminal status stays refused, body and all.
                refused.push(("run", json!({"total-records": 20})));
            }
            for (action, body) in refused {
                let sent = format!("{path}/{action}");
                let (status, answer) =
                    put_in(&app, format, &sent, "integration-run", body.clone()).await;
                assert_eq!(
                    status,
                    StatusCode::BAD_REQUEST,
                    "{format:?} {from} {action} {body}"
                );
                if let Format::Json = format {
                    assert_eq!(messages(&answer, "integration-run").len(), 1, "{answer}");
                }
                let (_, after) = app.get_json(&path).await;
                assert_eq!(
                    after, before,
                    "{format:?} {from} {action} {body}: nothing changed"
                );
            }
        }
    }
}

#[tokio::test]
async fn finish_repeated_on_a_finished_run_keeps_its_status_and_applies_its_body() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    for format in FORMATS {
        // Finished successfully, then an error is filed: a retried finish does not fail it.
        let succeeded = run_in(&app, "running").await;
        let (_, done) = act(&app, succeeded, "finish").await;
        assert_eq!(done["status"], "successful");
        app.file_error(succeeded, "Supplier", false).await;
        // Failed by its error, which is then resolved: a retried finish does not succeed it.
        let failed = run_in(&app, "running").await;
        let error = app.file_error(failed, "Supplier", false).await;
        let (_, done) = act(&app, failed, "finish").await;
        assert_eq!(done["status"], "failed");
        let resolve = format!("/api/integration_errors/{}/resolve", error["id"]);
        app.put_json(&resolve, None).await;
        for (id, status) in [(succeeded, "successful"), (failed, "failed")] {
            let path = format!("/api/integration_runs/{id}/finish");
            let (code, again) = put_in(
                &app,
                format,
                &path,
                "integration-run",
                json!({"total-records": 4}),
            )
            .await;
            assert_eq!(code, StatusCode::OK, "{format:?} {status}: {again}");
            assert_eq!(again["status"], status, "{format:?}");
            assert_eq!(again["total-records"], 4, "{format:?}");
        }
    }
}

#[tokio::test]
async fn a_write_of_the_stored_values_leaves_updated_at_and_updated_by_as_they_were() {
    let app = spawn_app().await;
    let (path, seeded) = seeded_run(&app).await;
    // The same values, spelled otherwise: another zone and a fraction (whole seconds are
    // stored), a null for a null, the counts as they are.
    let same = [
        json!({"start-time": "2020-06-01T10:00:00.250+02:00", "end-time": null}),
        json!({"total-records": 100, "records-processed": 40}),
    ];
    for format in FORMATS {
        for body in &same {
            for sent in [path.clone(), format!("{path}/run")] {
                let (status, answer) =
                    put_in(&app, format, &sent, "integration-run", body.clone()).await;
                assert_eq!(status, StatusCode::OK, "{format:?} {sent} {body}: {answer}");
                assert_eq!(
                    answer["updated-at"], seeded["updated-at"],
                    "{format:?} {sent} {body}"
                );
                assert_eq!(
                    answer["updated-by"],
                    Value::Null,
                    "{format:?} {sent} {body}"
                );
            }
        }
    }
    let (_, after) = app.get_json(&path).await;
    assert_eq!(after, seeded, "nothing was written");
    // A value that differs is a change: updated-at and updated-by move.
    let (_, changed) = app
        .put_json(&path, Some(json!({"records-processed": 41})))
        .await;
    assert_ne!(changed["updated-at"], seeded["updated-at"]);
    assert_eq!(changed["updated-by"]["login"], "test-client");
}

#[tokio::test]
async fn a_flow_equal_to_the_stored_one_is_no_change() {
    let mut app = spawn_app().await;
    let (path, _) = seeded_run(&app).await;
    let flow = json!({"step": "sent", "files": {"first": "a.csv", "count": 2}});
    app.put_json(&path, Some(json!({ "flow": flow }))).await;
    write_as(&mut app, "another-client").await;
    let (_, before) = app.get_json(&path).await;
    let reordered = json!({"flow": {"files": {"count": 2, "first": "a.csv"}, "step": "sent"}});
    for sent in [path.clone(), format!("{path}/run")] {
        let (status, answer) = app.put_json(&sent, Some(reordered.clone())).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            answer, before,
            "{sent}: the same object, its keys in another order"
        );
    }
    let (_, answer) = app
        .put_json(&path, Some(json!({"flow": {"step": "sent"}})))
        .await;
    assert_eq!(
        answer["updated-by"]["login"], "another-client",
        "a smaller flow is a change"
    );
}

#[tokio::test]
async fn a_run_put_back_as_it_reads_is_not_touched() {
    let mut app = spawn_app().await;
    app.create_integration("JOB").await;
    let mut paths = Vec::new();
    for status in ["running", "successful"] {
        let id = run_in(&app, status).await;
        let path = format!("/api/integration_runs/{id}");
        app.put_json(
            &path,
            Some(json!({"total-records": 3, "flow": {"step": "one"}})),
        )
        .await;
        app.file_error(id, "Supplier", false).await;
        paths.push(path);
    }
    write_as(&mut app, "another-client").await;
    for path in paths {
        put_back_changes_nothing(&app, &path, &[]).await;
    }
}

#[tokio::test]
async fn finish_succeeds_a_run_without_unresolved_errors() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let id = run_in(&app, "running").await;
    let (status, body) = act(&app, id, "finish").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "successful");
    assert!(body["end-time"].is_string());
    let (status, _) = act(&app, id, "finish").await;
    assert_eq!(status, StatusCode::OK, "finishing again repeats success");
}

#[tokio::test]
async fn a_time_in_the_body_wins_over_the_automatic_one() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let id = app.create_run("JOB").await;
    let (_, body) = app
        .put_json(
            &format!("/api/integration_runs/{id}/run"),
            Some(json!({"start-time": "2026-01-02T03:04:05.678+01:00"})),
        )
        .await;
    assert_eq!(body["start-time"], "2026-01-02T02:04:05+00:00");
    let (_, body) = app
        .put_json(
            &format!("/api/integration_runs/{id}/fail"),
            Some(json!({"end_time": "2026-01-03"})),
        )
        .await;
    assert_eq!(body["end-time"], "2026-01-03T00:00:00+00:00");
}

#[tokio::test]
async fn records_processed_may_not_exceed_total_records() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let id = run_in(&app, "running").await;
    let path = format!("/api/integration_runs/{id}");
    app.put_json(
        &path,
        Some(json!({"total-records": 10, "records-processed": 4})),
    )
    .await;
    let (status, body) = app
        .put_json(&path, Some(json!({"records-processed": 11})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration-run"),
        ["Records processed (11) must be less than or equal to total records (10)"]
    );
    // Refused inside a status action too, and then the status does not change either.
    let (status, _) = app
        .put_json(
            &format!("{path}/success"),
            Some(json!({"records-processed": 11})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, run) = app.get_json(&path).await;
    assert_eq!(
        (run["status"].clone(), run["records-processed"].clone()),
        (json!("running"), json!(4))
    );
}

#[tokio::test]
async fn counts_must_be_non_negative_integers() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let id = app.create_run("JOB").await;
    let path = format!("/api/integration_runs/{id}");
    for (body, message) in [
        (
            json!({"total-records": -1}),
            "Total records must be greater than or equal to 0",
        ),
        (
            json!({"total-records": "many"}),
            "Total records is not an integer",
        ),
        (
            json!({"records_processed": 1.5}),
            "Records processed is not an integer",
        ),
        (
            json!({"start-time": "soon"}),
            "Start time is not a valid datetime",
        ),
        (json!({"flow": [1, 2]}), "Flow must be an object"),
    ] {
        let (status, answer) = app.put_json(&path, Some(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(messages(&answer, "integration-run"), [message]);
    }
}

#[tokio::test]
async fn flow_is_stored_and_returned_as_given_in_both_formats() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let flow = json!({"source": "SAP", "batch": 3, "files": ["a.csv", "b.csv"], "ok": true, "meta": {"by": null}});
    let (status, body) = app
        .post_json(
            "/api/integration_runs",
            json!({"integration": {"code": "JOB"}, "flow": flow}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["flow"], flow);
    let id = body["id"].as_i64().unwrap();
    let (_, text) = app
        .xml(Method::GET, &format!("/api/integration_runs/{id}"), None)
        .await;
    assert_eq!(xml_value(&text)["flow"], flow);

    let (status, text) = app
        .xml(Method::PUT, &format!("/api/integration_runs/{id}"), Some("<integration-run><flow><step>load</step><n type=\"integer\">2</n></flow></integration-run>"))
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let (_, body) = app.get_json(&format!("/api/integration_runs/{id}")).await;
    assert_eq!(body["flow"], json!({"step": "load", "n": 2}));

    let big = json!({"flow": {"blob": "x".repeat(17 * 1024)}});
    let (status, body) = app
        .put_json(&format!("/api/integration_runs/{id}"), Some(big))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        messages(&body, "integration-run"),
        ["Flow is too large (maximum is 16384 bytes)"]
    );
}

#[tokio::test]
async fn the_whole_lifecycle_works_in_xml() {
    let app = spawn_app().await;
    app.create_integration("XML_JOB").await;
    let (status, text) = app
        .xml(
            Method::POST,
            "/api/integration_runs",
            Some("<integration-run><integration><code>XML_JOB</code></integration></integration-run>"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert!(text.contains("<status>pending</status>"));
    assert!(text.contains("<integration-errors type=\"array\"/>"));
    assert!(text.contains("<end-time nil=\"true\"/>"));
    let id = xml_value(&text)["id"].as_i64().unwrap();

    let (status, text) = app
        .xml(
            Method::PUT,
            &format!("/api/integration_runs/{id}/run"),
            Some("<integration-run><total-records type=\"integer\">20</total-records></integration-run>"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        text.contains("<total-records type=\"integer\">20</total-records>"),
        "{text}"
    );
    assert!(text.contains("<start-time type=\"dateTime\">"), "{text}");

    let (status, text) = app
        .xml(
            Method::PATCH,
            &format!("/api/integration_runs/{id}"),
            Some("<integration-run><records-processed>20</records-processed></integration-run>"),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(xml_value(&text)["records-processed"], 20);

    let (status, text) = app
        .xml(
            Method::PUT,
            &format!("/api/integration_runs/{id}/fail"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(xml_value(&text)["status"], "failed");

    let (status, text) = app
        .xml(
            Method::PUT,
            &format!("/api/integration_runs/{id}/pending"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        text,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<errors>\n  \
         <error>Cannot move an integration run from failed to pending</error>\n</errors>\n"
    );
}

#[tokio::test]
async fn a_run_can_move_to_another_integration() {
    let app = spawn_app().await;
    app.create_integration("FROM").await;
    let to = app.create_integration("TO").await["id"].as_i64().unwrap();
    let id = app.create_run("FROM").await;
    let (status, body) = app
        .put_json(
            &format!("/api/integration_runs/{id}"),
            Some(json!({"integration": {"code": "TO"}})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["integration"]["id"], to);
    let (_, shown) = app.get_json(&format!("/api/integration_runs/{id}")).await;
    assert_eq!(shown["integration"]["code"], "TO");
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn_app().await;
    for path in [
        "/api/integration_runs/12345",
        "/api/integration_runs/abc",
        "/api/integration_runs/-1",
        "/api/integration_runs/0",
    ] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(messages(&body, "integration-run").len(), 1);
    }
    let (status, body) = act(&app, 999, "run").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        messages(&body, "integration-run"),
        ["Couldn't find IntegrationRun with 'id'=999"]
    );
}

#[tokio::test]
async fn finish_fails_a_run_with_an_unresolved_error_and_runs_embed_their_errors() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let with_open = run_in(&app, "running").await;
    let with_resolved = run_in(&app, "running").await;
    app.file_error(with_open, "Supplier", false).await;
    app.file_error(with_resolved, "OrderHeader", true).await;

    let (status, body) = act(&app, with_open, "finish").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "failed");
    let errors = body["integration-errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["document-type"], "Supplier");
    assert_eq!(errors[0]["document-id"], 42);
    assert_eq!(errors[0]["resolved"], false);
    assert_eq!(errors[0]["integration-run-id"], with_open);

    let (_, body) = act(&app, with_resolved, "finish").await;
    assert_eq!(
        body["status"], "successful",
        "resolved errors do not fail a run"
    );

    let (_, text) = app
        .xml(
            Method::GET,
            &format!("/api/integration_runs/{with_open}"),
            None,
        )
        .await;
    assert!(
        text.contains("<integration-errors type=\"array\">\n    <integration-error>\n"),
        "{text}"
    );
    assert!(text.contains("<document-type>Supplier</document-type>"));
}

#[tokio::test]
async fn runs_are_queried_through_their_errors() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    let supplier_open = app.create_run("JOB").await;
    let supplier_resolved = app.create_run("JOB").await;
    let order_open = app.create_run("JOB").await;
    let clean = app.create_run("JOB").await;
    app.file_error(supplier_open, "Supplier", false).await;
    app.file_error(supplier_resolved, "Supplier", true).await;
    app.file_error(order_open, "OrderHeader", false).await;
    app.file_error(order_open, "OrderHeader", false).await;

    let ids = |body: Value| -> Vec<i64> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_i64().unwrap())
            .collect()
    };
    let (_, body) = app
        .get_json("/api/integration_runs?integration_errors[document_type]=Supplier")
        .await;
    assert_eq!(ids(body), [supplier_open, supplier_resolved]);
    let (_, body) = app
        .get_json("/api/integration_runs?integration_errors[resolved]=false")
        .await;
    assert_eq!(
        ids(body),
        [supplier_open, order_open],
        "a run with two matching errors appears once"
    );
    let (_, body) = app
        .get_json("/api/integration_runs?integration-errors[resolved]=false&integration_errors[document-type]=Supplier")
        .await;
    assert_eq!(
        ids(body),
        [supplier_open],
        "both conditions hold for the same error"
    );
    let (_, body) = app
        .get_json("/api/integration_runs?integration_errors[id][blank]=false&order_by=id&dir=desc")
        .await;
    assert_eq!(ids(body), [order_open, supplier_resolved, supplier_open]);
    let (_, body) = app
        .get_json(&format!("/api/integration_runs?id={clean}"))
        .await;
    assert_eq!(body[0]["integration-errors"], json!([]));
}

#[tokio::test]
async fn every_status_action_speaks_xml() {
    let app = spawn_app().await;
    app.create_integration("JOB").await;
    for (action, to) in ACTIONS.iter().chain(&[("finish", "successful")]) {
        let id = run_in(&app, "running").await;
        let body =
            "<integration-run><total-records type=\"integer\">7</total-records></integration-run>";
        let (status, text) = app
            .xml(
                Method::PUT,
                &format!("/api/integration_runs/{id}/{action}"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{action}: {text}");
        let run = xml_value(&text);
        assert_eq!(run["status"], *to, "{action}");
        assert_eq!(
            run["total-records"], 7,
            "{action}: the body applies, to a repeat too"
        );
    }
}
